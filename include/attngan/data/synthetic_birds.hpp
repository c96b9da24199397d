// attngan/data/synthetic_birds.hpp — a deterministic generator of synthetic
// birds in the CUB-200-2011 + Reed et al. captions layout (spec §2.1), and a
// reader that recovers each part's colour from an image.
//
// Real CUB cannot be downloaded here, so every test and the default demo use
// these birds. A bird is drawn in one fixed side-view pose (facing right)
// from parts: a body ellipse, a belly (the lower body), a wing ellipse on the
// body, a head circle whose top is the crown, an eye dot, a beak triangle and
// a tail wedge. Each class has a characteristic colour per part (from CUB's
// colour words: red, orange, yellow, green, blue, brown, black, white, grey),
// a short or long beak and a short or long tail; each image varies the shades
// (±14 per channel), sometimes one part's colour, the bird's size and
// position, and a pale gradient-and-noise background whose colours stay far
// from the part palette. Ten captions per image describe random subsets of the
// attributes that are true for that image ("this bird has a red crown, blue
// wings and a short black beak"), in varied templates with the vocabulary of
// real CUB captions. The bounding box written to bounding_boxes.txt is the
// bird's frame: every part position is a fixed fraction of it, which is what
// lets read_part_colours sample each part at a known place — on the
// generator's own images, and (through map_to_stage in transforms.hpp) on the
// 64/128/256 stage images of the §10.1 pipeline. That makes "does the text
// steer the image" measurable: read the colours of a generated bird and
// compare them with its caption.
//
// Everything is a pure function of the options (seed included): the random
// numbers come from Philox streams (philox.hpp) keyed by the seed, with
// counters that name the class or image they serve, so any image can be drawn
// alone, in any order, on any thread, and is the same byte for byte.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "attngan/core/error.hpp"
#include "attngan/core/philox.hpp"
#include "attngan/data/file_io.hpp"
#include "attngan/data/image.hpp"
#include "attngan/data/pickle_write.hpp"
#include "attngan/data/transforms.hpp"

