// The bird preset at full size: names, shapes and order of G and D64/D128/D256
// equal the key table of the spec (tests/models/data, a copy of
// shared/spec/attngan-state-dict-keys.tsv), the parameter counts equal the
// spec's, G's forward pass equals the oracle's (weights from the hash formula
// of make_gen_fixtures.py), and one generator/discriminator loss evaluation
// with backward runs through the whole bird model. This translation unit
// instantiates the complete bird G and the three D's.
#include "gen_fixture.hpp"

#include <algorithm>

using namespace attngan;
using namespace attngan::test;
namespace M = attngan::models;

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
