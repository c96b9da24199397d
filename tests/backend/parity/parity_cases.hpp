// Backend parity: every primitive and layer on the backend under test
// (ATTNGAN_PARITY_BACKEND) against the cpu backend, forward and every
// gradient, from the same inputs and parameters.
//
// This one file is compiled twice: by g++ for `thrust_host` (the CUDA code
// paths on the host, run by CI) and by nvcc for `cuda` (run by
// bench/gpu/run_gpu_checks.sh on a GPU machine). Criterion, per tensor:
//     max |got − want| / max |want|  ≤  1e-5 (fp32), 1e-3 with TF32 GEMMs,
// and a NaN or infinity anywhere fails.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <attngan/nn.hpp>
#include <attngan/optim.hpp>

#ifndef ATTNGAN_PARITY_BACKEND
#error "define ATTNGAN_PARITY_BACKEND to the backend under test"
#endif

namespace parity {

using namespace attngan;
using PB = ATTNGAN_PARITY_BACKEND;
using vc = var<float, cpu>;
using vb = var<float, PB>;

inline double& tolerance() {
  static double tol = 1e-5;
  return tol;
}

inline std::vector<float> random_values(index_t n, std::uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v;
  v.resize(std::size_t(n));
  for (auto& x : v) x = d(gen);
  return v;
}

/// Relative max-norm error of got against want; infinity when either holds a
/// non-finite value or the shapes differ.
template <class T>
double relative_error(const std::vector<T>& got, const std::vector<T>& want) {
  if (got.size() != want.size()) return INFINITY;
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(double(got[i])) || !std::isfinite(double(want[i]))) return INFINITY;
    diff = std::max(diff, std::abs(double(got[i]) - double(want[i])));
    scale = std::max(scale, std::abs(double(want[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

template <class T, class BG, class BW>
void check_same(const std::string& what, const tensor<T, BG>& got, const tensor<T, BW>& want, double tol = -1) {
  if (tol < 0) tol = tolerance();
  INFO(what);
  REQUIRE(got.shape() == want.shape());
  const double err = relative_error(got.to_vector(), want.to_vector());
  INFO("relative error " << err << " (tolerance " << tol << ")");
  CHECK(err <= tol);
}

/// A leaf on each backend holding the same values.
struct twin {
  vc c;
  vb b;
};
inline twin make_twin(const shape& s, std::uint32_t seed, bool grad = true, float lo = -1.f, float hi = 1.f) {
  auto v = random_values(s.numel(), seed, lo, hi);
  return {vc::leaf(tensor<float, cpu>::from_host(s, v), grad), vb::leaf(tensor<float, PB>::from_host(s, v), grad)};
}

/// Runs f on both backends with twin inputs of the given shapes, compares the
/// outputs, backpropagates the same random projection and compares every
/// input gradient.
template <class F>
void check_function(const std::string& name, const std::vector<shape>& shapes, F&& f, float lo = -1.f,
                    float hi = 1.f) {
  std::vector<vc> xc;
  std::vector<vb> xb;
  std::uint32_t seed = 11;
  for (const auto& s : shapes) {
    twin t = make_twin(s, seed++, true, lo, hi);
    xc.push_back(t.c);
    xb.push_back(t.b);
  }
  vc yc = f(xc);
  vb yb = f(xb);
  check_same(name + " forward", yb.value(), yc.value());
  twin proj = make_twin(yc.shape(), 99, false);
  backward(sum(yc * proj.c));
  backward(sum(yb * proj.b));
  for (std::size_t i = 0; i < shapes.size(); ++i)
    check_same(name + " grad of input " + std::to_string(i), xb[i].grad(), xc[i].grad());
}

/// A network of Spec on both backends with identical parameters and buffers:
/// output, input gradient, every parameter gradient and the buffers after
/// the step must agree.
template <class Spec>
void check_network(const std::string& name, const shape& in, bool training = true) {
  generator rng(5);
  nn::network<Spec, float, cpu> nc(rng);
  generator rng2(6);
  nn::network<Spec, float, PB> nb(rng2);
  // identical state: copy the cpu network's arenas
  auto pv = nc.parameter_arena().to_vector();
  auto bv = nc.buffer_arena().to_vector();
  if (!pv.empty()) PB::copy_from_host(nb.parameter_arena().data(), pv.data(), pv.size() * sizeof(float));
  if (!bv.empty()) PB::copy_from_host(nb.buffer_arena().data(), bv.data(), bv.size() * sizeof(float));
  nc.train(training);
  nb.train(training);
  twin x = make_twin(in, 21);
  vc yc = nc(x.c);
  vb yb = nb(x.b);
  check_same(name + " forward", yb.value(), yc.value());
  twin proj = make_twin(yc.shape(), 22, false);
  backward(sum(yc * proj.c));
  backward(sum(yb * proj.b));
  check_same(name + " input gradient", x.b.grad(), x.c.grad());
  for (const auto& e : nc.entries()) {
    if (e.kind == nn::tensor_kind::parameter)
      check_same(name + " gradient of " + e.name, nb.gradient_arena().subview(e.offset, e.extents),
                 nc.gradient_arena().subview(e.offset, e.extents));
    else
      check_same(name + " buffer " + e.name, nb.state(e.name), nc.state(e.name));
  }
}

}  // namespace parity

using namespace parity;

TEST_CASE("parity: fused elementwise expression with broadcast operands, forward and backward") {
  check_function("tanh(a*b+c)*sigmoid(d)-a", {shape(4, 8, 16, 16), shape(1, 8, 1, 1), shape(4, 8, 16, 16), shape(4, 1, 16, 16)},
                 [](auto& x) {
                   using V = std::decay_t<decltype(x[0])>;
                   return V(tanh(x[0] * x[1] + x[2]) * sigmoid(x[3]) - x[0]);
                 });
  check_function("batch-norm apply + leaky relu", {shape(3, 16, 9, 7), shape(1, 16, 1, 1), shape(1, 16, 1, 1)},
                 [](auto& x) {
                   using V = std::decay_t<decltype(x[0])>;
                   return V(leaky_relu((x[0] - x[1]) * x[2] + 0.5f, 0.2f));
                 });
  check_function("exp log sqrt abs max where", {shape(1000), shape(1000)}, [](auto& x) {
    using V = std::decay_t<decltype(x[0])>;
    return V(where(x[0] > x[1], exp(x[0]) * abs(x[1]), log(x[1] + 2.f) + sqrt(x[0] + 1.5f)) + max(x[0], x[1] * 0.5f));
  });
}

TEST_CASE("parity: reductions over every axis pattern, small and large") {
  for (int pattern = 0; pattern < 8; ++pattern) {
    CAPTURE(pattern);
    check_function("sum over axes", {shape(5, 7, 11, 13)}, [&](auto& x) {
      using V = std::decay_t<decltype(x[0])>;
      switch (pattern) {
        case 0: return V(sum(x[0] * x[0], {0}, true));
        case 1: return V(sum(x[0] * x[0], {1}, true));
        case 2: return V(sum(x[0] * x[0], {2}, true));
        case 3: return V(sum(x[0] * x[0], {3}, true));
        case 4: return V(sum(x[0] * x[0], {0, 2, 3}, true));
        case 5: return V(sum(x[0] * x[0], {1, 2, 3}, false));
        case 6: return V(mean(x[0] * x[0], {0, 1}, true));
        default: return V(sum(x[0] * x[0], {0, 3}, true));
      }
    });
  }
  check_function("two reduced axes, inner run shorter than the split count", {shape(4096, 3, 5, 2)}, [](auto& x) {
    using V = std::decay_t<decltype(x[0])>;
    return V(sum(x[0] * x[0], {0, 2}, true));
  });
  check_function("mean of everything, 2^20 elements", {shape(1 << 20)}, [](auto& x) {
    using V = std::decay_t<decltype(x[0])>;
    return V(mean(exp(x[0])));
  });
  check_function("per-channel sum, batch-norm shape", {shape(20, 64, 32, 32)}, [](auto& x) {
    using V = std::decay_t<decltype(x[0])>;
    return V(sum(x[0], {0, 2, 3}, true));
  });
}

template <class T>
void check_gemm_case(primitives::transpose ta, primitives::transpose tb, index_t batch) {
  using primitives::transpose;
  const index_t m = 37, n = 29, k = 45, pad = 3;
  const index_t ar = ta == transpose::yes ? k : m, ac = (ta == transpose::yes ? m : k) + pad;
  const index_t br = tb == transpose::yes ? n : k, bc = (tb == transpose::yes ? k : n) + pad;
  const index_t lda = ac, ldb = bc, ldc = n + pad;
  auto to_t = [](const std::vector<float>& v) { return std::vector<T>(v.begin(), v.end()); };
  auto a = to_t(random_values(batch * ar * ac, 1)), b = to_t(random_values(batch * br * bc, 2));
  auto c0 = to_t(random_values(batch * m * ldc, 3));
  auto run = [&](auto backend_tag) {
    using BB = decltype(backend_tag);
    auto A = tensor<T, BB>::from_host(shape(batch * ar * ac), a), Bm = tensor<T, BB>::from_host(shape(batch * br * bc), b);
    auto C = tensor<T, BB>::from_host(shape(batch * m * ldc), c0);
    primitives::gemm_args<T> g{ta, tb, m, n, k, T(0.75), A.data(), lda, Bm.data(), ldb, T(0.5), C.data(), ldc};
    if (batch == 1) primitives::gemm<BB>(g);
    else primitives::gemm_batched<BB>(g, batch, ar * ac, br * bc, m * ldc);
    return C;
  };
  check_same("gemm", run(PB{}), run(cpu{}), std::is_same_v<T, double> ? 1e-12 : tolerance());
}

TEST_CASE("parity: gemm and batched gemm, every transpose, padded leading dimensions, float and double") {
  using primitives::transpose;
  for (auto ta : {transpose::no, transpose::yes})
    for (auto tb : {transpose::no, transpose::yes})
      for (index_t batch : {1, 3}) {
        CAPTURE(int(ta));
        CAPTURE(int(tb));
        CAPTURE(batch);
        check_gemm_case<float>(ta, tb, batch);
        check_gemm_case<double>(ta, tb, batch);
      }
  check_function("matmul", {shape(33, 70), shape(70, 19)}, [](auto& x) { return matmul(x[0], x[1]); });
  check_function("bmm", {shape(4, 17, 70), shape(4, 70, 12)}, [](auto& x) { return bmm(x[0], x[1]); });
}

TEST_CASE("parity: conv2d in AttnGAN's configurations") {
  using nn::bias;
  check_network<nn::conv2d<8, 16, 3, 3, 1, 1, 1>>("conv3x3 s1 p1", shape(3, 8, 12, 12));
  check_network<nn::conv2d<6, 10, 4, 4, 2, 1, 1>>("conv4x4 s2 p1", shape(2, 6, 16, 16));
  check_network<nn::conv2d<12, 5, 1, 1, 1, 0, 0>>("conv1x1", shape(2, 12, 9, 9));
  check_network<nn::conv2d<3, 8, 3, 3, 2, 0, 0, bias::yes>>("conv3x3 s2 p0 bias", shape(2, 3, 15, 15));
  check_network<nn::conv2d<4, 6, 1, 7, 1, 0, 3, bias::yes>>("conv1x7 p03 bias", shape(2, 4, 9, 9));
  // the discriminators' jointConv over (code, sentence tiled to 4×4), and a strided one
  check_function("conv2d_tiled 3x3 p1 on 4x4", {shape(3, 8, 4, 4), shape(3, 6), shape(5, 14, 3, 3)},
                 [](auto& x) { return nn::functional::conv2d_tiled(x[0], x[1], x[2], {1, 1, 1, 1}); });
  check_function("conv2d_tiled 4x4 s2 p1 on 7x9", {shape(2, 3, 7, 9), shape(2, 4), shape(6, 7, 4, 4)},
                 [](auto& x) { return nn::functional::conv2d_tiled(x[0], x[1], x[2], {2, 2, 1, 1}); });
  // a kernel as large as the input (the discriminators' logits): one GEMM over the batch
  check_network<nn::conv2d<16, 1, 4, 4, 4, 0, 0>>("conv4x4 s4 on 4x4 (dense)", shape(5, 16, 4, 4));
  check_network<nn::conv2d<6, 3, 3, 5, 1, 0, 0, bias::yes>>("conv3x5 on 3x5 bias (dense)", shape(4, 6, 3, 5));
  // the up-blocks' upsample + conv3x3 at the input's resolution (sequential fuses the pair)
  check_function("upsample2x_conv3x3 bias", {shape(2, 5, 6, 7), shape(4, 5, 3, 3), shape(4)},
                 [](auto& x) { return nn::functional::upsample2x_conv3x3(x[0], x[1], x[2]); });
}

TEST_CASE("parity: batch norm, GLU, activations, up-block") {
  check_network<nn::batch_norm2d<16>>("batch_norm2d train", shape(4, 16, 8, 8), true);
  check_network<nn::batch_norm2d<16>>("batch_norm2d eval", shape(4, 16, 8, 8), false);
  check_network<nn::batch_norm1d<24>>("batch_norm1d train", shape(6, 24), true);
  check_network<nn::glu>("glu", shape(3, 16, 5, 5));
  check_network<nn::leaky_relu<0.2>>("leaky_relu 0.2", shape(3, 16, 5, 5));
  check_network<nn::sequential<nn::upsample_nearest<2>, nn::conv3x3<8, 12>, nn::batch_norm2d<12>, nn::glu>>(
      "up-block", shape(2, 8, 6, 6));
  check_network<nn::linear<40, 24>>("linear", shape(5, 40));
}

TEST_CASE("parity: training-mode batch norm as one fused op (statistics, every gradient, launches)") {
  // Off-centre values (μ far from 0, as after a conv), shapes whose
  // reductions take one pass and ones that split into partial sums.
  for (const shape& s : {shape(5, 7, 6, 9), shape(9, 5), shape(4, 3, 1, 1), shape(20, 32, 16, 16)}) {
    CAPTURE(s);
    const index_t C = s[1];
    twin x = make_twin(s, 31, true, 2.f, 6.f), g = make_twin(shape(C), 32, true, 0.5f, 1.5f),
         b = make_twin(shape(C), 33, true);
    const auto rc = nn::functional::batch_norm_training(x.c, g.c, b.c, 1e-5f);
    const auto before_forward = primitives::launch_count().load();
    const auto rb = nn::functional::batch_norm_training(x.b, g.b, b.b, 1e-5f);
    // μ and σ² (two reductions), inv (C values), y (one elementwise pass)
    CHECK(primitives::launch_count().load() - before_forward == 4);
    check_same("batch norm forward", rb.y.value(), rc.y.value());
    check_same("batch norm mean", rb.mean, rc.mean);
    check_same("batch norm variance", rb.variance, rc.variance);
    twin proj = make_twin(s, 34, false);
    backward(sum(rc.y * proj.c));
    const auto before_backward = primitives::launch_count().load();
    backward(sum(rb.y * proj.b));
    const auto fused_backward = primitives::launch_count().load() - before_backward;
    check_same("batch norm grad of x", x.b.grad(), x.c.grad());
    check_same("batch norm grad of weight", g.b.grad(), g.c.grad());
    check_same("batch norm grad of bias", b.b.grad(), b.c.grad());
    // The same normalisation composed from expressions takes more launches
    // backwards (a reduction for every broadcast operand).
    twin x2 = make_twin(s, 31, true, 2.f, 6.f), g2 = make_twin(shape(C), 32, true, 0.5f, 1.5f),
         b2 = make_twin(shape(C), 33, true);
    const bool rank4 = s.rank() == 4;
    const shape cs = rank4 ? shape(1, C, 1, 1) : shape(1, C);
    const auto channel_mean = [rank4](const vb& v) -> vb {
      return rank4 ? vb(mean(v, {0, 2, 3}, true)) : vb(mean(v, {0}, true));
    };
    const vb mu = channel_mean(x2.b);
    const vb centred = x2.b - mu;
    const vb inv = 1.f / sqrt(channel_mean(square(centred)) + 1e-5f);
    const vb composed = centred * inv * reshape(g2.b, cs) + reshape(b2.b, cs);
    check_same("composed batch norm forward", composed.value(), rc.y.value());
    const auto before_composed = primitives::launch_count().load();
    backward(sum(composed * proj.b));
    const auto composed_backward = primitives::launch_count().load() - before_composed;
    check_same("composed batch norm grad of x", x2.b.grad(), x.c.grad());
    INFO("backward launches: fused " << fused_backward << ", composed " << composed_backward);
    CHECK(fused_backward < composed_backward);
  }
}

TEST_CASE("parity: resampling, pooling, softmax, shape ops") {
  check_function("upsample_nearest x2", {shape(2, 3, 5, 7)}, [](auto& x) { return nn::functional::upsample_nearest(x[0], 2); });
  for (bool align : {false, true}) {
    CAPTURE(align);
    check_function("resize_bilinear", {shape(2, 3, 17, 13)}, [&](auto& x) { return nn::functional::resize_bilinear(x[0], 29, 31, align); });
  }
  check_function("max_pool2d 3x3 s2", {shape(2, 4, 15, 15)}, [](auto& x) { return nn::functional::max_pool2d(x[0], {3, 2, 0, true}); });
  check_function("avg_pool2d 3x3 s1 p1", {shape(2, 4, 9, 9)}, [](auto& x) { return nn::functional::avg_pool2d(x[0], {3, 1, 1, true}); });
  check_function("softmax", {shape(6, 40)}, [](auto& x) { return nn::functional::softmax(x[0], 1); });
  check_function("log_softmax axis 0", {shape(7, 9, 5)}, [](auto& x) { return nn::functional::log_softmax(x[0], 0); });
  {
    std::vector<float> m(6 * 40, 0.f);
    for (int r = 0; r < 6; ++r)
      for (int c = 0; c < 40; ++c) m[std::size_t(r * 40 + c)] = c >= 10 + 5 * r ? 1.f : 0.f;  // masked tails
    auto mc = tensor<float, cpu>::from_host(shape(6, 40), m);
    auto mb = tensor<float, PB>::from_host(shape(6, 40), m);
    std::vector<vc> xc;
    std::vector<vb> xb;
    twin t = make_twin(shape(6, 40), 3);
    vc yc = nn::functional::softmax(t.c, 1, &mc);
    vb yb = nn::functional::softmax(t.b, 1, &mb);
    check_same("masked softmax forward", yb.value(), yc.value());
    twin proj = make_twin(shape(6, 40), 4, false);
    backward(sum(yc * proj.c));
    backward(sum(yb * proj.b));
    check_same("masked softmax gradient", t.b.grad(), t.c.grad());
  }
  check_function("concat_channels", {shape(2, 3, 4, 4), shape(2, 5, 4, 4)}, [](auto& x) { return nn::functional::concat_channels(x[0], x[1]); });
  check_function("transpose 1 2", {shape(3, 7, 5)}, [](auto& x) { return nn::functional::transpose(x[0], 1, 2); });
  check_function("tile_spatial", {shape(3, 6)}, [](auto& x) { return nn::functional::tile_spatial(x[0], 4, 5); });
  check_function("stack", {shape(3, 6), shape(3, 6)}, [](auto& x) {
    using V = std::decay_t<decltype(x[0])>;
    return nn::functional::stack(std::vector<V>{x[0], x[1]}, 1);
  });
}

TEST_CASE("parity: losses") {
  check_function("bce", {shape(8, 1), shape(8, 1)}, [](auto& x) {
    using V = std::decay_t<decltype(x[0])>;
    return nn::functional::bce(V(sigmoid(x[0])), V(sigmoid(x[1] * 4.f)));
  });
  check_function("bce_with_logits", {shape(8, 3), shape(8, 3)}, [](auto& x) {
    using V = std::decay_t<decltype(x[0])>;
    return nn::functional::bce_with_logits(x[0], V(sigmoid(x[1])));
  });
  check_function("cross_entropy", {shape(6, 10)}, [](auto& x) {
    return nn::functional::cross_entropy(x[0], std::vector<index_t>{0, 3, 9, 2, 2, 7});
  });
  check_function("ca_kl", {shape(4, 12), shape(4, 12)}, [](auto& x) { return nn::functional::ca_kl(x[0], x[1]); });
  check_function("cosine_similarity", {shape(5, 32), shape(5, 32)}, [](auto& x) { return nn::functional::cosine_similarity(x[0], x[1], 1); });
}

TEST_CASE("parity: embedding, bidirectional LSTM with unequal lengths") {
  using ids_t = std::vector<std::int64_t>;
  const ids_t ids = {3, 1, 0, 7, 7, 2, 5, 4, 6, 1, 0, 2};
  twin w = make_twin(shape(8, 10), 5);
  vc ec = nn::functional::embedding(w.c, tensor<std::int64_t, cpu>::from_host(shape(3, 4), ids));
  vb eb = nn::functional::embedding(w.b, tensor<std::int64_t, PB>::from_host(shape(3, 4), ids));
  check_same("embedding forward", eb.value(), ec.value());
  twin proj = make_twin(ec.shape(), 6, false);
  backward(sum(ec * proj.c));
  backward(sum(eb * proj.b));
  check_same("embedding weight gradient (repeated ids)", w.b.grad(), w.c.grad());

  using spec = nn::lstm<10, 12, true>;
  generator rng(3);
  nn::network<spec, float, cpu> nc(rng);
  nn::network<spec, float, PB> nb(rng);
  auto pv = nc.parameter_arena().to_vector();
  PB::copy_from_host(nb.parameter_arena().data(), pv.data(), pv.size() * sizeof(float));
  twin x = make_twin(shape(3, 6, 10), 7);
  const std::vector<index_t> lengths = {6, 2, 4};
  auto rc = nc(x.c, lengths);
  auto rb = nb(x.b, lengths);
  check_same("lstm output", rb.output.value(), rc.output.value());
  check_same("lstm h_n", rb.h_n.value(), rc.h_n.value());
  twin p1 = make_twin(rc.output.shape(), 8, false), p2 = make_twin(rc.h_n.shape(), 9, false);
  backward(vc(vc(sum(rc.output * p1.c)) + vc(sum(rc.h_n * p2.c))));
  backward(vb(vb(sum(rb.output * p1.b)) + vb(sum(rb.h_n * p2.b))));
  check_same("lstm input gradient", x.b.grad(), x.c.grad());
  for (const auto& e : nc.entries())
    check_same("lstm gradient of " + e.name, nb.gradient_arena().subview(e.offset, e.extents),
               nc.gradient_arena().subview(e.offset, e.extents));
}

TEST_CASE("parity: Philox draws, dropout masks, Adam, gradient clipping, EMA") {
  generator g1(42, 7), g2(42, 7);
  auto nc = tensor<float, cpu>(shape(1000));
  auto nb = tensor<float, PB>(shape(1000));
  g1.normal(nc);
  g2.normal(nb);
  // core/philox.hpp's contract: raw bits and uniforms are exact arithmetic,
  // identical on every backend; normals pass through log/cos/sqrt, whose
  // last-ulp rounding is the platform's (libm vs CUDA's), so they agree to a
  // few ulp, not bitwise.
  check_same("normal draws (log/cos/sqrt: a few ulp)", nb, nc, 1e-6);
  g1.uniform(nc, -2.f, 3.f);
  g2.uniform(nb, -2.f, 3.f);
  check_same("uniform draws on [-2, 3) (bitwise)", nb, nc, 0.0);
  auto dc = tensor<double, cpu>(shape(999));
  auto db = tensor<double, PB>(shape(999));
  g1.uniform(dc, 0.5, 4.0);
  g2.uniform(db, 0.5, 4.0);
  check_same("double uniform draws (bitwise)", db, dc, 0.0);

  twin x = make_twin(shape(64, 50), 12);
  generator d1(9), d2(9);
  vc yc = nn::functional::dropout(x.c, 0.3, d1);
  vb yb = nn::functional::dropout(x.b, 0.3, d2);
  check_same("dropout forward (same Philox mask)", yb.value(), yc.value(), 0.0);

  using spec = nn::sequential<nn::linear<20, 30>, nn::leaky_relu<0.2>, nn::linear<30, 5>>;
  generator r1(1);
  nn::network<spec, float, cpu> mc(r1);
  nn::network<spec, float, PB> mb(r1);
  auto pv = mc.parameter_arena().to_vector();
  PB::copy_from_host(mb.parameter_arena().data(), pv.data(), pv.size() * sizeof(float));
  optim::adam<float, cpu> oc(mc.parameter_arena(), mc.gradient_arena(), {.lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999});
  optim::adam<float, PB> ob(mb.parameter_arena(), mb.gradient_arena(), {.lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999});
  optim::parameter_ema<float, cpu> ec(mc.parameter_arena(), 0.999);
  optim::parameter_ema<float, PB> eb(mb.parameter_arena(), 0.999);
  for (int step = 0; step < 3; ++step) {
    twin in = make_twin(shape(8, 20), std::uint32_t(30 + step), false);
    mc.zero_grad();
    mb.zero_grad();
    backward(sum(square(mc(in.c))));
    backward(sum(square(mb(in.b))));
    const double nc_norm = optim::clip_grad_norm(mc.gradient_arena(), 0.5);
    const double nb_norm = optim::clip_grad_norm(mb.gradient_arena(), 0.5);
    CHECK(std::abs(nb_norm - nc_norm) <= 1e-5 * nc_norm);
    oc.step();
    ob.step();
    ec.update(mc.parameter_arena());
    eb.update(mb.parameter_arena());
  }
  check_same("parameters after 3 Adam steps", mb.parameter_arena(), mc.parameter_arena());
  check_same("EMA after 3 steps", eb.average(), ec.average());
}

TEST_CASE("parity: a NaN on the backend under test is never accepted") {
  std::vector<float> v = random_values(100, 1);
  auto want = tensor<float, cpu>::from_host(shape(100), v);
  v[37] = NAN;
  auto got = tensor<float, PB>::from_host(shape(100), v);
  CHECK(relative_error(got.to_vector(), want.to_vector()) == INFINITY);
}
