// Tests for attngan/data/transforms.hpp, the image pipeline of spec §10.1.
//
// PIL parity: the resize and the whole pipeline are compared with fixtures
// written by Pillow 9.4.0 (tests/data/golden/make_resize_golden.py). The
// match is required to be EXACT (every byte equal), not within one level.
#include <attngan/data/transforms.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace test_transforms {

namespace fs = std::filesystem;
using namespace attngan;
using namespace attngan::data;

namespace {

const fs::path golden = fs::path(ATTNGAN_TESTS_SOURCE_DIR) / "data" / "golden";

/// Number of bytes that differ, and the largest difference.
std::pair<int, int> compare(const image& a, const image& b) {
  REQUIRE(a.width == b.width);
  REQUIRE(a.height == b.height);
  int count = 0, largest = 0;
  for (std::size_t i = 0; i < a.rgb.size(); ++i) {
    const int d = std::abs(int(a.rgb[i]) - int(b.rgb[i]));
    count += d != 0;
    largest = std::max(largest, d);
  }
  return {count, largest};
}

image pattern(int w, int h, int seed) {
  image img(w, h);
  for (std::size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = std::uint8_t((i * 2654435761u + std::size_t(seed)) >> 7);
  return img;
}

}  // namespace

TEST_CASE("transforms: resize_bilinear equals Pillow's BILINEAR resize byte for byte") {
  const image src = read_image(golden / "resize_source.png");
  REQUIRE(src.width == 97);
  REQUIRE(src.height == 73);
  // Strong and mild downscaling (antialiased support), upscaling, one axis
  // only, mixed, identity: the sizes make_resize_golden.py wrote.
  const int sizes[][2] = {{24, 18}, {29, 23}, {50, 73}, {97, 40}, {160, 121}, {200, 17}, {7, 5}, {97, 73}};
  for (const auto& s : sizes) {
    const std::string name = "resize_" + std::to_string(s[0]) + "x" + std::to_string(s[1]) + ".png";
    CAPTURE(name);
    const auto [count, largest] = compare(resize_bilinear(src, s[0], s[1]), read_image(golden / name));
    CHECK(count == 0);
    CHECK(largest == 0);
  }
  // Inputs narrower than the filter's support (5x4 -> 1x1 reads all 5 columns).
  const image tiny = crop(src, crop_box{0, 0, 5, 4});
  const int tiny_sizes[][2] = {{1, 1}, {2, 3}, {9, 2}};
  for (const auto& s : tiny_sizes) {
    const std::string name = "resize_tiny_" + std::to_string(s[0]) + "x" + std::to_string(s[1]) + ".png";
    CAPTURE(name);
    CHECK(resize_bilinear(tiny, s[0], s[1]).rgb == read_image(golden / name).rgb);
  }
}

TEST_CASE("transforms: a window of a resize equals the same pixels of the full resize") {
  const image src = pattern(83, 61, 3);
  const image full = resize_bilinear(src, 101, 47);
  const image part = resize_bilinear(src, 101, 47, resize_window{13, 5, 64, 40});
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c) REQUIRE(part.pixel(x, y)[c] == full.pixel(13 + x, 5 + y)[c]);
  // A region of the source reads like a copied crop.
  const crop_box region{7, 3, 70, 58};
  const image a = resize_bilinear(src, region, 40, 30, resize_window{0, 0, 40, 30});
  const image b = resize_bilinear(crop(src, region), 40, 30);
  CHECK(a.rgb == b.rgb);
  CHECK_THROWS_AS(resize_bilinear(src, 10, 10, resize_window{5, 5, 6, 5}), value_error);
}

TEST_CASE("transforms: Scale(size) keeps the aspect, floors the long side, as torchvision 0.2 under Python 2") {
  CHECK(scale_size(500, 375, 304) == std::pair{405, 304});  // 304 * 500 / 375 = 405.33
  CHECK(scale_size(375, 500, 304) == std::pair{304, 405});
  CHECK(scale_size(256, 256, 64) == std::pair{64, 64});
  CHECK(scale_size(300, 200, 100) == std::pair{150, 100});
  CHECK(scale_size(74, 75, 76) == std::pair{76, 77});  // 76 * 75 / 74 = 77.03
  CHECK(pipeline_sizes(64, 3).scale_size() == 304);
  CHECK(pipeline_sizes(299, 1).scale_size() == 355);  // DAMSM: int(299 * 76 / 64)
  CHECK(pipeline_sizes(64, 3).stage_size(1) == 128);
  // A sliver of a bounding box must not ask for gigabytes.
  CHECK_THROWS_AS((void)scale_size(1, 500, 304), value_error);
}

