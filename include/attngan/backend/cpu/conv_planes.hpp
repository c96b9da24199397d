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

/// Side-by-side column matrices: col (C·KH·KW, n·Ho·Wo), image m's block at
/// column m·Ho·Wo, from x (n, C, H, W). One index per channel: its images one
/// after another, so that each row of col is written front to back.
template <class T>
struct im2col_planes {
  const T* x;
  T* col;
  conv_geometry g;
  index_t images;

  void range(index_t begin, index_t end) const {
    const index_t ph = g.height + 2 * g.pad_h, pw = g.width + 2 * g.pad_w, cols = g.col_cols();
    const index_t ld = images * cols, taps = g.kernel_h * g.kernel_w;
    std::vector<T> pad(std::size_t(ph * pw), T(0));  // the border stays zero
    for (index_t c = begin; c < end; ++c)
      for (index_t m = 0; m < images; ++m) {
      const T* src = x + (m * g.channels + c) * g.height * g.width;
      for (index_t h = 0; h < g.height; ++h)
        std::copy_n(src + h * g.width, g.width, pad.data() + (h + g.pad_h) * pw + g.pad_w);
      for (index_t kh = 0; kh < g.kernel_h; ++kh)
        for (index_t kw = 0; kw < g.kernel_w; ++kw) {
          T* dst = col + (c * taps + kh * g.kernel_w + kw) * ld + m * cols;
          for (index_t oh = 0; oh < g.out_h; ++oh) {
            const T* row = pad.data() + (oh * g.stride_h + kh) * pw + kw;
            T* out = dst + oh * g.out_w;
            if (g.stride_w == 1) {
              for (index_t ow = 0; ow < g.out_w; ++ow) out[ow] = row[ow];
            } else {
              for (index_t ow = 0; ow < g.out_w; ++ow) out[ow] = row[ow * g.stride_w];
            }
          }
        }
    }
  }
};

/// dx (n, C, H, W) += col2im(col), col laid out as im2col_planes writes it;
/// one index per channel, as there.
template <class T>
struct col2im_planes {
  const T* col;
  T* dx;
  conv_geometry g;
  index_t images;

  void range(index_t begin, index_t end) const {
    const index_t ph = g.height + 2 * g.pad_h, pw = g.width + 2 * g.pad_w, cols = g.col_cols();
    const index_t ld = images * cols, taps = g.kernel_h * g.kernel_w;
    std::vector<T> pad(std::size_t(ph * pw));
    for (index_t c = begin; c < end; ++c)
      for (index_t m = 0; m < images; ++m) {
      std::fill(pad.begin(), pad.end(), T(0));
      for (index_t kh = 0; kh < g.kernel_h; ++kh)
        for (index_t kw = 0; kw < g.kernel_w; ++kw) {
          const T* src = col + (c * taps + kh * g.kernel_w + kw) * ld + m * cols;
          for (index_t oh = 0; oh < g.out_h; ++oh) {
            T* row = pad.data() + (oh * g.stride_h + kh) * pw + kw;
            const T* in = src + oh * g.out_w;
            if (g.stride_w == 1) {
              for (index_t ow = 0; ow < g.out_w; ++ow) row[ow] += in[ow];
            } else {
              for (index_t ow = 0; ow < g.out_w; ++ow) row[ow * g.stride_w] += in[ow];
            }
          }
        }
      T* out = dx + (m * g.channels + c) * g.height * g.width;
      for (index_t h = 0; h < g.height; ++h) {
        const T* p = pad.data() + (h + g.pad_h) * pw + g.pad_w;
        T* o = out + h * g.width;
        for (index_t w = 0; w < g.width; ++w) o[w] += p[w];
      }
    }
  }
};

/// Runs f.range over [0, count) in one contiguous share per thread. (Not
/// primitives::for_each_index: its serial threshold counts elements, and a
/// channel is thousands of them.)
template <class F>
void for_each_channel(index_t planes, const F& f) {
  const int threads = cpu::threads();
  if (threads == 1 || planes < 2) {
    f.range(0, planes);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
#if defined(_OPENMP)
    const index_t t = omp_get_thread_num(), count = omp_get_num_threads();
#else
    const index_t t = 0, count = 1;
#endif
    f.range(planes * t / count, planes * (t + 1) / count);
  }
}

}  // namespace attngan::kernels
