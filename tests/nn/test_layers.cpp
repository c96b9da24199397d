// gradcheck in double of every layer, with respect to its input and its
// parameters (BatchNorm in training mode: gradients through the batch
// statistics).
#include "network_gradcheck.hpp"

#include <attngan/nn.hpp>

#include <array>
#include <span>

namespace test_layers {

using namespace attngan;
using namespace attngan::test;

namespace {

/// Checks d out / d (input, every parameter) of a freshly initialised
/// network of Spec on an input of the given shape.
template <class Spec>
void gradcheck_layer(const char* what, const shape& input_shape, bool training = true) {
  CAPTURE(what);
  generator rng(3);
  nn::network<Spec, double, cpu> net(rng);
  net.train(training);
  // non-trivial biases and BN affine parameters
  for (const auto& p : net.parameters())
    if (p.shape().rank() == 1) nn::init::uniform(p, -0.5, 0.5, rng);
  auto x = randn<double>(input_shape, 4);
  auto r = gradcheck_network(net, {&x}, [](auto& n, const std::vector<vd>& in) { return n(in[0]); });
  // every parameter was checked, not only the input
  CHECK(r.checked == x.numel() + net.parameter_count());
  INFO(r.report);
  CHECK(r.ok);
}

}  // namespace

TEST_CASE("gradcheck: conv2d configurations") {
  using nn::bias;
  gradcheck_layer<nn::conv3x3<3, 4>>("3x3 s1 p1", shape(2, 3, 5, 4));
  gradcheck_layer<nn::conv2d<2, 3, 4, 4, 2, 1, 1>>("4x4 s2 p1", shape(2, 2, 6, 6));
  gradcheck_layer<nn::conv2d<2, 3, 4, 4, 4, 0, 0>>("4x4 s4 p0", shape(1, 2, 8, 4));
  gradcheck_layer<nn::conv1x1<4, 3>>("1x1", shape(2, 4, 3, 3));
  gradcheck_layer<nn::conv2d<2, 2, 3, 3, 2, 0, 0>>("3x3 s2 p0", shape(1, 2, 7, 7));
  gradcheck_layer<nn::conv2d<2, 2, 5, 5, 1, 2, 2, bias::yes>>("5x5 p2 bias", shape(1, 2, 5, 6));
  gradcheck_layer<nn::conv2d<2, 2, 1, 7, 1, 0, 3, bias::yes>>("1x7", shape(1, 2, 3, 8));
  gradcheck_layer<nn::conv2d<2, 2, 7, 1, 1, 3, 0>>("7x1", shape(1, 2, 8, 3));
}

TEST_CASE("gradcheck: linear, batch norm (train and eval), glu, upsample, activations") {
  gradcheck_layer<nn::linear<5, 3>>("linear", shape(4, 5));
  gradcheck_layer<nn::linear<5, 3, nn::bias::no>>("linear no bias", shape(4, 5));
  gradcheck_layer<nn::batch_norm2d<3>>("batch_norm2d train", shape(3, 3, 2, 3));
  gradcheck_layer<nn::batch_norm2d<3, 1e-3>>("batch_norm2d eval", shape(2, 3, 2, 2), false);
  gradcheck_layer<nn::batch_norm1d<4>>("batch_norm1d train", shape(5, 4));
  gradcheck_layer<nn::glu>("glu", shape(2, 4, 3, 3));
  gradcheck_layer<nn::glu>("glu rank 2", shape(3, 8));
  gradcheck_layer<nn::upsample_nearest<2>>("upsample x2", shape(2, 2, 3, 2));
  gradcheck_layer<nn::upsample_nearest<3>>("upsample x3", shape(1, 2, 2, 2));
  gradcheck_layer<nn::leaky_relu<0.2>>("leaky_relu", shape(2, 3, 4));
  gradcheck_layer<nn::tanh>("tanh", shape(2, 3, 4));
  gradcheck_layer<nn::sigmoid>("sigmoid", shape(2, 3, 4));
}

TEST_CASE("gradcheck: an up-block and a residual-style composition") {
  using up_block = nn::sequential<nn::upsample_nearest<2>, nn::conv3x3<4, 4>, nn::batch_norm2d<4>, nn::glu>;
  gradcheck_layer<up_block>("up_block(4 -> 2)", shape(2, 4, 2, 2));
  auto a = randn<double>(shape(2, 3, 2, 2), 7), b = randn<double>(shape(2, 2, 2, 2), 8);
  auto r = gradcheck<cpu>([](const std::vector<vd>& v) { return nn::functional::concat_channels(v[0], v[1]); },
                          {&a, &b});
  CHECK(r.ok);
}

namespace {

/// conv2d by its definition, in double: out, and from G = dL/dout the
/// gradients of x, w and b.
struct direct_conv {
  std::vector<double> out, dx, dw, db;
};
direct_conv conv_by_definition(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b,
                               const std::vector<float>& G, const shape& xs, const shape& ws,
                               const nn::functional::conv2d_options& o) {
  const index_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], O = ws[0], KH = ws[2], KW = ws[3];
  const index_t Ho = (H + 2 * o.pad_h - KH) / o.stride_h + 1, Wo = (W + 2 * o.pad_w - KW) / o.stride_w + 1;
  direct_conv r{std::vector<double>(std::size_t(N * O * Ho * Wo)), std::vector<double>(x.size()),
                std::vector<double>(w.size()), std::vector<double>(std::size_t(O))};
  for (index_t n = 0; n < N; ++n)
    for (index_t oc = 0; oc < O; ++oc)
      for (index_t oh = 0; oh < Ho; ++oh)
        for (index_t ow = 0; ow < Wo; ++ow) {
          const std::size_t oi = std::size_t(((n * O + oc) * Ho + oh) * Wo + ow);
          double s = b.empty() ? 0.0 : b[std::size_t(oc)];
          r.db[std::size_t(oc)] += G[oi];
          for (index_t c = 0; c < C; ++c)
            for (index_t kh = 0; kh < KH; ++kh)
              for (index_t kw = 0; kw < KW; ++kw) {
                const index_t ih = oh * o.stride_h - o.pad_h + kh, iw = ow * o.stride_w - o.pad_w + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const std::size_t xi = std::size_t(((n * C + c) * H + ih) * W + iw);
                const std::size_t wi = std::size_t(((oc * C + c) * KH + kh) * KW + kw);
                s += double(w[wi]) * x[xi];
                r.dw[wi] += double(G[oi]) * x[xi];
                r.dx[xi] += double(G[oi]) * w[wi];
              }
          r.out[oi] = s;
        }
  return r;
}

/// Largest |a − b| relative to the largest |b|.
double relative_error(const std::vector<float>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double scale = 0, err = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(b[i]));
    err = std::max(err, std::abs(double(a[i]) - b[i]));
  }
  return std::isnan(err) ? err : err / std::max(scale, 1e-30);
}
double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  return relative_error(a, std::vector<double>(b.begin(), b.end()));
}

}  // namespace

