// tests/data/test_loader.cpp — batches (data/loader.hpp, spec §2.4) from a
// synthetic birds dataset: content and sorting, subsampling, shuffling,
// drop_last, determinism across worker counts, and error propagation from
// worker threads.
#include <attngan/data/loader.hpp>
#include <attngan/data/synthetic_birds.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "scratch_folder.hpp"

namespace test_loader {

namespace {

using namespace attngan;
using namespace attngan::data;
using attngan::test::scratch_folder;
namespace fs = std::filesystem;

/// 4 classes x 5 images of 64 px: 15 train images, 5 test images.
void write_small_birds(const fs::path& root, std::uint64_t seed) {
  synthetic_birds_options o;
  o.seed = seed;
  o.classes = 4;
  o.images_per_class = 5;
  o.image_size = 64;
  write_synthetic_birds(root, o);
}

/// One synthetic dataset for the whole suite (4 classes x 5 images, 64 px):
/// 15 train images, 5 test images.
const fs::path& dataset_root() {
  static const scratch_folder dir("loader");
  static const bool written = (write_small_birds(dir.path(), 11), true);
  (void)written;
  return dir.path();
}

const cub_dataset& train_set() {
  static const cub_dataset ds = cub_dataset::open(dataset_root(), split::train);
  return ds;
}

/// Small stages (16, 32, 64) keep the suite fast; the pipeline is the same.
loader_options small_options(int workers = 0) {
  loader_options o;
  o.batch_size = 4;
  o.base_size = 16;
  o.branches = 3;
  o.workers = workers;
  o.seed = 1234;
  return o;
}

template <class T>
std::vector<T> values(const tensor<T, cpu>& t) {
  return t.to_vector();
}

/// Every batch of `epochs` epochs, flattened to comparable vectors.
std::vector<std::vector<double>> run(const loader_options& o, int epochs) {
  batch_loader loader(train_set(), o);
  std::vector<std::vector<double>> out;
  for (int e = 0; e < epochs; ++e) {
    if (e > 0) loader.start_epoch(std::uint64_t(e));
    while (auto b = loader.next()) {
      std::vector<double> v;
      for (const auto& img : b->images)
        for (float x : values(img)) v.push_back(x);
      for (auto x : values(b->captions)) v.push_back(double(x));
      for (auto x : values(b->lengths)) v.push_back(double(x));
      for (auto x : values(b->mask)) v.push_back(double(x));
      for (auto x : values(b->class_ids)) v.push_back(double(x));
      for (auto x : b->indices) v.push_back(double(x));
      out.push_back(std::move(v));
    }
  }
  return out;
}

bool is_ordered_subsequence(std::span<const std::int64_t> part, std::span<const std::int64_t> whole) {
  std::size_t j = 0;
  for (std::int64_t w : whole)
    if (j < part.size() && part[j] == w) ++j;
  return j == part.size();
}

}  // namespace

TEST_CASE("loader: batch contents, sorting and masks (spec 2.4)") {
  const cub_dataset& ds = train_set();
  loader_options o = small_options();
  batch_loader loader(ds, o);
  CHECK(loader.batches_per_epoch() == 3);  // 15 // 4, drop_last
  std::set<std::int64_t> seen;
  int batches = 0;
  while (auto b = loader.next()) {
    ++batches;
    REQUIRE(b->size() == 4);
    REQUIRE(b->images.size() == 3);
    CHECK(b->images[0].shape() == shape(4, 3, 16, 16));
    CHECK(b->images[1].shape() == shape(4, 3, 32, 32));
    CHECK(b->images[2].shape() == shape(4, 3, 64, 64));
    for (const auto& img : b->images)
      for (float x : values(img)) REQUIRE((x >= -1.f && x <= 1.f));
    CHECK(b->captions.shape() == shape(4, 18));
    const auto lengths = values(b->lengths);
    CHECK(std::is_sorted(lengths.rbegin(), lengths.rend()));  // descending
    const auto T = lengths[0];
    CHECK(b->mask.shape() == shape(4, T));
    const auto caps = values(b->captions);
    const auto mask = values(b->mask);
    for (std::size_t j = 0; j < 4; ++j) {
      const auto idx = std::size_t(b->indices[j]);
      CHECK(seen.insert(b->indices[j]).second);
      CHECK(b->keys[j] == ds.key(idx));
      CHECK(values(b->class_ids)[j] == ds.class_id(idx));
      const auto len = std::size_t(lengths[j]);
      REQUIRE((len >= 1 && len <= 18));
      for (std::size_t t = 0; t < 18; ++t) CHECK((t < len) == (caps[j * 18 + t] != 0));
      for (std::size_t t = 0; t < std::size_t(T); ++t) CHECK(mask[j * std::size_t(T) + t] == (t >= len ? 1 : 0));
      // The row is one of the image's captions (a subset when it is longer
      // than 18 words).
      const std::span<const std::int64_t> row(caps.data() + j * 18, len);
      bool found = false;
      for (int k = 0; k < ds.captions_per_image(); ++k) {
        const auto c = ds.caption(idx, k);
        found = found || (len == std::min<std::size_t>(c.size(), 18) && is_ordered_subsequence(row, c));
      }
      CHECK(found);
    }
  }
  CHECK(batches == 3);
  CHECK(seen.size() == 12);
}

TEST_CASE("loader: long captions keep a random ordered subset of words_num words") {
  const cub_dataset& ds = train_set();
  loader_options o = small_options();
  o.words_num = 3;
  std::set<std::vector<std::int64_t>> subsets;
  for (std::uint64_t epoch = 0; epoch < 20; ++epoch) {
    const auto words = draw_caption(ds, 0, o, epoch);
    CHECK(words.size() == 3);
    bool inside = false;
    for (int k = 0; k < ds.captions_per_image(); ++k)
      inside = inside || is_ordered_subsequence(words, ds.caption(0, k));
    CHECK(inside);
    subsets.insert(words);
  }
  CHECK(subsets.size() > 5);  // a subsample, not a truncation

  batch_loader loader(ds, o);
  const auto b = loader.next();
  REQUIRE(b);
  CHECK(b->captions.shape() == shape(4, 3));
  CHECK(values(b->lengths) == std::vector<std::int64_t>{3, 3, 3, 3});
  CHECK(b->mask.shape() == shape(4, 3));
}

TEST_CASE("loader: caption choice is uniform over an image's captions") {
  const cub_dataset& ds = train_set();
  loader_options o = small_options();
  o.words_num = 1000;  // no subsampling: whole captions
  // Count draws per distinct caption of image 0 (an image may repeat a
  // caption: that caption is then drawn with that multiplicity).
  std::vector<std::vector<std::int64_t>> distinct;
  std::vector<int> multiplicity, counts;
  for (int k = 0; k < ds.captions_per_image(); ++k) {
    const auto c = ds.caption(0, k);
    const std::vector<std::int64_t> words(c.begin(), c.end());
    const auto it = std::find(distinct.begin(), distinct.end(), words);
    if (it == distinct.end()) {
      distinct.push_back(words);
      multiplicity.push_back(1);
      counts.push_back(0);
    } else {
      ++multiplicity[std::size_t(it - distinct.begin())];
    }
  }
  const int draws = 2000;  // 200 per caption expected
  for (int e = 0; e < draws; ++e) {
    const auto words = draw_caption(ds, 0, o, std::uint64_t(e));
    const auto it = std::find(distinct.begin(), distinct.end(), words);
    REQUIRE(it != distinct.end());
    ++counts[std::size_t(it - distinct.begin())];
  }
  for (std::size_t d = 0; d < distinct.size(); ++d) {
    CAPTURE(d);
    CHECK(counts[d] > 120 * multiplicity[d]);
    CHECK(counts[d] < 290 * multiplicity[d]);
  }
}

TEST_CASE("loader: epochs shuffle, drop_last, dataset order without shuffling") {
  const std::size_t n = train_set().size();
  loader_options o = small_options();
  const auto e0 = epoch_order(n, o, 0), e1 = epoch_order(n, o, 1);
  auto sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < n; ++i) CHECK(sorted[i] == i);
  CHECK(e0 != e1);
  o.shuffle = false;
  const auto plain = epoch_order(n, o, 3);
  for (std::size_t i = 0; i < n; ++i) CHECK(plain[i] == i);

