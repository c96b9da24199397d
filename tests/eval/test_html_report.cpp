// Tests for attngan/report/html_report.hpp: base64 against RFC 4648's
// vectors and round trips, HTML escaping, PNG data URIs that decode back to
// the same pixels, the attention overlay, the JSON Lines metrics reader, and
// a whole report written atomically whose structure (images, SVG, escaped
// captions, no external resources) is checked by reading the file back.
#include <attngan/report/html_report.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../data/scratch_folder.hpp"
#include "test_support.hpp"

namespace test_html_report {

using namespace attngan;
using namespace attngan::report;
using attngan::test::scratch_folder;

namespace {

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + what.size())) ++n;
  return n;
}

/// Every data:image/png URI of a document, decoded.
std::vector<data::image> embedded_images(const std::string& html) {
  std::vector<data::image> out;
  const std::string prefix = "src=\"data:image/png;base64,";
  for (std::size_t p = html.find(prefix); p != std::string::npos; p = html.find(prefix, p + 1)) {
    const std::size_t start = p + prefix.size(), end = html.find('"', start);
    const auto bytes = base64_decode(std::string_view(html).substr(start, end - start));
    out.push_back(data::decode_image(bytes.data(), bytes.size()));
  }
  return out;
}

data::image pattern(int w, int h, int seed) {
  data::image img{w, h};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) img.pixel(x, y)[c] = std::uint8_t((x * 37 + y * 11 + c * 80 + seed * 53) % 256);
  return img;
}

