// attngan/backend/cpu/cpu.hpp — the CPU backend type.
//
// `attngan::cpu` is the host backend: memory from 64-byte aligned system
// allocations behind a caching allocator, copies by memcpy, compute through
// OpenMP loops (elementwise, reductions) and Eigen (GEMM), both using every
// core OpenMP is given (OMP_NUM_THREADS).
#pragma once

#include <cstdlib>
#include <cstring>
#include <new>

#include "attngan/core/allocator.hpp"
#include "attngan/core/backend.hpp"
#include "attngan/core/config.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace attngan {

namespace detail {
struct host_system_allocator {
  static constexpr std::size_t alignment = 64;
  static constexpr bool host_accessible = true;
  static void* allocate(std::size_t bytes) {
    std::size_t rounded = (bytes + alignment - 1) / alignment * alignment;
    void* p = std::aligned_alloc(alignment, rounded);
    if (!p) throw std::bad_alloc();
    return p;
  }
  static void deallocate(void* p, std::size_t) noexcept { std::free(p); }
};

/// Copies and synchronisation of a backend whose memory is host memory
/// (cpu, thrust_host): plain memcpy, nothing to wait for.
struct host_memory_ops {
  static void copy_from_host(void* dst, const void* src, std::size_t bytes) { std::memcpy(dst, src, bytes); }
  static void copy_to_host(void* dst, const void* src, std::size_t bytes) { std::memcpy(dst, src, bytes); }
  static void copy_within(void* dst, const void* src, std::size_t bytes) { std::memcpy(dst, src, bytes); }
  static void synchronize() {}
};
}  // namespace detail

struct cpu : detail::host_memory_ops {
  static constexpr const char* name = "cpu";
  static constexpr bool is_host = true;

  /// The process-wide caching allocator of host memory. Never destroyed, so
  /// tensors with static storage duration may outlive every other object.
  static caching_allocator<detail::host_system_allocator>& allocator() {
    static auto* instance = new caching_allocator<detail::host_system_allocator>();
    return *instance;
  }

  /// Threads the parallel loops use.
  static int threads() {
#if defined(_OPENMP)
    return omp_get_max_threads();
#else
    return 1;
#endif
  }

  /// Calls f(begin, end) from each thread of a team on its contiguous share
  /// of [0, n), shares rounded up to multiples of `granule` (the last one
  /// shorter, trailing ones possibly empty).
  template <class F>
  static void parallel_shares(index_t n, index_t granule, const F& f) {
#pragma omp parallel num_threads(threads())
    {
#if defined(_OPENMP)
      const index_t t = omp_get_thread_num(), count = omp_get_num_threads();
#else
      const index_t t = 0, count = 1;
#endif
      const index_t per = ((n + count - 1) / count + granule - 1) / granule * granule;
      const index_t begin = t * per < n ? t * per : n, end = begin + per < n ? begin + per : n;
      f(begin, end);
    }
  }

  /// Above this many bytes, zero_fill and copy_within split the work over
  /// the threads: the backward zeroes every gradient buffer before its first
  /// accumulation, and one thread's memset of them left the other core idle.
  static constexpr std::size_t parallel_bytes = std::size_t(1) << 18;

  /// Sets `bytes` bytes at p to zero (tensor::fill with 0).
  static void zero_fill(void* p, std::size_t bytes) {
    char* c = static_cast<char*>(p);
    over_bytes(bytes, [c](std::size_t at, std::size_t n) { std::memset(c + at, 0, n); });
  }

  /// memcpy of host memory.
  static void copy_within(void* dst, const void* src, std::size_t bytes) {
    char* d = static_cast<char*>(dst);
    const char* s = static_cast<const char*>(src);
    over_bytes(bytes, [d, s](std::size_t at, std::size_t n) { std::memcpy(d + at, s + at, n); });
  }

 private:
  /// f(offset, length) over [0, bytes): once below parallel_bytes, else once
  /// per thread on its share (whole 4 KiB pages but the last).
  template <class F>
  static void over_bytes(std::size_t bytes, const F& f) {
    if (bytes < parallel_bytes || threads() == 1) {
      f(0, bytes);
      return;
    }
    parallel_shares(index_t(bytes), 4096, [&f](index_t b, index_t e) {
      if (e > b) f(std::size_t(b), std::size_t(e - b));
    });
  }
};

static_assert(backend<cpu>);

}  // namespace attngan
