// attngan/report/html_report.hpp — one self-contained HTML training report:
// loss curves as inline SVG, sample sheets and per-word attention figures as
// PNG images embedded in data: URIs. The file references nothing outside
// itself (no scripts, stylesheets, fonts or image files), so it can be mailed
// or opened offline.
//
// Sections are added in order and rendered once:
//   add_heading / add_paragraph     text (HTML-escaped)
//   add_loss_curves                 several named series over steps, one SVG
//                                   (from vectors, or read_metrics_jsonl of a
//                                   JSON Lines file: one object per line with
//                                   "step" and numeric loss fields)
//   add_sample_sheet                a grid of images, each with its caption
//   add_attention_figure            the paper's figure: per stage a row with
//                                   the image, then each word's attention map
//                                   upsampled (bilinear) onto it, the word as
//                                   label
// write() renders and writes atomically (temporary file + rename).
//
// Images come as data::image (8-bit RGB) or as (3, H, W) float tensors in
// [-1, 1] (a generator's output; to bytes as data::from_tensor). Attention maps
// are (T, h, w) tensors; each map is scaled to [0, 1] by its own min and max
// (as the original's build_super_images) and shown as the image darkened where
// attention is low: out = image · (0.2 + 0.8·a).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "attngan/core/error.hpp"
#include "attngan/core/tensor.hpp"
#include "attngan/data/file_io.hpp"
#include "attngan/data/image.hpp"