TEST_CASE("conv2d on the cpu backend equals the definition, and so do the shifted-GEMM kernels on their own") {
  struct geometry {
    const char* what;
    shape x, w;
    nn::functional::conv2d_options o;
    bool bias;
  };
  // AttnGAN's kinds (3×3 s1 p1, 4×4 s2 p1, 4×4 s4 p0, 3×3 s2 p0), odd sizes
  // where the stride does not divide the padded image, non-square kernels,
  // a padded 1×1, a kernel as large as the padded input; batches below and
  // above the thread count, so both the one-image-per-thread and the serial
  // schedule run.
  const std::vector<geometry> cases{
      {"3x3 s1 p1, batch 5", shape(5, 6, 9, 7), shape(10, 6, 3, 3), {1, 1, 1, 1}, false},
      {"3x3 s1 p1 bias, batch 1", shape(1, 4, 8, 8), shape(6, 4, 3, 3), {1, 1, 1, 1}, true},
      {"3x3 s1 p1, 40 rows (several row blocks)", shape(3, 5, 40, 300), shape(4, 5, 3, 3), {1, 1, 1, 1}, true},
      {"4x4 s2 p1, batch 3", shape(3, 3, 16, 16), shape(8, 3, 4, 4), {2, 2, 1, 1}, false},
      {"4x4 s2 p1, odd input", shape(2, 5, 9, 11), shape(4, 5, 4, 4), {2, 2, 1, 1}, true},
      {"4x4 s4 p0", shape(3, 4, 8, 12), shape(2, 4, 4, 4), {4, 4, 0, 0}, true},
      {"3x3 s2 p0", shape(2, 2, 7, 7), shape(3, 2, 3, 3), {2, 2, 0, 0}, false},
      {"5x5 s1 p2", shape(2, 3, 6, 5), shape(4, 3, 5, 5), {1, 1, 2, 2}, true},
      {"1x7 s1 p(0, 3)", shape(2, 3, 4, 9), shape(5, 3, 1, 7), {1, 1, 0, 3}, false},
      {"7x1 s1 p(3, 0)", shape(2, 3, 9, 4), shape(5, 3, 7, 1), {1, 1, 3, 0}, false},
      {"2x3 s(1, 2) p(1, 0)", shape(3, 3, 6, 9), shape(4, 3, 2, 3), {1, 2, 1, 0}, true},
      {"1x1 s1 p1", shape(2, 3, 4, 4), shape(2, 3, 1, 1), {1, 1, 1, 1}, false},
      {"3x3 s1 p0 on 3x3", shape(4, 2, 3, 3), shape(3, 2, 3, 3), {1, 1, 0, 0}, true},
      // a kernel covering the whole input: one GEMM over the batch (is_dense)
      {"4x4 s4 p0 on 4x4, 1 output (D's logits), batch 33", shape(33, 8, 4, 4), shape(1, 8, 4, 4), {4, 4, 0, 0}, false},
      {"3x5 s1 p0 on 3x5, 6 outputs, bias", shape(3, 2, 3, 5), shape(6, 2, 3, 5), {1, 1, 0, 0}, true},
      // AttnGAN's own: G's 3×3 at 32² (16 -> 32), its RGB output (16 -> 3),
      // D's first 4×4 s2 on RGB, a deep 4×4 s2 on 8² (its stride phases too
      // small for the direct kernel's dx)
      {"3x3 s1 p1 at 32x32, 16 -> 32, batch 3", shape(3, 16, 32, 32), shape(32, 16, 3, 3), {1, 1, 1, 1}, false},
      {"3x3 s1 p1 at 24x24, 16 -> 3 (RGB out), batch 2", shape(2, 16, 24, 24), shape(3, 16, 3, 3), {1, 1, 1, 1}, true},
      {"4x4 s2 p1 at 32x32, 3 -> 16 (RGB in), batch 3", shape(3, 3, 32, 32), shape(16, 3, 4, 4), {2, 2, 1, 1}, false},
      {"4x4 s2 p1 at 8x8, 24 -> 40, batch 4", shape(4, 24, 8, 8), shape(40, 24, 4, 4), {2, 2, 1, 1}, false},
      // the image encoders' first layer (RGB -> 32, 3×3 s2 p0): shifted where the direct kernel runs it
      {"3x3 s2 p0 at 31x31, 3 -> 32 (RGB in), batch 3", shape(3, 3, 31, 31), shape(32, 3, 3, 3), {2, 2, 0, 0}, false},
      // column padding wider than the stride: dx gathered back from column phases that start past it
      {"5x5 s(2, 3) p(1, 4)", shape(2, 3, 9, 13), shape(4, 3, 5, 5), {2, 3, 1, 4}, true},
  };
  std::uint64_t seed = 10;
  for (const auto& k : cases) {
    const std::string what = k.what;
    CAPTURE(what);
    vf x = vf::leaf(randn<float>(k.x, ++seed), true);
    vf w = vf::leaf(randn<float>(k.w, ++seed), true);
    vf b = k.bias ? vf::leaf(randn<float>(shape(k.w[0]), ++seed), true) : vf{};
    vf out = nn::functional::conv2d(x, w, b, k.o);
    const auto G = randn<float>(out.shape(), ++seed);
    backward(sum(out * vf::leaf(G.clone())));
    const auto xv = x.value().to_vector(), wv = w.value().to_vector(), gv = G.to_vector();
    const auto ref = conv_by_definition(xv, wv, k.bias ? b.value().to_vector() : std::vector<float>{}, gv, k.x, k.w,
                                        k.o);
    // conv2d, on whichever path it chose
    CHECK(relative_error(out.value().to_vector(), ref.out) < 1e-5);
    CHECK(relative_error(x.grad().to_vector(), ref.dx) < 1e-5);
    CHECK(relative_error(w.grad().to_vector(), ref.dw) < 1e-5);
    if (k.bias) CHECK(relative_error(b.grad().to_vector(), ref.db) < 1e-5);
    // the shifted kernels called directly, whatever conv2d chose: through
    // Eigen's GEMMs, and through the register-blocked kernel where this build
    // has it (conv_direct.hpp: float with AVX2 and FMA; else the same path twice)
    const auto g = nn::functional::detail::conv_geometry_of(k.x, k.w, k.o);
    auto ref_nobias = ref.out;
    if (k.bias) {
      const auto bv = b.value().to_vector();
      const std::size_t pixels = std::size_t(g.out_h * g.out_w);
      for (std::size_t i = 0; i < ref_nobias.size(); ++i) ref_nobias[i] -= bv[(i / pixels) % bv.size()];
    }
    for (const bool direct : {false, true}) {
      CAPTURE(direct);
      kernels::direct::enabled() = direct;
      std::vector<float> out2(std::size_t(out.numel()), 0.f), dx2(xv.size(), 0.f), dw2(wv.size(), 0.f);
      kernels::shifted_conv_forward<float>(g, k.x[0], k.w[0], xv.data(), wv.data(), out2.data(), false);
      kernels::shifted_conv_backward<float>(g, k.x[0], k.w[0], xv.data(), wv.data(), gv.data(), dw2.data(),
                                            dx2.data());
      // each gradient alone, as conv2d's backward asks when only one is needed
      std::vector<float> dx3(xv.size(), 0.f), dw3(wv.size(), 0.f);
      kernels::shifted_conv_backward<float>(g, k.x[0], k.w[0], xv.data(), wv.data(), gv.data(), nullptr, dx3.data());
      kernels::shifted_conv_backward<float>(g, k.x[0], k.w[0], xv.data(), wv.data(), gv.data(), dw3.data(), nullptr);
      kernels::direct::enabled() = true;
      CHECK(relative_error(out2, ref_nobias) < 1e-5);
      CHECK(relative_error(dx2, ref.dx) < 1e-5);
      CHECK(relative_error(dw2, ref.dw) < 1e-5);
      CHECK(relative_error(dx3, ref.dx) < 1e-5);
      CHECK(relative_error(dw3, ref.dw) < 1e-5);
    }
    // the wide column path (host; conv2d takes it for outputs of at most 16²
    // pixels that miss the shifted kernels), called directly whatever conv2d
    // chose, with room for two images' columns so that the batch runs in
    // chunks (the last one shorter where the batch is odd)
    if (!nn::functional::detail::is_direct(g)) {
      namespace D = nn::functional::detail;
      const std::size_t two = std::size_t(2 * g.col_rows() * g.col_cols()) * sizeof(float);
      const index_t n = k.x[0], oc = k.w[0];
      std::vector<float> out4(std::size_t(out.numel()), 0.f), out5(out4.size(), 1.f), dx4(xv.size(), 0.f),
          dw4(wv.size(), 0.f), dx5(xv.size(), 0.f), dw5(wv.size(), 0.f);
      D::conv2d_wide_forward<float, cpu>(xv.data(), wv.data(), out4.data(), false, g, n, oc, two);
      D::conv2d_wide_forward<float, cpu>(xv.data(), wv.data(), out5.data(), true, g, n, oc, two);
      D::conv2d_wide_backward<float, cpu>(xv.data(), wv.data(), gv.data(), dw4.data(), dx4.data(), g, n, oc, two);
      D::conv2d_wide_backward<float, cpu>(xv.data(), wv.data(), gv.data(), nullptr, dx5.data(), g, n, oc, two);
      D::conv2d_wide_backward<float, cpu>(xv.data(), wv.data(), gv.data(), dw5.data(), nullptr, g, n, oc, two);
      auto ref_plus_one = ref_nobias;
      for (auto& v : ref_plus_one) v += 1.f;
      CHECK(relative_error(out4, ref_nobias) < 1e-5);
      CHECK(relative_error(out5, ref_plus_one) < 1e-5);
      CHECK(relative_error(dx4, ref.dx) < 1e-5);
      CHECK(relative_error(dw4, ref.dw) < 1e-5);
      CHECK(relative_error(dx5, ref.dx) < 1e-5);
      CHECK(relative_error(dw5, ref.dw) < 1e-5);
    }
  }
}

