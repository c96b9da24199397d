// attngan/nn/ops/pool.hpp — max and average pooling, bilinear resizing.
//
// Windows follow PyTorch (floor mode): out = (in + 2·pad − k) / stride + 1.
// max_pool2d takes the first maximum in window order (padding counts as −∞)
// and remembers where it was; its backward routes each output's gradient to
// that input. avg_pool2d divides by k·k when count_include_pad (torchvision's
// Inception uses that), else by the number of real pixels in the window.
// resize_bilinear is F.interpolate(mode='bilinear') for both align_corners
// conventions:
//   align_corners = true:   src = dst · (in − 1) / (out − 1)
//   align_corners = false:  src = max((dst + ½) · in / out − ½, 0)
// then the two neighbours ⌊src⌋ and ⌊src⌋ + 1 (clamped) weighted 1 − λ, λ.
// Backward passes scatter within one (n, c) plane per thread: no atomics.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "attngan/autodiff/var.hpp"
#include "attngan/backend/primitives.hpp"

namespace attngan::nn::functional {

struct pool_options {
  index_t kernel = 2, stride = 2, pad = 0;
  bool count_include_pad = true;  // avg_pool2d only
};

namespace detail {

struct pool_geometry {
  index_t height, width, out_h, out_w, kernel, stride, pad;
};

inline pool_geometry pool_geometry_of(const shape& s, const pool_options& o, const char* op) {
  if (s.rank() != 4) throw shape_error(op, attngan::detail::cat("expects (N, C, H, W), got ", s));
  if (o.kernel < 1 || o.stride < 1 || o.pad < 0 || 2 * o.pad > o.kernel)
    throw value_error(op, attngan::detail::cat("kernel ", o.kernel, ", stride ", o.stride, ", padding ", o.pad,
                                               ": padding must be at most half the kernel"));
  if (s[2] + 2 * o.pad < o.kernel || s[3] + 2 * o.pad < o.kernel)
    throw shape_error(op, attngan::detail::cat("kernel ", o.kernel, " is larger than the padded input ", s));
  return {s[2], s[3], (s[2] + 2 * o.pad - o.kernel) / o.stride + 1, (s[3] + 2 * o.pad - o.kernel) / o.stride + 1,
          o.kernel, o.stride, o.pad};
}

template <class T>
struct max_pool_kernel {
  const T* x;
  T* out;
  std::int64_t* where;  // flat index inside the plane of the chosen input
  pool_geometry g;
  ATTNGAN_HD void operator()(index_t i) const {
    const index_t ow = i % g.out_w, oh = (i / g.out_w) % g.out_h, plane = i / (g.out_w * g.out_h);
    const T* xp = x + plane * g.height * g.width;
    T best = -std::numeric_limits<T>::infinity();
    index_t at = -1;
    for (index_t kh = 0; kh < g.kernel; ++kh) {
      const index_t h = oh * g.stride - g.pad + kh;
      if (h < 0 || h >= g.height) continue;
      for (index_t kw = 0; kw < g.kernel; ++kw) {
        const index_t w = ow * g.stride - g.pad + kw;
        if (w < 0 || w >= g.width) continue;
        const T v = xp[h * g.width + w];
        if (at < 0 || v > best || (v != v && best == best)) {  // first maximum; a NaN wins and stays
          best = v;
          at = h * g.width + w;
        }
      }
    }
    out[i] = best;
    where[i] = at;
  }
};

template <class T>
struct max_pool_backward {  // per plane: dx[where[o]] += G[o]
  const T* g;
  const std::int64_t* where;
  T* dx;
  index_t outputs, inputs;  // per plane
  ATTNGAN_HD void operator()(index_t plane) const {
    for (index_t o = 0; o < outputs; ++o) dx[plane * inputs + where[plane * outputs + o]] += g[plane * outputs + o];
  }
};

template <class T>
struct avg_pool_kernel {
  const T* x;
  T* out;
  pool_geometry g;
  bool count_include_pad;
  ATTNGAN_HD T divisor(index_t oh, index_t ow) const {
    if (count_include_pad) return T(g.kernel * g.kernel);
    const index_t h0 = oh * g.stride - g.pad, w0 = ow * g.stride - g.pad;
    const index_t h1 = h0 + g.kernel < g.height ? h0 + g.kernel : g.height, w1 = w0 + g.kernel < g.width ? w0 + g.kernel : g.width;
    return T(((h1 - (h0 > 0 ? h0 : 0)) * (w1 - (w0 > 0 ? w0 : 0))));
  }
  ATTNGAN_HD void operator()(index_t i) const {
    const index_t ow = i % g.out_w, oh = (i / g.out_w) % g.out_h, plane = i / (g.out_w * g.out_h);
    const T* xp = x + plane * g.height * g.width;
    T s = T(0);
    for (index_t kh = 0; kh < g.kernel; ++kh) {
      const index_t h = oh * g.stride - g.pad + kh;
      if (h < 0 || h >= g.height) continue;
      for (index_t kw = 0; kw < g.kernel; ++kw) {
        const index_t w = ow * g.stride - g.pad + kw;
        if (w >= 0 && w < g.width) s += xp[h * g.width + w];
      }
    }
    out[i] = s / divisor(oh, ow);
  }
};

template <class T>
struct avg_pool_backward {  // dx[n, c, h, w] += Σ over windows containing (h, w) of G / divisor (a gather)
  const T* g;
  T* dx;
  avg_pool_kernel<T> fwd;
  ATTNGAN_HD void operator()(index_t i) const {
    const pool_geometry& q = fwd.g;
    const index_t w = i % q.width, h = (i / q.width) % q.height, plane = i / (q.width * q.height);
    T s = T(0);
    for (index_t oh = 0; oh < q.out_h; ++oh) {
      const index_t h0 = oh * q.stride - q.pad;
      if (h < h0 || h >= h0 + q.kernel) continue;
      for (index_t ow = 0; ow < q.out_w; ++ow) {
        const index_t w0 = ow * q.stride - q.pad;
        if (w < w0 || w >= w0 + q.kernel) continue;
        s += g[(plane * q.out_h + oh) * q.out_w + ow] / fwd.divisor(oh, ow);
      }
    }
    dx[i] += s;
  }
};

template <real T, backend B>
struct max_pool_node : attngan::detail::node<T, B> {
  tensor<std::int64_t, B> where;
  void backward(const std::vector<char>& wants) override {
    if (!wants[0]) return;
    auto& x = *this->inputs[0];
    const shape& s = x.value.shape();
    const shape& o = this->value.shape();
    primitives::for_each_index<B>(s[0] * s[1], max_pool_backward<T>{this->grad.data(), where.data(), x.grad_buffer(),
                                                                     o[2] * o[3], s[2] * s[3]});
  }
};

template <real T, backend B>
struct avg_pool_node : attngan::detail::node<T, B> {
  avg_pool_kernel<T> fwd;
  explicit avg_pool_node(avg_pool_kernel<T> k) : fwd(k) {}
  void backward(const std::vector<char>& wants) override {
    if (!wants[0]) return;
    auto& x = *this->inputs[0];
    primitives::for_each_index<B>(x.value.numel(), avg_pool_backward<T>{this->grad.data(), x.grad_buffer(), fwd});
  }
};

// ---------------------------------------------------------------- bilinear
template <class T>
struct bilinear_axis {
  index_t in, out;
  bool align_corners;
  ATTNGAN_HD void taps(index_t d, index_t& i0, index_t& i1, T& l1) const {
    T src;
    if (align_corners) {
      src = out > 1 ? (T(in - 1) / T(out - 1)) * T(d) : T(0);  // PyTorch's order: scale first
    } else {
      src = (T(d) + T(0.5)) * (T(in) / T(out)) - T(0.5);
      if (src < T(0)) src = T(0);
    }
    i0 = index_t(src);
    if (i0 > in - 1) i0 = in - 1;
    i1 = i0 < in - 1 ? i0 + 1 : i0;
    l1 = src - T(i0);
  }
};

template <class T>
struct bilinear_kernel {
  const T* x;
  T* out;
  bilinear_axis<T> ah, aw;
  ATTNGAN_HD void operator()(index_t i) const {
    const index_t ow = i % aw.out, oh = (i / aw.out) % ah.out, plane = i / (aw.out * ah.out);
    index_t h0, h1, w0, w1;
    T lh, lw;
    ah.taps(oh, h0, h1, lh);
    aw.taps(ow, w0, w1, lw);
    const T* p = x + plane * ah.in * aw.in;
    out[i] = mix(p + h0 * aw.in, p + h1 * aw.in, w0, w1, lh, lw);
  }
  /// The value between rows r0 and r1 (weight lh on r1) and columns w0 and w1 (weight lw on w1).
  ATTNGAN_HD static T mix(const T* r0, const T* r1, index_t w0, index_t w1, T lh, T lw) {
    return (T(1) - lh) * ((T(1) - lw) * r0[w0] + lw * r0[w1]) + lh * ((T(1) - lw) * r1[w0] + lw * r1[w1]);
  }
  // Host: a run along an output row at a time, its plane and row taps found once.
  void range(index_t begin, index_t end) const {
    for (index_t i = begin; i < end;) {
      const index_t ow0 = i % aw.out, row = i / aw.out, oh = row % ah.out, plane = row / ah.out;
      const index_t len = aw.out - ow0 < end - i ? aw.out - ow0 : end - i;
      index_t h0, h1;
      T lh;
      ah.taps(oh, h0, h1, lh);
      const T* r0 = x + plane * ah.in * aw.in + h0 * aw.in;
      const T* r1 = x + plane * ah.in * aw.in + h1 * aw.in;
      for (index_t j = 0; j < len; ++j) {
        index_t w0, w1;
        T lw;
        aw.taps(ow0 + j, w0, w1, lw);
        out[i + j] = mix(r0, r1, w0, w1, lh, lw);
      }
      i += len;
    }
  }
};

template <class T>
struct bilinear_backward {  // per plane: scatter each output's gradient to its four taps
  const T* g;
  T* dx;
  bilinear_axis<T> ah, aw;
  index_t work_per_index() const { return ah.out * aw.out; }  // one index is a whole plane
  ATTNGAN_HD void operator()(index_t plane) const {
    T* d = dx + plane * ah.in * aw.in;
    const T* gp = g + plane * ah.out * aw.out;
    for (index_t oh = 0; oh < ah.out; ++oh) {
      index_t h0, h1;
      T lh;
      ah.taps(oh, h0, h1, lh);
      for (index_t ow = 0; ow < aw.out; ++ow) {
        index_t w0, w1;
        T lw;
        aw.taps(ow, w0, w1, lw);
        const T v = gp[oh * aw.out + ow];
        d[h0 * aw.in + w0] += (T(1) - lh) * (T(1) - lw) * v;
        d[h0 * aw.in + w1] += (T(1) - lh) * lw * v;
        d[h1 * aw.in + w0] += lh * (T(1) - lw) * v;
        d[h1 * aw.in + w1] += lh * lw * v;
      }
    }
  }
};

template <real T, backend B>
struct bilinear_node : attngan::detail::node<T, B> {
  bilinear_axis<T> ah, aw;
  bilinear_node(bilinear_axis<T> h, bilinear_axis<T> w) : ah(h), aw(w) {}
  void backward(const std::vector<char>& wants) override {
    if (!wants[0]) return;
    auto& x = *this->inputs[0];
    const shape& s = x.value.shape();
    primitives::for_each_index<B>(s[0] * s[1], bilinear_backward<T>{this->grad.data(), x.grad_buffer(), ah, aw});
  }
};

}  // namespace detail

template <real T, backend B>
var<T, B> max_pool2d(const var<T, B>& x, const pool_options& o) {
  const shape& s = x.shape();
  const auto g = detail::pool_geometry_of(s, o, "max_pool2d");
  tensor<T, B> out(shape(s[0], s[1], g.out_h, g.out_w));
  tensor<std::int64_t, B> where(out.shape());
  primitives::for_each_index<B>(out.numel(), detail::max_pool_kernel<T>{x.value().data(), out.data(), where.data(), g});
  auto n = attngan::detail::make_result<detail::max_pool_node<T, B>>(std::move(out), {x.node()}, "max_pool2d");
  if (auto* m = dynamic_cast<detail::max_pool_node<T, B>*>(n.get())) m->where = std::move(where);
  return var<T, B>(n);
}

template <real T, backend B>
var<T, B> avg_pool2d(const var<T, B>& x, const pool_options& o) {
  const shape& s = x.shape();
  const auto g = detail::pool_geometry_of(s, o, "avg_pool2d");
  tensor<T, B> out(shape(s[0], s[1], g.out_h, g.out_w));
  const detail::avg_pool_kernel<T> k{x.value().data(), out.data(), g, o.count_include_pad};
  primitives::for_each_index<B>(out.numel(), k);
  return var<T, B>(attngan::detail::make_result<detail::avg_pool_node<T, B>>(std::move(out), {x.node()}, "avg_pool2d", k));
}

/// Bilinear resize of (N, C, H, W) to (N, C, out_h, out_w).
template <real T, backend B>
var<T, B> resize_bilinear(const var<T, B>& x, index_t out_h, index_t out_w, bool align_corners) {
  const shape& s = x.shape();
  if (s.rank() != 4 || out_h < 1 || out_w < 1)
    throw shape_error("resize_bilinear", attngan::detail::cat("cannot resize ", s, " to ", out_h, "x", out_w));
  const detail::bilinear_axis<T> ah{s[2], out_h, align_corners}, aw{s[3], out_w, align_corners};
  tensor<T, B> out(shape(s[0], s[1], out_h, out_w));
  primitives::for_each_index<B>(out.numel(), detail::bilinear_kernel<T>{x.value().data(), out.data(), ah, aw});
  return var<T, B>(attngan::detail::make_result<detail::bilinear_node<T, B>>(std::move(out), {x.node()},
                                                                             "resize_bilinear", ah, aw));
}

}  // namespace attngan::nn::functional