namespace attngan::report {

// ---------------------------------------------------------------------------
// Encoding helpers

/// Escapes &, <, >, " and ' for HTML text and attribute values.
inline std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

/// Standard base64 (RFC 4648, with '=' padding).
inline std::string base64_encode(const std::uint8_t* data, std::size_t n) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < n; i += 3) {
    const std::uint32_t v = (std::uint32_t(data[i]) << 16) | (std::uint32_t(data[i + 1]) << 8) | data[i + 2];
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += table[v & 63];
  }
  if (i < n) {
    std::uint32_t v = std::uint32_t(data[i]) << 16;
    if (i + 1 < n) v |= std::uint32_t(data[i + 1]) << 8;
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += i + 1 < n ? table[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

inline std::string base64_encode(const std::vector<std::uint8_t>& bytes) {
  return base64_encode(bytes.data(), bytes.size());
}

/// Decodes standard base64 (padding required); value_error on anything else.
inline std::vector<std::uint8_t> base64_decode(std::string_view s) {
  const auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (s.size() % 4 != 0)
    throw value_error("base64_decode", attngan::detail::cat("length ", s.size(), " is not a multiple of 4"));
  std::vector<std::uint8_t> out;
  out.reserve(s.size() / 4 * 3);
  for (std::size_t i = 0; i < s.size(); i += 4) {
    const bool last = i + 4 == s.size();
    const int pad = last ? (s[i + 3] == '=') + (s[i + 2] == '=') : 0;
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const int d = k >= 4 - pad ? 0 : value(s[i + std::size_t(k)]);
      if (d < 0)
        throw value_error("base64_decode", attngan::detail::cat("invalid character at offset ", i + std::size_t(k)));
      v = (v << 6) | std::uint32_t(d);
    }
    out.push_back(std::uint8_t(v >> 16));
    if (pad < 2) out.push_back(std::uint8_t(v >> 8));
    if (pad < 1) out.push_back(std::uint8_t(v));
  }
  return out;
}

/// "data:image/png;base64,..." of an image.
inline std::string png_data_uri(const data::image& img) {
  return "data:image/png;base64," + base64_encode(data::encode_png(img));
}

/// A (3, H, W) float tensor in [-1, 1] (any backend) as bytes:
/// round((x + 1) · 127.5) clamped, as data::from_tensor.
template <real T, backend B>
data::image image_from_tensor(const tensor<T, B>& t) {
  if (!t.defined() || t.rank() != 3 || t.shape()[0] != 3)
    throw shape_error("image_from_tensor",
                      attngan::detail::cat("expects a (3, H, W) image, got ", t.defined() ? t.shape() : shape()));
  const std::vector<T> v = t.to_vector();
  data::image img{int(t.shape()[2]), int(t.shape()[1])};
  const std::size_t plane = std::size_t(img.width) * std::size_t(img.height);
  for (int c = 0; c < 3; ++c)
    for (std::size_t i = 0; i < plane; ++i) {
      const float x = std::round((float(v[std::size_t(c) * plane + i]) + 1.0f) * 127.5f);
      img.rgb[3 * i + std::size_t(c)] = std::uint8_t(std::clamp(x, 0.0f, 255.0f));
    }
  return img;
}

/// One attention map (h, w values, row-major) upsampled bilinearly
/// (align_corners = false) to the image and laid over it: each map scaled to
/// [0, 1] by its min and max, out = image · (0.2 + 0.8·a).
inline data::image attention_overlay(const data::image& img, const float* map, int h, int w) {
  if (img.empty() || h <= 0 || w <= 0)
    throw value_error("attention_overlay", attngan::detail::cat("image ", img.width, "x", img.height, ", map ", w, "x", h));
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (int i = 0; i < h * w; ++i) {
    lo = std::min(lo, map[i]);
    hi = std::max(hi, map[i]);
  }
  const float range = hi > lo ? hi - lo : 1.0f;
  data::image out = img;
  for (int y = 0; y < img.height; ++y) {
    const double sy = std::clamp((y + 0.5) * h / img.height - 0.5, 0.0, double(h - 1));
    const int y0 = int(sy), y1 = std::min(y0 + 1, h - 1);
    const double fy = sy - y0;
    for (int x = 0; x < img.width; ++x) {
      const double sx = std::clamp((x + 0.5) * w / img.width - 0.5, 0.0, double(w - 1));
      const int x0 = int(sx), x1 = std::min(x0 + 1, w - 1);
      const double fx = sx - x0;
      const double v = (map[y0 * w + x0] * (1 - fx) + map[y0 * w + x1] * fx) * (1 - fy) +
                       (map[y1 * w + x0] * (1 - fx) + map[y1 * w + x1] * fx) * fy;
      const double a = (v - lo) / range;
      std::uint8_t* p = out.pixel(x, y);
      for (int c = 0; c < 3; ++c) p[c] = std::uint8_t(std::clamp(std::lround(p[c] * (0.2 + 0.8 * a)), 0L, 255L));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Metrics

/// A named series of (step, value) points.
struct series {
  std::string name;
  std::vector<double> steps, values;
};

namespace detail {

/// A minimal JSON reader for one line of a metrics file: a flat object whose
/// numeric members are returned; strings, booleans, null, nested arrays and
/// objects are skipped. value_error (with `where`) on malformed JSON.
class json_line {
 public:
  json_line(std::string_view s, std::string where) : s_(s), where_(std::move(where)) {}

  std::map<std::string, double> numbers() {
    std::map<std::string, double> out;
    ws();
    expect('{');
    ws();
    if (peek() == '}') {
      ++i_;
      return finish(out);
    }
    for (;;) {
      ws();
      const std::string key = string();
      ws();
      expect(':');
      ws();
      const char c = peek();
      if (c == '-' || (c >= '0' && c <= '9')) out[key] = number();
      else skip_value();
      ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      return finish(out);
    }
  }

 private:
  std::map<std::string, double> finish(std::map<std::string, double>& out) {
    ws();
    if (i_ != s_.size()) fail("text after the object");
    return out;
  }
  [[noreturn]] void fail(const char* what) const {
    throw value_error("read_metrics_jsonl", attngan::detail::cat(where_, ": ", what, " at column ", i_ + 1));
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n')) ++i_;
  }
  void expect(char c) {
    if (peek() != c) fail(c == '{' ? "expected '{'" : c == '}' ? "expected '}' or ','" : "expected ':'");
    ++i_;
  }
  std::string string() {
    if (peek() != '"') fail("expected a string");
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\') {
        if (++i_ >= s_.size()) fail("unterminated escape");
        const char e = s_[i_];
        if (e == 'u') {
          if (i_ + 4 >= s_.size()) fail("short \\u escape");
          out += '?';  // names with non-ASCII escapes are not matched by key
          i_ += 4;
        } else {
          out += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e;
        }
      } else {
        out += s_[i_];
      }
      ++i_;
    }
    if (peek() != '"') fail("unterminated string");
    ++i_;
    return out;
  }
  double number() {
    const std::size_t start = i_;
    while (i_ < s_.size() && std::string_view("+-0123456789.eE").find(s_[i_]) != std::string_view::npos) ++i_;
    const std::string text(s_.substr(start, i_ - start));
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) fail("malformed number");
    return v;
  }
  void skip_value() {
    const char c = peek();
    if (c == '"') {
      string();
    } else if (c == '{' || c == '[') {
      int depth = 0;
      do {
        const char d = peek();
        if (d == '\0') fail("unterminated array or object");
        if (d == '"') {
          string();
          continue;
        }
        if (d == '{' || d == '[') ++depth;
        if (d == '}' || d == ']') --depth;
        ++i_;
      } while (depth > 0);
    } else {
      for (std::string_view lit : {"true", "false", "null", "NaN", "Infinity", "-Infinity"})
        if (s_.substr(i_, lit.size()) == lit) {
          i_ += lit.size();
          return;
        }
      fail("unexpected value");
    }
  }
  std::string_view s_;
  std::string where_;
  std::size_t i_ = 0;
};

}  // namespace detail

/// Reads a JSON Lines metrics file: one object per line with a numeric
/// "step" and numeric fields. Returns one series per field named in `fields`
/// (every numeric field but "step" when empty, in name order), holding the
/// lines that have it. Blank lines are skipped; a malformed line, or a line
/// without "step", is an error naming the file and line (io_error) — except
/// a malformed LAST line, which a writer killed mid-line leaves behind and
/// which is ignored.
inline std::vector<series> read_metrics_jsonl(const std::filesystem::path& path,
                                              const std::vector<std::string>& fields = {}) {
  const auto bytes = data::read_file_bytes("read_metrics_jsonl", path, std::uintmax_t(1) << 30);
  const std::string text(bytes.begin(), bytes.end());
  std::map<std::string, series> by_name;
  for (const auto& f : fields) by_name[f].name = f;
  std::size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    const bool last = end == std::string::npos;
    if (last) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    std::map<std::string, double> values;
    try {
      values = detail::json_line(line, attngan::detail::cat("'", path.string(), "' line ", line_no)).numbers();
    } catch (const value_error& e) {
      if (last) break;  // a line cut short by a killed writer
      throw io_error("read_metrics_jsonl", e.what());
    }
    const auto step = values.find("step");
    if (step == values.end())
      throw io_error("read_metrics_jsonl",
                     attngan::detail::cat("'", path.string(), "' line ", line_no, ": no numeric \"step\""));
    for (const auto& [k, v] : values) {
      if (k == "step") continue;
      if (!fields.empty() && !by_name.count(k)) continue;
      series& s = by_name[k];
      s.name = k;
      s.steps.push_back(step->second);
      s.values.push_back(v);
    }
  }
  std::vector<series> out;
  if (fields.empty()) {
    for (auto& [k, s] : by_name) out.push_back(std::move(s));
  } else {
    for (const auto& f : fields) out.push_back(std::move(by_name[f]));
  }
  return out;
}

