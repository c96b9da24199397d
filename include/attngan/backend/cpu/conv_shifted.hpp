// attngan/backend/cpu/conv_shifted.hpp — convolution on the CPU without a
// column matrix ("shifted GEMMs").
//
// im2col writes C·KH·KW rows of Ho·Wo floats per image — nine times the
// input for a 3×3 kernel — and the GEMM reads them back; on the CPU that
// memory traffic cost as much as the arithmetic at AttnGAN's channel counts.
// The column matrix is not needed. Pad the image once and split it by stride
// phase: xp[c, a, b, i, j] = x_pad[c, i·SH + a, j·SW + b] (x_pad: x with PH,
// PW zeros around; each phase plane is Hq × Wq, Hq = ⌈(H + 2·PH) / SH⌉). Kernel
// tap k = (kh, kw) reads, for output pixel (oh, ow), phase (kh mod SH,
// kw mod SW) at (oh + ⌊kh/SH⌋, ow + ⌊kw/SW⌋): over an extended output grid of
// Ho rows × Wq columns (the columns past Wo are garbage, dropped afterwards)
// that is a plain strided view X_k (C × Ho·Wq) of xp. So, per image,
//     out_ext (O × Ho·Wq) = Σ_k W_k · X_k,            W_k[o, c] = W[o, c, kh, kw]
//     dW_k (O × C)      += G_ext · X_kᵀ               G_ext: G with zero garbage columns
//     dxp at tap k      += W_kᵀ · G_ext                then dx += dxp gathered back
// KH·KW GEMMs with K = C (or O) on operands of one image that stay in the
// core's cache. With stride 1 there is one phase and xp is just the padded
// image. Images run in parallel, one per thread, each with its own scratch
// and its own dW partial (summed in thread order: deterministic for a given
// thread count). With fewer images than threads they run one after another
// and Eigen parallelises each product.
//
// The summation order differs from im2col + one GEMM, so results agree with
// it to rounding, not bit for bit (tests/nn/test_layers.cpp compares both
// with a direct loop).
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "attngan/backend/conv_kernels.hpp"
#include "attngan/backend/cpu/conv_direct.hpp"
#include "attngan/backend/cpu/cpu.hpp"
#include "attngan/backend/cpu/gemm.hpp"
#include "attngan/core/tensor.hpp"

namespace attngan::kernels {

/// Whether the cpu backend takes the shifted path. Not for 1×1 stride-1
/// unpadded convolutions (the image is its own column matrix), nor where it
/// lost to im2col when measured on layers of AttnGAN's shapes
/// (bench/RESULTS.md, "Convolution without a column matrix"):
///  - few output pixels for the weights (batch · Ho · Wo < 16 · O): the
///    per-call cost of re-laying the weights and of the per-thread dW
///    partials is not repaid (the deep 8² and 4² layers at batch 2);
///  - RGB input (C < 4) into more than 16 channels, unless the direct kernel
///    runs it: one GEMM with K = 3 per tap rewrites the O-channel accumulator
///    KH·KW times. The direct kernel keeps its accumulator in registers and
///    beats im2col there (bench/RESULTS.md, "Copy kernels without divisions, RGB
///    layers by the direct kernel").
template <class T>
bool shifted_applies(const conv_geometry& g, index_t batch, index_t out_channels) {
  if (g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0)
    return false;
  if (batch * g.out_h * g.out_w < 16 * out_channels) return false;
  return g.channels >= 4 || out_channels <= 16 || direct::active<T>();
}

template <class T>
struct shifted_conv {
  conv_geometry g;
  index_t out_channels;
  index_t hq, wq, phases, plane, ext, taps;
  index_t xp_size;  // per image: C·phases planes and a tail (the last tap's view runs past the last plane)
  index_t dplane;   // dx scratch: a plane and that tail, so one GEMM's output rows never overlap
  index_t block;    // output rows per block: a block's accumulator and operand stay in the core's cache
  // The direct kernel's layout (conv_direct.hpp): rows rounded up to whole
  // blocks of direct::rows, lengths to whole spans of direct::span.
  bool use_direct;  // forward by the direct kernel
  bool direct_dx;   // the backward to the input too (not where a phase plane padded to whole spans is > 1.5× its size)
  bool direct_dw;   // the weight gradient too: where Eigen's GEMM is poor (an RGB side: O or C at most 4)
  bool padded_grad; // G's rows between zero margins (either of the two above)
  index_t ext_p;    // forward: an output row of the extended grid, padded
  index_t margin;   // backward: the largest in-phase tap offset, zeros before G
  index_t plane_p;  // backward: a phase plane of dx, padded
  index_t gstride;  // backward: a row of G between its margins
  std::vector<index_t> forward_offsets;   // tap k's view
  std::vector<index_t> backward_offsets;  // per phase, its taps' margin − inner offset
  std::vector<index_t> phase_taps;        // per phase, its tap count

