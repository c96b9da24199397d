// The DAMSM image encoders (spec §4, §13.4): the Inception-v3 encoder's
// checkpoint names and shapes, its forward at 299 against the oracle with
// weights from a formula both sides compute, and the names of the oracle's
// small encoder at its default widths; inception_v3 (the same trunk with
// torchvision's classifier, for IS and FID) on random weights. The only
// translation unit that instantiates the Inception networks.
#include "damsm_fixtures.hpp"

#include <attngan/io/state_dict.hpp>
#include <attngan/models/attngan/evaluation.hpp>
#include <attngan/models/attngan/image_encoder.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace test_image_encoder {

using namespace attngan;
using namespace attngan::test;

namespace {

/// splitmix64 of (k << 32) + i, top 53 bits, mapped to [-1, 1): the same
/// numbers as splitmix_uniform in golden/make_damsm_fixtures.py.
std::vector<double> splitmix_uniform(std::uint64_t k, index_t n) {
  std::vector<double> out(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) {
    std::uint64_t z = (k << 32) + std::uint64_t(i) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z = z ^ (z >> 31);
    out[std::size_t(i)] = 2.0 * (double(z >> 11) * 0x1.0p-53) - 1.0;
  }
  return out;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

/// formula_value of the fixture script, for every parameter and buffer.
template <class Net>
void formula_state(Net& net) {
  std::uint64_t k = 0;
  for (const auto& e : net.entries()) {
    const index_t n = e.extents.numel();
    const auto u = splitmix_uniform(k++, n);
    std::vector<float> v(u.size());
    for (std::size_t i = 0; i < u.size(); ++i) {
      double x;
      if (ends_with(e.name, "running_mean")) x = 0.1 * u[i];
      else if (ends_with(e.name, "running_var")) x = 1.0 + 0.5 * u[i];
      else if (ends_with(e.name, "bn.weight")) x = 1.0 + 0.25 * u[i];
      else if (ends_with(e.name, "bn.bias") || ends_with(e.name, "emb_cnn_code.bias")) x = 0.1 * u[i];
      else x = std::sqrt(3.0 / double(n / e.extents[0])) * u[i];
      v[i] = float(x);
    }
    auto dst = net.state(e.name);
    cpu::copy_within(dst.data(), v.data(), v.size() * sizeof(float));
  }
}

}  // namespace

TEST_CASE("inception image encoder: names and shapes equal image_encoder200.pth in order") {
  generator rng(1);
  nn::network<models::inception_image_encoder<256>, float, cpu> net(rng);
  const auto want = key_table("image_encoder200.pth");
  REQUIRE(want.size() == 473);
  CHECK(names_and_shapes(net) == want);
  // spec §13.4: trunk 21,785,568 parameters + 721,152 in the two projections
  CHECK(net.parameter_count() == 21785568 + 721152);
}

TEST_CASE("golden: inception image encoder at 299 equals the oracle, forward and image gradient (batch 1, eval mode)") {
  const golden_file f(golden_path("models", "inception"));
  generator rng(2);
  nn::network<models::inception_image_encoder<16>, float, cpu> net(rng);
  formula_state(net);
  const auto u = splitmix_uniform(100000, 3 * 40 * 40);
  std::vector<float> pixels(u.begin(), u.end());
  const vf image = vf::leaf(tensor<float, cpu>::from_host(shape(1, 3, 40, 40), pixels), true);
  net.eval();
  auto out = net(image);
  CHECK(out.region.shape() == shape(1, 16, 17, 17));
  CHECK(out.code.shape() == shape(1, 16));
  check_close(f, "region", out.region.value(), "output");
  check_close(f, "code", out.code.value(), "output");
  // frozen encoder, gradient into the image (the GAN's generator step)
  auto as_tensor = [](const std::vector<double>& values, const shape& s) {
    return tensor<float, cpu>::from_host(s, std::vector<float>(values.begin(), values.end()));
  };
  const vf proj_r = vf::leaf(as_tensor(splitmix_uniform(100001, 16 * 17 * 17), out.region.shape()));
  const vf proj_c = vf::leaf(as_tensor(splitmix_uniform(100002, 16), out.code.shape()));
  backward(vf(sum(out.region * proj_r) + sum(out.code * proj_c)), std::vector<vf>{image});
  check_close(f, "grad.image", image.grad(), "grad");
  {  // the restricted backward differentiates no parameter
    const auto g = net.gradient_arena().to_vector();
    CHECK(std::all_of(g.begin(), g.end(), [](float x) { return x == 0.f; }));
  }
  no_grad_guard guard;
  // train mode: BatchNorm statistics update (checked on the first unit, which sees the resized image)
  net.train();
  (void)net(image);
  check_close(f, "after.Conv2d_1a_3x3.bn.running_mean", net.state("Conv2d_1a_3x3.bn.running_mean"), "buffer");
  check_close(f, "after.Conv2d_1a_3x3.bn.running_var", net.state("Conv2d_1a_3x3.bn.running_var"), "buffer");
}

TEST_CASE("small image encoder: names and shapes equal the oracle's at its default widths") {
  std::ifstream in(golden_path("models", "damsm_small_names"));
  REQUIRE(in.good());
  std::vector<std::pair<std::string, shape>> want;
  std::string name, dims;
  while (std::getline(in, name, '\t') && std::getline(in, dims)) {
    index_t d[4] = {1, 1, 1, 1};
    int rank = 0;
    std::istringstream ds(dims);
    std::string part;
    while (std::getline(ds, part, ',')) d[rank++] = std::stoll(part);
    want.emplace_back(name, shape::from_dims(d, rank));
  }
  REQUIRE(want.size() == 6 * 5 + 3);  // six conv-BN units (weight, bn weight, bias, running mean, var), projections
  generator rng(3);
  nn::network<models::small_image_encoder<256>, float, cpu> net(rng);
  CHECK(names_and_shapes(net) == want);
  // the shape contract at the oracle's size: 17×17 regions, like Mixed_6e
  net.eval();
  no_grad_guard guard;
  auto out = net(vf::leaf(randu<float>(shape(1, 3, 64, 64), 4, -1.f, 1.f)));
  CHECK(out.region.shape() == shape(1, 256, 17, 17));
  CHECK(out.code.shape() == shape(1, 256));
}

TEST_CASE("inception_v3 (random weights): the DAMSM trunk plus torchvision's fc, a saved file loads back") {
  using inception = nn::network<models::inception_v3<1000>, float, cpu>;
  generator rng(2);
  inception net(rng);
  nn::network<models::inception_image_encoder<256>, float, cpu> encoder(rng);
  std::vector<std::string> want, got;
  for (const auto& e : encoder.entries())
    if (e.name.rfind("emb_", 0) != 0) want.push_back(e.name);
  want.insert(want.end(), {"fc.weight", "fc.bias"});
  for (const auto& e : net.entries()) got.push_back(e.name);
  CHECK(got == want);
  CHECK(net.state("fc.weight").shape() == shape(1000, 2048));
  CHECK(net.parameter_count() == 21785568 + 2048 * 1000 + 1000);  // spec §13.4's trunk + fc

  formula_state(net);  // BatchNorm statistics in a sane range
  net.eval();
  const std::string file = std::string(ATTNGAN_TESTS_BINARY_DIR) + "/inception_v3_random.safetensors";
  io::save_state(file, net);
  generator other_rng(3);
  inception back(other_rng);
  io::load_state(file, back);
  back.eval();

  generator data(4);
  const auto images = data.uniform<float, cpu>(shape(4, 3, 64, 64), -1.f, 1.f);
  const auto a = models::inception_activations_of(net.module(), images, 3);  // batches of 3 and 1
  const auto b = models::inception_activations_of(back.module(), images, 4);
  REQUIRE(a.pool.shape() == shape(4, 2048));
  REQUIRE(a.probs.shape() == shape(4, 1000));
  const auto pa = a.pool.to_vector(), pb = b.pool.to_vector(), qa = a.probs.to_vector(), qb = b.probs.to_vector();
  std::size_t differ = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) differ += !(std::abs(pa[i] - pb[i]) <= 1e-5f * (1 + std::abs(pa[i])));
  for (std::size_t i = 0; i < qa.size(); ++i) differ += !(std::abs(qa[i] - qb[i]) <= 1e-6f);
  CHECK(differ == 0);
  for (index_t r = 0; r < 4; ++r) {
    double sum = 0;
    for (index_t c = 0; c < 1000; ++c) sum += qa[std::size_t(r * 1000 + c)];
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-4));
  }

  // IS and FID from such activations: the inception_scores test below.
  CHECK_THROWS_AS(models::inception_activations_of(net.module(), tensor<float, cpu>(shape(2, 1, 64, 64)), 2),
                  shape_error);
}

