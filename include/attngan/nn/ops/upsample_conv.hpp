// attngan/nn/ops/upsample_conv.hpp — nearest ×2 upsampling followed by a 3×3
// convolution (stride 1, padding 1), computed at the input's resolution.
//
// AttnGAN's up-blocks are upsample_nearest(2) → conv3x3 → BN → GLU. On the
// upsampled image every 2×2 block of output pixels sees only a 2×2
// neighbourhood of the input: for output row Y = 2p + a the kernel rows −1,
// 0, +1 read input rows
//   a = 0:  p − 1 (kernel row −1) and p (kernel rows 0 and +1),
//   a = 1:  p (kernel rows −1 and 0) and p + 1 (kernel row +1),
// and the same for columns. So each of the four output phases (a, b) is a
// 2×2 convolution of the input with a kernel whose taps are sums of the 3×3
// kernel's (W'[a, b] below), and all four are one 2×2 convolution with 4·O
// output channels over the input padded by one pixel, which gives
// (H + 1) × (W + 1) outputs; phase (a, b) is its window starting at (a, b):
//
//   y[n, o, 2p + a, 2q + b] = z[n, (2a + b)·O + o, p + a, q + b],
//   z = conv2d(x, W', padding 1),  W'[(2a + b)·O + o, c] = S_a · W[o, c] · S_bᵀ
//
// with S_0 = [[1, 0, 0], [0, 1, 1]] and S_1 = [[1, 1, 0], [0, 0, 1]]. That is
// 16·C·O multiply-adds per input pixel (plus the one-pixel margin) where the
// upsampled convolution does 36·C·O, and the upsampled image is never built.
// The same function as conv2d(upsample_nearest(x, 2), W, b, padding 1),
// rounded differently (the summed taps). Gradients reach x, W and b through
// the two index maps below (gathers, no atomics) and conv2d's backward.
#pragma once

#include "attngan/autodiff/var.hpp"
#include "attngan/backend/primitives.hpp"
#include "attngan/nn/ops/conv2d.hpp"