  o.drop_last = false;
  batch_loader loader(train_set(), o);
  CHECK(loader.batches_per_epoch() == 4);
  std::vector<std::size_t> sizes;
  std::set<std::int64_t> all;
  while (auto b = loader.next()) {
    sizes.push_back(b->size());
    all.insert(b->indices.begin(), b->indices.end());
  }
  CHECK(sizes == std::vector<std::size_t>{4, 4, 4, 3});
  CHECK(all.size() == n);
  CHECK(!loader.next().has_value());  // stays at the end until the next epoch

  loader_options big = small_options();
  big.batch_size = 16;
  CHECK_THROWS_AS(batch_loader(train_set(), big), value_error);
  loader_options bad = small_options();
  bad.words_num = 0;
  CHECK_THROWS_AS(batch_loader(train_set(), bad), value_error);
}

TEST_CASE("loader: the same seed gives the same batches with 0, 1 or 3 workers") {
  const auto reference = run(small_options(0), 2);
  REQUIRE(reference.size() == 6);
  CHECK(run(small_options(1), 2) == reference);
  CHECK(run(small_options(3), 2) == reference);
  loader_options other = small_options(0);
  other.seed = 99;
  CHECK(run(other, 2) != reference);
}

/// With `aug` turned into loader options: every item equals train_transform
/// of its image under `aug` (same generator), and against the default
/// options only the images change (captions, order, classes do not).
void check_augmentation_options(const augmentation& aug) {
  const cub_dataset& ds = train_set();
  const auto with = [&](loader_options o) {
    o.flip = aug.flip;
    o.shift = aug.shift;
    return o;
  };
  const loader_options o = with(small_options(1));
  batch_loader loader(ds, o);
  int items = 0;
  while (auto b = loader.next()) {
    for (std::size_t j = 0; j < b->size(); ++j) {
      const auto idx = std::size_t(b->indices[j]);
      generator rng = item_generator(o, 0, idx);
      const auto expected =
          train_transform(ds.load_image(idx), ds.box(idx), o.base_size, o.branches, rng, nullptr, aug);
      for (std::size_t stage = 0; stage < expected.size(); ++stage) {
        const auto got = values(b->images[stage]);
        const auto want = values(expected[stage]);
        const std::size_t n = want.size();
        REQUIRE(got.size() == b->size() * n);
        CHECK(std::equal(want.begin(), want.end(), got.begin() + std::ptrdiff_t(j * n)));
      }
      ++items;
    }
  }
  CHECK(items == 12);
  const auto on = run(small_options(0), 1);
  const auto off = run(with(small_options(0)), 1);
  REQUIRE(on.size() == off.size());
  const std::size_t image_values = 4 * 3 * (16 * 16 + 32 * 32 + 64 * 64);
  bool some_image_differs = false;
  for (std::size_t i = 0; i < on.size(); ++i) {
    REQUIRE(on[i].size() == off[i].size());
    CHECK(std::equal(on[i].begin() + std::ptrdiff_t(image_values), on[i].end(),
                     off[i].begin() + std::ptrdiff_t(image_values)));
    some_image_differs = some_image_differs || !std::equal(on[i].begin(), on[i].begin() + std::ptrdiff_t(image_values),
                                                           off[i].begin());
  }
  CHECK(some_image_differs);
}

