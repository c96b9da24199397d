// The AttnGAN training iteration (models/attngan/trainer.hpp, spec §10.3,
// §10.4) against the oracle's AttnGANTrainer.train_step, on one reduced
// configuration (fixtures by golden/make_train_fixtures.py: a 32x32 first
// stage and one attentional stage to 64x64, D32 and D64, gf = df = 4, nef 16,
// the small image encoder at reduced widths, batch 3, class ids 1 2 1):
//  * five consecutive iterations from the same hash-formula weights with the
//    same explicit z and CA noise: every loss term the oracle reports of every
//    iteration (errD per stage, the adversarial term per stage, λ·words,
//    λ·sentence, KL, errG) within 1e-3 relative (issue 6); then G's
//    parameters, their running average, G's BatchNorm statistics and both
//    D's parameters, and inference (generate) with the trained G;
//  * the phases of an iteration: D steps do not touch G, the G step does not
//    touch the D's, the encoders never change, the average follows
//    avg ← 0.999·avg + 0.001·p; generate leaves G as it was.
// One translation unit instantiates the trainer once (float, cpu).
#include "gen_fixture.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace test_trainer {

using namespace attngan;
using namespace attngan::test;
namespace M = attngan::models;

namespace {

struct train_tiny_preset : M::bird_preset {  // make_train_fixtures.config()
  static constexpr int n_words = 20, word_dim = 8, nef = 16, words_num = 5;
  static constexpr int z_dim = 8, cond_dim = 6, gf_dim = 4, df_dim = 4, r_num = 2;
  static constexpr int branch_num = 2, base_size = 32;
};
using tiny_image_spec = M::small_image_encoder<16, 95, 4, 6, 8, 10, 12, 16>;
using trainer_t = M::gan_trainer<train_tiny_preset, tiny_image_spec>;

const std::vector<index_t> lengths{5, 4, 2};
const std::vector<std::int64_t> class_ids{1, 2, 1};
constexpr index_t batch = 3;

tensor<std::int64_t, cpu> captions_of(const golden_file& f) {
  const auto& c = f.at("captions");
  std::vector<std::int64_t> v;
  for (float x : c.values) v.push_back(std::int64_t(x));
  return tensor<std::int64_t, cpu>::from_host(c.extents, v);
}

std::vector<tensor<float, cpu>> reals_of(int iteration) {
  std::vector<tensor<float, cpu>> r;
  for (int i = 0; i < 2; ++i) {
    const index_t s = M::stage_image_size<train_tiny_preset>(i);
    r.push_back(formula_input<float>(std::uint64_t(2000 + 10 * iteration + i), shape(batch, 3, s, s)));
  }
  return r;
}

/// Three token-id captions of lengths 5, 4 and 2, 0-padded to 5.
tensor<std::int64_t, cpu> tiny_captions() {
  const std::vector<std::int64_t> ids{3, 7, 1, 12, 5, 9, 2, 4, 0, 0, 6, 0, 0, 0, 0};  // lengths 5 4 2
  return tensor<std::int64_t, cpu>::from_host(shape(batch, 5), ids);
}

/// One uniform [-1, 1) real batch per stage (32², 64²), drawn from `seed`.
std::vector<tensor<float, cpu>> uniform_reals(std::uint64_t seed) {
  generator data(seed);
  std::vector<tensor<float, cpu>> reals;
  for (int s : {32, 64}) reals.push_back(data.uniform<float, cpu>(shape(batch, 3, s, s), -1.f, 1.f));
  return reals;
}

void load_formula_weights(trainer_t& tr) {
  set_formula_state(tr.generator_network());
  set_formula_state(tr.discriminator<0>());
  set_formula_state(tr.discriminator<1>());
  set_formula_state(tr.text_encoder_network());
  set_formula_state(tr.image_encoder_network());
  tr.restart_average();
}

/// |got − want| ≤ 1e-3·|want| (issue 6's bound for five iterations); returns the relative error.
double check_loss(const golden_file& f, const std::string& name, double got) {
  CAPTURE(name);
  const double want = double(f.at(name).values.at(0));
  const double rel = std::abs(got - want) / std::abs(want);
  INFO("got " << got << ", oracle " << want << ", relative error " << rel);
  CHECK(rel <= 1e-3);
  return rel;
}

template <class Net>
void check_entries(const golden_file& f, const std::string& prefix, Net& net, nn::tensor_kind kind,
                   const tensor<float, cpu>& arena) {
  for (const auto& e : net.entries())
    if (e.kind == kind) check_model(f, prefix + e.name, arena.subview(e.offset, e.extents).clone());
}

std::vector<float> values(const tensor<float, cpu>& t) { return t.to_vector(); }

}  // namespace

