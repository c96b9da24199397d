// Tests for attngan/data/synthetic_birds.hpp and attngan/data/pickle_write.hpp:
// the layout written, determinism, captions that only state true attributes,
// and reading each part's colour back — from the generator's own images and
// from the 64/128/256 stage images of the §10.1 pipeline. The measured
// read-back accuracy per part is printed (doctest MESSAGE) and must be at
// least 95 %.
#include <attngan/data/synthetic_birds.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "scratch_folder.hpp"
#include "test_support.hpp"

namespace test_synthetic_birds {

namespace fs = std::filesystem;
using namespace attngan;
using namespace attngan::data;
using attngan::test::scratch_folder;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

/// The bytes of a string literal (which may hold NULs), without its terminator.
template <std::size_t N>
std::vector<std::uint8_t> bytes_of(const char (&s)[N]) {
  return {reinterpret_cast<const std::uint8_t*>(s), reinterpret_cast<const std::uint8_t*>(s) + N - 1};
}

synthetic_birds_options small_options(std::uint64_t seed = 7) {
  synthetic_birds_options o;
  o.seed = seed;
  o.classes = 6;
  o.images_per_class = 6;
  o.image_size = 128;
  return o;
}

/// One dataset for the read-back and layout tests (6 classes x 6 images, 128 px).
struct shared_dataset {
  scratch_folder dir{"synthetic"};
  synthetic_dataset ds;
  shared_dataset() { ds = write_synthetic_birds(dir.path(), small_options()); }
};
const shared_dataset& dataset() {
  static const shared_dataset d;
  return d;
}

}  // namespace

TEST_CASE("pickle_write: bytes equal CPython 3's pickle.dumps(obj, protocol=2)") {
  // Captured from /usr/bin/python3 (3.11).
  CHECK(pickle_string_list({}) == bytes_of("\x80\x02]q\x00."));
  CHECK(pickle_string_list({"a"}) == bytes_of("\x80\x02]q\x00X\x01\x00\x00\x00" "aq\x01" "a."));
  CHECK(pickle_string_list({"a", "bc"}) ==
        bytes_of("\x80\x02]q\x00(X\x01\x00\x00\x00" "aq\x01X\x02\x00\x00\x00" "bcq\x02" "e."));
  const std::vector<std::int64_t> ints = {1, 255, 256, 65535, 65536, -1, 2147483647LL, 2147483648LL, -2147483649LL,
                                          1LL << 40};
  const auto expect_ints = bytes_of(
      "\x80\x02]q\x00(K\x01K\xffM\x00\x01M\xff\xffJ\x00\x00\x01\x00J\xff\xff\xff\xffJ\xff\xff\xff\x7f"
      "\x8a\x05\x00\x00\x00\x80\x00\x8a\x05\xff\xff\xff\x7f\xff\x8a\x06\x00\x00\x00\x00\x00\x01"
      "e.");
  CHECK(pickle_int_list(ints) == expect_ints);
  // 1002 strings: a batch of 1000 and one of 2, memo indices past 255 as LONG_BINPUT.
  std::vector<std::string> many;
  for (int i = 0; i < 1002; ++i) many.push_back(std::to_string(i));
  const auto big = pickle_string_list(many);
  CHECK(big.size() == 12163);
  const auto tail = bytes_of("X\x04\x00\x00\x00" "1000r\xe9\x03\x00\x00X\x04\x00\x00\x00" "1001r\xea\x03\x00\x00" "e.");
  REQUIRE(tail.size() == 30);
  CHECK(std::vector<std::uint8_t>(big.end() - 30, big.end()) == tail);
}

TEST_CASE("synthetic birds: the plan is a pure function of the options") {
  const auto a = plan_synthetic_birds(small_options(3));
  const auto b = plan_synthetic_birds(small_options(3));
  const auto c = plan_synthetic_birds(small_options(4));
  REQUIRE(a.birds.size() == 36);
  bool all_same = true, any_different = false;
  for (std::size_t i = 0; i < a.birds.size(); ++i) {
    all_same = all_same && a.birds[i].key == b.birds[i].key && a.birds[i].attributes == b.birds[i].attributes &&
               a.birds[i].box == b.birds[i].box && a.birds[i].captions == b.birds[i].captions;
    any_different = any_different || !(a.birds[i].attributes == c.birds[i].attributes) ||
                    a.birds[i].captions != c.birds[i].captions;
  }
  CHECK(all_same);
  CHECK(any_different);
  // Drawing is deterministic too.
  CHECK(draw_bird(a.birds[5], 128, 3).rgb == draw_bird(b.birds[5], 128, 3).rgb);
  // Classes differ from each other in at least two attributes.
  for (std::size_t i = 0; i < a.classes.size(); ++i)
    for (std::size_t j = 0; j < i; ++j) {
      const auto& x = a.classes[i].typical;
      const auto& y = a.classes[j].typical;
      int d = (x.long_beak != y.long_beak) + (x.long_tail != y.long_tail);
      for (int p = 0; p < part_count; ++p) d += x.colours.c[std::size_t(p)] != y.colours.c[std::size_t(p)];
      CHECK(d >= 2);
    }
}

