// attngan/nn/ops/batch_norm.hpp — batch normalisation in training mode as one
// fused op on the cpu backend.
//
// Composed from expressions, training-mode BatchNorm materialises x − μ,
// makes two reductions for the statistics, and its backward walks the graph
// of (x − μ)·inv·γ + β: several passes over the activation. Here, per
// channel (the channels in parallel):
//   forward   μ and σ² (biased) summed in double, inv = 1/√(σ² + ε),
//             y = (x − μ)·inv·γ + β — the same operations, in the same
//             order and precision, as the composed form;
//   backward  with x̂ = (x − μ)·inv, sums Σdy and Σdy·x̂ in double, then
//             dβ += Σdy, dγ += Σdy·x̂,
//             dx += γ·inv·(dy − Σdy/M − x̂·Σdy·x̂/M),   M = N·H·W.
// The layer (nn/layers.hpp) takes this path on the cpu backend and the
// composed one elsewhere; tests/nn/test_layers.cpp checks that they agree.
#pragma once

#include <cmath>
#include <vector>

#include "attngan/autodiff/var.hpp"
#include "attngan/backend/cpu/cpu.hpp"

namespace attngan::nn::functional {

namespace detail {

/// x (N, C, S): channel c's values are x[(n·C + c)·S + s].
struct channel_layout {
  index_t n, c, s;
  index_t count() const { return n * s; }
};

template <real T>
struct batch_norm_node : attngan::detail::node<T, cpu> {
  channel_layout l;
  std::vector<T> mean, inv;
  batch_norm_node(channel_layout layout, std::vector<T> m, std::vector<T> i)
      : l(layout), mean(std::move(m)), inv(std::move(i)) {}

  void backward(const std::vector<char>& wants) override {
    const T* x = this->inputs[0]->value.data();
    const T* gamma = this->inputs[1]->value.data();
    const T* dy = this->grad.data();
    T* dx = wants[0] ? this->inputs[0]->grad_buffer() : nullptr;
    T* dgamma = wants[1] ? this->inputs[1]->grad_buffer() : nullptr;
    T* dbeta = wants[2] ? this->inputs[2]->grad_buffer() : nullptr;
    const index_t C = l.c, S = l.s, N = l.n;
    const double M = double(l.count());
#pragma omp parallel for schedule(static)
    for (index_t c = 0; c < C; ++c) {
      const T mu = mean[std::size_t(c)], iv = inv[std::size_t(c)];
      double sum_dy = 0, sum_dy_xhat = 0;
      for (index_t n = 0; n < N; ++n) {
        const T* xs = x + (n * C + c) * S;
        const T* gs = dy + (n * C + c) * S;
        for (index_t s = 0; s < S; ++s) {
          const T xhat = (xs[s] - mu) * iv;
          sum_dy += double(gs[s]);
          sum_dy_xhat += double(gs[s]) * double(xhat);
        }
      }
      if (dbeta) dbeta[c] += T(sum_dy);
      if (dgamma) dgamma[c] += T(sum_dy_xhat);
      if (dx) {
        const T scale = gamma[c] * iv, a = T(sum_dy / M), b = T(sum_dy_xhat / M);
        for (index_t n = 0; n < N; ++n) {
          const T* xs = x + (n * C + c) * S;
          const T* gs = dy + (n * C + c) * S;
          T* d = dx + (n * C + c) * S;
          for (index_t s = 0; s < S; ++s) d[s] += scale * (gs[s] - a - (xs[s] - mu) * iv * b);
        }
      }
    }
  }
};

}  // namespace detail

/// Training-mode batch normalisation of x (N, C) or (N, C, H, W) on the cpu
/// backend: y, and the batch mean and biased variance per channel (C values
/// each, for the running statistics).
template <real T>
struct batch_norm_result {
  var<T, cpu> y;
  tensor<T, cpu> mean, variance;
};

template <real T>
batch_norm_result<T> batch_norm_training(const var<T, cpu>& x, const var<T, cpu>& weight, const var<T, cpu>& bias,
                                         T eps) {
  const shape& s = x.shape();
  detail::channel_layout l{s[0], s[1], s.numel() / (s[0] * s[1])};
  const index_t C = l.c, S = l.s, N = l.n;
  tensor<T, cpu> mean_t{shape(C)}, var_t{shape(C)}, out{s};
  std::vector<T> mean(static_cast<std::size_t>(C)), inv(static_cast<std::size_t>(C));
  const T* xv = x.value().data();
  const T* g = weight.value().data();
  const T* b = bias.value().data();
  T* y = out.data();
  const double M = double(l.count());
#pragma omp parallel for schedule(static)
  for (index_t c = 0; c < C; ++c) {
    double sum = 0;
    for (index_t n = 0; n < N; ++n) {
      const T* xs = xv + (n * C + c) * S;
      for (index_t i = 0; i < S; ++i) sum += double(xs[i]);
    }
    const T mu = T(sum / M);
    double sq = 0;
    for (index_t n = 0; n < N; ++n) {
      const T* xs = xv + (n * C + c) * S;
      for (index_t i = 0; i < S; ++i) {
        const T d = xs[i] - mu;
        sq += double(d * d);
      }
    }
    const T variance = T(sq / M);
    const T iv = T(1) / std::sqrt(variance + eps);
    mean[std::size_t(c)] = mu;
    inv[std::size_t(c)] = iv;
    mean_t.data()[c] = mu;
    var_t.data()[c] = variance;
    const T gc = g[c], bc = b[c];
    for (index_t n = 0; n < N; ++n) {
      const T* xs = xv + (n * C + c) * S;
      T* ys = y + (n * C + c) * S;
      for (index_t i = 0; i < S; ++i) ys[i] = (xs[i] - mu) * iv * gc + bc;
    }
  }
  var<T, cpu> result(attngan::detail::make_result<detail::batch_norm_node<T>>(
      std::move(out), {x.node(), weight.node(), bias.node()}, "batch_norm", l, std::move(mean), std::move(inv)));
  return {std::move(result), std::move(mean_t), std::move(var_t)};
}

}  // namespace attngan::nn::functional
