#include "test_support.hpp"

namespace test_reduce {

using namespace attngan;
using namespace attngan::test;

TEST_CASE("sum and mean: values over everything and over axes") {
  vf x = vf::leaf(tcpu<float>::from_host(shape(2, 3), {1, 2, 3, 4, 5, 6}));
  CHECK(sum(x).shape() == shape());
  CHECK(sum(x).item() == 21.f);
  CHECK(mean(x).item() == 3.5f);
  CHECK(sum(x, {0}).value().to_vector() == std::vector<float>{5, 7, 9});
  CHECK(sum(x, {1}).value().to_vector() == std::vector<float>{6, 15});
  CHECK(sum(x, {-1}, true).shape() == shape(2, 1));
  CHECK(mean(x, {0}).value().to_vector() == std::vector<float>{2.5, 3.5, 4.5});
  CHECK(sum(x, {0, 1}).shape() == shape());

  vf img = vf::leaf(randn<float>(shape(3, 4, 5, 6), 9));
  auto v = img.value().to_vector();
  vf per_channel = sum(img, {0, 2, 3}, true);
  CHECK(per_channel.shape() == shape(1, 4, 1, 1));
  for (int c = 0; c < 4; ++c) {
    double ref = 0;
    for (int n = 0; n < 3; ++n)
      for (int i = 0; i < 30; ++i) ref += v[std::size_t((n * 4 + c) * 30 + i)];
    CHECK(per_channel.item(c) == doctest::Approx(ref).epsilon(1e-5));
  }
}

TEST_CASE("a large sum is accurate (accumulated in double)") {
  vf x = vf::leaf(tcpu<float>::full(shape(1 << 22), 0.1f));
  CHECK(sum(x).item() == doctest::Approx(double(0.1f) * (1 << 22)).epsilon(1e-7));
}

TEST_CASE("gradcheck: reductions over every axis set, fused with expressions") {
  const shape s(2, 3, 4, 5);
  auto a = randn<double>(s, 3), b = randn<double>(shape(1, 3, 1, 1), 4);
  const std::vector<std::vector<int>> axis_sets = {{0}, {1}, {3}, {0, 2, 3}, {1, 2}, {0, 1, 2, 3}, {-1, -2}};
  for (const auto& axes : axis_sets) {
    for (bool keepdim : {false, true}) {
      CAPTURE(axes.size());
      CAPTURE(keepdim);
      auto call = [&](const std::vector<vd>& x, bool average) {
        auto e = x[0] * tanh(x[1]) + x[0] * x[0];
        switch (axes.size()) {
          case 1: return average ? mean(std::move(e), {axes[0]}, keepdim) : sum(std::move(e), {axes[0]}, keepdim);
          case 2: return average ? mean(std::move(e), {axes[0], axes[1]}, keepdim)
                                 : sum(std::move(e), {axes[0], axes[1]}, keepdim);
          case 3: return sum(std::move(e), {axes[0], axes[1], axes[2]}, keepdim);
          default: return mean(std::move(e), {0, 1, 2, 3}, keepdim);
        }
      };
      for (bool average : {false, true}) {
        auto r = gradcheck<cpu>([&](const std::vector<vd>& x) { return call(x, average); }, {&a, &b});
        INFO(r.report);
        CHECK(r.ok);
      }
    }
  }
  auto r = gradcheck<cpu>([](const std::vector<vd>& x) { return mean(x[0]); }, {&a});
  CHECK(r.ok);
}

TEST_CASE("bad axes throw errors naming the shape") {
  vf x = vf::leaf(tcpu<float>::zeros(shape(2, 3)));
  CHECK_THROWS_WITH_AS((void)sum(x, {2}), "sum: axis 2 is out of range for shape (2, 3)", shape_error);
  CHECK_THROWS_WITH_AS((void)mean(x, {1, -1}), "mean: axis -1 is listed twice for shape (2, 3)", value_error);
}

}  // namespace test_reduce
