#include "test_support.hpp"

namespace test_linalg {

using namespace attngan;
using namespace attngan::test;

namespace {
// Reference: C = op(A) op(B) on host vectors, row-major.
std::vector<double> naive(const std::vector<double>& a, const std::vector<double>& b, index_t m, index_t n, index_t k,
                          bool ta, bool tb) {
  std::vector<double> c(std::size_t(m * n), 0.0);
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j) {
      double s = 0;
      for (index_t p = 0; p < k; ++p) s += a[std::size_t(ta ? p * m + i : i * k + p)] * b[std::size_t(tb ? j * k + p : p * n + j)];
      c[std::size_t(i * n + j)] = s;
    }
  return c;
}
}  // namespace

TEST_CASE("matmul: values and gradients for every transpose combination") {
  const index_t m = 5, n = 4, k = 3;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      CAPTURE(ta);
      CAPTURE(tb);
      auto a = randn<double>(ta ? shape(k, m) : shape(m, k), 1);
      auto b = randn<double>(tb ? shape(n, k) : shape(k, n), 2);
      const transpose TA = ta ? transpose::yes : transpose::no, TB = tb ? transpose::yes : transpose::no;
      vd c = matmul(vd::leaf(a.clone()), vd::leaf(b.clone()), TA, TB);
      CHECK(c.shape() == shape(m, n));
      CHECK(max_abs_diff(c.value().to_vector(), naive(a.to_vector(), b.to_vector(), m, n, k, ta, tb)) < 1e-12);
      auto r = gradcheck<cpu>([&](const std::vector<vd>& x) { return matmul(x[0], x[1], TA, TB); }, {&a, &b});
      INFO(r.report);
      CHECK(r.ok);
    }
}

TEST_CASE("bmm: batched values and gradients") {
  const index_t batch = 3, m = 4, n = 2, k = 5;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      auto a = randn<double>(ta ? shape(batch, k, m) : shape(batch, m, k), 3);
      auto b = randn<double>(tb ? shape(batch, n, k) : shape(batch, k, n), 4);
      const transpose TA = ta ? transpose::yes : transpose::no, TB = tb ? transpose::yes : transpose::no;
      vd c = bmm(vd::leaf(a.clone()), vd::leaf(b.clone()), TA, TB);
      CHECK(c.shape() == shape(batch, m, n));
      auto av = a.to_vector(), bv = b.to_vector(), cv = c.value().to_vector();
      for (index_t i = 0; i < batch; ++i) {
        std::vector<double> ai(av.begin() + i * m * k, av.begin() + (i + 1) * m * k);
        std::vector<double> bi(bv.begin() + i * k * n, bv.begin() + (i + 1) * k * n);
        std::vector<double> ci(cv.begin() + i * m * n, cv.begin() + (i + 1) * m * n);
        CHECK(max_abs_diff(ci, naive(ai, bi, m, n, k, ta, tb)) < 1e-12);
      }
      auto r = gradcheck<cpu>([&](const std::vector<vd>& x) { return bmm(x[0], x[1], TA, TB); }, {&a, &b});
      INFO(r.report);
      CHECK(r.ok);
    }
}

TEST_CASE("matmul composes with elementwise expressions and reshape") {
  auto w = randn<double>(shape(6, 4), 5), x = randn<double>(shape(2, 3, 2), 6), bias = randn<double>(shape(4), 7);
  auto r = gradcheck<cpu>(
      [](const std::vector<vd>& v) {
        vd flat = reshape(v[1], shape(2, 6));
        vd h = matmul(flat, v[0]);
        return vd(tanh(h + v[2]));
      },
      {&w, &x, &bias});
  INFO(r.report);
  CHECK(r.ok);
}

TEST_CASE("matmul shape errors name both shapes") {
  vf a = vf::leaf(tcpu<float>::zeros(shape(3, 4))), b = vf::leaf(tcpu<float>::zeros(shape(5, 6)));
  CHECK_THROWS_WITH_AS((void)matmul(a, b), "matmul: inner dimensions differ: op(a) is 3x4 (a (3, 4)), op(b) is 5x6 (b (5, 6))",
                       shape_error);
  vf c = vf::leaf(tcpu<float>::zeros(shape(2, 3, 4)));
  CHECK_THROWS_WITH_AS((void)matmul(c, a), "matmul: expects rank-2 operands, got (2, 3, 4) and (3, 4)", shape_error);
  vf d = vf::leaf(tcpu<float>::zeros(shape(3, 4, 2)));
  CHECK_THROWS_WITH_AS((void)bmm(c, d), "bmm: batch sizes differ: (2, 3, 4) and (3, 4, 2)", shape_error);
}

TEST_CASE("reshape aliases the value and routes the gradient back") {
  vf x = vf::leaf(tcpu<float>::from_host(shape(2, 3), {1, 2, 3, 4, 5, 6}), true);
  vf y = reshape(x, shape(3, 2));
  CHECK(y.value().shares_storage_with(x.value()));
  backward(sum(y * y));
  CHECK(x.grad().to_vector() == std::vector<float>{2, 4, 6, 8, 10, 12});
}

}  // namespace test_linalg
