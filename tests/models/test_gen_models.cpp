// Whole models against the oracle and the spec. This translation unit
// instantiates the complete bird G and its three D's, and two reduced
// configurations:
//  * bird preset: names, shapes and order of G and D64/D128/D256 equal the
//    key table of the spec (tests/models/data, a copy of
//    shared/spec/attngan-state-dict-keys.tsv); the parameter counts equal the
//    spec's; G's forward pass equals the oracle's (weights from the hash
//    formula of make_gen_fixtures.py); one generator/discriminator loss
//    evaluation with backward runs through the whole bird model.
//  * weights_init, and the small preset's shapes (32x32 first stage, D32);
//  * golden parity on two reduced configurations (fixtures from
//    tests/models/golden/make_gen_fixtures.py, weights and inputs from a hash
//    both sides compute): every stage's image, the attention maps in both
//    mask modes, the CA outputs and KL, both heads of every discriminator,
//    the D losses, the generator's adversarial terms and total loss, and the
//    gradients of every G and D parameter by name.
#include "gen_fixture.hpp"

#include <algorithm>
#include <memory>

namespace test_gen_models {

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

namespace {
std::string key_table() { return std::string(ATTNGAN_TESTS_SOURCE_DIR) + "/models/data/attngan-state-dict-keys.tsv"; }
}  // namespace

TEST_CASE("bird preset: G and D64, D128, D256 have the key table's names, shapes and order") {
  const auto g = read_keys(key_table(), "bird_AttnGAN2.pth (netG)", 2);
  CHECK(g.size() == 82);
  CHECK(state_keys<M::bird_generator>() == g);
  CHECK(state_keys<M::bird_d64>() == read_keys(key_table(), "netD0.pth (D_NET64)", 2));
  CHECK(state_keys<M::bird_d128>() == read_keys(key_table(), "netD1.pth (D_NET128)", 2));
  CHECK(state_keys<M::bird_d256>() == read_keys(key_table(), "netD2.pth (D_NET256)", 2));
  CHECK(read_keys(key_table(), "netD2.pth (D_NET256)", 2).size() == 45);
}

TEST_CASE("bird preset: trainable parameter counts equal the spec's") {
  CHECK(parameter_count<M::bird_generator>() == 7'084'592);
  CHECK(parameter_count<M::bird_d64>() == 6'313'730);
  CHECK(parameter_count<M::bird_d128>() == 19'424'002);
  CHECK(parameter_count<M::bird_d256>() == 71'858'946);
  CHECK(M::bird_generator::image_sizes == std::array<int, 3>{64, 128, 256});
  CHECK(M::small_generator::image_sizes == std::array<int, 2>{32, 64});
}

TEST_CASE("golden: bird generator forward (64, 128, 256 and both attention maps) equals the oracle's") {
  const golden_file f(golden_path("models", "bird_forward"));
  generator rng(0);
  nn::network<M::bird_generator, float, cpu> g(rng);
  set_formula_state(g);
  const index_t batch = 2, words_n = 6;
  vf z = vf::leaf(formula_input<float>(1000, shape(batch, 100)));
  vf eps = vf::leaf(formula_input<float>(1001, shape(batch, 100)));
  vf sent = vf::leaf(formula_input<float>(1002, shape(batch, 256)));
  vf words = vf::leaf(formula_input<float>(1003, shape(batch, 256, words_n)));
  const auto mask = M::padding_mask<float, cpu>({6, 4}, words_n);
  no_grad_guard guard;
  const auto out = g(z, sent, words, &mask, eps);
  check_model(f, "ca.mu", out.ca.mu.value());
  check_model(f, "ca.logvar", out.ca.logvar.value());
  REQUIRE(out.images.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) check_model(f, "image" + std::to_string(i), out.images[i].value());
  REQUIRE(out.attention.size() == 2);
  CHECK(out.attention[0].shape() == shape(batch, words_n, 64, 64));
  CHECK(out.attention[1].shape() == shape(batch, words_n, 128, 128));
  for (std::size_t i = 0; i < 2; ++i) check_model(f, "attention" + std::to_string(i), out.attention[i].value());
}

TEST_CASE("bird preset: D losses and the generator loss run forward and backward through the whole model") {
  generator rng(1);
  nn::network<M::bird_generator, float, cpu> g(rng);
  nn::network<M::bird_d64, float, cpu> d64(rng);
  nn::network<M::bird_d128, float, cpu> d128(rng);
  nn::network<M::bird_d256, float, cpu> d256(rng);
  const index_t batch = 2, words_n = 7;
  vf z = vf::leaf(randn<float>(shape(batch, 100), 2));
  vf eps = vf::leaf(randn<float>(shape(batch, 100), 3));
  vf sent = vf::leaf(randn<float>(shape(batch, 256), 4));
  vf words = vf::leaf(randn<float>(shape(batch, 256, words_n), 5));
  const auto mask = M::padding_mask<float, cpu>({7, 5}, words_n);
  const auto out = g(z, sent, words, &mask, eps);
  std::vector<vf> reals;
  for (int s : {64, 128, 256}) reals.push_back(vf::leaf(randu<float>(shape(batch, 3, s, s), std::uint64_t(s), -1.f, 1.f)));

  const auto l0 = M::discriminator_loss(d64.module(), reals[0], out.images[0], sent);
  const auto l1 = M::discriminator_loss(d128.module(), reals[1], out.images[1], sent);
  const auto l2 = M::discriminator_loss(d256.module(), reals[2], out.images[2], sent);
  for (const auto* l : {&l0, &l1, &l2}) {
    CHECK(std::isfinite(l->total.item()));
    backward(l->total);
  }
  auto nonzero = [](tensor<float, cpu>& arena) {
    const auto v = arena.to_vector();
    return std::count_if(v.begin(), v.end(), [](float x) { return x != 0.f; });
  };
  CHECK(nonzero(g.gradient_arena()) == 0);  // L_D sees detached fakes
  CHECK(nonzero(d256.gradient_arena()) > 0);

  vf adversarial = M::generator_adversarial_loss(d64.module(), out.images[0], sent).total +
                   M::generator_adversarial_loss(d128.module(), out.images[1], sent).total;
  adversarial = adversarial + M::generator_adversarial_loss(d256.module(), out.images[2], sent).total;
  const vf damsm = vf::leaf(tensor<float, cpu>::zeros(shape()));  // plugged in by damsm.hpp in training
  const vf loss = M::generator_loss(adversarial, damsm, M::ca_kl_loss(out.ca), M::bird_preset::lambda);
  CHECK(std::isfinite(loss.item()));
  backward(loss);
  // every generator parameter tensor receives a gradient
  for (const auto& e : g.entries()) {
    if (e.kind != nn::tensor_kind::parameter) continue;
    CAPTURE(e.name);
    auto grad = g.gradient_arena().subview(e.offset, e.extents);
    CHECK(nonzero(grad) > 0);
  }
}

namespace {
bool orthonormal_rows_or_columns(const tensor<float, cpu>& w) {
  const index_t rows = w.shape()[0], cols = w.numel() / rows;
  const auto v = w.to_vector();
  const bool wide = rows <= cols;
  const index_t n = wide ? rows : cols, len = wide ? cols : rows;
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j) {
      double dot = 0;
      for (index_t k = 0; k < len; ++k)
        dot += wide ? double(v[std::size_t(i * cols + k)]) * v[std::size_t(j * cols + k)]
                    : double(v[std::size_t(k * cols + i)]) * v[std::size_t(k * cols + j)];
      if (std::abs(dot - (i == j ? 1.0 : 0.0)) > 1e-5) return false;
    }
  return true;
}
}  // namespace