TEST_CASE("transforms: bounding-box crop follows the r/cx/cy formulas and clamps to the image") {
  // r = int(max(w, h) * 0.75), cx = int((2x + w) / 2), cy = int((2y + h) / 2).
  CHECK(bbox_crop_box(bbox{30, 20, 50, 40}, 120, 90) == crop_box{18, 3, 92, 77});
  CHECK(bbox_crop_box(bbox{0, 50, 60, 35}, 120, 90) == crop_box{0, 22, 75, 90});  // non-square at the border
  CHECK(bbox_crop_box(bbox{60, 27, 325, 304}, 500, 375) == crop_box{0, 0, 465, 375});
  CHECK(bbox_crop_box(bbox{11, 7, 33, 33}, 100, 100) == crop_box{3, 0, 51, 47});  // cx = 27, r = 24
  const std::string msg = test::message_of([] { (void)bbox_crop_box(bbox{500, 400, 20, 20}, 120, 90); });
  CHECK(msg.find("outside the image") != std::string::npos);
  CHECK(msg.find("120x90") != std::string::npos);
}

TEST_CASE("transforms: the whole pipeline equals PIL + torchvision for given crop offsets and flip") {
  const image src = read_image(golden / "pipeline_source.png");
  const pipeline_sizes sizes(16, 3);  // stages 16, 32, 64; Scale(76)
  struct case_t {
    const char* name;
    std::optional<bbox> box;
    random_crop_flip choice;
  };
  const case_t cases[] = {
      {"centre", bbox{30, 20, 50, 40}, {5, 9, false}},
      {"border", bbox{0, 50, 60, 35}, {13, 7, true}},
      {"nobbox", std::nullopt, {20, 3, true}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto stages = train_images(src, c.box, sizes, c.choice);
    REQUIRE(stages.size() == 3);
    for (int i = 0; i < 3; ++i) {
      const int s = sizes.stage_size(i);
      const image ref = read_image(golden / ("pipeline_" + std::string(c.name) + "_" + std::to_string(s) + ".png"));
      const auto [count, largest] = compare(stages[std::size_t(i)], ref);
      CHECK(count == 0);
      CHECK(largest == 0);
    }
  }
}

TEST_CASE("transforms: crop offsets and flip come from the generator, deterministically") {
  // One draw of three doubles, exactly generator::uniform<double, cpu>(shape(3)).
  generator a(1234, 17), b(1234, 17);
  const random_crop_flip r = draw_crop_flip(a, 405, 304, 256);
  const auto u = b.uniform<double, cpu>(shape(3)).to_vector();
  CHECK(r.x == int(u[0] * 150));
  CHECK(r.y == int(u[1] * 49));
  CHECK(r.flip == (u[2] < 0.5));
  CHECK(a.offset() == b.offset());
  CHECK(a.offset() == 17 + 2);

  // Uniform over [0, W - S] and [0, H - S], both ends reached, flips about half.
  generator g(99);
  int min_x = 1000, max_x = -1, min_y = 1000, max_y = -1, flips = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    const auto d = draw_crop_flip(g, 262, 259, 256);
    min_x = std::min(min_x, d.x);
    max_x = std::max(max_x, d.x);
    min_y = std::min(min_y, d.y);
    max_y = std::max(max_y, d.y);
    flips += d.flip;
  }
  CHECK(min_x == 0);
  CHECK(max_x == 6);
  CHECK(min_y == 0);
  CHECK(max_y == 3);
  CHECK(std::abs(flips - n / 2) < 200);
  CHECK_THROWS_AS((void)draw_crop_flip(g, 200, 300, 256), value_error);
}

TEST_CASE("transforms: train_transform gives per-stage (3, S, S) tensors normalised to [-1, 1]") {
  const image src = pattern(500, 375, 1);
  generator g1(5), g2(5);
  transform_record rec;
  const auto t = train_transform(src, bbox{60, 27, 325, 304}, 64, 3, g1, &rec);
  REQUIRE(t.size() == 3);
  CHECK(t[0].shape() == shape(3, 64, 64));
  CHECK(t[1].shape() == shape(3, 128, 128));
  CHECK(t[2].shape() == shape(3, 256, 256));
  CHECK(rec.bbox_crop == crop_box{0, 0, 465, 375});
  CHECK(rec.scaled_width == 376);  // 304 * 465 / 375 = 376.96
  CHECK(rec.scaled_height == 304);
  // The same seed gives the same tensors; the last stage is the crop itself.
  const auto images = train_images(src, bbox{60, 27, 325, 304}, pipeline_sizes(64, 3), g2);
  const auto v = t[2].to_vector();
  const auto& table = normalise_table();
  const image& last = images[2];
  for (int y = 0; y < 256; y += 17)
    for (int x = 0; x < 256; x += 13)
      for (int c = 0; c < 3; ++c)
        REQUIRE(v[std::size_t(c) * 256 * 256 + std::size_t(y) * 256 + std::size_t(x)] == table[last.pixel(x, y)[c]]);
  float lo = 2, hi = -2;
  for (float x : t[0].to_vector()) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  CHECK(lo >= -1.0f);
  CHECK(hi <= 1.0f);
  // ToTensor + Normalize(0.5, 0.5) in float32.
  CHECK(table[0] == -1.0f);
  CHECK(table[255] == 1.0f);
  CHECK(table[128] == (128.0f / 255.0f - 0.5f) / 0.5f);
  // from_tensor inverts it.
  CHECK(from_tensor(to_tensor(last)).rgb == last.rgb);
}