  shifted_conv(const conv_geometry& geometry, index_t o) : g(geometry), out_channels(o) {
    hq = (g.height + 2 * g.pad_h + g.stride_h - 1) / g.stride_h;
    wq = (g.width + 2 * g.pad_w + g.stride_w - 1) / g.stride_w;
    phases = g.stride_h * g.stride_w;
    plane = hq * wq;
    ext = g.out_h * wq;
    taps = g.kernel_h * g.kernel_w;
    dplane = plane + g.kernel_w;
    const index_t per_row = (out_channels + g.channels) * wq;
    block = std::clamp(index_t(65536) / (per_row ? per_row : 1), index_t(1), g.out_h > 0 ? g.out_h : 1);
    use_direct = direct::active<T>();
    ext_p = direct::round_up(ext, direct::span);
    margin = ((g.kernel_h - 1) / g.stride_h) * wq + (g.kernel_w - 1) / g.stride_w;
    plane_p = direct::round_up(plane, direct::span);
    gstride = margin + plane_p;
    direct_dx = use_direct && 2 * plane_p <= 3 * plane;
    direct_dw = use_direct && std::min(g.channels, out_channels) <= 4;
    padded_grad = direct_dx || direct_dw;
    // The direct kernel reads whole spans: up to direct::span past the last tap's view.
    xp_size = g.channels * phases * plane + g.kernel_w + (use_direct ? direct::span : 0);
    if (use_direct) {
      for (index_t k = 0; k < taps; ++k) forward_offsets.push_back(view(k, plane));
      backward_offsets.assign(std::size_t(phases * taps), 0);
      phase_taps.assign(std::size_t(phases), 0);
      for (index_t k = 0; k < taps; ++k) {
        const index_t ph = phase_of(k);
        backward_offsets[std::size_t(ph * taps + phase_taps[std::size_t(ph)]++)] = margin - inner(k);
      }
    }
  }

  /// Output rows of the direct kernel (channels rounded up to whole blocks).
  static index_t direct_rows(index_t n) { return direct::round_up(n, direct::rows); }

  /// Scratch of one image's forward output on the extended grid.
  index_t forward_scratch() const { return use_direct ? direct_rows(out_channels) * ext_p : out_channels * ext; }
  /// Scratch of G on the extended grid (backward).
  index_t grad_scratch() const { return padded_grad ? out_channels * gstride : out_channels * ext; }
  /// Scratch of dx by phase (backward).
  index_t dx_scratch() const { return direct_dx ? phases * direct_rows(g.channels) * plane_p : g.channels * phases * dplane; }
  /// Packed weights.
  index_t weight_scratch() const {
    return use_direct ? taps * std::max(direct_rows(out_channels) * g.channels, direct_rows(g.channels) * out_channels)
                  : taps * out_channels * g.channels;
  }

  /// Tap k's offset inside its stride phase.
  index_t inner(index_t k) const {
    const index_t kh = k / g.kernel_w, kw = k % g.kernel_w;
    return (kh / g.stride_h) * wq + kw / g.stride_w;
  }
  /// Tap k's stride phase.
  index_t phase_of(index_t k) const {
    const index_t kh = k / g.kernel_w, kw = k % g.kernel_w;
    return (kh % g.stride_h) * g.stride_w + kw % g.stride_w;
  }

