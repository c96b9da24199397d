// Adam, gradient clipping and the EMA against PyTorch (fixtures from
// tests/optim/golden/make_fixtures.py).
#include "golden.hpp"

#include <attngan/nn.hpp>
#include <attngan/optim.hpp>

namespace test_optim {

using namespace attngan;
using namespace attngan::test;

namespace {
void check_adam(const std::string& fixture, optim::adam_options o) {
  CAPTURE(fixture);
  const golden_file f(golden_path("optim", fixture));
  auto p = f.tensor_of("start");
  auto g = tensor<float, cpu>::zeros(p.shape());
  optim::adam<float, cpu> opt(p, g, o);
  for (int s = 0; s < 10; ++s) {
    const std::string name = std::string("grad") + char('0' + s);
    auto gs = f.tensor_of(name);
    cpu::copy_within(g.data(), gs.data(), std::size_t(g.numel()) * sizeof(float));
    opt.step();
  }
  CHECK(opt.steps() == 10);
  CHECK_FALSE(f.has("grad10"));
  check_close(f, "final", p, "output");
}
}  // namespace

TEST_CASE("Adam: ten steps equal torch.optim.Adam") {
  check_adam("adam_attngan", {2e-4, 0.5, 0.999, 1e-8, 0.0});
  check_adam("adam_default_wd", {1e-2, 0.9, 0.999, 1e-8, 0.1});
}

TEST_CASE("Adam steps a network's whole arena in one pass") {
  generator rng(1);
  nn::network<nn::sequential<nn::linear<3, 4>, nn::tanh, nn::linear<4, 1>>, float, cpu> net(rng);
  optim::adam<float, cpu> opt(net.parameter_arena(), net.gradient_arena(), {0.05, 0.5, 0.999});
  vf x = vf::leaf(randn<float>(shape(16, 3), 2)), y = vf::leaf(randn<float>(shape(16, 1), 3));
  float first = 0, last = 0;
  for (int s = 0; s < 50; ++s) {
    net.zero_grad();
    vf loss = mean(square(net(x) - y));
    if (s == 0) first = loss.item();
    last = loss.item();
    backward(loss);
    const auto before = primitives::launch_count().load();
    opt.step();
    CHECK(primitives::launch_count().load() - before == 1);
  }
  CHECK(last < 0.5f * first);
}

TEST_CASE("Adam rejects invalid options and mismatched arenas") {
  auto p = tensor<float, cpu>::zeros(shape(3)), g = tensor<float, cpu>::zeros(shape(4));
  using adam = optim::adam<float, cpu>;
  CHECK_THROWS_AS(adam(p, g), shape_error);
  auto g3 = tensor<float, cpu>::zeros(shape(3));
  CHECK_THROWS_AS(adam(p, g3, {1e-3, 1.0, 0.999}), value_error);
}

TEST_CASE("clip_grad_norm equals torch.nn.utils.clip_grad_norm_") {
  const golden_file f(golden_path("optim", "clip"));
  auto g = f.tensor_of("grad");
  const double norm = optim::clip_grad_norm(g, 0.25);
  CHECK(norm == doctest::Approx(f.at("norm").values[0]).epsilon(1e-6));
  check_close(f, "clipped", g, "output");
  auto small = tensor<float, cpu>::full(shape(4), 0.01f);
  optim::clip_grad_norm(small, 0.25);  // below the limit: unchanged
  CHECK(small.to_vector() == std::vector<float>(4, 0.01f));
}

TEST_CASE("parameter EMA with decay 0.999 equals AttnGAN's avg.mul_(0.999).add_(0.001, p)") {
  const golden_file f(golden_path("optim", "ema"));
  optim::parameter_ema<float, cpu> ema(f.tensor_of("start"));
  for (const char* name : {"p0", "p1", "p2", "p3", "p4"}) ema.update(f.tensor_of(name));
  CHECK_FALSE(f.has("p5"));
  check_close(f, "final", ema.average(), "output");
}

}  // namespace test_optim
