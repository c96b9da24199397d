// attngan/nn/ops/softmax.hpp — softmax and log-softmax over one axis, with an
// optional mask.
//
// The tensor is seen as (outer, n, inner) around the axis; each of the
// outer·inner rows is normalised on its own, with the max subtracted first:
//   softmax:      y_k = e^{x_k − m} / Σ_j e^{x_j − m}
//   log-softmax:  y_k = x_k − m − log Σ_j e^{x_j − m}
// A mask (1 = masked, broadcast to x's shape, e.g. AttnGAN's padding mask
// (B, 1, T) against scores (B, N, T)) sets masked entries to −∞ before
// normalising: they get probability 0 (log-probability −∞), and a row that
// keeps at least one entry never produces NaN. A row with every entry masked
// gives all zeros (PyTorch would give NaN). Backward, with G = dL/dy:
//   softmax:      dx_k = y_k (G_k − Σ_j G_j y_j)
//   log-softmax:  dx_k = G_k − e^{y_k} Σ_j G_j
#pragma once

#include <limits>

#include "attngan/autodiff/expression.hpp"
#include "attngan/autodiff/var.hpp"
#include "attngan/backend/primitives.hpp"
#include "attngan/core/math.hpp"

namespace attngan::nn::functional {

namespace detail {

struct row_geometry {
  index_t outer, n, inner;
  ATTNGAN_HD index_t base(index_t row) const { return (row / inner) * n * inner + row % inner; }
};

inline row_geometry rows_of(const shape& s, int axis) {
  const int a = s.normalise_axis(axis);
  row_geometry g{1, s[a], 1};
  for (int k = 0; k < a; ++k) g.outer *= s[k];
  for (int k = a + 1; k < s.rank(); ++k) g.inner *= s[k];
  return g;
}

template <class T, bool Log>
struct softmax_rows {
  const T* x;
  T* y;
  broadcast_reader<T> mask;  // p == nullptr: no mask
  row_geometry g;
  ATTNGAN_HD bool masked(index_t i) const { return mask.p != nullptr && mask(i) != T(0); }
  ATTNGAN_HD void operator()(index_t row) const {
    const index_t b = g.base(row);
    T m = -std::numeric_limits<T>::infinity();
    for (index_t k = 0; k < g.n; ++k) {
      const index_t i = b + k * g.inner;
      if (!masked(i) && x[i] > m) m = x[i];
    }
    if (m == -std::numeric_limits<T>::infinity()) {  // every entry masked
      for (index_t k = 0; k < g.n; ++k) y[b + k * g.inner] = T(0);
      return;
    }
    T s = T(0);
    for (index_t k = 0; k < g.n; ++k) {
      const index_t i = b + k * g.inner;
      s += masked(i) ? T(0) : math::exp(x[i] - m);
    }
    const T log_s = math::log(s);
    for (index_t k = 0; k < g.n; ++k) {
      const index_t i = b + k * g.inner;
      if (Log)
        y[i] = masked(i) ? -std::numeric_limits<T>::infinity() : x[i] - m - log_s;
      else
        y[i] = masked(i) ? T(0) : math::exp(x[i] - m) / s;
    }
  }
};

template <class T, bool Log>
struct softmax_rows_backward {
  const T* y;
  const T* gy;
  T* dx;
  row_geometry g;
  ATTNGAN_HD void operator()(index_t row) const {
    const index_t b = g.base(row);
    T s = T(0);
    for (index_t k = 0; k < g.n; ++k) {
      const index_t i = b + k * g.inner;
      s += Log ? gy[i] : gy[i] * y[i];
    }
    for (index_t k = 0; k < g.n; ++k) {
      const index_t i = b + k * g.inner;
      if (Log) {
        const T p = math::exp(y[i]);  // 0 for masked entries (y = −∞)
        dx[i] += (p == T(0) ? T(0) : gy[i]) - p * s;
      } else {
        dx[i] += y[i] * (gy[i] - s);
      }
    }
  }
};

template <real T, backend B, bool Log>
struct softmax_node : attngan::detail::node<T, B> {
  row_geometry g;
  explicit softmax_node(row_geometry geometry) : g(geometry) {}
  void backward(const std::vector<char>& wants) override {
    if (!wants[0]) return;
    primitives::for_each_index<B>(g.outer * g.inner,
                                  softmax_rows_backward<T, Log>{this->value.data(), this->grad.data(),
                                                                this->inputs[0]->grad_buffer(), g});
  }
};

template <bool Log, real T, backend B>
var<T, B> softmax_impl(const var<T, B>& x, int axis, const tensor<T, B>* mask, const char* op) {
  const shape& s = x.shape();
  const row_geometry g = rows_of(s, axis);
  broadcast_reader<T> m;
  m.p = nullptr;
  if (mask) {
    broadcast_shapes(mask->shape(), s, op);  // throws with both shapes when they do not fit
    if (!(broadcast_shapes(mask->shape(), s, op) == s))
      throw shape_error(op, attngan::detail::cat("mask ", mask->shape(), " must broadcast to the input ", s));
    m = broadcast_reader<T>::make(mask->data(), strided_view::whole(mask->shape()), s);
  }
  tensor<T, B> y(s);
  primitives::for_each_index<B>(g.outer * g.inner, softmax_rows<T, Log>{x.value().data(), y.data(), m, g});
  return var<T, B>(attngan::detail::make_result<softmax_node<T, B, Log>>(std::move(y), {x.node()}, op, g));
}

}  // namespace detail

/// softmax over `axis`; entries where `mask` (broadcast to x) is non-zero are excluded.
template <real T, backend B>
var<T, B> softmax(const var<T, B>& x, int axis, const tensor<T, B>* mask = nullptr) {
  return detail::softmax_impl<false>(x, axis, mask, "softmax");
}

/// log-softmax over `axis`; masked entries give −∞.
template <real T, backend B>
var<T, B> log_softmax(const var<T, B>& x, int axis, const tensor<T, B>* mask = nullptr) {
  return detail::softmax_impl<true>(x, axis, mask, "log_softmax");
}

}  // namespace attngan::nn::functional
