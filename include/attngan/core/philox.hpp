// attngan/core/philox.hpp — Philox4x32-10 counter-based RNG and the library's
// random stream contract.
//
// Implements Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random
// numbers: as easy as 1, 2, 3", SC'11), written from the published algorithm:
// a 128-bit counter (four 32-bit words) is encrypted under a 64-bit key (two
// words) by 10 rounds of  (x0,x1,x2,x3) -> (hi(M1*x2)^x1^k0, lo(M1*x2),
// hi(M0*x0)^x3^k1, lo(M0*x0))  with M0 = 0xD2511F53, M1 = 0xCD9E8D57, the key
// being bumped by the Weyl constants (0x9E3779B9, 0xBB67AE85) between rounds.
// Every function is a pure, stateless `ATTNGAN_HD constexpr`/inline function of
// its arguments, so the same header compiles for host and CUDA device code.
//
// STREAM CONTRACT (every backend, CUDA included, must reproduce this bit for
// bit; all arithmetic on counters is modulo 2^64):
//   * A generator is a pair (seed: uint64, offset: uint64).  A draw of n
//     elements starts at counter block `offset`; afterwards the generator's
//     offset advances by blocks_used_uniform<T>(n) / blocks_used_normal<T>(n).
//   * key   = { seed & 0xffffffff, seed >> 32 }.
//   * block b is philox4x32_10(counter{ b & 0xffffffff, b >> 32, 0, 0 }, key),
//     four 32-bit lanes v[0..3].
//   * uniform_bits(seed, offset, i) = lane i%4 of block offset + i/4.
//   * uniform<float>(seed, offset, i): bits = uniform_bits(seed, offset, i);
//       u = (bits >> 8) * 2^-24                                 in [0, 1).
//   * uniform<double>(seed, offset, i): block offset + i/2, lo = lane 2(i%2),
//       hi = lane 2(i%2)+1;
//       u = ((uint64(hi >> 5) << 26) | (lo >> 6)) * 2^-53       in [0, 1)
//       (== ((hi >> 5) * 2^26 + (lo >> 6)) * 2^-53, exact, 53 random bits).
//   * normal<T>(seed, offset, i): block offset + i/2, a = lane 2(i%2),
//       b = lane 2(i%2)+1;
//       float : u1 = ((a >> 8) + 1) * 2^-24  in (0, 1],  u2 = (b >> 8) * 2^-24;
//       double: u1 = (uint64(a) + 1) * 2^-32 in (0, 1],  u2 = b * 2^-32
//               (32-bit resolution, so |z| <= sqrt(64 ln 2) ~= 6.66; float
//               gives |z| <= sqrt(48 ln 2) ~= 5.77);
//       z = sqrt(-2 ln u1) * cos(2*pi*u2), all evaluated in T (2*pi rounded to
//       T).  Only the cosine branch of Box-Muller is used: two normals per
//       block.
//   * blocks_used_uniform<float>(n)  = ceil(n/4),
//     blocks_used_uniform<double>(n) = ceil(n/2),
//     blocks_used_normal<T>(n)       = ceil(n/2).
// Raw bits and uniforms are exact integer/power-of-two arithmetic and hence
// identical on every platform.  Normals go through log/cos/sqrt (wrapped in
// detail::math_* below); host libm and CUDA's math library may differ in the
// last ulp or so for log/cos, so cross-backend normal comparisons need a small
// tolerance (and must not be built with fast-math / --use_fast_math).
#pragma once

#include <cmath>
#include <cstdint>

#include "attngan/core/config.hpp"

