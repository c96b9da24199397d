// attngan/backend/cuda/reduce.cuh — reduce_sum on the GPU.
//
// The partial-sums scheme of backend/thrust/kernels.hpp (the functors CI runs
// on the host through thrust_host), launched on the backend's stream with
// about 2^17 threads in the first pass — several waves on an H100/H200's 132
// SMs. The partial sums live in a scratch tensor from the caching allocator,
// returned (stream-ordered) once the second pass has been enqueued.
#pragma once

#include "attngan/backend/cuda/cuda.cuh"
#include "attngan/backend/cuda/elementwise.cuh"
#include "attngan/backend/primitives.hpp"
#include "attngan/backend/thrust/kernels.hpp"
#include "attngan/core/tensor.hpp"

namespace attngan::primitives {

template <>
struct reduce_impl<cuda> {
  static constexpr index_t target_threads = 1 << 17;

  template <class T, class Evaluator>
  static void reduce_sum(T* out, const reduce_plan& plan, const Evaluator& ev, T alpha, bool accumulate) {
    auto launch = [](index_t n, const auto& f) { cuda_detail::launch(n, f); };
    thrust_kernels::reduce_sum(launch, out, plan, ev, alpha, accumulate, target_threads,
                               [](index_t count) { return tensor<double, cuda>(shape(count)); });
  }
};

}  // namespace attngan::primitives
