// Elementwise expressions: values against the host's math, gradients against
// central differences (double), with and without broadcasting.
#include "test_support.hpp"

#include <functional>
#include <random>

namespace test_elementwise {

using namespace attngan;
using namespace attngan::test;

namespace {

using fn2 = std::function<vd(const vd&, const vd&)>;
using fn1 = std::function<vd(const vd&)>;

struct shape_pair {
  shape a, b;
  const char* what;
};

// Shapes that exercise every broadcasting case AttnGAN uses: equal, per
// channel, per sample, right-aligned lower rank, and a scalar.
const std::vector<shape_pair>& broadcast_cases() {
  static const std::vector<shape_pair> cases = {
      {shape(2, 3, 4, 5), shape(2, 3, 4, 5), "equal"},
      {shape(2, 3, 4, 5), shape(1, 3, 1, 1), "per channel"},
      {shape(2, 3, 4, 5), shape(2, 1, 1, 1), "per sample"},
      {shape(2, 1, 4, 5), shape(3, 1, 1), "both sides broadcast"},
      {shape(3, 4), shape(4), "lower rank"},
      {shape(), shape(3, 4), "scalar"},
  };
  return cases;
}

void check_binary(const char* name, const fn2& f, bool positive_b = false) {
  for (const auto& c : broadcast_cases()) {
    CAPTURE(name);
    CAPTURE(c.what);
    auto a = randn_away_from_zero<double>(c.a, 11);
    auto b = positive_b ? randu<double>(c.b, 12, 0.5, 2.0) : randn_away_from_zero<double>(c.b, 12);
    auto r = gradcheck<cpu>([&](const std::vector<vd>& x) { return f(x[0], x[1]); }, {&a, &b});
    INFO(r.report);
    CHECK(r.ok);
    CHECK(r.checked == a.numel() + b.numel());
  }
}

void check_unary(const char* name, const fn1& f, double low = 0, double high = 0) {
  CAPTURE(name);
  auto a = low < high ? randu<double>(shape(2, 3, 4, 5), 21, low, high)
                      : randn_away_from_zero<double>(shape(2, 3, 4, 5), 21);
  auto r = gradcheck<cpu>([&](const std::vector<vd>& x) { return f(x[0]); }, {&a});
  INFO(r.report);
  CHECK(r.ok);
}

template <class F, class G>
void check_values_unary(F&& op, G&& reference) {
  auto a = randn_away_from_zero<float>(shape(3, 7), 5);
  vf x = vf::leaf(a.clone());
  vf y = op(x);
  auto in = a.to_vector();
  auto out = y.value().to_vector();
  REQUIRE(out.size() == in.size());
  for (std::size_t i = 0; i < in.size(); ++i) CHECK(out[i] == doctest::Approx(reference(in[i])).epsilon(1e-6));
}

}  // namespace

TEST_CASE("elementwise values match the host's math") {
  check_values_unary([](const vf& x) { return vf(exp(x)); }, [](float v) { return std::exp(v); });
  check_values_unary([](const vf& x) { return vf(log(abs(x))); }, [](float v) { return std::log(std::abs(v)); });
  check_values_unary([](const vf& x) { return vf(sigmoid(x)); }, [](float v) { return 1 / (1 + std::exp(-v)); });
  check_values_unary([](const vf& x) { return vf(tanh(x)); }, [](float v) { return std::tanh(v); });
  check_values_unary([](const vf& x) { return vf(relu(x)); }, [](float v) { return v > 0 ? v : 0.f; });
  check_values_unary([](const vf& x) { return vf(leaky_relu(x, 0.2)); }, [](float v) { return v > 0 ? v : 0.2f * v; });
  check_values_unary([](const vf& x) { return vf(sqrt(abs(x))); }, [](float v) { return std::sqrt(std::abs(v)); });
  check_values_unary([](const vf& x) { return vf(square(x)); }, [](float v) { return v * v; });
  check_values_unary([](const vf& x) { return vf(-x); }, [](float v) { return -v; });
  check_values_unary([](const vf& x) { return vf(2.f * x - 1.f); }, [](float v) { return 2 * v - 1; });
  check_values_unary([](const vf& x) { return vf(1.f / x); }, [](float v) { return 1 / v; });
  check_values_unary([](const vf& x) { return vf(max(x, 0.25f)); }, [](float v) { return std::max(v, 0.25f); });
  check_values_unary([](const vf& x) { return vf(min(x, 0.25f)); }, [](float v) { return std::min(v, 0.25f); });
  check_values_unary([](const vf& x) { return vf(where(x > 0.f, x, 3.f)); }, [](float v) { return v > 0 ? v : 3.f; });
}

TEST_CASE("sigmoid is finite and exact at large |x|") {
  vf x = vf::leaf(tcpu<float>::from_host(shape(4), {-200.f, -30.f, 30.f, 200.f}));
  vf y = sigmoid(x);
  auto v = y.value().to_vector();
  CHECK(v[0] == 0.f);
  CHECK(v[1] == doctest::Approx(9.357623e-14).epsilon(1e-5));
  CHECK(v[2] == 1.f);
  CHECK(v[3] == 1.f);
}

TEST_CASE("broadcast values: per-channel and per-sample operands") {
  vf x = vf::leaf(tcpu<float>::from_host(shape(2, 2, 1, 2), {1, 2, 3, 4, 5, 6, 7, 8}));
  vf c = vf::leaf(tcpu<float>::from_host(shape(1, 2, 1, 1), {10, 20}));
  vf s = vf::leaf(tcpu<float>::from_host(shape(2, 1, 1, 1), {100, 200}));
  vf y = x + c + s;
  CHECK(y.shape() == shape(2, 2, 1, 2));
  CHECK(y.value().to_vector() == std::vector<float>{111, 112, 123, 124, 215, 216, 227, 228});
}

TEST_CASE("gradcheck: binary operators with broadcasting") {
  check_binary("add", [](const vd& a, const vd& b) { return vd(a + b); });
  check_binary("sub", [](const vd& a, const vd& b) { return vd(a - b); });
  check_binary("mul", [](const vd& a, const vd& b) { return vd(a * b); });
  check_binary("div", [](const vd& a, const vd& b) { return vd(a / b); }, true);
  check_binary("max", [](const vd& a, const vd& b) { return vd(max(a, b)); });
  check_binary("min", [](const vd& a, const vd& b) { return vd(min(a, b)); });
  check_binary("where", [](const vd& a, const vd& b) { return vd(where(a > b, a * b, b - a)); });
  check_binary("composite", [](const vd& a, const vd& b) { return vd(tanh(a * b + a) * sigmoid(b) - a / (b * b + 1.0)); });
}

TEST_CASE("gradcheck: unary functions") {
  check_unary("negate", [](const vd& a) { return vd(-a); });
  check_unary("exp", [](const vd& a) { return vd(exp(a)); });
  check_unary("log", [](const vd& a) { return vd(log(a)); }, 0.2, 3.0);
  check_unary("sigmoid", [](const vd& a) { return vd(sigmoid(a * 3.0)); });
  check_unary("tanh", [](const vd& a) { return vd(tanh(a)); });
  check_unary("relu", [](const vd& a) { return vd(relu(a)); });
  check_unary("leaky_relu", [](const vd& a) { return vd(leaky_relu(a, 0.2)); });
  check_unary("sqrt", [](const vd& a) { return vd(sqrt(a)); }, 0.2, 3.0);
  check_unary("square", [](const vd& a) { return vd(square(a)); });
  check_unary("abs", [](const vd& a) { return vd(abs(a)); });
  check_unary("scalars", [](const vd& a) { return vd(2.0 - a * 3.0 + 1.0 / (a * a + 2.0)); });
  check_unary("same leaf twice", [](const vd& a) { return vd(a * a * a); });
}

TEST_CASE("derivatives at kinks follow PyTorch") {
  auto x = vf::leaf(tcpu<float>::from_host(shape(1), {0.f}), true);
  SUBCASE("relu'(0) = 0") {
    backward(sum(relu(x)));
    CHECK(x.grad().item() == 0.f);
  }
  SUBCASE("leaky_relu'(0) = slope") {
    backward(sum(leaky_relu(x, 0.2)));
    CHECK(x.grad().item() == doctest::Approx(0.2f));
  }
  SUBCASE("abs'(0) = 0") {
    backward(sum(abs(x)));
    CHECK(x.grad().item() == 0.f);
  }
  SUBCASE("max tie splits the gradient") {
    auto y = vf::leaf(tcpu<float>::from_host(shape(1), {0.f}), true);
    backward(sum(max(x, y)));
    CHECK(x.grad().item() == 0.5f);
    CHECK(y.grad().item() == 0.5f);
  }
}

TEST_CASE("incompatible shapes throw shape_error naming the operation and both shapes") {
  vf a = vf::leaf(tcpu<float>::zeros(shape(2, 3, 4, 4)));
  vf b = vf::leaf(tcpu<float>::zeros(shape(1, 5, 1, 1)));
  CHECK_THROWS_WITH_AS(vf(a * b), "mul: shapes (2, 3, 4, 4) and (1, 5, 1, 1) cannot be broadcast together (axis 1: 3 vs 5)",
                       shape_error);
}

TEST_CASE("fast_divisor: multiply-and-shift division equals integer division below 2^31") {
  std::mt19937_64 gen(1);
  std::vector<std::uint64_t> divisors = {1, 2, 3, 5, 7, 9, 13, 64, 100, 4096, 12288, 65535, 65536, 65537,
                                         1000003, (1u << 30) - 1, 1u << 30, (1u << 31) - 1};
  for (int t = 0; t < 100; ++t) divisors.push_back(gen() % ((std::uint64_t(1) << 31) - 1) + 1);
  long wrong = 0;
  for (std::uint64_t d : divisors) {
    const auto f = attngan::fast_divisor::make(attngan::index_t(d));
    const std::uint64_t edges[] = {0, d - 1, d, 2 * d - 1, (std::uint64_t(1) << 31) - 1};
    for (std::uint64_t x : edges)
      if (x < (std::uint64_t(1) << 31) && f.divide(x) != x / d) ++wrong;
    for (int j = 0; j < 2000; ++j) {
      const std::uint64_t x = gen() % (std::uint64_t(1) << 31);
      if (f.divide(x) != x / d) ++wrong;
    }
  }
  CHECK(wrong == 0);
}

}  // namespace test_elementwise