TEST_CASE("conv2d on the cpu backend: which layers take the shifted-GEMM path") {
  using nn::functional::conv2d_options;
  const auto takes = [](const shape& x, const shape& w, const conv2d_options& o) {
    return kernels::shifted_applies<float>(nn::functional::detail::conv_geometry_of(x, w, o), x[0], w[0]);
  };
  // the demo's G (32 -> 64 channels, 3x3, 64²) and D (16 -> 32, 4x4 s2; RGB -> 16, 4x4 s2), batch 32
  CHECK(takes(shape(32, 32, 64, 64), shape(64, 32, 3, 3), {1, 1, 1, 1}));
  CHECK(takes(shape(32, 16, 32, 32), shape(32, 16, 4, 4), {2, 2, 1, 1}));
  CHECK(takes(shape(32, 3, 64, 64), shape(16, 3, 4, 4), {2, 2, 1, 1}));
  // RGB into more than 16 channels (the bird D256's first layer, the image encoders' first) only where the
  // direct kernel runs it; the deep 8² layers at batch 2 keep im2col
  const bool direct = kernels::direct::active<float>();
  CHECK(takes(shape(2, 3, 256, 256), shape(64, 3, 4, 4), {2, 2, 1, 1}) == direct);
  CHECK(takes(shape(32, 3, 128, 128), shape(32, 3, 3, 3), {2, 2, 0, 0}) == direct);
  kernels::direct::enabled() = false;
  CHECK_FALSE(takes(shape(2, 3, 256, 256), shape(64, 3, 4, 4), {2, 2, 1, 1}));
  kernels::direct::enabled() = true;
  CHECK_FALSE(takes(shape(2, 512, 8, 8), shape(1024, 512, 3, 3), {1, 1, 1, 1}));
  // a 1x1 convolution reads the image directly
  CHECK_FALSE(takes(shape(32, 32, 64, 64), shape(64, 32, 1, 1), {1, 1, 0, 0}));
  // the layers that miss it at outputs of at most 16² (D's 4×4 s2 to 4², its 3×3 on 4²) lay the batch's column
  // matrices side by side; larger outputs (the bird D256's first layer) keep one column matrix per image
  const auto wide = [](const shape& x, const shape& w, const conv2d_options& o) {
    return nn::functional::detail::wide_columns(nn::functional::detail::conv_geometry_of(x, w, o));
  };
  CHECK_FALSE(takes(shape(32, 64, 8, 8), shape(128, 64, 4, 4), {2, 2, 1, 1}));
  CHECK(wide(shape(32, 64, 8, 8), shape(128, 64, 4, 4), {2, 2, 1, 1}));
  CHECK(wide(shape(32, 128, 4, 4), shape(128, 128, 3, 3), {1, 1, 1, 1}));
  CHECK_FALSE(wide(shape(2, 3, 256, 256), shape(64, 3, 4, 4), {2, 2, 1, 1}));
  CHECK_FALSE(wide(shape(32, 32, 4, 4), shape(64, 32, 1, 1), {1, 1, 0, 0}));
  // the D's logits (4x4 s4 on 4x4 -> 1x1) are one dense GEMM over the batch, before either path
  CHECK(nn::functional::detail::is_dense(
      nn::functional::detail::conv_geometry_of(shape(32, 128, 4, 4), shape(1, 128, 4, 4), {4, 4, 0, 0})));
  CHECK_FALSE(nn::functional::detail::is_dense(
      nn::functional::detail::conv_geometry_of(shape(32, 128, 4, 4), shape(1, 128, 3, 3), {1, 1, 0, 0})));
  CHECK_FALSE(nn::functional::detail::is_dense(
      nn::functional::detail::conv_geometry_of(shape(32, 128, 4, 4), shape(1, 128, 4, 4), {1, 1, 1, 1})));
}


