// Tests for attngan/models/attngan/evaluation.hpp, part 1: R-precision on
// synthetic vectors whose outcome is known (exact hit rates, chance, the
// mismatch rule, the without-replacement draw's probabilities), and the
// synthetic birds' part-colour reading of images pushed through the §10.1
// pipeline (real birds read back right, shuffled attributes score near
// chance). The Inception Score / FID arithmetic is in test_scores.cpp.
#include <attngan/models/attngan/evaluation.hpp>

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace test_evaluation {

using namespace attngan;
using namespace attngan::models;

namespace {

/// (rows, cols) standard normal values.
host_matrix random_matrix(index_t rows, index_t cols, std::uint64_t seed) {
  generator g(seed);
  const auto t = g.normal<double, cpu>(shape(rows, cols));
  return host_matrix{rows, cols, t.to_vector()};
}

host_matrix rows_of(const host_matrix& m, const std::vector<index_t>& which) {
  host_matrix r{index_t(which.size()), m.cols, {}};
  for (index_t i : which) r.v.insert(r.v.end(), m.row(i), m.row(i) + m.cols);
  return r;
}

std::vector<std::int64_t> iota_ids(std::size_t n, std::int64_t mod) {
  std::vector<std::int64_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::int64_t(i) % mod;
  return v;
}

}  // namespace

// ---------------------------------------------------------------------------
// R-precision

TEST_CASE("r_precision: true caption equal to the code is always ranked first") {
  // 200 images, a pool of 1000 random captions, 5 per image; image i was
  // generated from pool caption i and its code is that caption's vector.
  const host_matrix pool = random_matrix(1000, 16, 1);
  const auto pool_ids = iota_ids(1000, 200);
  std::vector<index_t> first(200);
  std::iota(first.begin(), first.end(), 0);
  const host_matrix truth = rows_of(pool, first);
  const auto image_ids = iota_ids(200, 200);
  const auto r = r_precision(truth, truth, image_ids, pool, pool_ids);
  CHECK(r.mean == 100.0);
  CHECK(r.std == 0.0);
  CHECK(r.per_repeat.size() == 10);
  CHECK(r.images == 200);
  CHECK(r.candidates == 100);
}

TEST_CASE("r_precision: exact hit rate, ties and negated codes are misses") {
  const host_matrix pool = random_matrix(500, 8, 2);
  const auto pool_ids = iota_ids(500, 500);
  std::vector<index_t> first(100);
  std::iota(first.begin(), first.end(), 0);
  const host_matrix truth = rows_of(pool, first);
  host_matrix codes = truth;
  for (index_t i = 50; i < 100; ++i)  // second half points away from its caption: cos = -1
    for (index_t k = 0; k < 8; ++k) codes.v[std::size_t(i * 8 + k)] = -codes.v[std::size_t(i * 8 + k)];
  const auto ids = iota_ids(100, 500);
  const auto r = r_precision(codes, truth, ids, pool, pool_ids);
  CHECK(r.mean == doctest::Approx(50.0));
  CHECK(r.std == doctest::Approx(0.0));
  // All-zero codes: every cosine is 0, a tie, never a hit.
  const host_matrix zeros{100, 8, std::vector<double>(800, 0.0)};
  CHECK(r_precision(zeros, truth, ids, pool, pool_ids).mean == 0.0);
}

TEST_CASE("r_precision: unrelated codes score chance, deterministic in the seed") {
  const host_matrix pool = random_matrix(3000, 16, 3);
  const auto pool_ids = iota_ids(3000, 1000);
  std::vector<index_t> first(1000);
  std::iota(first.begin(), first.end(), 0);
  const host_matrix truth = rows_of(pool, first);
  const host_matrix codes = random_matrix(1000, 16, 4);
  const auto ids = iota_ids(1000, 1000);
  const auto a = r_precision(codes, truth, ids, pool, pool_ids);
  MESSAGE("random codes: R-precision " << a.mean << " +- " << a.std << " % (chance 1 %)");
  // 10,000 trials of a 1 % event: std of the mean 0.1 %.
  CHECK(a.mean > 0.6);
  CHECK(a.mean < 1.4);
  const auto b = r_precision(codes, truth, ids, pool, pool_ids);
  CHECK(a.per_repeat == b.per_repeat);
  r_precision_options other;
  other.seed = 7;
  CHECK(r_precision(codes, truth, ids, pool, pool_ids, other).per_repeat != a.per_repeat);
}

TEST_CASE("r_precision: captions of the same identity are never drawn") {
  // Every pool caption of image i equals its code (it would tie the true
  // caption: a miss if drawn). Only other images' captions may be drawn.
  const host_matrix codes = random_matrix(50, 8, 5);
  std::vector<index_t> rep;
  for (index_t i = 0; i < 50; ++i)
    for (int k = 0; k < 4; ++k) rep.push_back(i);
  const host_matrix pool = rows_of(codes, rep);  // 200 captions, 4 per image
  std::vector<std::int64_t> pool_ids;
  for (index_t i : rep) pool_ids.push_back(i);
  const auto ids = iota_ids(50, 50);
  CHECK(r_precision(codes, codes, ids, pool, pool_ids).mean == 100.0);
  // With identities that do not tell them apart, the copies are drawn and tie.
  const std::vector<std::int64_t> wrong_ids(50, -1);
  CHECK(r_precision(codes, codes, wrong_ids, pool, pool_ids).mean < 100.0);
}

TEST_CASE("r_precision: the 99 are uniform without replacement on both drawing paths") {
  // One "spoiler" among E eligible captions ties the true caption; a hit
  // happens exactly when it is not among the 99 drawn: P = 1 − 99/E.
  const auto run = [](index_t eligible, index_t same_id) {
    const index_t m = eligible + same_id;
    host_matrix pool = random_matrix(m, 8, 11);
    const host_matrix code = random_matrix(1, 8, 12);
    std::copy(code.v.begin(), code.v.end(), pool.v.begin());  // pool row 0: the spoiler
    std::vector<std::int64_t> pool_ids(std::size_t(m), 1);     // eligible: id 1
    for (index_t j = eligible; j < m; ++j) pool_ids[std::size_t(j)] = 0;  // the images' own id
    const index_t n = 400;
    host_matrix codes{n, 8, {}};
    for (index_t i = 0; i < n; ++i) codes.v.insert(codes.v.end(), code.v.begin(), code.v.end());
    const std::vector<std::int64_t> ids(std::size_t(n), 0);
    return r_precision(codes, codes, ids, pool, pool_ids).mean;
  };
  // Rejection path (most of the pool eligible): 1 − 99/1000 = 90.1 %; 4,000 draws, std 0.47 %.
  const double rejection = run(1000, 10);
  // List path (eligible < half the pool): 1 − 99/120 = 17.5 %; std 0.6 %.
  const double listed = run(120, 2000);
  MESSAGE("hit rates: rejection path " << rejection << " % (expected 90.1), list path " << listed
                                       << " % (expected 17.5)");
  CHECK(rejection == doctest::Approx(90.1).epsilon(0.03));
  CHECK(listed == doctest::Approx(17.5).epsilon(0.15));
}

TEST_CASE("r_precision: bad input is refused") {
  const host_matrix pool = random_matrix(120, 4, 1);
  const host_matrix codes = random_matrix(10, 4, 2);
  const auto ids = iota_ids(10, 10);
  const auto pool_ids = iota_ids(120, 10);  // 12 per id: 108 mismatching
  CHECK_NOTHROW(r_precision(codes, codes, ids, pool, pool_ids));
  const auto few_ids = iota_ids(120, 2);  // 60 mismatching < 99
  const auto two_ids = iota_ids(10, 2);
  CHECK_THROWS_AS(r_precision(codes, codes, two_ids, pool, few_ids), value_error);
  CHECK_THROWS_AS(r_precision(codes, random_matrix(10, 5, 3), ids, pool, pool_ids), shape_error);
  CHECK_THROWS_AS(r_precision(codes, codes, iota_ids(9, 10), pool, pool_ids), shape_error);
  // The tensor overload checks ranks.
  const tensor<float, cpu> flat{shape(40)};
  const tensor<float, cpu> m{shape(10, 4)};
  CHECK_THROWS_AS(r_precision(flat, m, ids, m, ids), shape_error);
}

TEST_CASE("r_precision: tensor overload equals the host one") {
  const host_matrix pool = random_matrix(300, 6, 21);
  const host_matrix codes = random_matrix(30, 6, 22);
  const auto pool_ids = iota_ids(300, 30);
  std::vector<index_t> first(30);
  std::iota(first.begin(), first.end(), 0);
  host_matrix truth = rows_of(pool, first);
  for (std::size_t k = 0; k < truth.v.size(); ++k) truth.v[k] = 0.5 * truth.v[k] + 0.5 * codes.v[k];
  const auto ids = iota_ids(30, 30);
  const auto to_tensor = [](const host_matrix& h) {
    tensor<double, cpu> t{shape(h.rows, h.cols)};
    std::copy(h.v.begin(), h.v.end(), t.data());
    return t;
  };
  const auto a = r_precision(codes, truth, ids, pool, pool_ids);
  const auto b = r_precision(to_tensor(codes), to_tensor(truth), ids, to_tensor(pool), pool_ids);
  CHECK(a.per_repeat == b.per_repeat);
  CHECK(a.mean > 20.0);  // related codes: far above chance
}

namespace {

/// Stand-ins with the DAMSM encoders' call interfaces (the real networks are
/// tested in tests/models): the code of an image is its per-channel mean, the
/// sentence vector of a caption [first token, second token, length].
struct fake_image_encoder {
  struct result {
    var<float, cpu> code;
  };
  result operator()(const var<float, cpu>& x) const {
    return {var<float, cpu>(mean(x, {2, 3}))};  // (b, 3, H, W) -> (b, 3)
  }
};
struct fake_text_encoder {
  struct result {
    var<float, cpu> sent;
  };
  result operator()(const tensor<std::int64_t, cpu>& captions, const std::vector<index_t>& lengths) const {
    const index_t b = captions.shape()[0], l = captions.shape()[1];
    std::vector<float> v;
    for (index_t i = 0; i < b; ++i) {
      v.push_back(float(captions.data()[i * l]));
      v.push_back(float(captions.data()[i * l + 1]));
      v.push_back(float(lengths[std::size_t(i)]));
    }
    return {var<float, cpu>::leaf(tensor<float, cpu>::from_host(shape(b, 3), std::span<const float>(v)))};
  }
};

}  // namespace

TEST_CASE("damsm_r_precision: batched encoder plumbing") {
  const index_t n = 7, m = 230, len = 4;
  generator g(9);
  const auto images = g.uniform<float, cpu>(shape(n, 3, 5, 5), -1.f, 1.f);
  const auto codes = damsm_image_codes(fake_image_encoder{}, images, 3);  // chunks of 3, 3, 1
  REQUIRE(codes.shape() == shape(n, 3));
  for (index_t i = 0; i < n; ++i)
    for (index_t c = 0; c < 3; ++c) {
      double sum = 0;
      for (index_t k = 0; k < 25; ++k) sum += images.data()[(i * 3 + c) * 25 + k];
      CHECK(codes.data()[i * 3 + c] == doctest::Approx(sum / 25).epsilon(1e-5));
    }
  // Captions: token ids 1..50, lengths 1..4; the pool has m captions.
  const auto make_captions = [&](index_t rows, std::uint64_t seed, std::vector<index_t>& lengths) {
    std::vector<std::int64_t> v;
    data::philox_stream r(seed, 1, 0);
    lengths.clear();
    for (index_t i = 0; i < rows; ++i) {
      lengths.push_back(1 + r.below(int(len)));
      for (index_t k = 0; k < len; ++k) v.push_back(1 + r.below(50));
    }
    return tensor<std::int64_t, cpu>::from_host(shape(rows, len), std::span<const std::int64_t>(v));
  };
  std::vector<index_t> lengths, pool_lengths;
  const auto captions = make_captions(n, 1, lengths);
  const auto pool = make_captions(m, 2, pool_lengths);
  const auto sents = damsm_sentence_vectors<float>(fake_text_encoder{}, pool, pool_lengths, 100);  // 100, 100, 30
  REQUIRE(sents.shape() == shape(m, 3));
  for (index_t i = 0; i < m; ++i) {
    CHECK(sents.data()[i * 3] == float(pool.data()[i * len]));
    CHECK(sents.data()[i * 3 + 2] == float(pool_lengths[std::size_t(i)]));
  }
  const auto image_ids = iota_ids(std::size_t(n), 1000);
  const auto pool_ids = iota_ids(std::size_t(m), 1000);  // every pool caption mismatches
  const auto via_damsm = damsm_r_precision(fake_image_encoder{}, fake_text_encoder{}, images, captions, lengths,
                                           image_ids, pool, pool_lengths, pool_ids, {}, 3);
  const auto direct = r_precision(codes, damsm_sentence_vectors<float>(fake_text_encoder{}, captions, lengths),
                                  image_ids, sents, pool_ids);
  CHECK(via_damsm.per_repeat == direct.per_repeat);
  CHECK_THROWS_AS(damsm_sentence_vectors<float>(fake_text_encoder{}, pool, lengths), shape_error);
}

// ---------------------------------------------------------------------------
// Synthetic birds: caption parsing, the expected frame, part-colour accuracy

namespace {

/// Birds pushed through the §10.1 pipeline of a 32²→64² model to the 64×64
/// stage, after a JPEG round trip (as the dataset stores them): with the
/// centre crop and no flip, or with the loader's random crop and flip.
struct staged_birds {
  std::vector<data::image> images;
  std::vector<data::bird_attributes> truth;
  std::vector<data::frame> true_frames;  // map_to_stage of each bird's box
  std::vector<bool> flipped;
  std::vector<bool> clamped;  // the bbox crop was cut by the photograph's border
};

const data::synthetic_dataset& bird_plan() {
  static const data::synthetic_dataset ds = [] {
    data::synthetic_birds_options o;
    o.seed = 3;
    o.classes = 40;
    o.images_per_class = 5;
    o.image_size = 128;
    return data::plan_synthetic_birds(o);
  }();
  return ds;
}

staged_birds stage_birds(bool random_crop) {
  const auto& ds = bird_plan();
  const data::pipeline_sizes sizes(32, 2);
  staged_birds out;
  for (const auto& b : ds.birds) {
    const data::image drawn = data::draw_bird(b, ds.options.image_size, ds.options.seed);
    const auto jpeg = data::encode_jpeg(drawn, 95);
    const data::image img = data::decode_image(jpeg.data(), jpeg.size());
    data::transform_record rec;
    std::vector<data::image> stages;
    if (random_crop) {
      generator g(1000 + std::uint64_t(b.index));
      stages = data::train_images(img, b.box, sizes, g, &rec);
    } else {
      const auto [w, h] = data::scaled_size(img, b.box, sizes);
      stages = data::train_images(img, b.box, sizes, data::random_crop_flip{(w - 64) / 2, (h - 64) / 2, false}, &rec);
    }
    out.images.push_back(stages.back());
    out.truth.push_back(b.attributes);
    out.true_frames.push_back(data::map_to_stage(rec, data::frame_of(b.box), 64));
    out.flipped.push_back(rec.flipped);
    // Clamped: the crop box around the bbox was cut by the photograph's border.
    const int r = int(std::max(b.box.w, b.box.h) * 0.75), cx = (2 * b.box.x + b.box.w) / 2,
              cy = (2 * b.box.y + b.box.h) / 2, side = ds.options.image_size;
    out.clamped.push_back(cx - r < 0 || cy - r < 0 || cx + r > side || cy + r > side);
  }
  return out;
}

std::string describe(const part_colour_result& r) {
  std::string s;
  for (int p = 0; p < data::part_count; ++p)
    s += std::string(data::part_name(data::part(p))) + " " + std::to_string(r.accuracy[std::size_t(p)]) + "  ";
  return s + "| mean " + std::to_string(r.mean) + " (chance " + std::to_string(r.mean_chance) + "), all " +
         std::to_string(r.all_named);
}

}  // namespace

TEST_CASE("caption_part_colours: parses every colour the synthetic captions name, never a wrong one") {
  using data::colour;
  using data::part;
  const auto c = caption_part_colours("this bird has a red crown, blue wings and a short black beak");
  CHECK(c[std::size_t(part::crown)] == colour::red);
  CHECK(c[std::size_t(part::wing)] == colour::blue);
  CHECK(c[std::size_t(part::beak)] == colour::black);
  CHECK_FALSE(c[std::size_t(part::body)].has_value());
  const auto d = caption_part_colours("This grey bird has red feathers on its crown and its wings are Yellow.");
  CHECK(d[std::size_t(part::body)] == colour::grey);
  CHECK(d[std::size_t(part::crown)] == colour::red);
  CHECK(d[std::size_t(part::wing)] == colour::yellow);
  const auto e = caption_part_colours("the bird has a short bill and a mostly gray body");
  CHECK_FALSE(e[std::size_t(part::beak)].has_value());
  CHECK(e[std::size_t(part::body)] == colour::grey);
  CHECK(caption_part_colours("this bird is mostly white with black eyes")[std::size_t(part::body)] == colour::white);

  // Every caption of a planned dataset: each colour found is the bird's.
  std::int64_t captions = 0, named = 0, wrong = 0, empty = 0;
  for (const auto& b : bird_plan().birds)
    for (const auto& cap : b.captions) {
      ++captions;
      const auto t = caption_part_colours(cap);
      bool any = false;
      for (int p = 0; p < data::part_count; ++p) {
        if (!t[std::size_t(p)]) continue;
        any = true;
        ++named;
        if (*t[std::size_t(p)] != b.attributes.colours.c[std::size_t(p)]) {
          ++wrong;
          MESSAGE("misparsed: '" << cap << "' part " << data::part_name(data::part(p)));
        }
      }
      empty += !any;
    }
  MESSAGE(captions << " captions: " << named << " part colours named, " << wrong << " wrong, " << empty
                   << " name none");
  CHECK(wrong == 0);
  CHECK(double(named) / double(captions) > 2.0);  // 2-4 attributes each, most with a colour
  CHECK(double(empty) / double(captions) < 0.02);
}

TEST_CASE("part_swaps: one caption per other colour of each named part, only that word changed") {
  using data::colour;
  using data::part;
  const std::string cap = "this bird has a red crown, blue wings and a short black beak";
  const auto swaps = part_swaps(cap);
  std::array<int, data::part_count> per{};
  for (const auto& s : swaps) {
    ++per[std::size_t(s.part)];
    CHECK(s.from != s.to);
    // The caption is the original with that part's colour word replaced, nothing else.
    const std::string from(data::colour_name(s.from)), to(data::colour_name(s.to));
    std::string expect = cap;
    const std::size_t at = s.part == part::crown ? cap.find("red") : s.part == part::wing ? cap.find("blue")
                                                                                            : cap.find("black");
    expect.replace(at, from.size(), to);
    CHECK(s.caption == expect);
  }
  CHECK(per[std::size_t(part::crown)] == 8);  // nine colours minus red
  CHECK(per[std::size_t(part::wing)] == 8);
  CHECK(per[std::size_t(part::beak)] == 5);   // six beak colours minus black
  CHECK(swaps.size() == 21);
  // Capitals, "gray", a colour after "are": the word found is the part's.
  const auto d = part_swaps("This Gray bird has red feathers on its crown and its wings are Yellow.");
  int body = 0, wing = 0;
  for (const auto& s : d) {
    if (s.part == part::body) {
      ++body;
      CHECK(s.caption.rfind("This " + std::string(data::colour_name(s.to)) + " bird", 0) == 0);
    }
    if (s.part == part::wing) {
      ++wing;
      CHECK(s.caption.find("wings are " + std::string(data::colour_name(s.to)) + ".") != std::string::npos);
    }
  }
  CHECK(body == 8);
  CHECK(wing == 8);
  CHECK(part_swaps("a small bird with a long tail").empty());  // names no colour

  // Every caption of a planned dataset: each swap changes exactly its part, to
  // its new colour, and each named part gets one swap per other palette colour.
  std::int64_t total = 0;
  for (const auto& b : bird_plan().birds)
    for (const auto& c : b.captions) {
      const auto named = caption_part_colours(c);
      std::size_t expected = 0;
      for (int p = 0; p < data::part_count; ++p)
        if (named[std::size_t(p)]) expected += data::part_palette(part(p)).size() - 1;
      const auto all = part_swaps(c);
      CHECK_MESSAGE(all.size() == expected, c);
      for (const auto& s : all) {
        auto want = named;
        want[std::size_t(s.part)] = s.to;
        CHECK_MESSAGE(caption_part_colours(s.caption) == want, s.caption);
      }
      total += std::int64_t(all.size());
    }
  MESSAGE(total << " swapped captions");
  CHECK(total > 0);
}

TEST_CASE("part_swap_preference: wins, ties and losses by cosine, per part") {
  using data::part;
  const auto m = [](index_t rows, std::vector<double> v) { return host_matrix{rows, 2, std::move(v)}; };
  const host_matrix codes = m(2, {1, 0, 0, 2});
  const host_matrix truths = m(2, {3, 0, 1, 1});  // cosines 1 and 0.707
  // swap 0 (image 0, crown): cosine 0, a win; swap 1 (image 0, crown): the
  // same direction as the truth, a tie; swap 2 (image 1, wing): cosine 1, a loss.
  const host_matrix swapped = m(3, {0, 5, 2, 0, 0, 1});
  const std::vector<std::size_t> rows{0, 0, 1};
  const std::vector<part> parts{part::crown, part::crown, part::wing};
  const auto r = part_swap_preference(codes, truths, swapped, rows, parts);
  CHECK(r.swaps[std::size_t(part::crown)] == 2);
  CHECK(r.swaps[std::size_t(part::wing)] == 1);
  CHECK(r.swaps[std::size_t(part::belly)] == 0);
  CHECK(r.preferred[std::size_t(part::crown)] == doctest::Approx(0.75));
  CHECK(r.preferred[std::size_t(part::wing)] == doctest::Approx(0.0));
  CHECK(r.mean == doctest::Approx(0.375));  // over the two parts with swaps
  CHECK_THROWS_AS(part_swap_preference(codes, truths, swapped, std::vector<std::size_t>{0, 0}, parts), shape_error);
  CHECK_THROWS_AS(part_swap_preference(codes, truths, swapped, std::vector<std::size_t>{0, 0, 2}, parts), value_error);
  CHECK_THROWS_AS(part_swap_preference(codes, m(1, {1, 0}), swapped, rows, parts), shape_error);
}

TEST_CASE("expected_bird_frame: where the centre crop puts an unclamped bird") {
  const data::pipeline_sizes sizes(32, 2);
  const data::frame f = expected_bird_frame(sizes, 1);
  // 64 px: the box is 1/1.5 of the 76 px scaled crop, centred, minus the 6 px crop offset.
  CHECK(f.w == doctest::Approx(76.0 / 1.5).epsilon(1e-3));
  CHECK(f.x + f.w / 2 == doctest::Approx(32.0).epsilon(1e-3));
  CHECK_FALSE(f.mirrored);
  const data::frame f32 = expected_bird_frame(sizes, 0);
  CHECK(f32.w == doctest::Approx(f.w / 2).epsilon(1e-3));
  CHECK_THROWS_AS(expected_bird_frame(sizes, 2), value_error);
  // Real birds through the centre pipeline land there, up to the int()
  // truncations of the crop arithmetic (< 1 px), unless their crop was clamped.
  const staged_birds s = stage_birds(false);
  int unclamped = 0;
  for (std::size_t i = 0; i < s.images.size(); ++i) {
    if (s.clamped[i]) continue;
    ++unclamped;
    CHECK(std::abs(s.true_frames[i].x - f.x) < 1.0);
    CHECK(std::abs(s.true_frames[i].y - f.y) < 1.0);
    CHECK(std::abs(s.true_frames[i].w - f.w) < 1.0);
  }
  MESSAGE(unclamped << " of " << s.images.size() << " birds unclamped");
  CHECK(unclamped >= 30);  // 40 with this plan
}

TEST_CASE("part_colour_accuracy: real birds read back right, shuffled attributes score chance") {
  const data::pipeline_sizes sizes(32, 2);
  const data::frame expected = expected_bird_frame(sizes, 1);
  const auto targets_of = [](const std::vector<data::bird_attributes>& a) {
    std::vector<part_targets> t;
    for (const auto& x : a) t.push_back(all_parts(x));
    return t;
  };

  SUBCASE("centre crop, no flip: the expected frame, and the located one") {
    const staged_birds s = stage_birds(false);
    const auto targets = targets_of(s.truth);
    // Birds whose crop was not clamped sit at the expected frame: read there as it is.
    std::vector<data::image> unclamped;
    std::vector<part_targets> unclamped_targets;
    for (std::size_t i = 0; i < s.images.size(); ++i)
      if (std::abs(s.true_frames[i].x - expected.x) < 1 && std::abs(s.true_frames[i].y - expected.y) < 1 &&
          std::abs(s.true_frames[i].w - expected.w) < 1) {
        unclamped.push_back(s.images[i]);
        unclamped_targets.push_back(targets[i]);
      }
    part_colour_options fixed;
    fixed.locate = false;
    const auto r = part_colour_accuracy(std::span<const data::image>(unclamped), unclamped_targets, expected, fixed);
    MESSAGE(r.images << " unclamped birds, expected frame: " << describe(r));
    CHECK(r.images >= 40);
    CHECK(r.mean > 0.97);
    // Every bird: clamped crops make birds larger and off centre, so the
    // expected frame alone misreads many; the located frame does not.
    const auto all_fixed = part_colour_accuracy(std::span<const data::image>(s.images), targets, expected, fixed);
    const auto located = part_colour_accuracy(std::span<const data::image>(s.images), targets, expected);
    MESSAGE("all birds, expected frame: " << describe(all_fixed));
    MESSAGE("all birds, located frame:  " << describe(located));
    CHECK(located.images == 200);
    CHECK(located.mean > 0.97);
    CHECK(all_fixed.mean < located.mean);
  }

  SUBCASE("random crop and flip, as training images: located frame and orientation") {
    const staged_birds s = stage_birds(true);
    const std::span<const data::image> images(s.images);
    const std::vector<data::frame> frames = locate_birds(images, expected);
    int orientation_right = 0, flips = 0;
    double max_err = 0, mean_err = 0;
    for (std::size_t i = 0; i < s.images.size(); ++i) {
      orientation_right += frames[i].mirrored == s.flipped[i];
      flips += s.flipped[i];
      const double cx = frames[i].x + frames[i].w / 2 - (s.true_frames[i].x + s.true_frames[i].w / 2);
      const double cy = frames[i].y + frames[i].h / 2 - (s.true_frames[i].y + s.true_frames[i].h / 2);
      max_err = std::max({max_err, std::abs(cx), std::abs(cy)});
      mean_err += (std::abs(cx) + std::abs(cy)) / 2 / double(s.images.size());
    }
    MESSAGE("orientation right for " << orientation_right << " of " << s.images.size() << " (" << flips
                                     << " flipped); centre error mean " << mean_err << " px, largest " << max_err
                                     << " px (frame width " << expected.w << " px)");
    CHECK(flips > 60);
    CHECK(orientation_right >= 198);
    CHECK(mean_err < 1.0);
    CHECK(max_err < 4.0);
    const auto targets = targets_of(s.truth);
    const auto located = part_colour_accuracy(images, targets, std::span<const data::frame>(frames));
    MESSAGE("random crop, located frame:  " << describe(located));
    CHECK(located.mean > 0.97);
    for (int p = 0; p < data::part_count; ++p) CHECK(located.accuracy[std::size_t(p)] > 0.95);
    part_colour_options fixed;
    fixed.locate = false;
    const auto unlocated = part_colour_accuracy(images, targets, expected, fixed);
    MESSAGE("random crop, expected frame: " << describe(unlocated));
    CHECK(unlocated.mean < 0.6);  // why locate_bird exists

    // Each image scored against another class's bird (97 birds on: another
    // class, as 5 images make a class): chance level.
    std::vector<data::bird_attributes> shuffled(s.truth.size());
    for (std::size_t i = 0; i < s.truth.size(); ++i) shuffled[i] = s.truth[(i + 97) % s.truth.size()];
    const auto chance = part_colour_accuracy(images, targets_of(shuffled), std::span<const data::frame>(frames));
    MESSAGE("shuffled attributes:         " << describe(chance));
    CHECK(chance.mean < chance.mean_chance + 0.1);
    CHECK(chance.mean > chance.mean_chance - 0.08);

    // Targets from the first caption of each image: only the parts it names are scored.
    std::vector<part_targets> named;
    for (const auto& b : bird_plan().birds) named.push_back(caption_part_colours(b.captions[0]));
    const auto r = part_colour_accuracy(images, named, std::span<const data::frame>(frames));
    MESSAGE("first captions:              " << describe(r));
    std::int64_t n_named = 0, n_scored = 0;
    for (const auto& x : named)
      for (const auto& c : x) n_named += c.has_value();
    for (auto k : r.scored) n_scored += k;
    CHECK(n_scored == n_named);
    CHECK(r.mean > 0.95);
  }

  SUBCASE("the tensor overload reads generator-like output") {
    const staged_birds s = stage_birds(false);
    const index_t n = 20;
    tensor<float, cpu> batch{shape(n, 3, 64, 64)};
    for (index_t i = 0; i < n; ++i) {
      const auto t = data::to_tensor(s.images[std::size_t(i)]);
      std::copy(t.data(), t.data() + t.numel(), batch.data() + i * t.numel());
    }
    std::vector<part_targets> t(std::size_t(n), part_targets{});
    for (index_t i = 0; i < n; ++i) t[std::size_t(i)] = all_parts(s.truth[std::size_t(i)]);
    const auto r = part_colour_accuracy(batch, t, sizes);
    const auto h = part_colour_accuracy(std::span<const data::image>(s.images.data(), std::size_t(n)), t, expected);
    CHECK(r.accuracy == h.accuracy);
    CHECK_THROWS_AS(part_colour_accuracy(tensor<float, cpu>{shape(2, 3, 48, 48)}, std::span<const part_targets>(t).first(2), sizes),
                    shape_error);
  }
}

}  // namespace test_evaluation