  /// W (O, C, KH, KW) -> blocks of direct::rows outputs: wd[b, c, k, r] = W[b·R + r, c, k] (0 past O).
  void pack_forward(const T* w, T* wd) const {
    const index_t C = g.channels, O = out_channels, R = direct::rows;
    for (index_t b = 0; b < direct_rows(O) / R; ++b)
      for (index_t c = 0; c < C; ++c)
        for (index_t k = 0; k < taps; ++k)
          for (index_t r = 0; r < R; ++r) {
            const index_t o = b * R + r;
            *wd++ = o < O ? w[(o * C + c) * taps + k] : T(0);
          }
  }

  /// W -> per stride phase, blocks of direct::rows input channels: wd[phase][b, o, j, r] =
  /// W[o, b·R + r, k_j] over the phase's taps k_j in order (0 past C).
  void pack_backward(const T* w, T* wd) const {
    const index_t C = g.channels, O = out_channels, R = direct::rows;
    for (index_t ph = 0; ph < phases; ++ph)
      for (index_t b = 0; b < direct_rows(C) / R; ++b)
        for (index_t o = 0; o < O; ++o)
          for (index_t k = 0; k < taps; ++k) {
            if (phase_of(k) != ph) continue;
            for (index_t r = 0; r < R; ++r) {
              const index_t c = b * R + r;
              *wd++ = c < C ? w[(o * C + c) * taps + k] : T(0);
            }
          }
  }

  /// Runs f(first row, row count) over the output rows, a block at a time.
  template <class F>
  void for_each_block(const F& f) const {
    for (index_t r0 = 0; r0 < g.out_h; r0 += block) f(r0, std::min(block, g.out_h - r0));
  }

  /// Start of tap k's view in a channel of planes `stride` apart.
  index_t view(index_t k, index_t stride) const {
    const index_t kh = k / g.kernel_w, kw = k % g.kernel_w;
    return ((kh % g.stride_h) * g.stride_w + kw % g.stride_w) * stride + (kh / g.stride_h) * wq + kw / g.stride_w;
  }

  /// W (O, C, KH, KW) -> wk (KH·KW, O, C).
  void split_taps(const T* w, T* wk) const {
    const index_t C = g.channels, O = out_channels;
    for (index_t o = 0; o < O; ++o)
      for (index_t c = 0; c < C; ++c)
        for (index_t k = 0; k < taps; ++k) wk[(k * O + o) * C + c] = w[(o * C + c) * taps + k];
  }

  /// xp = one image padded and split by phase.
  void split(const T* x, T* xp) const {
    const index_t H = g.height, W = g.width, sh = g.stride_h, sw = g.stride_w;
    for (index_t c = 0; c < g.channels; ++c)
      for (index_t a = 0; a < sh; ++a)
        for (index_t b = 0; b < sw; ++b) {
          T* p = xp + ((c * sh + a) * sw + b) * plane;
          // phase column j reads input column j·sw + b − PW: inside for j in [j_lo, j_hi)
          const index_t z0 = b - g.pad_w;
          const index_t j_lo = std::min(z0 >= 0 ? 0 : (-z0 + sw - 1) / sw, wq);
          const index_t j_hi = std::clamp((W - 1 - z0) >= 0 ? (W - 1 - z0) / sw + 1 : 0, j_lo, wq);
          for (index_t i = 0; i < hq; ++i) {
            T* row = p + i * wq;
            const index_t y = i * sh + a - g.pad_h;
            if (y < 0 || y >= H || j_lo >= j_hi) {
              std::fill(row, row + wq, T(0));
              continue;
            }
            const T* src = x + (c * H + y) * W;  // row[j] = src[j·sw + z0]
            std::fill(row, row + j_lo, T(0));
            if (sw == 1) {
              std::memcpy(row + j_lo, src + (j_lo + z0), std::size_t(j_hi - j_lo) * sizeof(T));
            } else {
              for (index_t j = j_lo; j < j_hi; ++j) row[j] = src[j * sw + z0];
            }
            std::fill(row + j_hi, row + wq, T(0));
          }
        }
    std::fill(xp + g.channels * phases * plane, xp + xp_size, T(0));
  }

