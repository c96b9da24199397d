// attngan/nn/ops/batch_norm.hpp — batch normalisation in training mode as one
// fused op.
//
// Composed from expressions, training-mode BatchNorm materialises x − μ,
// makes two reductions for the statistics, and its backward walks the graph
// of (x − μ)·inv·γ + β: several passes over the activation, and one
// reduction over the whole tensor for each broadcast operand (γ, β, inv, μ).
// Here, per channel:
//   forward   μ and σ² (biased) summed in double, inv = 1/√(σ² + ε),
//             y = (x − μ)·inv·γ + β — the same operations, in the same
//             order and precision, as the composed form;
//   backward  with x̂ = (x − μ)·inv, sums Σdy and Σdy·x̂ in double, then
//             dβ += Σdy, dγ += Σdy·x̂,
//             dx += γ·inv·(dy − Σdy/M − x̂·Σdy·x̂/M),   M = N·H·W.
// Two implementations of the same op:
//   cpu       one OpenMP loop over the channels, each channel's values in
//             cache while its sums and outputs are made;
//   others    (cuda, thrust_host) the backend primitives: forward two
//             reductions (μ, σ²), a C-element pass (inv) and one elementwise
//             pass (y); backward two reductions (Σdy, Σdy·x̂), a C-element
//             pass (dγ, dβ) and one elementwise pass (dx). The functors are
//             __host__ __device__, so CI runs the GPU's code on the host
//             (tests/backend/parity compares it with the cpu op).
// The layer (nn/layers.hpp) takes this op on every backend;
// tests/nn/test_layers.cpp checks the cpu op against the composed form.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "attngan/autodiff/var.hpp"
#include "attngan/backend/cpu/cpu.hpp"
#include "attngan/backend/primitives.hpp"
#include "attngan/core/math.hpp"

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

/// Training-mode batch normalisation of x (N, C) or (N, C, H, W): y, and the
/// batch mean and biased variance per channel (C values each, for the
/// running statistics).
template <real T, backend B = cpu>
struct batch_norm_result {
  var<T, B> y;
  tensor<T, B> mean, variance;
};

/// The cpu backend's op.
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

// ---------------------------------------------------------------- other backends

namespace detail {

/// The channel of flat index i of x (N, C, S): (i / S) mod C, as two
/// multiply-and-shifts while i < 2^31 (every activation AttnGAN has), a
/// division and a modulo beyond.
struct channel_of {
  index_t s = 1, c = 1;
  fast_divisor by_s, by_c;
  bool fast = false;

  static channel_of make(const channel_layout& l) {
    channel_of f;
    f.s = l.s;
    f.c = l.c;
    f.by_s = fast_divisor::make(l.s);
    f.by_c = fast_divisor::make(l.c);
    f.fast = l.s < fast_index_limit && l.c < fast_index_limit;
    return f;
  }
  ATTNGAN_HD index_t operator()(index_t i) const {
    if (fast && i < fast_index_limit) {
      const std::uint64_t q = by_s.divide(std::uint64_t(i));
      return index_t(q - by_c.divide(q) * std::uint64_t(c));
    }
    return (i / s) % c;
  }
};

template <class T>
struct bn_value {  // x[i]: the sum behind μ, and Σdy
  const T* x;
  ATTNGAN_HD T operator()(index_t i) const { return x[i]; }
};

template <class T>
struct bn_centred_square {  // (x − μ)²: the sum behind σ²
  const T* x;
  const T* mean;
  channel_of ch;
  ATTNGAN_HD T operator()(index_t i) const {
    const T d = x[i] - mean[ch(i)];
    return d * d;
  }
};

template <class T>
struct bn_inverse_std {  // per channel: inv = 1/√(σ² + ε)
  const T* variance;
  T* inv;
  T eps;
  ATTNGAN_HD void operator()(index_t c) const { inv[c] = T(1) / math::sqrt(variance[c] + eps); }
};

/// x̂ = (x − μ)·inv at flat index i of channel c: what the forward pass,
/// the dγ sum and the input gradient all read.
template <class T>
struct bn_normalised {
  const T* x;
  const T* mean;
  const T* inv;
  channel_of ch;
  ATTNGAN_HD T operator()(index_t i, index_t c) const { return (x[i] - mean[c]) * inv[c]; }
};

template <class T>
struct bn_normalise {  // y = x̂·γ + β
  bn_normalised<T> xhat;
  const T* gamma;
  const T* beta;
  T* y;
  ATTNGAN_HD void operator()(index_t i) const {
    const index_t c = xhat.ch(i);
    y[i] = xhat(i, c) * gamma[c] + beta[c];
  }
};

template <class T>
struct bn_dy_xhat {  // dy·x̂: the sum behind dγ
  bn_normalised<T> xhat;
  const T* dy;
  ATTNGAN_HD T operator()(index_t i) const { return dy[i] * xhat(i, xhat.ch(i)); }
};

template <class T>
struct bn_parameter_grads {  // per channel: dγ += Σdy·x̂, dβ += Σdy (either may be null)
  const T* sum_dy;
  const T* sum_dy_xhat;
  T* dgamma;
  T* dbeta;
  ATTNGAN_HD void operator()(index_t c) const {
    if (dgamma) dgamma[c] += sum_dy_xhat[c];
    if (dbeta) dbeta[c] += sum_dy[c];
  }
};

template <class T>
struct bn_input_grad {  // dx += γ·inv·(dy − Σdy/M − x̂·Σdy·x̂/M)
  bn_normalised<T> xhat;
  const T* dy;
  const T* gamma;
  const T* sum_dy;
  const T* sum_dy_xhat;
  T* dx;
  T inv_count;
  ATTNGAN_HD void operator()(index_t i) const {
    const index_t c = xhat.ch(i);
    const T a = sum_dy[c] * inv_count, b = sum_dy_xhat[c] * inv_count;
    dx[i] += gamma[c] * xhat.inv[c] * (dy[i] - a - xhat(i, c) * b);
  }
};

/// Σ over N and S of ev, per channel, into out (C values).
template <backend B, class T, class Evaluator>
void channel_sums(T* out, const channel_layout& l, const Evaluator& ev, T alpha) {
  const primitives::reduce_plan plan =
      primitives::make_reduce_plan(shape(l.n, l.c, l.s), shape(1, l.c, 1), "batch_norm");
  primitives::reduce_sum<B>(out, plan, ev, alpha, false);
}

template <real T, backend B>
struct batch_norm_primitives_node : attngan::detail::node<T, B> {
  channel_layout l;
  tensor<T, B> mean, inv;
  batch_norm_primitives_node(channel_layout layout, tensor<T, B> m, tensor<T, B> i)
      : l(layout), mean(std::move(m)), inv(std::move(i)) {}