TEST_CASE("conv2d_tiled equals conv2d over the concatenation with the vector tiled, forward and every gradient") {
  namespace F = nn::functional;
  struct geometry {
    const char* what;
    shape x;
    index_t cv, oc, kh, kw;
    F::conv2d_options o;
  };
  // the discriminators' jointConv (3×3 p1 on 4×4), and geometries where
  // the padding mask differs: strided, non-square, no padding, 1×1, a
  // kernel wider than the padded image is not (5×5 p2 on 3×4)
  const std::vector<geometry> cases{
      {"3x3 s1 p1 on 4x4 (jointConv)", shape(5, 6, 4, 4), 7, 4, 3, 3, {1, 1, 1, 1}},
      {"4x4 s2 p1 on 7x9", shape(2, 3, 7, 9), 4, 5, 4, 4, {2, 2, 1, 1}},
      {"2x3 s(1, 2) p(1, 0) on 5x6", shape(3, 2, 5, 6), 3, 2, 2, 3, {1, 2, 1, 0}},
      {"3x3 s1 p0 on 3x3", shape(2, 2, 3, 3), 5, 3, 3, 3, {1, 1, 0, 0}},
      {"1x1 s1 p1 on 2x3", shape(4, 3, 2, 3), 2, 3, 1, 1, {1, 1, 1, 1}},
      {"5x5 s1 p2 on 3x4", shape(2, 1, 3, 4), 6, 2, 5, 5, {1, 1, 2, 2}},
  };
  std::uint64_t seed = 70;
  for (const auto& k : cases) {
    const std::string what = k.what;
    CAPTURE(what);
    const index_t n = k.x[0], h = k.x[2], w = k.x[3];
    const auto xv = randn<float>(k.x, ++seed), vv = randn<float>(shape(n, k.cv), ++seed);
    const auto wv = randn<float>(shape(k.oc, k.x[1] + k.cv, k.kh, k.kw), ++seed);
    vf x1 = vf::leaf(xv.clone(), true), v1 = vf::leaf(vv.clone(), true), w1 = vf::leaf(wv.clone(), true);
    vf x2 = vf::leaf(xv.clone(), true), v2 = vf::leaf(vv.clone(), true), w2 = vf::leaf(wv.clone(), true);
    vf tiled = F::conv2d_tiled(x1, v1, w1, k.o);
    vf direct = F::conv2d(F::concat_channels(x2, F::tile_spatial(v2, h, w)), w2, vf{}, k.o);
    REQUIRE(tiled.shape() == direct.shape());
    const auto G = randn<float>(direct.shape(), ++seed);
    backward(sum(tiled * vf::leaf(G.clone())));
    backward(sum(direct * vf::leaf(G.clone())));
    CHECK(relative_error(tiled.value().to_vector(), direct.value().to_vector()) < 1e-5);
    CHECK(relative_error(x1.grad().to_vector(), x2.grad().to_vector()) < 1e-5);
    CHECK(relative_error(v1.grad().to_vector(), v2.grad().to_vector()) < 1e-5);
    CHECK(relative_error(w1.grad().to_vector(), w2.grad().to_vector()) < 1e-5);
    // and by finite differences in double, every input
    auto xd = randn<double>(k.x, ++seed), vd_ = randn<double>(shape(n, k.cv), ++seed);
    auto wd = randn<double>(shape(k.oc, k.x[1] + k.cv, k.kh, k.kw), ++seed);
    CHECK(gradcheck<cpu>([&](const std::vector<vd>& in) { return F::conv2d_tiled(in[0], in[1], in[2], k.o); },
                         {&xd, &vd_, &wd})
              .ok);
  }
}

