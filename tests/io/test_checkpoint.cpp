// tests/io/test_checkpoint.cpp — the AttnGAN training state (io/checkpoint.hpp)
// on the small preset with the oracle's small image encoder, float, cpu,
// batch 2:
//  * resume exactness: 4 iterations uninterrupted; separately 2 iterations,
//    a checkpoint, a NEW trainer built from another seed (other weights, other
//    noise stream) loaded from it, 2 more iterations on the same batches — the
//    losses of iterations 3 and 4 and the final weights, EMA and D's equal the
//    uninterrupted run's bitwise. The noise z and ε are drawn by the trainers
//    themselves, so the restored noise generator is part of what is proven.
//  * a checkpoint of another configuration (another preset; another "config"
//    name; keys missing, unexpected or mis-shaped) fails with a message that
//    says so and leaves the trainer unchanged;
//  * the DAMSM encoder pair with its vocabulary.
// The only translation unit of test_io that instantiates gan_trainer.
#include <attngan/io/checkpoint.hpp>
#include <attngan/models/attngan.hpp>
#include <doctest/doctest.h>

#include "../data/scratch_folder.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace test_checkpoint {

namespace {

using namespace attngan;
using namespace attngan::io;
namespace M = attngan::models;
namespace fs = std::filesystem;
using attngan::test::scratch_folder;

using preset = M::small_preset;
using image_spec = M::small_image_encoder<>;
using trainer_t = M::gan_trainer<preset, image_spec>;  // float, cpu

constexpr index_t batch = 2, caption_length = 6;
const std::vector<index_t> lengths{6, 4};
const std::vector<std::int64_t> class_ids{3, 5};

struct batch_data {
  std::vector<tensor<float, cpu>> reals;
  tensor<std::int64_t, cpu> captions;
};

/// The batch of iteration `i`: the same for every trainer.
batch_data make_batch(int i) {
  generator g(std::uint64_t(1000 + i));
  batch_data b;
  for (int s = 0; s < preset::branch_num; ++s) {
    const index_t size = M::stage_image_size<preset>(s);
    b.reals.push_back(g.uniform<float, cpu>(shape(batch, 3, size, size), -1.f, 1.f));
  }
  const auto u = g.uniform<float, cpu>(shape(batch * caption_length)).to_vector();
  std::vector<std::int64_t> ids(u.size(), 0);
  for (index_t r = 0; r < batch; ++r)
    for (index_t c = 0; c < lengths[std::size_t(r)]; ++c) {
      const std::size_t k = std::size_t(r * caption_length + c);
      ids[k] = 1 + std::min<std::int64_t>(preset::n_words - 2, std::int64_t(u[k] * float(preset::n_words - 1)));
    }
  b.captions = tensor<std::int64_t, cpu>::from_host(shape(batch, caption_length), ids);
  return b;
}

/// Every number an iteration reports.
std::vector<double> run_step(trainer_t& tr, int i) {
  const batch_data b = make_batch(i);
  const M::gan_step_losses l = tr.step(b.reals, b.captions, lengths, class_ids);
  std::vector<double> v{l.w_loss0, l.w_loss1, l.s_loss0, l.s_loss1, l.kl, l.g_total};
  for (const auto& d : l.d)
    v.insert(v.end(), {d.total, d.real_uncond, d.real_cond, d.fake_uncond, d.fake_cond, d.wrong_cond});
  v.insert(v.end(), l.g_uncond.begin(), l.g_uncond.end());
  v.insert(v.end(), l.g_cond.begin(), l.g_cond.end());
  return v;
}

/// Every tensor of the trainer's state, in one list, for bitwise comparisons.
std::vector<std::vector<float>> state_of(trainer_t& tr) {
  std::vector<std::vector<float>> s;
  auto net = [&](auto& n) {
    s.push_back(n.parameter_arena().to_vector());
    s.push_back(n.buffer_arena().to_vector());
  };
  net(tr.generator_network());
  net(tr.discriminator<0>());
  net(tr.discriminator<1>());
  net(tr.text_encoder_network());
  net(tr.image_encoder_network());
  s.push_back(tr.average().average().to_vector());
  for (auto* adam : {&tr.generator_optimiser(), &tr.discriminator_optimiser(0), &tr.discriminator_optimiser(1)}) {
    s.push_back(adam->first_moment().to_vector());
    s.push_back(adam->second_moment().to_vector());
  }
  return s;
}

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> vocabulary_words(int n) {
  std::vector<std::string> w{"<end>"};
  for (int i = 1; i < n; ++i) w.push_back("w" + std::to_string(i));
  return w;
}

checkpoint_info info_at(std::int64_t step) {
  checkpoint_info info;
  info.step = step;
  info.epoch = 1;
  info.metadata["config"] = "small";
  info.metadata["vocabulary"] = words_to_json(vocabulary_words(preset::n_words));
  return info;
}

/// With ATTNGAN_IO_EXPORT_DIR set, keeps a copy of a written file there for
/// tests/io/check_safetensors.py (a manual check; CI leaves it unset).
void export_for_python(const fs::path& file, const std::string& name) {
  if (const char* out = std::getenv("ATTNGAN_IO_EXPORT_DIR"))
    fs::copy_file(file, fs::path(out) / name, fs::copy_options::overwrite_existing);
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("checkpoint: training resumed from a checkpoint continues bitwise as the uninterrupted run") {
  scratch_folder dir("io-ckpt");
  const fs::path path = dir / "gan.safetensors";

  // The uninterrupted run: 4 iterations.
  std::vector<std::vector<double>> uninterrupted;
  std::vector<std::vector<float>> final_state;
  {
    generator rng(11);
    trainer_t a(rng);
    for (int i = 0; i < 4; ++i) uninterrupted.push_back(run_step(a, i));
    final_state = state_of(a);
  }

  // 2 iterations, a checkpoint.
  std::vector<std::vector<float>> saved_state;
  generator saved_noise;
  {
    generator rng(11);
    trainer_t b(rng);
    for (int i = 0; i < 2; ++i) {
      CAPTURE(i);
      CHECK(run_step(b, i) == uninterrupted[std::size_t(i)]);  // the same seed runs the same
    }
    save_checkpoint(path, b, info_at(2));
    export_for_python(path, "gan_checkpoint.safetensors");
    saved_state = state_of(b);
    saved_noise = b.noise_generator();
  }
  CHECK(std::vector<std::string>{"gan.safetensors"} ==
        std::vector<std::string>{fs::directory_iterator(dir.path())->path().filename().string()});

  // A new trainer with other weights and another noise stream, loaded.
  generator rng(12345);
  trainer_t c(rng);
  {
    const auto fresh = state_of(c);
    REQUIRE(fresh.size() == saved_state.size());
    CHECK(fresh[0] != saved_state[0]);  // G's parameters
    CHECK(fresh[6] != saved_state[6]);  // the text encoder's
    CHECK(c.noise_generator().seed() != saved_noise.seed());
  }
  const checkpoint_info info = load_checkpoint(path, c, "small");
  CHECK(info.step == 2);
  CHECK(info.epoch == 1);
  CHECK(info.metadata.at("config") == "small");
  CHECK(words_from_json(info.metadata.at("vocabulary")) == vocabulary_words(preset::n_words));
  CHECK(info.metadata.count("format") == 0);
  CHECK(state_of(c) == saved_state);
  CHECK(c.noise_generator().seed() == saved_noise.seed());
  CHECK(c.noise_generator().offset() == saved_noise.offset());
  CHECK(c.generator_optimiser().steps() == 2);
  CHECK(c.discriminator_optimiser(1).steps() == 2);

  // Saving the loaded trainer gives the same bytes: nothing was lost.
  save_checkpoint(dir / "again.safetensors", c, info_at(2));
  CHECK(file_bytes(dir / "again.safetensors") == file_bytes(path));

  for (int i = 2; i < 4; ++i) {
    CAPTURE(i);
    const auto l = run_step(c, i);
    CHECK(l == uninterrupted[std::size_t(i)]);
    MESSAGE("iteration " << i + 1 << ": errG " << l[5] << " (uninterrupted " << uninterrupted[std::size_t(i)][5] << ")");
  }
  CHECK(state_of(c) == final_state);
}

namespace {
/// Another configuration of the same structure family: half of G's width.
struct narrow_preset : M::small_preset {
  static constexpr int gf_dim = 8;
};
}  // namespace

TEST_CASE("checkpoint: another configuration fails with a message that says so, and changes nothing") {
  scratch_folder dir("io-ckpt");
  const fs::path path = dir / "gan.safetensors";
  generator r1(1);
  trainer_t a(r1);
  save_checkpoint(path, a, info_at(0));
  generator r2(2);
  trainer_t b(r2);
  const auto before = state_of(b);

  // the caller's configuration name
  std::string msg = error_of([&] { load_checkpoint(path, b, "bird"); });
  CHECK(msg == "io::load_checkpoint: '" + path.string() + "': the checkpoint is of configuration 'small', not 'bird'");

  // another preset (a different G): named before any key is compared
  {
    generator r3(3);
    M::gan_trainer<narrow_preset, image_spec> n(r3);
    msg = error_of([&] { load_checkpoint(path, n); });
    CHECK(msg == "io::load_checkpoint: '" + path.string() +
                     "': the checkpoint is of another preset: gf_dim 16 (this trainer: 8)");
  }

  // keys missing, unexpected, mis-shaped: all listed in one message
  const safetensors_file good = read_safetensors(path);
  safetensors_file bad;
  bad.metadata = good.metadata;
  bad.set_source("edited.safetensors");
  const std::string dropped = "netD1." + b.discriminator<1>().entries().back().name;
  const std::string reshaped = "netG_ema." + b.generator_network().entries().front().name;
  for (const auto& [name, t] : good.tensors()) {
    if (name == dropped) continue;
    if (name == reshaped)
      bad.put(name, tensor<float, cpu>::zeros(shape(3, 3)));
    else
      bad.put(name, stored_tensor(t));
  }
  bad.put_scalar("optimizerD0.extra", 1.0f);
  bad.put_scalar("unrelated.key", 1.0f);  // outside the checkpoint's groups: ignored
  msg = error_of([&] { load_checkpoint(bad, b); });
  INFO(msg);
  CHECK(msg.find("io::load_checkpoint: 'edited.safetensors': the GAN training state does not match; 1 missing key: " +
                 dropped + "; 1 unexpected key: optimizerD0.extra; 1 mis-shaped key: " + reshaped +
                 " (file (3, 3), expected (") == 0);
  CHECK(state_of(b) == before);

  // not a GAN checkpoint at all
  safetensors_file plain;
  plain.put_scalar("x", 1.0f);
  CHECK(error_of([&] { load_checkpoint(plain, b); }).find("not an attngan.gan_checkpoint file") != std::string::npos);
  CHECK(state_of(b) == before);

  // reserved metadata keys are refused when saving
  checkpoint_info reserved = info_at(0);
  reserved.metadata["preset"] = "mine";
  CHECK_THROWS_AS(save_checkpoint(dir / "r.safetensors", b, reserved), value_error);
  CHECK(!fs::exists(dir / "r.safetensors"));
}

TEST_CASE("checkpoint: the DAMSM encoder pair with its vocabulary") {
  scratch_folder dir("io-ckpt");
  const fs::path path = dir / "damsm.safetensors";
  using text_net = nn::network<M::text_encoder_for<preset>, float, cpu>;
  using image_net = nn::network<image_spec, float, cpu>;
  generator r1(1), r2(2);
  text_net t1(r1), t2(r2);
  image_net i1(r1), i2(r2);
  i1.buffer_arena().fill(0.5f);  // trained BatchNorm statistics
  const auto words = vocabulary_words(preset::n_words);
  save_damsm(path, t1, i1, {{"config", "small"}, {"vocabulary", words_to_json(words)}});

  const safetensors_file f = read_safetensors(path);
  CHECK(f.meta("format") == "attngan.damsm");
  CHECK(f.contains("text_encoder.encoder.weight"));
  CHECK(f.at("text_encoder.encoder.weight").dims == std::vector<std::int64_t>{preset::n_words, preset::word_dim});
  CHECK(f.contains("image_encoder.emb_cnn_code.weight"));

  REQUIRE(t1.parameter_arena().to_vector() != t2.parameter_arena().to_vector());
  const auto meta = load_damsm(path, t2, i2, "small");
  CHECK(words_from_json(meta.at("vocabulary")) == words);
  CHECK(t2.parameter_arena().to_vector() == t1.parameter_arena().to_vector());
  CHECK(i2.parameter_arena().to_vector() == i1.parameter_arena().to_vector());
  CHECK(i2.buffer_arena().to_vector() == i1.buffer_arena().to_vector());

  // mismatches
  generator r3(3);
  text_net t3(r3);
  const auto t3_before = t3.parameter_arena().to_vector();
  CHECK(error_of([&] { load_damsm(path, t3, i2, "bird"); }).find("the checkpoint is of configuration 'small', not 'bird'") !=
        std::string::npos);
  save_damsm(dir / "long.safetensors", t1, i1, {{"vocabulary", words_to_json(vocabulary_words(6000))}});
  CHECK(error_of([&] { load_damsm(dir / "long.safetensors", t3, i2); })
            .find("the vocabulary has 6000 words, the text encoder embeds only 5450") != std::string::npos);
  CHECK(t3.parameter_arena().to_vector() == t3_before);
  // a GAN-state file is not a DAMSM file, and vice versa
  safetensors_file g;
  g.metadata = {{"format", "attngan.gan_checkpoint"}, {"format_version", "1"}};
  CHECK(error_of([&] { load_damsm(g, t3, i2); }).find("not an attngan.damsm file (metadata format is "
                                                     "'attngan.gan_checkpoint')") != std::string::npos);
  CHECK_THROWS_AS(words_from_json("{\"a\":1}"), value_error);
  CHECK_THROWS_AS(words_from_json("[1]"), value_error);
}

}  // namespace test_checkpoint
