// attngan/backend/cuda/elementwise.cuh — for_each_index on the GPU.
//
// One grid-stride kernel, instantiated once per evaluator type, takes the
// evaluator by value and calls it for every index; it is launched on the
// backend's stream with no host synchronisation. The functors are the ones
// thrust_host runs through Thrust on the CPU in CI (backend/thrust/
// kernels.hpp). Launching through thrust::for_each_n instead would add CUB's
// per-size kernel variants to every evaluator: the same tests compiled
// several times slower (ptxas), for no speed gained on a plain loop.
#pragma once

#include "attngan/backend/cuda/cuda.cuh"
#include "attngan/backend/primitives.hpp"
#include "attngan/backend/thrust/kernels.hpp"

namespace attngan::primitives {

namespace cuda_detail {

inline constexpr int block_size = 256;

// __grid_constant__: the evaluators take addresses inside themselves (the
// fused expressions read their sources through a pointer to the kernel
// object's own table); without it every thread would first copy the whole
// kernel parameter — up to a kilobyte — into local memory.
template <class F>
__global__ void __launch_bounds__(block_size) for_each_kernel(index_t n, const __grid_constant__ F f) {
  const index_t stride = index_t(gridDim.x) * block_size;
  for (index_t i = index_t(blockIdx.x) * block_size + threadIdx.x; i < n; i += stride) f(i);
}

/// Blocks to launch for n elements: one element per thread up to 32 blocks
/// per SM, then the grid-stride loop takes over.
inline unsigned grid_for(index_t n) {
  static const index_t max_blocks = [] {
    int device = 0, sms = 0;
    ATTNGAN_CUDA_CHECK(cudaGetDevice(&device));
    ATTNGAN_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    return index_t(sms) * 32;
  }();
  const index_t blocks = (n + block_size - 1) / block_size;
  return unsigned(blocks < max_blocks ? blocks : max_blocks);
}

template <class F>
void launch(index_t n, const F& f) {
  if (n <= 0) return;
  for_each_kernel<<<grid_for(n), block_size, 0, attngan::cuda::stream()>>>(n, f);
  detail::cuda_check(cudaGetLastError(), "for_each_kernel launch");
}

template <class T>
struct fill_kernel {
  T* dst;
  T value;
  ATTNGAN_HD void operator()(index_t i) const { dst[i] = value; }
};

}  // namespace cuda_detail

template <>
struct elementwise_impl<cuda> {
  template <class Evaluator>
  static void for_each_index(index_t n, const Evaluator& ev) {
    cuda_detail::launch(n, ev);
  }
};

}  // namespace attngan::primitives

template <class T>
void attngan::cuda::fill_value(T* dst, index_t n, T value) {
  primitives::cuda_detail::launch(n, primitives::cuda_detail::fill_kernel<T>{dst, value});
}
