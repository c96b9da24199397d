// attngan/backend/cpu/elementwise.hpp — for_each_index on the CPU.
//
// One OpenMP loop over [0, n) with a static schedule; below `serial_below`
// elements the loop stays on the calling thread, where starting a team costs
// more than the work.
#pragma once

#include "attngan/backend/cpu/cpu.hpp"
#include "attngan/backend/primitives.hpp"

namespace attngan::primitives {

template <>
struct elementwise_impl<cpu> {
  static constexpr index_t serial_below = 16384;

  template <class Evaluator>
  static void for_each_index(index_t n, Evaluator ev) {
    if (n < serial_below || cpu::threads() == 1) {
      for (index_t i = 0; i < n; ++i) ev(i);
      return;
    }
#pragma omp parallel for schedule(static)
    for (index_t i = 0; i < n; ++i) ev(i);
  }
};

}  // namespace attngan::primitives
