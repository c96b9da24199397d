// attngan/backend/cpu/reduce.hpp — reduce_sum on the CPU.
//
// The rank-4 index space is first simplified (backend/reduce_layout.hpp), so
// "(N, C, H, W) -> (1, C, 1, 1)" becomes "reduce N, keep C, reduce H·W". The
// innermost reduced run is split into chunks of at most `chunk` elements.
// Work is then parallel over outputs when there are enough of them, otherwise
// over the chunks of each output with per-thread partial sums. Accumulation is
// in double. Evaluators that offer `sum_range(begin, length)` (the fused
// expression kernels) sum contiguous runs themselves, vectorised.
#pragma once

#include <algorithm>
#include <vector>

#include "attngan/backend/cpu/cpu.hpp"
#include "attngan/backend/primitives.hpp"
#include "attngan/backend/reduce_layout.hpp"

namespace attngan::primitives {

template <>
struct reduce_impl<cpu> {
  static constexpr index_t chunk = 4096;

  /// The shared layout plus how each inner run is cut into chunks.
  struct layout : reduce_layout {
    index_t chunks_per_inner = 1;
    index_t work_per_output = 1;  // outer * chunks_per_inner
  };

  static layout simplify(const reduce_plan& p) {
    layout l{make_reduce_layout(p)};
    l.chunks_per_inner = (l.inner + chunk - 1) / chunk;
    l.work_per_output = l.outer * l.chunks_per_inner;
    return l;
  }

  static index_t output_base(const layout& l, index_t o) { return l.output_base(o); }

  /// Sum of the work item w (one chunk of one inner run) of the output at `base`.
  template <class Evaluator>
  static double work_item(const layout& l, index_t base, index_t w, const Evaluator& ev) {
    index_t outer_index = w / l.chunks_per_inner;
    index_t c = w % l.chunks_per_inner;
    index_t offset = base;
    for (int i = l.n_reduced - 2; i >= 0; --i) {
      offset += (outer_index % l.reduced[i].extent) * l.reduced[i].stride;
      outer_index /= l.reduced[i].extent;
    }
    index_t begin = c * chunk, end = std::min(l.inner, begin + chunk);
    double acc = 0;
    if constexpr (requires { ev.sum_range(offset, end); }) {
      if (l.inner_stride == 1) return ev.sum_range(offset + begin, end - begin);  // chunked, vectorised
    }
    if (l.inner_stride == 1) {
      for (index_t t = begin; t < end; ++t) acc += double(ev(offset + t));
    } else {
      for (index_t t = begin; t < end; ++t) acc += double(ev(offset + t * l.inner_stride));
    }
    return acc;
  }

  template <class T>
  static void store(T* out, index_t o, double sum, T alpha, bool accumulate) {
    T v = T(double(alpha) * sum);
    out[o] = accumulate ? out[o] + v : v;
  }

  template <class T, class Evaluator>
  static void reduce_sum(T* out, const reduce_plan& plan, const Evaluator& ev, T alpha, bool accumulate) {
    const layout l = simplify(plan);
    const int threads = cpu::threads();
    const index_t total = l.outputs * l.work_per_output;
    if (total * chunk < 16384 || threads == 1 || l.outputs >= 4 * threads) {
      const bool parallel = threads > 1 && l.outputs > 1 && total * std::min(l.inner, chunk) >= 16384;
#pragma omp parallel for schedule(static) if (parallel)
      for (index_t o = 0; o < l.outputs; ++o) {
        index_t base = output_base(l, o);
        double acc = 0;
        for (index_t w = 0; w < l.work_per_output; ++w) acc += work_item(l, base, w, ev);
        store(out, o, acc, alpha, accumulate);
      }
      return;
    }
    // Few outputs, much work each: split every output's chunks across threads.
    for (index_t o = 0; o < l.outputs; ++o) {
      index_t base = output_base(l, o);
      double acc = 0;
#pragma omp parallel for schedule(static) reduction(+ : acc)
      for (index_t w = 0; w < l.work_per_output; ++w) acc += work_item(l, base, w, ev);
      store(out, o, acc, alpha, accumulate);
    }
  }
};

}  // namespace attngan::primitives
