// The generator side's parts on their own: the two attention masks, attention
// and CA gradchecks in double (inputs and parameters), weights_init, the
// small preset's shapes, and the errors the model code reports.
#include "gen_fixture.hpp"
#include "../nn/network_gradcheck.hpp"

using namespace attngan;
using namespace attngan::test;
namespace M = attngan::models;

TEST_CASE("attention mask: the official mode gives pixel n of sample b the mask of sample (b*N + n) mod B") {
  const index_t batch = 3, words = 4, pixels = 5;
  const auto mask = M::padding_mask<float, cpu>({4, 2, 3}, words);
  CHECK(mask.to_vector() == std::vector<float>{0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1});
  const auto official = M::attention_row_mask(mask, pixels, M::mask_mode::official);
  REQUIRE(official.shape() == shape(batch, pixels, words));
  const auto o = official.to_vector(), m = mask.to_vector();
  for (index_t b = 0; b < batch; ++b)
    for (index_t n = 0; n < pixels; ++n)
      for (index_t t = 0; t < words; ++t) {
        CAPTURE(b);
        CAPTURE(n);
        const index_t source = (b * pixels + n) % batch;
        CHECK(o[std::size_t((b * pixels + n) * words + t)] == m[std::size_t(source * words + t)]);
      }
  const auto correct = M::attention_row_mask(mask, pixels, M::mask_mode::correct);
  CHECK(correct.shape() == shape(batch, 1, words));
  CHECK(correct.to_vector() == m);
  auto too_long = [] { return M::padding_mask<float, cpu>({5, 2}, 4); };
  CHECK_THROWS_AS(too_long(), value_error);
}

TEST_CASE("word attention: weights sum to one over words; the per-sample mask zeroes padding; equal lengths make the modes agree") {
  generator rng(1);
  nn::network<M::word_attention<3, 4>, float, cpu> att(rng);
  vf h = vf::leaf(randn<float>(shape(2, 3, 2, 3), 2));
  vf words = vf::leaf(randn<float>(shape(2, 4, 5), 3));
  const auto mask = M::padding_mask<float, cpu>({5, 3}, 5);
  const auto c = att(h, words, &mask, M::mask_mode::correct);
  CHECK(c.context.shape() == shape(2, 3, 2, 3));
  REQUIRE(c.map.shape() == shape(2, 5, 2, 3));
  const auto map = c.map.value().to_vector();  // (B, T, H·W)
  for (index_t b = 0; b < 2; ++b)
    for (index_t n = 0; n < 6; ++n) {
      double s = 0;
      for (index_t t = 0; t < 5; ++t) s += map[std::size_t((b * 5 + t) * 6 + n)];
      CHECK(s == doctest::Approx(1.0).epsilon(1e-6));
      if (b == 1)
        for (index_t t = 3; t < 5; ++t) CHECK(map[std::size_t((b * 5 + t) * 6 + n)] == 0.f);
    }
  const auto o = att(h, words, &mask, M::mask_mode::official);
  CHECK(max_abs_diff(o.context.value().to_vector(), c.context.value().to_vector()) > 1e-3);  // lengths differ
  const auto same = M::padding_mask<float, cpu>({3, 3}, 5);
  CHECK(att(h, words, &same, M::mask_mode::official).context.value().to_vector() ==
        att(h, words, &same, M::mask_mode::correct).context.value().to_vector());
  CHECK_THROWS_WITH_AS(att(h, vf::leaf(randn<float>(shape(2, 3, 5), 4)), &mask),
                       "word_attention: expects h (B, 3, H, W) and words (B, 4, T), got (2, 3, 2, 3) and (2, 3, 5)",
                       shape_error);
  const auto short_mask = M::padding_mask<float, cpu>({4, 3}, 4);
  CHECK_THROWS_AS(att(h, words, &short_mask), shape_error);
}

TEST_CASE("gradcheck: word attention in both mask modes, w.r.t. image features, words and conv_context") {
  generator rng(5);
  nn::network<M::word_attention<3, 4>, double, cpu> att(rng);
  const auto h = randn<double>(shape(2, 3, 2, 3), 6);
  const auto words = randn<double>(shape(2, 4, 5), 7);
  const auto mask = M::padding_mask<double, cpu>({5, 3}, 5);
  for (auto mode : {M::mask_mode::official, M::mask_mode::correct}) {
    CAPTURE(int(mode));
    const auto r = gradcheck_network(att, {&h, &words}, [&](auto& net, const std::vector<vd>& x) {
      return net(x[0], x[1], &mask, mode).context;
    });
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: conditioning augmentation (c and the KL term) w.r.t. sentence, noise and fc") {
  generator rng(8);
  nn::network<M::ca_net<5, 3>, double, cpu> ca(rng);
  const auto sent = randn<double>(shape(2, 5), 9);
  const auto eps = randn<double>(shape(2, 3), 10);
  const auto rc = gradcheck_network(ca, {&sent, &eps}, [](auto& net, const std::vector<vd>& x) { return net(x[0], x[1]).c; });
  CHECK_MESSAGE(rc.ok, rc.report);
  const auto rk = gradcheck_network(ca, {&sent, &eps},
                                    [](auto& net, const std::vector<vd>& x) { return M::ca_kl_loss(net(x[0], x[1])); });
  CHECK_MESSAGE(rk.ok, rk.report);
  // c = μ + ε·exp(½ logσ²): with ε = 0 the condition is the mean
  const auto out = ca(vd::leaf(sent.clone()), vd::leaf(tensor<double, cpu>::zeros(shape(2, 3))));
  CHECK(out.c.value().to_vector() == out.mu.value().to_vector());
  CHECK_THROWS_AS(ca(vd::leaf(sent.clone()), vd::leaf(tensor<double, cpu>::zeros(shape(2, 4)))), shape_error);
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
