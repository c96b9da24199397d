// attngan/models/attngan/ca.hpp — Conditioning Augmentation (CA_NET, spec §6).
//
// The sentence vector ē (B, nef) becomes a Gaussian N(μ, σ²) over a
// CondDim-wide condition, sampled by reparameterisation:
//   h = GLU(fc(ē))                      (B, 4·ncf) -> (B, 2·ncf)
//   μ = h[:, :ncf], logσ² = h[:, ncf:]  (B, ncf) each
//   c = μ + ε ⊙ exp(½·logσ²)            ε ~ N(0, I), passed in by the caller
// The noise ε is an argument so that a test, a sampler with fixed noise and
// the oracle can feed the same values; the original draws it afresh on every
// forward, inference included (spec §15.13). The KL term added to the
// generator loss with weight 1 is mean(−½(1 + logσ² − μ² − e^{logσ²})).
#pragma once

#include "attngan/autodiff/var.hpp"
#include "attngan/nn/layers.hpp"
#include "attngan/nn/module.hpp"
#include "attngan/nn/ops/loss.hpp"

namespace attngan::models {

template <real T, backend B>
struct ca_output {
  var<T, B> c;       ///< (B, ncf) the sampled condition
  var<T, B> mu;      ///< (B, ncf)
  var<T, B> logvar;  ///< (B, ncf) log σ²
};

/// CA_NET(nef -> ncf): parameter "fc.weight" (4·ncf, nef) and "fc.bias" (4·ncf).
template <int Nef, int CondDim>
struct ca_net {
  static_assert(Nef > 0 && CondDim > 0, "attngan::models::ca_net: sizes must be positive");
  static constexpr int nef = Nef;
  static constexpr int cond_dim = CondDim;

  template <real T, backend B>
  struct module {
    nn::module_of<nn::linear<Nef, 4 * CondDim>, T, B> fc;

    template <class V>
    void visit(V& v) {
      v.child("fc", fc);
    }

    /// sent (B, nef), eps (B, ncf) -> c, μ, logσ².
    ca_output<T, B> operator()(const var<T, B>& sent, const var<T, B>& eps) const {
      const var<T, B> h = nn::glu::apply(fc(sent));  // (B, 4·ncf) -> glu -> (B, 2·ncf)
      if (!(eps.shape() == shape(h.shape()[0], CondDim)))
        throw shape_error("ca_net", attngan::detail::cat("noise eps must be (", h.shape()[0], ", ", CondDim,
                                                         "), got ", eps.shape()));
      ca_output<T, B> out;
      out.mu = eval(narrow(h, 1, 0, CondDim));            // (B, ncf)
      out.logvar = eval(narrow(h, 1, CondDim, CondDim));  // (B, ncf)
      out.c = out.mu + eps * exp(out.logvar * T(0.5));    // reparameterisation
      return out;
    }
  };
};

/// The CA KL term: mean over all B·ncf entries of −½(1 + logσ² − μ² − σ²).
template <real T, backend B>
var<T, B> ca_kl_loss(const ca_output<T, B>& ca) {
  return nn::functional::ca_kl(ca.mu, ca.logvar);
}

}  // namespace attngan::models
