// attngan/backend/conv_kernels.hpp — im2col and col2im as elementwise kernels.
//
// Convolution is computed as GEMM over an unfolded input (im2col): for one
// image x (C, H, W) and a kernel KH×KW with stride and zero padding, the
// column matrix has one row per (c, kh, kw) and one column per output pixel
// (oh, ow):  col[(c·KH + kh)·KW + kw, oh·Wo + ow] = x[c, oh·S − PH + kh, ow·S − PW + kw]
// (0 outside the image). Then out (O, Ho·Wo) = W (O, C·KH·KW) · col.
// The backward to the input folds a column gradient back (col2im); written as
// a gather — every input pixel sums the column entries that read it — it needs
// no atomics and runs as one elementwise kernel on any backend.
#pragma once

#include <algorithm>

#include "attngan/core/config.hpp"

namespace attngan::kernels {

struct conv_geometry {
  index_t channels, height, width;           // one input image
  index_t kernel_h, kernel_w;
  index_t stride_h, stride_w, pad_h, pad_w;
  index_t out_h, out_w;
  ATTNGAN_HD index_t col_rows() const { return channels * kernel_h * kernel_w; }
  ATTNGAN_HD index_t col_cols() const { return out_h * out_w; }
};

/// On a GPU, 64-bit divisions are long software sequences; when every index
/// of a batch fits in 31 bits (all of AttnGAN's) the per-index kernels below
/// do their index arithmetic in 32 bits instead — same results, several times
/// fewer instructions. (The same path runs on the host through thrust_host,
/// so CI tests it; the cpu backend uses the range() loops.)
ATTNGAN_HD inline bool fits_in_int32(index_t total) { return total < (index_t(1) << 31); }

// Both kernels work on a run of consecutive images at once: x (n, C, H, W)
// and col (n, C·KH·KW, Ho·Wo), image after image — or, with image_stride =
// Ho·Wo and row_stride = n·Ho·Wo, the images' column matrices side by side,
// col (C·KH·KW, n·Ho·Wo), so that one GEMM covers them all (conv2d's wide
// path for small outputs). A stride of 0 means the image-after-image layout.
template <class T>
struct im2col {
  const T* x;  // (n, C, H, W)
  T* col;      // (n, C·KH·KW, Ho·Wo), or (C·KH·KW, n·Ho·Wo) with the strides below
  conv_geometry g;
  index_t total = index_t(1) << 62;  // largest flat index used (callers set it; the default forces 64-bit math)
  index_t image_stride = 0, row_stride = 0;  // col's step per image and per row; 0: C·KH·KW·Ho·Wo and Ho·Wo

