// attngan/core/allocator.hpp — a caching allocator, one per backend.
//
// A GAN training step allocates the same set of buffers every iteration. The
// caching allocator keeps freed blocks in a free list keyed by size and hands
// them out again, so after the first step a training loop makes no system
// allocations at all (no malloc on the CPU, no cudaMalloc on the GPU). Sizes
// are rounded up to a multiple of `granularity` bytes; a cached block is reused
// for a request when it is at most twice the rounded request, so one huge free
// block is not consumed by a tiny tensor. `stats()` exposes counts and bytes so
// tests and benchmarks can show that the steady state allocates nothing.
//
// RawAllocator provides `static void* allocate(std::size_t)` and
// `static void deallocate(void*, std::size_t)`; it is the backend's system
// allocator (aligned host memory, cudaMalloc, ...). A RawAllocator whose
// memory the host can write declares `static constexpr bool host_accessible =
// true`; for those, setting the environment variable ATTNGAN_POISON_MEMORY=1
// fills every block handed out with 0xFF bytes (a NaN in every float and
// double), so code that reads memory it never wrote fails deterministically
// instead of depending on what the block held before, and
// ATTNGAN_NO_CACHING=1 returns every freed block to the system at once, so
// AddressSanitizer or valgrind see each use after free (both are for
// debugging; they make training slow).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

#include "attngan/core/error.hpp"

namespace attngan {

struct allocator_stats {
  std::size_t requests = 0;        ///< allocate() calls
  std::size_t cache_hits = 0;      ///< requests served from the free list
  std::size_t system_allocs = 0;   ///< calls to the system allocator
  std::size_t system_frees = 0;    ///< blocks returned to the system
  std::size_t bytes_in_use = 0;    ///< bytes handed out and not yet returned
  std::size_t bytes_cached = 0;    ///< bytes held in the free list
  std::size_t peak_bytes_in_use = 0;
};

template <class RawAllocator>
class caching_allocator {
 public:
  static constexpr std::size_t granularity = 512;

  caching_allocator() : poison_(poison_requested()), no_caching_(flag_set("ATTNGAN_NO_CACHING")) {}
  caching_allocator(const caching_allocator&) = delete;
  caching_allocator& operator=(const caching_allocator&) = delete;
  ~caching_allocator() { release_cached(); }

  /// Returns a block of at least `bytes` bytes (never null; zero bytes gives a
  /// block of `granularity`). Throws backend_error when the system is out of
  /// memory even after the cache was released.
  void* allocate(std::size_t bytes) {
    std::size_t want = round_up(bytes);
    std::lock_guard lock(mutex_);
    ++stats_.requests;
    auto it = free_.lower_bound(want);
    if (it != free_.end() && it->first <= 2 * want) {
      void* p = it->second;
      std::size_t got = it->first;
      free_.erase(it);
      stats_.bytes_cached -= got;
      ++stats_.cache_hits;
      note_in_use(p, got);
      poison(p, got);
      return p;
    }
    void* p = try_system_alloc(want);
    if (!p) {  // out of memory: give the cache back and try once more
      release_cached_locked();
      p = try_system_alloc(want);
      if (!p)
        throw backend_error("allocate", detail::cat("out of memory allocating ", want, " bytes (",
                                                    stats_.bytes_in_use, " bytes in use)"));
    }
    ++stats_.system_allocs;
    note_in_use(p, want);
    poison(p, want);
    return p;
  }

  /// Returns a block obtained from allocate() to the cache.
  void deallocate(void* p) noexcept {
    if (!p) return;
    std::lock_guard lock(mutex_);
    auto it = live_.find(p);
    if (it == live_.end()) return;  // not ours: ignore rather than corrupt the cache
    std::size_t size = it->second;
    live_.erase(it);
    stats_.bytes_in_use -= size;
    if (no_caching_) {
      RawAllocator::deallocate(p, size);
      ++stats_.system_frees;
      return;
    }
    stats_.bytes_cached += size;
    free_.emplace(size, p);
  }

  /// Frees every cached block back to the system (blocks in use are kept).
  void release_cached() noexcept {
    std::lock_guard lock(mutex_);
    release_cached_locked();
  }

  /// Whether new blocks are filled with 0xFF (ATTNGAN_POISON_MEMORY, host
  /// memory only); set_poison overrides the environment, e.g. in a test.
  [[nodiscard]] bool poisoning() const noexcept { return poison_; }
  void set_poison(bool on) noexcept { poison_ = on && host_accessible(); }

  [[nodiscard]] allocator_stats stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
  }

  /// Resets the counters (not the byte figures), e.g. between warm-up and a
  /// measured steady state.
  void reset_counters() {
    std::lock_guard lock(mutex_);
    stats_.requests = stats_.cache_hits = stats_.system_allocs = stats_.system_frees = 0;
    stats_.peak_bytes_in_use = stats_.bytes_in_use;
  }

 private:
  static std::size_t round_up(std::size_t bytes) {
    if (bytes == 0) return granularity;
    return (bytes + granularity - 1) / granularity * granularity;
  }

  static constexpr bool host_accessible() {
    if constexpr (requires { RawAllocator::host_accessible; }) return RawAllocator::host_accessible;
    return false;
  }

  static bool flag_set(const char* name) noexcept {
    const char* v = std::getenv(name);
    return v && *v && std::strcmp(v, "0") != 0;
  }

  static bool poison_requested() noexcept { return host_accessible() && flag_set("ATTNGAN_POISON_MEMORY"); }

  void poison(void* p, std::size_t bytes) const noexcept {
    if (poison_) std::memset(p, 0xFF, bytes);
  }

  static void* try_system_alloc(std::size_t bytes) noexcept {
    try {
      return RawAllocator::allocate(bytes);
    } catch (...) {
      return nullptr;
    }
  }

  void note_in_use(void* p, std::size_t size) {
    live_.emplace(p, size);
    stats_.bytes_in_use += size;
    if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
  }

  void release_cached_locked() noexcept {
    for (auto& [size, p] : free_) {
      RawAllocator::deallocate(p, size);
      ++stats_.system_frees;
    }
    free_.clear();
    stats_.bytes_cached = 0;
  }

  bool poison_ = false;
  bool no_caching_ = false;
  mutable std::mutex mutex_;
  std::multimap<std::size_t, void*> free_;     // size -> block
  std::unordered_map<void*, std::size_t> live_;  // block -> size
  allocator_stats stats_;
};

}  // namespace attngan
