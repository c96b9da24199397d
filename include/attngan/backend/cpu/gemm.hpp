// attngan/backend/cpu/gemm.hpp — GEMM on the CPU through Eigen.
//
// Row-major operands are mapped (no copies) as Eigen row-major matrices with an
// outer stride; Eigen's blocked GEMM parallelises one product over the OpenMP
// threads. The batched form runs its matrices in parallel, one per thread, when
// there are at least as many matrices as threads (Eigen then stays serial
// inside each product because it is already in a parallel region); otherwise
// it runs them one after another, each product parallel.
#pragma once

#include <Eigen/Core>

#include "attngan/backend/cpu/cpu.hpp"
#include "attngan/backend/primitives.hpp"

namespace attngan::primitives {

template <>
struct gemm_impl<cpu> {
  template <class T>
  using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  template <class T>
  using const_map = Eigen::Map<const matrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
  template <class T>
  using map = Eigen::Map<matrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

  template <class T, class A, class B>
  static void product(map<T>& c, const A& a, const B& b, T alpha, T beta) {
    if (a.cols() == 0) {  // K = 0: the product is zero
      if (beta == T(0)) c.setZero(); else c *= beta;
      return;
    }
    if (beta == T(0)) {
      c.noalias() = alpha * a * b;
    } else {
      if (beta != T(1)) c *= beta;
      c.noalias() += alpha * a * b;
    }
  }

  template <class T>
  static void one(const gemm_args<T>& g, const T* a_ptr, const T* b_ptr, T* c_ptr) {
    index_t a_rows = g.trans_a == transpose::yes ? g.k : g.m, a_cols = g.trans_a == transpose::yes ? g.m : g.k;
    index_t b_rows = g.trans_b == transpose::yes ? g.n : g.k, b_cols = g.trans_b == transpose::yes ? g.k : g.n;
    const_map<T> a(a_ptr, a_rows, a_cols, Eigen::OuterStride<>(g.lda));
    const_map<T> b(b_ptr, b_rows, b_cols, Eigen::OuterStride<>(g.ldb));
    map<T> c(c_ptr, g.m, g.n, Eigen::OuterStride<>(g.ldc));
    const bool ta = g.trans_a == transpose::yes, tb = g.trans_b == transpose::yes;
    if (!ta && !tb) product(c, a, b, g.alpha, g.beta);
    else if (ta && !tb) product(c, a.transpose(), b, g.alpha, g.beta);
    else if (!ta && tb) product(c, a, b.transpose(), g.alpha, g.beta);
    else product(c, a.transpose(), b.transpose(), g.alpha, g.beta);
  }

  template <class T>
  static void gemm(const gemm_args<T>& g) {
    one(g, g.a, g.b, g.c);
  }

  template <class T>
  static void gemm_batched(const gemm_args<T>& g, index_t batch, index_t stride_a, index_t stride_b,
                           index_t stride_c) {
    if (batch >= cpu::threads() && cpu::threads() > 1) {
#pragma omp parallel for schedule(static)
      for (index_t i = 0; i < batch; ++i) one(g, g.a + i * stride_a, g.b + i * stride_b, g.c + i * stride_c);
    } else {
      for (index_t i = 0; i < batch; ++i) one(g, g.a + i * stride_a, g.b + i * stride_b, g.c + i * stride_c);
    }
  }
};

}  // namespace attngan::primitives