TEST_CASE("synthetic birds: colour_mixing draws part colours per image, the default keeps the classes'") {
  // Default: at most one part of an image differs from its class.
  const auto plain = plan_synthetic_birds(small_options(3));
  for (const auto& b : plain.birds) {
    const auto& typical = plain.classes[std::size_t(b.class_id - 1)].typical;
    int differ = 0;
    for (int p = 0; p < part_count; ++p) differ += b.attributes.colours.c[std::size_t(p)] != typical.colours.c[std::size_t(p)];
    CHECK(differ <= 1);
  }
  // Mixing 1: colours independent of the class — many images differ from it
  // in several parts, every colour is one its part may have, and the plan is
  // still a pure function of the options.
  auto o = small_options(3);
  o.colour_mixing = 1.0;
  const auto mixed = plan_synthetic_birds(o);
  REQUIRE(mixed.birds.size() == plain.birds.size());
  int several = 0;
  for (const auto& b : mixed.birds) {
    const auto& typical = mixed.classes[std::size_t(b.class_id - 1)].typical;
    int differ = 0;
    for (int p = 0; p < part_count; ++p) {
      const colour c = b.attributes.colours.c[std::size_t(p)];
      const auto allowed = part_palette(part(p));
      CHECK(std::find(allowed.begin(), allowed.end(), c) != allowed.end());
      differ += c != typical.colours.c[std::size_t(p)];
    }
    several += differ >= 3;
  }
  CHECK(several > int(mixed.birds.size()) / 2);
  CHECK(plan_synthetic_birds(o).birds[7].captions == mixed.birds[7].captions);
  o.colour_mixing = 1.5;
  CHECK_THROWS_AS(plan_synthetic_birds(o), value_error);
}

TEST_CASE("synthetic birds: bad options and non-empty folders are refused") {
  auto o = small_options();
  o.classes = 1;
  CHECK_THROWS_AS((void)plan_synthetic_birds(o), value_error);
  o = small_options();
  o.test_classes = 6;
  CHECK(test::message_of([&] { (void)plan_synthetic_birds(o); }).find("test_classes") != std::string::npos);
  o = small_options();
  o.image_size = 8;
  CHECK_THROWS_AS((void)plan_synthetic_birds(o), value_error);
  scratch_folder dir("synthetic-busy");
  dir.write("something.txt", "x");
  const std::string msg = test::message_of([&] { (void)write_synthetic_birds(dir.path(), small_options()); });
  CHECK(msg.find("not empty") != std::string::npos);
}

