// attngan/models/attngan/gan_losses.hpp — the adversarial losses of the
// original code (spec §9), which differ from the paper's (spec §15.2–15.4).
//
// BCE is nn.BCELoss on the heads' sigmoid outputs, mean over the batch, with
// targets exactly 1 and 0. For stage i, real x, fake x̂ (detached), and the
// sentence features ē of the text encoder (not the CA code):
//   L_D = ½·[BCE(D_u(x), 1) + BCE(D_c(x, ē), 1)]
//       + ⅓·[BCE(D_u(x̂), 0) + BCE(D_c(x̂, ē), 0) + BCE(D_c(x[0..B−2], ē[1..B−1]), 0)]
// the last term pairing real image k with the caption of sample k + 1
// (mismatched captions, B − 1 pairs). The trunk runs once on the real batch
// and once on the fakes, and the conditional head three times, so every call
// normalises with its own batch statistics, as in the original.
// The generator's loss is
//   L_G = Σ_i [BCE(D_u^i(x̂_i), 1) + BCE(D_c^i(x̂_i, ē), 1)]
//       + λ·(w_loss0 + w_loss1 + s_loss0 + s_loss1)   (DAMSM on the last stage, λ = 5)
//       + KL(μ, logσ²)                                 (weight 1)
// The DAMSM word and sentence terms come from damsm.hpp; generator_loss takes
// their sum as a var, so this header does not depend on the encoders.
#pragma once

#include "attngan/autodiff/var.hpp"
#include "attngan/nn/ops/loss.hpp"

namespace attngan::models {

/// BCE of probabilities p (B,) against the constant target (1 or 0).
template <real T, backend B>
var<T, B> bce_target(const var<T, B>& p, T target) {
  return nn::functional::bce(p, var<T, B>::leaf(tensor<T, B>::full(p.shape(), target)));
}

template <real T, backend B>
struct discriminator_loss_terms {
  var<T, B> total;                  ///< L_D
  var<T, B> real_uncond, real_cond; ///< BCE(D_u(x), 1), BCE(D_c(x, ē), 1)
  var<T, B> fake_uncond, fake_cond; ///< BCE(D_u(x̂), 0), BCE(D_c(x̂, ē), 0)
  var<T, B> wrong_cond;             ///< BCE(D_c(x[:-1], ē[1:]), 0)
};

/// The loss of one discriminator (a module of discriminator<...>). The fake
/// images are detached here: L_D never reaches the generator.
template <class D, real T, backend B>
discriminator_loss_terms<T, B> discriminator_loss(const D& d, const var<T, B>& real, const var<T, B>& fake,
                                                  const var<T, B>& sent) {
  const index_t batch = real.shape()[0];
  if (batch < 2)
    throw value_error("discriminator_loss", attngan::detail::cat("the mismatched-caption term needs a batch of at "
                                                                 "least 2, got ", real.shape()));
  const var<T, B> real_code = d(real);           // (B, 8ndf, 4, 4)
  const var<T, B> fake_code = d(fake.detach());  // (B, 8ndf, 4, 4)
  discriminator_loss_terms<T, B> l;
  l.real_cond = bce_target(d.COND_DNET(real_code, sent), T(1));
  l.fake_cond = bce_target(d.COND_DNET(fake_code, sent), T(0));
  const var<T, B> wrong_code = eval(narrow(real_code, 0, 0, batch - 1));  // images 0 .. B−2
  const var<T, B> wrong_sent = eval(narrow(sent, 0, 1, batch - 1));       // captions 1 .. B−1
  l.wrong_cond = bce_target(d.COND_DNET(wrong_code, wrong_sent), T(0));
  l.real_uncond = bce_target(d.UNCOND_DNET(real_code), T(1));
  l.fake_uncond = bce_target(d.UNCOND_DNET(fake_code), T(0));
  l.total = (l.real_uncond + l.real_cond) * T(0.5) + (l.fake_uncond + l.fake_cond + l.wrong_cond) * (T(1) / T(3));
  return l;
}

template <real T, backend B>
struct generator_adversarial_terms {
  var<T, B> total;   ///< uncond + cond
  var<T, B> uncond;  ///< BCE(D_u(x̂), 1)
  var<T, B> cond;    ///< BCE(D_c(x̂, ē), 1)
};

/// One stage's adversarial term of L_G, through the (not detached) fake.
template <class D, real T, backend B>
generator_adversarial_terms<T, B> generator_adversarial_loss(const D& d, const var<T, B>& fake,
                                                             const var<T, B>& sent) {
  const var<T, B> code = d(fake);
  generator_adversarial_terms<T, B> l;
  l.cond = bce_target(d.COND_DNET(code, sent), T(1));
  l.uncond = bce_target(d.UNCOND_DNET(code), T(1));
  l.total = l.uncond + l.cond;
  return l;
}

/// L_G = adversarial (summed over stages) + λ·damsm + kl_weight·KL, where
/// damsm = w_loss0 + w_loss1 + s_loss0 + s_loss1 of the last stage's fake
/// (unweighted; see damsm.hpp) and kl the CA term (ca_kl_loss).
template <real T, backend B>
var<T, B> generator_loss(const var<T, B>& adversarial, const var<T, B>& damsm, const var<T, B>& kl, double lambda,
                         double kl_weight = 1.0) {
  return adversarial + damsm * T(lambda) + kl * T(kl_weight);
}

}  // namespace attngan::models