  ATTNGAN_HD index_t image_step() const { return image_stride ? image_stride : g.col_rows() * g.col_cols(); }
  ATTNGAN_HD index_t row_step() const { return row_stride ? row_stride : g.col_cols(); }
  ATTNGAN_HD void operator()(index_t flat) const {
    if (fits_in_int32(total)) {
      at<int>(int(flat));
      return;
    }
    at<index_t>(flat);
  }
  template <class I>
  ATTNGAN_HD void at(I flat) const {
    const I cols = I(g.col_cols()), per = I(g.col_rows()) * cols, n = flat / per, i = flat - n * per;
    const I p = i % cols, r = i / cols;
    const I ow = p % I(g.out_w), oh = p / I(g.out_w);
    const I kw = r % I(g.kernel_w), kk = r / I(g.kernel_w), kh = kk % I(g.kernel_h), c = kk / I(g.kernel_h);
    const I ih = oh * I(g.stride_h) - I(g.pad_h) + kh, iw = ow * I(g.stride_w) - I(g.pad_w) + kw;
    const I H = I(g.height), W = I(g.width);
    const T* xs = x + index_t(n) * g.channels * g.height * g.width;
    col[index_t(n) * image_step() + index_t(r) * row_step() + index_t(p)] =
        (ih >= 0 && ih < H && iw >= 0 && iw < W) ? xs[(c * H + ih) * W + iw] : T(0);
  }
  // Host: whole output rows at a time. Each run of one column row splits
  // into a zero head, a (strided) copy and a zero tail, worked out once per
  // run, so no test or division is left in the inner loops.
  void range(index_t begin, index_t end) const {
    const index_t per = g.col_rows() * g.col_cols();
    for (index_t n = begin / per; n * per < end; ++n) {
      const index_t b = begin > n * per ? begin - n * per : 0, e = end < (n + 1) * per ? end - n * per : per;
      range_one(x + n * g.channels * g.height * g.width, col + n * image_step(), b, e);
    }
  }
  void range_one(const T* x, T* col, index_t begin, index_t end) const {
    if (begin >= end) return;
    const index_t gap = row_step() - g.col_cols();  // col's row r starts r·gap past r·Ho·Wo
    // Position of `begin`, found once; then advanced run by run (no
    // divisions in the loop: with 4-pixel output rows a run is 4 floats).
    index_t ow0, oh, kw, kh, c;
    {
      const index_t p = begin % g.col_cols(), r = begin / g.col_cols();
      ow0 = p % g.out_w;
      oh = p / g.out_w;
      kw = r % g.kernel_w;
      kh = (r / g.kernel_w) % g.kernel_h;
      c = r / (g.kernel_w * g.kernel_h);
    }
    // Output columns [ow_lo, ow_hi) read inside the input row; iw = ow·sw + shift.
    const index_t sw = g.stride_w;
    index_t shift = 0, ow_lo = 0, ow_hi = 0;
    const auto set_tap = [&] {
      shift = kw - g.pad_w;
      ow_lo = shift >= 0 ? 0 : (-shift + sw - 1) / sw;
      ow_hi = g.width - 1 - shift < 0 ? 0 : (g.width - 1 - shift) / sw + 1;
    };
    set_tap();
    index_t i = begin;
    while (i < end) {
      const index_t n = (g.out_w - ow0) < (end - i) ? (g.out_w - ow0) : (end - i);
      const index_t ih = oh * g.stride_h - g.pad_h + kh;
      T* out = col + i + ((c * g.kernel_h + kh) * g.kernel_w + kw) * gap;
      if (ih < 0 || ih >= g.height) {
        for (index_t j = 0; j < n; ++j) out[j] = T(0);
      } else {
        // out[j] reads iw = (ow0 + j)·sw + shift.
        const T* row = x + (c * g.height + ih) * g.width;
        const index_t j_lo = std::clamp(ow_lo - ow0, index_t(0), n), j_hi = std::clamp(ow_hi - ow0, j_lo, n);
        for (index_t j = 0; j < j_lo; ++j) out[j] = T(0);
        const T* src = row + ow0 * sw + shift;
        if (sw == 1) {
          for (index_t j = j_lo; j < j_hi; ++j) out[j] = src[j];
        } else {
          for (index_t j = j_lo; j < j_hi; ++j) out[j] = src[j * sw];
        }
        for (index_t j = j_hi; j < n; ++j) out[j] = T(0);
      }
      i += n;
      ow0 += n;
      if (ow0 == g.out_w) {  // next output row, then next (c, kh, kw) row of the column matrix
        ow0 = 0;
        if (++oh == g.out_h) {
          oh = 0;
          if (++kw == g.kernel_w) {
            kw = 0;
            if (++kh == g.kernel_h) {
              kh = 0;
              ++c;
            }
          }
          set_tap();
        }
      }
    }
  }
};

template <class T>
struct col2im_add {
  const T* col;  // (n, C·KH·KW, Ho·Wo), or (C·KH·KW, n·Ho·Wo) with the strides below
  T* dx;         // (n, C, H, W), accumulated
  conv_geometry g;
  index_t total = index_t(1) << 62;  // largest flat index used (callers set it; the default forces 64-bit math)
  index_t image_stride = 0, row_stride = 0;  // as im2col's

  ATTNGAN_HD index_t image_step() const { return image_stride ? image_stride : g.col_rows() * g.col_cols(); }
  ATTNGAN_HD index_t row_step() const { return row_stride ? row_stride : g.col_cols(); }

