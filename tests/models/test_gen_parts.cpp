// The generator side's parts on their own, in double (this translation unit
// instantiates the library for double only): the two attention masks,
// attention weights and errors, and gradchecks of the attention and of CA
// with respect to inputs and parameters.
#include "gen_fixture.hpp"
#include "../nn/network_gradcheck.hpp"

namespace test_gen_parts {

using namespace attngan;
using namespace attngan::test;
namespace M = attngan::models;

TEST_CASE("attention mask: the official mode gives pixel n of sample b the mask of sample (b*N + n) mod B") {
  const index_t batch = 3, words = 4, pixels = 5;
  const auto mask = M::padding_mask<double, cpu>({4, 2, 3}, words);
  CHECK(mask.to_vector() == std::vector<double>{0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1});
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
  auto too_long = [] { return M::padding_mask<double, cpu>({5, 2}, 4); };
  CHECK_THROWS_AS(too_long(), value_error);
}

TEST_CASE("word attention: weights sum to one over words, the per-sample mask zeroes padding, equal lengths make the modes agree") {
  generator rng(1);
  nn::network<M::word_attention<3, 4>, double, cpu> att(rng);
  vd h = vd::leaf(randn<double>(shape(2, 3, 2, 3), 2));
  vd words = vd::leaf(randn<double>(shape(2, 4, 5), 3));
  const auto mask = M::padding_mask<double, cpu>({5, 3}, 5);
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
        for (index_t t = 3; t < 5; ++t) CHECK(map[std::size_t((b * 5 + t) * 6 + n)] == 0.0);
    }
  const auto o = att(h, words, &mask, M::mask_mode::official);
  CHECK(max_abs_diff(o.context.value().to_vector(), c.context.value().to_vector()) > 1e-3);  // lengths differ
  const auto same = M::padding_mask<double, cpu>({3, 3}, 5);
  CHECK(att(h, words, &same, M::mask_mode::official).context.value().to_vector() ==
        att(h, words, &same, M::mask_mode::correct).context.value().to_vector());
  CHECK_THROWS_WITH_AS(att(h, vd::leaf(randn<double>(shape(2, 3, 5), 4)), &mask),
                       "word_attention: expects h (B, 3, H, W) and words (B, 4, T), got (2, 3, 2, 3) and (2, 3, 5)",
                       shape_error);
  const auto short_mask = M::padding_mask<double, cpu>({4, 3}, 4);
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

}  // namespace test_gen_parts
