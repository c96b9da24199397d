// Tensors have rank at most 4 (N, C, H, W); a fifth extent is a compile error.
//
// expect: a tensor has rank at most 4 (N, C, H, W)

#include <attngan/attngan.hpp>

using namespace attngan;

void f() {
  shape ok(2, 3, 64, 64);
  (void)ok;
#ifdef ATTNGAN_SHOULD_FAIL
  shape bad(2, 3, 4, 64, 64);
  (void)bad;
#endif
}