TEST_CASE("golden: five training iterations equal the oracle's losses, then G, its average and the D's") {
  const golden_file f(golden_path("models", "train_tiny"));
  generator rng(5);
  trainer_t tr(rng, false);
  load_formula_weights(tr);
  const auto captions = captions_of(f);
  REQUIRE(captions.shape() == shape(batch, 5));

  double worst = 0;
  for (int j = 0; j < 5; ++j) {
    CAPTURE(j);
    const auto l = tr.step(reals_of(j), captions, lengths, class_ids,
                           formula_input<float>(std::uint64_t(2100 + j), shape(batch, train_tiny_preset::z_dim)),
                           formula_input<float>(std::uint64_t(2200 + j), shape(batch, train_tiny_preset::cond_dim)));
    const std::string p = "it" + std::to_string(j) + ".";
    REQUIRE(l.d.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
      worst = std::max(worst, check_loss(f, p + "errD" + std::to_string(i), l.d[i].total));
      worst = std::max(worst, check_loss(f, p + "g" + std::to_string(i), l.g_stage(i)));
      // errD from its five terms, as discriminator_loss weighs them
      const auto& d = l.d[i];
      CHECK(d.total == doctest::Approx(0.5 * (d.real_uncond + d.real_cond) +
                                       (d.fake_uncond + d.fake_cond + d.wrong_cond) / 3.0).epsilon(1e-5));
    }
    worst = std::max(worst, check_loss(f, p + "w_loss", l.w_loss()));
    worst = std::max(worst, check_loss(f, p + "s_loss", l.s_loss()));
    worst = std::max(worst, check_loss(f, p + "kl", l.kl));
    worst = std::max(worst, check_loss(f, p + "errG", l.g_total));
    CHECK(l.g_total == doctest::Approx(l.g_stage(0) + l.g_stage(1) + l.w_loss() + l.s_loss() + l.kl).epsilon(1e-5));
  }
  MESSAGE("largest relative error of a loss term over the five iterations: " << worst);
  CHECK(tr.generator_optimiser().steps() == 5);
  CHECK(tr.discriminator_optimiser(1).steps() == 5);

  auto& g = tr.generator_network();
  check_entries(f, "g.param.", g, nn::tensor_kind::parameter, g.parameter_arena());
  check_entries(f, "ema.", g, nn::tensor_kind::parameter, tr.average().average());
  check_entries(f, "g.buffer.", g, nn::tensor_kind::buffer, g.buffer_arena());
  check_entries(f, "d0.param.", tr.discriminator<0>(), nn::tensor_kind::parameter,
                tr.discriminator<0>().parameter_arena());
  check_entries(f, "d1.param.", tr.discriminator<1>(), nn::tensor_kind::parameter,
                tr.discriminator<1>().parameter_arena());

  // inference with the trained G (eval mode, explicit noise)
  const auto out = tr.generate(captions, lengths, formula_input<float>(2300, shape(batch, train_tiny_preset::z_dim)),
                               formula_input<float>(2301, shape(batch, train_tiny_preset::cond_dim)));
  REQUIRE(out.images.size() == 2);
  REQUIRE(out.attention.size() == 1);
  CHECK(out.images[0].shape() == shape(batch, 3, 32, 32));
  CHECK(out.images[1].shape() == shape(batch, 3, 64, 64));
  CHECK(out.attention[0].shape() == shape(batch, 5, 32, 32));
  for (std::size_t i = 0; i < 2; ++i) check_model(f, "gen.image" + std::to_string(i), out.images[i].value());
  check_model(f, "gen.attention0", out.attention[0].value());
}

