// The whole AttnGAN model on the CPU, for the side-by-side table with the
// oracle (shared/reference/time_step.py runs the same work):
//   train_iteration  bird preset with the oracle's small image encoder,
//                    batch 2, captions of up to 18 words (the longest 18):
//                    one full training iteration (frozen text encoder, G
//                    forward, Adam steps of D64/D128/D256 on detached fakes,
//                    G step with adversarial + λ·DAMSM + KL, EMA).
//   generate_20      generator inference (text encoder + G in eval mode)
//                    for 20 captions, images up to 256².
//   demo_phase/P     the demo's model (examples/attngan_app.hpp: small
//                    preset 32² → 64², the small image encoder at 128²
//                    input as in examples/attngan_app.hpp),
//                    batch 32, one phase of a training iteration timed
//                    alone (the others run untimed around it): P = 0 G
//                    forward with the frozen text encoder, 1 the D updates
//                    on detached fakes, 2 the G update (adversarial through
//                    the D's, DAMSM, KL, backward, Adam), 3 the EMA; and
//                    demo_iteration, the whole iteration.
//   demo_damsm_step  one step of the demo's DAMSM pretraining
//                    (04_pretrain_damsm --dropout 0 --freeze-trunk): batch
//                    32 of 64² images (resized to 128² by the encoder), both
//                    encoders in training mode, Adam on the text encoder and
//                    the image projections.
//   demo_words_loss  the DAMSM word loss alone at the demo's sizes (regions
//                    (32, 256, 7, 7), words (32, 256, 18)), forward and
//                    backward into both.
// Weights keep PyTorch's default initialisation (time_step.py --fast-init:
// the orthogonal init only costs start-up time). Inputs are random.
#include <attngan/models/attngan.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include <sys/resource.h>

using namespace attngan;
namespace M = attngan::models;

