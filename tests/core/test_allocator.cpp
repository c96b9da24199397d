#include "test_support.hpp"
#include <cmath>

namespace test_allocator {

using namespace attngan;
using attngan::test::tcpu;

TEST_CASE("caching allocator: freed blocks are reused, the steady state allocates nothing") {
  auto& alloc = cpu::allocator();
  auto step = [] {
    auto a = tcpu<float>::zeros(shape(64, 256));
    auto b = tcpu<float>::zeros(shape(3, 3, 17, 17));
    auto c = tcpu<double>::zeros(shape(100));
    return a.numel() + b.numel() + c.numel();
  };
  step();  // warm-up fills the cache
  alloc.reset_counters();
  for (int i = 0; i < 10; ++i) step();
  auto s = alloc.stats();
  CHECK(s.requests == 30);
  CHECK(s.system_allocs == 0);
  CHECK(s.cache_hits == 30);
}

namespace {
struct counting_raw {
  static inline int allocs = 0, frees = 0;
  static void* allocate(std::size_t n) {
    ++allocs;
    return ::operator new(n);
  }
  static void deallocate(void* p, std::size_t) noexcept {
    ++frees;
    ::operator delete(p);
  }
};
}  // namespace

TEST_CASE("caching allocator: statistics track bytes in use, cached and peak") {
  caching_allocator<counting_raw> alloc;
  void* a = alloc.allocate(3000);  // rounded to 3072
  void* b = alloc.allocate(10);    // rounded to 512
  auto s = alloc.stats();
  CHECK(s.bytes_in_use == 3584);
  CHECK(s.system_allocs == 2);
  alloc.deallocate(a);
  s = alloc.stats();
  CHECK(s.bytes_in_use == 512);
  CHECK(s.bytes_cached == 3072);
  CHECK(s.peak_bytes_in_use == 3584);

  void* c = alloc.allocate(2000);  // 2048: the cached 3072 block is within twice that, reused
  CHECK(c == a);
  CHECK(alloc.stats().cache_hits == 1);
  alloc.deallocate(c);
  void* d = alloc.allocate(1000);  // 1024: the cached 3072 block is more than twice that, not reused
  CHECK(d != a);
  CHECK(alloc.stats().system_allocs == 3);
  alloc.deallocate(b);
  alloc.deallocate(d);
  alloc.release_cached();
  CHECK(alloc.stats().bytes_cached == 0);
  CHECK(counting_raw::frees == 3);
  CHECK(counting_raw::allocs == 3);
}

namespace {
struct failing_raw {
  static void* allocate(std::size_t) { throw std::bad_alloc(); }
  static void deallocate(void*, std::size_t) noexcept {}
};
}  // namespace

TEST_CASE("caching allocator: out of memory becomes backend_error naming the request") {
  caching_allocator<failing_raw> alloc;
  CHECK_THROWS_WITH_AS(alloc.allocate(4096), "allocate: out of memory allocating 4096 bytes (0 bytes in use)",
                       backend_error);
}

namespace {
struct host_raw {
  static constexpr bool host_accessible = true;
  static void* allocate(std::size_t n) { return ::operator new(n); }
  static void deallocate(void* p, std::size_t) noexcept { ::operator delete(p); }
};
}  // namespace

TEST_CASE("caching allocator: poisoning fills new and reused blocks with 0xFF, only for host memory") {
  caching_allocator<host_raw> alloc;
  alloc.set_poison(true);
  REQUIRE(alloc.poisoning());
  auto* p = static_cast<float*>(alloc.allocate(64 * sizeof(float)));
  for (int i = 0; i < 64; ++i) CHECK(std::isnan(p[i]));
  for (int i = 0; i < 64; ++i) p[i] = 1.0f;
  alloc.deallocate(p);
  auto* q = static_cast<float*>(alloc.allocate(64 * sizeof(float)));  // the cached block again
  CHECK(q == p);
  for (int i = 0; i < 64; ++i) CHECK(std::isnan(q[i]));
  alloc.deallocate(q);
  // A raw allocator that does not declare host_accessible (device memory) is never poisoned.
  caching_allocator<counting_raw> device_like;
  device_like.set_poison(true);
  CHECK_FALSE(device_like.poisoning());
}

}  // namespace test_allocator
