// attngan/models/attngan/trainer.hpp — one AttnGAN training iteration in the
// original order (spec §10.3, §10.4) and inference with the generator.
//
// gan_trainer<Preset, ImageEncoderSpec, T, B> owns
//   G            generator_for<Preset>, train mode, Adam(lr_g, (β1, β2));
//                lr_g, lr_d and λ are run-time (gan_hyperparameters),
//                the preset's by default
//   D_i          discriminator_for<Preset, i> for every stage, train mode,
//                one Adam(lr_d, (β1, β2)) each
//   EMA          optim::parameter_ema of G's parameters (decay
//                hyper.ema_decay, the preset's 0.999 by default; buffers not
//                averaged), started at G's parameters
//   text encoder text_encoder<n_words, word_dim, nef>, eval mode, frozen
//   image enc.   ImageEncoderSpec (small_image_encoder or
//                inception_image_encoder with nef = Preset::nef), eval
//                mode, frozen
// and runs one iteration as the original trainer does:
//   1. words, sentence = text encoder(captions) without a graph; the word
//      mask is 1 past each caption's length;
//   2. z ~ N(0, I) (B, z_dim) and the CA noise ε ~ N(0, I) (B, ncf), drawn
//      from the trainer's attngan::generator unless given;
//   3. G forward -> one image per stage, μ, logσ²;
//   4. for each stage i: L_D^i on the detached fake (discriminator_loss),
//      backward into D_i only, Adam step of D_i;
//   5. L_G = Σ_i adversarial_i (through the just-updated D's, in train mode)
//      + λ·(w0 + w1 + s0 + s1) of the last image through the frozen image
//      encoder + kl_weight·KL, backward into G's parameters only, Adam step
//      of G;
//   6. EMA update of G's parameters.
// Step 5's backward is restricted to G's parameters, so no gradient reaches
// the D's or the encoders. The oracle's freeze_d_in_g_step switch only
// chooses whether PyTorch computes (and then discards) D gradients in the G
// step; the D's are not stepped there either way, so the update is the same
// for both settings and the switch has nothing to do here.
//
// Everything goes through var expressions and the library's ops, so the
// trainer is generic over the backend.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "attngan/autodiff/backward.hpp"
#include "attngan/autodiff/var.hpp"
#include "attngan/core/error.hpp"
#include "attngan/core/random.hpp"
#include "attngan/models/attngan/attention.hpp"
#include "attngan/models/attngan/ca.hpp"
#include "attngan/models/attngan/config.hpp"
#include "attngan/models/attngan/damsm.hpp"
#include "attngan/models/attngan/discriminator.hpp"
#include "attngan/models/attngan/gan_losses.hpp"
#include "attngan/models/attngan/generator.hpp"
#include "attngan/models/attngan/image_encoder.hpp"
#include "attngan/models/attngan/text_encoder.hpp"
#include "attngan/models/attngan/weights_init.hpp"
#include "attngan/nn/module.hpp"
#include "attngan/optim/adam.hpp"
#include "attngan/optim/clip.hpp"

namespace attngan::models {

/// The loss terms of one iteration, as numbers (the graph is gone).
struct gan_step_losses {
  struct d_terms {
    double total;                    ///< L_D of the stage (errD)
    double real_uncond, real_cond;   ///< BCE(D_u(x), 1), BCE(D_c(x, ē), 1)
    double fake_uncond, fake_cond;   ///< BCE(D_u(x̂), 0), BCE(D_c(x̂, ē), 0)
    double wrong_cond;               ///< BCE(D_c(x[:-1], ē[1:]), 0)
  };
  std::vector<d_terms> d;            ///< one per stage, before its update
  std::vector<double> g_uncond;      ///< per stage, BCE(D_u(x̂), 1) through the updated D
  std::vector<double> g_cond;        ///< per stage, BCE(D_c(x̂, ē), 1)
  double w_loss0 = 0, w_loss1 = 0;   ///< DAMSM word terms of the last image (unweighted)
  double s_loss0 = 0, s_loss1 = 0;   ///< DAMSM sentence terms (unweighted)
  double lambda = 0;                 ///< the DAMSM weight they enter L_G with
  double kl = 0;                     ///< the CA KL term, times kl_weight
  double g_total = 0;                ///< L_G (errG)

