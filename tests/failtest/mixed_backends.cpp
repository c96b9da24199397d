// Operands on different backends cannot meet in one expression: memory of one
// backend is not addressable by the other's kernels. The copy must be explicit.
//
// expect: cannot mix backends (e.g. cpu and cuda) in one expression

#include <attngan/attngan.hpp>

// A second backend for the test: host memory under another type.
struct other_backend {
  static constexpr const char* name = "other";
  static constexpr bool is_host = true;
  static auto& allocator() { return attngan::cpu::allocator(); }
  static void copy_from_host(void* d, const void* s, std::size_t n) { attngan::cpu::copy_from_host(d, s, n); }
  static void copy_to_host(void* d, const void* s, std::size_t n) { attngan::cpu::copy_to_host(d, s, n); }
  static void copy_within(void* d, const void* s, std::size_t n) { attngan::cpu::copy_within(d, s, n); }
  static void synchronize() {}
};
static_assert(attngan::backend<other_backend>);
// It computes with the CPU's primitives.
template <>
struct attngan::primitives::elementwise_impl<other_backend> : attngan::primitives::elementwise_impl<attngan::cpu> {};
template <>
struct attngan::primitives::reduce_impl<other_backend> : attngan::primitives::reduce_impl<attngan::cpu> {};
template <>
struct attngan::primitives::gemm_impl<other_backend> : attngan::primitives::gemm_impl<attngan::cpu> {};

void f(const attngan::var<float, attngan::cpu>& a, const attngan::var<float, other_backend>& b) {
  // allowed: an explicit copy to the other backend
  auto copied = attngan::var<float, other_backend>::leaf(a.value().to<other_backend>());
  attngan::var<float, other_backend> ok = copied * b;
  (void)ok;
#ifdef ATTNGAN_SHOULD_FAIL
  auto bad = a + b;
  (void)bad;
#endif
}
