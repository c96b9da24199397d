// attngan/nn/ops/shape_ops.hpp — concatenation, stacking and transposition.
//
// concat(xs, axis): the inputs agree on every axis but `axis`; seen as
// (outer, n_i, inner) around it, input i lands at offset Σ_{j<i} n_j of the
// output's axis. stack(xs, axis) inserts a new axis of extent xs.size().
// transpose(x, a, b) swaps two axes (a copy). Backward passes hand every
// input its part of the gradient.
#pragma once

#include <vector>

#include "attngan/autodiff/linalg.hpp"
#include "attngan/autodiff/var.hpp"
#include "attngan/backend/primitives.hpp"

namespace attngan::nn::functional {

namespace detail {

template <class T>
struct concat_part {  // out[o, first + k, in] = x[o, k, in]   (Forward)  or  dx[...] += g[...]  (Backward)
  const T* src;
  T* dst;
  index_t n, inner, total, first;
  bool to_output;  // true: copy x into the output; false: add the output's gradient into dx
  ATTNGAN_HD void operator()(index_t i) const {
    const index_t in = i % inner, k = (i / inner) % n, o = i / (inner * n);
    const index_t j = (o * total + first + k) * inner + in;
    if (to_output)
      dst[j] = src[i];
    else
      dst[i] += src[j];
  }
  // Host: for each o, the part's n·inner elements are one contiguous run on both sides.
  void range(index_t begin, index_t end) const {
    const index_t run = n * inner;
    for (index_t i = begin; i < end;) {
      const index_t off = i % run, o = i / run;
      const index_t len = run - off < end - i ? run - off : end - i;
      const index_t j = (o * total + first) * inner + off;
      if (to_output) {
        for (index_t e = 0; e < len; ++e) dst[j + e] = src[i + e];
      } else {
        for (index_t e = 0; e < len; ++e) dst[i + e] += src[j + e];
      }
      i += len;
    }
  }
};

struct axis_split {
  index_t outer = 1, inner = 1;
};

inline axis_split split_at(const shape& s, int a) {
  axis_split r;
  for (int k = 0; k < a; ++k) r.outer *= s[k];
  for (int k = a + 1; k < s.rank(); ++k) r.inner *= s[k];
  return r;
}

template <real T, backend B>
struct concat_node : attngan::detail::node<T, B> {
  int axis;
  explicit concat_node(int a) : axis(a) {}
  void backward(const std::vector<char>& wants) override {
    const shape& out = this->value.shape();
    const axis_split sp = split_at(out, axis);
    index_t first = 0;
    for (std::size_t k = 0; k < this->inputs.size(); ++k) {
      auto& in = *this->inputs[k];
      const index_t n = in.value.shape()[axis];
      if (wants[k])
        primitives::for_each_index<B>(in.value.numel(), concat_part<T>{this->grad.data(), in.grad_buffer(), n,
                                                                       sp.inner, out[axis], first, false});
      first += n;
    }
  }
};

template <class T>
struct transpose_kernel {  // out = x with axes a and b of the padded rank-4 shape swapped
  const T* x;
  T* out;
  index_t out_dims[4], x_strides_for_out[4];
  bool accumulate;
  ATTNGAN_HD void operator()(index_t i) const {
    index_t rest = i, src = 0;
    for (int k = 3; k >= 0; --k) {
      src += (rest % out_dims[k]) * x_strides_for_out[k];
      rest /= out_dims[k];
    }
    if (accumulate)
      out[i] += x[src];
    else
      out[i] = x[src];
  }
  // Host: the index decomposed once, then a run along the last axis at a
  // time (stride x_strides_for_out[3] in x) and a carry into the others.
  void range(index_t begin, index_t end) const {
    if (begin >= end) return;
    index_t at[4], rest = begin;
    for (int k = 3; k >= 0; --k) {
      at[k] = rest % out_dims[k];
      rest /= out_dims[k];
    }
    const index_t step = x_strides_for_out[3];
    for (index_t i = begin; i < end;) {
      const index_t len = out_dims[3] - at[3] < end - i ? out_dims[3] - at[3] : end - i;
      const T* s = x + at[0] * x_strides_for_out[0] + at[1] * x_strides_for_out[1] + at[2] * x_strides_for_out[2] +
                   at[3] * step;
      T* o = out + i;
      if (accumulate) {
        for (index_t j = 0; j < len; ++j) o[j] += s[j * step];
      } else {
        for (index_t j = 0; j < len; ++j) o[j] = s[j * step];
      }
      i += len;
      at[3] = 0;
      for (int k = 2; k >= 0; --k) {
        if (++at[k] < out_dims[k]) break;
        at[k] = 0;
      }
    }
  }
};

template <class T>
transpose_kernel<T> make_transpose(const T* x, T* out, const shape& xs, int a, int b, bool accumulate) {
  const int r = xs.rank(), pa = 4 - r + a, pb = 4 - r + b;
  auto xd = xs.padded();
  index_t xstride[4];
  xstride[3] = 1;
  for (int k = 2; k >= 0; --k) xstride[k] = xstride[k + 1] * xd[std::size_t(k + 1)];
  transpose_kernel<T> t{x, out, {}, {}, accumulate};
  for (int k = 0; k < 4; ++k) {
    const int from = k == pa ? pb : (k == pb ? pa : k);
    t.out_dims[k] = xd[std::size_t(from)];
    t.x_strides_for_out[k] = xstride[from];
  }
  return t;
}

template <real T, backend B>
struct transpose_node : attngan::detail::node<T, B> {
  int a, b;
  transpose_node(int x, int y) : a(x), b(y) {}
  void backward(const std::vector<char>& wants) override {
    if (!wants[0]) return;
    auto& in = *this->inputs[0];
    primitives::for_each_index<B>(
        in.value.numel(), make_transpose<T>(this->grad.data(), in.grad_buffer(), this->value.shape(), a, b, true));
  }
};

}  // namespace detail

/// Concatenation along `axis`; all other extents must agree.
template <real T, backend B>
var<T, B> concat(const std::vector<var<T, B>>& xs, int axis) {
  if (xs.empty()) throw value_error("concat", "no inputs");
  const shape& s0 = xs[0].shape();
  const int a = s0.normalise_axis(axis);
  index_t dims[4], total = 0;
  for (const auto& x : xs) {
    const shape& s = x.shape();
    bool fits = s.rank() == s0.rank();
    for (int k = 0; fits && k < s.rank(); ++k) fits = k == a || s[k] == s0[k];
    if (!fits)
      throw shape_error("concat", attngan::detail::cat("cannot concatenate ", s0, " and ", s, " along axis ", axis));
    total += s[a];
  }
  for (int k = 0; k < s0.rank(); ++k) dims[k] = k == a ? total : s0[k];
  tensor<T, B> out(shape::from_dims(dims, s0.rank()));
  const detail::axis_split sp = detail::split_at(out.shape(), a);
  index_t first = 0;
  std::vector<attngan::detail::node_ptr<T, B>> inputs;
  for (const auto& x : xs) {
    const index_t n = x.shape()[a];
    primitives::for_each_index<B>(x.numel(), detail::concat_part<T>{x.value().data(), out.data(), n, sp.inner, total,
                                                                     first, true});
    first += n;
    inputs.push_back(x.node());
  }
  return var<T, B>(attngan::detail::make_result<detail::concat_node<T, B>>(std::move(out), std::move(inputs), "concat", a));
}

/// Channel concatenation (N, Ca, ...) ++ (N, Cb, ...), a first (torch.cat((a, b), 1)).
template <real T, backend B>
var<T, B> concat_channels(const var<T, B>& a, const var<T, B>& b) {
  return concat(std::vector<var<T, B>>{a, b}, 1);
}

/// Stacks equally shaped vars along a new axis (0 ≤ axis ≤ rank).
template <real T, backend B>
var<T, B> stack(const std::vector<var<T, B>>& xs, int axis) {
  if (xs.empty()) throw value_error("stack", "no inputs");
  const shape& s = xs[0].shape();
  if (axis < 0 || axis > s.rank() || s.rank() >= 4)
    throw shape_error("stack", attngan::detail::cat("axis ", axis, " is out of range for stacking ", s));
  index_t dims[4];
  for (int k = 0, r = 0; k <= s.rank(); ++k) dims[k] = k == axis ? 1 : s[r++];
  const shape with_axis = shape::from_dims(dims, s.rank() + 1);
  std::vector<var<T, B>> views;
  views.reserve(xs.size());
  for (const auto& x : xs) {
    if (!(x.shape() == s))
      throw shape_error("stack", attngan::detail::cat("inputs differ in shape: ", s, " and ", x.shape()));
    views.push_back(reshape(x, with_axis));
  }
  return concat(views, axis);
}

/// x with axes a and b swapped (a copy).
template <real T, backend B>
var<T, B> transpose(const var<T, B>& x, int a, int b) {
  const shape& s = x.shape();
  const int pa = s.normalise_axis(a), pb = s.normalise_axis(b);
  index_t dims[4];
  for (int k = 0; k < s.rank(); ++k) dims[k] = k == pa ? s[pb] : (k == pb ? s[pa] : s[k]);
  tensor<T, B> out(shape::from_dims(dims, s.rank()));
  primitives::for_each_index<B>(out.numel(), detail::make_transpose<T>(x.value().data(), out.data(), s, pa, pb, false));
  return var<T, B>(attngan::detail::make_result<detail::transpose_node<T, B>>(std::move(out), {x.node()}, "transpose",
                                                                              pa, pb));
}

}  // namespace attngan::nn::functional