TEST_CASE("trainer phases: D steps leave G alone, the G step leaves the D's alone, encoders frozen, EMA formula") {
  generator rng(21);
  trainer_t tr(rng);  // the original weights_init
  const auto reals = uniform_reals(22);
  const tensor<std::int64_t, cpu> captions = tiny_captions();

  auto& g = tr.generator_network();
  auto& d0 = tr.discriminator<0>();
  auto& d1 = tr.discriminator<1>();
  const auto text_params = values(tr.text_encoder_network().parameter_arena());
  const auto image_params = values(tr.image_encoder_network().parameter_arena());
  const auto image_buffers = values(tr.image_encoder_network().buffer_arena());

  for (int step = 0; step < 2; ++step) {
    CAPTURE(step);
    const auto g_before = values(g.parameter_arena());
    const auto d0_before = values(d0.parameter_arena()), d1_before = values(d1.parameter_arena());
    const auto avg_before = values(tr.average().average());

    auto it = tr.forward(captions, lengths, class_ids);  // noise from the trainer's generator
    REQUIRE(it.fake.images.size() == 2);
    tr.update_discriminators(it, reals);
    CHECK(values(g.parameter_arena()) == g_before);
    CHECK(values(d0.parameter_arena()) != d0_before);
    CHECK(values(d1.parameter_arena()) != d1_before);
    CHECK(values(tr.average().average()) == avg_before);

    const auto d0_stepped = values(d0.parameter_arena()), d1_stepped = values(d1.parameter_arena());
    tr.update_generator(it);
    CHECK(values(d0.parameter_arena()) == d0_stepped);
    CHECK(values(d1.parameter_arena()) == d1_stepped);
    const auto g_after = values(g.parameter_arena());
    CHECK(g_after != g_before);
    CHECK(std::isfinite(it.losses.g_total));
    CHECK(it.losses.w_loss0 > 0);
    CHECK(it.losses.s_loss1 > 0);

    tr.update_average();
    const auto avg = values(tr.average().average());
    REQUIRE(avg.size() == g_after.size());
    std::size_t bad = 0;
    for (std::size_t k = 0; k < avg.size(); ++k) {
      const double want = 0.999 * double(avg_before[k]) + 0.001 * double(g_after[k]);
      if (!(std::abs(double(avg[k]) - want) <= 1e-6 * (1 + std::abs(want)))) ++bad;
    }
    CHECK(bad == 0);
    CHECK(avg != avg_before);
  }
  CHECK(values(tr.text_encoder_network().parameter_arena()) == text_params);
  CHECK(values(tr.image_encoder_network().parameter_arena()) == image_params);
  CHECK(values(tr.image_encoder_network().buffer_arena()) == image_buffers);  // eval mode: statistics untouched

  // a full step draws new noise each time; generate leaves G's parameters and mode alone
  const auto l = tr.step(reals, captions, lengths, class_ids);
  CHECK(std::isfinite(l.g_total));
  const auto g_now = values(g.parameter_arena());
  const auto a = tr.generate(captions, lengths, formula_input<float>(1, shape(batch, 8)),
                             formula_input<float>(2, shape(batch, 6)));
  const auto b = tr.generate(captions, lengths, formula_input<float>(1, shape(batch, 8)),
                             formula_input<float>(2, shape(batch, 6)));
  const auto avg_out = tr.generate(captions, lengths, formula_input<float>(1, shape(batch, 8)),
                                   formula_input<float>(2, shape(batch, 6)), true);
  CHECK(values(a.images[1].value()) == values(b.images[1].value()));  // eval mode: deterministic
  CHECK(values(avg_out.images[1].value()) != values(a.images[1].value()));
  CHECK(values(g.parameter_arena()) == g_now);
  // still in train mode: a forward now uses batch statistics, unlike generate
  const auto train_out = tr.forward(captions, lengths, {}, formula_input<float>(1, shape(batch, 8)),
                                    formula_input<float>(2, shape(batch, 6)));
  CHECK(values(train_out.fake.images[1].value()) != values(a.images[1].value()));
  CHECK_THROWS_AS(tr.forward(captions, lengths, {}, formula_input<float>(1, shape(batch, 7))), shape_error);
}

