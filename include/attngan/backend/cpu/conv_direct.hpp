// attngan/backend/cpu/conv_direct.hpp — the register-blocked inner loop of
// the CPU convolution (AVX2 + FMA or AVX-512, float).
//
// conv_shifted.hpp turns a convolution into KH·KW GEMMs with K = C per image
// (tap k's input is a flat, strided view of the padded image). At AttnGAN's
// channel counts (16–128) K is short and Eigen spends much of each product
// packing its operands. Those GEMMs need no packing: their operands are
// already laid out for it. One block computes R output rows (channels) × P
// consecutive flat positions, summing over every input channel and tap in
// registers:
//     out[r, p] = Σ_c Σ_t w[c, t, r] · in[c·cstride + off[t] + p]
// per (c, t): V unaligned loads of a vector of positions, R weight
// broadcasts, R·V FMAs. R = 4, V = 3 gives 12 accumulators, 3 input vectors
// and one broadcast: with AVX2 the 16 ymm registers (P = 24 positions);
// where the compiler targets AVX-512F the same block in zmm registers
// (P = 48, twice the work per instruction; on the demo's convolutions
// 1.2–1.4× faster forward and backward, bench/RESULTS.md). In both, each
// output position is one lane that sums over c and t in the same order.
// The forward uses it with in = the padded image split by stride phase and
// off[t] = tap t's view; the backward to the input with in = G on the
// extended grid between zero margins and off[t] the view negated, one
// stride phase at a time (a gather, so no output is written twice). Output
// and input rows are padded to whole blocks by the callers, so there are no
// partial blocks.
//
// The weight gradient is a reduction over positions (4 rows of G × 3 input
// views, 12 vector partial sums): it beats Eigen only where one side is RGB
// (O or C at most 4, where Eigen's GEMM has a 3-row operand), and
// conv_shifted.hpp uses it only there; elsewhere its seven unaligned loads
// per twelve FMAs leave it behind Eigen's packed GEMM (bench/RESULTS.md).
//
// Only for float where the compiler targets AVX2 and FMA (-march=native on
// x86-64 machines since 2013); elsewhere, and for double, conv_shifted.hpp
// keeps its GEMMs. The weight gradient's block stays AVX2 on AVX-512 machines.
#pragma once

#include <algorithm>
#include <type_traits>

#include "attngan/core/config.hpp"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define ATTNGAN_CONV_DIRECT 1
#if defined(__AVX512F__)
#define ATTNGAN_CONV_DIRECT_512 1
#endif
#endif

