// float and double vars do not mix silently in one expression.
//
// expect: cannot mix scalar types (e.g. float and double) in one expression

#include <attngan/attngan.hpp>

using namespace attngan;

void f(const var<float, cpu>& a, const var<double, cpu>& b) {
  var<float, cpu> ok = a * 2.0 + 1;  // plain numbers convert to the var's type
  (void)ok;
#ifdef ATTNGAN_SHOULD_FAIL
  auto bad = a * b;
  (void)bad;
#endif
}
