// attngan/nn/ops/loss.hpp — the losses AttnGAN trains with, and cosine
// similarity. Each is one or two fused expressions with reductions, so the
// gradients come from autodiff and agree with PyTorch's formulas:
//   bce(p, y)             = mean(−(y·max(log p, −100) + (1 − y)·max(log(1 − p), −100)))
//                           (nn.BCELoss, logs clamped at −100 as PyTorch does,
//                           ∂/∂p = (p − y) / max(p(1 − p), 1e−12): finite at p = 0, 1)
//   bce_with_logits(x, y) = mean(max(x, 0) − x·y + log(1 + e^{−|x|}))  (stable form)
//   cross_entropy(x, t)   = mean_n(−log_softmax(x)[n, t_n])              (nn.CrossEntropyLoss)
//   ca_kl(μ, logσ²)       = −½ · mean(1 + logσ² − μ² − e^{logσ²})        (AttnGAN's KL_loss)
//   cosine_similarity(a, b, axis) = Σ a·b / max(‖a‖·‖b‖, 1e−8)       (AttnGAN's, along axis)
#pragma once

#include <cmath>
#include <vector>

#include "attngan/autodiff/reduce.hpp"
#include "attngan/autodiff/var.hpp"
#include "attngan/nn/ops/softmax.hpp"

namespace attngan::nn::functional {

namespace detail {
/// Losses are one number: checking it costs nothing and turns a NaN deep in
/// training into an error that names the loss.
template <real T, backend B>
var<T, B> finite_loss(var<T, B> loss, const char* op) {
  const double v = double(loss.item());
  if (!std::isfinite(v))
    throw value_error(op, attngan::detail::cat("the loss is ", attngan::detail::number_text(v),
                                               ": an input contains NaN or infinity",
                                               " (or, for bce, a probability outside [0, 1])"));
  return loss;
}
}  // namespace detail

template <real T, backend B>
var<T, B> bce(const var<T, B>& p, const var<T, B>& y) {
  if (!(p.shape() == y.shape()))
    throw shape_error("bce", attngan::detail::cat("probabilities ", p.shape(), " and targets ", y.shape(), " differ"));
  return detail::finite_loss(mean(attngan::detail::make_binary(fn::binary_cross_entropy{}, p, y)), "bce");
}

template <real T, backend B>
var<T, B> bce_with_logits(const var<T, B>& x, const var<T, B>& y) {
  if (!(x.shape() == y.shape()))
    throw shape_error("bce_with_logits", attngan::detail::cat("logits ", x.shape(), " and targets ", y.shape(),
                                                              " differ"));
  return detail::finite_loss(mean(max(x, T(0)) - x * y + log(T(1) + exp(-abs(x)))), "bce_with_logits");
}

/// logits (N, C), labels N class indices in [0, C).
template <real T, backend B>
var<T, B> cross_entropy(const var<T, B>& logits, const std::vector<index_t>& labels) {
  const shape& s = logits.shape();
  if (s.rank() != 2 || s[0] != index_t(labels.size()))
    throw shape_error("cross_entropy", attngan::detail::cat("logits ", s, " need (N, C) with N = ", labels.size(),
                                                            " labels"));
  std::vector<T> one_hot(static_cast<std::size_t>(s.numel()), T(0));
  for (std::size_t n = 0; n < labels.size(); ++n) {
    if (labels[n] < 0 || labels[n] >= s[1])
      throw value_error("cross_entropy", attngan::detail::cat("label ", labels[n], " of sample ", n,
                                                              " is outside [0, ", s[1], ")"));
    one_hot[n * std::size_t(s[1]) + std::size_t(labels[n])] = T(1);
  }
  const var<T, B> picks = var<T, B>::leaf(tensor<T, B>::from_host(s, one_hot));
  const var<T, B> lp = log_softmax(logits, 1);
  return detail::finite_loss(var<T, B>(sum(-(lp * picks)) * (T(1) / T(s[0]))), "cross_entropy");
}

template <real T, backend B>
var<T, B> ca_kl(const var<T, B>& mu, const var<T, B>& logvar) {
  if (!(mu.shape() == logvar.shape()))
    throw shape_error("ca_kl", attngan::detail::cat("mu ", mu.shape(), " and logvar ", logvar.shape(), " differ"));
  return mean(T(1) + logvar - square(mu) - exp(logvar)) * T(-0.5);
}

template <real T, backend B>
var<T, B> cosine_similarity(const var<T, B>& a, const var<T, B>& b, int axis, T eps = T(1e-8)) {
  if (!(a.shape() == b.shape()))
    throw shape_error("cosine_similarity", attngan::detail::cat("shapes ", a.shape(), " and ", b.shape(), " differ"));
  const var<T, B> dot = sum(a * b, {axis});
  const var<T, B> na = sqrt(sum(square(a), {axis})), nb = sqrt(sum(square(b), {axis}));
  return dot / max(na * nb, eps);
}

}  // namespace attngan::nn::functional
