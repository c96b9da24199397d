// Pooling, bilinear resizing, embedding, dropout and tiling: golden parity
// with PyTorch, gradchecks, bad input.
#include "golden.hpp"

#include <attngan/nn.hpp>

namespace test_pool {

using namespace attngan;
using namespace attngan::test;
namespace F = attngan::nn::functional;

namespace {
template <class Fn>
void check_function(const std::string& fixture, Fn&& f) {
  CAPTURE(fixture);
  const golden_file g(golden_path("nn", fixture));
  vf x = vf::leaf(g.tensor_of("input0"), true);
  vf out = f(x);
  check_close(g, "output", out.value(), "output");
  backward(sum(out * vf::leaf(g.tensor_of("proj"))));
  check_close(g, "grad.input0", x.grad(), "grad");
}
}  // namespace

TEST_CASE("golden: max and average pooling as torchvision's Inception uses them") {
  check_function("max_pool3x3_s2", [](const vf& x) { return F::max_pool2d(x, {3, 2, 0}); });
  check_function("avg_pool3x3_s1_p1", [](const vf& x) { return F::avg_pool2d(x, {3, 1, 1, true}); });
  check_function("avg_pool3x3_s2_p1_exclude_pad", [](const vf& x) { return F::avg_pool2d(x, {3, 2, 1, false}); });
}

TEST_CASE("golden: bilinear resize with align_corners true and false, up and down") {
  check_function("resize_up_align", [](const vf& x) { return F::resize_bilinear(x, 11, 9, true); });
  check_function("resize_down_align", [](const vf& x) { return F::resize_bilinear(x, 3, 4, true); });
  check_function("resize_up_noalign", [](const vf& x) { return F::resize_bilinear(x, 11, 9, false); });
  check_function("resize_down_noalign", [](const vf& x) { return F::resize_bilinear(x, 3, 4, false); });
}

TEST_CASE("golden: embedding lookup and its gradient with repeated ids") {
  const golden_file g(golden_path("nn", "embedding"));
  const golden_file ids_file(golden_path("nn", "embedding_ids"));
  std::vector<std::int64_t> ids;
  for (float v : ids_file.at("ids").values) ids.push_back(std::int64_t(v));
  generator rng(0);
  nn::network<nn::embedding<10, 4>, float, cpu> net(rng);
  auto src = g.tensor_of("param.weight");
  cpu::copy_within(net.state("weight").data(), src.data(), std::size_t(src.numel()) * sizeof(float));
  vf out = net(tensor<std::int64_t, cpu>::from_host(shape(2, 4), ids));
  check_close(g, "output", out.value(), "output");
  backward(sum(out * vf::leaf(g.tensor_of("proj"))));
  check_close(g, "grad.weight", net.gradient_arena().subview(0, shape(10, 4)).clone(), "grad");
  CHECK_THROWS_WITH_AS(net(tensor<std::int64_t, cpu>::from_host(shape(1, 2), {3, 10})),
                       "embedding: token id 10 is outside the vocabulary [0, 10)", value_error);
}

TEST_CASE("golden: tiling a per-sample vector over H x W") {
  check_function("tile_spatial", [](const vf& x) { return F::tile_spatial(x, 5, 6); });
}

TEST_CASE("gradcheck: pooling and resizing") {
  auto x = randn<double>(shape(2, 2, 5, 6), 1);
  CHECK(gradcheck<cpu>([](const std::vector<vd>& v) { return F::max_pool2d(v[0], {3, 2, 1}); }, {&x}).ok);
  CHECK(gradcheck<cpu>([](const std::vector<vd>& v) { return F::avg_pool2d(v[0], {3, 1, 1, true}); }, {&x}).ok);
  CHECK(gradcheck<cpu>([](const std::vector<vd>& v) { return F::avg_pool2d(v[0], {2, 2, 1, false}); }, {&x}).ok);
  for (bool align : {true, false}) {
    CHECK(gradcheck<cpu>([&](const std::vector<vd>& v) { return F::resize_bilinear(v[0], 9, 4, align); }, {&x}).ok);
    CHECK(gradcheck<cpu>([&](const std::vector<vd>& v) { return F::resize_bilinear(v[0], 3, 3, align); }, {&x}).ok);
  }
}

TEST_CASE("resize_bilinear: a backward large enough to split its planes between threads, plane by plane") {
  // Linear, so Σ dx·x = Σ y·g on every plane for loss = Σ y·g: a plane the
  // threads skip or both write breaks it. 15 planes of 128² outputs (the
  // demo's 64² → 128² resize) count as 245,760 elements, above the cpu's
  // serial limit.
  const index_t planes = 15, in = 64, out = 128;
  for (bool align : {true, false}) {
    CAPTURE(align);
    vd x = vd::leaf(randn<double>(shape(5, 3, in, in), 3), true);
    const auto g = randn<double>(shape(5, 3, out, out), 4);
    vd y = F::resize_bilinear(x, out, out, align);
    backward(sum(y * vd::leaf(g.clone())));
    const auto xs = x.value().to_vector(), dxs = x.grad().to_vector(), ys = y.value().to_vector(),
               gs = g.to_vector();
    int wrong = 0;
    for (index_t p = 0; p < planes; ++p) {
      double lhs = 0, rhs = 0;
      for (index_t i = 0; i < in * in; ++i) lhs += dxs[std::size_t(p * in * in + i)] * xs[std::size_t(p * in * in + i)];
      for (index_t i = 0; i < out * out; ++i) rhs += ys[std::size_t(p * out * out + i)] * gs[std::size_t(p * out * out + i)];
      if (!(std::abs(lhs - rhs) <= 1e-9 * (1 + std::abs(rhs)))) ++wrong;
    }
    CHECK(wrong == 0);
  }
}

TEST_CASE("dropout: Philox mask, scaled by 1/(1-p), the same gradient mask, identity in evaluation") {
  vf x = vf::leaf(tcpu<float>::full(shape(1000, 100), 1.f), true);
  generator rng(9);
  vf y = F::dropout(x, 0.3, rng);
  auto v = y.value().to_vector();
  const auto kept = std::count_if(v.begin(), v.end(), [](float e) { return e != 0.f; });
  CHECK(double(kept) / double(v.size()) == doctest::Approx(0.7).epsilon(0.01));
  for (float e : v) CHECK((e == 0.f || e == doctest::Approx(1.f / 0.7f)));
  backward(sum(y));
  CHECK(x.grad().to_vector() == v);  // d(x·mask)/dx = mask
  generator same(9);
  vf again = F::dropout(x, 0.3, same);
  CHECK(again.value().to_vector() == v);  // reproducible from (seed, offset)
  vf next = F::dropout(x, 0.3, rng);      // the stream moved on
  CHECK(next.value().to_vector() != v);
  CHECK(F::dropout(x, 0.3, rng, false).value().data() == x.value().data());
  CHECK_THROWS_AS((void)F::dropout(x, 1.0, rng), value_error);
}

TEST_CASE("pooling rejects bad windows with the layer's name") {
  vf x = vf::leaf(tcpu<float>::zeros(shape(1, 1, 2, 2)));
  CHECK_THROWS_WITH_AS((void)F::max_pool2d(x, {3, 1, 0}), "max_pool2d: kernel 3 is larger than the padded input (1, 1, 2, 2)",
                       shape_error);
  CHECK_THROWS_AS((void)F::avg_pool2d(x, {2, 1, 2}), value_error);
}

TEST_CASE("gradcheck: embedding weights (repeated ids) and tiling") {
  auto w = randn<double>(shape(6, 3), 1);
  const auto ids = tensor<std::int64_t, cpu>::from_host(shape(2, 3), {1, 4, 1, 0, 5, 1});
  CHECK(gradcheck<cpu>([&](const std::vector<vd>& v) { return F::embedding(v[0], ids); }, {&w}).ok);
  auto s = randn<double>(shape(2, 3), 2);
  CHECK(gradcheck<cpu>([](const std::vector<vd>& v) { return F::tile_spatial(v[0], 2, 3); }, {&s}).ok);
}

}  // namespace test_pool