// ---------------------------------------------------------------------------
// The report

/// One generated image and its caption.
struct sample {
  data::image image;
  std::string caption;
};

/// One row of an attention figure: a stage's image and its (T, h, w) maps.
struct attention_row {
  std::string label;            ///< e.g. "stage 2 (64×64)"
  data::image image;
  std::vector<float> maps;      ///< T · h · w values, word-major
  int words = 0, height = 0, width = 0;
};

class html_report {
 public:
  explicit html_report(std::string title) : title_(std::move(title)) {}

  void add_heading(const std::string& text) { body_ += "<h2>" + html_escape(text) + "</h2>\n"; }
  void add_paragraph(const std::string& text) { body_ += "<p>" + html_escape(text) + "</p>\n"; }

  /// Loss curves: every series as a polyline over a shared step axis, y from
  /// the smallest to the largest finite value (non-finite points are skipped).
  void add_loss_curves(const std::string& title, const std::vector<series>& curves, int width = 720,
                       int height = 300) {
    for (const auto& c : curves)
      if (c.steps.size() != c.values.size())
        throw shape_error("html_report::add_loss_curves", attngan::detail::cat("series '", c.name, "' has ",
                                                                                c.steps.size(), " steps and ",
                                                                                c.values.size(), " values"));
    double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
    for (const auto& c : curves)
      for (std::size_t i = 0; i < c.steps.size(); ++i)
        if (std::isfinite(c.steps[i]) && std::isfinite(c.values[i])) {
          x0 = std::min(x0, c.steps[i]);
          x1 = std::max(x1, c.steps[i]);
          y0 = std::min(y0, c.values[i]);
          y1 = std::max(y1, c.values[i]);
        }
    if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;  // nothing to draw
    if (x1 == x0) x1 = x0 + 1;
    if (y1 == y0) y1 = y0 + 1;
    const double left = 60, right = 150, top = 24, bottom = 36;
    const double pw = width - left - right, ph = height - top - bottom;
    const auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
    const auto py = [&](double y) { return top + (1 - (y - y0) / (y1 - y0)) * ph; };
    static constexpr const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                              "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    std::ostringstream s;
    s.precision(6);
    s << "<h2>" << html_escape(title) << "</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width
      << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << ' ' << height << "\" class=\"curves\">\n";
    s << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
      << "\" fill=\"none\" stroke=\"#999\"/>\n";
    for (int k = 0; k <= 4; ++k) {  // axis labels
      const double yv = y0 + (y1 - y0) * k / 4, xv = x0 + (x1 - x0) * k / 4;
      s << "<text x=\"" << left - 4 << "\" y=\"" << py(yv) + 4 << "\" text-anchor=\"end\" font-size=\"11\">" << yv
        << "</text>\n";
      s << "<text x=\"" << px(xv) << "\" y=\"" << height - bottom + 16 << "\" text-anchor=\"middle\" font-size=\"11\">"
        << xv << "</text>\n";
    }
    s << "<text x=\"" << left + pw / 2 << "\" y=\"" << height - 4 << "\" text-anchor=\"middle\" font-size=\"12\">step</text>\n";
    for (std::size_t c = 0; c < curves.size(); ++c) {
      const char* colour = colours[c % std::size(colours)];
      s << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.5\" points=\"";
      for (std::size_t i = 0; i < curves[c].steps.size(); ++i)
        if (std::isfinite(curves[c].steps[i]) && std::isfinite(curves[c].values[i]))
          s << px(curves[c].steps[i]) << ',' << py(curves[c].values[i]) << ' ';
      s << "\"/>\n";
      const double ly = top + 14 + 16 * double(c);
      s << "<line x1=\"" << width - right + 10 << "\" y1=\"" << ly - 4 << "\" x2=\"" << width - right + 30
        << "\" y2=\"" << ly - 4 << "\" stroke=\"" << colour << "\" stroke-width=\"2\"/>";
      s << "<text x=\"" << width - right + 34 << "\" y=\"" << ly << "\" font-size=\"12\">"
        << html_escape(curves[c].name) << "</text>\n";
    }
    s << "</svg>\n";
    body_ += s.str();
  }

