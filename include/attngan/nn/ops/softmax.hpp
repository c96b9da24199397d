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
#include <type_traits>

#include "attngan/autodiff/expression.hpp"
#include "attngan/autodiff/var.hpp"
#include "attngan/backend/cpu/cpu.hpp"
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

// The cpu backend's loops over the same rows. Rows of one outer index with
// neighbouring inner indices sit side by side in memory, so a tile of up to
// `host_tile` of them is normalised together, the inner index innermost: the
// loops run over contiguous memory and vectorise (the generic functors above
// walk one row with stride `inner`). Contiguous rows (inner = 1) run one at a
// time. A mask is read once per entry, into y as −∞; exp once per entry.
inline constexpr index_t host_tile = 64;

/// Calls f(b, width) for every tile of rows: b its first entry, width its rows
/// (inner = 1: one row each), the tiles shared among the threads.
template <class F>
void for_each_row_tile(const row_geometry& g, const F& f) {
  const index_t per_outer = g.inner == 1 ? 1 : (g.inner + host_tile - 1) / host_tile;
  const index_t tiles = g.outer * per_outer;
  cpu::parallel_shares(tiles, 1, [&](index_t begin, index_t end) {
    for (index_t t = begin; t < end; ++t) {
      const index_t o = t / per_outer, j0 = (t % per_outer) * host_tile;
      const index_t width = g.inner == 1 ? 1 : (host_tile < g.inner - j0 ? host_tile : g.inner - j0);
      f(o * g.n * g.inner + j0, width);
    }
  });
}

template <class T, bool Log>
void softmax_host(const T* x, T* y, const broadcast_reader<T>& mask, const row_geometry& g) {
  const index_t n = g.n, inner = g.inner;
  for_each_row_tile(g, [&](index_t b, index_t width) {
    const T* src = x;
    if (mask.p != nullptr) {  // y ← x with the masked entries −∞
      for (index_t k = 0; k < n; ++k)
        for (index_t j = 0; j < width; ++j) {
          const index_t i = b + k * inner + j;
          y[i] = mask(i) != T(0) ? -std::numeric_limits<T>::infinity() : x[i];
        }
      src = y;
    }
    T m[host_tile], s[host_tile];
    for (index_t j = 0; j < width; ++j) m[j] = -std::numeric_limits<T>::infinity();
    if (width == 1) {  // one contiguous row
      T mx = m[0];
      for (index_t k = 0; k < n; ++k) mx = src[b + k] > mx ? src[b + k] : mx;
      m[0] = mx;
    } else {
      for (index_t k = 0; k < n; ++k)
        for (index_t j = 0; j < width; ++j) {
          const T v = src[b + k * inner + j];
          m[j] = v > m[j] ? v : m[j];
        }
    }
    // a row of −∞ only (every entry masked) subtracts 0: its exps are 0, its sum 0
    for (index_t j = 0; j < width; ++j) {
      m[j] = m[j] == -std::numeric_limits<T>::infinity() ? T(0) : m[j];
      s[j] = T(0);
    }
    if (width == 1) {
      T acc = T(0);
      const T mx = m[0];
      for (index_t k = 0; k < n; ++k) {
        const T e = math::exp(src[b + k] - mx);
        if (!Log) y[b + k] = e;
        acc += e;
      }
      s[0] = acc;
    } else {
      for (index_t k = 0; k < n; ++k)
        for (index_t j = 0; j < width; ++j) {
          const index_t i = b + k * inner + j;
          const T e = math::exp(src[i] - m[j]);
          if (!Log) y[i] = e;
          s[j] += e;
        }
    }
    // an all-masked row (sum 0; otherwise the max alone adds e⁰ = 1) is all zeros, as softmax_rows
    bool empty[host_tile];
    for (index_t j = 0; j < width; ++j) {
      empty[j] = s[j] == T(0);  // a NaN sum stays NaN
      s[j] = empty[j] ? T(0) : Log ? math::log(s[j]) + m[j] : T(1) / s[j];  // log-softmax: what x loses
    }
    for (index_t k = 0; k < n; ++k)
      for (index_t j = 0; j < width; ++j) {
        const index_t i = b + k * inner + j;
        if (Log)
          y[i] = empty[j] ? T(0) : src[i] - s[j];
        else
          y[i] *= s[j];
      }
  });
}

template <class T, bool Log>
void softmax_backward_host(const T* y, const T* gy, T* dx, const row_geometry& g) {
  const index_t n = g.n, inner = g.inner;
  for_each_row_tile(g, [&](index_t b, index_t width) {
    T s[host_tile];
    for (index_t j = 0; j < width; ++j) s[j] = T(0);
    for (index_t k = 0; k < n; ++k)
      for (index_t j = 0; j < width; ++j) {
        const index_t i = b + k * inner + j;
        s[j] += Log ? gy[i] : gy[i] * y[i];
      }
    for (index_t k = 0; k < n; ++k)
      for (index_t j = 0; j < width; ++j) {
        const index_t i = b + k * inner + j;
        if (Log) {
          const T p = math::exp(y[i]);  // 0 for masked entries (y = −∞)
          dx[i] += (p == T(0) ? T(0) : gy[i]) - p * s[j];
        } else {
          dx[i] += y[i] * (gy[i] - s[j]);
        }
      }
  });
}

template <real T, backend B, bool Log>
struct softmax_node : attngan::detail::node<T, B> {
  row_geometry g;
  explicit softmax_node(row_geometry geometry) : g(geometry) {}
  void backward(const std::vector<char>& wants) override {
    if (!wants[0]) return;
    if constexpr (std::is_same_v<B, cpu>) {
      softmax_backward_host<T, Log>(this->value.data(), this->grad.data(), this->inputs[0]->grad_buffer(), g);
      return;
    }
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
  if constexpr (std::is_same_v<B, cpu>)
    softmax_host<T, Log>(x.value().data(), y.data(), m, g);
  else
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