  void gemm(transpose ta, transpose tb, index_t m, index_t n, index_t k, const T* a, index_t lda, const T* b,
            index_t ldb, T beta, T* c, index_t ldc) const {
    primitives::gemm_impl<cpu>::gemm(primitives::gemm_args<T>{ta, tb, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc});
  }

  /// out (O, Ho, Wo) of one image; adds to out when `accumulate` (a bias is there).
  /// `wk`: split_taps' weights, or pack_forward's with the direct kernel.
  void forward(const T* wk, const T* xp, T* oe, T* out, bool accumulate) const {
    const index_t C = g.channels, O = out_channels;
    if (use_direct) {
      direct::run(wk, xp, phases * plane, forward_offsets.data(), taps, C, O, oe, ext_p, ext_p);
      store(oe, ext_p, 0, g.out_h, out, accumulate);
      return;
    }
    for_each_block([&](index_t r0, index_t rows) {
      for (index_t k = 0; k < taps; ++k)
        gemm(transpose::no, transpose::no, O, rows * wq, C, wk + k * O * C, C, xp + view(k, plane) + r0 * wq,
             phases * plane, k == 0 ? T(0) : T(1), oe + r0 * wq, ext);
      store(oe, ext, r0, rows, out, accumulate);
    });
  }

  /// out rows [r0, r0 + rows) of every channel from the extended grid oe (channel rows `ld` apart),
  /// its garbage columns dropped; added to out when `accumulate`.
  void store(const T* oe, index_t ld, index_t r0, index_t rows, T* out, bool accumulate) const {
    const index_t Ho = g.out_h, Wo = g.out_w;
    for (index_t o = 0; o < out_channels; ++o)
      for (index_t h = r0; h < r0 + rows; ++h) {
        const T* src = oe + o * ld + h * wq;
        T* dst = out + (o * Ho + h) * Wo;
        if (accumulate) {
          for (index_t w = 0; w < Wo; ++w) dst[w] += src[w];
        } else {
          std::memcpy(dst, src, std::size_t(Wo) * sizeof(T));
        }
      }
  }

  /// ge = G (O, Ho, Wo) of one image on the extended grid, garbage columns 0.
  /// With the direct kernel each row of ge has `margin` zeros before it and
  /// zeros after it up to gstride; grad_rows() finds G_ext in it.
  void extend(const T* G, T* ge) const {
    const index_t Ho = g.out_h, Wo = g.out_w;
    for (index_t o = 0; o < out_channels; ++o) {
      T* row = padded_grad ? ge + o * gstride + margin : ge + o * ext;
      if (padded_grad) {
        std::fill(row - margin, row, T(0));
        std::fill(row + ext, row - margin + gstride, T(0));
      }
      for (index_t h = 0; h < Ho; ++h) {
        T* dst = row + h * wq;
        std::memcpy(dst, G + (o * Ho + h) * Wo, std::size_t(Wo) * sizeof(T));
        std::fill(dst + Wo, dst + wq, T(0));
      }
    }
  }
  /// Where extend() put G_ext, and the distance between its rows.
  const T* grad_rows(const T* ge) const { return padded_grad ? ge + margin : ge; }
  index_t grad_ld() const { return padded_grad ? gstride : ext; }

  /// dwk (KH·KW, O, C) += G_ext · X_kᵀ for one image.
  void backward_weight(const T* ge, const T* xp, T* dwk) const {
    const index_t C = g.channels, O = out_channels;
    const T* gr = grad_rows(ge);
    const index_t ld = grad_ld();
    if (direct_dw) {  // zeros past ext in G's rows; the input's span of slack past its last view
      direct::run_weight(gr, ld, xp, phases * plane, forward_offsets.data(), taps, O, C, direct::round_up(ext, 8),
                         dwk);
      return;
    }
    for_each_block([&](index_t r0, index_t rows) {
      for (index_t k = 0; k < taps; ++k)
        gemm(transpose::no, transpose::yes, O, C, rows * wq, gr + r0 * wq, ld, xp + view(k, plane) + r0 * wq,
             phases * plane, T(1), dwk + k * O * C, C);
    });
  }