TEST_CASE("synthetic birds: the CUB layout of spec §2.1 is written, with disjoint class splits") {
  const auto& d = dataset();
  const fs::path root = d.dir.path();
  const auto& ds = d.ds;
  const auto images = lines_of(read_text(root / "CUB_200_2011" / "images.txt"));
  const auto boxes = lines_of(read_text(root / "CUB_200_2011" / "bounding_boxes.txt"));
  REQUIRE(images.size() == ds.birds.size());
  REQUIRE(boxes.size() == ds.birds.size());
  for (std::size_t i = 0; i < ds.birds.size(); ++i) {
    const auto& b = ds.birds[i];
    CHECK(images[i] == std::to_string(i + 1) + " " + b.key + ".jpg");
    std::istringstream row(boxes[i]);
    int id = 0;
    double x = 0, y = 0, w = 0, h = 0;
    row >> id >> x >> y >> w >> h;
    CHECK(id == int(i) + 1);
    CHECK(bbox{int(x), int(y), int(w), int(h)} == b.box);
    // images/<NNN.Class_Name>/<Class_Name>_<NNNN>.jpg and its 10 captions.
    const std::string folder = b.key.substr(0, b.key.find('/'));
    CHECK(folder.size() > 4);
    CHECK(folder[3] == '.');
    CHECK(b.key.substr(folder.size() + 1, folder.size() - 4) == folder.substr(4));
    const image img = read_image(root / "CUB_200_2011" / "images" / (b.key + ".jpg"));
    CHECK(img.width == 128);
    CHECK(img.height == 128);
    CHECK(lines_of(read_text(root / "text" / (b.key + ".txt"))) == b.captions);
    CHECK(b.captions.size() == 10);
    CHECK(b.box.x >= 0);
    CHECK(b.box.y >= 0);
    CHECK(b.box.x + b.box.w <= 128);
    CHECK(b.box.y + b.box.h <= 128);
  }
  // Split lists: text and pickle hold the same keys; classes are disjoint.
  std::set<std::string> classes_in[2];
  std::size_t total = 0;
  for (int s = 0; s < 2; ++s) {
    const fs::path folder = root / (s ? "test" : "train");
    const auto keys = lines_of(read_text(folder / "filenames.txt"));
    total += keys.size();
    std::vector<std::int64_t> ids;
    for (const auto& k : keys) {
      classes_in[s].insert(k.substr(0, k.find('/')));
      ids.push_back(std::stoi(k.substr(0, 3)));
    }
    const auto pickle = read_file_bytes("test", folder / "filenames.pickle", 1 << 20);
    CHECK(pickle == pickle_string_list(keys));
    CHECK(read_file_bytes("test", folder / "class_info.pickle", 1 << 20) == pickle_int_list(ids));
  }
  CHECK(total == ds.birds.size());
  CHECK(classes_in[1].size() == std::size_t(small_options().resolved_test_classes()));
  for (const auto& c : classes_in[1]) CHECK(classes_in[0].count(c) == 0);
  // The attribute file reads back as planned.
  const auto records = read_synthetic_attributes(root);
  REQUIRE(records.size() == ds.birds.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    CHECK(records[i].key == ds.birds[i].key);
    CHECK(records[i].attributes == ds.birds[i].attributes);
    CHECK(records[i].box == ds.birds[i].box);
    CHECK(records[i].test == ds.birds[i].test);
  }
}

TEST_CASE("synthetic birds: the same seed writes the same bytes") {
  scratch_folder dir("synthetic-again");
  auto o = small_options();
  o.classes = 2;
  o.images_per_class = 2;
  o.test_classes = 1;
  const auto ds = write_synthetic_birds(dir.path(), o);
  scratch_folder dir2("synthetic-again2");
  write_synthetic_birds(dir2.path(), o);
  for (const auto& b : ds.birds) {
    const fs::path rel = fs::path("CUB_200_2011") / "images" / (b.key + ".jpg");
    CHECK(read_file_bytes("test", dir.path() / rel, 1 << 20) == read_file_bytes("test", dir2.path() / rel, 1 << 20));
  }
}

TEST_CASE("synthetic birds: every caption states only attributes that are true of its image") {
  // Parses the patterns the templates use: "<colour> <part>", "<length>
  // [<colour>] beak|bill|tail", "<part> is|are <colour>", "<colour> bird",
  // "mostly <colour>", "<colour> feathers on its crown".
  const std::map<std::string, part> nouns = {
      {"crown", part::crown}, {"wings", part::wing}, {"wing", part::wing},   {"belly", part::belly},
      {"underbelly", part::belly}, {"tail", part::tail}, {"beak", part::beak}, {"bill", part::beak},
      {"eyes", part::eye},     {"eye", part::eye},      {"body", part::body}, {"bird", part::body}};
  const auto is_colour = [](const std::string& w) {
    for (auto n : colour_names)
      if (n == w) return true;
    return false;
  };
  int facts = 0, captions = 0;
  for (const auto& b : dataset().ds.birds) {
    for (const auto& caption : b.captions) {
      ++captions;
      std::vector<std::string> w;
      {
        std::string cleaned;
        for (char ch : caption) cleaned += (ch == ',' ? ' ' : ch);
        std::istringstream in(cleaned);
        std::string t;
        while (in >> t) w.push_back(t);
      }
      int stated = 0;
      for (std::size_t i = 0; i < w.size(); ++i) {
        const auto noun = nouns.find(w[i]);
        if (noun != nouns.end()) {
          const part p = noun->second;
          // "<colour> <part>" (and "red wing feathers").
          if (i >= 1 && is_colour(w[i - 1])) {
            CAPTURE(caption);
            CHECK(parse_colour(w[i - 1]) == b.attributes.colours[p]);
            ++stated;
          }
          // "<part> is|are <colour>".
          if (i + 2 < w.size() && (w[i + 1] == "is" || w[i + 1] == "are") && is_colour(w[i + 2])) {
            CAPTURE(caption);
            CHECK(parse_colour(w[i + 2]) == b.attributes.colours[p]);
            ++stated;
          }
          // "<length> [<colour>] beak|bill|tail".
          if (p == part::beak || p == part::tail) {
            std::size_t j = i;
            if (j >= 1 && is_colour(w[j - 1])) --j;
            if (j >= 1 && (w[j - 1] == "long" || w[j - 1] == "short" || w[j - 1] == "small")) {
              CAPTURE(caption);
              CHECK((w[j - 1] == "long") == (p == part::beak ? b.attributes.long_beak : b.attributes.long_tail));
              ++stated;
            }
          }
        }
        if (w[i] == "mostly" && i + 1 < w.size() && is_colour(w[i + 1])) {
          CHECK(parse_colour(w[i + 1]) == b.attributes.colours[part::body]);
          ++stated;
        }
        if (w[i] == "crown" && i >= 4 && w[i - 1] == "its" && w[i - 2] == "on" && is_colour(w[i - 4])) {
          CHECK(parse_colour(w[i - 4]) == b.attributes.colours[part::crown]);
          ++stated;
        }
      }
      CAPTURE(caption);
      CHECK(stated >= 1);
      facts += stated;
    }
  }
  MESSAGE("captions checked: " << captions << ", attribute statements verified: " << facts);
}