TEST_CASE("transforms: augmentation.flip false keeps the crop and never mirrors") {
  const image src = pattern(500, 375, 1);
  const bbox box{60, 27, 325, 304};
  const pipeline_sizes sizes(64, 3);
  int flipped_seeds = 0;
  for (std::uint64_t seed = 0; seed < 16; ++seed) {
    generator g_on(seed), g_off(seed);
    transform_record on, off;
    const auto with_flip = train_images(src, box, sizes, g_on, &on, augmentation{});
    const auto without = train_images(src, box, sizes, g_off, &off, augmentation{.flip = false});
    // The same draw: same crop, and the generators stay in step.
    CHECK(off.crop_x == on.crop_x);
    CHECK(off.crop_y == on.crop_y);
    CHECK_FALSE(off.flipped);
    CHECK(g_off.offset() == g_on.offset());
    image mirrored = without[2];
    flip_horizontal(mirrored);
    CHECK(with_flip[2].rgb == (on.flipped ? mirrored.rgb : without[2].rgb));
    flipped_seeds += on.flipped;
  }
  // Both branches were exercised.
  CHECK(flipped_seeds > 0);
  CHECK(flipped_seeds < 16);
}

TEST_CASE("transforms: augmentation.shift false crops at the centre, flips as drawn, keeps the stream") {
  const image src = pattern(500, 375, 2);
  const bbox box{60, 27, 325, 304};
  const pipeline_sizes sizes(64, 3);
  int moved_seeds = 0, flipped_seeds = 0;
  for (std::uint64_t seed = 0; seed < 16; ++seed) {
    generator g_on(seed), g_off(seed);
    transform_record on, off;
    const auto shifted = train_images(src, box, sizes, g_on, &on, augmentation{});
    const auto centred = train_images(src, box, sizes, g_off, &off, augmentation{.shift = false});
    // The centre of the scaled image, rounded down; the drawn flip kept.
    CHECK(off.scaled_width == on.scaled_width);
    CHECK(off.scaled_height == on.scaled_height);
    CHECK(off.crop_x == (off.scaled_width - sizes.final_size()) / 2);
    CHECK(off.crop_y == (off.scaled_height - sizes.final_size()) / 2);
    CHECK(off.flipped == on.flipped);
    CHECK(g_off.offset() == g_on.offset());
    // The same pixels as the deterministic overload given that crop.
    const auto expected =
        train_images(src, box, sizes, random_crop_flip{off.crop_x, off.crop_y, on.flipped});
    REQUIRE(centred.size() == expected.size());
    for (std::size_t i = 0; i < centred.size(); ++i) CHECK(centred[i].rgb == expected[i].rgb);
    const bool moved = on.crop_x != off.crop_x || on.crop_y != off.crop_y;
    if (moved) CHECK(shifted[2].rgb != centred[2].rgb);
    moved_seeds += moved;
    flipped_seeds += on.flipped;
  }
  // The random crops moved away from the centre, and both flips were drawn.
  CHECK(moved_seeds > 8);
  CHECK(flipped_seeds > 0);
  CHECK(flipped_seeds < 16);
  // Both off: the centre, unmirrored.
  generator g(3);
  transform_record rec;
  (void)train_images(src, box, sizes, g, &rec, augmentation{.flip = false, .shift = false});
  CHECK(rec.crop_x == (rec.scaled_width - sizes.final_size()) / 2);
  CHECK_FALSE(rec.flipped);
}

TEST_CASE("transforms: the DAMSM configuration is Scale(355), RandomCrop(299), one stage") {
  const image src = pattern(320, 240, 2);
  generator g(3);
  const auto t = train_transform(src, std::nullopt, 299, 1, g);
  REQUIRE(t.size() == 1);
  CHECK(t[0].shape() == shape(3, 299, 299));
  CHECK_THROWS_AS((void)train_transform(src, std::nullopt, 64, 0, g), value_error);
}

TEST_CASE("transforms: map_to_stage follows a point through crop, scale, random crop and flip") {
  // A white 2x2 block in a dark image; its mapped frame must land on the
  // bright pixels of every stage.
  image src(200, 150);
  for (int y = 70; y < 72; ++y)
    for (int x = 90; x < 92; ++x)
      for (int c = 0; c < 3; ++c) src.pixel(x, y)[c] = 255;
  for (const bool flip : {false, true}) {
    transform_record rec;
    const pipeline_sizes sizes(64, 3);
    const auto [w, h] = scaled_size(src, bbox{60, 40, 80, 60}, sizes);
    generator g(1);
    random_crop_flip choice = draw_crop_flip(g, w, h, 256);
    choice.flip = flip;
    const auto stages = train_images(src, bbox{60, 40, 80, 60}, sizes, choice, &rec);
    for (int s = 0; s < 3; ++s) {
      const frame f = map_to_stage(rec, frame{90, 70, 2, 2, false}, stages[std::size_t(s)].width);
      CHECK(f.mirrored == flip);
      const int cx = int(f.x + f.w / 2), cy = int(f.y + f.h / 2);
      CAPTURE(s);
      CHECK(stages[std::size_t(s)].pixel(cx, cy)[0] > 100);
    }
  }
}

}  // namespace test_transforms