namespace attngan::philox {

/// 128-bit Philox counter: four 32-bit words, v[0] least significant.
struct counter {
  std::uint32_t v[4];
};

/// 64-bit Philox key: two 32-bit words.
struct key {
  std::uint32_t v[2];
};

inline constexpr std::uint32_t kMul0 = 0xD2511F53u;
inline constexpr std::uint32_t kMul1 = 0xCD9E8D57u;
inline constexpr std::uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
inline constexpr std::uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1
inline constexpr int kRounds = 10;

namespace detail {

/// High and low 32-bit halves of the 64-bit product a*b.
ATTNGAN_HD constexpr void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi,
                                  std::uint32_t& lo) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * static_cast<std::uint64_t>(b);
  hi = static_cast<std::uint32_t>(p >> 32);
  lo = static_cast<std::uint32_t>(p);
}

/// One Philox4x32 S-box round under round key k.
ATTNGAN_HD constexpr counter round(counter x, key k) {
  std::uint32_t hi0 = 0, lo0 = 0, hi1 = 0, lo1 = 0;
  mulhilo(kMul0, x.v[0], hi0, lo0);
  mulhilo(kMul1, x.v[2], hi1, lo1);
  return counter{{hi1 ^ x.v[1] ^ k.v[0], lo1, hi0 ^ x.v[3] ^ k.v[1], lo0}};
}

/// Key schedule step: add the Weyl constants (mod 2^32).
ATTNGAN_HD constexpr key bump(key k) {
  return key{{static_cast<std::uint32_t>(k.v[0] + kWeyl0),
              static_cast<std::uint32_t>(k.v[1] + kWeyl1)}};
}

// --- The only place where transcendental math is called. -------------------
// Host: C library; device (nvcc): CUDA math library overloads of the same names.
ATTNGAN_HD inline float math_log(float x) { return ::logf(x); }
ATTNGAN_HD inline float math_cos(float x) { return ::cosf(x); }
ATTNGAN_HD inline float math_sqrt(float x) { return ::sqrtf(x); }
ATTNGAN_HD inline double math_log(double x) { return ::log(x); }
ATTNGAN_HD inline double math_cos(double x) { return ::cos(x); }
ATTNGAN_HD inline double math_sqrt(double x) { return ::sqrt(x); }

template <class A, class B>
struct is_same {
  static constexpr bool value = false;
};
template <class A>
struct is_same<A, A> {
  static constexpr bool value = true;
};
template <class T>
inline constexpr bool is_real_v = is_same<T, float>::value || is_same<T, double>::value;

template <class T>
inline constexpr T two_pi = static_cast<T>(6.283185307179586476925286766559);

}  // namespace detail

/// Philox4x32-10: encrypt counter c under key k (10 rounds, key bumped between
/// rounds, i.e. round r uses k + r*(0x9E3779B9, 0xBB67AE85)).
ATTNGAN_HD constexpr counter philox4x32_10(counter c, key k) {
  for (int r = 0; r < kRounds - 1; ++r) {
    c = detail::round(c, k);
    k = detail::bump(k);
  }
  return detail::round(c, k);
}

// ---------------------------------------------------------------------------
// Stream construction.

