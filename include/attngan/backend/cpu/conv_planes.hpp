// attngan/backend/cpu/conv_planes.hpp — im2col and col2im for small images
// on the host, one (image, channel) plane at a time.
//
// conv2d's wide path (nn/ops/conv2d.hpp) serves the layers whose outputs have
// at most 16² pixels: D's and the image encoder's deep layers at 4²–8². The
// generic kernels (conv_kernels.hpp) work run by run along an output row and
// clamp every run against the padding; at 4-pixel rows that bookkeeping costs
// more than the copy (1.3 ms for a 32 × 128-channel 4² batch, as much as its
// GEMM). Here each worker copies a plane once into a zero-padded buffer,
// after which every (kh, kw) row of the column matrix is a plain strided
// gather with no bounds to test; col2im scatters into the same kind of buffer
// and adds its interior back. Work is split by channel (each worker takes
// that channel in every image, so it writes rows of col front to back, and
// no two workers write the same element).
#pragma once

#include "attngan/backend/conv_kernels.hpp"
#include "attngan/backend/cpu/cpu.hpp"

#include <algorithm>
#include <vector>

namespace attngan::kernels {

/// The layout both kernels share: col (C·KH·KW, n·Ho·Wo), image m's block at
/// column m·Ho·Wo, and per (image, channel) a zero-padded copy of its plane.
/// Work is split by channel, each worker taking that channel in every image
/// one after another, so that each row of col is visited front to back.
template <class T>
struct plane_layout {
  conv_geometry g;
  index_t images;

  index_t padded_w() const { return g.width + 2 * g.pad_w; }
  std::vector<T> padded_plane() const { return std::vector<T>(std::size_t((g.height + 2 * g.pad_h) * padded_w()), T(0)); }
  const T* plane_of(const T* x, index_t m, index_t c) const { return x + (m * g.channels + c) * g.height * g.width; }
  T* plane_of(T* x, index_t m, index_t c) const { return x + (m * g.channels + c) * g.height * g.width; }
  /// f(padded row, run of col) for every tap (kh, kw) and output row oh of
  /// channel c in image m; the padded row's elements are stride_w apart.
  template <class P, class C, class F>
  void for_each_run(P* pad, C* col, index_t c, index_t m, F&& f) const {
    const index_t pw = padded_w(), ld = images * g.col_cols();
    for (index_t kh = 0; kh < g.kernel_h; ++kh)
      for (index_t kw = 0; kw < g.kernel_w; ++kw) {
        C* run = col + ((c * g.kernel_h + kh) * g.kernel_w + kw) * ld + m * g.col_cols();
        for (index_t oh = 0; oh < g.out_h; ++oh) f(pad + (oh * g.stride_h + kh) * pw + kw, run + oh * g.out_w);
      }
  }
};

/// col from x (n, C, H, W), laid out as plane_layout says; one index per channel.
template <class T>
struct im2col_planes : plane_layout<T> {
  const T* x;
  T* col;

  void range(index_t begin, index_t end) const {
    const conv_geometry& g = this->g;
    const index_t pw = this->padded_w(), sw = g.stride_w;
    std::vector<T> pad = this->padded_plane();  // its border stays zero
    for (index_t c = begin; c < end; ++c)
      for (index_t m = 0; m < this->images; ++m) {
        const T* src = this->plane_of(x, m, c);
        for (index_t h = 0; h < g.height; ++h)
          std::copy_n(src + h * g.width, g.width, pad.data() + (h + g.pad_h) * pw + g.pad_w);
        this->for_each_run(static_cast<const T*>(pad.data()), col, c, m, [&](const T* row, T* out) {
          if (sw == 1) {
            for (index_t ow = 0; ow < g.out_w; ++ow) out[ow] = row[ow];
          } else {
            for (index_t ow = 0; ow < g.out_w; ++ow) out[ow] = row[ow * sw];
          }
        });
      }
  }
};

/// dx (n, C, H, W) += col2im(col), col laid out as plane_layout says; one
/// index per channel.
template <class T>
struct col2im_planes : plane_layout<T> {
  const T* col;
  T* dx;

  void range(index_t begin, index_t end) const {
    const conv_geometry& g = this->g;
    const index_t pw = this->padded_w(), sw = g.stride_w;
    std::vector<T> pad = this->padded_plane();
    for (index_t c = begin; c < end; ++c)
      for (index_t m = 0; m < this->images; ++m) {
        std::fill(pad.begin(), pad.end(), T(0));
        this->for_each_run(pad.data(), col, c, m, [&](T* row, const T* in) {
          if (sw == 1) {
            for (index_t ow = 0; ow < g.out_w; ++ow) row[ow] += in[ow];
          } else {
            for (index_t ow = 0; ow < g.out_w; ++ow) row[ow * sw] += in[ow];
          }
        });
        T* out = this->plane_of(dx, m, c);
        for (index_t h = 0; h < g.height; ++h) {
          const T* p = pad.data() + (h + g.pad_h) * pw + g.pad_w;
          for (index_t w = 0; w < g.width; ++w) out[h * g.width + w] += p[w];
        }
      }
  }
};

/// Runs f.range over the channels [0, count), one contiguous share per
/// thread. (Not primitives::for_each_index: its serial threshold counts
/// elements, and a channel is thousands of them.)
template <class F>
void for_each_channel(index_t count, const F& f) {
  if (cpu::threads() == 1 || count < 2) {
    f.range(0, count);
    return;
  }
  cpu::parallel_shares(count, 1, [&](index_t begin, index_t end) { f.range(begin, end); });
}

}  // namespace attngan::kernels
