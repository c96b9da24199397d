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

namespace {
/// The cpu backend hands each thread a [begin, end) of indices and calls an
/// evaluator's host-only range() on it where there is one. range() must write
/// exactly what operator() writes index by index, from any begin to any end:
/// mid-row, a row at a time, one element, the whole. `make(dst)` builds the
/// evaluator writing to dst; `dst0` is dst's starting content (accumulating
/// evaluators add to it). Compared bit for bit.
template <class Make>
void check_range_matches_indices(const std::string& what, index_t n, const std::vector<float>& dst0, Make&& make) {
  CAPTURE(what);
  std::vector<float> by_index = dst0;
  const auto ev = make(by_index.data());
  for (index_t i = 0; i < n; ++i) ev(i);
  const std::vector<std::vector<index_t>> cuts{
      {0, n}, {0, 1, 2, 7, 64, n / 3, n / 3 + 5, n - 1, n}, {0, 13, 29, 31, 97, 200, n}};
  for (const auto& c : cuts) {
    std::vector<float> by_range = dst0;
    const auto er = make(by_range.data());
    for (std::size_t k = 0; k + 1 < c.size(); ++k) er.range(c[k], c[k + 1]);
    int differ = 0;
    for (std::size_t i = 0; i < by_range.size(); ++i) differ += by_range[i] != by_index[i];
    CHECK(differ == 0);
  }
}
}  // namespace

TEST_CASE("host copy kernels: range() writes what operator() writes, from any begin to any end") {
  using namespace F::detail;
  const auto x = randn<float>(shape(3, 5, 7, 9), 21).to_vector();  // 945 values
  const auto noise = [](std::size_t n, std::uint64_t seed) { return randn<float>(shape(index_t(n)), seed).to_vector(); };
  // resize, up and down, both corner modes: 3·5 planes of 7×9 to 11×4
  for (bool align : {false, true}) {
    const bilinear_axis<float> ah{7, 11, align}, aw{9, 4, align};
    check_range_matches_indices("bilinear", 15 * 11 * 4, std::vector<float>(15 * 11 * 4, 0.f), [&](float* d) {
      return bilinear_kernel<float>{x.data(), d, ah, aw};
    });
  }
  // every pair of axes of the rank-4 shape swapped, written and accumulated
  for (int a = 0; a < 4; ++a)
    for (int b = a + 1; b < 4; ++b)
      for (bool acc : {false, true})
        check_range_matches_indices("transpose", 945, noise(945, 22), [&](float* d) {
          return make_transpose<float>(x.data(), d, shape(3, 5, 7, 9), a, b, acc);
        });
  // a part of 2 of 6 channels at offset 3 (inner 7·9), into the output and back
  check_range_matches_indices("concat into the output", 3 * 2 * 63, noise(3 * 6 * 63, 23), [&](float* d) {
    return concat_part<float>{x.data(), d, 2, 63, 6, 3, true};
  });
  const auto whole = noise(3 * 6 * 63, 24);
  check_range_matches_indices("concat's gradient", 3 * 2 * 63, noise(3 * 2 * 63, 25), [&](float* d) {
    return concat_part<float>{whole.data(), d, 2, 63, 6, 3, false};
  });
  // 3 images of 5 channels of 63 pixels, to the wide layout and back (set and added)
  check_range_matches_indices("images to wide", 945, std::vector<float>(945, 0.f), [&](float* d) {
    return images_to_wide<float>{x.data(), d, 5, 63, 3};
  });
  for (bool acc : {false, true})
    check_range_matches_indices("wide to images", 945, noise(945, 26), [&](float* d) {
      return wide_to_images<float>{x.data(), d, 5, 63, 3, acc};
    });
  // the up-block's phase interleave (upsample_conv.hpp): z (2, 4·3, 5, 6) to y (2, 3, 8, 10), and its gradient
  check_range_matches_indices("phase interleave", 480, std::vector<float>(480, 0.f), [&](float* d) {
    return phase_interleave_kernel<float>{x.data(), d, 3, 4, 5};
  });
  check_range_matches_indices("phase interleave's gradient", 720, noise(720, 27), [&](float* d) {
    return phase_interleave_backward<float>{x.data(), d, 3, 4, 5};
  });
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