  /// A grid of images, `columns` per row, each with its caption below.
  void add_sample_sheet(const std::string& title, const std::vector<sample>& samples, int columns = 4,
                        int display_size = 128) {
    if (columns < 1) throw value_error("html_report::add_sample_sheet", "columns must be at least 1");
    std::string s = "<h2>" + html_escape(title) + "</h2>\n<table class=\"sheet\">\n";
    for (std::size_t i = 0; i < samples.size(); i += std::size_t(columns)) {
      s += "<tr>";
      for (std::size_t j = i; j < std::min(samples.size(), i + std::size_t(columns)); ++j) {
        s += "<td><img src=\"" + png_data_uri(samples[j].image) + "\" width=\"" + std::to_string(display_size) +
             "\" height=\"" + std::to_string(display_size) + "\" alt=\"sample\"><div class=\"caption\">" +
             html_escape(samples[j].caption) + "</div></td>";
      }
      s += "</tr>\n";
    }
    body_ += s + "</table>\n";
  }

  /// The paper's attention figure for one caption: per row (stage) the
  /// image, then one overlay per word labelled with the word. `words` must
  /// have one entry per map (rows may have fewer maps: the first T words).
  void add_attention_figure(const std::string& caption, const std::vector<std::string>& words,
                            const std::vector<attention_row>& rows, int display_size = 96) {
    std::string s = "<div class=\"attention\"><p class=\"caption\">" + html_escape(caption) + "</p>\n<table>\n";
    for (const auto& r : rows) {
      if (r.words < 0 || r.height <= 0 || r.width <= 0 ||
          r.maps.size() != std::size_t(r.words) * std::size_t(r.height) * std::size_t(r.width))
        throw shape_error("html_report::add_attention_figure",
                          attngan::detail::cat("row '", r.label, "': ", r.maps.size(), " values for ", r.words,
                                               " maps of ", r.height, "x", r.width));
      if (std::size_t(r.words) > words.size())
        throw shape_error("html_report::add_attention_figure",
                          attngan::detail::cat("row '", r.label, "' has ", r.words, " maps but the caption ",
                                               words.size(), " words"));
      const std::string size = "\" width=\"" + std::to_string(display_size) + "\" height=\"" +
                               std::to_string(display_size) + "\"";
      s += "<tr><td><img src=\"" + png_data_uri(r.image) + size + " alt=\"image\"><div class=\"word\">" +
           html_escape(r.label) + "</div></td>";
      for (int t = 0; t < r.words; ++t) {
        const data::image overlay =
            attention_overlay(r.image, r.maps.data() + std::size_t(t) * std::size_t(r.height) * std::size_t(r.width),
                              r.height, r.width);
        s += "<td><img src=\"" + png_data_uri(overlay) + size + " alt=\"attention\"><div class=\"word\">" +
             html_escape(words[std::size_t(t)]) + "</div></td>";
      }
      s += "</tr>\n";
    }
    body_ += s + "</table></div>\n";
  }