namespace attngan::data {

// ---------------------------------------------------------------------------
// Vocabulary: colours and parts.

enum class colour : std::uint8_t { red, orange, yellow, green, blue, brown, black, white, grey };
inline constexpr int colour_count = 9;

inline constexpr std::array<std::string_view, colour_count> colour_names = {
    "red", "orange", "yellow", "green", "blue", "brown", "black", "white", "grey"};

/// The RGB each colour word is drawn with. The closest pair (orange, yellow)
/// is 89 apart, so shade jitter of ±14 per channel (at most 24 in distance)
/// never moves a colour nearer to another word.
inline constexpr std::array<std::array<std::uint8_t, 3>, colour_count> colour_rgb_table = {{
    {200, 30, 35},    // red
    {245, 140, 25},   // orange
    {245, 225, 50},   // yellow
    {50, 150, 60},    // green
    {45, 80, 205},    // blue
    {125, 80, 40},    // brown
    {25, 25, 25},     // black
    {245, 245, 240},  // white
    {135, 135, 135},  // grey
}};

inline std::string_view colour_name(colour c) { return colour_names[std::size_t(c)]; }
inline const std::array<std::uint8_t, 3>& colour_rgb(colour c) { return colour_rgb_table[std::size_t(c)]; }

/// Parses a colour word ("grey"; "gray" too); throws value_error otherwise.
inline colour parse_colour(std::string_view word) {
  if (word == "gray") return colour::grey;
  for (int i = 0; i < colour_count; ++i)
    if (colour_names[std::size_t(i)] == word) return colour(i);
  throw value_error("parse_colour", detail::cat("'", word, "' is not one of the colour words"));
}

/// The parts whose colour a caption can name. `body` is the rest of the
/// plumage (back, nape, the head below the crown): "this bird is mostly grey".
enum class part : std::uint8_t { crown, wing, belly, tail, beak, eye, body };
inline constexpr int part_count = 7;
inline constexpr std::array<std::string_view, part_count> part_names = {"crown", "wing", "belly", "tail",
                                                                        "beak",  "eye",  "body"};
inline std::string_view part_name(part p) { return part_names[std::size_t(p)]; }

/// The colours a part can have (a class draws from these; the reader decides
/// among these). Eyes and beaks take the colours real birds' have in CUB.
inline std::span<const colour> part_palette(part p) {
  static constexpr colour all[] = {colour::red,   colour::orange, colour::yellow, colour::green, colour::blue,
                                   colour::brown, colour::black,  colour::white,  colour::grey};
  static constexpr colour eye[] = {colour::black, colour::red, colour::yellow, colour::orange, colour::white};
  static constexpr colour beak[] = {colour::black, colour::orange, colour::yellow,
                                    colour::grey,  colour::brown,  colour::red};
  switch (p) {
    case part::eye: return eye;
    case part::beak: return beak;
    default: return all;
  }
}

/// One colour per part, indexed by `part`.
struct part_colours {
  std::array<colour, part_count> c{};
  [[nodiscard]] colour& operator[](part p) { return c[std::size_t(p)]; }
  [[nodiscard]] colour operator[](part p) const { return c[std::size_t(p)]; }
  friend bool operator==(const part_colours&, const part_colours&) = default;
};

/// What is true of one drawn bird: the attribute set its captions describe.
struct bird_attributes {
  part_colours colours;
  bool long_beak = false;
  bool long_tail = false;
  friend bool operator==(const bird_attributes&, const bird_attributes&) = default;
};

// ---------------------------------------------------------------------------
// The pose, in "bird units": origin at the body's centre, u to the right
// (the bird faces +u), v down. The frame (= the bounding box) spans
// u in [frame_u0, frame_u0 + frame_w], v in [frame_v0, frame_v0 + frame_h]:
// from the end of a long tail to the tip of a long beak, from the top of the
// head to the bottom of the body, whatever this bird's lengths are, so part
// positions are fixed fractions of the box.
namespace pose {
inline constexpr double frame_u0 = -1.55, frame_w = 3.20;
inline constexpr double frame_v0 = -0.97, frame_h = 1.59;
// body ellipse
inline constexpr double body_rx = 0.90, body_ry = 0.62;
// belly: the body below the line v = belly_v0 - belly_slope * u
inline constexpr double belly_v0 = 0.22, belly_slope = 0.20;
// wing ellipse
inline constexpr double wing_cu = -0.15, wing_cv = -0.10, wing_rx = 0.60, wing_ry = 0.30;
// head circle; the crown is the head above v = crown_v
inline constexpr double head_cu = 0.78, head_cv = -0.55, head_r = 0.42, crown_v = -0.73;
// eye
inline constexpr double eye_cu = 0.93, eye_cv = -0.60, eye_r = 0.11;
// beak triangle: base at u = beak_u0 spanning beak_cv ± beak_half, tip at (beak_u0 + length, beak_tip_v)
inline constexpr double beak_u0 = 1.08, beak_cv = -0.52, beak_half = 0.16, beak_tip_v = -0.50;
inline constexpr double beak_short = 0.27, beak_long = 0.57;
// tail wedge: apex inside the body, far edge at u = tail_u0 - length from tail_v_top to tail_v_bottom
inline constexpr double tail_apex_u = -0.50, tail_apex_v = 0.0, tail_u0 = -0.85;
inline constexpr double tail_v_top = -0.12, tail_v_bottom = 0.30, tail_short = 0.35, tail_long = 0.70;

/// Where the reader samples each part (inside it, at least ~0.1 units from
/// any other part for both lengths of beak and tail).
inline constexpr std::array<std::array<double, 2>, part_count> sample_points = {{
    {head_cu, -0.85},  // crown
    {-0.15, -0.10},    // wing
    {0.30, 0.42},      // belly
    {-1.05, 0.06},     // tail
    {1.18, -0.52},     // beak
    {eye_cu, eye_cv},  // eye
    {0.62, -0.02},     // body
}};

/// The part that covers (u, v), topmost first; -1 for background.
inline int part_at(double u, double v, bool long_beak, bool long_tail) {
  const auto in_ellipse = [](double du, double dv, double rx, double ry) {
    return (du * du) / (rx * rx) + (dv * dv) / (ry * ry) <= 1.0;
  };
  // eye
  if ((u - eye_cu) * (u - eye_cu) + (v - eye_cv) * (v - eye_cv) <= eye_r * eye_r) return int(part::eye);
  // beak: between the base and the tip, within the linearly shrinking half-height
  const double beak_len = long_beak ? beak_long : beak_short;
  if (u >= beak_u0 && u <= beak_u0 + beak_len) {
    const double t = (u - beak_u0) / beak_len;  // 0 at the base, 1 at the tip
    const double centre = beak_cv + t * (beak_tip_v - beak_cv);
    if (std::abs(v - centre) <= beak_half * (1.0 - t)) return int(part::beak);
  }
  // head (crown on top, the rest body-coloured)
  if ((u - head_cu) * (u - head_cu) + (v - head_cv) * (v - head_cv) <= head_r * head_r)
    return v < crown_v ? int(part::crown) : int(part::body);
  if (in_ellipse(u - wing_cu, v - wing_cv, wing_rx, wing_ry)) return int(part::wing);
  if (in_ellipse(u, v, body_rx, body_ry)) return v > belly_v0 - belly_slope * u ? int(part::belly) : int(part::body);
  // tail wedge: from the apex (t = 0) to the far edge (t = 1)
  const double tail_end = tail_u0 - (long_tail ? tail_long : tail_short);
  if (u <= tail_apex_u && u >= tail_end) {
    const double t = (tail_apex_u - u) / (tail_apex_u - tail_end);
    const double top = tail_apex_v + t * (tail_v_top - tail_apex_v);
    const double bottom = tail_apex_v + t * (tail_v_bottom - tail_apex_v);
    if (v >= top && v <= bottom) return int(part::tail);
  }
  return -1;
}
}  // namespace pose

// ---------------------------------------------------------------------------
// Randomness.

/// Sequential draws from one Philox stream: block n of the stream (tag,
/// index) is philox4x32_10({n lo, n hi, index, tag}, key(seed)). The two high
/// counter words, which the library's generator leaves 0, name the class or
/// image a stream serves, so streams never overlap and need no bookkeeping.
class philox_stream {
 public:
  philox_stream(std::uint64_t seed, std::uint32_t tag, std::uint32_t index)
      : key_(philox::make_key(seed)), tag_(tag), index_(index) {}

  std::uint32_t next_u32() {
    if (lane_ == 4) {
      block_ = philox::philox4x32_10(
          philox::counter{{std::uint32_t(n_), std::uint32_t(n_ >> 32), index_, tag_}}, key_);
      ++n_;
      lane_ = 0;
    }
    return block_.v[lane_++];
  }
  /// Uniform in [0, 1) with 53 random bits (the philox.hpp double formula).
  double uniform() {
    const std::uint32_t lo = next_u32(), hi = next_u32();
    return philox::bits_to_uniform_double(lo, hi);
  }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n), n > 0.
  int below(int n) { return std::min(int(uniform() * n), n - 1); }
  /// Uniform integer in [lo, hi] (inclusive).
  int between(int lo, int hi) { return lo + below(hi - lo + 1); }
  bool chance(double p) { return uniform() < p; }
  template <class T>
  const T& pick(std::span<const T> items) {
    return items[std::size_t(below(int(items.size())))];
  }

 private:
  philox::key key_;
  std::uint32_t tag_, index_;
  std::uint64_t n_ = 0;
  philox::counter block_{};
  int lane_ = 4;
};

