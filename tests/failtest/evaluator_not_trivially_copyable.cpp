// Kernels receive their evaluator by value (on the GPU, as a launch argument),
// so an evaluator that owns memory is rejected.
//
// expect: must be trivially copyable (hold raw pointers, not tensors)

#include <attngan/attngan.hpp>

#include <vector>

using namespace attngan;

struct by_pointer {
  float* out;
  void operator()(index_t i) const { out[i] = 0.f; }
};

struct owning {
  std::vector<float> out;
  void operator()(index_t) const {}
};

void f(float* p) {
  primitives::for_each_index<cpu>(4, by_pointer{p});
#ifdef ATTNGAN_SHOULD_FAIL
  primitives::for_each_index<cpu>(4, owning{});
#endif
}
