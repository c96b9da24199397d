// attngan/backend/thrust_host/elementwise.hpp — for_each_index through Thrust on the host.
#pragma once

#include "attngan/backend/primitives.hpp"
#include "attngan/backend/thrust/kernels.hpp"
#include "attngan/backend/thrust_host/thrust_host.hpp"

namespace attngan::primitives {

template <>
struct elementwise_impl<thrust_host> {
  template <class Evaluator>
  static void for_each_index(index_t n, const Evaluator& ev) {
    thrust_kernels::for_each_index(thrust_host::policy(), n, ev);
  }
};

}  // namespace attngan::primitives