  ATTNGAN_HD void operator()(index_t flat) const {
    if (fits_in_int32(total)) {
      at<int>(int(flat));
      return;
    }
    at<index_t>(flat);
  }
  template <class I>
  ATTNGAN_HD void at(I flat) const {
    const I H = I(g.height), W = I(g.width), per = I(g.channels) * H * W, n = flat / per, i = flat - n * per;
    const I w = i % W, hh = i / W, h = hh % H, c = hh / H;
    const I KH = I(g.kernel_h), KW = I(g.kernel_w), SH = I(g.stride_h), SW = I(g.stride_w);
    const I OH = I(g.out_h), OW = I(g.out_w);
    const T* cs = col + index_t(n) * image_step();
    const index_t ld = row_step();
    T sum = T(0);
    for (I kh = 0; kh < KH; ++kh) {
      const I oh_s = h + I(g.pad_h) - kh;
      if (oh_s < 0 || oh_s % SH != 0) continue;
      const I oh = oh_s / SH;
      if (oh >= OH) continue;
      for (I kw = 0; kw < KW; ++kw) {
        const I ow_s = w + I(g.pad_w) - kw;
        if (ow_s < 0 || ow_s % SW != 0) continue;
        const I ow = ow_s / SW;
        if (ow >= OW) continue;
        sum += cs[index_t((c * KH + kh) * KW + kw) * ld + oh * OW + ow];
      }
    }
    dx[flat] += sum;
  }
  // Host: whole input rows at a time; for stride 1 every (kh, kw) adds a
  // shifted run of a column row, a loop that vectorises.
  void range(index_t begin, index_t end) const {
    const index_t per = g.channels * g.height * g.width;
    for (index_t n = begin / per; n * per < end; ++n) {
      const index_t b = begin > n * per ? begin - n * per : 0, e = end < (n + 1) * per ? end - n * per : per;
      range_one(col + n * image_step(), dx + n * per, b, e);
    }
  }
  void range_one(const T* col, T* dx, index_t begin, index_t end) const {
    index_t i = begin;
    while (i < end) {
      const index_t w0 = i % g.width, h = (i / g.width) % g.height, c = i / (g.width * g.height);
      const index_t n = (g.width - w0) < (end - i) ? (g.width - w0) : (end - i);
      T* out = dx + i;
      for (index_t kh = 0; kh < g.kernel_h; ++kh) {
        const index_t oh_s = h + g.pad_h - kh;
        if (oh_s < 0 || oh_s % g.stride_h != 0 || oh_s / g.stride_h >= g.out_h) continue;
        const index_t oh = oh_s / g.stride_h;
        for (index_t kw = 0; kw < g.kernel_w; ++kw) {
          const T* crow = col + ((c * g.kernel_h + kh) * g.kernel_w + kw) * row_step() + oh * g.out_w;
          const index_t shift = g.pad_w - kw;  // ow·stride = w + shift
          if (g.stride_w == 1) {
            const index_t lo = (-shift > w0 ? -shift : w0), hi_excl = (g.out_w - shift < w0 + n ? g.out_w - shift : w0 + n);
            for (index_t w = lo; w < hi_excl; ++w) out[w - w0] += crow[w + shift];
          } else {
            // Input column w takes crow[ow] where w = ow·stride − shift: walk
            // the ow whose w falls in [w0, w0 + n) instead of testing every w.
            const index_t sw = g.stride_w, first = w0 + shift, last = w0 + n + shift;  // ow·sw in [first, last)
            const index_t ow_lo = first <= 0 ? 0 : (first + sw - 1) / sw;
            const index_t ow_hi = last <= 0 ? 0 : std::min((last + sw - 1) / sw, g.out_w);
            for (index_t ow = ow_lo; ow < ow_hi; ++ow) out[ow * sw - shift - w0] += crow[ow];
          }
        }
      }
      i += n;
    }
  }
};

}  // namespace attngan::kernels