TEST_CASE("gan_hyperparameters: the preset's by default, λ and both learning rates reach the step, bad values refused") {
  const auto preset_values = M::gan_hyperparameters::of<train_tiny_preset>();
  CHECK(preset_values.lr_g == train_tiny_preset::lr_g);
  CHECK(preset_values.lr_d == train_tiny_preset::lr_d);
  CHECK(preset_values.lambda == train_tiny_preset::lambda);
  CHECK(preset_values.ema_decay == train_tiny_preset::ema_decay);

  const auto reals = uniform_reals(31);
  const tensor<std::int64_t, cpu> captions = tiny_captions();

  struct after_one_step {
    std::vector<float> g0, g1, d0, d1;
    M::gan_step_losses losses;
  };
  // One iteration from the same weights and noise; only the hyperparameters differ.
  auto run = [&](const M::gan_hyperparameters& h) {
    generator rng(32);
    trainer_t tr(rng, true, h);
    after_one_step r;
    r.g0 = values(tr.generator_network().parameter_arena());
    r.d0 = values(tr.discriminator<1>().parameter_arena());
    auto it = tr.forward(captions, lengths, class_ids, formula_input<float>(3, shape(batch, 8)),
                         formula_input<float>(4, shape(batch, 6)));
    tr.update_discriminators(it, reals);
    tr.update_generator(it);
    r.g1 = values(tr.generator_network().parameter_arena());
    r.d1 = values(tr.discriminator<1>().parameter_arena());
    r.losses = it.losses;
    return r;
  };
  const auto base = run(preset_values);
  const auto no_damsm = run({preset_values.lr_g, preset_values.lr_d, 0.0});
  const auto fast_g = run({2 * preset_values.lr_g, preset_values.lr_d, preset_values.lambda});
  const auto slow_d = run({preset_values.lr_g, preset_values.lr_d / 2, preset_values.lambda});

  // λ: reported, and L_G = Σ adversarial + λ·(w0 + w1 + s0 + s1) + KL for both values.
  for (const auto* r : {&base, &no_damsm}) {
    const auto& l = r->losses;
    double adversarial = 0;
    for (std::size_t i = 0; i < 2; ++i) adversarial += l.g_stage(i);
    const double want = adversarial + l.lambda * (l.w_loss0 + l.w_loss1 + l.s_loss0 + l.s_loss1) + l.kl;
    CHECK(std::abs(l.g_total - want) <= 1e-5 * std::abs(want));
  }
  CHECK(base.losses.lambda == preset_values.lambda);
  CHECK(no_damsm.losses.lambda == 0.0);
  CHECK(no_damsm.losses.w_loss0 == base.losses.w_loss0);  // the same G forward
  CHECK(no_damsm.losses.g_total < base.losses.g_total);
  CHECK(no_damsm.g1 != base.g1);

  // Learning rates: Adam's first step is lr·g/(|g| + ε), so with the same
  // gradients doubling lr_g doubles every G update and halving lr_d halves
  // every D update (one change per run: G's gradient passes through the
  // just-updated D's).
  auto scaled = [](const after_one_step& a, const after_one_step& b, bool g, double factor) {
    const auto& a0 = g ? a.g0 : a.d0;
    const auto& a1 = g ? a.g1 : a.d1;
    const auto& b0 = g ? b.g0 : b.d0;
    const auto& b1 = g ? b.g1 : b.d1;
    std::size_t bad = 0, moved = 0;
    for (std::size_t k = 0; k < a0.size(); ++k) {
      const double da = double(a1[k]) - double(a0[k]), db = double(b1[k]) - double(b0[k]);
      if (da != 0) ++moved;
      if (!(std::abs(db - factor * da) <= 1e-6)) ++bad;
    }
    CHECK(moved > a0.size() / 2);
    return bad;
  };
  REQUIRE(fast_g.g0 == base.g0);
  CHECK(scaled(base, fast_g, true, 2.0) == 0);
  CHECK(fast_g.d1 == base.d1);
  CHECK(scaled(base, slow_d, false, 0.5) == 0);
  CHECK(scaled(base, fast_g, true, 1.0) > 0);  // the comparison can fail

  generator rng(33);
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (const M::gan_hyperparameters bad : {M::gan_hyperparameters{0.0, 2e-4, 5.0}, M::gan_hyperparameters{2e-4, -1e-4, 5.0},
                                           M::gan_hyperparameters{nan, 2e-4, 5.0}, M::gan_hyperparameters{2e-4, inf, 5.0},
                                           M::gan_hyperparameters{2e-4, 2e-4, -1.0},
                                           M::gan_hyperparameters{2e-4, 2e-4, nan},
                                           M::gan_hyperparameters{2e-4, 2e-4, 5.0, 1.0},
                                           M::gan_hyperparameters{2e-4, 2e-4, 5.0, -0.1},
                                           M::gan_hyperparameters{2e-4, 2e-4, 5.0, nan}}) {
    CAPTURE(bad.lr_g);
    CAPTURE(bad.lr_d);
    CAPTURE(bad.lambda);
    CAPTURE(bad.ema_decay);
    CHECK_THROWS_AS(trainer_t(rng, true, bad), value_error);
  }
}

TEST_CASE("gan_hyperparameters: the running average of G moves by its decay") {
  const auto reals = uniform_reals(41);
  const tensor<std::int64_t, cpu> captions = tiny_captions();
  auto preset_values = M::gan_hyperparameters::of<train_tiny_preset>();
  for (const double decay : {0.999, 0.9, 0.0}) {
    CAPTURE(decay);
    preset_values.ema_decay = decay;
    generator rng(42);
    trainer_t tr(rng, true, preset_values);
    const auto g0 = values(tr.generator_network().parameter_arena());
    REQUIRE(values(tr.average().average()) == g0);  // started at G
    (void)tr.step(reals, captions, lengths, class_ids, formula_input<float>(3, shape(batch, 8)),
                  formula_input<float>(4, shape(batch, 6)));
    const auto g1 = values(tr.generator_network().parameter_arena());
    const auto avg = values(tr.average().average());
    std::size_t bad = 0, moved = 0;
    for (std::size_t k = 0; k < g0.size(); ++k) {
      const double want = decay * double(g0[k]) + (1 - decay) * double(g1[k]);
      if (g1[k] != g0[k]) ++moved;
      if (!(std::abs(double(avg[k]) - want) <= 1e-6 * (1 + std::abs(want)))) ++bad;
    }
    CHECK(moved > g0.size() / 2);
    CHECK(bad == 0);
  }
}

}  // namespace test_trainer