namespace detail {
// Stream tags: one family of streams per purpose.
inline constexpr std::uint32_t stream_class = 1, stream_split = 2, stream_image = 3, stream_noise = 4,
                               stream_caption = 5;
}  // namespace detail

// ---------------------------------------------------------------------------
// The dataset description.

struct synthetic_birds_options {
  std::uint64_t seed = 0;
  int classes = 10;           // 2..999 (CUB: 200)
  int images_per_class = 10;  // 1..9999 (CUB: ~60)
  int image_size = 256;       // square images, 32..4096 pixels per side
  int test_classes = -1;      // classes held out for test; -1: classes / 4 rounded, at least 1 (CUB: 50 of 200)
  int jpeg_quality = 95;      // > 90: stb_image_write keeps full chroma resolution
  /// 0 (default): an image keeps its class's colours except, one time in
  /// four, one of crown/wing/belly/tail. p > 0: instead, every part of every
  /// image draws its own colour with probability p — captions then tell
  /// images of one class apart, and colours combine beyond the classes seen.
  double colour_mixing = 0;
  bool overwrite = false;     // allow writing into a non-empty folder

  /// The number of test classes after resolving -1.
  [[nodiscard]] int resolved_test_classes() const {
    return test_classes >= 0 ? test_classes : std::max(1, int(std::lround(classes / 4.0)));
  }
  /// Throws value_error naming the bad option.
  void validate() const {
    const auto bad = [](const char* what, auto v, const char* range) {
      throw value_error("synthetic_birds", detail::cat(what, " = ", v, " is outside ", range));
    };
    if (classes < 2 || classes > 999) bad("classes", classes, "2..999");
    if (images_per_class < 1 || images_per_class > 9999) bad("images_per_class", images_per_class, "1..9999");
    if (image_size < 32 || image_size > 4096) bad("image_size", image_size, "32..4096");
    const int t = resolved_test_classes();
    if (t < 1 || t >= classes) bad("test_classes", t, "1..classes-1 (both splits need a class)");
    if (jpeg_quality < 1 || jpeg_quality > 100) bad("jpeg_quality", jpeg_quality, "1..100");
    if (!(colour_mixing >= 0 && colour_mixing <= 1)) bad("colour_mixing", colour_mixing, "0..1");
  }
};

/// One class: CUB-style number (1-based) and name, its characteristic
/// attributes, and its split.
struct synthetic_class {
  int id = 0;            // 1..classes, the "NNN" of the folder
  std::string name;      // "Red_crowned_Grey_Finch"
  bird_attributes typical;
  bool test = false;
  /// "NNN.Name", the folder under images/ and text/.
  [[nodiscard]] std::string folder() const {
    char num[16];
    std::snprintf(num, sizeof num, "%03d", id);
    return std::string(num) + "." + name;
  }
};

/// How one image is drawn, beyond its attributes.
struct bird_render {
  std::array<std::array<std::uint8_t, 3>, part_count> rgb{};  // jittered part colours
  std::array<std::uint8_t, 3> background_top{}, background_bottom{};
  int noise = 8;  // background noise amplitude (± per pixel)
};

/// One image: key, class, split, bounding box (the bird's frame), the
/// attributes that are true, how it is drawn, its ten captions.
struct synthetic_bird {
  std::string key;  // "001.Red_crowned_Grey_Finch/Red_crowned_Grey_Finch_0001"
  int index = 0;    // 0-based position in images.txt (its id is index + 1)
  int class_id = 0;
  bool test = false;
  bbox box;
  bird_attributes attributes;
  bird_render render;
  std::vector<std::string> captions;
};

struct synthetic_dataset {
  synthetic_birds_options options;
  std::vector<synthetic_class> classes;
  std::vector<synthetic_bird> birds;  // class by class, images.txt order
};

namespace detail {

/// Pale backgrounds, each at least 92 (RGB distance) from every part colour.
inline constexpr std::array<std::array<std::uint8_t, 3>, 6> background_palette = {{
    {160, 200, 230},  // sky
    {165, 220, 185},  // mint
    {215, 195, 155},  // sand
    {195, 170, 220},  // lavender
    {225, 165, 175},  // rose
    {240, 190, 150},  // peach
}};

inline constexpr std::array<std::string_view, 16> class_nouns = {
    "Warbler", "Finch",  "Sparrow",  "Tanager", "Wren",   "Vireo",   "Flycatcher", "Grosbeak",
    "Bunting", "Oriole", "Kingbird", "Thrush",  "Towhee", "Pipit",   "Waxwing",    "Shrike"};

inline std::string capitalised(std::string_view w) {
  std::string s(w);
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = char(s[0] - 'a' + 'A');
  return s;
}

inline int attribute_distance(const bird_attributes& a, const bird_attributes& b) {
  int d = (a.long_beak != b.long_beak) + (a.long_tail != b.long_tail);
  for (int p = 0; p < part_count; ++p) d += a.colours.c[std::size_t(p)] != b.colours.c[std::size_t(p)];
  return d;
}

inline bird_attributes draw_attributes(philox_stream& rng) {
  bird_attributes a;
  for (int p = 0; p < part_count; ++p) a.colours.c[std::size_t(p)] = rng.pick(part_palette(part(p)));
  a.long_beak = rng.chance(0.5);
  a.long_tail = rng.chance(0.5);
  return a;
}

// --- Captions ----------------------------------------------------------------

/// "a red", "an orange": the indefinite article for the word that follows.
inline std::string article(const std::string& next) {
  return (!next.empty() && std::string_view("aeiou").find(next[0]) != std::string_view::npos ? "an " : "a ") + next;
}

/// A noun phrase for one part of `a`, in one of several CUB-like wordings.
inline std::string part_phrase(part p, const bird_attributes& a, philox_stream& rng) {
  const std::string c(colour_name(a.colours[p]));
  const auto len = [&](bool is_long) -> std::string {
    if (is_long) return "long";
    return rng.chance(0.7) ? "short" : "small";
  };
  switch (p) {
    case part::crown: {
      switch (rng.below(3)) {
        case 0: return article(c) + " crown";
        case 1: return c + " feathers on its crown";
        default: return article(c) + " crown";
      }
    }
    case part::wing: return rng.chance(0.6) ? c + " wings" : c + " wing feathers";
    case part::belly: return rng.chance(0.65) ? article(c) + " belly" : article(c) + " underbelly";
    case part::tail: {
      switch (rng.below(4)) {
        case 0: return "a " + len(a.long_tail) + " " + c + " tail";
        case 1: return article(c) + " tail";
        case 2: return c + " tail feathers";
        default: return "a " + len(a.long_tail) + " " + c + " tail";
      }
    }
    case part::beak: {
      const std::string noun = rng.chance(0.7) ? "beak" : "bill";
      switch (rng.below(4)) {
        case 0: return article(c) + " " + noun;
        case 1: return "a " + len(a.long_beak) + " " + noun;
        default: return "a " + len(a.long_beak) + " " + c + " " + noun;
      }
    }
    case part::eye: return rng.chance(0.7) ? c + " eyes" : article(c) + " eye";
    case part::body: return rng.chance(0.5) ? article(c) + " body" : "a mostly " + c + " body";
  }
  return {};
}

/// "x", "x and y", "x, y and z".
inline std::string join_phrases(const std::vector<std::string>& items, philox_stream& rng) {
  std::string s;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) s += i + 1 == items.size() ? (i > 1 && rng.chance(0.3) ? ", and " : " and ") : ", ";
    s += items[i];
  }
  return s;
}

