// attngan/backend/thrust/kernels.hpp — the elementwise and reduction
// primitives written once over a Thrust execution policy.
//
// Both GPU-style backends use this file: `thrust_host` launches the functors
// below through Thrust's OpenMP (or serial) host system, and `cuda` launches
// the very same functors with its own grid-stride kernel on its stream. So
// the code that runs on the GPU — the evaluators of every layer, wrapped in
// the functors below — is the code CI runs on a machine with no GPU (design
// decision 8). Everything here is __host__ __device__ under nvcc.
//
// for_each_index (thrust_host) is one thrust::for_each_n over a counting
// iterator; the evaluator travels by value inside the functor. (The cuda
// backend does not launch through Thrust: CUB's dispatch behind
// thrust::for_each_n instantiates several kernels per functor, and ptxas time
// for the library's hundreds of evaluators made the CUDA test build several
// times slower; see backend/cuda/elementwise.cuh.)
//
// reduce_sum is two passes of for_each_n. Pass one runs one thread per
// (output, split): split s of output o sums the elements r = s, s + S,
// s + 2S, ... of that output's run, so neighbouring threads read neighbouring
// addresses (coalesced on a GPU). Pass two sums the S partial sums of each
// output (after folding them 32 at a time while more than 32 are left) and
// applies alpha and accumulate. With S = 1 pass one stores the result itself. Sums are accumulated in double, as on the CPU backend.
#pragma once

#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include "attngan/backend/primitives.hpp"
#include "attngan/backend/reduce_layout.hpp"

namespace attngan::primitives::thrust_kernels {

template <class Evaluator>
struct call_each {
  Evaluator ev;
  ATTNGAN_HD void operator()(index_t i) const { ev(i); }
};

template <class Policy, class Evaluator>
void for_each_index(const Policy& policy, index_t n, const Evaluator& ev) {
  thrust::for_each_n(policy, thrust::counting_iterator<index_t>(0), n, call_each<Evaluator>{ev});
}

template <class T, class Evaluator>
struct partial_sums {
  reduce_layout l;
  Evaluator ev;
  index_t splits;
  double* partial;  // outputs × splits, or null when splits == 1
  T* out;           // used when splits == 1
  T alpha;
  bool accumulate;

  ATTNGAN_HD void operator()(index_t w) const {
    const index_t o = w / splits, s = w % splits;
    const index_t base = l.output_base(o), per = l.per_output();
    // At most two reduced runs (four axes, neighbours of a kind merged): the
    // r-th summed element sits at q·outer_stride + rem·inner_stride with
    // r = q·inner + rem, advanced by `splits` without a division per
    // element. One loop for every layout keeps one copy of the evaluator in
    // the kernel (ptxas time grows with the code of every evaluator).
    const index_t step_q = splits / l.inner, step_rem = splits % l.inner;
    const index_t outer_stride = l.n_reduced == 2 ? l.reduced[0].stride : 0;
    index_t q = s / l.inner, rem = s % l.inner;
    double acc = 0;
    for (index_t r = s; r < per; r += splits) {
      acc += double(ev(base + q * outer_stride + rem * l.inner_stride));
      q += step_q;
      rem += step_rem;
      if (rem >= l.inner) {
        rem -= l.inner;
        ++q;
      }
    }
    if (partial) {
      partial[w] = acc;
    } else {
      const T v = T(double(alpha) * acc);
      out[o] = accumulate ? out[o] + v : v;
    }
  }
};

template <class T>
struct finish_sums {
  const double* partial;
  index_t splits;
  T* out;
  T alpha;
  bool accumulate;

  ATTNGAN_HD void operator()(index_t o) const {
    double acc = 0;
    for (index_t s = 0; s < splits; ++s) acc += partial[o * splits + s];
    const T v = T(double(alpha) * acc);
    out[o] = accumulate ? out[o] + v : v;
  }
};

/// Sums runs of `fold` consecutive partial sums: thread (o, j) adds
/// in[o·splits + j·fold ...] (at most fold values) into out[o·folded + j].
struct fold_partials {
  const double* in;
  index_t splits, folded, fold;
  double* out;
  ATTNGAN_HD void operator()(index_t w) const {
    const index_t o = w / folded, j = w % folded;
    const index_t begin = j * fold, end = begin + fold < splits ? begin + fold : splits;
    double acc = 0;
    for (index_t s = begin; s < end; ++s) acc += in[o * splits + s];
    out[w] = acc;
  }
};

/// Splits per output: enough threads in all (`target`) to fill the machine,
/// at most 1024 partial sums per output, at least `min_per_thread` elements
/// each.
inline index_t reduce_splits(index_t outputs, index_t per, index_t target, index_t min_per_thread = 32) {
  if (outputs <= 0 || per <= 0) return 1;
  index_t s = target / outputs;
  if (s > 1024) s = 1024;
  if (s > per / min_per_thread) s = per / min_per_thread;
  return s < 1 ? 1 : s;
}

/// `launch(n, functor)` runs functor(i) for i in [0, n) (the backend's
/// for_each); `scratch(count)` returns a buffer of `count` doubles valid until
/// the second pass has run (a tensor from the backend's caching allocator).
template <class Launch, class T, class Evaluator, class Scratch>
void reduce_sum(Launch&& launch, T* out, const reduce_plan& plan, const Evaluator& ev, T alpha,
                bool accumulate, index_t target_threads, Scratch&& scratch) {
  const reduce_layout l = make_reduce_layout(plan);
  if (l.outputs == 0) return;
  const index_t splits = reduce_splits(l.outputs, l.per_output(), target_threads);
  if (splits == 1) {
    launch(l.outputs, partial_sums<T, Evaluator>{l, ev, 1, nullptr, out, alpha, accumulate});
    return;
  }
  auto buffer = scratch(l.outputs * splits);
  launch(l.outputs * splits, partial_sums<T, Evaluator>{l, ev, splits, buffer.data(), out, alpha, accumulate});
  const double* partial = buffer.data();
  // Fold the partial sums 32 at a time until at most 32 per output are left,
  // so no thread of the last pass sums more than 32 values (one thread per
  // output summing 1024 partials serially made that pass the slowest of all).
  constexpr index_t fold = 32;
  index_t count = splits;
  decltype(scratch(index_t(1))) folded_buffer;
  while (count > fold) {
    const index_t folded = (count + fold - 1) / fold;
    auto next = scratch(l.outputs * folded);
    launch(l.outputs * folded, fold_partials{partial, count, folded, fold, next.data()});
    folded_buffer = std::move(next);  // the previous level is released after the launch that read it
    partial = folded_buffer.data();
    count = folded;
  }
  launch(l.outputs, finish_sums<T>{partial, count, out, alpha, accumulate});
}

}  // namespace attngan::primitives::thrust_kernels
