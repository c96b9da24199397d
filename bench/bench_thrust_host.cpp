// Layers on the thrust_host backend: the CUDA backend's functors (backend/
// thrust/kernels.hpp, the evaluators of every op) run on the host through
// Thrust's OpenMP system. Not GPU timings: a way to see, on a machine
// without a GPU, how many passes over memory an op makes on the GPU path.
//   batch_norm_glu/1  BatchNorm2d (train) + GLU on (20, 128, 64, 64) with
//                     the fused batch-norm op (nn/ops/batch_norm.hpp)
//   batch_norm_glu/0  the same normalisation composed from expressions (the
//                     path the GPU backends took before the fused op)
// forward + backward, as bench_layers' batch_norm_glu on the cpu backend.
#include <attngan/thrust_host.hpp>  // first: it picks Thrust's host system
#include <attngan/nn.hpp>

#include <benchmark/benchmark.h>

using namespace attngan;
using V = var<float, thrust_host>;

namespace {

void batch_norm_glu(benchmark::State& state) {
  const bool fused = state.range(0) != 0;
  constexpr index_t C = 128;
  const shape s(20, C, 64, 64), cs(1, C, 1, 1);
  generator rng(1);
  V x = V::leaf(rng.normal<float, thrust_host>(s), true);
  V gamma = V::leaf(tensor<float, thrust_host>::full(shape(C), 1.f), true);
  V beta = V::leaf(tensor<float, thrust_host>::zeros(shape(C)), true);
  const auto seed = tensor<float, thrust_host>::full(shape(20, C / 2, 64, 64), 1.f);
  for (auto _ : state) {
    x.zero_grad();
    gamma.zero_grad();
    beta.zero_grad();
    V y;
    if (fused) {
      y = nn::functional::batch_norm_training(x, gamma, beta, 1e-5f).y;
    } else {
      const V mu = mean(x, {0, 2, 3}, true);
      const V centred = x - mu;
      const V inv = 1.f / sqrt(mean(square(centred), {0, 2, 3}, true) + 1e-5f);
      y = centred * inv * reshape(gamma, cs) + reshape(beta, cs);
    }
    const V out = nn::glu::apply(y);
    backward(out, seed.view(seed.shape()));
    benchmark::DoNotOptimize(x.grad().data());
  }
}

}  // namespace

BENCHMARK(batch_norm_glu)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
