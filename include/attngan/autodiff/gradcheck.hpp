// attngan/autodiff/gradcheck.hpp — numerical verification of gradients.
//
// gradcheck(f, inputs) compares the gradients that backward computes for
// f(inputs) with central differences (f(x + h) − f(x − h)) / 2h in double
// precision. To check the full Jacobian at the cost of one backward pass, the
// output is projected on a fixed random direction v: L = Σ f(x)·v, so
// dL/dx = Jᵀv, and each input element is perturbed once in each direction.
// An element passes when |analytic − numeric| ≤ atol + rtol·|numeric|.
// This is public API: a user-written layer is checked the same way the
// library's own are.
#pragma once

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "attngan/autodiff/backward.hpp"
#include "attngan/autodiff/reduce.hpp"
#include "attngan/autodiff/var.hpp"
#include "attngan/core/philox.hpp"

namespace attngan {

struct gradcheck_options {
  double step = 1e-6;      ///< h of the central difference
  double atol = 1e-5;
  double rtol = 1e-3;
  std::uint64_t seed = 7;  ///< seed of the projection direction
  int max_reported = 5;    ///< mismatches listed in the report
};

struct gradcheck_result {
  bool ok = true;
  double max_abs_error = 0;
  index_t checked = 0;  ///< input elements compared
  std::string report;   ///< the first mismatches, one per line
  explicit operator bool() const { return ok; }
};

/// f: const std::vector<var<double, B>>& -> var<double, B>. Every input is
/// checked; inputs are cloned, so the caller's tensors are left unchanged.
template <backend B, class F>
gradcheck_result gradcheck(F&& f, const std::vector<const tensor<double, B>*>& inputs,
                           const gradcheck_options& opt = {}) {
  using V = var<double, B>;
  std::vector<V> xs;
  xs.reserve(inputs.size());
  for (const auto* t : inputs) xs.push_back(V::leaf(t->clone(), true));

  // Analytic: backward of L = Σ f(x)·v.
  V out = f(xs);
  const shape out_shape = out.shape();
  std::vector<double> v(std::size_t(out_shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = philox::normal<double>(opt.seed, 0, index_t(i));
  V direction = V::leaf(tensor<double, B>::from_host(out_shape, v));
  V loss = sum(out * direction);
  backward(loss);

  auto projected = [&]() {
    no_grad_guard guard;
    V o = f(xs);
    if (!(o.shape() == out_shape))
      throw shape_error("gradcheck", detail::cat("f returned shape ", o.shape(), ", first call gave ", out_shape));
    std::vector<double> y = o.value().to_vector();
    double s = 0;
    for (std::size_t i = 0; i < y.size(); ++i) s += y[i] * v[i];
    return s;
  };

  gradcheck_result r;
  std::ostringstream report;
  int reported = 0;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    std::vector<double> analytic = xs[k].has_grad() ? xs[k].grad().to_vector()
                                                    : std::vector<double>(std::size_t(xs[k].numel()), 0.0);
    double* data = const_cast<double*>(xs[k].value().data());
    for (index_t e = 0; e < xs[k].numel(); ++e) {
      double original;
      B::copy_to_host(&original, data + e, sizeof(double));
      double plus = original + opt.step, minus = original - opt.step;
      B::copy_from_host(data + e, &plus, sizeof(double));
      double f_plus = projected();
      B::copy_from_host(data + e, &minus, sizeof(double));
      double f_minus = projected();
      B::copy_from_host(data + e, &original, sizeof(double));
      double numeric = (f_plus - f_minus) / (2 * opt.step);
      double err = std::abs(analytic[std::size_t(e)] - numeric);
      ++r.checked;
      if (!(err <= opt.atol + opt.rtol * std::abs(numeric))) {  // NaN fails too
        r.ok = false;
        if (reported++ < opt.max_reported)
          report << "input " << k << " " << xs[k].shape() << " element " << e << ": analytic "
                 << analytic[std::size_t(e)] << ", numeric " << numeric << "\n";
      }
      if (err > r.max_abs_error || std::isnan(err)) r.max_abs_error = err;
    }
  }
  r.report = report.str();
  return r;
}

}  // namespace attngan