/// The document with the base64 payloads of its data URIs removed.
std::string without_payloads(const std::string& html) {
  std::string out;
  const std::string prefix = "base64,";
  std::size_t from = 0;
  for (std::size_t p = html.find(prefix); p != std::string::npos; p = html.find(prefix, from)) {
    out += html.substr(from, p + prefix.size() - from);
    from = html.find('"', p);
  }
  return out + html.substr(from);
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("base64: RFC 4648 vectors, round trips, bad input") {
  const auto enc = [](const std::string& s) {
    return base64_encode(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  CHECK(enc("") == "");
  CHECK(enc("f") == "Zg==");
  CHECK(enc("fo") == "Zm8=");
  CHECK(enc("foo") == "Zm9v");
  CHECK(enc("foob") == "Zm9vYg==");
  CHECK(enc("fooba") == "Zm9vYmE=");
  CHECK(enc("foobar") == "Zm9vYmFy");
  for (std::size_t n = 0; n < 40; ++n) {
    std::vector<std::uint8_t> bytes(n);
    for (std::size_t i = 0; i < n; ++i) bytes[i] = std::uint8_t((i * 151 + n * 7) % 256);
    CHECK(base64_decode(base64_encode(bytes)) == bytes);
  }
  CHECK_THROWS_AS(base64_decode("Zm9"), value_error);
  CHECK_THROWS_AS(base64_decode("Zm9*"), value_error);
}

TEST_CASE("html_escape: markup characters") {
  CHECK(html_escape("<b>\"red\" & 'blue'</b>") == "&lt;b&gt;&quot;red&quot; &amp; &#39;blue&#39;&lt;/b&gt;");
  CHECK(html_escape("a small bird") == "a small bird");
}

TEST_CASE("png_data_uri and image_from_tensor: bytes decode back to the same pixels") {
  const data::image img = pattern(13, 7, 1);
  const std::string uri = png_data_uri(img);
  REQUIRE(uri.rfind("data:image/png;base64,", 0) == 0);
  const auto bytes = base64_decode(std::string_view(uri).substr(22));
  CHECK(data::decode_image(bytes.data(), bytes.size()) == img);
  // A tensor in [-1, 1] becomes round((x + 1) · 127.5).
  tensor<float, cpu> t{shape(3, 1, 2)};
  const float values[] = {-1.f, 1.f, 0.f, 0.5f, -2.f, 2.f};
  std::copy(values, values + 6, t.data());
  const data::image b = image_from_tensor(t);
  CHECK(b.width == 2);
  CHECK(b.height == 1);
  CHECK(b.pixel(0, 0)[0] == 0);
  CHECK(b.pixel(1, 0)[0] == 255);
  CHECK(b.pixel(0, 0)[1] == 128);  // round(127.5)
  CHECK(b.pixel(1, 0)[1] == 191);  // round(191.25)
  CHECK(b.pixel(0, 0)[2] == 0);    // clamped
  CHECK(b.pixel(1, 0)[2] == 255);
  CHECK_THROWS_AS(image_from_tensor(tensor<float, cpu>{shape(1, 2, 2)}), shape_error);
}

TEST_CASE("attention_overlay: bright where the word attends, scaled per map") {
  data::image white{4, 4};
  std::fill(white.rgb.begin(), white.rgb.end(), std::uint8_t(255));
  const float map[] = {0.f, 0.f, 0.f, 0.02f};  // 2x2: attends to the bottom-right
  const data::image o = attention_overlay(white, map, 2, 2);
  CHECK(o.pixel(3, 3)[0] == 255);  // a = 1
  CHECK(o.pixel(0, 0)[0] == 51);   // a = 0: 0.2 · 255
  CHECK(o.pixel(2, 2)[0] > o.pixel(1, 1)[0]);
  const float flat[] = {0.3f, 0.3f, 0.3f, 0.3f};
  CHECK(attention_overlay(white, flat, 2, 2).pixel(3, 3)[1] == 51);
}

TEST_CASE("read_metrics_jsonl: numeric fields per line, skipped values, a cut last line") {
  scratch_folder dir("report");
  const auto path = dir.write("metrics.jsonl",
                              "{\"step\": 1, \"loss_g\": 2.5, \"loss_d\": 1.25, \"phase\": \"gan\"}\n"
                              "\n"
                              "{\"step\":2,\"loss_g\":2.0,\"extra\":{\"a\":[1,2,{\"b\":\"}\"}]},\"ok\":true}\n"
                              "{\"step\": 3, \"loss_g\": 1.5e0, \"loss_d\": -0.5, \"note\": null}\n"
                              "{\"step\": 4, \"loss_g\": 1.");
  const auto all = read_metrics_jsonl(path);
  REQUIRE(all.size() == 2);  // loss_d, loss_g (name order)
  CHECK(all[0].name == "loss_d");
  CHECK(all[0].steps == std::vector<double>{1, 3});
  CHECK(all[0].values == std::vector<double>{1.25, -0.5});
  CHECK(all[1].name == "loss_g");
  CHECK(all[1].steps == std::vector<double>{1, 2, 3});
  CHECK(all[1].values == std::vector<double>{2.5, 2.0, 1.5});
  const auto only = read_metrics_jsonl(path, {"loss_g", "missing"});
  REQUIRE(only.size() == 2);
  CHECK(only[0].values.size() == 3);
  CHECK(only[1].name == "missing");
  CHECK(only[1].values.empty());
  // A malformed line in the middle, or a line without a step, is an error.
  CHECK_THROWS_AS(read_metrics_jsonl(dir.write("bad.jsonl", "{\"step\": 1,}\n{\"step\": 2}\n")), io_error);
  CHECK_THROWS_AS(read_metrics_jsonl(dir.write("nostep.jsonl", "{\"loss\": 1}\n")), io_error);
  CHECK_THROWS_AS(read_metrics_jsonl(dir / "absent.jsonl"), io_error);
}

TEST_CASE("html_report: one self-contained file with curves, samples, captions and attention maps") {
  scratch_folder dir("report");
  html_report r("AttnGAN <demo> report");
  r.add_paragraph("Trained for 3 steps & sampled.");
  r.add_loss_curves("Losses", {series{"G", {1, 2, 3}, {3.0, 2.0, 1.5}}, series{"D<0>", {1, 2, 3}, {1.0, 0.8, 0.9}}});
  const std::vector<sample> samples = {{pattern(16, 16, 1), "a <b>red</b> bird & \"friends\""},
                                       {pattern(16, 16, 2), "this bird has blue wings"},
                                       {pattern(16, 16, 3), "it's yellow"}};
  r.add_sample_sheet("Samples", samples, 2);
  // Attention: stage 1 (8x8 image, 2 words of 2x2 maps), stage 2 (16x16, 3 words of 4x4).
  generator g(5);
  const auto img1 = g.uniform<float, cpu>(shape(3, 8, 8), -1.f, 1.f);
  const auto att1 = g.uniform<float, cpu>(shape(2, 2, 2), 0.f, 1.f);
  const auto img2 = g.uniform<float, cpu>(shape(3, 16, 16), -1.f, 1.f);
  const auto att2 = g.uniform<float, cpu>(shape(3, 4, 4), 0.f, 1.f);
  const std::vector<attention_row> rows = {html_report::make_attention_row("stage 1", img1, att1),
                                           html_report::make_attention_row("stage 2", img2, att2)};
  r.add_attention_figure("red <crown> bird", {"red", "<crown>", "bird"}, rows);
  const auto path = dir / "report.html";
  r.write(path);

  // Only the report is in the folder: the temporary file was renamed.
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  CHECK(files == 1);
  const std::string html = read_text(path);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(count_of(html, "<svg") == 1);
  CHECK(count_of(html, "</svg>") == 1);
  CHECK(count_of(html, "<polyline") == 2);
  // 3 samples + (1 image + 2 maps) + (1 image + 3 maps).
  CHECK(count_of(html, "<img ") == 10);
  CHECK(count_of(html, "<img src=\"data:image/png;base64,") == 10);
  // Nothing is fetched from elsewhere: the only URL is the SVG namespace.
  const std::string markup = without_payloads(html);
  CHECK(count_of(markup, "http") == 1);
  CHECK(count_of(markup, "xmlns=\"http://www.w3.org/2000/svg\"") == 1);
  CHECK(count_of(markup, "url(") == 0);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  // Captions, words, titles and series names are escaped.
  CHECK(html.find("a &lt;b&gt;red&lt;/b&gt; bird &amp; &quot;friends&quot;") != std::string::npos);
  CHECK(html.find("<b>red</b>") == std::string::npos);
  CHECK(html.find("it&#39;s yellow") != std::string::npos);
  CHECK(html.find("&lt;crown&gt;") != std::string::npos);
  CHECK(html.find("<crown>") == std::string::npos);
  CHECK(html.find("AttnGAN &lt;demo&gt; report") != std::string::npos);
  CHECK(html.find("D&lt;0&gt;") != std::string::npos);
  // The embedded PNGs decode to the images given, in order.
  const auto images = embedded_images(html);
  REQUIRE(images.size() == 10);
  for (std::size_t i = 0; i < 3; ++i) CHECK(images[i] == samples[i].image);
  CHECK(images[3] == image_from_tensor(img1));
  CHECK(images[4] == attention_overlay(rows[0].image, rows[0].maps.data(), 2, 2));
  CHECK(images[5] == attention_overlay(rows[0].image, rows[0].maps.data() + 4, 2, 2));
  CHECK(images[6] == image_from_tensor(img2));
  CHECK(images[9].width == 16);
  CHECK(images[9] == attention_overlay(rows[1].image, rows[1].maps.data() + 32, 4, 4));
  // Labels of the figure follow the maps.
  CHECK(html.find("<div class=\"word\">stage 2</div>") != std::string::npos);

  // Bad input: more maps than words; a missing folder (nothing is written).
  CHECK_THROWS_AS(r.add_attention_figure("x", {"one"}, rows), shape_error);
  CHECK_THROWS_AS(r.write(dir / "no" / "such" / "report.html"), io_error);
  CHECK_FALSE(std::filesystem::exists(dir / "no"));
}

}  // namespace test_html_report
