// attngan/backend/column_major_gemm.hpp — a row-major GEMM restated for a
// column-major BLAS (cuBLAS).
//
// A row-major matrix X (r×c, row stride ld) read as column-major is Xᵀ (c×r,
// leading dimension ld). So C = op(A)·op(B) in row-major storage is, read
// column-major, Cᵀ = op(B)ᵀ·op(A)ᵀ: the column-major call swaps the operands
// and M with N, and keeps each operand's transpose flag and leading
// dimension. The thrust_host backend executes this restated call with Eigen's
// column-major maps, so CI checks the translation cuBLAS receives.
#pragma once

#include "attngan/backend/primitives.hpp"

namespace attngan::primitives {

template <class T>
struct column_major_gemm {
  bool trans_first = false, trans_second = false;  // op of the first / second operand
  index_t m = 0, n = 0, k = 0;                      // first is m×k after op, second k×n
  T alpha = T(1);
  const T* first = nullptr;
  index_t ld_first = 0;
  const T* second = nullptr;
  index_t ld_second = 0;
  T beta = T(0);
  T* c = nullptr;
  index_t ldc = 0;
};

template <class T>
column_major_gemm<T> to_column_major(const gemm_args<T>& g) {
  return {g.trans_b == transpose::yes, g.trans_a == transpose::yes, g.n, g.m, g.k, g.alpha, g.b, g.ldb,
          g.a, g.lda, g.beta, g.c, g.ldc};
}

}  // namespace attngan::primitives
