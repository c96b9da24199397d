// attngan/nn/ops/resample.hpp — nearest-neighbour upsampling.
//
// upsample_nearest(x, s): out[n, c, h, w] = x[n, c, ⌊h/s⌋, ⌊w/s⌋]; its
// backward sums each s×s block of the gradient (a gather, no atomics).
#pragma once

#include "attngan/autodiff/var.hpp"
#include "attngan/backend/primitives.hpp"

namespace attngan::nn::functional {

namespace detail {

template <class T>
struct upsample_nearest_kernel {
  const T* x;
  T* out;
  index_t out_h, out_w, scale;
  ATTNGAN_HD void operator()(index_t i) const {
    const index_t w = i % out_w, h = (i / out_w) % out_h, plane = i / (out_w * out_h);
    const index_t in_w = out_w / scale, in_h = out_h / scale;
    out[i] = x[(plane * in_h + h / scale) * in_w + w / scale];
  }
  // Host: a run of one output row at a time (its source row found once);
  // AttnGAN's scale 2 halves by a shift.
  void range(index_t begin, index_t end) const {
    const index_t in_w = out_w / scale, in_h = out_h / scale;
    index_t i = begin;
    while (i < end) {
      const index_t w0 = i % out_w, r = i / out_w, h = r % out_h, plane = r / out_h;
      const index_t n = (out_w - w0) < (end - i) ? (out_w - w0) : (end - i);
      const T* src = x + (plane * in_h + h / scale) * in_w;
      T* o = out + i;
      if (scale == 2) {
        for (index_t j = 0; j < n; ++j) o[j] = src[(w0 + j) >> 1];
      } else {
        for (index_t j = 0; j < n; ++j) o[j] = src[(w0 + j) / scale];
      }
      i += n;
    }
  }
};

template <class T>
struct upsample_nearest_backward {  // dx[n, c, h, w] += Σ_{i,j < s} G[n, c, h·s + i, w·s + j]
  const T* g;
  T* dx;
  index_t in_h, in_w, scale;
  ATTNGAN_HD void operator()(index_t i) const {
    const index_t w = i % in_w, h = (i / in_w) % in_h, plane = i / (in_w * in_h);
    const index_t out_w = in_w * scale;
    const T* row = g + (plane * in_h * scale + h * scale) * out_w + w * scale;
    T sum = T(0);
    for (index_t a = 0; a < scale; ++a)
      for (index_t b = 0; b < scale; ++b) sum += row[a * out_w + b];
    dx[i] += sum;
  }
};

template <real T, backend B>
struct upsample_nearest_node : attngan::detail::node<T, B> {
  index_t scale;
  explicit upsample_nearest_node(index_t s) : scale(s) {}
  void backward(const std::vector<char>& wants) override {
    if (!wants[0]) return;
    auto& x = *this->inputs[0];
    const shape& s = x.value.shape();
    primitives::for_each_index<B>(x.value.numel(),
                                  upsample_nearest_backward<T>{this->grad.data(), x.grad_buffer(), s[2], s[3], scale});
  }
};

}  // namespace detail

/// Nearest-neighbour upsampling of (N, C, H, W) by an integer factor.
template <real T, backend B>
var<T, B> upsample_nearest(const var<T, B>& x, index_t scale = 2) {
  const shape& s = x.shape();
  if (s.rank() != 4) throw shape_error("upsample_nearest", attngan::detail::cat("expects (N, C, H, W), got ", s));
  if (scale < 1) throw value_error("upsample_nearest", attngan::detail::cat("scale ", scale, " must be >= 1"));
  tensor<T, B> out(shape(s[0], s[1], s[2] * scale, s[3] * scale));
  primitives::for_each_index<B>(out.numel(), detail::upsample_nearest_kernel<T>{x.value().data(), out.data(),
                                                                                s[2] * scale, s[3] * scale, scale});
  return var<T, B>(attngan::detail::make_result<detail::upsample_nearest_node<T, B>>(std::move(out), {x.node()},
                                                                                     "upsample_nearest", scale));
}

}  // namespace attngan::nn::functional
