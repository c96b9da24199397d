// tests/data/test_cub.cpp — the CUB layout reader (data/cub.hpp) on synthetic
// birds (data/synthetic_birds.hpp) and on hand-made layouts, including every
// kind of broken dataset the issue lists.
#include <attngan/data/cub.hpp>
#include <attngan/data/synthetic_birds.hpp>
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "scratch_folder.hpp"

namespace test_cub {

namespace {

using namespace attngan;
using namespace attngan::data;
using attngan::test::scratch_folder;
namespace fs = std::filesystem;

template <class F>
std::string io_error_message(F&& f) {
  return attngan::test::error_message<io_error>(std::forward<F>(f));
}

synthetic_dataset write_birds(const fs::path& root, int classes = 4, int per_class = 5) {
  synthetic_birds_options o;
  o.seed = 7;
  o.classes = classes;
  o.images_per_class = per_class;
  o.image_size = 64;
  return write_synthetic_birds(root, o);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

/// A hand-made layout of three train and two test images (real JPEGs),
/// captions from the golden captions.pickle (one caption per image).
void write_small_layout(const scratch_folder& dir) {
  const std::vector<std::string> train = {"001.A/a_1", "001.A/a_2", "002.B/b_1"};
  const std::vector<std::string> test = {"003.C/c_1", "003.C/c_2"};
  std::string images, boxes, train_txt, test_txt;
  int id = 1;
  for (const auto* keys : {&train, &test}) {
    for (const auto& k : *keys) {
      images += std::to_string(id) + " " + k + ".jpg\n";
      boxes += std::to_string(id) + " 4.0 6.0 20.0 16.0\n";
      ++id;
      image img(48, 40);
      for (auto& v : img.rgb) v = std::uint8_t(id * 30);
      fs::create_directories((dir / "CUB_200_2011/images" / k).parent_path());
      write_jpeg(dir / "CUB_200_2011/images" / (k + ".jpg"), img);
      (keys == &train ? train_txt : test_txt) += k + "\n";
    }
  }
  dir.write("CUB_200_2011/images.txt", images);
  dir.write("CUB_200_2011/bounding_boxes.txt", boxes);
  dir.write("train/filenames.txt", train_txt);
  dir.write("test/filenames.txt", test_txt);
  fs::copy_file(fs::path(ATTNGAN_TESTS_SOURCE_DIR) / "data/golden/captions_py2_p2.pickle", dir / "captions.pickle");
}

}  // namespace

TEST_CASE("cub: a synthetic birds dataset reads back as written") {
  scratch_folder dir("cub");
  const synthetic_dataset plan = write_birds(dir.path());
  const cub_dataset train = cub_dataset::open(dir.path(), split::train);
  const cub_dataset test = cub_dataset::open(dir.path(), split::test);
  CHECK(train.size() + test.size() == plan.birds.size());
  CHECK(test.size() == 5);  // one test class of five images
  CHECK(train.warnings().empty());

  std::size_t checked = 0;
  for (const auto& bird : plan.birds) {
    const cub_dataset& ds = bird.test ? test : train;
    std::size_t i = 0;
    while (i < ds.size() && ds.key(i) != bird.key) ++i;
    REQUIRE(i < ds.size());
    CHECK(ds.class_id(i) == bird.class_id);
    REQUIRE(ds.box(i).has_value());
    CHECK(*ds.box(i) == bird.box);
    CHECK(ds.image_path(i) == dir.path() / "CUB_200_2011/images" / (bird.key + ".jpg"));
    for (int k = 0; k < 10; ++k) {
      const auto expected = ds.vocab().encode(bird.captions[std::size_t(k)]).ids;
      const auto got = ds.caption(i, k);
      CHECK(std::vector<std::int64_t>(got.begin(), got.end()) == expected);
    }
    const image img = ds.load_image(i);
    CHECK(img.width == 64);
    ++checked;
  }
  CHECK(checked == plan.birds.size());

  // One vocabulary for both splits, built from train then test captions.
  CHECK(train.vocab().words() == test.vocab().words());
  CHECK(train.vocab().word(0) == "<end>");
  std::vector<std::vector<std::string>> tr, te;
  for (const auto& bird : plan.birds)
    for (const auto& c : bird.captions) (bird.test ? te : tr).push_back(tokenize_caption(c));
  // plan.birds is in images.txt order; the split lists keep that order.
  CHECK(train.vocab().words() == vocabulary::from_captions(tr, te).words());
  CHECK_THROWS_AS((void)train.caption(0, 10), value_error);
}

TEST_CASE("cub: fallbacks without pickles, bounding boxes or a built vocabulary") {
  scratch_folder dir("cub-fallback");
  write_birds(dir.path());
  const cub_dataset with_pickles = cub_dataset::open(dir.path(), split::train);
  for (const char* f : {"train/filenames.pickle", "train/class_info.pickle", "test/filenames.pickle"})
    fs::remove(dir / f);
  const cub_dataset plain = cub_dataset::open(dir.path(), split::train);
  REQUIRE(plain.size() == with_pickles.size());
  for (std::size_t i = 0; i < plain.size(); ++i) {
    CHECK(plain.key(i) == with_pickles.key(i));
    CHECK(plain.class_id(i) == with_pickles.class_id(i));  // from the "NNN." folder
  }
  CHECK(plain.vocab().words() == with_pickles.vocab().words());

  cub_options no_bbox;
  no_bbox.use_bbox = false;
  const cub_dataset unboxed = cub_dataset::open(dir.path(), split::train, no_bbox);
  CHECK(!unboxed.box(0).has_value());
  CHECK(unboxed.image_path(0) == with_pickles.image_path(0));

  // A given vocabulary (e.g. saved next to a model) is used as it is.
  cub_options given;
  given.vocab = with_pickles.vocab();
  const cub_dataset reused = cub_dataset::open(dir.path(), split::test, given);
  CHECK(reused.vocab().words() == with_pickles.vocab().words());
  given.vocab = vocabulary(std::vector<std::string>{"<end>", "this", "bird"});
  CHECK_CONTAINS(io_error_message([&] { cub_dataset::open(dir.path(), split::test, given); }),
                 "is not in the given vocabulary");

  // Keys without a "NNN." folder: every image its own class, as the original.
  scratch_folder flat("cub-flat");
  flat.write("train/filenames.txt", "x/one\nx/two\n");
  flat.write("test/filenames.txt", "x/three\n");
  std::string ten;
  for (int i = 0; i < 10; ++i) ten += "a small bird\n";
  for (const char* k : {"x/one", "x/two", "x/three"}) flat.write(std::string("text/") + k + ".txt", ten);
  cub_options unboxed_flat;
  unboxed_flat.use_bbox = false;
  const cub_dataset f = cub_dataset::open(flat.path(), split::train, unboxed_flat);
  CHECK(f.class_ids() == std::vector<std::int64_t>{0, 1});
}

TEST_CASE("cub: captions.pickle is used as the original uses it") {
  scratch_folder dir("cub-pickle");
  write_small_layout(dir);
  cub_options one;
  one.captions_per_image = 1;
  const cub_dataset train = cub_dataset::open(dir.path(), split::train, one);
  const cub_dataset test = cub_dataset::open(dir.path(), split::test, one);
  REQUIRE(train.size() == 3);
  CHECK(train.vocab().size() == 11);
  CHECK(train.vocab().word(10) == "small");
  const auto c0 = train.caption(0, 0);
  CHECK(std::vector<std::int64_t>(c0.begin(), c0.end()) == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6});
  const auto t1 = test.caption(1, 0);
  CHECK(std::vector<std::int64_t>(t1.begin(), t1.end()) == std::vector<std::int64_t>{10, 2});
  CHECK(train.class_ids() == std::vector<std::int64_t>{1, 1, 2});
  CHECK(*train.box(2) == bbox{4, 6, 20, 16});
  CHECK(train.load_image(2).height == 40);

