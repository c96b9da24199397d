// A compile-time axis beyond the fourth does not exist.
//
// expect: axis must be in 0..3 (tensors have rank at most 4)

#include <attngan/attngan.hpp>

using namespace attngan;

index_t f(const shape& s) {
  index_t channels = s.dim<1>();
#ifdef ATTNGAN_SHOULD_FAIL
  channels += s.dim<4>();
#endif
  return channels;
}
