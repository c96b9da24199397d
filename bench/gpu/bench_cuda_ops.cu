// CUDA backend at AttnGAN's shapes (batch 20, the bird configuration),
// forward + backward, for the side-by-side table with PyTorch eager
// (bench/gpu/torch_ops.py times the same work the same way). Every
// iteration ends with a stream synchronisation, as the PyTorch side ends
// with torch.cuda.synchronize().
//   conv: the generator's 3x3 convolutions (64 -> 128 channels at 64² and
//         128², 32 -> 64 at 256²) and the discriminators' 4x4 stride-2
//         down-sampling (64 -> 128 at 128²), fp32 and TF32;
//   fused elementwise: BatchNorm2d (training) + GLU, leaky ReLU 0.2, the
//         residual add x + f(x);
//   the text encoder's BiLSTM (B 20, T 18, 300 -> 2 x 128).
#include <attngan/cuda.hpp>
#include <attngan/nn.hpp>

#include <benchmark/benchmark.h>

using namespace attngan;
using G = attngan::cuda;
using V = var<float, G>;

namespace {

template <class Spec>
void run_layer(benchmark::State& state, const shape& input, bool tf32 = false) {
  G::set_tf32(tf32);
  generator rng(1);
  nn::network<Spec, float, G> net(rng);
  V x = V::leaf(rng.normal<float, G>(input), true);
  auto step = [&] {
    net.zero_grad();
    x.zero_grad();
    V y = net(x);
    backward(y, tensor<float, G>::full(y.shape(), 1.f));
    G::synchronize();
  };
  step();  // warm-up: fills the allocator cache, cuBLAS picks its kernels
  G::allocator().reset_counters();
  for (auto _ : state) step();
  state.counters["cudaMalloc_per_iter"] =
      benchmark::Counter(double(G::allocator().stats().system_allocs), benchmark::Counter::kAvgIterations);
  state.counters["peak_MiB"] = double(G::allocator().stats().peak_bytes_in_use) / (1 << 20);
  G::set_tf32(false);
}

void conv_flops(benchmark::State& state, double macs) {
  state.counters["TFLOP/s"] = benchmark::Counter(3.0 * 2 * macs * double(state.iterations()) / 1e12,
                                                 benchmark::Counter::kIsRate);
}

void conv3x3_64_128(benchmark::State& state) {
  const index_t size = state.range(0);
  const bool tf32 = state.range(1) != 0;
  run_layer<nn::conv3x3<64, 128>>(state, shape(20, 64, size, size), tf32);
  conv_flops(state, 20.0 * 128 * 64 * 9 * double(size * size));
}

void conv3x3_32_64_256(benchmark::State& state) {
  const bool tf32 = state.range(0) != 0;
  run_layer<nn::conv3x3<32, 64>>(state, shape(20, 32, 256, 256), tf32);
  conv_flops(state, 20.0 * 64 * 32 * 9 * 256 * 256);
}

void conv4x4_s2_64_128(benchmark::State& state) {
  const bool tf32 = state.range(0) != 0;
  run_layer<nn::conv2d<64, 128, 4, 4, 2, 1, 1>>(state, shape(20, 64, 128, 128), tf32);
  conv_flops(state, 20.0 * 128 * 64 * 16 * 64 * 64);
}

void batch_norm_glu(benchmark::State& state) {
  run_layer<nn::sequential<nn::batch_norm2d<128>, nn::glu>>(state, shape(20, 128, 64, 64));
}

void leaky_relu_02(benchmark::State& state) {
  run_layer<nn::leaky_relu<0.2>>(state, shape(20, 256, 32, 32));
}

void residual_add(benchmark::State& state) {
  generator rng(1);
  V x = V::leaf(rng.normal<float, G>(shape(20, 64, 64, 64)), true);
  V f = V::leaf(rng.normal<float, G>(shape(20, 64, 64, 64)), true);
  for (auto _ : state) {
    x.zero_grad();
    f.zero_grad();
    V y = x + f;
    backward(y, tensor<float, G>::full(y.shape(), 1.f));
    G::synchronize();
  }
}

void bilstm_text_encoder(benchmark::State& state) {
  generator rng(1);
  nn::network<nn::lstm<300, 128, true>, float, G> net(rng);
  V x = V::leaf(rng.normal<float, G>(shape(20, 18, 300)), true);
  const std::vector<index_t> lengths(20, 18);
  for (auto _ : state) {
    net.zero_grad();
    x.zero_grad();
    auto r = net(x, lengths);
    V loss = V(sum(r.output)) + V(sum(r.h_n));
    backward(loss);
    G::synchronize();
  }
}

}  // namespace

BENCHMARK(conv3x3_64_128)->Args({64, 0})->Args({128, 0})->Args({64, 1})->Args({128, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(conv3x3_32_64_256)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(conv4x4_s2_64_128)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(batch_norm_glu)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(leaky_relu_02)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(residual_add)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bilstm_text_encoder)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
  if (!attngan::cuda::available()) {
    std::fprintf(stderr, "bench_cuda_ops: no CUDA device\n");
    return 77;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
