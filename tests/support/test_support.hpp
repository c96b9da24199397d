// tests/support/test_support.hpp — helpers shared by the doctest suites.
#pragma once

#include <attngan/attngan.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

/// CHECK that `text` contains `part`, printing the whole text when not.
#define CHECK_CONTAINS(text, part)                \
  do {                                            \
    const std::string text_ = (text);             \
    INFO(text_);                                  \
    CHECK(text_.find(part) != std::string::npos); \
  } while (0)

namespace attngan::test {

using vf = var<float, cpu>;
using vd = var<double, cpu>;
template <class T>
using tcpu = tensor<T, cpu>;

/// Normal values, deterministic in (seed, shape).
template <class T>
tcpu<T> randn(const shape& s, std::uint64_t seed) {
  generator g(seed);
  return g.normal<T, cpu>(s);
}

/// Uniform values in [low, high).
template <class T>
tcpu<T> randu(const shape& s, std::uint64_t seed, T low, T high) {
  generator g(seed);
  return g.uniform<T, cpu>(s, low, high);
}

/// Normal values pushed at least `gap` away from zero (for relu, abs, ...,
/// whose derivative jumps at 0: central differences must not straddle it).
template <class T>
tcpu<T> randn_away_from_zero(const shape& s, std::uint64_t seed, T gap = T(0.05)) {
  auto t = randn<T>(s, seed);
  T* p = t.data();
  for (index_t i = 0; i < t.numel(); ++i)
    if (std::abs(p[i]) < gap) p[i] = p[i] < 0 ? p[i] - gap : p[i] + gap;
  return t;
}

/// Largest |a - b| over two equally long vectors (NaN if any is NaN).
template <class T>
double max_abs_diff(const std::vector<T>& a, const std::vector<T>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    double d = std::abs(double(a[i]) - double(b[i]));
    if (std::isnan(d)) return d;
    m = std::max(m, d);
  }
  return m;
}

/// The message of the exception f throws, or "" if none.
template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

/// The message of the E that f throws; a marker string when f throws
/// something else or nothing, so a CHECK on the message shows what happened.
template <class E, class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("WRONG EXCEPTION TYPE: ") + e.what();
  }
  return "NO EXCEPTION";
}

}  // namespace attngan::test
