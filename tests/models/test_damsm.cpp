// The DAMSM side of AttnGAN, against the PyTorch oracle (fixtures by
// golden/make_damsm_fixtures.py):
//  * the text encoder (spec §3): checkpoint names and shapes of the bird
//    encoder, word and sentence features with unequal lengths, dropout;
//  * the oracle's small image encoder on a reduced configuration (eval and
//    train mode) and the DAMSM losses (spec §5) with and without class
//    masking, the gradients of every text- and image-encoder parameter by
//    name, one DAMSM pretraining step (spec §10.6);
//  * gradcheck of the word and sentence losses in double.
// One translation unit for all of it: the text encoder, the small encoder
// and the losses are instantiated once (compile time is a budget).
#include "damsm_fixtures.hpp"

#include <map>

#include <attngan/models/attngan/damsm.hpp>
#include <attngan/models/attngan/image_encoder.hpp>
#include <attngan/models/attngan/text_encoder.hpp>

namespace test_damsm {

using namespace attngan;
using namespace attngan::test;

namespace {

/// The oracle's small encoder with widths 4 6 8 10 12 16, nef 8, input 95.
using small_image_spec = models::small_image_encoder<8, 95, 4, 6, 8, 10, 12, 16>;

struct small_damsm {
  golden_file f{golden_path("models", "damsm_small")};
  generator rng{11};
  nn::network<small_text_spec, float, cpu> text{rng};
  nn::network<small_image_spec, float, cpu> image{rng};
  tensor<std::int64_t, cpu> captions = id_tensor(f, "captions");
  std::vector<index_t> lengths = index_list(f, "lengths");
  std::vector<std::int64_t> class_ids;
  small_damsm() {
    load_prefixed_state(text, f, "param.");
    load_prefixed_state(image, f, "image.param.");
    for (float c : f.at("class_ids").values) class_ids.push_back(std::int64_t(c));
    text->dropout = 0.0;  // torch's dropout stream cannot be reproduced
  }
};

double scalar(const golden_file& f, const std::string& name) { return double(f.at(name).values.at(0)); }

void check_scalar(const golden_file& f, const std::string& name, const vf& got) {
  CAPTURE(name);
  const double want = scalar(f, name);
  CHECK(std::abs(double(got.item()) - want) <= 1e-4 * std::abs(want) + 1e-6);
}

}  // namespace

TEST_CASE("text encoder: names and shapes equal text_encoder200.pth in order") {
  generator rng(1);
  nn::network<models::text_encoder<5450>, float, cpu> net(rng);
  const auto want = key_table("text_encoder200.pth");
  REQUIRE(want.size() == 9);
  CHECK(names_and_shapes(net) == want);
  CHECK(net.parameter_count() == 5450 * 300 + 2 * (512 * 300 + 512 * 128 + 2 * 512));
  // embedding initialised U(-0.1, 0.1) as RNN_ENCODER.init_weights
  auto w = net.state("encoder.weight").to_vector();
  float lo = 1, hi = -1;
  for (float v : w) lo = std::min(lo, v), hi = std::max(hi, v);
  CHECK(lo >= -0.1f);
  CHECK(hi <= 0.1f);
  CHECK(hi - lo > 0.19f);
}

TEST_CASE("golden: text encoder word and sentence features equal the oracle with unequal lengths") {
  const golden_file f(golden_path("models", "damsm_small"));
  generator rng(2);
  nn::network<small_text_spec, float, cpu> net(rng);
  load_prefixed_state(net, f, "param.");
  const auto captions = id_tensor(f, "captions");  // (4, 7), lengths 6 5 5 3
  const auto lengths = index_list(f, "lengths");
  net.eval();
  auto r = net(captions, lengths);
  CHECK(r.words.shape() == shape(4, 8, 6));
  CHECK(r.sent.shape() == shape(4, 8));
  check_close(f, "words", r.words.value(), "output");
  check_close(f, "sent", r.sent.value(), "output");
  // training with dropout 0 is the same computation
  net.train();
  net->dropout = 0.0;
  auto t = net(captions, lengths);
  check_close(f, "words", t.words.value(), "output");
  // words past each caption's length are exactly zero (packed semantics)
  auto w = r.words.value().to_vector();
  for (index_t t2 = 3; t2 < 6; ++t2)
    for (index_t d = 0; d < 8; ++d) CHECK(w[std::size_t((3 * 8 + d) * 6 + t2)] == 0.f);
}

TEST_CASE("text encoder dropout: active in training only, reproducible from the generator") {
  const golden_file f(golden_path("models", "damsm_small"));
  generator init(3);
  nn::network<small_text_spec, float, cpu> net(init);
  load_prefixed_state(net, f, "param.");
  const auto captions = id_tensor(f, "captions");
  const auto lengths = index_list(f, "lengths");
  net.train();
  CHECK(net->dropout == 0.5);
  generator a(7), b(7);
  auto ra = net(captions, lengths, a), rb = net(captions, lengths, b);
  CHECK(ra.sent.value().to_vector() == rb.sent.value().to_vector());
  const double from_eval = max_abs_diff(ra.words.value().to_vector(), f.at("words").values);
  CHECK(from_eval > 1e-3);  // dropout changed the features
  CHECK(error_message<value_error>([&] { (void)net(captions, lengths); }) ==
        "text_encoder: training with dropout needs a generator: call (captions, lengths, rng)");
  // gradients reach the embedding rows of the words used, and only those
  backward(vf(sum(ra.words) + sum(ra.sent)));
  const auto& e = net.entries()[0];
  auto grad = net.gradient_arena().subview(e.offset, e.extents).to_vector();
  std::vector<bool> used(20, false);
  auto ids = captions.to_vector();
  for (std::size_t k = 0; k < ids.size(); ++k)
    if (index_t(k % 7) < lengths[k / 7]) used[std::size_t(ids[k])] = true;
  for (int v = 0; v < 20; ++v) {
    double n = 0;
    for (int d = 0; d < 12; ++d) n += std::abs(grad[std::size_t(v * 12 + d)]);
    CAPTURE(v);
    CHECK((n > 0) == bool(used[std::size_t(v)]));
  }
}

TEST_CASE("golden: small image encoder (eval and train mode) and DAMSM losses equal the oracle") {
  small_damsm s;
  const vf images = vf::leaf(s.f.tensor_of("images"));  // (4, 3, 20, 20)
  s.image.eval();
  {
    no_grad_guard guard;
    auto e = s.image(images);
    check_close(s.f, "eval.region", e.region.value(), "output");
    check_close(s.f, "eval.code", e.code.value(), "output");
  }
  s.image.train();
  auto img = s.image(images);
  CHECK(img.region.shape() == shape(4, 8, 5, 5));
  check_close(s.f, "region", img.region.value(), "output");
  check_close(s.f, "code", img.code.value(), "output");
  auto txt = s.text(s.captions, s.lengths);
  check_close(s.f, "words", txt.words.value(), "output");

  auto w = models::words_loss(img.region, txt.words, s.lengths, s.class_ids);
  auto se = models::sent_loss(img.code, txt.sent, s.class_ids);
  check_close(s.f, "w_similarity", w.similarity.value(), "output");
  check_close(s.f, "s_similarity", se.similarity.value(), "output");
  check_scalar(s.f, "w_loss0", w.loss0);
  check_scalar(s.f, "w_loss1", w.loss1);
  check_scalar(s.f, "s_loss0", se.loss0);
  check_scalar(s.f, "s_loss1", se.loss1);
  // class masking matters here (samples 0 and 2 share a class)
  auto wn = models::words_loss(img.region, txt.words, s.lengths);
  auto sn = models::sent_loss(img.code, txt.sent);
  check_scalar(s.f, "nomask.w_loss0", wn.loss0);
  check_scalar(s.f, "nomask.w_loss1", wn.loss1);
  check_scalar(s.f, "nomask.s_loss0", sn.loss0);
  check_scalar(s.f, "nomask.s_loss1", sn.loss1);
  CHECK(std::abs(scalar(s.f, "nomask.w_loss0") - scalar(s.f, "w_loss0")) > 1e-3);

  // attention maps: caption i over its own image, (L_i, 5, 5), a distribution over regions per word
  CHECK(w.attention.shape() == shape(4, 25, 4, 6));
  for (index_t i = 0; i < 4; ++i) {
    auto m = w.attention_map(i);
    CHECK(m.shape() == shape(s.lengths[std::size_t(i)], 5, 5));
    auto v = m.value().to_vector();
    for (index_t t = 0; t < s.lengths[std::size_t(i)]; ++t) {
      double total = 0;
      for (index_t r = 0; r < 25; ++r) total += v[std::size_t(t * 25 + r)];
      CHECK(total == doctest::Approx(1.0).epsilon(1e-5));
    }
  }
}

TEST_CASE("golden: gradients of every text and small image encoder parameter equal the oracle by name") {
  small_damsm s;
  s.text.train();
  s.image.train();
  const vf images = vf::leaf(s.f.tensor_of("images"), true);
  auto img = s.image(images);
  auto txt = s.text(s.captions, s.lengths);
  auto w = models::words_loss(img.region, txt.words, s.lengths, s.class_ids);
  auto se = models::sent_loss(img.code, txt.sent, s.class_ids);
  backward(vf(w.loss0 + w.loss1 + se.loss0 + se.loss1));
  int checked = 0;
  for (const auto& e : s.text.entries()) {
    check_close(s.f, "grad." + e.name, s.text.gradient_arena().subview(e.offset, e.extents).clone(), "grad");
    ++checked;
  }
  for (const auto& e : s.image.entries()) {
    if (e.kind != nn::tensor_kind::parameter) continue;
    check_close(s.f, "image.grad." + e.name, s.image.gradient_arena().subview(e.offset, e.extents).clone(), "grad");
    ++checked;
  }
  CHECK(checked == 9 + 6 * 3 + 3);
  check_close(s.f, "grad.images", images.grad(), "grad");
}

TEST_CASE("golden: two DAMSM pretraining steps equal the oracle's (clip 0.25, Adam 0.002, trunk frozen)") {
  small_damsm s;
  s.text.train();
  s.image.train();
  models::damsm_trainer trainer(s.text, s.image);
  CHECK(trainer.lr() == 0.002);
  const auto losses = trainer.step(s.f.tensor_of("images"), s.captions, s.lengths, s.class_ids, s.rng);
  CHECK(losses.w_loss0 == doctest::Approx(scalar(s.f, "w_loss0")).epsilon(1e-4));
  CHECK(losses.s_loss1 == doctest::Approx(scalar(s.f, "s_loss1")).epsilon(1e-4));
  CHECK(losses.text_grad_norm == doctest::Approx(scalar(s.f, "step.text_grad_norm")).epsilon(1e-4));
  CHECK(losses.text_grad_norm > 0.25);  // the clip is active
  for (const auto& e : s.text.entries()) check_close(s.f, "step." + e.name, s.text.state(e.name), "output");
  // trunk parameters unchanged, BatchNorm statistics updated once, projections stepped
  for (const auto& e : s.image.entries())
    check_close(s.f, "step.image." + e.name, s.image.state(e.name),
                e.kind == nn::tensor_kind::buffer ? "buffer" : "output");
  // second step: Adam's moments carry step 1's clipped gradients, so the
  // parameters now depend on the clip factors of both steps
  const auto second = trainer.step(s.f.tensor_of("images"), s.captions, s.lengths, s.class_ids, s.rng);
  CHECK(second.w_loss0 == doctest::Approx(scalar(s.f, "step2.w_loss0")).epsilon(1e-4));
  CHECK(second.s_loss0 == doctest::Approx(scalar(s.f, "step2.s_loss0")).epsilon(1e-4));
  CHECK(second.text_grad_norm == doctest::Approx(scalar(s.f, "step2.text_grad_norm")).epsilon(1e-4));
  for (const auto& e : s.text.entries()) check_close(s.f, "step2." + e.name, s.text.state(e.name), "output");
  for (const auto& e : s.image.entries())
    check_close(s.f, "step2.image." + e.name, s.image.state(e.name),
                e.kind == nn::tensor_kind::buffer ? "buffer" : "output");
  trainer.end_epoch();
  CHECK(trainer.lr() == doctest::Approx(0.002 * 0.98));
}

TEST_CASE("damsm_trainer with train_image_trunk: the trunk learns too, the frozen default leaves it") {
  // Same inputs, one step each way: with the option every image parameter
  // moves (and the text side takes the very same step, its loss being the
  // same); without it only the projections move.
  const auto moved = [](bool trunk) {
    small_damsm s;
    s.text.train();
    s.image.train();
    const auto before = s.image.parameter_arena().to_vector();
    models::damsm_options o;
    o.train_image_trunk = trunk;
    models::damsm_trainer trainer(s.text, s.image, o);
    (void)trainer.step(s.f.tensor_of("images"), s.captions, s.lengths, s.class_ids, s.rng);
    std::map<std::string, bool> changed;
    for (const auto& e : s.image.entries()) {
      if (e.kind != nn::tensor_kind::parameter) continue;
      const auto now = s.image.state(e.name).to_vector();
      bool any = false;
      for (std::size_t i = 0; i < now.size(); ++i) any = any || now[i] != before[std::size_t(e.offset) + i];
      changed[e.name] = any;
    }
    return std::pair{changed, s.text.parameter_arena().to_vector()};
  };
  const auto [frozen, text_frozen] = moved(false);
  const auto [trained, text_trained] = moved(true);
  int trunk_params = 0;
  for (const auto& [name, any] : trained) {
    const bool projection = name.rfind("emb_", 0) == 0;
    CAPTURE(name);
    CHECK(any);                                // everything learns with the option
    CHECK(frozen.at(name) == projection);      // only the projections without it
    trunk_params += !projection;
  }
  CHECK(trunk_params >= 8);  // four conv units and two more at least: the check covers the trunk
  CHECK(text_frozen == text_trained);
}

TEST_CASE("projection_offset: the trunk ends where emb_features begins, and a network without projections is refused") {
  generator rng(3);
  nn::network<small_image_spec, float, cpu> image(rng);
  const index_t projections = 8 * 10 + (8 * 16 + 8);  // emb_features (8, 10, 1, 1), emb_cnn_code (8, 16) + bias
  CHECK(models::detail::projection_offset(image, "test") == image.parameter_count() - projections);
  nn::network<nn::linear<4, 3>, float, cpu> plain(rng);
  try {
    (void)models::detail::projection_offset(plain, "test_op");
    FAIL("no error");
  } catch (const value_error& e) {
    CHECK_CONTAINS(e.what(), "test_op");
    CHECK_CONTAINS(e.what(), "no emb_features");
  }
}

TEST_CASE("trunk_attribute_pretrainer: the trunk learns to name colours, the projections stay as they were") {
  // Two groups (left and right half of the image), three classes (which of
  // red, green, blue fills that half, under noise): the head start must learn
  // them from the pooled trunk vector alone, or from the local grid alone
  // (3x3 here), or both. Input 63: the glob unit's output is 1x1, so the
  // pooled vector still knows left from right.
  for (const models::attribute_head which :
       {models::attribute_head::pooled, models::attribute_head::local, models::attribute_head::both}) {
    CAPTURE(int(which));
    using spec = models::small_image_encoder<8, 63, 4, 6, 8, 10, 12, 16>;
    generator rng(5);
    nn::network<spec, float, cpu> image(rng);
    image.train();
    const auto before = image.parameter_arena().to_vector();
    models::trunk_attribute_pretrainer<spec, 2, 3, float, cpu> pre(image, rng, which);
    CHECK(pre.head() == which);
    const index_t n = 12, side = 32;
    const auto batch = [&](std::uint64_t seed, std::vector<index_t>& labels) {
      generator g(seed);
      const auto noise = g.uniform<float, cpu>(shape(n, 3, side, side), -0.3f, 0.3f).to_vector();
      const auto picks = g.uniform<float, cpu>(shape(n, 2), 0.0f, 3.0f).to_vector();
      std::vector<float> x(noise);
      labels.clear();
      for (index_t i = 0; i < n; ++i)
        for (int half = 0; half < 2; ++half) {
          const int c = std::min(2, int(picks[std::size_t(i * 2 + half)]));
          labels.push_back(c);
          for (int ch = 0; ch < 3; ++ch)
            for (index_t y = 0; y < side; ++y)
              for (index_t xx = half * side / 2; xx < (half + 1) * side / 2; ++xx)
                x[std::size_t(((i * 3 + ch) * side + y) * side + xx)] += ch == c ? 0.6f : -0.6f;
        }
      return tensor<float, cpu>::from_host(shape(n, 3, side, side), x);
    };
    std::vector<index_t> labels;
    double first_loss = 0, last_loss = 0, early = 0, late = 0;  // accuracy of the first and last 10 steps
    // The local head must first learn where to look: it needs about twice
    // the steps (at 60 it names 76 % alone and 62 % beside the pooled head).
    const int steps = which == models::attribute_head::pooled ? 60 : 120;
    for (int step = 0; step < steps; ++step) {
      const auto x = batch(100 + std::uint64_t(step), labels);
      const auto r = pre.step(x, labels);
      REQUIRE(std::isfinite(r.loss));
      if (step == 0) first_loss = r.loss;
      last_loss = r.loss;
      // the head read: the local one where there is one
      CHECK((r.accuracy >= 0) == (which != models::attribute_head::local));
      CHECK((r.local_accuracy >= 0) == (which != models::attribute_head::pooled));
      const double accuracy = which == models::attribute_head::pooled ? r.accuracy : r.local_accuracy;
      if (step < 10) early += accuracy / 10;
      if (step >= steps - 10) late += accuracy / 10;
    }
    CAPTURE(early);
    // about ln 3 at the start (twice that with both heads)
    CHECK(first_loss > (which == models::attribute_head::both ? 1.8 : 0.9));
    CHECK(last_loss < 0.7 * first_loss);
    CHECK(late >= 0.85);      // chance: 1/3
    // Trunk moved, projections did not; the local head alone leaves glob
    // (the layers after the local grid) as it was too.
    for (const auto& e : image.entries()) {
      if (e.kind != nn::tensor_kind::parameter) continue;
      const auto now = image.state(e.name).to_vector();
      bool any = false;
      for (std::size_t i = 0; i < now.size(); ++i) any = any || now[i] != before[std::size_t(e.offset) + i];
      CAPTURE(e.name);
      const bool trained = e.name.rfind("emb_", 0) != 0 &&
                           (which != models::attribute_head::local || e.name.rfind("glob.", 0) != 0);
      CHECK(any == trained);
    }
    // A label list of the wrong length is refused.
    const auto x = batch(1, labels);
    labels.pop_back();
    CHECK_THROWS_AS((void)pre.step(x, labels), shape_error);
  }
}

TEST_CASE("damsm_trainer with adam_per_epoch false: end_epoch keeps Adam's moments, the default resets them") {
  // Three steps on the same batch with an epoch boundary after the first,
  // no lr decay: kept moments give exactly the run without the boundary;
  // the original's fresh Adam gives another one.
  const auto run = [](bool per_epoch, bool boundary) {
    small_damsm s;
    s.text.train();
    s.image.train();
    models::damsm_options o;
    o.lr_decay = 1.0;
    o.adam_per_epoch = per_epoch;
    models::damsm_trainer trainer(s.text, s.image, o);
    for (int i = 0; i < 3; ++i) {
      (void)trainer.step(s.f.tensor_of("images"), s.captions, s.lengths, s.class_ids, s.rng);
      if (i == 0 && boundary) trainer.end_epoch();
    }
    auto p = s.text.parameter_arena().to_vector();
    const auto q = s.image.parameter_arena().to_vector();
    p.insert(p.end(), q.begin(), q.end());
    return p;
  };
  const auto unbroken = run(true, false);
  CHECK(run(false, true) == unbroken);
  CHECK(run(true, true) != unbroken);
}

TEST_CASE("gradcheck: DAMSM word and sentence losses in double, with unequal lengths and class masking") {
  const auto regions = randn<double>(shape(3, 4, 2, 2), 21);
  auto words = randn<double>(shape(3, 4, 3), 22);
  const std::vector<index_t> lengths{3, 2, 1};
  const std::vector<std::int64_t> classes{5, 2, 5};
  const models::damsm_gammas g{};
  auto r = gradcheck<cpu>(
      [&](const std::vector<vd>& v) {
        auto w = models::words_loss(v[0], v[1], lengths, classes, g);
        return vd(w.loss0 + w.loss1 * 0.7);
      },
      {&regions, &words});
  INFO(r.report);
  CHECK(r.ok);
  CHECK(r.checked == regions.numel() + words.numel());
  auto r2 = gradcheck<cpu>(
      [&](const std::vector<vd>& v) {
        auto w = models::words_loss(v[0], v[1], lengths, std::vector<std::int64_t>{}, g);
        return w.similarity;
      },
      {&regions, &words});
  INFO(r2.report);
  CHECK(r2.ok);
  const auto codes = randn<double>(shape(3, 5), 23), sent = randn<double>(shape(3, 5), 24);
  auto r3 = gradcheck<cpu>(
      [&](const std::vector<vd>& v) {
        auto s = models::sent_loss(v[0], v[1], classes, g);
        return vd(s.loss0 * 0.3 + s.loss1);
      },
      {&codes, &sent});
  INFO(r3.report);
  CHECK(r3.ok);
}

TEST_CASE("DAMSM losses reject mismatched inputs with the op name") {
  vf regions = vf::leaf(randn<float>(shape(2, 4, 2, 2), 1)), words = vf::leaf(randn<float>(shape(2, 4, 3), 2));
  CHECK(error_message<value_error>([&] { (void)models::words_loss(regions, words, {3, 4}); }) ==
        "words_loss: length 4 of caption 1 is outside [1, 3]");
  CHECK(error_message<value_error>([&] { (void)models::words_loss(regions, words, {3}); }) ==
        "words_loss: 1 lengths for a batch of 2");
  CHECK(error_message<value_error>([&] { (void)models::words_loss(regions, words, {3, 2}, {1}); }) ==
        "words_loss: 1 class ids for a batch of 2");
  vf bad = vf::leaf(randn<float>(shape(2, 5, 3), 3));
  CHECK(error_message<shape_error>([&] { (void)models::words_loss(regions, bad, {3, 2}); }).find("words_loss") == 0);
  CHECK(error_message<shape_error>([&] { (void)models::sent_loss(vf::leaf(randn<float>(shape(2, 4), 4)),
                                                                 vf::leaf(randn<float>(shape(2, 5), 5))); })
            .find("sent_loss") == 0);
}

}  // namespace test_damsm
