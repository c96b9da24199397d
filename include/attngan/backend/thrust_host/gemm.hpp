// attngan/backend/thrust_host/gemm.hpp — GEMM on the host as cuBLAS would be called.
//
// Each call is restated column-major (backend/column_major_gemm.hpp), exactly
// as the CUDA backend restates it for cuBLAS, and executed by Eigen on
// column-major maps: a wrong restatement fails the parity tests here.
#pragma once

#include <Eigen/Core>

#include "attngan/backend/column_major_gemm.hpp"
#include "attngan/backend/primitives.hpp"
#include "attngan/backend/thrust_host/thrust_host.hpp"

namespace attngan::primitives {

template <>
struct gemm_impl<thrust_host> {
  template <class T>
  using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  template <class T>
  using const_map = Eigen::Map<const matrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
  template <class T>
  using map = Eigen::Map<matrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

  template <class T, class X, class Y>
  static void product(map<T>& c, const X& x, const Y& y, T alpha, T beta) {
    if (x.cols() == 0) {
      if (beta == T(0)) c.setZero(); else c *= beta;
      return;
    }
    if (beta == T(0)) {
      c.noalias() = alpha * x * y;
    } else {
      if (beta != T(1)) c *= beta;
      c.noalias() += alpha * x * y;
    }
  }

  template <class T>
  static void column_major(const column_major_gemm<T>& g) {
    const index_t r1 = g.trans_first ? g.k : g.m, c1 = g.trans_first ? g.m : g.k;
    const index_t r2 = g.trans_second ? g.n : g.k, c2 = g.trans_second ? g.k : g.n;
    const_map<T> x(g.first, r1, c1, Eigen::OuterStride<>(g.ld_first));
    const_map<T> y(g.second, r2, c2, Eigen::OuterStride<>(g.ld_second));
    map<T> c(g.c, g.m, g.n, Eigen::OuterStride<>(g.ldc));
    if (!g.trans_first && !g.trans_second) product(c, x, y, g.alpha, g.beta);
    else if (g.trans_first && !g.trans_second) product(c, x.transpose(), y, g.alpha, g.beta);
    else if (!g.trans_first && g.trans_second) product(c, x, y.transpose(), g.alpha, g.beta);
    else product(c, x.transpose(), y.transpose(), g.alpha, g.beta);
  }

  template <class T>
  static void gemm(const gemm_args<T>& g) {
    column_major(to_column_major(g));
  }

  template <class T>
  static void gemm_batched(const gemm_args<T>& g, index_t batch, index_t stride_a, index_t stride_b,
                           index_t stride_c) {
    column_major_gemm<T> cm = to_column_major(g);
    for (index_t i = 0; i < batch; ++i) {
      column_major_gemm<T> one = cm;
      one.first = cm.first + i * stride_b;  // the first column-major operand is B
      one.second = cm.second + i * stride_a;
      one.c = cm.c + i * stride_c;
      column_major(one);
    }
  }
};

}  // namespace attngan::primitives
