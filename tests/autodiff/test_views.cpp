// Strided views as expression operands (narrow): GLU without copies, slices
// of the last axis, broadcast slices; values and gradients.
#include "test_support.hpp"

namespace test_views {

using namespace attngan;
using namespace attngan::test;

TEST_CASE("narrow reads a channel slice without copying") {
  vf x = vf::leaf(tcpu<float>::from_host(shape(2, 4, 1, 2), {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}));
  vf first = narrow(x, 1, 0, 2) * 1.f;
  vf second = narrow(x, 1, 2, 2) * 1.f;
  CHECK(first.shape() == shape(2, 2, 1, 2));
  CHECK(first.value().to_vector() == std::vector<float>{0, 1, 2, 3, 8, 9, 10, 11});
  CHECK(second.value().to_vector() == std::vector<float>{4, 5, 6, 7, 12, 13, 14, 15});
  vf last = narrow(x, -1, 1, 1) + 0.f;  // every second element: strided innermost axis
  CHECK(last.value().to_vector() == std::vector<float>{1, 3, 5, 7, 9, 11, 13, 15});
  CHECK_THROWS_WITH_AS((void)narrow(x, 1, 3, 2), "narrow: elements [3, 5) of axis 1 are out of range for shape (2, 4, 1, 2)",
                       shape_error);
}

TEST_CASE("gradcheck: GLU as narrow * sigmoid(narrow), fused") {
  auto x = randn<double>(shape(2, 6, 3, 4), 1);
  auto r = gradcheck<cpu>(
      [](const std::vector<vd>& v) { return vd(narrow(v[0], 1, 0, 3) * sigmoid(narrow(v[0], 1, 3, 3))); }, {&x});
  INFO(r.report);
  CHECK(r.ok);
}

TEST_CASE("gradcheck: slices of the last axis, of rank-2 tensors, broadcast slices") {
  auto x = randn<double>(shape(3, 8), 2), c = randn<double>(shape(1, 4, 1, 1), 3);
  auto r1 = gradcheck<cpu>([](const std::vector<vd>& v) { return vd(narrow(v[0], 1, 1, 5) * narrow(v[0], 1, 3, 5)); },
                           {&x});
  INFO(r1.report);
  CHECK(r1.ok);
  // a (1, 2, 1, 1) slice of per-channel values, broadcast over (2, 2, 3, 3)
  auto img = randn<double>(shape(2, 2, 3, 3), 4);
  auto r2 = gradcheck<cpu>([](const std::vector<vd>& v) { return vd(tanh(v[0] * narrow(v[1], 1, 1, 2))); }, {&img, &c});
  INFO(r2.report);
  CHECK(r2.ok);
  // large enough for the parallel, chunked CPU path
  auto big = randn<double>(shape(4, 64, 16, 16), 5);
  vd xv = vd::leaf(big.clone(), true);
  vd glu = narrow(xv, 1, 0, 32) * sigmoid(narrow(xv, 1, 32, 32));
  backward(sum(glu * glu));
  auto xs = big.to_vector(), g = xv.grad().to_vector();
  // check a few entries against the closed form d/da (a σ(b))² = 2 a σ(b)², d/db = 2 a² σ(b)² (1 - σ(b))
  for (index_t n : {0, 3})
    for (index_t ch : {0, 17, 31})
      for (index_t p : {0, 100, 255}) {
        const double a = xs[std::size_t((n * 64 + ch) * 256 + p)], b = xs[std::size_t((n * 64 + ch + 32) * 256 + p)];
        const double s = 1 / (1 + std::exp(-b));
        CHECK(g[std::size_t((n * 64 + ch) * 256 + p)] == doctest::Approx(2 * a * s * s).epsilon(1e-12));
        CHECK(g[std::size_t((n * 64 + ch + 32) * 256 + p)] == doctest::Approx(2 * a * a * s * s * (1 - s)).epsilon(1e-12));
      }
}

}  // namespace test_views