/// "wings are", "crown is": a part as the subject of a sentence.
inline std::string part_subject(part p) {
  switch (p) {
    case part::wing: return "wings are";
    case part::eye: return "eyes are";
    default: return std::string(part_name(p)) + " is";
  }
}

/// One caption naming 2-4 randomly chosen attributes of `a`, all true. The
/// body colour, when chosen, goes into the sentence frame ("this grey bird
/// has ..."); some frames name it anyway, which is true as well.
inline std::string make_caption(const bird_attributes& a, philox_stream& rng) {
  std::array<part, part_count> order{part::crown, part::wing, part::belly, part::tail,
                                     part::beak,  part::eye,  part::body};
  for (int i = part_count - 1; i > 0; --i) std::swap(order[std::size_t(i)], order[std::size_t(rng.below(i + 1))]);
  const int k = rng.between(2, 4);
  std::vector<part> parts;  // at least one: k >= 2 and only one of them can be the body
  for (int i = 0; i < k; ++i)
    if (order[std::size_t(i)] != part::body) parts.push_back(order[std::size_t(i)]);
  const std::string body(colour_name(a.colours[part::body]));
  const auto list = [&](std::size_t from) {
    std::vector<std::string> phrases;
    for (std::size_t i = from; i < parts.size(); ++i) phrases.push_back(part_phrase(parts[i], a, rng));
    return join_phrases(phrases, rng);
  };
  int form = rng.below(14);
  if ((form == 10 || form == 11) && parts.size() < 2) form = 0;  // those frames need two parts
  switch (form) {
    case 0: return "this bird has " + list(0);
    case 1: return "a small bird with " + list(0);
    case 2: return "this is " + article(body) + " bird with " + list(0);
    case 3: return "the bird has " + list(0);
    case 4: return article(body) + " bird with " + list(0);
    case 5: return "this " + body + " bird has " + list(0);
    case 6: return "this small bird has " + list(0);
    case 7: return "this bird is mostly " + body + " with " + list(0);
    case 8: return "this particular bird has " + list(0);
    case 9: return body + " bird with " + list(0);
    case 10: return "this bird has " + list(1) + " and its " + part_subject(parts[0]) + " " +
                    std::string(colour_name(a.colours[parts[0]]));
    case 11: return "the " + part_subject(parts[0]) + " " + std::string(colour_name(a.colours[parts[0]])) +
                    " and it has " + list(1);
    case 12: return "a bird with " + list(0) + " and " + article(body) + " body";
    default: return "this medium sized bird has " + list(0);
  }
}

// --- Drawing -------------------------------------------------------------------

/// Jitters one channel by d, clamped to a byte.
inline std::uint8_t shade(std::uint8_t v, int d) { return std::uint8_t(std::clamp(int(v) + d, 0, 255)); }

}  // namespace detail

