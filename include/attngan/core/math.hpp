// attngan/core/math.hpp — exp, log and tanh for float that vectorise.
//
// glibc's expf/logf/tanhf are accurate but scalar calls: a loop that calls
// them never vectorises, and tanhf alone costs ~14 ns per element here, which
// would make every LSTM cell, GLU and sigmoid bound by libm rather than by
// memory. These versions are branch-free (selects only) and inline, so the
// fused elementwise loops vectorise around them. They follow the classic
// Cody–Waite range reduction with minimax polynomials (the Cephes single
// precision coefficients):
//   exp(x) = 2^n · p(r),  x = n·ln2 + r, |r| ≤ ln2/2, p of degree 7 (≤ 1 ulp);
//   log(x) = e·ln2 + q(m), x = 2^e·m, m ∈ [√½, √2) (≤ 1 ulp);
//   tanh(x) = x + x³·P(x²) for |x| < 0.625, else sign(x)·(1 − 2/(e^{2|x|} + 1)).
// Special values follow IEEE/libm: exp(−∞)=0, exp(+∞)=+∞, exp(NaN)=NaN,
// log(0)=−∞, log(x<0)=NaN, log(+∞)=+∞; subnormal arguments and results are
// handled. Device code (nvcc's device pass) uses CUDA's own functions instead.
// The accuracy is tested against libm over the whole float range.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "attngan/core/config.hpp"

namespace attngan::math {

namespace detail {

ATTNGAN_ALWAYS_INLINE float select(bool c, float a, float b) { return c ? a : b; }

/// p·2^n for integer-valued float n in [-150, 128], scaling by two normal
/// powers of two in turn, so results near FLT_MAX and subnormal results come
/// out right.
ATTNGAN_ALWAYS_INLINE float scale_by_exp2(float p, float n) {
  std::int32_t e = static_cast<std::int32_t>(n);
  std::int32_t e1 = e >> 1, e2 = e - e1;
  return (p * std::bit_cast<float>((e1 + 127) << 23)) * std::bit_cast<float>((e2 + 127) << 23);
}

ATTNGAN_ALWAYS_INLINE float exp_host(float x) {
  constexpr float hi = 88.72283935546875f;  // above: +inf
  constexpr float lo = -103.97208404541016f;  // below: 0
  float xc = select(x > hi, hi, select(x < lo, lo, x));
  float n = (xc * 1.44269504088896341f + 12582912.f) - 12582912.f;  // round to nearest
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  float y = scale_by_exp2(p, n);
  y = select(x > hi, std::numeric_limits<float>::infinity(), y);
  y = select(x < lo, 0.f, y);
  return select(x != x, x, y);  // NaN stays NaN
}

ATTNGAN_ALWAYS_INLINE float log_host(float x) {
  constexpr float min_normal = 1.17549435e-38f;
  bool subnormal = x < min_normal;
  float xs = select(subnormal, x * 8388608.f, x);  // scale by 2^23
  std::int32_t bits = std::bit_cast<std::int32_t>(xs);
  float e = float((bits >> 23) - 126) - select(subnormal, 23.f, 0.f);
  float m = std::bit_cast<float>((bits & 0x007fffff) | 0x3f000000);  // in [0.5, 1)
  bool small = m < 0.707106781186547524f;
  e = select(small, e - 1.f, e);
  m = select(small, m + m - 1.f, m - 1.f);
  float z = m * m;
  float p = 7.0376836292e-2f;
  p = p * m - 1.1514610310e-1f;
  p = p * m + 1.1676998740e-1f;
  p = p * m - 1.2420140846e-1f;
  p = p * m + 1.4249322787e-1f;
  p = p * m - 1.6668057665e-1f;
  p = p * m + 2.0000714765e-1f;
  p = p * m - 2.4999993993e-1f;
  p = p * m + 3.3333331174e-1f;
  float y = p * m * z;
  y = y + e * -2.12194440e-4f;
  y = y - 0.5f * z;
  y = m + y;
  y = y + e * 0.693359375f;
  y = select(x == std::numeric_limits<float>::infinity(), x, y);
  y = select(x == 0.f, -std::numeric_limits<float>::infinity(), y);
  return select(x < 0.f || x != x, std::numeric_limits<float>::quiet_NaN(), y);
}

ATTNGAN_ALWAYS_INLINE float tanh_host(float x) {
  float a = select(x < 0.f, -x, x);
  float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  float small = p * z * x + x;
  float big = 1.f - 2.f / (exp_host(a + a) + 1.f);
  big = select(x < 0.f, -big, big);
  return select(a < 0.625f, small, select(x != x, x, big));
}

}  // namespace detail

ATTNGAN_HD inline float exp(float x) {
#if defined(__CUDA_ARCH__)
  return ::expf(x);
#else
  return detail::exp_host(x);
#endif
}
ATTNGAN_HD inline double exp(double x) { return ::exp(x); }

ATTNGAN_HD inline float log(float x) {
#if defined(__CUDA_ARCH__)
  return ::logf(x);
#else
  return detail::log_host(x);
#endif
}
ATTNGAN_HD inline double log(double x) { return ::log(x); }

ATTNGAN_HD inline float tanh(float x) {
#if defined(__CUDA_ARCH__)
  return ::tanhf(x);
#else
  return detail::tanh_host(x);
#endif
}
ATTNGAN_HD inline double tanh(double x) { return ::tanh(x); }

ATTNGAN_HD inline float sqrt(float x) { return ::sqrtf(x); }
ATTNGAN_HD inline double sqrt(double x) { return ::sqrt(x); }
ATTNGAN_HD inline float abs(float x) { return ::fabsf(x); }
ATTNGAN_HD inline double abs(double x) { return ::fabs(x); }

}  // namespace attngan::math
