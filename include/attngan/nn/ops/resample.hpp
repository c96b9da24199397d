// attngan/nn/ops/resample.hpp — nearest-neighbour upsampling, channel
// concatenation and tiling a per-sample vector over H×W.
//
// upsample_nearest(x, s): out[n, c, h, w] = x[n, c, ⌊h/s⌋, ⌊w/s⌋]; its
// backward sums each s×s block of the gradient (a gather, no atomics).
// concat_channels(a, b): (N, Ca, H, W) ++ (N, Cb, H, W) along channels; the
// backward hands each input its slice of the gradient.
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

template <class T>
struct concat_kernel {  // out = [a, b] along channels
  const T* a;
  const T* b;
  T* out;
  index_t ca, cb, pixels;
  ATTNGAN_HD void operator()(index_t i) const {
    const index_t p = i % pixels, c = (i / pixels) % (ca + cb), n = i / (pixels * (ca + cb));
    out[i] = c < ca ? a[(n * ca + c) * pixels + p] : b[(n * cb + (c - ca)) * pixels + p];
  }
};

template <class T>
struct concat_backward {  // d[part] += G restricted to the part's channels
  const T* g;
  T* d;
  index_t part_channels, first_channel, total_channels, pixels;
  ATTNGAN_HD void operator()(index_t i) const {
    const index_t p = i % pixels, c = (i / pixels) % part_channels, n = i / (pixels * part_channels);
    d[i] += g[(n * total_channels + first_channel + c) * pixels + p];
  }
};

template <real T, backend B>
struct concat_node : attngan::detail::node<T, B> {
  void backward(const std::vector<char>& wants) override {
    const shape& out = this->value.shape();
    const index_t pixels = out.rank() == 4 ? out[2] * out[3] : 1;
    index_t first = 0;
    for (std::size_t k = 0; k < this->inputs.size(); ++k) {
      auto& in = *this->inputs[k];
      const index_t c = in.value.shape()[1];
      if (wants[k])
        primitives::for_each_index<B>(in.value.numel(),
                                      concat_backward<T>{this->grad.data(), in.grad_buffer(), c, first, out[1], pixels});
      first += c;
    }
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

/// Channel concatenation of (N, Ca, H, W) and (N, Cb, H, W) (a first), as
/// torch.cat((a, b), 1). Rank-2 inputs (N, C) are concatenated as (N, C, 1, 1)
/// and returned as rank 2.
template <real T, backend B>
var<T, B> concat_channels(const var<T, B>& a, const var<T, B>& b) {
  const shape &sa = a.shape(), &sb = b.shape();
  const bool flat = sa.rank() == 2 && sb.rank() == 2;
  if (!flat && (sa.rank() != 4 || sb.rank() != 4 || sa[0] != sb[0] || sa[2] != sb[2] || sa[3] != sb[3]))
    throw shape_error("concat_channels", attngan::detail::cat("cannot concatenate ", sa, " and ", sb,
                                                              " along channels: other axes differ"));
  if (flat && sa[0] != sb[0])
    throw shape_error("concat_channels", attngan::detail::cat("cannot concatenate ", sa, " and ", sb,
                                                              ": batch sizes differ"));
  const index_t n = sa[0], ca = sa[1], cb = sb[1], h = flat ? 1 : sa[2], w = flat ? 1 : sa[3];
  tensor<T, B> out(flat ? shape(n, ca + cb) : shape(n, ca + cb, h, w));
  primitives::for_each_index<B>(out.numel(), detail::concat_kernel<T>{a.value().data(), b.value().data(), out.data(),
                                                                      ca, cb, h * w});
  return var<T, B>(attngan::detail::make_result<detail::concat_node<T, B>>(std::move(out), {a.node(), b.node()},
                                                                           "concat_channels"));
}

}  // namespace attngan::nn::functional