/// key = {seed low 32 bits, seed high 32 bits}.
ATTNGAN_HD constexpr key make_key(std::uint64_t seed) {
  return key{{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
}

/// Counter of block b = {b low 32 bits, b high 32 bits, 0, 0}.
ATTNGAN_HD constexpr counter make_counter(std::uint64_t b) {
  return counter{{static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32), 0u, 0u}};
}

/// The four random 32-bit lanes of block b of the stream with this seed.
ATTNGAN_HD constexpr counter block(std::uint64_t seed, std::uint64_t b) {
  return philox4x32_10(make_counter(b), make_key(seed));
}

// ---------------------------------------------------------------------------
// Bit-to-value conversions (exposed so block-at-a-time kernels reuse exactly
// the same formulas as the per-element functions below).

/// float uniform in [0,1): (bits >> 8) * 2^-24.
ATTNGAN_HD constexpr float bits_to_uniform_float(std::uint32_t bits) {
  return static_cast<float>(bits >> 8) * 0x1p-24f;
}

/// double uniform in [0,1): ((hi >> 5) * 2^26 + (lo >> 6)) * 2^-53.
ATTNGAN_HD constexpr double bits_to_uniform_double(std::uint32_t lo, std::uint32_t hi) {
  const std::uint64_t m = (static_cast<std::uint64_t>(hi >> 5) << 26) | (lo >> 6);
  return static_cast<double>(m) * 0x1p-53;
}

/// Box-Muller (cosine branch) from two raw lanes a (-> u1 in (0,1]) and
/// b (-> u2 in [0,1)), computed in T (float or double); see the contract.
template <class T>
ATTNGAN_HD inline T bits_to_normal(std::uint32_t a, std::uint32_t b) {
  static_assert(detail::is_real_v<T>, "attngan::philox: T must be float or double");
  T u1{}, u2{};
  if constexpr (detail::is_same<T, float>::value) {
    u1 = static_cast<float>((a >> 8) + 1u) * 0x1p-24f;
    u2 = static_cast<float>(b >> 8) * 0x1p-24f;
  } else {
    u1 = static_cast<double>(static_cast<std::uint64_t>(a) + 1u) * 0x1p-32;
    u2 = static_cast<double>(b) * 0x1p-32;
  }
  const T r = detail::math_sqrt(static_cast<T>(-2) * detail::math_log(u1));
  return r * detail::math_cos(detail::two_pi<T> * u2);
}

// ---------------------------------------------------------------------------
// Per-element access to a draw that starts at block `offset` (i >= 0).

/// Raw 32 bits of element i: lane i%4 of block offset + i/4.
ATTNGAN_HD constexpr std::uint32_t uniform_bits(std::uint64_t seed, std::uint64_t offset,
                                                index_t i) {
  const auto u = static_cast<std::uint64_t>(i);
  return block(seed, offset + u / 4).v[u % 4];
}

/// Uniform in [0,1) of type T (float or double); see the contract.
template <class T>
ATTNGAN_HD constexpr T uniform(std::uint64_t seed, std::uint64_t offset, index_t i) {
  static_assert(detail::is_real_v<T>, "attngan::philox: T must be float or double");
  if constexpr (detail::is_same<T, float>::value) {
    return bits_to_uniform_float(uniform_bits(seed, offset, i));
  } else {
    const auto u = static_cast<std::uint64_t>(i);
    const counter c = block(seed, offset + u / 2);
    const unsigned lane = static_cast<unsigned>(2 * (u % 2));
    return bits_to_uniform_double(c.v[lane], c.v[lane + 1]);
  }
}

/// Standard normal of type T (float or double); see the contract.
template <class T>
ATTNGAN_HD inline T normal(std::uint64_t seed, std::uint64_t offset, index_t i) {
  static_assert(detail::is_real_v<T>, "attngan::philox: T must be float or double");
  const auto u = static_cast<std::uint64_t>(i);
  const counter c = block(seed, offset + u / 2);
  const unsigned lane = static_cast<unsigned>(2 * (u % 2));
  return bits_to_normal<T>(c.v[lane], c.v[lane + 1]);
}

// ---------------------------------------------------------------------------
// Offset bookkeeping (n >= 0).

/// Counter blocks consumed by a uniform draw of n elements of T.
template <class T>
ATTNGAN_HD constexpr std::uint64_t blocks_used_uniform(index_t n) {
  static_assert(detail::is_real_v<T>, "attngan::philox: T must be float or double");
  const auto u = static_cast<std::uint64_t>(n);
  if constexpr (detail::is_same<T, float>::value) {
    return (u + 3) / 4;
  } else {
    return (u + 1) / 2;
  }
}

/// Counter blocks consumed by a normal draw of n elements of T.
template <class T>
ATTNGAN_HD constexpr std::uint64_t blocks_used_normal(index_t n) {
  static_assert(detail::is_real_v<T>, "attngan::philox: T must be float or double");
  return (static_cast<std::uint64_t>(n) + 1) / 2;
}

}  // namespace attngan::philox
