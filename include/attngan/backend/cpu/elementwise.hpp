// attngan/backend/cpu/elementwise.hpp — for_each_index on the CPU.
//
// [0, n) is split into one contiguous range per OpenMP thread. Evaluators
// that offer `range(begin, end)` (the fused expression kernels) run their own
// chunked, vectorisable loop over it; others are called per index. Below
// `serial_below` elements everything stays on the calling thread, where
// starting a team costs more than the work. An evaluator whose index is a
// whole row or plane says how many elements one index stands for
// (`work_per_index()`): its indices count that many times against
// `serial_below`, and the threads' shares are whole indices.
#pragma once

#include "attngan/backend/cpu/cpu.hpp"
#include "attngan/backend/primitives.hpp"

namespace attngan::primitives {

template <>
struct elementwise_impl<cpu> {
  static constexpr index_t serial_below = 16384;

  template <class Evaluator>
  static void run(const Evaluator& ev, index_t begin, index_t end) {
    if constexpr (requires { ev.range(begin, end); }) {
      ev.range(begin, end);
    } else {
      for (index_t i = begin; i < end; ++i) ev(i);
    }
  }

  template <class Evaluator>
  static void for_each_index(index_t n, const Evaluator& ev) {
    const int threads = cpu::threads();
    index_t work = n, granule = 64;  // shares of 64 elements, so threads share no cache line
    if constexpr (requires { ev.work_per_index(); }) {
      work = n * ev.work_per_index();
      granule = 1;
    }
    if (work < serial_below || threads == 1) {
      run(ev, 0, n);
      return;
    }
    cpu::parallel_shares(n, granule, [&](index_t begin, index_t end) { run(ev, begin, end); });
  }
};

}  // namespace attngan::primitives
