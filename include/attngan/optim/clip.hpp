// attngan/optim/clip.hpp — gradient-norm clipping and the parameter EMA.
//
// clip_grad_norm (torch.nn.utils.clip_grad_norm_, 2-norm): with
// n = ‖g‖₂ over all gradients, g ← g · max_norm / (n + 1e-6) when that factor
// is below 1; returns n. The DAMSM text encoder is trained with max_norm 0.25.
//
// parameter_ema: the exponential moving average AttnGAN keeps of G's
// parameters (not of its BatchNorm buffers): avg ← decay·avg + (1 − decay)·p,
// decay 0.999, one fused pass over the parameter arena.
#pragma once

#include <cmath>

#include "attngan/backend/primitives.hpp"
#include "attngan/core/tensor.hpp"

namespace attngan::optim {

namespace detail {
template <class T>
struct square_reader {
  const T* g;
  ATTNGAN_HD T operator()(index_t i) const { return g[i] * g[i]; }
};
template <class T>
struct scale_kernel {
  T* g;
  T factor;
  ATTNGAN_HD void operator()(index_t i) const { g[i] *= factor; }
};
template <class T>
struct ema_kernel {
  T* avg;
  const T* p;
  T decay;
  ATTNGAN_HD void operator()(index_t i) const { avg[i] = decay * avg[i] + (T(1) - decay) * p[i]; }
};
}  // namespace detail

/// Scales `gradients` so their 2-norm is at most max_norm; returns the norm
/// before clipping.
template <real T, backend B>
double clip_grad_norm(tensor<T, B>& gradients, double max_norm) {
  tensor<T, B> total(shape(1));
  primitives::reduce_sum<B>(total.data(), primitives::make_reduce_plan(shape(gradients.numel()), shape(1), "clip_grad_norm"),
                            detail::square_reader<T>{gradients.data()}, T(1), false);
  const double norm = std::sqrt(double(total.item()));
  const double factor = max_norm / (norm + 1e-6);
  if (factor < 1.0)
    primitives::for_each_index<B>(gradients.numel(), detail::scale_kernel<T>{gradients.data(), T(factor)});
  return norm;
}

template <real T, backend B>
class parameter_ema {
 public:
  /// Starts the average at the current parameters (AttnGAN copies G's
  /// parameters at the start of training).
  explicit parameter_ema(const tensor<T, B>& parameters, double decay = 0.999)
      : average_(parameters.clone()), decay_(decay) {
    if (!(decay >= 0 && decay <= 1))
      throw value_error("parameter_ema", attngan::detail::cat("decay ", decay, " is outside [0, 1]"));
  }
  void update(const tensor<T, B>& parameters) {
    if (!(parameters.shape() == average_.shape()))
      throw shape_error("parameter_ema", attngan::detail::cat("parameters ", parameters.shape(), " vs average ",
                                                              average_.shape()));
    primitives::for_each_index<B>(average_.numel(),
                                  detail::ema_kernel<T>{average_.data(), parameters.data(), T(decay_)});
  }
  [[nodiscard]] const tensor<T, B>& average() const { return average_; }
  tensor<T, B>& average() { return average_; }

 private:
  tensor<T, B> average_;
  double decay_;
};

}  // namespace attngan::optim
