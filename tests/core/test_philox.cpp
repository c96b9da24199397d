// Tests for attngan/core/philox.hpp: Philox4x32-10 known answers, the stream
// contract, and distribution statistics.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "attngan/core/philox.hpp"

namespace test_philox {

namespace ph = attngan::philox;
using attngan::index_t;

namespace {

struct Kat {
  std::uint32_t ctr[4];
  std::uint32_t key[2];
  std::uint32_t expected[4];
};

// Known-answer vectors for philox4x32 with R = 10, as published in the
// `kat_vectors` file of the Random123 distribution (D. E. Shaw Research), rows
// "philox4x32 10 ..." (columns: CTR[4] KEY[2] EXPECTED[4]).  Values were checked
// against the copy of those rows in DEShawResearch/Random123-Boost,
// libs/random/test/test_philox.cpp (test_kat_philox4x32).
constexpr Kat kKats[] = {
    {{0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u},
     {0x00000000u, 0x00000000u},
     {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
    {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
     {0xffffffffu, 0xffffffffu},
     {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
    {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
     {0xa4093822u, 0x299f31d0u},
     {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
};

constexpr ph::counter to_counter(const std::uint32_t (&c)[4]) {
  return ph::counter{{c[0], c[1], c[2], c[3]}};
}
constexpr ph::key to_key(const std::uint32_t (&k)[2]) { return ph::key{{k[0], k[1]}}; }

// Compile-time evaluation of the pi-digits KAT.
constexpr ph::counter kPiOut = ph::philox4x32_10(to_counter(kKats[2].ctr), to_key(kKats[2].key));
static_assert(kPiOut.v[0] == 0xd16cfe09u && kPiOut.v[1] == 0x94fdccebu &&
              kPiOut.v[2] == 0x5001e420u && kPiOut.v[3] == 0x24126ea1u);
// seed 0, block 0 is the all-zero KAT.
static_assert(ph::uniform_bits(0, 0, 0) == 0x6627e8d5u);
static_assert(ph::uniform_bits(0, 0, 3) == 0x9b00dbd8u);
static_assert(ph::uniform<float>(0, 0, 0) == static_cast<float>(0x6627e8d5u >> 8) * 0x1p-24f);
static_assert(ph::blocks_used_uniform<float>(0) == 0 && ph::blocks_used_uniform<float>(1) == 1 &&
              ph::blocks_used_uniform<float>(4) == 1 && ph::blocks_used_uniform<float>(5) == 2);
static_assert(ph::blocks_used_uniform<double>(3) == 2 && ph::blocks_used_normal<float>(3) == 2 &&
              ph::blocks_used_normal<double>(4) == 2);

template <class T>
struct Moments {
  double mean = 0, var = 0, within1 = 0, lag1_corr = 0;
  bool all_finite = true;
  bool in_unit = true;  // all values in [0,1)
};

template <class T, class F>
Moments<T> moments(index_t n, F&& draw) {
  std::vector<T> x(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = draw(i);
  Moments<T> m;
  double s = 0;
  for (T v : x) {
    if (!std::isfinite(v)) m.all_finite = false;
    if (!(v >= T(0) && v < T(1))) m.in_unit = false;
    s += static_cast<double>(v);
  }
  m.mean = s / static_cast<double>(n);
  double ss = 0, w = 0, cov = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = static_cast<double>(x[i]) - m.mean;
    ss += d * d;
    if (i + 1 < x.size()) cov += d * (static_cast<double>(x[i + 1]) - m.mean);
  }
  m.var = ss / static_cast<double>(n);
  const double sd = std::sqrt(m.var);
  for (T v : x)
    if (std::fabs(static_cast<double>(v) - m.mean) <= sd) w += 1;
  m.within1 = w / static_cast<double>(n);
  m.lag1_corr = (cov / static_cast<double>(n - 1)) / m.var;
  return m;
}

constexpr index_t kN = 1000000;
constexpr std::uint64_t kSeed = 0x0123456789abcdefULL;
constexpr std::uint64_t kOffset = 42;

}  // namespace

TEST_CASE("philox4x32_10 matches Random123 known-answer vectors") {
  for (const Kat& k : kKats) {
    const ph::counter out = ph::philox4x32_10(to_counter(k.ctr), to_key(k.key));
    for (int j = 0; j < 4; ++j) CHECK(out.v[j] == k.expected[j]);
  }
}

TEST_CASE("stream: key/counter construction and lane layout") {
  const std::uint64_t seed = 0xfedcba9876543210ULL;
  const ph::key k = ph::make_key(seed);
  CHECK(k.v[0] == 0x76543210u);
  CHECK(k.v[1] == 0xfedcba98u);
  const std::uint64_t off = 0x0000000500000007ULL;  // exercises the high counter word
  const ph::counter c = ph::make_counter(off);
  CHECK(c.v[0] == 7u);
  CHECK(c.v[1] == 5u);
  CHECK(c.v[2] == 0u);
  CHECK(c.v[3] == 0u);

  for (index_t i = 0; i < 64; ++i) {
    const auto ui = static_cast<std::uint64_t>(i);
    // uniform bits / float: block off + i/4, lane i%4
    const ph::counter b4 = ph::philox4x32_10(ph::make_counter(off + ui / 4), k);
    const std::uint32_t bits = b4.v[ui % 4];
    CHECK(ph::uniform_bits(seed, off, i) == bits);
    CHECK(ph::uniform<float>(seed, off, i) == static_cast<float>(bits >> 8) * 0x1p-24f);
    // double: block off + i/2, lanes 2(i%2) (lo) and 2(i%2)+1 (hi)
    const ph::counter b2 = ph::philox4x32_10(ph::make_counter(off + ui / 2), k);
    const std::uint32_t lo = b2.v[2 * (ui % 2)], hi = b2.v[2 * (ui % 2) + 1];
    const double ud = (static_cast<double>(hi >> 5) * 67108864.0 + static_cast<double>(lo >> 6)) *
                      (1.0 / 9007199254740992.0);
    CHECK(ph::uniform<double>(seed, off, i) == ud);
    // normal: same lanes, Box-Muller on u1 in (0,1], u2 in [0,1)
    const float u1f = static_cast<float>((lo >> 8) + 1u) * 0x1p-24f;
    const float u2f = static_cast<float>(hi >> 8) * 0x1p-24f;
    const float zf = std::sqrt(-2.0f * std::log(u1f)) * std::cos(6.28318530717958647692f * u2f);
    CHECK(ph::normal<float>(seed, off, i) == zf);
    const double u1d = (static_cast<double>(lo) + 1.0) / 4294967296.0;
    const double u2d = static_cast<double>(hi) / 4294967296.0;
    const double zd = std::sqrt(-2.0 * std::log(u1d)) * std::cos(6.28318530717958647692 * u2d);
    CHECK(ph::normal<double>(seed, off, i) == zd);
  }
}

TEST_CASE("stream: reproducible, seed-dependent, offset continuation") {
  const std::uint64_t s1 = 7, s2 = 8, s3 = 7 + (1ULL << 32);  // s3 differs only in key word 1
  int diff12 = 0, diff13 = 0;
  for (index_t i = 0; i < 1000; ++i) {
    CHECK(ph::uniform<float>(s1, 3, i) == ph::uniform<float>(s1, 3, i));
    CHECK(ph::normal<double>(s1, 3, i) == ph::normal<double>(s1, 3, i));
    diff12 += ph::uniform_bits(s1, 3, i) != ph::uniform_bits(s2, 3, i);
    diff13 += ph::uniform_bits(s1, 3, i) != ph::uniform_bits(s3, 3, i);
  }
  CHECK(diff12 > 990);
  CHECK(diff13 > 990);

  // A draw of n elements followed by a draw at offset + blocks_used(n) equals
  // the tail of one long draw only when n fills whole blocks; in general it
  // must never reuse a block.  Check both properties.
  for (index_t n : {index_t{0}, index_t{1}, index_t{3}, index_t{4}, index_t{5}, index_t{8}, index_t{13}}) {
    const std::uint64_t off = 100;
    // float uniform: whole-block n continue the long draw exactly
    const std::uint64_t nf = ph::blocks_used_uniform<float>(n);
    CHECK(nf == static_cast<std::uint64_t>((n + 3) / 4));
    if (n % 4 == 0) {
      for (index_t j = 0; j < 16; ++j)
        CHECK(ph::uniform<float>(kSeed, off + nf, j) == ph::uniform<float>(kSeed, off, n + j));
    }
    // the first draw's last block is strictly before the continuation's first
    if (n > 0) {
      const std::uint64_t last_block = off + static_cast<std::uint64_t>(n - 1) / 4;
      CHECK(last_block < off + nf);
    }
    const std::uint64_t nd = ph::blocks_used_uniform<double>(n);
    const std::uint64_t nn = ph::blocks_used_normal<double>(n);
    CHECK(nd == static_cast<std::uint64_t>((n + 1) / 2));
    CHECK(nn == nd);
    CHECK(ph::blocks_used_normal<float>(n) == nn);
    if (n % 2 == 0) {
      for (index_t j = 0; j < 16; ++j) {
        CHECK(ph::uniform<double>(kSeed, off + nd, j) == ph::uniform<double>(kSeed, off, n + j));
        CHECK(ph::normal<float>(kSeed, off + nn, j) == ph::normal<float>(kSeed, off, n + j));
      }
    }
  }
}

TEST_CASE("statistics: uniform<float>") {
  const auto m = moments<float>(kN, [](index_t i) { return ph::uniform<float>(kSeed, kOffset, i); });
  CHECK(m.in_unit);
  CHECK(m.all_finite);
  CHECK(std::fabs(m.mean - 0.5) < 0.002);
  CHECK(std::fabs(m.var - 1.0 / 12.0) < 0.002);
  CHECK(std::fabs(m.lag1_corr) < 0.005);
}

TEST_CASE("statistics: uniform<double>") {
  const auto m =
      moments<double>(kN, [](index_t i) { return ph::uniform<double>(kSeed, kOffset, i); });
  CHECK(m.in_unit);
  CHECK(m.all_finite);
  CHECK(std::fabs(m.mean - 0.5) < 0.002);
  CHECK(std::fabs(m.var - 1.0 / 12.0) < 0.002);
  CHECK(std::fabs(m.lag1_corr) < 0.005);
}

TEST_CASE("statistics: normal<float>") {
  const auto m = moments<float>(kN, [](index_t i) { return ph::normal<float>(kSeed, kOffset, i); });
  CHECK(m.all_finite);
  CHECK(std::fabs(m.mean) < 0.005);
  CHECK(std::fabs(m.var - 1.0) < 0.01);
  CHECK(std::fabs(m.within1 - 0.6827) < 0.005);
  CHECK(std::fabs(m.lag1_corr) < 0.005);
}

TEST_CASE("statistics: normal<double>") {
  const auto m =
      moments<double>(kN, [](index_t i) { return ph::normal<double>(kSeed, kOffset, i); });
  CHECK(m.all_finite);
  CHECK(std::fabs(m.mean) < 0.005);
  CHECK(std::fabs(m.var - 1.0) < 0.01);
  CHECK(std::fabs(m.within1 - 0.6827) < 0.005);
  CHECK(std::fabs(m.lag1_corr) < 0.005);
}

TEST_CASE("normal: extreme lanes stay finite") {
  // a = 0xffffffff -> u1 = 1 -> z = +-0; a = 0 -> smallest u1 -> largest |z|.
  CHECK(ph::bits_to_normal<float>(0xffffffffu, 0u) == 0.0f);
  CHECK(ph::bits_to_normal<double>(0xffffffffu, 0u) == 0.0);
  const float zf = ph::bits_to_normal<float>(0u, 0u);
  const double zd = ph::bits_to_normal<double>(0u, 0u);
  CHECK(std::isfinite(zf));
  CHECK(std::isfinite(zd));
  CHECK(zf == doctest::Approx(std::sqrt(48.0 * std::log(2.0))).epsilon(1e-6));
  CHECK(zd == doctest::Approx(std::sqrt(64.0 * std::log(2.0))).epsilon(1e-12));
  CHECK(ph::bits_to_uniform_float(0xffffffffu) < 1.0f);
  CHECK(ph::bits_to_uniform_double(0xffffffffu, 0xffffffffu) < 1.0);
  CHECK(ph::bits_to_uniform_double(0xffffffffu, 0xffffffffu) == 1.0 - 0x1p-53);
}

}  // namespace test_philox