TEST_CASE("weights_init: orthogonal conv and linear weights, N(1, 0.02) batch-norm weights, zero biases except D's logits") {
  generator rng(11);
  nn::network<M::small_generator, float, cpu> g(rng);
  nn::network<M::discriminator<4, 8, 32>, float, cpu> d(rng);
  const auto logit_bias = d.state("COND_DNET.outlogits.0.bias").to_vector();
  M::weights_init(g, rng);
  M::weights_init(d, rng);
  CHECK(orthonormal_rows_or_columns(g.state("ca_net.fc.weight")));
  CHECK(orthonormal_rows_or_columns(g.state("h_net1.fc.0.weight")));
  CHECK(orthonormal_rows_or_columns(g.state("h_net2.att.conv_context.weight")));
  CHECK(orthonormal_rows_or_columns(g.state("img_net2.img.0.weight")));
  CHECK(orthonormal_rows_or_columns(d.state("img_code_s8.5.weight")));
  CHECK(g.state("ca_net.fc.bias").to_vector() == std::vector<float>(400, 0.f));
  const auto bn = g.state("h_net1.fc.1.weight").to_vector();  // 4096 values (BatchNorm1d of the 128·4·4·2 code)
  double m = 0, s = 0;
  for (float x : bn) m += x;
  m /= double(bn.size());
  for (float x : bn) s += (x - m) * (x - m);
  s = std::sqrt(s / double(bn.size()));
  CHECK(m == doctest::Approx(1.0).epsilon(0.002));
  CHECK(s == doctest::Approx(0.02).epsilon(0.05));
  CHECK(g.state("h_net2.residual.1.block.4.bias").to_vector() == std::vector<float>(32, 0.f));
  CHECK(d.state("COND_DNET.outlogits.0.bias").to_vector() == logit_bias);  // kept, as in the original
  CHECK(g.state("h_net1.fc.1.running_var").to_vector() == std::vector<float>(4096, 1.f));
}

TEST_CASE("small preset: 32x32 then 64x64 images, attention at 32x32, D32 and D64 codes of 8*ndf x 4 x 4") {
  generator rng(12);
  nn::network<M::small_generator, float, cpu> g(rng);
  nn::network<M::discriminator_for<M::small_preset, 0>, float, cpu> d32(rng);
  const index_t batch = 2, words_n = 4;
  vf z = vf::leaf(randn<float>(shape(batch, 100), 13)), eps = vf::leaf(randn<float>(shape(batch, 100), 14));
  vf sent = vf::leaf(randn<float>(shape(batch, 256), 15)), words = vf::leaf(randn<float>(shape(batch, 256, words_n), 16));
  const auto out = g(z, sent, words, nullptr, eps);
  REQUIRE(out.images.size() == 2);
  CHECK(out.images[0].shape() == shape(batch, 3, 32, 32));
  CHECK(out.images[1].shape() == shape(batch, 3, 64, 64));
  CHECK(out.attention[0].shape() == shape(batch, words_n, 32, 32));
  const vf code = d32(out.images[0]);
  CHECK(code.shape() == shape(batch, 128, 4, 4));
  CHECK(d32->COND_DNET(code, sent).shape() == shape(batch));
  CHECK_THROWS_WITH_AS(d32(out.images[1]), "discriminator: D_NET32 expects (B, 3, 32, 32), got (2, 3, 64, 64)",
                       shape_error);
  CHECK_THROWS_AS(g(sent, sent, words, nullptr, eps), shape_error);  // z of the wrong width
  CHECK_THROWS_AS((void)M::discriminator_loss(d32.module(), eval(narrow(out.images[0], 0, 0, 1)),
                                              eval(narrow(out.images[0], 0, 0, 1)), eval(narrow(sent, 0, 0, 1))),
                  value_error);
}

}  // namespace test_gen_models
