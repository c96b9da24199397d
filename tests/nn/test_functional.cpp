// Softmax, log-softmax (masked), losses and cosine similarity: golden parity
// with PyTorch and gradchecks in double.
#include "golden.hpp"

#include <attngan/nn.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace test_functional {

using namespace attngan;
using namespace attngan::test;
namespace F = attngan::nn::functional;

namespace {

/// Runs f on the fixture's inputs, compares the output and every input's gradient.
template <class Fn>
void check_function(const std::string& fixture, Fn&& f, int inputs = 1) {
  CAPTURE(fixture);
  const golden_file g(golden_path("nn", fixture));
  std::vector<vf> xs;
  for (int i = 0; i < inputs; ++i) xs.push_back(vf::leaf(g.tensor_of("input" + std::to_string(i)), true));
  vf out = f(xs);
  check_close(g, "output", out.value(), "output");
  backward(sum(out * vf::leaf(g.tensor_of("proj"))));
  for (int i = 0; i < inputs; ++i) check_close(g, "grad.input" + std::to_string(i), xs[std::size_t(i)].grad(), "grad");
}

}  // namespace

TEST_CASE("golden: softmax with AttnGAN's padding mask, log-softmax over a middle axis") {
  const golden_file m(golden_path("nn", "mask_b1t"));
  auto mask = m.tensor_of("mask");  // (3, 1, 5), 1 = padding
  check_function("softmax_masked", [&](const std::vector<vf>& x) { return F::softmax(x[0], 2, &mask); });
  check_function("log_softmax_axis1", [](const std::vector<vf>& x) { return F::log_softmax(x[0], 1); });
}

TEST_CASE("golden: bce, bce_with_logits, cross_entropy, the CA KL term, cosine similarity") {
  check_function("bce", [](const std::vector<vf>& x) { return F::bce(x[0], x[1]); }, 2);
  check_function("bce_with_logits", [](const std::vector<vf>& x) { return F::bce_with_logits(x[0], x[1]); }, 2);
  const golden_file l(golden_path("nn", "labels"));
  std::vector<index_t> labels;
  for (float v : l.at("labels").values) labels.push_back(index_t(v));
  check_function("cross_entropy", [&](const std::vector<vf>& x) { return F::cross_entropy(x[0], labels); });
  check_function("ca_kl", [](const std::vector<vf>& x) { return F::ca_kl(x[0], x[1]); }, 2);
  check_function("cosine_similarity", [](const std::vector<vf>& x) { return F::cosine_similarity(x[0], x[1], 1); }, 2);
}

TEST_CASE("gradcheck: softmax and log-softmax over every axis, masked") {
  auto x = randn<double>(shape(2, 3, 4), 1);
  auto mask = tensor<double, cpu>::from_host(shape(2, 1, 4), {0, 0, 1, 0, 1, 0, 0, 0});
  for (int axis : {0, 1, 2}) {
    CAPTURE(axis);
    CHECK(gradcheck<cpu>([&](const std::vector<vd>& v) { return F::softmax(v[0], axis); }, {&x}).ok);
    CHECK(gradcheck<cpu>([&](const std::vector<vd>& v) { return F::log_softmax(v[0], axis); }, {&x}).ok);
  }
  CHECK(gradcheck<cpu>([&](const std::vector<vd>& v) { return F::softmax(v[0], 2, &mask); }, {&x}).ok);
}

TEST_CASE("masked softmax: zero probability on padding, no NaN, all-masked rows give zeros") {
  vf x = vf::leaf(tcpu<float>::from_host(shape(2, 3), {1, 2, 3, 4, 5, 6}));
  auto mask = tcpu<float>::from_host(shape(2, 3), {0, 1, 1, 1, 1, 1});
  vf y = F::softmax(x, 1, &mask);
  CHECK(y.value().to_vector() == std::vector<float>{1, 0, 0, 0, 0, 0});
  auto bad = tcpu<float>::zeros(shape(3, 1));
  CHECK_THROWS_AS((void)F::softmax(x, 1, &bad), shape_error);
}