  /// The oracle's reported parts: g_i = uncond + cond, λ(w0 + w1), λ(s0 + s1).
  [[nodiscard]] double g_stage(std::size_t i) const { return g_uncond[i] + g_cond[i]; }
  [[nodiscard]] double w_loss() const { return lambda * (w_loss0 + w_loss1); }
  [[nodiscard]] double s_loss() const { return lambda * (s_loss0 + s_loss1); }
};

/// The run-time hyperparameters of gan_trainer. Default-constructed from a
/// preset they are the original's values (TRAIN.GENERATOR_LR,
/// TRAIN.DISCRIMINATOR_LR, TRAIN.SMOOTH.LAMBDA, the 0.999 of G's running
/// average); a caller may change them without recompiling (short CPU runs,
/// COCO's λ = 50, a shorter average for a run of a thousand steps).
struct gan_hyperparameters {
  double lr_g = 2e-4;        ///< Adam learning rate of G
  double lr_d = 2e-4;        ///< Adam learning rate of every D
  double lambda = 5.0;       ///< DAMSM weight in L_G
  double ema_decay = 0.999;  ///< decay of the running average of G's parameters

  template <class Preset>
  static constexpr gan_hyperparameters of() {
    return {Preset::lr_g, Preset::lr_d, Preset::lambda, Preset::ema_decay};
  }
  /// Throws value_error unless both rates are positive and finite, λ is
  /// finite and not negative, and the decay lies in [0, 1).
  void check(const char* where) const {
    using std::isfinite;
    if (!isfinite(lr_g) || lr_g <= 0 || !isfinite(lr_d) || lr_d <= 0 || !isfinite(lambda) || lambda < 0)
      throw value_error(where, attngan::detail::cat("learning rates must be positive and finite and the DAMSM "
                                                    "weight finite and not negative; got lr_g ",
                                                    attngan::detail::number_text(lr_g), ", lr_d ",
                                                    attngan::detail::number_text(lr_d), ", lambda ",
                                                    attngan::detail::number_text(lambda)));
    if (!(ema_decay >= 0 && ema_decay < 1))
      throw value_error(where, attngan::detail::cat("the decay of G's running average must lie in [0, 1); got ",
                                                    attngan::detail::number_text(ema_decay)));
  }
};

template <class Preset>
using text_encoder_for = text_encoder<Preset::n_words, Preset::word_dim, Preset::nef>;

template <class Preset, class ImageEncoderSpec, real T = float, backend B = cpu>
class gan_trainer {
  static constexpr int stages = Preset::branch_num;
  static_assert(ImageEncoderSpec::nef == Preset::nef,
                "attngan::models::gan_trainer: the image encoder's nef differs from the preset's");

  template <class Seq>
  struct d_list;
  template <std::size_t... I>
  struct d_list<std::index_sequence<I...>> {
    using type = std::tuple<std::unique_ptr<nn::network<discriminator_for<Preset, int(I)>, T, B>>...>;
  };

 public:
  using g_network = nn::network<generator_for<Preset>, T, B>;
  using text_network = nn::network<text_encoder_for<Preset>, T, B>;
  using image_network = nn::network<ImageEncoderSpec, T, B>;
  using d_networks = typename d_list<std::make_index_sequence<stages>>::type;
  template <std::size_t I>
  using d_network = nn::network<discriminator_for<Preset, int(I)>, T, B>;

  /// Builds every network from `rng` (PyTorch's default initialisation),
  /// then, with orthogonal_init, the original weights_init on G and the D's.
  /// Later noise comes from a generator seeded from `rng`'s stream. `hyper`
  /// sets the learning rates and λ (default: the preset's).
  explicit gan_trainer(attngan::generator& rng, bool orthogonal_init = true,
                       const gan_hyperparameters& hyper = gan_hyperparameters::of<Preset>())
      : hyper_((hyper.check("gan_trainer"), hyper)),
        g_(rng),
        text_(rng),
        image_(rng),
        noise_(rng.seed() ^ 0x5eed'a77a'6a11ull, rng.offset()) {
    make_ds(rng, std::make_index_sequence<stages>{});
    if (orthogonal_init) {
      weights_init(g_, rng);
      for_each_d([&](auto& d, std::size_t) { weights_init(d, rng); });
    }
    g_.train();
    for_each_d([&](auto& d, std::size_t) { d.train(); });
    text_.eval();
    image_.eval();
    const optim::adam_options og{hyper_.lr_g, Preset::beta1, Preset::beta2, 1e-8, 0.0};
    const optim::adam_options od{hyper_.lr_d, Preset::beta1, Preset::beta2, 1e-8, 0.0};
    g_adam_.emplace(g_.parameter_arena(), g_.gradient_arena(), og);
    for_each_d([&](auto& d, std::size_t i) { d_adam_[i].emplace(d.parameter_arena(), d.gradient_arena(), od); });
    ema_.emplace(g_.parameter_arena(), hyper_.ema_decay);
  }
  gan_trainer(const gan_trainer&) = delete;
  gan_trainer& operator=(const gan_trainer&) = delete;

  [[nodiscard]] const gan_hyperparameters& hyperparameters() const { return hyper_; }

