// A float expression is not evaluated into a double var by accident.
//
// expect: the expression's scalar type differs from this var's

#include <attngan/attngan.hpp>

using namespace attngan;

void f(const var<float, cpu>& a) {
  var<float, cpu> ok = exp(a);
  (void)ok;
#ifdef ATTNGAN_SHOULD_FAIL
  var<double, cpu> bad = exp(a);
  (void)bad;
#endif
}