namespace {

using bird_trainer = M::gan_trainer<M::bird_preset, M::small_image_encoder<>>;

/// Captions like time_step.py's random_batch: lengths in [8, 18], the first
/// 18, sorted by decreasing length; ids in [1, n_words), 0-padded.
struct caption_batch {
  tensor<std::int64_t, cpu> ids;
  std::vector<index_t> lengths;
};

caption_batch random_captions(index_t batch, std::uint64_t seed) {
  generator rng(seed);
  const index_t words = M::bird_preset::words_num;
  const auto u = rng.uniform<float, cpu>(shape(batch, words + 1)).to_vector();
  caption_batch c;
  for (index_t b = 0; b < batch; ++b)
    c.lengths.push_back(b == 0 ? words : 8 + index_t(u[std::size_t(b * (words + 1))] * float(words - 8 + 1)) % (words - 8 + 1));
  std::sort(c.lengths.begin(), c.lengths.end(), std::greater<>());
  std::vector<std::int64_t> ids(std::size_t(batch * words), 0);
  for (index_t b = 0; b < batch; ++b)
    for (index_t t = 0; t < c.lengths[std::size_t(b)]; ++t)
      ids[std::size_t(b * words + t)] =
          1 + std::int64_t(u[std::size_t(b * (words + 1) + t + 1)] * float(M::bird_preset::n_words - 2));
  c.ids = tensor<std::int64_t, cpu>::from_host(shape(batch, words), ids);
  return c;
}

void train_iteration(benchmark::State& state) {
  const index_t batch = state.range(0);
  generator rng(1);
  bird_trainer tr(rng, false);
  const auto caps = random_captions(batch, 2);
  std::vector<tensor<float, cpu>> reals;
  for (int s : {64, 128, 256}) reals.push_back(rng.uniform<float, cpu>(shape(batch, 3, s, s), -1.f, 1.f));
  std::vector<std::int64_t> class_ids;
  for (index_t b = 0; b < batch; ++b) class_ids.push_back(std::int64_t((b * 37) % 150));
  for (auto _ : state) {
    const auto l = tr.step(reals, caps.ids, caps.lengths, class_ids);
    benchmark::DoNotOptimize(l.g_total);
  }
  state.counters["images/s"] =
      benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

void generate(benchmark::State& state) {
  const index_t batch = state.range(0);
  generator rng(1);
  bird_trainer tr(rng, false);
  const auto caps = random_captions(batch, 3);
  for (auto _ : state) {
    const auto out = tr.generate(caps.ids, caps.lengths);
    benchmark::DoNotOptimize(out.images.back().value().data());
  }
  state.counters["images/s"] =
      benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

using demo_text_spec = M::text_encoder_for<M::small_preset>;
// The demo programs' image encoder (examples/attngan_app.hpp): 128² input, 256 local channels, 256 → 512 global.
using demo_image_spec = M::demo_image_encoder<M::small_preset::nef>;
using demo_trainer = M::gan_trainer<M::small_preset, demo_image_spec>;

/// Class ids of a demo batch: 15 training classes.
std::vector<std::int64_t> demo_classes(index_t batch) {
  std::vector<std::int64_t> c;
  for (index_t b = 0; b < batch; ++b) c.push_back(std::int64_t((b * 7) % 15));
  return c;
}

struct demo_inputs {
  caption_batch caps;
  std::vector<tensor<float, cpu>> reals;
  std::vector<std::int64_t> class_ids;
};

demo_inputs demo_batch(generator& rng, index_t batch) {
  demo_inputs in{random_captions(batch, 2), {}, demo_classes(batch)};
  for (int s : {32, 64}) in.reals.push_back(rng.uniform<float, cpu>(shape(batch, 3, s, s), -1.f, 1.f));
  return in;
}

/// The demo's learning rates (cmake/run.sh: 05_train_attngan --lr-g 1e-3 --lr-d 1e-3 --ema-decay 0.99).
M::gan_hyperparameters demo_hyper() {
  auto h = M::gan_hyperparameters::of<M::small_preset>();
  h.lr_g = h.lr_d = 1e-3;
  h.ema_decay = 0.99;
  return h;
}

/// Minor page faults of the process so far: memory touched for the first time.
long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

void demo_iteration(benchmark::State& state) {
  const index_t batch = state.range(0);
  generator rng(1);
  demo_trainer tr(rng, true, demo_hyper());
  const auto in = demo_batch(rng, batch);
  // Two untimed iterations first, as oracle_demo_step.py's warm-up (a fixed
  // iteration count and MinWarmUpTime do not combine).
  for (int w = 0; w < 2; ++w) benchmark::DoNotOptimize(tr.step(in.reals, in.caps.ids, in.caps.lengths, in.class_ids).g_total);
  auto& alloc = cpu::allocator();
  alloc.reset_counters();
  const long faults0 = minor_faults();
  for (auto _ : state) {
    const auto l = tr.step(in.reals, in.caps.ids, in.caps.lengths, in.class_ids);
    benchmark::DoNotOptimize(l.g_total);
  }
  const double n = double(state.iterations());
  state.counters["faults/it"] = double(minor_faults() - faults0) / n;
  state.counters["sysallocs/it"] = double(alloc.stats().system_allocs) / n;
  state.counters["images/s"] =
      benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

void demo_phase(benchmark::State& state) {
  const int phase = int(state.range(0));
  const index_t batch = 32;
  generator rng(1);
  demo_trainer tr(rng, true, demo_hyper());
  const auto in = demo_batch(rng, batch);
  for (auto _ : state) {
    std::optional<demo_trainer::iteration> it;
    for (int p = 0; p < 4; ++p) {  // the iteration's phases in order, only `phase` timed
      if (p != phase) state.PauseTiming();
      switch (p) {
        case 0: it.emplace(tr.forward(in.caps.ids, in.caps.lengths, in.class_ids)); break;
        case 1: tr.update_discriminators(*it, in.reals); break;
        case 2: tr.update_generator(*it); break;
        default: tr.update_average(); break;
      }
      if (p != phase) state.ResumeTiming();
    }
    state.PauseTiming();
    it.reset();  // the graph's release is not part of any phase
    state.ResumeTiming();
  }
}

void demo_damsm_step(benchmark::State& state) {
  const index_t batch = 32;
  generator rng(1);
  nn::network<demo_text_spec, float, cpu> text(rng);
  nn::network<demo_image_spec, float, cpu> image(rng);
  text->dropout = 0;
  text.train();
  image.train();
  M::damsm_trainer<demo_text_spec, demo_image_spec, float, cpu> tr(text, image, M::damsm_options{});
  const auto caps = random_captions(batch, 4);
  const auto images = rng.uniform<float, cpu>(shape(batch, 3, 64, 64), -1.f, 1.f);
  const auto classes = demo_classes(batch);
  generator dropout_rng(2);
  for (int w = 0; w < 2; ++w) benchmark::DoNotOptimize(tr.step(images, caps.ids, caps.lengths, classes, dropout_rng).w_loss0);
  for (auto _ : state) benchmark::DoNotOptimize(tr.step(images, caps.ids, caps.lengths, classes, dropout_rng).w_loss0);
}

void demo_words_loss(benchmark::State& state) {
  const index_t batch = 32, nef = M::small_preset::nef;
  generator rng(1);
  const auto caps = random_captions(batch, 5);
  const auto classes = demo_classes(batch);
  const auto regions = rng.normal<float, cpu>(shape(batch, nef, 7, 7));
  const auto words = rng.normal<float, cpu>(shape(batch, nef, M::bird_preset::words_num));
  const M::damsm_gammas gammas{M::small_preset::gamma1, M::small_preset::gamma2, M::small_preset::gamma3};
  for (auto _ : state) {
    const var<float, cpu> r = var<float, cpu>::leaf(regions.clone(), true), w = var<float, cpu>::leaf(words.clone(), true);
    const auto l = M::words_loss(r, w, caps.lengths, classes, gammas);
    backward(var<float, cpu>(l.loss0 + l.loss1), {r, w});
    benchmark::DoNotOptimize(r.grad().data());
  }
}

}  // namespace

// A fixed count: with the other phases paused, a minimum time would run hundreds of whole iterations.
BENCHMARK(demo_iteration)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);
BENCHMARK(demo_phase)->DenseRange(0, 3)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);
BENCHMARK(demo_damsm_step)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);
BENCHMARK(demo_words_loss)->Unit(benchmark::kMillisecond)->UseRealTime()->MinWarmUpTime(0.5);
BENCHMARK(train_iteration)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinWarmUpTime(1.0);
BENCHMARK(generate)->Arg(20)->Unit(benchmark::kMillisecond)->UseRealTime()->MinWarmUpTime(1.0);
