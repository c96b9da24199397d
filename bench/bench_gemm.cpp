// The GEMM primitive (row-major wrapper over Eigen) against Eigen called
// directly, at sizes AttnGAN uses:
//   81920 x  32 x 256   word-context attention at 64x64, batch 20 (20·4096 pixels)
//   81920 x 256 x  32   its transpose-side product
//    4096 x  64 x 576   a 3x3 conv as GEMM, 64 channels at 64x64 (one image)
// Both sides run on the same OpenMP threads; UseRealTime because the work is
// parallel.
#include <attngan/attngan.hpp>

#include <Eigen/Core>
#include <benchmark/benchmark.h>

using namespace attngan;

namespace {

using matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void set_flops(benchmark::State& state, index_t m, index_t n, index_t k) {
  state.counters["GFLOP/s"] = benchmark::Counter(double(2 * m * n * k) * double(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void attngan_gemm(benchmark::State& state) {
  const index_t m = state.range(0), n = state.range(1), k = state.range(2);
  generator g(1);
  auto a = g.normal<float, cpu>(shape(m, k)), b = g.normal<float, cpu>(shape(k, n));
  tensor<float, cpu> c{shape(m, n)};
  primitives::gemm_args<float> args{transpose::no, transpose::no, m, n, k, 1.f, a.data(), k, b.data(), n, 0.f,
                                    c.data(), n};
  for (auto _ : state) {
    primitives::gemm<cpu>(args);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, m, n, k);
}

void eigen_gemm(benchmark::State& state) {
  const index_t m = state.range(0), n = state.range(1), k = state.range(2);
  generator g(1);
  auto ta = g.normal<float, cpu>(shape(m, k)), tb = g.normal<float, cpu>(shape(k, n));
  matrix a = Eigen::Map<const matrix>(ta.data(), m, k), b = Eigen::Map<const matrix>(tb.data(), k, n);
  matrix c(m, n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, m, n, k);
}

void sizes(benchmark::internal::Benchmark* b) {
  b->Args({20 * 4096, 32, 256})->Args({20 * 4096, 256, 32})->Args({4096, 64, 576});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(attngan_gemm)->Apply(sizes);
BENCHMARK(eigen_gemm)->Apply(sizes);