namespace {
// A stand-in for inception_v3 (the test above runs the real one): pool = the
// flattened image (b, 12) of a 2×2 RGB input, logits = 3·pool.
struct flatten_net {
  struct out {
    var<float, cpu> pool, logits;
  };
  out operator()(const var<float, cpu>& x) const {
    const var<float, cpu> f = reshape(x, shape(x.shape()[0], 12));
    return {f, f * 3.0f};
  }
};
}  // namespace

TEST_CASE("inception_scores: IS of the first set's softmax(logits), FID of the pool features, any batch size") {
  generator g(5);
  const auto fake = g.uniform<float, cpu>(shape(7, 3, 2, 2), -1.f, 1.f);
  // 20 real images in 12 dimensions: a full-rank covariance, so FID(real, real)
  // is 0 up to round-off (with fewer images than dimensions the square roots
  // of round-off eigenvalues leave about √ε per missing dimension).
  const auto real = g.uniform<float, cpu>(shape(20, 3, 2, 2), -0.5f, 1.f);
  const flatten_net net;
  const auto r = models::inception_scores(net, fake, real, 3, 2);  // batches of 2: 4 for 7 images
  CHECK(r.generated == 7);
  CHECK(r.real == 20);
  CHECK(r.splits == 3);

  // the same numbers by hand (the pool features are the images themselves, so
  // FID must agree to round-off)
  const auto f = fake.to_vector();
  models::host_matrix probs{7, 12, std::vector<double>(84)};
  for (index_t i = 0; i < 7; ++i) {
    double z = 0;
    for (index_t k = 0; k < 12; ++k) z += std::exp(3.0 * f[std::size_t(i * 12 + k)]);
    for (index_t k = 0; k < 12; ++k) probs.v[std::size_t(i * 12 + k)] = std::exp(3.0 * f[std::size_t(i * 12 + k)]) / z;
  }
  // the network's softmax runs in float: relative error ~1e-7 per probability
  const auto want_is = models::inception_score(probs, 3);
  CHECK(r.inception_score.mean == doctest::Approx(want_is.mean).epsilon(1e-5));
  CHECK(std::abs(r.inception_score.std - want_is.std) <= 1e-5 * want_is.mean);
  CHECK(r.inception_score.mean > 1.05);  // the images differ, so do their predictions
  const double want_fid = models::frechet_inception_distance(fake.view(shape(7, 12)), real.view(shape(20, 12)));
  CHECK(r.fid == doctest::Approx(want_fid).epsilon(1e-12));
  CHECK(r.fid > 0.1);
  CHECK(models::inception_scores(net, fake, real, 3, 7).fid == doctest::Approx(r.fid).epsilon(1e-12));
  CHECK(std::abs(models::inception_scores(net, real, real, 3, 4).fid) < 1e-9);
  CHECK_THROWS_AS(models::inception_scores(net, fake, real, 8, 2), value_error);  // 8 splits of 7 images
  CHECK_THROWS_AS(models::inception_activations_of(net, fake, 0), value_error);
}

}  // namespace test_image_encoder
