// attngan/backend/cuda/gemm.cuh — GEMM on the GPU through cuBLAS.
//
// Row-major calls are restated column-major (backend/column_major_gemm.hpp;
// the thrust_host backend tests the restatement in CI) and handed to
// cublas{S,D}gemm / cublas{S,D}gemmStridedBatched on the backend's stream.
// Float GEMMs use TF32 tensor cores only after cuda::set_tf32(true).
#pragma once

#include <climits>

#include "attngan/backend/column_major_gemm.hpp"
#include "attngan/backend/cuda/cuda.cuh"
#include "attngan/backend/primitives.hpp"

namespace attngan::primitives {

template <>
struct gemm_impl<cuda> {
  static int to_int(index_t v, const char* what) {
    if (v > INT_MAX) throw value_error("gemm (cuBLAS)", detail::cat(what, " = ", v, " exceeds cuBLAS's int range"));
    return int(v);
  }

  template <class T>
  static void gemm_batched(const gemm_args<T>& g, index_t batch, index_t stride_a, index_t stride_b,
                           index_t stride_c) {
    const column_major_gemm<T> c = to_column_major(g);
    const cublasOperation_t op1 = c.trans_first ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op2 = c.trans_second ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int m = to_int(c.m, "M"), n = to_int(c.n, "N"), k = to_int(c.k, "K");
    const int ld1 = to_int(c.ld_first, "leading dimension"), ld2 = to_int(c.ld_second, "leading dimension");
    const int ldc = to_int(c.ldc, "leading dimension"), count = to_int(batch, "batch");
    cublasHandle_t h = cuda::blas();
    if constexpr (std::is_same_v<T, float>) {
      if (batch == 1)
        ATTNGAN_CUBLAS_CHECK(cublasSgemm(h, op1, op2, m, n, k, &c.alpha, c.first, ld1, c.second, ld2, &c.beta, c.c, ldc));
      else  // the first column-major operand is B, the second A
        ATTNGAN_CUBLAS_CHECK(cublasSgemmStridedBatched(h, op1, op2, m, n, k, &c.alpha, c.first, ld1, stride_b, c.second,
                                                       ld2, stride_a, &c.beta, c.c, ldc, stride_c, count));
    } else {
      static_assert(std::is_same_v<T, double>, "attngan: cuBLAS GEMM is provided for float and double");
      if (batch == 1)
        ATTNGAN_CUBLAS_CHECK(cublasDgemm(h, op1, op2, m, n, k, &c.alpha, c.first, ld1, c.second, ld2, &c.beta, c.c, ldc));
      else
        ATTNGAN_CUBLAS_CHECK(cublasDgemmStridedBatched(h, op1, op2, m, n, k, &c.alpha, c.first, ld1, stride_b, c.second,
                                                       ld2, stride_a, &c.beta, c.c, ldc, stride_c, count));
    }
  }

  template <class T>
  static void gemm(const gemm_args<T>& g) {
    gemm_batched(g, 1, 0, 0, 0);
  }
};

}  // namespace attngan::primitives
