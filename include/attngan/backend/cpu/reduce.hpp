// attngan/backend/cpu/reduce.hpp — reduce_sum on the CPU.
//
// The rank-4 index space is first simplified: axes of extent 1 are dropped and
// neighbouring axes that are both kept or both reduced are merged, so
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

namespace attngan::primitives {

template <>
struct reduce_impl<cpu> {
  static constexpr index_t chunk = 4096;

  struct axis {
    index_t extent;
    index_t stride;  // in the input's flat index
  };

  struct layout {
    axis kept[4];
    int n_kept = 0;
    axis reduced[4];
    int n_reduced = 0;
    index_t outputs = 1;
    index_t inner = 1;         // extent of the innermost reduced axis
    index_t inner_stride = 1;  // its stride
    index_t outer = 1;         // product of the other reduced extents
    index_t chunks_per_inner = 1;
    index_t work_per_output = 1;  // outer * chunks_per_inner
  };

  static layout simplify(const reduce_plan& p) {
    layout l;
    index_t strides[4];
    strides[3] = 1;
    for (int k = 2; k >= 0; --k) strides[k] = strides[k + 1] * p.in[std::size_t(k + 1)];
    int last_kind = -1;  // 0 kept, 1 reduced
    for (int k = 0; k < 4; ++k) {
      index_t e = p.in[std::size_t(k)];
      if (e == 1) continue;
      int kind = p.out[std::size_t(k)] == 1 ? 1 : 0;
      axis* list = kind ? l.reduced : l.kept;
      int& count = kind ? l.n_reduced : l.n_kept;
      if (kind == last_kind) {  // merge with the previous axis (row-major: contiguous)
        list[count - 1].extent *= e;
        list[count - 1].stride = strides[k];
      } else {
        list[count++] = axis{e, strides[k]};
      }
      last_kind = kind;
    }
    for (int i = 0; i < l.n_kept; ++i) l.outputs *= l.kept[i].extent;
    if (l.n_reduced > 0) {
      l.inner = l.reduced[l.n_reduced - 1].extent;
      l.inner_stride = l.reduced[l.n_reduced - 1].stride;
      for (int i = 0; i + 1 < l.n_reduced; ++i) l.outer *= l.reduced[i].extent;
    }
    l.chunks_per_inner = (l.inner + chunk - 1) / chunk;
    l.work_per_output = l.outer * l.chunks_per_inner;
    return l;
  }

  static index_t output_base(const layout& l, index_t o) {
    index_t base = 0;
    for (int i = l.n_kept - 1; i >= 0; --i) {
      base += (o % l.kept[i].extent) * l.kept[i].stride;
      o /= l.kept[i].extent;
    }
    return base;
  }

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
