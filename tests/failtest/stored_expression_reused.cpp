// An expression kept in an `auto` variable and used again is rejected with a
// message that says what to write instead (Eigen's `auto` pitfall, made loud).
//
// expect: an elementwise expression was stored in a variable (e.g. with `auto`)

#include <attngan/attngan.hpp>

using namespace attngan;

void f(const var<float, cpu>& a, const var<float, cpu>& b) {
  var<float, cpu> sum_ab = a + b;  // the intended spelling: evaluate into a var
  var<float, cpu> ok = sum_ab * 2.f;
  (void)ok;
#ifdef ATTNGAN_SHOULD_FAIL
  auto e = a + b;
  var<float, cpu> bad = e * 2.f;
  (void)bad;
#endif
}
