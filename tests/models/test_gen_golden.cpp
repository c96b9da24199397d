// Golden parity of the generator side with the PyTorch oracle on two reduced
// configurations (fixtures from tests/models/golden/make_gen_fixtures.py,
// weights and inputs from a hash both sides compute): every stage's image,
// the attention maps in both mask modes, the CA outputs and KL, both heads
// of every discriminator, the D losses, the generator's adversarial terms and
// total loss, and the gradients of every G and D parameter by name.
#include "gen_fixture.hpp"

#include <memory>

using namespace attngan;
using namespace attngan::test;
namespace M = attngan::models;

namespace {

struct tiny_widths : M::bird_preset {  // the script's `tiny` dictionary
  static constexpr int nef = 16, z_dim = 8, cond_dim = 6, gf_dim = 4, df_dim = 4, r_num = 2;
};
struct tiny64_preset : tiny_widths {
  static constexpr int branch_num = 3, base_size = 64;
};
struct tiny32_preset : tiny_widths {
  static constexpr int branch_num = 2, base_size = 32;
};

template <class Net>
void check_gradients(const golden_file& f, const std::string& prefix, Net& net) {
  for (const auto& e : net.entries())
    if (e.kind == nn::tensor_kind::parameter)
      check_model(f, prefix + e.name, net.gradient_arena().subview(e.offset, e.extents).clone());
}

template <class Preset, std::size_t... I>
void run_case(const std::string& name, std::index_sequence<I...>) {
  CAPTURE(name);
  using G = M::generator_for<Preset>;
  const golden_file f(golden_path("models", name));
  generator rng(0);
  nn::network<G, float, cpu> g(rng);
  auto ds = std::make_tuple(std::make_unique<nn::network<M::discriminator_for<Preset, int(I)>, float, cpu>>(rng)...);

  // names and shapes equal the oracle's state_dict for this configuration
  const std::string keys = std::string(ATTNGAN_TESTS_SOURCE_DIR) + "/models/golden/" + name + "_keys.tsv";
  CHECK(state_keys<G>() == read_keys(keys, "G", 1));
  auto check_d_keys = [&](auto spec, std::size_t i) {
    CHECK(state_keys<typename decltype(spec)::type>() == read_keys(keys, "D" + std::to_string(i), 1));
  };
  (check_d_keys(std::type_identity<M::discriminator_for<Preset, int(I)>>{}, I), ...);

  set_formula_state(g);
  (set_formula_state(*std::get<I>(ds)), ...);

  const index_t batch = 2, words_n = 5;
  vf z = vf::leaf(formula_input<float>(1000, shape(batch, Preset::z_dim)));
  vf eps = vf::leaf(formula_input<float>(1001, shape(batch, Preset::cond_dim)));
  vf sent = vf::leaf(formula_input<float>(1002, shape(batch, Preset::nef)));
  vf words = vf::leaf(formula_input<float>(1003, shape(batch, Preset::nef, words_n)));
  const auto mask = M::padding_mask<float, cpu>({5, 3}, words_n);
  std::vector<vf> reals{vf::leaf(formula_input<float>(
      1010 + I, shape(batch, 3, M::stage_image_size<Preset>(int(I)), M::stage_image_size<Preset>(int(I)))))...};

  {  // the per-sample ('correct') mask: forward only
    no_grad_guard guard;
    const auto c = g(z, sent, words, &mask, eps, M::mask_mode::correct);
    for (std::size_t i = 0; i < c.images.size(); ++i)
      check_model(f, "correct.image" + std::to_string(i), c.images[i].value());
    for (std::size_t i = 0; i < c.attention.size(); ++i)
      check_model(f, "correct.attention" + std::to_string(i), c.attention[i].value());
  }

  // the original's mask (default)
  const auto out = g(z, sent, words, &mask, eps);
  REQUIRE(out.images.size() == sizeof...(I));
  check_model(f, "ca.c", out.ca.c.value());
  check_model(f, "ca.mu", out.ca.mu.value());
  check_model(f, "ca.logvar", out.ca.logvar.value());
  const vf kl = M::ca_kl_loss(out.ca);
  check_model(f, "loss.kl", kl.value());
  for (std::size_t i = 0; i < out.images.size(); ++i)
    check_model(f, "image" + std::to_string(i), out.images[i].value());
  for (std::size_t i = 0; i < out.attention.size(); ++i)
    check_model(f, "attention" + std::to_string(i), out.attention[i].value());

  // each discriminator: both heads on real, fake and mismatched pairs, its loss and gradients
  auto check_d = [&](auto& d, std::size_t i) {
    const std::string p = "d" + std::to_string(i) + ".";
    {
      no_grad_guard guard;
      const vf rc = d(reals[i]), fc = d(out.images[i].detach());
      check_model(f, p + "real_uncond", d->UNCOND_DNET(rc).value());
      check_model(f, p + "real_cond", d->COND_DNET(rc, sent).value());
      check_model(f, p + "fake_uncond", d->UNCOND_DNET(fc).value());
      check_model(f, p + "fake_cond", d->COND_DNET(fc, sent).value());
      check_model(f, p + "wrong_cond", d->COND_DNET(eval(narrow(rc, 0, 0, 1)), eval(narrow(sent, 0, 1, 1))).value());
    }
    d.zero_grad();
    const auto l = M::discriminator_loss(d.module(), reals[i], out.images[i], sent);
    backward(l.total);
    check_model(f, p + "loss", l.total.value());
    check_gradients(f, p + "grad.", d);
    d.zero_grad();
  };
  (check_d(*std::get<I>(ds), I), ...);

  // the generator: adversarial terms through every D, a stand-in for the
  // DAMSM terms (mean of the last image squared), KL; gradients of G
  vf adversarial = vf::leaf(tensor<float, cpu>::zeros(shape()));
  auto add_adv = [&](auto& d, std::size_t i) {
    const auto a = M::generator_adversarial_loss(d.module(), out.images[i], sent);
    check_model(f, "g" + std::to_string(i) + ".uncond", a.uncond.value());
    check_model(f, "g" + std::to_string(i) + ".cond", a.cond.value());
    adversarial = adversarial + a.total;
  };
  (add_adv(*std::get<I>(ds), I), ...);
  const vf damsm = mean(square(out.images.back()));
  check_model(f, "loss.damsm_standin", damsm.value());
  const vf loss = M::generator_loss(adversarial, damsm, kl, Preset::lambda, Preset::kl_weight);
  check_model(f, "loss.g", loss.value());
  g.zero_grad();
  backward(loss);
  check_gradients(f, "g.grad.", g);
}

}  // namespace

TEST_CASE("golden: three-stage generator 64-128-256 with D64, D128, D256 at small widths") {
  run_case<tiny64_preset>("tiny64", std::make_index_sequence<3>{});
}

TEST_CASE("golden: 32x32 first stage (three up-blocks) and one attentional stage with D32, D64") {
  run_case<tiny32_preset>("tiny32", std::make_index_sequence<2>{});
}
