// Tests for attngan/data/image.hpp: JPEG/PNG decoding through stb_image
// (RGB forced), PNG/JPEG encoding, atomic writes, and bad input named in the
// error: missing, empty, not an image, truncated, hostile sizes.
#include <attngan/data/image.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "scratch_folder.hpp"
#include "test_support.hpp"

namespace test_image {

namespace fs = std::filesystem;
using attngan::test::message_of;
using attngan::test::scratch_folder;
using namespace attngan::data;

namespace {

image test_pattern(int w, int h) {
  image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = img.pixel(x, y);
      p[0] = std::uint8_t(x * 255 / std::max(1, w - 1));
      p[1] = std::uint8_t(y * 255 / std::max(1, h - 1));
      p[2] = std::uint8_t((x / 4 + y / 4) % 2 ? 200 : 40);
    }
  return img;
}

void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

/// PNG bytes with `comp` channels (1 = grey, 4 = RGBA), from the same stb copy.
std::vector<std::uint8_t> png_with_channels(int w, int h, int comp, const std::vector<std::uint8_t>& px) {
  std::vector<std::uint8_t> out;
  REQUIRE(stbi_write_png_to_func(detail::append_to_vector, &out, w, h, comp, px.data(), w * comp));
  return out;
}

}  // namespace

TEST_CASE("image: pixel access is HWC row-major and bounds-checked") {
  image img(3, 2);
  CHECK(img.rgb.size() == 18);
  img.at(2, 1, 0) = 7;
  CHECK(img.rgb[3 * (1 * 3 + 2) + 0] == 7);
  CHECK(img.pixel(2, 1)[0] == 7);
  CHECK_THROWS_AS((void)img.at(3, 0, 0), attngan::value_error);
  CHECK_THROWS_AS((void)img.at(0, 0, 3), attngan::value_error);
  CHECK_THROWS_AS(image(0, 5), attngan::value_error);
  CHECK_THROWS_AS(image(max_image_side + 1, 1), attngan::value_error);
  CHECK_THROWS_AS(image(16384, 16384), attngan::value_error);  // above max_image_pixels
}

TEST_CASE("image: PNG round trip is exact, JPEG round trip is close") {
  scratch_folder dir("image-roundtrip");
  const image img = test_pattern(37, 23);
  write_png(dir.path() / "a.png", img);
  const image back = read_image(dir.path() / "a.png");
  CHECK(back.width == 37);
  CHECK(back.height == 23);
  CHECK(back.rgb == img.rgb);

  write_jpeg(dir.path() / "a.jpg", img, 95);
  const image j = read_image(dir.path() / "a.jpg");
  REQUIRE(j.rgb.size() == img.rgb.size());
  double mean_abs = 0;
  for (std::size_t i = 0; i < j.rgb.size(); ++i) mean_abs += std::abs(int(j.rgb[i]) - int(img.rgb[i]));
  mean_abs /= double(j.rgb.size());
  CHECK(mean_abs < 4.0);
  // Only the final files remain: the temporary files were renamed away.
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++files;
  CHECK(files == 2);
}

TEST_CASE("image: grayscale is replicated and alpha dropped, as PIL's convert('RGB')") {
  scratch_folder dir("image-channels");
  const std::vector<std::uint8_t> grey = {0, 50, 100, 150, 200, 250};
  write_bytes(dir.path() / "grey.png", png_with_channels(3, 2, 1, grey));
  const image g = read_image(dir.path() / "grey.png");
  REQUIRE(g.width == 3);
  REQUIRE(g.height == 2);
  for (int i = 0; i < 6; ++i)
    for (int c = 0; c < 3; ++c) CHECK(g.rgb[std::size_t(3 * i + c)] == grey[std::size_t(i)]);

  const std::vector<std::uint8_t> rgba = {10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255, 1, 2, 3, 4};
  write_bytes(dir.path() / "rgba.png", png_with_channels(2, 2, 4, rgba));
  const image a = read_image(dir.path() / "rgba.png");
  CHECK(a.rgb == std::vector<std::uint8_t>{10, 20, 30, 40, 50, 60, 70, 80, 90, 1, 2, 3});
}