TEST_CASE("conv2d_tiled: bad shapes are named") {
  namespace F = nn::functional;
  vf x = vf::leaf(randn<float>(shape(2, 3, 4, 4), 1)), v = vf::leaf(randn<float>(shape(2, 5), 2));
  vf w = vf::leaf(randn<float>(shape(4, 8, 3, 3), 3));
  CHECK_THROWS_WITH_AS(F::conv2d_tiled(x, vf::leaf(randn<float>(shape(3, 5), 4)), w, {1, 1, 1, 1}),
                       doctest::Contains("conv2d_tiled"), shape_error);
  CHECK_THROWS_AS(F::conv2d_tiled(x, v, vf::leaf(randn<float>(shape(4, 7, 3, 3), 5)), {1, 1, 1, 1}), shape_error);
  CHECK_THROWS_AS(F::conv2d_tiled(vf::leaf(randn<float>(shape(2, 3, 4), 6)), v, w, {1, 1, 1, 1}), shape_error);
}
TEST_CASE("upsample2x_conv3x3 equals conv2d over the upsampled image, forward and every gradient") {
  namespace F = nn::functional;
  const auto to_double = [](const tcpu<float>& t) {
    const auto v = t.to_vector();
    return tcpu<double>::from_host(t.shape(), std::vector<double>(v.begin(), v.end()));
  };
  struct geometry {
    const char* what;
    shape x;
    index_t oc;
    bool bias;
  };
  // the demo's up-blocks' shapes in small (G's 4→8, 16→32, 32→64 have
  // C = 2·O... here C ≠ O, odd and non-square sizes, 1×1 and 1-row inputs,
  // and batches large enough for the cpu backend's shifted-GEMM path)
  const std::vector<geometry> cases{
      {"4x4, 6 -> 8 channels", shape(2, 6, 4, 4), 8, false},
      {"5x3, 3 -> 2, bias", shape(3, 3, 5, 3), 2, true},
      {"1x1, 4 -> 5", shape(2, 4, 1, 1), 5, false},
      {"1x7, 2 -> 3, bias", shape(1, 2, 1, 7), 3, true},
      {"8x8, batch 12 (shifted path), 8 -> 4", shape(12, 8, 8, 8), 4, false},
      {"9x6, batch 16, 5 -> 6, bias", shape(16, 5, 9, 6), 6, true},
  };
  std::uint64_t seed = 90;
  for (const auto& k : cases) {
    const std::string what = k.what;
    CAPTURE(what);
    const auto xv = randn<float>(k.x, ++seed), wv = randn<float>(shape(k.oc, k.x[1], 3, 3), ++seed);
    const auto bv = randn<float>(shape(k.oc), ++seed);
    vf x1 = vf::leaf(xv.clone(), true), w1 = vf::leaf(wv.clone(), true), b1 = vf::leaf(bv.clone(), true);
    vd x2 = vd::leaf(to_double(xv), true), w2 = vd::leaf(to_double(wv), true), b2 = vd::leaf(to_double(bv), true);
    vf fused = F::upsample2x_conv3x3(x1, w1, k.bias ? b1 : vf{});
    vd ref = F::conv2d(F::upsample_nearest(x2, 2), w2, k.bias ? b2 : vd{}, {1, 1, 1, 1});
    REQUIRE(fused.shape() == ref.shape());
    const auto G = randn<float>(ref.shape(), ++seed);
    backward(sum(fused * vf::leaf(G.clone())));
    backward(sum(ref * vd::leaf(to_double(G))));
    CHECK(relative_error(fused.value().to_vector(), ref.value().to_vector()) < 1e-5);
    CHECK(relative_error(x1.grad().to_vector(), x2.grad().to_vector()) < 1e-5);
    CHECK(relative_error(w1.grad().to_vector(), w2.grad().to_vector()) < 1e-5);
    if (k.bias) CHECK(relative_error(b1.grad().to_vector(), b2.grad().to_vector()) < 1e-5);
  }
  // and by finite differences in double
  auto xd = randn<double>(shape(2, 3, 3, 4), 120), wd = randn<double>(shape(2, 3, 3, 3), 121);
  auto bd = randn<double>(shape(2), 122);
  CHECK(gradcheck<cpu>([](const std::vector<vd>& in) { return F::upsample2x_conv3x3(in[0], in[1], in[2]); },
                       {&xd, &wd, &bd})
            .ok);
}

