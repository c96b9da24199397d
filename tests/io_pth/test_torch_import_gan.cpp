// A reduced generator and D64 imported from PyTorch checkpoints and run
// against the oracle (fixtures: tests/io/golden/make_pth_fixtures.py): G from
// a legacy file without num_batches_tracked (as the released
// bird_AttnGAN2.pth) and from a zip file with them, D64 from a zip file; and
// load_into's report on a checkpoint that does not fit. The only translation
// unit of the suite that instantiates the models' G and D.
#include "../models/gen_fixture.hpp"

#include <attngan/io/torch_import.hpp>

namespace test_torch_import_gan {

using namespace attngan;
using namespace attngan::test;
namespace M = attngan::models;

namespace {

/// The script's reduced configuration: gf_dim 2, two stages 64/128, r_num 1.
struct pth_preset : M::bird_preset {
  static constexpr int nef = 16, z_dim = 8, cond_dim = 6, gf_dim = 2, df_dim = 2, r_num = 1, branch_num = 2,
                       base_size = 64;
};
using G = M::generator_for<pth_preset>;
using D = M::discriminator_for<pth_preset, 0>;

std::string fixture(const std::string& name) { return std::string(ATTNGAN_TESTS_SOURCE_DIR) + "/io/golden/" + name; }

void check_generator(nn::network<G, float, cpu>& g, const golden_file& f) {
  const index_t batch = 2, words_n = 5;
  const vf z = vf::leaf(formula_input<float>(1000, shape(batch, pth_preset::z_dim)));
  const vf eps = vf::leaf(formula_input<float>(1001, shape(batch, pth_preset::cond_dim)));
  const vf sent = vf::leaf(formula_input<float>(1002, shape(batch, pth_preset::nef)));
  const vf words = vf::leaf(formula_input<float>(1003, shape(batch, pth_preset::nef, words_n)));
  const auto mask = M::padding_mask<float, cpu>({5, 3}, words_n);
  g.eval();  // batch norms on the checkpoint's running statistics
  no_grad_guard guard;
  const auto out = g(z, sent, words, &mask, eps);
  check_model(f, "ca.mu", out.ca.mu.value());
  REQUIRE(out.images.size() == 2);
  check_model(f, "image0", out.images[0].value());
  check_model(f, "image1", out.images[1].value());
  REQUIRE(out.attention.size() == 1);
  check_model(f, "attention0", out.attention[0].value());
}

}  // namespace

TEST_CASE("golden: a reduced G from a legacy file without num_batches_tracked reproduces the oracle") {
  const golden_file f(golden_path("io", "pth_gan"));
  const auto sd = io::load_torch_state_dict(fixture("pth_g_legacy.pth"));
  CHECK(sd.format == "legacy");
  generator rng(3);
  nn::network<G, float, cpu> g(rng);
  REQUIRE(sd.size() == g.entries().size());
  for (const auto& t : sd.tensors) CHECK(t.name.find("num_batches_tracked") == std::string::npos);
  io::load_into(g, sd);
  // the values are the checkpoint's, parameters and buffers alike
  for (const char* name : {"h_net1.fc.0.weight", "h_net2.residual.0.block.1.running_var", "img_net2.img.0.weight"})
    CHECK(g.state(name).to_vector() == sd.find(name)->values<float>());
  check_generator(g, f);
}

TEST_CASE("golden: the same G from a zip file with num_batches_tracked reproduces the oracle") {
  const golden_file f(golden_path("io", "pth_gan"));
  const auto sd = io::load_torch_state_dict(fixture("pth_g_zip.pth"));
  CHECK(sd.format == "zip");
  const auto* nbt = sd.find("h_net1.fc.1.num_batches_tracked");
  REQUIRE(nbt != nullptr);
  CHECK(nbt->dtype == io::torch_dtype::int64);
  CHECK(nbt->shape.empty());
  CHECK(nbt->values<std::int64_t>() == std::vector<std::int64_t>{7});
  generator rng(4);
  nn::network<G, float, cpu> g(rng);
  CHECK(sd.size() > g.entries().size());
  io::load_into(g, sd);
  check_generator(g, f);
  // legacy and zip hold the same values
  const auto legacy = io::load_torch_state_dict(fixture("pth_g_legacy.pth"));
  for (const auto& t : legacy.tensors) CHECK(sd.find(t.name)->data == t.data);
}

TEST_CASE("golden: a reduced D64 from a zip file reproduces the oracle's code and both heads") {
  const golden_file f(golden_path("io", "pth_gan"));
  generator rng(5);
  nn::network<D, float, cpu> d(rng);
  io::load_torch_checkpoint(d, fixture("pth_d64_zip.pth"));
  d.eval();
  no_grad_guard guard;
  const vf x = vf::leaf(formula_input<float>(1010, shape(2, 3, 64, 64)));
  const vf sent = vf::leaf(formula_input<float>(1002, shape(2, pth_preset::nef)));
  const vf code = d(x);
  check_model(f, "d64.code", code.value());
  check_model(f, "d64.uncond", d->UNCOND_DNET(code).value());
  check_model(f, "d64.cond", d->COND_DNET(code, sent).value());
}

TEST_CASE("load_into: G's checkpoint into D64, and num_batches_tracked without its batch norm, are listed") {
  const auto sd = io::load_torch_state_dict(fixture("pth_g_zip.pth"));
  generator rng(6);
  nn::network<D, float, cpu> d(rng);
  const std::string m = error_message<value_error>([&] { io::load_into(d, sd); });
  INFO(m);
  CHECK(m.find("missing key(s): img_code_s16.0.weight (2, 3, 4, 4);") != std::string::npos);
  CHECK(m.find("unexpected key(s): ca_net.fc.weight (24, 16);") != std::string::npos);
  // num_batches_tracked of G's batch norms is unexpected here: D has no such batch norm
  CHECK(m.find("h_net1.fc.1.num_batches_tracked ()") != std::string::npos);
}

}  // namespace test_torch_import_gan