/// Plans a dataset: classes, splits, per-image attributes, boxes, render
/// parameters and captions. Pure (no I/O); the same options give the same plan.
inline synthetic_dataset plan_synthetic_birds(const synthetic_birds_options& opt) {
  opt.validate();
  synthetic_dataset ds;
  ds.options = opt;
  // Classes: characteristic attributes, distinct from every earlier class in
  // at least two attributes (when the draws allow), and a unique CUB-like name.
  std::vector<std::string> names;
  for (int c = 0; c < opt.classes; ++c) {
    philox_stream rng(opt.seed, detail::stream_class, std::uint32_t(c));
    bird_attributes typical = detail::draw_attributes(rng);
    for (int attempt = 0; attempt < 200; ++attempt) {
      bool distinct = true;
      for (const auto& k : ds.classes) distinct = distinct && detail::attribute_distance(k.typical, typical) >= 2;
      if (distinct) break;
      typical = detail::draw_attributes(rng);
    }
    synthetic_class k;
    k.id = c + 1;
    k.typical = typical;
    const std::string stem = detail::capitalised(colour_name(typical.colours[part::crown])) + "_crowned_" +
                             detail::capitalised(colour_name(typical.colours[part::body])) + "_";
    const int first_noun = rng.below(int(detail::class_nouns.size()));
    for (std::size_t i = 0; i <= detail::class_nouns.size(); ++i) {
      k.name = i < detail::class_nouns.size()
                   ? stem + std::string(detail::class_nouns[(std::size_t(first_noun) + i) % detail::class_nouns.size()])
                   : stem + std::string(detail::class_nouns[std::size_t(first_noun)]) + "_" + std::to_string(k.id);
      if (std::find(names.begin(), names.end(), k.name) == names.end()) break;
    }
    names.push_back(k.name);
    ds.classes.push_back(std::move(k));
  }
  // Split: test classes drawn without replacement (disjoint from train, as CUB).
  {
    philox_stream rng(opt.seed, detail::stream_split, 0);
    std::vector<int> ids(std::size_t(opt.classes));
    for (int i = 0; i < opt.classes; ++i) ids[std::size_t(i)] = i;
    for (int i = opt.classes - 1; i > 0; --i) std::swap(ids[std::size_t(i)], ids[std::size_t(rng.below(i + 1))]);
    for (int i = 0; i < opt.resolved_test_classes(); ++i) ds.classes[std::size_t(ids[std::size_t(i)])].test = true;
  }
  // Images.
  const int size = opt.image_size;
  ds.birds.reserve(std::size_t(opt.classes) * std::size_t(opt.images_per_class));
  int serial = 0;
  for (const auto& k : ds.classes) {
    for (int i = 0; i < opt.images_per_class; ++i, ++serial) {
      synthetic_bird b;
      b.index = serial;
      b.class_id = k.id;
      b.test = k.test;
      char num[16];
      std::snprintf(num, sizeof num, "%04d", i + 1);
      b.key = k.folder() + "/" + k.name + "_" + num;
      philox_stream rng(opt.seed, detail::stream_image, std::uint32_t(serial));
      // Per-image variation of the class: sometimes one part changes colour.
      b.attributes = k.typical;
      if (opt.colour_mixing > 0) {
        for (int p = 0; p < part_count; ++p)
          if (rng.chance(opt.colour_mixing)) b.attributes.colours[part(p)] = rng.pick(part_palette(part(p)));
      } else if (rng.chance(0.25)) {
        static constexpr part varying[] = {part::crown, part::wing, part::belly, part::tail};
        const part p = rng.pick(std::span<const part>(varying));
        b.attributes.colours[p] = rng.pick(part_palette(p));
      }
      // Shades, background.
      for (int p = 0; p < part_count; ++p)
        for (int ch = 0; ch < 3; ++ch)
          b.render.rgb[std::size_t(p)][std::size_t(ch)] =
              detail::shade(colour_rgb(b.attributes.colours.c[std::size_t(p)])[std::size_t(ch)], rng.between(-14, 14));
      const int top = rng.below(int(detail::background_palette.size()));
      const int bottom = (top + 1 + rng.below(int(detail::background_palette.size()) - 1)) %
                         int(detail::background_palette.size());
      b.render.background_top = detail::background_palette[std::size_t(top)];
      b.render.background_bottom = detail::background_palette[std::size_t(bottom)];
      b.render.noise = rng.between(4, 10);
      // Frame: 45-75 % of the image wide, off centre by up to 30 % of the
      // free space each way. Like CUB's photographs the bird is mostly central:
      // the §10.1 crop (1.5x the box, then a random 256 of 304) then keeps the
      // whole bird in most training crops.
      const int fw = std::max(16, int(std::lround(rng.uniform(0.45, 0.75) * size)));
      const int fh = std::max(8, int(std::lround(fw * pose::frame_h / pose::frame_w)));
      b.box.w = fw;
      b.box.h = fh;
      b.box.x = std::clamp(int(std::lround((size - fw) * rng.uniform(0.2, 0.8))), 0, size - fw);
      b.box.y = std::clamp(int(std::lround((size - fh) * rng.uniform(0.2, 0.8))), 0, size - fh);
      // Captions.
      philox_stream text_rng(opt.seed, detail::stream_caption, std::uint32_t(serial));
      for (int n = 0; n < 10; ++n) b.captions.push_back(detail::make_caption(b.attributes, text_rng));
      ds.birds.push_back(std::move(b));
    }
  }
  return ds;
}

/// Draws one planned bird on its background (image_size x image_size).
/// Pixels inside the frame are 2x2 supersampled, so part edges are smooth.
inline image draw_bird(const synthetic_bird& b, int image_size, std::uint64_t seed) {
  image img(image_size, image_size);
  const auto& top = b.render.background_top;
  const auto& bottom = b.render.background_bottom;
  // Background: vertical gradient plus grey noise from the image's own stream.
  philox_stream noise(seed, detail::stream_noise, std::uint32_t(b.index));
  const int amplitude = b.render.noise;
  for (int y = 0; y < image_size; ++y) {
    const double t = image_size > 1 ? double(y) / (image_size - 1) : 0.0;
    std::array<int, 3> base{};
    for (int c = 0; c < 3; ++c)
      base[std::size_t(c)] = int(std::lround(top[std::size_t(c)] + t * (bottom[std::size_t(c)] - top[std::size_t(c)])));
    std::uint8_t* row = img.pixel(0, y);
    for (int x = 0; x < image_size; x += 4) {
      const std::uint32_t bits = noise.next_u32();
      for (int j = 0; j < 4 && x + j < image_size; ++j) {
        const int d = int((bits >> (8 * j)) & 0xFF) % (2 * amplitude + 1) - amplitude;
        for (int c = 0; c < 3; ++c) row[3 * (x + j) + c] = detail::shade(std::uint8_t(base[std::size_t(c)]), d);
      }
    }
  }
  // The bird: map each subsample to bird units and colour it by the part it hits.
  const double su = pose::frame_w / b.box.w, sv = pose::frame_h / b.box.h;
  const int x0 = std::max(0, b.box.x - 1), x1 = std::min(image_size, b.box.x + b.box.w + 1);
  const int y0 = std::max(0, b.box.y - 1), y1 = std::min(image_size, b.box.y + b.box.h + 1);
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) {
      std::uint8_t* px = img.pixel(x, y);
      int sum[3] = {0, 0, 0};
      int hits = 0;
      for (int sy = 0; sy < 2; ++sy)
        for (int sx = 0; sx < 2; ++sx) {
          const double u = pose::frame_u0 + (x + 0.25 + 0.5 * sx - b.box.x) * su;
          const double v = pose::frame_v0 + (y + 0.25 + 0.5 * sy - b.box.y) * sv;
          const int p = pose::part_at(u, v, b.attributes.long_beak, b.attributes.long_tail);
          const std::uint8_t* rgb = p >= 0 ? b.render.rgb[std::size_t(p)].data() : px;
          for (int c = 0; c < 3; ++c) sum[c] += rgb[c];
          hits += p >= 0;
        }
      if (hits)
        for (int c = 0; c < 3; ++c) px[c] = std::uint8_t((sum[c] + 2) / 4);
    }
  }
  return img;
}