TEST_CASE("upsample2x_conv3x3: bad shapes are named") {
  namespace F = nn::functional;
  vf x = vf::leaf(randn<float>(shape(2, 3, 4, 4), 1));
  CHECK_THROWS_WITH_AS(F::upsample2x_conv3x3(x, vf::leaf(randn<float>(shape(4, 3, 2, 2), 2))),
                       doctest::Contains("upsample2x_conv3x3"), shape_error);
  CHECK_THROWS_AS(F::upsample2x_conv3x3(x, vf::leaf(randn<float>(shape(4, 5, 3, 3), 3))), shape_error);
  CHECK_THROWS_AS(F::upsample2x_conv3x3(vf::leaf(randn<float>(shape(2, 3, 4), 4)),
                                        vf::leaf(randn<float>(shape(4, 3, 3, 3), 5))),
                  shape_error);
  CHECK_THROWS_AS(F::upsample2x_conv3x3(x, vf::leaf(randn<float>(shape(4, 3, 3, 3), 6)),
                                        vf::leaf(randn<float>(shape(3), 7))),
                  shape_error);
}

TEST_CASE("sequential computes upsample_nearest<2> then conv3x3 as upsample2x_conv3x3, and only that pair") {
  using up_conv = nn::sequential<nn::upsample_nearest<2>, nn::conv3x3<3, 4>>;
  static_assert(nn::fuse_pair<nn::upsample_nearest<2>, nn::conv3x3<3, 4>>::value);
  static_assert(!nn::fuse_pair<nn::upsample_nearest<3>, nn::conv3x3<3, 4>>::value);
  static_assert(!nn::fuse_pair<nn::upsample_nearest<2>, nn::conv2d<3, 4, 3, 3, 2, 1>>::value);
  static_assert(!nn::fuse_pair<nn::upsample_nearest<2>, nn::conv2d<3, 4, 3, 3, 1, 0>>::value);
  generator rng(5);
  nn::network<up_conv, float> net(rng);
  const vf x = vf::leaf(randn<float>(shape(2, 3, 5, 4), 6));
  const vf y = net.module()(x);
  CHECK(std::string(y.node()->op) == "upsample2x_conv3x3");
  const auto& conv = std::get<1>(net.module().layers);
  const vf ref = nn::functional::conv2d(nn::functional::upsample_nearest(x, 2), conv.weight, vf{}, {1, 1, 1, 1});
  CHECK(relative_error(y.value().to_vector(), ref.value().to_vector()) < 1e-5);
  // the names are the two layers' (the conv is child "1")
  std::vector<std::string> names;
  for (const auto& e : net.entries()) names.push_back(e.name);
  CHECK(names == std::vector<std::string>{"1.weight"});
}

