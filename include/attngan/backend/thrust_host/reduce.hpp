// attngan/backend/thrust_host/reduce.hpp — reduce_sum through Thrust on the host.
//
// The split heuristic is given the same thread target as on the GPU, so the
// host runs the very partition (partial sums, then their sum) a GPU runs.
#pragma once

#include "attngan/backend/primitives.hpp"
#include "attngan/backend/thrust/kernels.hpp"
#include "attngan/backend/thrust_host/thrust_host.hpp"
#include "attngan/core/tensor.hpp"

namespace attngan::primitives {

template <>
struct reduce_impl<thrust_host> {
  static constexpr index_t target_threads = 1 << 16;

  template <class T, class Evaluator>
  static void reduce_sum(T* out, const reduce_plan& plan, const Evaluator& ev, T alpha, bool accumulate) {
    auto launch = [](index_t n, const auto& f) { thrust_kernels::for_each_index(thrust_host::policy(), n, f); };
    thrust_kernels::reduce_sum(launch, out, plan, ev, alpha, accumulate, target_threads,
                               [](index_t count) { return tensor<double, thrust_host>(shape(count)); });
  }
};

}  // namespace attngan::primitives