/// The frame of a bounding box (not mirrored), for read_part_colours.
inline frame frame_of(const bbox& b) { return frame{double(b.x), double(b.y), double(b.w), double(b.h), false}; }

/// Where bird-unit point (u, v) of the bird in frame f lies in the image:
/// continuous pixel coordinates (x, y), pixel (i, j) spanning [i, i + 1).
inline std::array<double, 2> bird_to_pixel(const frame& f, double u, double v) {
  const double fx = (u - pose::frame_u0) * f.w / pose::frame_w;
  return {f.mirrored ? f.x + f.w - fx : f.x + fx, f.y + (v - pose::frame_v0) * f.h / pose::frame_h};
}

namespace detail {

/// Mean colour around bird-unit point (u, v) of the bird in frame f: nine
/// bilinear samples on a 3x3 grid of radius 0.04 units (at least the point
/// itself), which averages out JPEG noise without leaving the part.
inline std::array<double, 3> sample_bird(const image& img, const frame& f, double u, double v) {
  const auto to_x = [&](double uu) { return bird_to_pixel(f, uu, v)[0]; };
  const auto to_y = [&](double vv) { return bird_to_pixel(f, u, vv)[1]; };
  const auto bilinear = [&](double x, double y, std::array<double, 3>& acc) {
    // Pixel (i, j) is centred at (i + 0.5, j + 0.5); clamp to the image.
    const double cx = std::clamp(x - 0.5, 0.0, double(img.width - 1));
    const double cy = std::clamp(y - 0.5, 0.0, double(img.height - 1));
    const int ix = std::min(int(cx), img.width - 1), iy = std::min(int(cy), img.height - 1);
    const int jx = std::min(ix + 1, img.width - 1), jy = std::min(iy + 1, img.height - 1);
    const double ax = cx - ix, ay = cy - iy;
    for (int c = 0; c < 3; ++c) {
      const double top = img.pixel(ix, iy)[c] * (1 - ax) + img.pixel(jx, iy)[c] * ax;
      const double bot = img.pixel(ix, jy)[c] * (1 - ax) + img.pixel(jx, jy)[c] * ax;
      acc[std::size_t(c)] += top * (1 - ay) + bot * ay;
    }
  };
  std::array<double, 3> acc{0, 0, 0};
  const double r = 0.04;
  for (int i = -1; i <= 1; ++i)
    for (int j = -1; j <= 1; ++j) bilinear(to_x(u + i * r), to_y(v + j * r), acc);
  for (auto& a : acc) a /= 9.0;
  return acc;
}

inline double rgb_distance2(const std::array<double, 3>& a, const std::array<std::uint8_t, 3>& b) {
  double d = 0;
  for (int c = 0; c < 3; ++c) d += (a[std::size_t(c)] - b[std::size_t(c)]) * (a[std::size_t(c)] - b[std::size_t(c)]);
  return d;
}

inline double rgb_distance2(const std::array<double, 3>& a, const std::array<double, 3>& b) {
  double d = 0;
  for (int c = 0; c < 3; ++c) d += (a[std::size_t(c)] - b[std::size_t(c)]) * (a[std::size_t(c)] - b[std::size_t(c)]);
  return d;
}

inline void check_readable(const char* op, const image& img, const frame& f) {
  if (img.empty()) throw value_error(op, "the image is empty");
  if (!(f.w > 0) || !(f.h > 0))
    throw value_error(op, detail::cat("frame ", f.w, "x", f.h, " at (", f.x, ", ", f.y, ") is empty"));
}

}  // namespace detail

namespace detail {
/// The probes of the length reading: (u, v) of the point between the short
/// and the long tip, and of the background beside it.
inline constexpr double beak_probe_u = pose::beak_u0 + 0.5 * (pose::beak_short + pose::beak_long);
inline constexpr double beak_probe_v =
    pose::beak_cv + (beak_probe_u - pose::beak_u0) / pose::beak_long * (pose::beak_tip_v - pose::beak_cv);
inline constexpr double beak_background_v = -0.85;
inline constexpr double tail_probe_u = pose::tail_u0 - 0.5 * (pose::tail_short + pose::tail_long);
inline constexpr double tail_probe_v = 0.5 * (pose::tail_v_top + pose::tail_v_bottom);
inline constexpr double tail_background_v = -0.55;

inline bool point_in_view(const image& img, const frame& f, double u, double v) {
  const double margin = 0.06;  // the sampling grid's radius and then some
  for (double du : {-margin, margin})
    for (double dv : {-margin, margin}) {
      const double fx = (u + du - pose::frame_u0) * f.w / pose::frame_w;
      const double x = f.mirrored ? f.x + f.w - fx : f.x + fx;
      const double y = f.y + (v + dv - pose::frame_v0) * f.h / pose::frame_h;
      if (!(x >= 0 && y >= 0 && x <= img.width && y <= img.height)) return false;
    }
  return true;
}
}  // namespace detail

