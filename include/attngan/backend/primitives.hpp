// attngan/backend/primitives.hpp — the primitive set every backend implements.
//
// Each primitive is declared here once, with its contract, and implemented per
// backend by specialising its `*_impl<Backend>` class template in
// backend/<name>/<file>.hpp (cpu) or .cuh (cuda), with the same file names in
// both trees. The free functions below are the only entry points: they check
// the arguments once for every backend, then dispatch on the backend type.
//
//   file            primitive
//   elementwise     for_each_index  — run a trivially copyable evaluator on [0, n)
//   reduce          reduce_sum      — sum an evaluator over broadcast axes
//   gemm            gemm, gemm_batched — row-major GEMM through the backend's BLAS
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <type_traits>

#include "attngan/core/backend.hpp"
#include "attngan/core/error.hpp"
#include "attngan/core/shape.hpp"

namespace attngan::primitives {

/// Number of primitive launches (elementwise passes, reductions, GEMM calls)
/// since program start, on every backend. Tests read it to prove that a fused
/// expression is one pass; it costs one relaxed atomic add per launch.
inline std::atomic<std::uint64_t>& launch_count() {
  static std::atomic<std::uint64_t> count{0};
  return count;
}

inline void count_launch() { launch_count().fetch_add(1, std::memory_order_relaxed); }

template <class Backend>
inline constexpr bool always_false = false;

// The primary templates only exist to say, at compile time, which header a
// backend is missing; each backend specialises them.
template <class Backend>
struct elementwise_impl {  // backend/<name>/elementwise
  template <class... Args>
  static void for_each_index(Args&&...) {
    static_assert(always_false<Backend>,
                  "attngan: this backend has no elementwise primitive; include "
                  "attngan/attngan.hpp (cpu) or attngan/cuda.hpp (cuda), or specialise "
                  "attngan::primitives::elementwise_impl for it");
  }
};
template <class Backend>
struct reduce_impl {  // backend/<name>/reduce
  template <class... Args>
  static void reduce_sum(Args&&...) {
    static_assert(always_false<Backend>,
                  "attngan: this backend has no reduction primitive; include "
                  "attngan/attngan.hpp (cpu) or attngan/cuda.hpp (cuda), or specialise "
                  "attngan::primitives::reduce_impl for it");
  }
};
template <class Backend>
struct gemm_impl {  // backend/<name>/gemm
  template <class... Args>
  static void gemm(Args&&...) {
    static_assert(always_false<Backend>,
                  "attngan: this backend has no GEMM primitive; include attngan/attngan.hpp (cpu) or "
                  "attngan/cuda.hpp (cuda), or specialise attngan::primitives::gemm_impl for it");
  }
  template <class... Args>
  static void gemm_batched(Args&&... args) {
    gemm(args...);
  }
};

// ---------------------------------------------------------------------------
// elementwise
//
// Calls ev(i) exactly once for every i in [0, n), in any order and possibly
// concurrently. `ev` is copied by value into the kernel (so it must be
// trivially copyable and hold only raw pointers to backend memory); it writes
// its own outputs, and different i must not write the same location.
template <backend Backend, class Evaluator>
void for_each_index(index_t n, const Evaluator& ev) {
  static_assert(std::is_trivially_copyable_v<Evaluator>,
                "attngan::primitives::for_each_index: the evaluator is passed by value to the "
                "kernel and must be trivially copyable (hold raw pointers, not tensors)");
  if (n < 0) throw value_error("for_each_index", attngan::detail::cat("negative element count ", n));
  if (n == 0) return;
  count_launch();
  elementwise_impl<Backend>::for_each_index(n, ev);
}

// ---------------------------------------------------------------------------
// reduce
//
// A reduction over broadcast axes. `in` is the rank-4 (padded) index space the
// evaluator is defined on; `out` has, on every axis, either the same extent
// (kept) or 1 (summed). For every output element o (row-major in `out`):
//     out_ptr[o] = alpha * Σ_{i maps to o} ev(i) + (accumulate ? out_ptr[o] : 0)
// where i runs over the row-major flat indices of `in`. Sums are accumulated in
// at least the precision of T (double on the CPU).
struct reduce_plan {
  std::array<index_t, 4> in{1, 1, 1, 1};
  std::array<index_t, 4> out{1, 1, 1, 1};
};

inline reduce_plan make_reduce_plan(const shape& in, const shape& out, const char* op) {
  reduce_plan p{in.padded(), out.padded()};
  if (out.rank() > in.rank())
    throw shape_error(op, attngan::detail::cat("cannot reduce shape ", in, " to the larger-rank shape ", out));
  for (int k = 0; k < 4; ++k)
    if (p.out[std::size_t(k)] != p.in[std::size_t(k)] && p.out[std::size_t(k)] != 1)
      throw shape_error(op, attngan::detail::cat("cannot reduce shape ", in, " to ", out,
                                        ": every axis must be kept or reduced to 1"));
  return p;
}

template <backend Backend, class T, class Evaluator>
void reduce_sum(T* out_ptr, const reduce_plan& plan, const Evaluator& ev, T alpha, bool accumulate) {
  static_assert(std::is_trivially_copyable_v<Evaluator>,
                "attngan::primitives::reduce_sum: the evaluator must be trivially copyable");
  count_launch();
  reduce_impl<Backend>::reduce_sum(out_ptr, plan, ev, alpha, accumulate);
}

// ---------------------------------------------------------------------------
// gemm
//
// Row-major C = alpha · op(A) · op(B) + beta · C, op(X) = X or Xᵀ.
// op(A) is M×K, op(B) is K×N, C is M×N; lda/ldb/ldc are the row strides (in
// elements) of A, B and C as stored. beta == 0 means C is not read (it may hold
// NaN). The batched form repeats this for `batch` triples at fixed element
// strides between consecutive matrices.
enum class transpose : bool { no = false, yes = true };

template <class T>
struct gemm_args {
  transpose trans_a = transpose::no, trans_b = transpose::no;
  index_t m = 0, n = 0, k = 0;
  T alpha = T(1);
  const T* a = nullptr;
  index_t lda = 0;
  const T* b = nullptr;
  index_t ldb = 0;
  T beta = T(0);
  T* c = nullptr;
  index_t ldc = 0;
};

template <class T>
void check_gemm_args(const gemm_args<T>& g, const char* op) {
  if (g.m < 0 || g.n < 0 || g.k < 0)
    throw value_error(op, attngan::detail::cat("negative size M=", g.m, " N=", g.n, " K=", g.k));
  index_t a_cols = g.trans_a == transpose::yes ? g.m : g.k;
  index_t b_cols = g.trans_b == transpose::yes ? g.k : g.n;
  if (g.lda < a_cols || g.ldb < b_cols || g.ldc < g.n)
    throw value_error(op, attngan::detail::cat("leading dimension too small: lda=", g.lda, " (needs ", a_cols, "), ldb=",
                                      g.ldb, " (needs ", b_cols, "), ldc=", g.ldc, " (needs ", g.n, ")"));
}

template <backend Backend, class T>
void gemm(const gemm_args<T>& g) {
  check_gemm_args(g, "gemm");
  if (g.m == 0 || g.n == 0) return;
  count_launch();
  gemm_impl<Backend>::gemm(g);
}

template <backend Backend, class T>
void gemm_batched(const gemm_args<T>& g, index_t batch, index_t stride_a, index_t stride_b, index_t stride_c) {
  check_gemm_args(g, "gemm_batched");
  if (batch < 0) throw value_error("gemm_batched", attngan::detail::cat("negative batch ", batch));
  if (batch == 0 || g.m == 0 || g.n == 0) return;
  count_launch();
  gemm_impl<Backend>::gemm_batched(g, batch, stride_a, stride_b, stride_c);
}

}  // namespace attngan::primitives
