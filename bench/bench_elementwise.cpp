// Two elementwise expressions on 2^20 floats.
//
// (1) Batch-norm apply + leaky ReLU, as in every D block of AttnGAN, five
//     operations with per-channel operands (x is (16, 64, 32, 32)):
//       y = leaky_relu((x - mean) * inv_std * gamma + beta, 0.2)
//     fused (one kernel) against op by op (five kernels, five tensors).
//
// (2) A six-operation chain with transcendental functions, three ways:
//   fused        y = tanh(a * b + c) * sigmoid(d) - a     one kernel, one allocation
//   op_by_op     the same chain, each operation materialised into its own var
//   plain_loop   a hand-written OpenMP loop (the memory-bandwidth floor)
// and the fused forward + backward against op by op forward + backward.
#include <attngan/attngan.hpp>

#include <benchmark/benchmark.h>

#include <cmath>

using namespace attngan;
using V = var<float, cpu>;

namespace {

constexpr index_t n = 1 << 20;

struct inputs {
  V a, b, c, d;
  explicit inputs(bool requires_grad) {
    generator g(42);
    a = V::leaf(g.normal<float, cpu>(shape(n)), requires_grad);
    b = V::leaf(g.normal<float, cpu>(shape(n)), requires_grad);
    c = V::leaf(g.normal<float, cpu>(shape(n)), requires_grad);
    d = V::leaf(g.normal<float, cpu>(shape(n)), requires_grad);
  }
};

V chain_op_by_op(const inputs& x) {
  V t1 = x.a * x.b;
  V t2 = t1 + x.c;
  V t3 = tanh(t2);
  V t4 = sigmoid(x.d);
  V t5 = t3 * t4;
  return t5 - x.a;
}

struct bn_inputs {
  V x, mean, inv_std, gamma, beta;
  bn_inputs() {
    generator g(7);
    x = V::leaf(g.normal<float, cpu>(shape(16, 64, 32, 32)));
    const shape ch(1, 64, 1, 1);
    mean = V::leaf(g.normal<float, cpu>(ch));
    inv_std = V::leaf(g.uniform<float, cpu>(ch, 0.5f, 2.f));
    gamma = V::leaf(g.normal<float, cpu>(ch));
    beta = V::leaf(g.normal<float, cpu>(ch));
  }
};

void set_counters(benchmark::State& state, int streams) {
  state.SetItemsProcessed(int64_t(state.iterations()) * n);
  state.SetBytesProcessed(int64_t(state.iterations()) * n * streams * int64_t(sizeof(float)));
}

void bn_leaky_fused(benchmark::State& state) {
  bn_inputs in;
  for (auto _ : state) {
    V y = leaky_relu((in.x - in.mean) * in.inv_std * in.gamma + in.beta, 0.2);
    benchmark::DoNotOptimize(y.value().data());
  }
  set_counters(state, 2);
}

void bn_leaky_op_by_op(benchmark::State& state) {
  bn_inputs in;
  for (auto _ : state) {
    V t1 = in.x - in.mean;
    V t2 = t1 * in.inv_std;
    V t3 = t2 * in.gamma;
    V t4 = t3 + in.beta;
    V y = leaky_relu(t4, 0.2);
    benchmark::DoNotOptimize(y.value().data());
  }
  set_counters(state, 2);
}

void fused_forward(benchmark::State& state) {
  inputs x(false);
  for (auto _ : state) {
    V y = tanh(x.a * x.b + x.c) * sigmoid(x.d) - x.a;
    benchmark::DoNotOptimize(y.value().data());
  }
  set_counters(state, 5);  // 4 reads + 1 write
}

void op_by_op_forward(benchmark::State& state) {
  inputs x(false);
  for (auto _ : state) {
    V y = chain_op_by_op(x);
    benchmark::DoNotOptimize(y.value().data());
  }
  set_counters(state, 5);
}

void plain_loop_forward(benchmark::State& state) {
  inputs x(false);
  tensor<float, cpu> out{shape(n)};
  const float *a = x.a.value().data(), *b = x.b.value().data(), *c = x.c.value().data(), *d = x.d.value().data();
  float* y = out.data();
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (index_t i = 0; i < n; ++i) y[i] = std::tanh(a[i] * b[i] + c[i]) * (1.f / (1.f + std::exp(-d[i]))) - a[i];
    benchmark::DoNotOptimize(y);
    benchmark::ClobberMemory();
  }
  set_counters(state, 5);
}

void fused_forward_backward(benchmark::State& state) {
  inputs x(true);
  for (auto _ : state) {
    V y = tanh(x.a * x.b + x.c) * sigmoid(x.d) - x.a;
    backward(y, tensor<float, cpu>::full(shape(n), 1.f));
    benchmark::DoNotOptimize(x.a.grad().data());
  }
  set_counters(state, 5);
}

void op_by_op_forward_backward(benchmark::State& state) {
  inputs x(true);
  for (auto _ : state) {
    V y = chain_op_by_op(x);
    backward(y, tensor<float, cpu>::full(shape(n), 1.f));
    benchmark::DoNotOptimize(x.a.grad().data());
  }
  set_counters(state, 5);
}

}  // namespace

BENCHMARK(bn_leaky_fused)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(bn_leaky_op_by_op)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(fused_forward)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(op_by_op_forward)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(plain_loop_forward)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(fused_forward_backward)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(op_by_op_forward_backward)->Unit(benchmark::kMicrosecond)->UseRealTime();