/// Which parts a reader can see: true where the part's sample point (and
/// the small patch around it) lies inside the image. After the §10.1 random
/// crop a bird near the border of its photograph can lose its tail or beak.
inline std::array<bool, part_count> parts_in_view(const image& img, const frame& f) {
  std::array<bool, part_count> out{};
  for (int p = 0; p < part_count; ++p) {
    const auto& pt = pose::sample_points[std::size_t(p)];
    out[std::size_t(p)] = detail::point_in_view(img, f, pt[0], pt[1]);
  }
  return out;
}

/// Whether the beak's and the tail's length probes are inside the image.
inline std::array<bool, 2> lengths_in_view(const image& img, const frame& f) {
  using namespace detail;
  return {point_in_view(img, f, beak_probe_u, beak_probe_v) && point_in_view(img, f, beak_probe_u, beak_background_v) &&
              parts_in_view(img, f)[std::size_t(part::beak)],
          point_in_view(img, f, tail_probe_u, tail_probe_v) && point_in_view(img, f, tail_probe_u, tail_background_v) &&
              parts_in_view(img, f)[std::size_t(part::tail)]};
}

/// Reads each part's colour word from a bird drawn in `f` (the bounding box,
/// possibly mapped through the §10.1 pipeline by map_to_stage; `mirrored`
/// when it was flipped): the mean colour at the part's known place, nearest
/// (RGB distance) among the part's palette.
inline part_colours read_part_colours(const image& img, const frame& f) {
  detail::check_readable("read_part_colours", img, f);
  part_colours out;
  for (int p = 0; p < part_count; ++p) {
    const auto& pt = pose::sample_points[std::size_t(p)];
    const auto mean = detail::sample_bird(img, f, pt[0], pt[1]);
    double best = 1e300;
    for (colour c : part_palette(part(p))) {
      const double d = detail::rgb_distance2(mean, colour_rgb(c));
      if (d < best) {
        best = d;
        out.c[std::size_t(p)] = c;
      }
    }
  }
  return out;
}

/// read_part_colours on the generator's own image, given its bounding box.
inline part_colours read_part_colours(const image& img, const bbox& box) { return read_part_colours(img, frame_of(box)); }

/// Reads colours and lengths. A beak (tail) is long when the colour halfway
/// between the short and the long tip, on the part's centre line, is nearer
/// to the part's own colour than to the background just outside the bird.
inline bird_attributes read_bird_attributes(const image& img, const frame& f) {
  detail::check_readable("read_bird_attributes", img, f);
  bird_attributes a;
  a.colours = read_part_colours(img, f);
  const auto own = [&](part p) {
    const auto& pt = pose::sample_points[std::size_t(p)];
    return detail::sample_bird(img, f, pt[0], pt[1]);
  };
  using namespace detail;
  {
    const auto probe = sample_bird(img, f, beak_probe_u, beak_probe_v);
    const auto background = sample_bird(img, f, beak_probe_u, beak_background_v);
    a.long_beak = rgb_distance2(probe, own(part::beak)) < rgb_distance2(probe, background);
  }
  {
    const auto probe = sample_bird(img, f, tail_probe_u, tail_probe_v);
    const auto background = sample_bird(img, f, tail_probe_u, tail_background_v);
    a.long_tail = rgb_distance2(probe, own(part::tail)) < rgb_distance2(probe, background);
  }
  return a;
}

inline bird_attributes read_bird_attributes(const image& img, const bbox& box) {
  return read_bird_attributes(img, frame_of(box));
}

// ---------------------------------------------------------------------------
// Writing the layout.

/// Progress of write_synthetic_birds: images written so far, of `total`.
using synthetic_progress = std::function<void(std::size_t written, std::size_t total)>;

namespace detail {

inline void make_folder(const std::filesystem::path& p) {
  std::error_code ec;
  std::filesystem::create_directories(p, ec);
  if (ec || !std::filesystem::is_directory(p))
    throw io_error("write_synthetic_birds", detail::cat("cannot create folder '", p.string(), "' (",
                                                        ec ? ec.message() : "not a folder", ")"));
}

inline const char* split_name(bool test) { return test ? "test" : "train"; }

}  // namespace detail

/// Name of the file (at the dataset root) listing every image's attributes.
inline constexpr std::string_view synthetic_attributes_file = "synthetic_birds.txt";