  g_network& generator_network() { return g_; }
  text_network& text_encoder_network() { return text_; }
  image_network& image_encoder_network() { return image_; }
  template <std::size_t I>
  d_network<I>& discriminator() {
    return *std::get<I>(ds_);
  }
  optim::parameter_ema<T, B>& average() { return *ema_; }
  optim::adam<T, B>& generator_optimiser() { return *g_adam_; }
  optim::adam<T, B>& discriminator_optimiser(std::size_t i) { return *d_adam_.at(i); }
  attngan::generator& noise_generator() { return noise_; }

  /// Restarts the EMA at G's current parameters (after loading weights).
  void restart_average() { ema_.emplace(g_.parameter_arena(), hyper_.ema_decay); }

  /// What one iteration carries from phase to phase: the text features,
  /// G's outputs (with their graph) and the loss terms recorded so far.
  struct iteration {
    var<T, B> words, sent;     ///< (B, nef, T), (B, nef), no graph
    tensor<T, B> mask;         ///< (B, T), 1 past each caption's length
    std::vector<index_t> lengths;
    std::vector<std::int64_t> class_ids;
    generator_output<T, B> fake;
    gan_step_losses losses;
  };

  /// One training iteration: forward(), update_discriminators(),
  /// update_generator(), update_average(). reals: one (B, 3, S_i, S_i) batch
  /// per stage; captions (B, L) token ids, 0-padded, lengths[b] in [1, L];
  /// class_ids one per sample or empty (no same-class masking in the DAMSM
  /// terms); z (B, z_dim) and ca_eps (B, ncf) drawn from the trainer's
  /// generator when not given.
  gan_step_losses step(const std::vector<tensor<T, B>>& reals, const tensor<std::int64_t, B>& captions,
                       const std::vector<index_t>& lengths, const std::vector<std::int64_t>& class_ids = {},
                       std::optional<tensor<T, B>> z = std::nullopt,
                       std::optional<tensor<T, B>> ca_eps = std::nullopt) {
    iteration it = forward(captions, lengths, class_ids, std::move(z), std::move(ca_eps));
    update_discriminators(it, reals);
    update_generator(it);
    update_average();
    return std::move(it.losses);
  }

  /// Phase 1: the frozen text encoder without a graph, the noise, G forward.
  iteration forward(const tensor<std::int64_t, B>& captions, const std::vector<index_t>& lengths,
                    const std::vector<std::int64_t>& class_ids = {}, std::optional<tensor<T, B>> z = std::nullopt,
                    std::optional<tensor<T, B>> ca_eps = std::nullopt) {
    iteration it = encode_text(captions, lengths);
    it.class_ids = class_ids;
    const auto [zv, eps] = noise(captions.shape()[0], std::move(z), std::move(ca_eps));
    it.fake = g_(zv, it.sent, it.words, &it.mask, eps, Preset::attn_mask_mode);  // one image per stage
    return it;
  }

  /// Phase 2: every D on its real batch and the detached fake, one Adam step each.
  void update_discriminators(iteration& it, const std::vector<tensor<T, B>>& reals) {
    if (reals.size() != std::size_t(stages))
      throw value_error("gan_trainer::update_discriminators",
                        attngan::detail::cat(reals.size(), " real batches for ", stages, " stages"));
    it.losses.d.resize(std::size_t(stages));
    for_each_d([&](auto& d, std::size_t i) {
      d.zero_grad();
      const var<T, B> real = var<T, B>::leaf(reals[i].view(reals[i].shape()));
      const auto l = discriminator_loss(d.module(), real, it.fake.images[i], it.sent);
      backward(l.total, d.parameters());
      d_adam_[i]->step();
      it.losses.d[i] = {double(l.total.item()),       double(l.real_uncond.item()), double(l.real_cond.item()),
                        double(l.fake_uncond.item()), double(l.fake_cond.item()),   double(l.wrong_cond.item())};
    });
  }

