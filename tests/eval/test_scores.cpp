// Tests for attngan/models/attngan/evaluation.hpp, part 2: the Inception
// Score and FID arithmetic against closed forms (a translation unit of its
// own: Eigen's eigensolver is the costly part of compiling it).
#include <attngan/models/attngan/evaluation.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "test_support.hpp"

namespace test_scores {

using namespace attngan;
using namespace attngan::models;

// ---------------------------------------------------------------------------
// Inception Score

TEST_CASE("inception_score: closed forms") {
  const index_t n = 100, c = 5;
  SUBCASE("uniform predictions score 1") {
    const host_matrix p{n, c, std::vector<double>(std::size_t(n * c), 1.0 / c)};
    const auto s = inception_score(p);
    CHECK(s.mean == doctest::Approx(1.0));
    CHECK(s.std == doctest::Approx(0.0));
  }
  SUBCASE("confident predictions balanced over C classes score C") {
    host_matrix p{n, c, std::vector<double>(std::size_t(n * c), 0.0)};
    for (index_t i = 0; i < n; ++i) p.v[std::size_t(i * c + i % c)] = 1.0;  // each split of 10: 2 per class
    const auto s = inception_score(p);
    CHECK(s.mean == doctest::Approx(5.0));
    CHECK(s.std == doctest::Approx(0.0).epsilon(1e-12));
  }
  SUBCASE("a hand-computed split") {
    // p = [1, 0], [0.5, 0.5]: p(y) = [0.75, 0.25];
    // KL = ln(4/3) and 0.5 ln(2/3) + 0.5 ln 2.
    const host_matrix p{2, 2, {1.0, 0.0, 0.5, 0.5}};
    const double expected = std::exp(0.5 * (std::log(4.0 / 3.0) + 0.5 * std::log(2.0 / 3.0) + 0.5 * std::log(2.0)));
    const auto s = inception_score(p, 1);
    CHECK(s.mean == doctest::Approx(expected).epsilon(1e-12));
  }
  SUBCASE("splits differ: mean and population std over splits") {
    // Split 1 (rows 0-1): one-hot on two classes → 2. Split 2 (rows 2-3): uniform → 1.
    const host_matrix p{4, 2, {1, 0, 0, 1, 0.5, 0.5, 0.5, 0.5}};
    const auto s = inception_score(p, 2);
    CHECK(s.mean == doctest::Approx(1.5));
    CHECK(s.std == doctest::Approx(0.5));
  }
  SUBCASE("bad input") {
    const host_matrix p{2, 2, {0.7, 0.7, 0.5, 0.5}};
    CHECK_THROWS_AS(inception_score(p, 1), value_error);
    const host_matrix q{4, 2, {1, 0, 0, 1, 0.5, 0.5, 0.5, 0.5}};
    CHECK_THROWS_AS(inception_score(q, 10), value_error);
  }
}

TEST_CASE("inception_score: tensor overload") {
  tensor<float, cpu> p{shape(16, 4)};  // two splits of 8 rows, each balanced over 4 classes
  for (index_t i = 0; i < 16; ++i)
    for (index_t k = 0; k < 4; ++k) p.data()[i * 4 + k] = k == i % 4 ? 1.f : 0.f;
  CHECK(inception_score(p, 2).mean == doctest::Approx(4.0).epsilon(1e-6));
}

// ---------------------------------------------------------------------------
// FID

namespace {
gaussian_statistics stats(std::vector<double> mean, std::vector<double> cov) {
  const auto d = Eigen::Index(mean.size());
  gaussian_statistics s;
  s.mean = Eigen::Map<Eigen::VectorXd>(mean.data(), d);
  s.covariance = Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(cov.data(), d, d);
  return s;
}
}  // namespace

TEST_CASE("frechet_distance: closed forms") {
  SUBCASE("diagonal covariances: |dmu|^2 + sum (sqrt a - sqrt b)^2") {
    const auto a = stats({1, 2, 3}, {4, 0, 0, 0, 9, 0, 0, 0, 1});
    const auto b = stats({0, 2, 5}, {1, 0, 0, 0, 16, 0, 0, 0, 1});
    const double expected = 1 + 0 + 4 + (2 - 1) * (2 - 1) + (3 - 4) * (3 - 4) + 0;
    CHECK(frechet_distance(a, b) == doctest::Approx(expected).epsilon(1e-12));
  }
  SUBCASE("non-commuting 2x2: tr sqrt(S1^1/2 S2 S1^1/2) = sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2))") {
    const auto a = stats({0, 0}, {2, 1, 1, 2});
    const auto b = stats({1, -1}, {3, 0, 0, 0.5});
    // tr(S1 S2) = 2·3 + 1·0 + 1·0 + 2·0.5 = 7; det S1 = 3, det S2 = 1.5.
    const double tr_sqrt = std::sqrt(7.0 + 2.0 * std::sqrt(3.0 * 1.5));
    const double expected = 2.0 + (4.0 + 3.5) - 2.0 * tr_sqrt;
    CHECK(frechet_distance(a, b) == doctest::Approx(expected).epsilon(1e-12));
  }
  SUBCASE("a singular covariance (rank 1)") {
    const auto a = stats({0, 0}, {1, 1, 1, 1});
    const auto b = stats({0, 0}, {1, 0, 0, 1});
    // det S1 = 0: tr sqrt = sqrt(tr(S1 S2)) = sqrt(2).
    CHECK(frechet_distance(a, b) == doctest::Approx(2.0 + 2.0 - 2.0 * std::sqrt(2.0)).epsilon(1e-9));
  }
  SUBCASE("mismatched widths") {
    CHECK_THROWS_AS(frechet_distance(stats({0}, {1}), stats({0, 0}, {1, 0, 0, 1})), shape_error);
  }
}

TEST_CASE("frechet_inception_distance: identical sets give 0, samples approach the closed form") {
  // x = mu + L z with z ~ N(0, I): covariance L Lᵀ.
  const index_t n = 20000;
  const auto sample = [&](std::uint64_t seed, const std::vector<double>& mu, const std::vector<double>& l) {
    generator g(seed);
    const auto z = g.normal<double, cpu>(shape(n, 2)).to_vector();
    tensor<double, cpu> x{shape(n, 2)};
    for (index_t i = 0; i < n; ++i) {
      const double z0 = z[std::size_t(2 * i)], z1 = z[std::size_t(2 * i + 1)];
      x.data()[2 * i] = mu[0] + l[0] * z0;
      x.data()[2 * i + 1] = mu[1] + l[2] * z0 + l[3] * z1;
    }
    return x;
  };
  const auto xa = sample(1, {0, 0}, {1, 0, 1, 1});           // S1 = [[1, 1], [1, 2]]
  const auto xb = sample(2, {1, -1}, {std::sqrt(3.0), 0, 0, std::sqrt(0.5)});  // S2 = diag(3, 0.5)
  CHECK(std::abs(frechet_inception_distance(xa, xa)) < 1e-9);
  const auto sa = feature_statistics(xa);
  CHECK(sa.covariance(0, 1) == doctest::Approx(1.0).epsilon(0.05));
  CHECK(sa.covariance(1, 1) == doctest::Approx(2.0).epsilon(0.05));
  // Closed form: tr(S1 S2) = 3 + 1 = 4, det S1 = 1, det S2 = 1.5.
  const double expected = 2.0 + 3.0 + 3.5 - 2.0 * std::sqrt(4.0 + 2.0 * std::sqrt(1.5));
  const double fid = frechet_inception_distance(xa, xb);
  MESSAGE("sampled FID " << fid << ", closed form " << expected);
  CHECK(fid == doctest::Approx(expected).epsilon(0.05));
}

TEST_CASE("feature_statistics: the unbiased covariance of a hand-made set") {
  const host_matrix x{3, 2, {1, 2, 3, 2, 5, 8}};
  const auto s = feature_statistics(x);
  CHECK(s.mean(0) == doctest::Approx(3.0));
  CHECK(s.mean(1) == doctest::Approx(4.0));
  CHECK(s.covariance(0, 0) == doctest::Approx(4.0));  // (4 + 0 + 4) / 2
  CHECK(s.covariance(1, 1) == doctest::Approx(12.0));  // (4 + 4 + 16) / 2
  CHECK(s.covariance(0, 1) == doctest::Approx(6.0));   // (4 + 0 + 8) / 2
  CHECK_THROWS_AS(feature_statistics(host_matrix{1, 2, {1, 2}}), value_error);
}

}  // namespace test_scores