/// Writes the dataset to `root` in the layout of spec §2.1:
///   CUB_200_2011/images.txt, bounding_boxes.txt, classes.txt,
///     image_class_labels.txt, train_test_split.txt,
///     images/<NNN.Class>/<Class>_<NNNN>.jpg
///   text/<NNN.Class>/<Class>_<NNNN>.txt           (10 captions)
///   train/filenames.txt, filenames.pickle, class_info.pickle (and test/)
///   synthetic_birds.txt                            (attributes per image)
/// Every file is written atomically. Images are drawn and encoded on all
/// OpenMP threads; `progress` is called from one thread at a time. Refuses a
/// non-empty `root` unless options.overwrite. Returns the plan.
inline synthetic_dataset write_synthetic_birds(const std::filesystem::path& root, const synthetic_birds_options& opt,
                                               const synthetic_progress& progress = {}) {
  namespace fs = std::filesystem;
  synthetic_dataset ds = plan_synthetic_birds(opt);
  std::error_code ec;
  if (fs::exists(root, ec) && !fs::is_directory(root, ec))
    throw io_error("write_synthetic_birds", detail::cat("'", root.string(), "' exists and is not a folder"));
  if (fs::is_directory(root, ec) && !fs::is_empty(root, ec) && !opt.overwrite)
    throw io_error("write_synthetic_birds",
                   detail::cat("'", root.string(), "' is not empty; choose a new folder or allow overwriting"));
  const fs::path cub = root / "CUB_200_2011";
  detail::make_folder(cub / "images");
  detail::make_folder(root / "text");
  detail::make_folder(root / "train");
  detail::make_folder(root / "test");
  for (const auto& k : ds.classes) {
    detail::make_folder(cub / "images" / k.folder());
    detail::make_folder(root / "text" / k.folder());
  }

  // Metadata.
  std::ostringstream images_txt, boxes_txt, classes_txt, labels_txt, split_txt, attributes_txt;
  for (const auto& k : ds.classes) classes_txt << k.id << ' ' << k.folder() << '\n';
  attributes_txt << "# attngan synthetic birds: seed " << opt.seed << ", " << opt.classes << " classes, "
                 << opt.images_per_class << " images per class, " << opt.image_size << " px, "
                 << opt.resolved_test_classes() << " test classes\n"
                 << "# key class split x y w h crown wing belly tail beak eye body beak_length tail_length\n";
  std::vector<std::string> keys[2];
  std::vector<std::int64_t> class_ids[2];
  for (const auto& b : ds.birds) {
    const int id = b.index + 1;
    images_txt << id << ' ' << b.key << ".jpg\n";
    boxes_txt << id << ' ' << b.box.x << ".0 " << b.box.y << ".0 " << b.box.w << ".0 " << b.box.h << ".0\n";
    labels_txt << id << ' ' << b.class_id << '\n';
    split_txt << id << ' ' << (b.test ? 0 : 1) << '\n';
    keys[b.test].push_back(b.key);
    class_ids[b.test].push_back(b.class_id);
    attributes_txt << b.key << ' ' << b.class_id << ' ' << detail::split_name(b.test) << ' ' << b.box.x << ' '
                   << b.box.y << ' ' << b.box.w << ' ' << b.box.h;
    for (int p = 0; p < part_count; ++p) attributes_txt << ' ' << colour_name(b.attributes.colours.c[std::size_t(p)]);
    attributes_txt << ' ' << (b.attributes.long_beak ? "long" : "short") << ' '
                   << (b.attributes.long_tail ? "long" : "short") << '\n';
  }
  write_text_atomically("write_synthetic_birds", cub / "images.txt", images_txt.str());
  write_text_atomically("write_synthetic_birds", cub / "bounding_boxes.txt", boxes_txt.str());
  write_text_atomically("write_synthetic_birds", cub / "classes.txt", classes_txt.str());
  write_text_atomically("write_synthetic_birds", cub / "image_class_labels.txt", labels_txt.str());
  write_text_atomically("write_synthetic_birds", cub / "train_test_split.txt", split_txt.str());
  write_text_atomically("write_synthetic_birds", root / synthetic_attributes_file, attributes_txt.str());
  for (int s = 0; s < 2; ++s) {
    const fs::path folder = root / detail::split_name(s == 1);
    std::string list;
    for (const auto& k : keys[s]) list += k + "\n";
    write_text_atomically("write_synthetic_birds", folder / "filenames.txt", list);
    write_pickle_string_list(folder / "filenames.pickle", keys[s]);
    write_pickle_int_list(folder / "class_info.pickle", class_ids[s]);
  }

  // Images and captions, in parallel: every image is a pure function of its plan.
  const std::size_t total = ds.birds.size();
  std::atomic<std::size_t> written{0};
  std::mutex report;
  std::exception_ptr failure;
  const auto n = std::int64_t(total);
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t i = 0; i < n; ++i) {
    try {
      {
        std::lock_guard lock(report);
        if (failure) continue;
      }
      const synthetic_bird& b = ds.birds[std::size_t(i)];
      const image img = draw_bird(b, opt.image_size, opt.seed);
      write_jpeg(cub / "images" / (b.key + ".jpg"), img, opt.jpeg_quality);
      std::string text;
      for (const auto& c : b.captions) text += c + "\n";
      write_text_atomically("write_synthetic_birds", root / "text" / (b.key + ".txt"), text);
      const std::size_t done = written.fetch_add(1) + 1;
      if (progress) {
        std::lock_guard lock(report);
        progress(done, total);
      }
    } catch (...) {
      std::lock_guard lock(report);
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
  return ds;
}

/// One line of synthetic_birds.txt.
struct synthetic_record {
  std::string key;
  int class_id = 0;
  bool test = false;
  bbox box;
  bird_attributes attributes;
};

/// Reads `root`/synthetic_birds.txt (written by write_synthetic_birds): the
/// attribute set of every image, for scoring generated images against their
/// captions. io_error naming the file and line on anything malformed.
inline std::vector<synthetic_record> read_synthetic_attributes(const std::filesystem::path& root) {
  const std::filesystem::path path = root / synthetic_attributes_file;
  const auto bytes = read_file_bytes("read_synthetic_attributes", path, std::uintmax_t(256) << 20);
  std::istringstream in(std::string(bytes.begin(), bytes.end()));
  std::vector<synthetic_record> out;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    synthetic_record r;
    std::string split, words[part_count], beak, tail, extra;
    fields >> r.key >> r.class_id >> split >> r.box.x >> r.box.y >> r.box.w >> r.box.h;
    for (auto& w : words) fields >> w;
    fields >> beak >> tail;
    const bool ok = bool(fields) && !(fields >> extra) && (split == "train" || split == "test") &&
                    (beak == "short" || beak == "long") && (tail == "short" || tail == "long");
    if (!ok)
      throw io_error("read_synthetic_attributes",
                     detail::cat("'", path.string(), "' line ", line_no,
                                 ": expected 'key class split x y w h' + 7 colours + 2 lengths, got '", line, "'"));
    r.test = split == "test";
    try {
      for (int p = 0; p < part_count; ++p) r.attributes.colours.c[std::size_t(p)] = parse_colour(words[p]);
    } catch (const value_error& e) {
      throw io_error("read_synthetic_attributes", detail::cat("'", path.string(), "' line ", line_no, ": ", e.what()));
    }
    r.attributes.long_beak = beak == "long";
    r.attributes.long_tail = tail == "long";
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace attngan::data