TEST_CASE("batch norm in training on the cpu backend: the fused op equals the composed expression") {
  // The layer's composed form (what the other backends run), written out
  // here and evaluated in double as the reference.
  const auto composed = [](const vd& x, const vd& g, const vd& b, const shape& cs, bool rank4) {
    const vd mu = rank4 ? mean(x, {0, 2, 3}, true) : mean(x, {0}, true);
    const vd centred = x - mu;
    const vd variance = rank4 ? mean(square(centred), {0, 2, 3}, true) : mean(square(centred), {0}, true);
    const vd inv = 1.0 / sqrt(variance + 1e-5);
    return std::array<vd, 3>{centred * inv * reshape(g, cs) + reshape(b, cs), mu, variance};
  };
  const auto to_double = [](const tcpu<float>& t) {
    const auto v = t.to_vector();
    return tcpu<double>::from_host(t.shape(), std::vector<double>(v.begin(), v.end()));
  };
  const auto values = [](const tcpu<double>& t) { return t.to_vector(); };
  for (const shape& s : {shape(5, 7, 6, 9), shape(9, 5), shape(4, 3, 1, 1)}) {
    CAPTURE(s);
    const bool rank4 = s.rank() == 4;
    const index_t C = s[1];
    const shape cs = rank4 ? shape(1, C, 1, 1) : shape(1, C);
    auto xv = randn<float>(s, 40);
    for (float& v : std::span<float>(xv.data(), std::size_t(xv.numel()))) v = 3.f + 2.f * v;  // off-centre
    const auto gv = randn<float>(shape(C), 41), bv = randn<float>(shape(C), 42), G = randn<float>(s, 43);
    vf x = vf::leaf(xv.clone(), true), g = vf::leaf(gv.clone(), true), b = vf::leaf(bv.clone(), true);
    auto fused = nn::functional::batch_norm_training(x, g, b, 1e-5f);
    backward(sum(fused.y * vf::leaf(G.clone())));
    vd xd = vd::leaf(to_double(xv), true), gd = vd::leaf(to_double(gv), true), bd = vd::leaf(to_double(bv), true);
    const auto ref = composed(xd, gd, bd, cs, rank4);
    backward(sum(ref[0] * vd::leaf(to_double(G))));
    CHECK(relative_error(fused.y.value().to_vector(), values(ref[0].value())) < 1e-5);
    CHECK(relative_error(x.grad().to_vector(), values(xd.grad())) < 1e-5);
    CHECK(relative_error(g.grad().to_vector(), values(gd.grad())) < 1e-5);
    CHECK(relative_error(b.grad().to_vector(), values(bd.grad())) < 1e-5);
    // the statistics handed to the running averages: mean and biased variance
    CHECK(relative_error(fused.mean.to_vector(), values(ref[1].value())) < 1e-6);
    CHECK(relative_error(fused.variance.to_vector(), values(ref[2].value())) < 1e-5);
  }
}

}  // namespace test_layers
