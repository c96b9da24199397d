// The CPU GEMM primitive against a naive triple loop: transposes, alpha/beta,
// padded leading dimensions, batches, and the sizes AttnGAN uses.
#include "test_support.hpp"

namespace test_gemm {

using namespace attngan;
using namespace attngan::test;
using primitives::gemm_args;

namespace {
template <class T>
void naive_gemm(const gemm_args<T>& g) {
  for (index_t i = 0; i < g.m; ++i)
    for (index_t j = 0; j < g.n; ++j) {
      double s = 0;
      for (index_t p = 0; p < g.k; ++p) {
        T a = g.trans_a == transpose::yes ? g.a[p * g.lda + i] : g.a[i * g.lda + p];
        T b = g.trans_b == transpose::yes ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j];
        s += double(a) * double(b);
      }
      T& c = g.c[i * g.ldc + j];
      c = T(double(g.alpha) * s + (g.beta == T(0) ? 0.0 : double(g.beta) * double(c)));
    }
}

template <class T>
void check_gemm(index_t m, index_t n, index_t k, bool ta, bool tb, T alpha, T beta, index_t pad, double tol) {
  CAPTURE(m);
  CAPTURE(n);
  CAPTURE(k);
  CAPTURE(ta);
  CAPTURE(tb);
  const index_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
  auto a = randn<T>(shape(a_rows, a_cols + pad), 1), b = randn<T>(shape(b_rows, b_cols + pad), 2);
  auto c = randn<T>(shape(m, n + pad), 3);
  auto c_ref = c.clone();
  gemm_args<T> g{ta ? transpose::yes : transpose::no, tb ? transpose::yes : transpose::no, m, n, k, alpha,
                 a.data(), a_cols + pad, b.data(), b_cols + pad, beta, c.data(), n + pad};
  primitives::gemm<cpu>(g);
  g.c = c_ref.data();
  naive_gemm(g);
  // padding columns of C are untouched
  auto cv = c.to_vector(), rv = c_ref.to_vector();
  CHECK(max_abs_diff(cv, rv) <= tol * double(k));
}
}  // namespace

TEST_CASE("gemm matches a naive product for every transpose, alpha, beta and padding") {
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (index_t pad : {0, 3}) {
        check_gemm<double>(7, 5, 9, ta, tb, 1.0, 0.0, pad, 1e-14);
        check_gemm<double>(7, 5, 9, ta, tb, -0.5, 1.0, pad, 1e-14);
        check_gemm<double>(7, 5, 9, ta, tb, 2.0, 0.25, pad, 1e-14);
        check_gemm<float>(33, 17, 65, ta, tb, 1.0f, 0.0f, pad, 1e-6);
      }
}

TEST_CASE("gemm at AttnGAN sizes, parallel") {
  // attention at 64x64 for 2 images: (2*4096 x 32) x (32 x 18), and a
  // conv-as-GEMM shape
  check_gemm<float>(2 * 4096, 18, 32, false, false, 1.0f, 0.0f, 0, 1e-6);
  check_gemm<float>(64, 1024, 288, false, true, 1.0f, 1.0f, 0, 1e-6);
}

TEST_CASE("gemm with beta = 0 ignores NaN in C, and K = 0 scales C by beta") {
  auto a = randn<float>(shape(3, 2), 1), b = randn<float>(shape(2, 4), 2);
  auto c = tcpu<float>::full(shape(3, 4), std::nanf(""));
  primitives::gemm<cpu>(gemm_args<float>{transpose::no, transpose::no, 3, 4, 2, 1.f, a.data(), 2, b.data(), 4, 0.f,
                                         c.data(), 4});
  for (float v : c.to_vector()) CHECK_FALSE(std::isnan(v));
  auto d = tcpu<float>::full(shape(3, 4), 2.f);
  primitives::gemm<cpu>(gemm_args<float>{transpose::no, transpose::no, 3, 4, 0, 1.f, a.data(), 1, b.data(), 4, 0.5f,
                                         d.data(), 4});
  for (float v : d.to_vector()) CHECK(v == 1.f);
}

TEST_CASE("gemm_batched runs each matrix of the batch, serial and parallel paths") {
  for (index_t batch : {1, 2, 7}) {
    const index_t m = 6, n = 5, k = 4;
    auto a = randn<double>(shape(batch, m, k), 1), b = randn<double>(shape(batch, k, n), 2);
    auto c = tcpu<double>::zeros(shape(batch, m, n));
    gemm_args<double> g{transpose::no, transpose::no, m, n, k, 1.0, a.data(), k, b.data(), n, 0.0, c.data(), n};
    primitives::gemm_batched<cpu>(g, batch, m * k, k * n, m * n);
    auto ref = tcpu<double>::zeros(shape(batch, m, n));
    for (index_t i = 0; i < batch; ++i) {
      gemm_args<double> one = g;
      one.a = a.data() + i * m * k;
      one.b = b.data() + i * k * n;
      one.c = ref.data() + i * m * n;
      naive_gemm(one);
    }
    CHECK(max_abs_diff(c.to_vector(), ref.to_vector()) < 1e-13);
  }
}

TEST_CASE("gemm rejects inconsistent arguments") {
  float x = 0;
  CHECK_THROWS_WITH_AS(primitives::gemm<cpu>(gemm_args<float>{transpose::no, transpose::no, 2, 2, 3, 1.f, &x, 2, &x,
                                                              2, 0.f, &x, 2}),
                       "gemm: leading dimension too small: lda=2 (needs 3), ldb=2 (needs 2), ldc=2 (needs 2)",
                       value_error);
  CHECK_THROWS_AS(primitives::gemm<cpu>(gemm_args<float>{transpose::no, transpose::no, -1, 2, 3, 1.f, &x, 3, &x, 2,
                                                         0.f, &x, 2}),
                  value_error);
}

}  // namespace test_gemm