  /// The direct kernel's dx: per stride phase, dxp[c, j] = Σ_o Σ_(its taps k) W[o, c, k] ·
  /// G_ext[o, j − inner(k)] (a gather over ge's zero margins), then dx += dxp gathered back.
  void backward_input_direct(const T* wd, const T* ge, T* dxp, T* dx) const {
    const index_t C = g.channels, O = out_channels, Cr = direct_rows(C), sw = g.stride_w;
    for (index_t ph = 0; ph < phases; ++ph) {
      T* out = dxp + ph * Cr * plane_p;
      const index_t n = phase_taps[std::size_t(ph)];
      if (n == 0) {
        std::fill(out, out + Cr * plane_p, T(0));
        continue;
      }
      direct::run(wd, ge, gstride, backward_offsets.data() + ph * taps, n, O, C, out, plane_p, plane_p);
      wd += Cr * O * n;
    }
    add_phases(dxp, dx, plane_p, sw * Cr * plane_p, Cr * plane_p);
  }

  /// dx (C, H, W) += the padded, phase-split dxp gathered back: channel c,
  /// row phase a, column phase b of dxp start at c·cs + a·rs + b·ps.
  void add_phases(const T* dxp, T* dx, index_t cs, index_t rs, index_t ps) const {
    const index_t H = g.height, W = g.width, sh = g.stride_h, sw = g.stride_w;
    for (index_t c = 0; c < g.channels; ++c)
      for (index_t h = 0; h < H; ++h) {
        const index_t y = h + g.pad_h;
        const T* prow = dxp + c * cs + (y % sh) * rs + (y / sh) * wq;
        T* dst = dx + (c * H + h) * W;
        if (sw == 1) {
          const T* src = prow + g.pad_w;
          for (index_t w = 0; w < W; ++w) dst[w] += src[w];
        } else {
          // Column w (padded z = w + PW) is in column phase z mod sw at z / sw: phase
          // by phase, w = j·sw + b − PW, each w still written once.
          for (index_t b = 0; b < sw; ++b) {
            const T* src = prow + b * ps;
            const index_t j_lo = b >= g.pad_w ? 0 : (g.pad_w - b + sw - 1) / sw;
            for (index_t j = j_lo, w = j_lo * sw + b - g.pad_w; w < W; ++j, w += sw) dst[w] += src[j];
          }
        }
      }
  }