  /// A row from tensors: image (3, H, W) in [-1, 1], attention (T, h, w).
  template <real T, backend B>
  static attention_row make_attention_row(std::string label, const tensor<T, B>& image, const tensor<T, B>& attention) {
    if (!attention.defined() || attention.rank() != 3)
      throw shape_error("html_report::make_attention_row",
                        attngan::detail::cat("attention must be (T, h, w), got ",
                                             attention.defined() ? attention.shape() : shape()));
    attention_row r;
    r.label = std::move(label);
    r.image = image_from_tensor(image);
    const std::vector<T> v = attention.to_vector();
    r.maps.assign(v.begin(), v.end());
    r.words = int(attention.shape()[0]);
    r.height = int(attention.shape()[1]);
    r.width = int(attention.shape()[2]);
    return r;
  }

  /// The whole document.
  [[nodiscard]] std::string render() const {
    return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + html_escape(title_) +
           "</title>\n<style>\nbody{font-family:sans-serif;margin:2em;color:#222}\n"
           "table{border-collapse:collapse}td{padding:4px;vertical-align:top;text-align:center}\n"
           ".caption{max-width:160px;font-size:12px;margin:auto}.word{font-size:12px}\n"
           ".attention .caption{max-width:none;font-style:italic;text-align:left}\n"
           "img{image-rendering:pixelated}\n</style>\n</head>\n<body>\n<h1>" +
           html_escape(title_) + "</h1>\n" + body_ + "</body>\n</html>\n";
  }

  /// Renders and writes the file atomically (temporary file + rename).
  void write(const std::filesystem::path& path) const {
    data::write_text_atomically("html_report::write", path, render());
  }

 private:
  std::string title_;
  std::string body_;
};

}  // namespace attngan::report
