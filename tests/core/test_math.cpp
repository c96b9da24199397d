// The vectorisable float exp, log and tanh against libm in double, over a
// sweep of the whole float range (every 997th bit pattern, ~4.3 million
// values), and their special values.
#include "test_support.hpp"

#include <bit>
#include <limits>

namespace test_math {

using namespace attngan;

namespace {
// Error in units in the last place of the float nearest to the exact value.
double ulp_error(float got, double exact) {
  const float rounded = float(exact);
  if (std::isnan(exact)) return std::isnan(got) ? 0 : 1e30;
  if (std::isinf(rounded)) return got == rounded ? 0 : 1e30;
  double ulp = std::abs(double(std::nextafter(rounded, std::numeric_limits<float>::infinity())) - double(rounded));
  if (rounded == 0.f) ulp = double(std::numeric_limits<float>::denorm_min());
  return std::abs(double(got) - exact) / ulp;
}

template <class F, class R>
double max_ulp_error(F&& f, R&& reference) {
  double worst = 0;
  for (std::uint64_t b = 0; b <= 0xffffffffull; b += 997) {
    const float x = std::bit_cast<float>(std::uint32_t(b));
    worst = std::max(worst, ulp_error(f(x), reference(double(x))));
  }
  return worst;
}
}  // namespace

TEST_CASE("math::exp(float) is within 1 ulp of the exact value over the whole range") {
  CHECK(max_ulp_error([](float x) { return math::exp(x); }, [](double x) { return std::exp(x); }) <= 1.0);
  CHECK(math::exp(-std::numeric_limits<float>::infinity()) == 0.f);
  CHECK(math::exp(std::numeric_limits<float>::infinity()) == std::numeric_limits<float>::infinity());
  CHECK(math::exp(89.f) == std::numeric_limits<float>::infinity());
  CHECK(math::exp(-104.f) == 0.f);
  CHECK(math::exp(0.f) == 1.f);
  CHECK(std::isnan(math::exp(std::nanf(""))));
  CHECK(math::exp(-100.f) > 0.f);  // subnormal result, not flushed
}

TEST_CASE("math::log(float) is within 1 ulp of the exact value over the whole range") {
  CHECK(max_ulp_error([](float x) { return math::log(x); }, [](double x) { return std::log(x); }) <= 1.0);
  CHECK(math::log(0.f) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(math::log(-1.f)));
  CHECK(math::log(std::numeric_limits<float>::infinity()) == std::numeric_limits<float>::infinity());
  CHECK(math::log(1.f) == 0.f);
  CHECK(math::log(std::numeric_limits<float>::denorm_min()) == doctest::Approx(-103.2789f));
}

TEST_CASE("math::tanh(float) is within 2 ulp of the exact value over the whole range") {
  CHECK(max_ulp_error([](float x) { return math::tanh(x); }, [](double x) { return std::tanh(x); }) <= 2.0);
  CHECK(math::tanh(0.f) == 0.f);
  CHECK(math::tanh(50.f) == 1.f);
  CHECK(math::tanh(-50.f) == -1.f);
  CHECK(std::isnan(math::tanh(std::nanf(""))));
}

TEST_CASE("detail::number_text spells non-finite values the same whatever their sign bit") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(detail::number_text(nan) == "nan");
  CHECK(detail::number_text(-nan) == "nan");
  CHECK(detail::number_text(std::copysign(nan, -1.0)) == "nan");
  CHECK(detail::number_text(std::numeric_limits<double>::infinity()) == "inf");
  CHECK(detail::number_text(-std::numeric_limits<double>::infinity()) == "-inf");
  CHECK(detail::number_text(1.5) == "1.5");
  CHECK(detail::number_text(-0.25) == "-0.25");
}

}  // namespace test_math