  void backward(const std::vector<char>& wants) override {
    const T* x = this->inputs[0]->value.data();
    const T* gamma = this->inputs[1]->value.data();
    const T* dy = this->grad.data();
    const bn_normalised<T> xhat{x, mean.data(), inv.data(), channel_of::make(l)};
    tensor<T, B> sums{shape(2, l.c)};  // Σdy, Σdy·x̂
    T* sum_dy = sums.data();
    T* sum_dy_xhat = sums.data() + l.c;
    channel_sums<B>(sum_dy, l, bn_value<T>{dy}, T(1));
    channel_sums<B>(sum_dy_xhat, l, bn_dy_xhat<T>{xhat, dy}, T(1));
    if (wants[1] || wants[2])
      primitives::for_each_index<B>(
          l.c, bn_parameter_grads<T>{sum_dy, sum_dy_xhat, wants[1] ? this->inputs[1]->grad_buffer() : nullptr,
                                     wants[2] ? this->inputs[2]->grad_buffer() : nullptr});
    if (wants[0])
      primitives::for_each_index<B>(
          this->value.numel(),
          bn_input_grad<T>{xhat, dy, gamma, sum_dy, sum_dy_xhat, this->inputs[0]->grad_buffer(),
                           T(1.0 / double(l.count()))});
  }
};

}  // namespace detail

/// The op on every other backend (cuda, thrust_host), from the backend
/// primitives: the same arithmetic as the cpu op, the sums in double.
template <real T, backend B>
  requires(!std::is_same_v<B, cpu>)
batch_norm_result<T, B> batch_norm_training(const var<T, B>& x, const var<T, B>& weight, const var<T, B>& bias,
                                            T eps) {
  const shape& s = x.shape();
  const detail::channel_layout l{s[0], s[1], s.numel() / (s[0] * s[1])};
  const detail::channel_of ch = detail::channel_of::make(l);
  tensor<T, B> mean_t{shape(l.c)}, var_t{shape(l.c)}, inv_t{shape(l.c)}, out{s};
  const T* xv = x.value().data();
  const T inv_count = T(1.0 / double(l.count()));
  detail::channel_sums<B>(mean_t.data(), l, detail::bn_value<T>{xv}, inv_count);
  detail::channel_sums<B>(var_t.data(), l, detail::bn_centred_square<T>{xv, mean_t.data(), ch}, inv_count);
  primitives::for_each_index<B>(l.c, detail::bn_inverse_std<T>{var_t.data(), inv_t.data(), eps});
  primitives::for_each_index<B>(s.numel(), detail::bn_normalise<T>{{xv, mean_t.data(), inv_t.data(), ch},
                                                                   weight.value().data(), bias.value().data(),
                                                                   out.data()});
  tensor<T, B> mean_kept = mean_t.view(mean_t.shape());  // the node keeps μ for the backward
  var<T, B> result(attngan::detail::make_result<detail::batch_norm_primitives_node<T, B>>(
      std::move(out), {x.node(), weight.node(), bias.node()}, "batch_norm", l, std::move(mean_kept),
      std::move(inv_t)));
  return {std::move(result), std::move(mean_t), std::move(var_t)};
}

}  // namespace attngan::nn::functional