  // Ten captions per image expected, the pickle holds one per image.
  CHECK_CONTAINS(io_error_message([&] { cub_dataset::open(dir.path(), split::train); }),
                 "captions.pickle': 3 train captions, but the split has 3 images x 10 captions = 30");
  // A given vocabulary that differs from the pickle's.
  one.vocab = vocabulary();
  CHECK_CONTAINS(io_error_message([&] { cub_dataset::open(dir.path(), split::train, one); }),
                 "differs from the one given");
}

TEST_CASE("cub: broken datasets give errors that name the file") {
  scratch_folder dir("cub-bad");
  write_small_layout(dir);
  cub_options one;
  one.captions_per_image = 1;
  const auto open_msg = [&](split s = split::train) {
    return io_error_message([&] { cub_dataset::open(dir.path(), s, one); });
  };
  const fs::path images_txt = dir / "CUB_200_2011/images.txt";
  const fs::path boxes_txt = dir / "CUB_200_2011/bounding_boxes.txt";
  const std::string images = slurp(images_txt), boxes = slurp(boxes_txt);

  CHECK_CONTAINS(io_error_message([&] { cub_dataset::open(dir / "nowhere", split::train); }),
                 "nowhere': dataset folder not found");

  SUBCASE("split lists") {
    fs::remove(dir / "train/filenames.txt");
    CHECK_CONTAINS(open_msg(), "filenames.pickle' nor '");
    dir.write("train/filenames.txt", "\n\n");
    CHECK_CONTAINS(open_msg(), "lists no images");
    dir.write("train/filenames.txt", "001.A/a_1\n../../etc/passwd\n");
    CHECK_CONTAINS(open_msg(), "filenames.txt' line 2: '../../etc/passwd' is not a relative path inside");
    dir.write("train/filenames.pickle", "not a pickle");
    CHECK_CONTAINS(open_msg(), "filenames.pickle': byte 0: unknown opcode");
  }
  SUBCASE("images.txt and bounding_boxes.txt") {
    spit(boxes_txt, boxes + "6 1 1 1 1\n");
    CHECK_CONTAINS(open_msg(), "images.txt' has 5 rows but '");
    spit(boxes_txt, "1 4 6 20\n" + boxes.substr(boxes.find('\n') + 1));
    CHECK_CONTAINS(open_msg(), "bounding_boxes.txt' line 1: expected '<id> <x> <y> <w> <h>'");
    spit(boxes_txt, "1 4 six 20 16\n" + boxes.substr(boxes.find('\n') + 1));
    CHECK_CONTAINS(open_msg(), "bounding_boxes.txt' line 1: 'six' is not a pixel coordinate");
    spit(boxes_txt, "1 4 6 0 16\n" + boxes.substr(boxes.find('\n') + 1));
    CHECK_CONTAINS(open_msg(), "line 1: the box has width 0");
    spit(boxes_txt, boxes);
    spit(images_txt, "1\n" + images.substr(images.find('\n') + 1));
    CHECK_CONTAINS(open_msg(), "images.txt' line 1: expected '<id> <path>'");
    spit(images_txt, "1 001.A/other.jpg\n" + images.substr(images.find('\n') + 1));
    CHECK_CONTAINS(open_msg(), "image '001.A/a_1' of the train split is not in '");
    fs::remove(images_txt);
    CHECK_CONTAINS(open_msg(), "images.txt': no such file");
  }
  SUBCASE("class ids") {
    write_pickle_int_list(dir / "train/class_info.pickle", {1, 2});
    CHECK_CONTAINS(open_msg(), "class_info.pickle' holds 2 class ids, the split lists 3 images");
  }
  SUBCASE("a box outside its image, a corrupt or missing image") {
    spit(boxes_txt, "1 100 6 20 16\n" + boxes.substr(boxes.find('\n') + 1));
    const cub_dataset ds = cub_dataset::open(dir.path(), split::train, one);
    const std::string outside = io_error_message([&] { (void)ds.load_image(0); });
    CHECK_CONTAINS(outside,
                   "bounding_boxes.txt' line 1: the box (x 100, y 6, w 20, h 16) does not overlap the 48x40 image");
    CHECK_CONTAINS(outside, "a_1.jpg");
    const fs::path jpg = dir / "CUB_200_2011/images/001.A/a_2.jpg";
    const std::string bytes = slurp(jpg);
    spit(jpg, bytes.substr(0, bytes.size() / 3));
    CHECK_CONTAINS(io_error_message([&] { (void)ds.load_image(1); }), "a_2.jpg");
    spit(jpg, "");
    CHECK_CONTAINS(io_error_message([&] { (void)ds.load_image(1); }), "a_2.jpg");
    fs::remove(dir / "CUB_200_2011/images/002.B/b_1.jpg");
    CHECK_CONTAINS(io_error_message([&] { (void)ds.load_image(2); }), "b_1.jpg': no such file");
  }
  SUBCASE("caption files") {
    fs::remove(dir / "captions.pickle");
    CHECK_CONTAINS(open_msg(), "text/001.A/a_1.txt': no such file");
    std::string ten;
    for (int i = 0; i < 10; ++i) ten += "a small bird\n";
    for (const char* k : {"001.A/a_1", "001.A/a_2", "002.B/b_1", "003.C/c_1", "003.C/c_2"})
      dir.write(std::string("text/") + k + ".txt", ten);
    CHECK(cub_dataset::open(dir.path(), split::train).size() == 3);
    dir.write("text/003.C/c_2.txt", "");  // the other split's files are read too (vocabulary)
    CHECK_CONTAINS(open_msg(), "c_2.txt': empty caption file (0 bytes)");
    dir.write("text/003.C/c_2.txt", "one bird\n");
    CHECK_CONTAINS(io_error_message([&] { cub_dataset::open(dir.path(), split::train); }),
                   "c_2.txt': 1 caption with at least one word, 10 needed");
    dir.write("text/003.C/c_2.txt", "caf\xe9\n" + ten);
    CHECK_CONTAINS(io_error_message([&] { cub_dataset::open(dir.path(), split::test); }),
                   "c_2.txt': line 1, column 4 (file offset 3): bytes that are not valid UTF-8");
    dir.write("text/003.C/c_2.txt", "...\n" + ten);
    const cub_dataset ds = cub_dataset::open(dir.path(), split::test);
    REQUIRE(ds.warnings().size() == 1);
    CHECK_CONTAINS(ds.warnings()[0], "c_2.txt' line 1: no word in the caption, skipped");
  }
}

}  // namespace test_cub