namespace attngan::kernels::direct {

inline constexpr index_t rows = 4;     // R: output channels per block
inline constexpr index_t vectors = 3;  // V: vectors per block
#if defined(ATTNGAN_CONV_DIRECT_512)
inline constexpr index_t lanes = 16;  // floats per vector: zmm
#else
inline constexpr index_t lanes = 8;  // floats per vector: ymm
#endif
inline constexpr index_t span = lanes * vectors;  // P: positions per block

/// Whether this build has the kernel (float only).
template <class T>
inline constexpr bool available =
#if defined(ATTNGAN_CONV_DIRECT)
    std::is_same_v<T, float>;
#else
    false;
#endif

/// Switch for benchmarks and tests that compare with the GEMM path; on by default.
inline bool& enabled() {
  static bool on = true;
  return on;
}

/// Whether convolutions of T run by this kernel: the build has it and the switch is on.
template <class T>
bool active() {
  return available<T> && enabled();
}

inline constexpr index_t round_up(index_t n, index_t m) { return (n + m - 1) / m * m; }

#if defined(ATTNGAN_CONV_DIRECT)
/// The vector the block works in: zmm where the compiler targets AVX-512F, else ymm.
struct vec {
#if defined(ATTNGAN_CONV_DIRECT_512)
  using type = __m512;
  static type zero() { return _mm512_setzero_ps(); }
  static type load(const float* p) { return _mm512_loadu_ps(p); }
  static type broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static type fma(type a, type b, type c) { return _mm512_fmadd_ps(a, b, c); }
  static void store(float* p, type v) { _mm512_storeu_ps(p, v); }
#else
  using type = __m256;
  static type zero() { return _mm256_setzero_ps(); }
  static type load(const float* p) { return _mm256_loadu_ps(p); }
  static type broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static type fma(type a, type b, type c) { return _mm256_fmadd_ps(a, b, c); }
  static void store(float* p, type v) { _mm256_storeu_ps(p, v); }
#endif
};

/// out[r·ostride + p] = Σ_c Σ_t w[(c·taps + t)·R + r] · in[c·cstride + off[t] + p], r < R, p < P:
/// R·V accumulators, V input vectors and a broadcast, all in registers (the loops unrolled).
inline void block(const float* __restrict w, const float* __restrict in, index_t cstride, const index_t* off,
                  index_t taps, index_t channels, float* __restrict out, index_t ostride) {
  vec::type a[rows][vectors];
#pragma GCC unroll 16
  for (index_t r = 0; r < rows; ++r)
#pragma GCC unroll 16
    for (index_t v = 0; v < vectors; ++v) a[r][v] = vec::zero();
  for (index_t c = 0; c < channels; ++c) {
    const float* ic = in + c * cstride;
    for (index_t t = 0; t < taps; ++t, w += rows) {
      const float* s = ic + off[t];
      vec::type x[vectors];
#pragma GCC unroll 16
      for (index_t v = 0; v < vectors; ++v) x[v] = vec::load(s + v * lanes);
#pragma GCC unroll 16
      for (index_t r = 0; r < rows; ++r) {
        const vec::type b = vec::broadcast(w + r);
#pragma GCC unroll 16
        for (index_t v = 0; v < vectors; ++v) a[r][v] = vec::fma(b, x[v], a[r][v]);
      }
    }
  }
#pragma GCC unroll 16
  for (index_t r = 0; r < rows; ++r)
#pragma GCC unroll 16
    for (index_t v = 0; v < vectors; ++v) vec::store(out + r * ostride + v * lanes, a[r][v]);
}
#endif

#if defined(ATTNGAN_CONV_DIRECT)
inline float horizontal_sum(__m256 v) {
  const __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
  return _mm_cvtss_f32(_mm_add_ss(q, _mm_shuffle_ps(q, q, 1)));
}

/// The weight gradient's block: dw[r·C + j] += Σ_i g_r[i] · x_j[i] over i < length (a multiple of
/// 8), for 4 rows g_r of G and 3 rows x_j of the input view; only r < nr, j < nc are written.
inline void weight_block(const float* const* g, const float* const* x, index_t length, float* dw, index_t ldw,
                         index_t nr, index_t nc) {
  __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
  __m256 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
  const float *g0 = g[0], *g1 = g[1], *g2 = g[2], *g3 = g[3], *y0 = x[0], *y1 = x[1], *y2 = x[2];
  for (index_t i = 0; i < length; i += 8) {
    const __m256 x0 = _mm256_loadu_ps(y0 + i), x1 = _mm256_loadu_ps(y1 + i), x2 = _mm256_loadu_ps(y2 + i);
    __m256 gv = _mm256_loadu_ps(g0 + i);
    a00 = _mm256_fmadd_ps(gv, x0, a00);
    a01 = _mm256_fmadd_ps(gv, x1, a01);
    a02 = _mm256_fmadd_ps(gv, x2, a02);
    gv = _mm256_loadu_ps(g1 + i);
    a10 = _mm256_fmadd_ps(gv, x0, a10);
    a11 = _mm256_fmadd_ps(gv, x1, a11);
    a12 = _mm256_fmadd_ps(gv, x2, a12);
    gv = _mm256_loadu_ps(g2 + i);
    a20 = _mm256_fmadd_ps(gv, x0, a20);
    a21 = _mm256_fmadd_ps(gv, x1, a21);
    a22 = _mm256_fmadd_ps(gv, x2, a22);
    gv = _mm256_loadu_ps(g3 + i);
    a30 = _mm256_fmadd_ps(gv, x0, a30);
    a31 = _mm256_fmadd_ps(gv, x1, a31);
    a32 = _mm256_fmadd_ps(gv, x2, a32);
  }
  const __m256 a[4][3] = {{a00, a01, a02}, {a10, a11, a12}, {a20, a21, a22}, {a30, a31, a32}};
  for (index_t r = 0; r < nr; ++r)
    for (index_t j = 0; j < nc; ++j) dw[r * ldw + j] += horizontal_sum(a[r][j]);
}
#endif

/// dwk[k, o, c] += Σ_i G[o·gld + i] · in[c·cstride + off[k] + i] over i < length (a multiple of
/// 8) for every tap k, output o < out_rows and channel c < channels. Reads G and the input
/// rows up to `length`; rows past the last are never read.
template <class T>
void run_weight(const T* G, index_t gld, const T* in, index_t cstride, const index_t* off, index_t taps,
                index_t out_rows, index_t channels, index_t length, T* dwk) {
#if defined(ATTNGAN_CONV_DIRECT)
  if constexpr (std::is_same_v<T, float>) {
    for (index_t k = 0; k < taps; ++k)
      for (index_t o = 0; o < out_rows; o += 4) {
        const float* g[4];
        for (index_t r = 0; r < 4; ++r) g[r] = G + std::min(o + r, out_rows - 1) * gld;
        for (index_t c = 0; c < channels; c += 3) {
          const float* x[3];
          for (index_t j = 0; j < 3; ++j) x[j] = in + std::min(c + j, channels - 1) * cstride + off[k];
          weight_block(g, x, length, dwk + (k * out_rows + o) * channels + c, channels,
                       std::min<index_t>(4, out_rows - o), std::min<index_t>(3, channels - c));
        }
      }
    return;
  }
#endif
  (void)G, (void)gld, (void)in, (void)cstride, (void)off, (void)taps, (void)out_rows, (void)channels, (void)length,
      (void)dwk;
}

/// Every block of a (round_up(out_rows, R) × length) output: blocks of
/// positions outermost, so one span of the input serves every row block
/// while it is in the core's cache. `w` holds round_up(out_rows, R) / R
/// packed blocks of channels·taps·R weights; `length` is a multiple of P.
template <class T>
void run(const T* w, const T* in, index_t cstride, const index_t* off, index_t taps, index_t channels,
         index_t out_rows, T* out, index_t ostride, index_t length) {
#if defined(ATTNGAN_CONV_DIRECT)
  if constexpr (std::is_same_v<T, float>) {
    const index_t blocks = round_up(out_rows, rows) / rows, per_block = channels * taps * rows;
    for (index_t p = 0; p < length; p += span)
      for (index_t b = 0; b < blocks; ++b)
        block(w + b * per_block, in + p, cstride, off, taps, channels, out + b * rows * ostride + p, ostride);
    return;
  }
#endif
  (void)w, (void)in, (void)cstride, (void)off, (void)taps, (void)channels, (void)out_rows, (void)out, (void)ostride,
      (void)length;
}

}  // namespace attngan::kernels::direct