TEST_CASE("synthetic birds: part colours read back from the generator's own images and the pipeline stages") {
  const auto& d = dataset();
  const fs::path root = d.dir.path();
  // [0] own JPEGs; [1..3] the 64, 128, 256 stages of the §10.1 pipeline.
  int right[4][part_count] = {}, seen[4][part_count] = {};
  int length_right[4] = {}, length_seen[4] = {};
  generator rng(2024);
  for (const auto& b : d.ds.birds) {
    const image img = read_image(root / "CUB_200_2011" / "images" / (b.key + ".jpg"));
    transform_record rec;
    const auto stages = train_images(img, b.box, pipeline_sizes(64, 3), rng, &rec);
    for (int v = 0; v < 4; ++v) {
      const image& view = v == 0 ? img : stages[std::size_t(v - 1)];
      const frame f = v == 0 ? frame_of(b.box) : map_to_stage(rec, frame_of(b.box), view.width);
      const bird_attributes read = read_bird_attributes(view, f);
      const auto visible = parts_in_view(view, f);
      const auto lengths = lengths_in_view(view, f);
      if (v == 0) {
        // The generator's own images show the whole bird.
        for (bool in : visible) CHECK(in);
        CHECK(read_part_colours(view, b.box) == read.colours);
      }
      for (int p = 0; p < part_count; ++p) {
        if (!visible[std::size_t(p)]) continue;
        ++seen[v][p];
        right[v][p] += read.colours.c[std::size_t(p)] == b.attributes.colours.c[std::size_t(p)];
      }
      if (lengths[0]) {
        ++length_seen[v];
        length_right[v] += read.long_beak == b.attributes.long_beak;
      }
      if (lengths[1]) {
        ++length_seen[v];
        length_right[v] += read.long_tail == b.attributes.long_tail;
      }
    }
  }
  const char* names[] = {"own 128px JPEG", "stage 64", "stage 128", "stage 256"};
  for (int v = 0; v < 4; ++v) {
    std::ostringstream line;
    line << names[v] << ":";
    for (int p = 0; p < part_count; ++p) {
      line << ' ' << part_name(part(p)) << ' ' << right[v][p] << '/' << seen[v][p];
      CAPTURE(line.str());
      // Every part is visible in most pipeline crops and read right in >= 95 %.
      CHECK(seen[v][p] >= int(0.8 * double(d.ds.birds.size())));
      CHECK(right[v][p] >= 0.95 * seen[v][p]);
    }
    line << "; lengths " << length_right[v] << '/' << length_seen[v];
    CHECK(length_right[v] >= 0.9 * length_seen[v]);
    MESSAGE(line.str());
  }
}

TEST_CASE("synthetic birds: read_part_colours is not fooled by a mirrored bird") {
  const auto& b = dataset().ds.birds[3];
  image img = draw_bird(b, 128, dataset().ds.options.seed);
  flip_horizontal(img);
  frame f = frame_of(b.box);
  f.x = 128 - f.x - f.w;
  f.mirrored = true;
  CHECK(read_part_colours(img, f) == b.attributes.colours);
}

}  // namespace test_synthetic_birds