TEST_CASE("image: bad files are io_errors that name the file and the problem") {
  scratch_folder dir("image-bad");
  const auto expect_error = [](const fs::path& p, const std::string& what) {
    std::string msg;
    try {
      (void)read_image(p);
    } catch (const attngan::io_error& e) {
      msg = e.what();
    }
    INFO("message: " << msg);
    CHECK(msg.find(p.string()) != std::string::npos);
    CHECK(msg.find(what) != std::string::npos);
  };
  expect_error(dir.path() / "missing.jpg", "no such file");
  expect_error(dir.path(), "not a regular file");

  write_bytes(dir.path() / "empty.jpg", {});
  expect_error(dir.path() / "empty.jpg", "empty (0 bytes)");

  const std::string text = "this bird has a red crown\n";
  write_bytes(dir.path() / "text.jpg", std::vector<std::uint8_t>(text.begin(), text.end()));
  expect_error(dir.path() / "text.jpg", "not a JPEG or PNG image");

  const auto jpeg = encode_jpeg(test_pattern(64, 48), 90);
  for (const std::size_t keep : {jpeg.size() / 2, jpeg.size() - 1}) {
    write_bytes(dir.path() / "truncated.jpg", std::vector<std::uint8_t>(jpeg.begin(), jpeg.begin() + std::ptrdiff_t(keep)));
    expect_error(dir.path() / "truncated.jpg", "truncated or corrupt");
  }
  const auto png = encode_png(test_pattern(64, 48));
  write_bytes(dir.path() / "truncated.png", std::vector<std::uint8_t>(png.begin(), png.begin() + std::ptrdiff_t(png.size() / 2)));
  expect_error(dir.path() / "truncated.png", "truncated or corrupt");
  // A Huffman table claiming more than 256 codes (stb 2.27 would write past
  // its table): rejected before stb decodes anything.
  auto hostile = jpeg;
  bool patched = false;
  for (std::size_t i = 2; i + 21 < hostile.size() && !patched; ++i)
    if (hostile[i] == 0xFF && hostile[i + 1] == 0xC4) {
      for (std::size_t k = 0; k < 16; ++k) hostile[i + 5 + k] = 0xFF;
      patched = true;
    }
  REQUIRE(patched);
  write_bytes(dir.path() / "huffman.jpg", hostile);
  expect_error(dir.path() / "huffman.jpg", "Huffman table");
  // Only the signature and a few bytes of a JPEG header.
  write_bytes(dir.path() / "stub.jpg", {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10});
  expect_error(dir.path() / "stub.jpg", "JPEG");
}

TEST_CASE("image: hostile sizes in a header are rejected before decoding") {
  scratch_folder dir("image-hostile");
  auto png = encode_png(test_pattern(8, 8));
  const auto put_be32 = [&](std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) png[at + std::size_t(i)] = std::uint8_t(v >> (24 - 8 * i));
  };
  // IHDR width and height are bytes 16..23 of a PNG.
  put_be32(16, 100000);
  put_be32(20, 100000);
  write_bytes(dir.path() / "huge.png", png);
  CHECK(message_of([&] { (void)read_image(dir.path() / "huge.png"); }).find("huge.png") != std::string::npos);
  CHECK_THROWS_AS((void)read_image(dir.path() / "huge.png"), attngan::io_error);
  // Within the per-side cap, above the pixel cap: our own check names the size.
  put_be32(16, 16000);
  put_be32(20, 16000);
  write_bytes(dir.path() / "big.png", png);
  const std::string msg = message_of([&] { (void)read_image(dir.path() / "big.png"); });
  CHECK(msg.find("16000x16000") != std::string::npos);
}

TEST_CASE("image: writes are atomic and report bad destinations") {
  scratch_folder dir("image-write");
  const image img = test_pattern(5, 4);
  const std::string missing = message_of([&] { write_png(dir.path() / "no" / "such" / "a.png", img); });
  CHECK(missing.find("a.png") != std::string::npos);
  CHECK(missing.find("does not exist") != std::string::npos);
  CHECK_THROWS_AS(write_jpeg(dir.path() / "q.jpg", img, 0), attngan::value_error);
  CHECK_THROWS_AS(write_png(dir.path() / "e.png", image{}), attngan::value_error);
  // Overwriting replaces the file whole.
  write_png(dir.path() / "a.png", test_pattern(9, 9));
  write_png(dir.path() / "a.png", img);
  CHECK(read_image(dir.path() / "a.png").rgb == img.rgb);
}

}  // namespace test_image