TEST_CASE("softmax over a middle axis wider than the cpu's tile of rows: the formula, masked, log, NaN kept") {
  // (2, 4, 150) over axis 1: 150 neighbouring rows per outer index, three
  // tiles of the cpu loop (64, 64, 22). Row (o, ·, 5) is masked whole, rows
  // (o, ·, j) with j % 3 == 0 lose their second entry.
  const index_t outer = 2, n = 4, inner = 150;
  auto x = randn<float>(shape(outer, n, inner), 7);
  std::vector<float> m(std::size_t(n * inner), 0.f);
  for (index_t j = 0; j < inner; ++j) {
    if (j % 3 == 0) m[std::size_t(1 * inner + j)] = 1.f;
    if (j == 5)
      for (index_t k = 0; k < n; ++k) m[std::size_t(k * inner + j)] = 1.f;
  }
  const auto mask = tcpu<float>::from_host(shape(1, n, inner), m);
  const auto xv = x.to_vector();
  for (bool masked : {false, true})
    for (bool log : {false, true}) {
      CAPTURE(masked);
      CAPTURE(log);
      const vf in = vf::leaf(x.clone());
      const vf y = log ? F::log_softmax(in, 1, masked ? &mask : nullptr) : F::softmax(in, 1, masked ? &mask : nullptr);
      const auto yv = y.value().to_vector();
      for (index_t o = 0; o < outer; ++o)
        for (index_t j = 0; j < inner; ++j) {
          auto off = [&](index_t k) { return masked && m[std::size_t(k * inner + j)] != 0.f; };
          auto at = [&](index_t k) { return std::size_t((o * n + k) * inner + j); };
          double mx = -1e30, total = 0;
          for (index_t k = 0; k < n; ++k)
            if (!off(k)) mx = std::max(mx, double(xv[at(k)]));
          for (index_t k = 0; k < n; ++k)
            if (!off(k)) total += std::exp(double(xv[at(k)]) - mx);
          for (index_t k = 0; k < n; ++k) {
            CAPTURE(j);
            CAPTURE(k);
            const double got = yv[at(k)];
            if (masked && j == 5) {
              CHECK(got == 0.0);  // a row with every entry masked is all zeros
            } else if (off(k)) {
              CHECK(got == (log ? -std::numeric_limits<double>::infinity() : 0.0));
            } else {
              const double want = log ? double(xv[at(k)]) - mx - std::log(total) : std::exp(double(xv[at(k)]) - mx) / total;
              CHECK(got == doctest::Approx(want).epsilon(1e-6));
            }
          }
        }
    }
  // a NaN makes its own row NaN and no other
  auto xn = xv;
  xn[std::size_t(1 * inner + 70)] = std::nanf("");
  const auto yn = F::softmax(vf::leaf(tcpu<float>::from_host(x.shape(), xn)), 1).value().to_vector();
  for (index_t k = 0; k < n; ++k) {
    CHECK(std::isnan(yn[std::size_t(k * inner + 70)]));
    CHECK(std::isfinite(yn[std::size_t(k * inner + 69)]));
    CHECK(std::isfinite(yn[std::size_t((n + k) * inner + 70)]));
  }
}

TEST_CASE("gradcheck: softmax over a middle axis wider than the cpu's tile of rows") {
  auto x = randn<double>(shape(2, 3, 70), 5);
  std::vector<double> m(std::size_t(3 * 70), 0.0);
  for (index_t j = 0; j < 70; j += 4) m[std::size_t(70 + j)] = 1.0;
  const auto mask = tensor<double, cpu>::from_host(shape(1, 3, 70), m);
  CHECK(gradcheck<cpu>([&](const std::vector<vd>& v) { return F::softmax(v[0], 1, &mask); }, {&x}).ok);
  CHECK(gradcheck<cpu>([&](const std::vector<vd>& v) { return F::log_softmax(v[0], 1); }, {&x}).ok);
}