  /// dx (C, H, W) of one image += Σ_k W_kᵀ · G_ext, placed at tap k's view and gathered back.
  void backward_input(const T* wk, const T* ge, T* dxp, T* dx) const {
    if (direct_dx) {
      backward_input_direct(wk, ge, dxp, dx);
      return;
    }
    const index_t C = g.channels, O = out_channels, sh = g.stride_h, sw = g.stride_w;
    std::fill(dxp, dxp + C * phases * dplane, T(0));
    for_each_block([&](index_t r0, index_t rows) {
      for (index_t k = 0; k < taps; ++k)
        gemm(transpose::yes, transpose::no, C, rows * wq, O, wk + k * O * C, C, grad_rows(ge) + r0 * wq, grad_ld(), T(1),
             dxp + view(k, dplane) + r0 * wq, phases * dplane);
    });
    add_phases(dxp, dx, sh * sw * dplane, sw * dplane, dplane);
  }
};

/// Runs body(n, slot) for every image n: in parallel, one image per thread
/// (slot = the thread), when there are at least as many images as threads;
/// else in order on the calling thread (slot 0), where Eigen parallelises
/// each product.
template <class Body>
void for_each_image(index_t batch, int slots, const Body& body) {
  if (slots > 1) {
#pragma omp parallel for schedule(static) num_threads(slots)
    for (index_t n = 0; n < batch; ++n) {
#if defined(_OPENMP)
      body(n, omp_get_thread_num());
#else
      body(n, 0);
#endif
    }
  } else {
    for (index_t n = 0; n < batch; ++n) body(n, 0);
  }
}

inline int image_slots(index_t batch) {
  const int threads = cpu::threads();
  return threads > 1 && batch >= threads ? threads : 1;
}

/// out (N, O, Ho, Wo) = conv(x, w); `accumulate` adds to out (a bias already
/// written there).
template <class T>
void shifted_conv_forward(const conv_geometry& g, index_t batch, index_t out_channels, const T* x, const T* w, T* out,
                          bool accumulate) {
  const shifted_conv<T> s(g, out_channels);
  const int slots = image_slots(batch);
  const index_t per_slot = s.xp_size + s.forward_scratch();
  tensor<T, cpu> wk{shape(s.weight_scratch())}, scratch{shape(slots * per_slot)};
  if (s.use_direct) {
    s.pack_forward(w, wk.data());
  } else {
    s.split_taps(w, wk.data());
  }
  const index_t image = g.channels * g.height * g.width, out_image = out_channels * g.out_h * g.out_w;
  for_each_image(batch, slots, [&](index_t n, int t) {
    T* xp = scratch.data() + t * per_slot;
    s.split(x + n * image, xp);
    s.forward(wk.data(), xp, xp + s.xp_size, out + n * out_image, accumulate);
  });
  primitives::count_launch();
}

/// The backward of shifted_conv_forward from G = dL/dout: dw (O, C, KH, KW)
/// += dL/dw when non-null, dx (N, C, H, W) += dL/dx when non-null.
template <class T>
void shifted_conv_backward(const conv_geometry& g, index_t batch, index_t out_channels, const T* x, const T* w,
                           const T* G, T* dw, T* dx) {
  if (!dw && !dx) return;
  const shifted_conv<T> s(g, out_channels);
  const int slots = image_slots(batch);
  const index_t wsize = s.taps * out_channels * g.channels;
  const index_t ge_part = s.grad_scratch(), xp_part = dw ? s.xp_size : 0, dx_part = dx ? s.dx_scratch() : 0,
                dw_part = dw ? wsize : 0;
  const index_t per_slot = ge_part + xp_part + dx_part + dw_part;
  tensor<T, cpu> wk{shape(s.weight_scratch())}, scratch{shape(slots * per_slot)};
  if (dx && s.direct_dx) {
    s.pack_backward(w, wk.data());
  } else if (dx) {
    s.split_taps(w, wk.data());
  }
  const auto slot = [&](int t) { return scratch.data() + t * per_slot; };
  const auto partial = [&](int t) { return slot(t) + per_slot - dw_part; };  // thread t's dW, (KH·KW, O, C)
  if (dw)
    for (int t = 0; t < slots; ++t) std::fill(partial(t), partial(t) + wsize, T(0));
  const index_t image = g.channels * g.height * g.width, out_image = out_channels * g.out_h * g.out_w;
  for_each_image(batch, slots, [&](index_t n, int t) {
    T* ge = slot(t);
    T* xp = ge + ge_part;
    T* dxp = xp + xp_part;
    s.extend(G + n * out_image, ge);
    if (dw) {
      s.split(x + n * image, xp);
      s.backward_weight(ge, xp, partial(t));
    }
    if (dx) s.backward_input(wk.data(), ge, dxp, dx + n * image);
  });
  if (dw) {  // dw[o, c, k] += Σ_t part_t[k, o, c], threads in order
    const index_t C = g.channels, O = out_channels;
    for (int t = 0; t < slots; ++t) {
      const T* part = partial(t);
      for (index_t o = 0; o < O; ++o)
        for (index_t c = 0; c < C; ++c)
          for (index_t k = 0; k < s.taps; ++k) dw[(o * C + c) * s.taps + k] += part[(k * O + o) * C + c];
    }
  }
  primitives::count_launch();
}

}  // namespace attngan::kernels