namespace attngan::nn::functional {

namespace detail {

/// The 2×2 tap of phase a that 3×3 kernel row i falls into (S_a above).
ATTNGAN_HD inline index_t phase_tap_of(index_t a, index_t i) { return a == 0 ? (i > 0 ? 1 : 0) : (i > 1 ? 1 : 0); }

template <class T>
struct phase_weights_kernel {  // W' (4·O, C, 2, 2) from W (O, C, 3, 3)
  const T* w;
  T* out;
  index_t oc, c;
  ATTNGAN_HD void operator()(index_t i) const {
    const index_t tx = i % 2, ty = (i / 2) % 2, cc = (i / 4) % c, row = i / (4 * c);
    const index_t o = row % oc, phase = row / oc, a = phase / 2, b = phase % 2;
    const T* k = w + (o * c + cc) * 9;
    T s = T(0);
    for (index_t r = 0; r < 3; ++r)
      for (index_t q = 0; q < 3; ++q)
        if (phase_tap_of(a, r) == ty && phase_tap_of(b, q) == tx) s += k[r * 3 + q];
    out[i] = s;
  }
};

template <class T>
struct phase_weights_backward {  // dW[o, c, r, q] += Σ_{a,b} dW'[(2a + b)·O + o, c, tap(a, r), tap(b, q)]
  const T* g;
  T* dw;
  index_t oc, c;
  ATTNGAN_HD void operator()(index_t i) const {
    const index_t q = i % 3, r = (i / 3) % 3, cc = (i / 9) % c, o = i / (9 * c);
    T s = T(0);
    for (index_t a = 0; a < 2; ++a)
      for (index_t b = 0; b < 2; ++b)
        s += g[((((2 * a + b) * oc + o) * c + cc) * 2 + phase_tap_of(a, r)) * 2 + phase_tap_of(b, q)];
    dw[i] += s;
  }
};

template <real T, backend B>
struct phase_weights_node : attngan::detail::node<T, B> {
  index_t oc, c;
  phase_weights_node(index_t o, index_t ch) : oc(o), c(ch) {}
  void backward(const std::vector<char>& wants) override {
    if (!wants[0]) return;
    auto& w = *this->inputs[0];
    primitives::for_each_index<B>(w.value.numel(), phase_weights_backward<T>{this->grad.data(), w.grad_buffer(), oc, c});
  }
};

/// y (N, O, 2H, 2W) from z (N, 4·O, H + 1, W + 1): y[n, o, 2p + a, 2q + b] = z[n, (2a + b)·O + o, p + a, q + b].
template <class T>
struct phase_interleave_kernel {
  const T* z;
  T* y;
  index_t oc, h, w;  // the input's (and each phase's) H, W
  ATTNGAN_HD void operator()(index_t i) const {
    const index_t xx = i % (2 * w), yy = (i / (2 * w)) % (2 * h), plane = i / (4 * h * w);
    const index_t o = plane % oc, n = plane / oc, a = yy % 2, b = xx % 2, p = yy / 2, q = xx / 2;
    y[i] = z[((n * 4 * oc + (2 * a + b) * oc + o) * (h + 1) + p + a) * (w + 1) + q + b];
  }
  // Host: whole output rows; the two source rows (phases (a, 0) and (a, 1)) found once per row.
  void range(index_t begin, index_t end) const {
    const index_t ow = 2 * w;
    index_t i = begin;
    while (i < end) {
      const index_t x0 = i % ow, row = i / ow, yy = row % (2 * h), plane = row / (2 * h);
      const index_t o = plane % oc, n = plane / oc, a = yy % 2, p = yy / 2;
      const index_t len = (ow - x0) < (end - i) ? (ow - x0) : (end - i);
      const T* z0 = z + ((n * 4 * oc + (2 * a) * oc + o) * (h + 1) + p + a) * (w + 1);  // b = 0
      const T* z1 = z0 + oc * (h + 1) * (w + 1) + 1;                                      // b = 1, column q + 1
      T* out = y + i;
      for (index_t j = 0; j < len; ++j) {
        const index_t xx = x0 + j;
        out[j] = (xx & 1) ? z1[xx >> 1] : z0[xx >> 1];
      }
      i += len;
    }
  }
};

template <class T>
struct phase_interleave_backward {  // dz[n, (2a + b)·O + o, r, s] += dy[n, o, 2(r − a) + a, 2(s − b) + b] inside
  const T* g;
  T* dz;
  index_t oc, h, w;
  ATTNGAN_HD void operator()(index_t i) const {
    const index_t s = i % (w + 1), r = (i / (w + 1)) % (h + 1), ch = (i / ((h + 1) * (w + 1))) % (4 * oc);
    const index_t n = i / (4 * oc * (h + 1) * (w + 1)), phase = ch / oc, o = ch % oc, a = phase / 2, b = phase % 2;
    const index_t p = r - a, q = s - b;
    if (p < 0 || p >= h || q < 0 || q >= w) return;
    dz[i] += g[((n * oc + o) * 2 * h + 2 * p + a) * 2 * w + 2 * q + b];
  }
  // Host: whole rows of dz.
  void range(index_t begin, index_t end) const {
    index_t i = begin;
    while (i < end) {
      const index_t s0 = i % (w + 1), row = i / (w + 1), r = row % (h + 1), plane = row / (h + 1);
      const index_t ch = plane % (4 * oc), n = plane / (4 * oc), phase = ch / oc, o = ch % oc;
      const index_t a = phase / 2, b = phase % 2, p = r - a;
      const index_t len = (w + 1 - s0) < (end - i) ? (w + 1 - s0) : (end - i);
      if (p >= 0 && p < h) {
        const T* src = g + ((n * oc + o) * 2 * h + 2 * p + a) * 2 * w + b;  // dy row, column 2q + b at src[2q]
        T* d = dz + i;
        for (index_t j = 0; j < len; ++j) {
          const index_t q = s0 + j - b;
          if (q >= 0 && q < w) d[j] += src[2 * q];
        }
      }
      i += len;
    }
  }
};

template <real T, backend B>
struct phase_interleave_node : attngan::detail::node<T, B> {
  index_t oc, h, w;
  phase_interleave_node(index_t o, index_t h_, index_t w_) : oc(o), h(h_), w(w_) {}
  void backward(const std::vector<char>& wants) override {
    if (!wants[0]) return;
    auto& z = *this->inputs[0];
    primitives::for_each_index<B>(z.value.numel(),
                                  phase_interleave_backward<T>{this->grad.data(), z.grad_buffer(), oc, h, w});
  }
};

}  // namespace detail

/// conv2d(upsample_nearest(x, 2), weight, bias, stride 1, padding 1) without
/// the upsampled image: x (N, C, H, W), weight (O, C, 3, 3), bias (O) or an
/// empty var → (N, O, 2H, 2W). See the top of this file.
template <real T, backend B>
var<T, B> upsample2x_conv3x3(const var<T, B>& x, const var<T, B>& weight, const var<T, B>& bias = var<T, B>()) {
  const shape& xs = x.shape();
  const shape& ws = weight.shape();
  if (xs.rank() != 4 || ws.rank() != 4 || ws[2] != 3 || ws[3] != 3 || ws[1] != xs[1])
    throw shape_error("upsample2x_conv3x3", attngan::detail::cat("expects x (N, C, H, W) and weight (O, C, 3, 3), got ",
                                                                 xs, " and ", ws));
  if (bias.defined() && !(bias.shape() == shape(ws[0])))
    throw shape_error("upsample2x_conv3x3",
                      attngan::detail::cat("bias ", bias.shape(), " does not match ", ws[0], " output channels"));
  const index_t n = xs[0], c = xs[1], h = xs[2], w = xs[3], oc = ws[0];
  tensor<T, B> wp(shape(4 * oc, c, 2, 2));
  primitives::for_each_index<B>(wp.numel(), detail::phase_weights_kernel<T>{weight.value().data(), wp.data(), oc, c});
  const var<T, B> phase_w(attngan::detail::make_result<detail::phase_weights_node<T, B>>(
      std::move(wp), {weight.node()}, "upsample2x_conv3x3_weights", oc, c));
  const var<T, B> z = conv2d(x, phase_w, var<T, B>(), conv2d_options{1, 1, 1, 1});  // (N, 4·O, H + 1, W + 1)
  tensor<T, B> y(shape(n, oc, 2 * h, 2 * w));
  primitives::for_each_index<B>(y.numel(), detail::phase_interleave_kernel<T>{z.value().data(), y.data(), oc, h, w});
  var<T, B> out(attngan::detail::make_result<detail::phase_interleave_node<T, B>>(std::move(y), {z.node()},
                                                                                 "upsample2x_conv3x3", oc, h, w));
  if (bias.defined()) out = out + reshape(bias, shape(1, oc, 1, 1));
  return out;
}

}  // namespace attngan::nn::functional
