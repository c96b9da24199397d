// A backend type that provides memory but no compute primitives is reported
// by name of the missing primitive, not by a page of template errors.
//
// expect: this backend has no elementwise primitive

#include <attngan/attngan.hpp>

struct memory_only_backend {
  static constexpr const char* name = "memory_only";
  static constexpr bool is_host = true;
  static auto& allocator() { return attngan::cpu::allocator(); }
  static void copy_from_host(void* d, const void* s, std::size_t n) { attngan::cpu::copy_from_host(d, s, n); }
  static void copy_to_host(void* d, const void* s, std::size_t n) { attngan::cpu::copy_to_host(d, s, n); }
  static void copy_within(void* d, const void* s, std::size_t n) { attngan::cpu::copy_within(d, s, n); }
  static void synchronize() {}
};

void f() {
  // memory works: tensors can live on it
  auto t = attngan::tensor<float, memory_only_backend>::zeros(attngan::shape(3));
  (void)t;
#ifdef ATTNGAN_SHOULD_FAIL
  auto v = attngan::var<float, memory_only_backend>::leaf(std::move(t));
  attngan::var<float, memory_only_backend> y = v * 2.f;
#endif
}