TEST_CASE("gradcheck: losses and cosine similarity in double") {
  auto p = randu<double>(shape(4, 3), 1, 0.05, 0.95), y = randu<double>(shape(4, 3), 2, 0.0, 1.0);
  CHECK(gradcheck<cpu>([](const std::vector<vd>& v) { return F::bce(v[0], v[1]); }, {&p, &y}).ok);
  auto x = randn<double>(shape(4, 3), 3);
  CHECK(gradcheck<cpu>([](const std::vector<vd>& v) { return F::bce_with_logits(v[0], v[1]); }, {&x, &y}).ok);
  CHECK(gradcheck<cpu>([](const std::vector<vd>& v) { return F::cross_entropy(v[0], {2, 0, 1, 1}); }, {&x}).ok);
  auto lv = randn<double>(shape(4, 3), 4);
  CHECK(gradcheck<cpu>([](const std::vector<vd>& v) { return F::ca_kl(v[0], v[1]); }, {&x, &lv}).ok);
  CHECK(gradcheck<cpu>([](const std::vector<vd>& v) { return F::cosine_similarity(v[0], v[1], 1); }, {&x, &lv}).ok);
  CHECK_THROWS_AS((void)F::cross_entropy(vd::leaf(x.clone()), {0, 1, 5, 0}), value_error);
}

TEST_CASE("bce at saturated probabilities: PyTorch's bounded derivative, never NaN") {
  // p = 0 and 1 exactly, as a sigmoid gives for |logit| > ~17 in fp32.
  vf p = vf::leaf(tcpu<float>::from_host(shape(5), {1.f, 0.f, 1.f, 0.f, 0.25f}), true);
  vf y = vf::leaf(tcpu<float>::from_host(shape(5), {1.f, 0.f, 0.f, 1.f, 1.f}));
  vf l = F::bce(p, y);
  CHECK(l.item() == doctest::Approx((200.0 - std::log(0.25)) / 5).epsilon(1e-6));
  backward(l);
  // nn.BCELoss: (p − y) / max(p(1 − p), 1e−12) / N.
  const auto g = p.grad().to_vector();
  CHECK(g[0] == 0.f);
  CHECK(g[1] == 0.f);
  CHECK(g[2] == doctest::Approx(1e12 / 5).epsilon(1e-6));
  CHECK(g[3] == doctest::Approx(-1e12 / 5).epsilon(1e-6));
  CHECK(g[4] == doctest::Approx((0.25 - 1) / (0.25 * 0.75) / 5).epsilon(1e-6));
  // A saturated discriminator: sigmoid(40) is 1, sigmoid(−120) is 0 in fp32; the logit's gradient is 0, not NaN.
  vf logit = vf::leaf(tcpu<float>::from_host(shape(2), {40.f, -120.f}), true);
  vf ones = vf::leaf(tcpu<float>::from_host(shape(2), {0.f, 1.f}));
  vf s = sigmoid(logit);
  backward(F::bce(s, ones));
  for (float v : logit.grad().to_vector()) CHECK(v == 0.f);
}

TEST_CASE("NaN in inputs is reported by the layer that can see it cheaply") {
  vf p = vf::leaf(tcpu<float>::from_host(shape(2), {0.5f, std::nanf("")}));
  vf y = vf::leaf(tcpu<float>::from_host(shape(2), {1.f, 0.f}));
  CHECK_THROWS_WITH_AS((void)F::bce(p, y),
                       "bce: the loss is nan: an input contains NaN or infinity (or, for bce, a probability outside [0, 1])",
                       value_error);
  // A NaN with its sign bit set reads "nan" too (streamed it would be "-nan").
  vf negative_nan = vf::leaf(tcpu<float>::from_host(shape(2), {0.5f, -std::nanf("")}));
  CHECK_THROWS_WITH_AS((void)F::bce(negative_nan, y),
                       "bce: the loss is nan: an input contains NaN or infinity (or, for bce, a probability outside [0, 1])",
                       value_error);
  vf outside = vf::leaf(tcpu<float>::from_host(shape(2), {0.5f, 1.5f}));
  CHECK_THROWS_AS((void)F::bce(outside, y), value_error);
  CHECK_THROWS_AS((void)F::bce_with_logits(p, y), value_error);
  generator rng(1);
  nn::network<nn::batch_norm2d<2>, float, cpu> bn(rng);
  auto x = randn<float>(shape(2, 2, 2, 2), 3);
  x.data()[5] = std::nanf("");
  CHECK_THROWS_WITH_AS(bn(vf::leaf(std::move(x))),
                       "batch_norm: the batch variance of channel 1 is nan: the input contains NaN or infinity", value_error);
}

}  // namespace test_functional
