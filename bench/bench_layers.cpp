// Layers at AttnGAN's shapes, forward + backward, for the side-by-side table
// with PyTorch (bench/torch_layers.py runs the same shapes):
//   conv3x3 64 -> 128 channels at 64² and 128², batch 2 and 20 (the
//   generator's up-blocks), BatchNorm2d + GLU on (20, 128, 64, 64), and the
//   text encoder's bidirectional LSTM (B 20, T 18, 300 -> 2 x 128); and
//   convolutions of the demo's small model, on either inner loop, and its
//   small-output ones on either column path (attngan only).
#include <attngan/nn.hpp>

#include <benchmark/benchmark.h>

using namespace attngan;
using V = var<float, cpu>;

namespace {

template <class Spec>
void run_layer(benchmark::State& state, const shape& input) {
  generator rng(1);
  nn::network<Spec, float, cpu> net(rng);
  V x = V::leaf(rng.normal<float, cpu>(input), true);
  for (auto _ : state) {
    net.zero_grad();
    x.zero_grad();
    V y = net(x);
    backward(y, tensor<float, cpu>::full(y.shape(), 1.f));
    benchmark::DoNotOptimize(x.grad().data());
  }
}

void conv3x3_64_128(benchmark::State& state) {
  const index_t batch = state.range(0), size = state.range(1);
  run_layer<nn::conv3x3<64, 128>>(state, shape(batch, 64, size, size));
  state.counters["GFLOP/s"] = benchmark::Counter(3.0 * 2 * double(batch) * 128 * 64 * 9 * double(size * size) *
                                                     double(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

// Convolutions of the demo's small model (GF_DIM = DF_DIM = 16, batch 32),
// forward + backward, attngan only. The argument chooses the cpu backend's
// inner loop for float (conv_direct.hpp): 0 Eigen's GEMMs, 1 the
// register-blocked kernel (where the build has AVX2 and FMA; else both are
// the GEMMs). GFLOP/s counts the three products (forward, dx, dW).
/// Runs the layer with `path` set to the benchmark's argument (then back on)
/// and reports GFLOP/s.
template <class Spec>
void conv_on_path(bool& path, benchmark::State& state, const shape& input, index_t out_channels, index_t out_size,
                  index_t taps) {
  path = state.range(0) != 0;
  run_layer<Spec>(state, input);
  path = true;
  state.counters["GFLOP/s"] = benchmark::Counter(3.0 * 2 * double(input[0]) * double(out_channels) *
                                                     double(input[1]) * double(taps) * double(out_size * out_size) *
                                                     double(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}
template <class Spec>
void demo_conv(benchmark::State& state, const shape& input, index_t out_channels, index_t out_size, index_t taps) {
  conv_on_path<Spec>(kernels::direct::enabled(), state, input, out_channels, out_size, taps);
}
// G's 3×3 of a residual block at 32² (16 -> 32 channels, before the GLU)
void demo_conv3x3_16_32(benchmark::State& state) {
  demo_conv<nn::conv3x3<16, 32>>(state, shape(32, 16, 32, 32), 32, 32, 9);
}
// a 3×3 at 64², 32 -> 64 channels
void demo_conv3x3_32_64(benchmark::State& state) {
  demo_conv<nn::conv3x3<32, 64>>(state, shape(32, 32, 64, 64), 64, 64, 9);
}
// G's image layer at 64² (16 -> 3 channels)
void demo_conv3x3_16_3(benchmark::State& state) {
  demo_conv<nn::conv3x3<16, 3>>(state, shape(32, 16, 64, 64), 3, 64, 9);
}
// D64's first down-sampling (RGB 64² -> 16 channels at 32²) and its second (16 -> 32, 32² -> 16²)
void demo_down_conv4x4_s2_rgb(benchmark::State& state) {
  demo_conv<nn::conv2d<3, 16, 4, 4, 2, 1>>(state, shape(32, 3, 64, 64), 16, 32, 16);
}
// The demo's image encoder (models::demo_image_encoder): its first layer, RGB -> 32, 3×3 s2 on the 128²
// input (Arg 0: direct kernel off, so im2col; Arg 1: the direct kernel), and its second, 32 -> 64 at 63².
void demo_encoder_conv3x3_s2_rgb(benchmark::State& state) {
  demo_conv<nn::conv2d<3, 32, 3, 3, 2, 0>>(state, shape(32, 3, 128, 128), 32, 63, 9);
}
void demo_encoder_conv3x3_s2(benchmark::State& state) {
  demo_conv<nn::conv2d<32, 64, 3, 3, 2, 0>>(state, shape(32, 32, 63, 63), 64, 31, 9);
}
void demo_down_conv4x4_s2(benchmark::State& state) {
  demo_conv<nn::conv2d<16, 32, 4, 4, 2, 1>>(state, shape(32, 16, 32, 32), 32, 16, 16);
}

// The demo's layers with outputs of at most 16² that miss the shifted kernels,
// forward + backward at batch 32. The argument chooses the column path: 0 one
// column matrix per image (a GEMM with Ho·Wo columns per image), 1 the wide
// path (the batch's column matrices side by side, one GEMM per product, im2col
// and col2im plane by plane).
template <class Spec>
void demo_small_conv(benchmark::State& state, const shape& input, index_t out_channels, index_t out_size,
                     index_t taps) {
  conv_on_path<Spec>(nn::functional::detail::wide_columns_enabled(), state, input, out_channels, out_size, taps);
}
// D's jointConv on the image code at 4² (conv2d_tiled's 8·ndf = 128 -> 128 share; 8 calls an iteration)
void demo_small_conv3x3_4x4(benchmark::State& state) {
  demo_small_conv<nn::conv3x3<128, 128>>(state, shape(32, 128, 4, 4), 128, 4, 9);
}
// D's last down-sampling, 8² -> 4², 64 -> 128 channels
void demo_small_down_conv4x4_s2(benchmark::State& state) {
  demo_small_conv<nn::conv2d<64, 128, 4, 4, 2, 1>>(state, shape(32, 64, 8, 8), 128, 4, 16);
}
// the small image encoder's 3×3 s2 at 7² -> 3², 128 -> 768 channels
void demo_small_conv3x3_s2_7x7(benchmark::State& state) {
  demo_small_conv<nn::conv2d<128, 768, 3, 3, 2, 0>>(state, shape(32, 128, 7, 7), 768, 3, 9);
}

// The text encoder's BiLSTM: B = 20, T = 18, 300 -> 2 x 128, all lengths 18.
void bilstm_text_encoder(benchmark::State& state) {
  generator rng(1);
  nn::network<nn::lstm<300, 128, true>, float, cpu> net(rng);
  V x = V::leaf(rng.normal<float, cpu>(shape(20, 18, 300)), true);
  const std::vector<index_t> lengths(20, 18);
  for (auto _ : state) {
    net.zero_grad();
    x.zero_grad();
    auto r = net(x, lengths);
    V loss = sum(r.output) + sum(r.h_n);
    backward(loss);
    benchmark::DoNotOptimize(x.grad().data());
  }
}

void batch_norm_glu(benchmark::State& state) {
  run_layer<nn::sequential<nn::batch_norm2d<128>, nn::glu>>(state, shape(20, 128, 64, 64));
}

// The DAMSM image encoder's input: a batch of 64² images resized to 128², forward and backward.
void demo_resize_bilinear(benchmark::State& state) {
  generator rng(1);
  V x = V::leaf(rng.normal<float, cpu>(shape(32, 3, 64, 64)), true);
  for (auto _ : state) {
    x.zero_grad();
    V y = nn::functional::resize_bilinear(x, 128, 128, false);
    backward(y, tensor<float, cpu>::full(y.shape(), 1.f));
    benchmark::DoNotOptimize(x.grad().data());
  }
}

}  // namespace

BENCHMARK(conv3x3_64_128)->Args({2, 64})->Args({2, 128})->Args({20, 64})->Args({20, 128})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(demo_conv3x3_16_32)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(demo_conv3x3_32_64)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(demo_conv3x3_16_3)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(demo_down_conv4x4_s2_rgb)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(demo_down_conv4x4_s2)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(demo_small_conv3x3_4x4)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(demo_small_down_conv4x4_s2)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(demo_encoder_conv3x3_s2_rgb)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(demo_encoder_conv3x3_s2)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(demo_small_conv3x3_s2_7x7)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(demo_resize_bilinear)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(batch_norm_glu)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bilstm_text_encoder)->Unit(benchmark::kMillisecond)->UseRealTime();
