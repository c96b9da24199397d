// The whole AttnGAN model on the GPU (bird preset, batch 20), for the
// side-by-side table with the oracle (shared/reference/time_step.py, run by
// bench/gpu/run_gpu_checks.sh --model): one full training iteration with the
// Inception-v3 DAMSM image encoder (and with the small one), fp32 and TF32,
// and generator inference for 20 captions. Each iteration ends with a stream
// synchronisation. Peak device memory is the caching allocator's peak.
#include <attngan/cuda.hpp>
#include <attngan/models/attngan.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <vector>

using namespace attngan;
namespace M = attngan::models;
using G = attngan::cuda;

namespace {

struct caption_batch {
  tensor<std::int64_t, G> ids;
  std::vector<index_t> lengths;
};

// Lengths in [8, 18] with the longest 18, sorted decreasing; ids in [1, n_words).
caption_batch random_captions(index_t batch, std::uint64_t seed) {
  attngan::generator rng(seed);
  const index_t words = M::bird_preset::words_num;
  const auto u = rng.uniform<float, cpu>(shape(batch, words + 1)).to_vector();
  caption_batch c;
  for (index_t b = 0; b < batch; ++b)
    c.lengths.push_back(b == 0 ? words : 8 + index_t(u[std::size_t(b * (words + 1))] * float(words - 7)) % (words - 7));
  std::sort(c.lengths.begin(), c.lengths.end(), std::greater<>());
  std::vector<std::int64_t> ids(std::size_t(batch * words), 0);
  for (index_t b = 0; b < batch; ++b)
    for (index_t t = 0; t < c.lengths[std::size_t(b)]; ++t)
      ids[std::size_t(b * words + t)] =
          1 + std::int64_t(u[std::size_t(b * (words + 1) + t + 1)] * float(M::bird_preset::n_words - 2));
  c.ids = tensor<std::int64_t, G>::from_host(shape(batch, words), ids);
  return c;
}

template <class Encoder>
void train_iteration(benchmark::State& state) {
  const index_t batch = state.range(0);
  G::set_tf32(state.range(1) != 0);
  attngan::generator rng(1);
  M::gan_trainer<M::bird_preset, Encoder, float, G> tr(rng, false);
  const auto caps = random_captions(batch, 2);
  std::vector<tensor<float, G>> reals;
  for (int s : {64, 128, 256}) reals.push_back(rng.uniform<float, G>(shape(batch, 3, s, s), -1.f, 1.f));
  std::vector<std::int64_t> class_ids;
  for (index_t b = 0; b < batch; ++b) class_ids.push_back(std::int64_t((b * 37) % 150));
  for (int w = 0; w < 2; ++w) tr.step(reals, caps.ids, caps.lengths, class_ids);  // warm-up
  G::synchronize();
  G::allocator().reset_counters();
  for (auto _ : state) {
    const auto l = tr.step(reals, caps.ids, caps.lengths, class_ids);
    benchmark::DoNotOptimize(l.g_total);
    G::synchronize();
  }
  state.counters["images/s"] = benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["peak_GiB"] = double(G::allocator().stats().peak_bytes_in_use) / double(1 << 30);
  state.counters["cudaMalloc_per_iter"] =
      benchmark::Counter(double(G::allocator().stats().system_allocs), benchmark::Counter::kAvgIterations);
  G::set_tf32(false);
}

void generate_20(benchmark::State& state) {
  G::set_tf32(state.range(0) != 0);
  attngan::generator rng(1);
  M::gan_trainer<M::bird_preset, M::small_image_encoder<>, float, G> tr(rng, false);
  const auto caps = random_captions(20, 3);
  for (int w = 0; w < 2; ++w) tr.generate(caps.ids, caps.lengths);
  for (auto _ : state) {
    const auto out = tr.generate(caps.ids, caps.lengths);
    benchmark::DoNotOptimize(out.images.back().value().data());
    G::synchronize();
  }
  G::set_tf32(false);
}

}  // namespace

BENCHMARK(train_iteration<M::inception_image_encoder<>>)->Args({20, 0})->Args({20, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(train_iteration<M::small_image_encoder<>>)->Args({20, 0})->Args({20, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(generate_20)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
  if (!attngan::cuda::available()) {
    std::fprintf(stderr, "bench_cuda_model: no CUDA device\n");
    return 77;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
