// attngan/optim/adam.hpp — Adam over a parameter arena, one fused pass.
//
// PyTorch's torch.optim.Adam (amsgrad off), step t = 1, 2, ...:
//   g ← g + wd·p                      (when weight_decay ≠ 0, L2 as PyTorch)
//   m ← β1·m + (1 − β1)·g
//   v ← β2·v + (1 − β2)·g²
//   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
// in PyTorch's order of operations, so ten steps agree with PyTorch to float
// rounding. AttnGAN uses lr 2e-4 and betas (0.5, 0.999) for G and the D's.
// Parameters, gradients and both moments are contiguous arenas, so a step is
// one elementwise kernel however many tensors the network has.
#pragma once

#include <cmath>
#include <cstdint>

#include "attngan/backend/primitives.hpp"
#include "attngan/core/math.hpp"
#include "attngan/core/tensor.hpp"

namespace attngan::optim {

struct adam_options {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

namespace detail {
template <class T>
struct adam_kernel {
  T* p;
  const T* g;
  T* m;
  T* v;
  T beta1, beta2, step_size, correction2_sqrt, eps, weight_decay;
  ATTNGAN_HD void operator()(index_t i) const {
    const T grad = weight_decay != T(0) ? g[i] + weight_decay * p[i] : g[i];
    m[i] = beta1 * m[i] + (T(1) - beta1) * grad;
    v[i] = beta2 * v[i] + (T(1) - beta2) * grad * grad;
    const T denom = math::sqrt(v[i]) / correction2_sqrt + eps;
    p[i] = p[i] - step_size * (m[i] / denom);
  }
};
}  // namespace detail

template <real T, backend B>
class adam {
 public:
  /// Optimises `parameters` (e.g. network::parameter_arena()) from
  /// `gradients` (network::gradient_arena()); both are kept by reference.
  adam(tensor<T, B>& parameters, tensor<T, B>& gradients, adam_options o = {})
      : p_(parameters), g_(gradients), o_(o) {
    if (!(parameters.shape() == gradients.shape()))
      throw shape_error("adam", attngan::detail::cat("parameters ", parameters.shape(), " and gradients ",
                                                     gradients.shape(), " differ"));
    if (!(o.lr >= 0) || !(o.eps >= 0) || !(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1))
      throw value_error("adam", attngan::detail::cat("invalid options: lr ", o.lr, ", betas (", o.beta1, ", ",
                                                     o.beta2, "), eps ", o.eps));
    m_ = tensor<T, B>::zeros(parameters.shape());
    v_ = tensor<T, B>::zeros(parameters.shape());
  }

  void step() {
    ++t_;
    const double c1 = 1.0 - std::pow(o_.beta1, double(t_)), c2 = 1.0 - std::pow(o_.beta2, double(t_));
    primitives::for_each_index<B>(
        p_.numel(), detail::adam_kernel<T>{p_.data(), g_.data(), m_.data(), v_.data(), T(o_.beta1), T(o_.beta2),
                                           T(o_.lr / c1), T(std::sqrt(c2)), T(o_.eps), T(o_.weight_decay)});
  }

  [[nodiscard]] std::int64_t steps() const { return t_; }
  [[nodiscard]] const adam_options& options() const { return o_; }
  void set_lr(double lr) { o_.lr = lr; }
  /// The moments, for checkpoints (restore by writing into them and set_steps).
  tensor<T, B>& first_moment() { return m_; }
  tensor<T, B>& second_moment() { return v_; }
  void set_steps(std::int64_t t) { t_ = t; }

 private:
  tensor<T, B>& p_;
  tensor<T, B>& g_;
  adam_options o_;
  tensor<T, B> m_, v_;
  std::int64_t t_ = 0;
};

}  // namespace attngan::optim