TEST_CASE("loader: flip = false gives each item's crop unmirrored, everything else unchanged") {
  check_augmentation_options(augmentation{.flip = false});
}

TEST_CASE("loader: shift = false gives each item's centre crop, everything else unchanged") {
  check_augmentation_options(augmentation{.shift = false});
}

TEST_CASE("loader: start_epoch mid-way, early destruction, resumed epochs") {
  loader_options o = small_options(2);
  {
    batch_loader loader(train_set(), o);
    REQUIRE(loader.next());
    loader.start_epoch(5);  // drops what was prefetched for epoch 0
    CHECK(loader.epoch() == 5);
    const auto b = loader.next();
    REQUIRE(b);
    CHECK(b->epoch == 5);
    CHECK(b->number == 0);
    // Destroyed with workers busy prefetching: must not hang.
  }
  // Epoch 5 of a fresh loader equals epoch 5 reached after others.
  batch_loader fresh(train_set(), small_options(0));
  fresh.start_epoch(5);
  batch_loader again(train_set(), small_options(2));
  again.start_epoch(5);
  const auto a = fresh.next();
  const auto b = again.next();
  REQUIRE((a && b));
  CHECK(a->indices == b->indices);
  CHECK(values(a->images[2]) == values(b->images[2]));
}

TEST_CASE("loader: a corrupt image fails its batch, naming the file, on any thread") {
  scratch_folder dir("loader-bad");
  write_small_birds(dir.path(), 3);
  const cub_dataset ds = cub_dataset::open(dir.path(), split::train);
  const fs::path victim = ds.image_path(0);
  {
    std::ifstream in(victim, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    std::ofstream out(victim, std::ios::binary | std::ios::trunc);
    out << bytes.substr(0, 40);  // a truncated JPEG
  }
  for (int workers : {0, 2}) {
    CAPTURE(workers);
    loader_options o = small_options(workers);
    o.shuffle = false;  // image 0 is in batch 0
    batch_loader loader(ds, o);
    bool failed = false;
    try {
      (void)loader.next();
    } catch (const io_error& e) {
      failed = true;
      CHECK(std::string(e.what()).find(victim.filename().string()) != std::string::npos);
    }
    CHECK(failed);
    // Later batches are unaffected.
    const auto next = loader.next();
    REQUIRE(next);
    CHECK(next->number == 1);
  }
}

}  // namespace test_loader