  /// Phase 3: L_G through the just-updated D's, the frozen image encoder and
  /// the KL term; backward into G's parameters only; Adam step of G.
  void update_generator(iteration& it) {
    gan_step_losses& r = it.losses;
    g_.zero_grad();
    std::optional<var<T, B>> adversarial;
    r.g_uncond.resize(std::size_t(stages));
    r.g_cond.resize(std::size_t(stages));
    for_each_d([&](auto& d, std::size_t i) {
      const auto a = generator_adversarial_loss(d.module(), it.fake.images[i], it.sent);
      if (adversarial)
        adversarial = var<T, B>(*adversarial + a.total);
      else
        adversarial = a.total;
      r.g_uncond[i] = double(a.uncond.item());
      r.g_cond[i] = double(a.cond.item());
    });
    const auto img = image_(it.fake.images.back());  // region (B, nef, h, w), code (B, nef)
    const damsm_gammas gammas{Preset::gamma1, Preset::gamma2, Preset::gamma3};
    const auto w = words_loss(img.region, it.words, it.lengths, it.class_ids, gammas);
    const auto s = sent_loss(img.code, it.sent, it.class_ids, gammas);
    const var<T, B> kl = ca_kl_loss(it.fake.ca);
    const var<T, B> damsm = w.loss0 + w.loss1 + s.loss0 + s.loss1;
    const var<T, B> loss = generator_loss(*adversarial, damsm, kl, hyper_.lambda, Preset::kl_weight);
    backward(loss, g_.parameters());
    g_adam_->step();
    r.w_loss0 = double(w.loss0.item());
    r.w_loss1 = double(w.loss1.item());
    r.s_loss0 = double(s.loss0.item());
    r.s_loss1 = double(s.loss1.item());
    r.lambda = hyper_.lambda;
    r.kl = double(kl.item()) * Preset::kl_weight;
    r.g_total = double(loss.item());
  }

  /// Phase 4: the running average of G's parameters.
  void update_average() { ema_->update(g_.parameter_arena()); }

  /// Inference: the text encoder and G in eval mode (BatchNorm running
  /// statistics), no graph; every stage's image and the attention maps.
  /// z (B, z_dim) and ca_eps drawn from the trainer's generator when not
  /// given (the original draws ε afresh at inference too); with
  /// use_average, G runs with the EMA parameters (its own are restored).
  generator_output<T, B> generate(const tensor<std::int64_t, B>& captions, const std::vector<index_t>& lengths,
                                  std::optional<tensor<T, B>> z = std::nullopt,
                                  std::optional<tensor<T, B>> ca_eps = std::nullopt, bool use_average = false) {
    no_grad_guard guard;
    const iteration text = encode_text(captions, lengths);
    const auto [zv, eps] = noise(captions.shape()[0], std::move(z), std::move(ca_eps));
    std::optional<tensor<T, B>> own;
    if (use_average) {
      own.emplace(g_.parameter_arena().clone());
      copy_arena(g_.parameter_arena(), ema_->average());
    }
    g_.eval();
    auto out = g_(zv, text.sent, text.words, &text.mask, eps, Preset::attn_mask_mode);
    g_.train();
    if (own) copy_arena(g_.parameter_arena(), *own);
    return out;
  }

 private:
  iteration encode_text(const tensor<std::int64_t, B>& captions, const std::vector<index_t>& lengths) {
    no_grad_guard guard;
    auto t = text_(captions, lengths);  // eval mode: no dropout drawn
    iteration it;
    it.words = t.words;                                            // (B, nef, T)
    it.sent = t.sent;                                              // (B, nef)
    it.mask = padding_mask<T, B>(lengths, t.words.shape()[2]);     // (B, T)
    it.lengths = lengths;
    return it;
  }

  std::pair<var<T, B>, var<T, B>> noise(index_t batch, std::optional<tensor<T, B>> z,
                                        std::optional<tensor<T, B>> ca_eps) {
    auto draw = [&](std::optional<tensor<T, B>>& given, int width, const char* what) {
      if (given && !(given->shape() == shape(batch, width)))
        throw shape_error("gan_trainer", attngan::detail::cat(what, " must be (", batch, ", ", width, "), got ",
                                                              given->shape()));
      return var<T, B>::leaf(given ? std::move(*given) : noise_.template normal<T, B>(shape(batch, width)));
    };
    var<T, B> zv = draw(z, Preset::z_dim, "z");
    var<T, B> eps = draw(ca_eps, Preset::cond_dim, "the CA noise");
    return {zv, eps};
  }

  static void copy_arena(tensor<T, B>& dst, const tensor<T, B>& src) {
    B::copy_within(dst.data(), src.data(), std::size_t(src.numel()) * sizeof(T));
  }

  template <std::size_t... I>
  void make_ds(attngan::generator& rng, std::index_sequence<I...>) {
    ((std::get<I>(ds_) = std::make_unique<d_network<I>>(rng)), ...);
  }

  template <class F>
  void for_each_d(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) { (f(*std::get<I>(ds_), I), ...); }
    (std::make_index_sequence<stages>{});
  }

  gan_hyperparameters hyper_;
  g_network g_;
  text_network text_;
  image_network image_;
  d_networks ds_;
  attngan::generator noise_;
  std::optional<optim::adam<T, B>> g_adam_;
  std::array<std::optional<optim::adam<T, B>>, std::size_t(stages)> d_adam_;
  std::optional<optim::parameter_ema<T, B>> ema_;
};

}  // namespace attngan::models
