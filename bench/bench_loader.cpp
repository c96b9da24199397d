// bench/bench_loader.cpp — throughput of the data pipeline (spec §10.1, §2.4):
// 500x375 JPEGs, the size of CUB's photos, to per-stage tensors 64/128/256.
//
// At start-up a small CUB-style layout is written to a temporary folder: 40
// JPEG photos of 500x375 (textured with noise: about 70 KB each, more than a
// typical CUB photo, so decoding is not flattered), a bounding box per image
// like CUB's (about two thirds of the frame), ten captions each. Benchmarks:
//   decode          read + decode one JPEG (stb_image)
//   transform       bbox crop, Scale(304), RandomCrop(256), flip, Scale(64),
//                   Scale(128), ToTensor + Normalize, on a decoded image
//   pipeline        both, one image at a time, one thread: images/s per core
//   loader/W        batch_loader with batch 20 and W workers (0 = the calling
//                   thread builds each batch), items/s of wall time
// Target (issue "Speed"): at least 100 images/s per core.
//
//   build/bench/bench_loader --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <attngan/data/loader.hpp>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <unistd.h>

namespace {

using namespace attngan;
using namespace attngan::data;
namespace fs = std::filesystem;

constexpr int kImages = 40;
constexpr int kRepeats = 8;

/// The temporary dataset, written once, removed at exit.
class photo_dataset {
 public:
  photo_dataset() : root_(fs::temp_directory_path() / ("attngan-bench-loader-" + std::to_string(::getpid()))) {
    fs::remove_all(root_);
    fs::create_directories(root_ / "train");
    fs::create_directories(root_ / "test");
    std::string images, boxes, train, test;
    for (int i = 0; i < kImages; ++i) {
      const std::string key = "001.Bench_Bird/Bench_Bird_" + std::to_string(i);
      fs::create_directories(root_ / "CUB_200_2011/images/001.Bench_Bird");
      fs::create_directories(root_ / "text/001.Bench_Bird");
      write_jpeg(root_ / "CUB_200_2011/images" / (key + ".jpg"), photo(i), 90);
      images += std::to_string(i + 1) + " " + key + ".jpg\n";
      boxes += std::to_string(i + 1) + " " + std::to_string(60 + i) + ".0 27.0 325.0 " + std::to_string(250 + i) +
               ".0\n";
      if (i < 2) test += key + "\n";
      std::string captions;
      for (int k = 0; k < 10; ++k)
        captions += "this bird has a red crown, blue wings and a short black beak number " + std::to_string(k) + "\n";
      write_text_atomically("bench", root_ / "text" / (key + ".txt"), captions);
    }
    // The train split lists every photo kRepeats times (16 batches of 20 per
    // epoch), so that several workers have batches to build at once.
    for (int r = 0; r < kRepeats; ++r)
      for (int i = 0; i < kImages; ++i) train += "001.Bench_Bird/Bench_Bird_" + std::to_string(i) + "\n";
    write_text_atomically("bench", root_ / "CUB_200_2011/images.txt", images);
    write_text_atomically("bench", root_ / "CUB_200_2011/bounding_boxes.txt", boxes);
    write_text_atomically("bench", root_ / "train/filenames.txt", train);
    write_text_atomically("bench", root_ / "test/filenames.txt", test);
    data_ = std::make_unique<cub_dataset>(cub_dataset::open(root_, split::train));
  }
  ~photo_dataset() {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
  [[nodiscard]] const cub_dataset& data() const { return *data_; }

 private:
  /// A 500x375 image with smooth colour fields, edges and fine noise.
  static image photo(int seed) {
    image img(500, 375);
    std::uint32_t state = 2654435761u * std::uint32_t(seed + 1);
    for (int y = 0; y < img.height; ++y)
      for (int x = 0; x < img.width; ++x) {
        state = state * 1664525u + 1013904223u;
        const int noise = int(state >> 27) - 16;
        const bool bird = (x - 250) * (x - 250) / 4 + (y - 190) * (y - 190) < 90 * 90;
        std::uint8_t* p = img.pixel(x, y);
        const int base[3] = {bird ? 180 + seed : 90 + x / 6, bird ? 60 : 140 + y / 5, bird ? 40 : 200 - x / 8};
        for (int c = 0; c < 3; ++c) p[c] = std::uint8_t(std::clamp(base[c] + noise, 0, 255));
      }
    return img;
  }

  fs::path root_;
  std::unique_ptr<cub_dataset> data_;
};

const photo_dataset& photos() {
  static const photo_dataset p;
  return p;
}

void bench_decode(benchmark::State& state) {
  const auto& ds = photos().data();
  std::size_t i = 0;
  for (auto _ : state) {
    image img = ds.load_image(i++ % ds.size());
    benchmark::DoNotOptimize(img.rgb.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void bench_transform(benchmark::State& state) {
  const auto& ds = photos().data();
  const image img = ds.load_image(0);
  generator rng(1);
  for (auto _ : state) {
    auto stages = train_transform(img, ds.box(0), 64, 3, rng);
    benchmark::DoNotOptimize(stages[2].data());
  }
  state.SetItemsProcessed(state.iterations());
}

void bench_pipeline(benchmark::State& state) {
  const auto& ds = photos().data();
  std::size_t i = 0;
  generator rng(1);
  for (auto _ : state) {
    const std::size_t n = i++ % ds.size();
    const image img = ds.load_image(n);
    auto stages = train_transform(img, ds.box(n), 64, 3, rng);
    benchmark::DoNotOptimize(stages[2].data());
  }
  state.SetItemsProcessed(state.iterations());
}

void bench_batch_loader(benchmark::State& state) {
  loader_options o;  // batch 20, WORDS_NUM 18, 64/128/256
  o.workers = int(state.range(0));
  o.seed = 5;
  batch_loader loader(photos().data(), o);
  std::uint64_t epoch = 0;
  std::int64_t items = 0;
  for (auto _ : state) {
    auto b = loader.next();
    if (!b) {
      loader.start_epoch(++epoch);
      b = loader.next();
    }
    items += std::int64_t(b->size());
    benchmark::DoNotOptimize(b->images[2].data());
  }
  state.SetItemsProcessed(items);
}

}  // namespace

BENCHMARK(bench_decode)->Name("decode")->Unit(benchmark::kMillisecond);
BENCHMARK(bench_transform)->Name("transform")->Unit(benchmark::kMillisecond);
BENCHMARK(bench_pipeline)->Name("pipeline")->Unit(benchmark::kMillisecond);
BENCHMARK(bench_batch_loader)->Name("loader")->ArgName("workers")->Arg(0)->Arg(1)->Arg(2)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
