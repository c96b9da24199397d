// attngan_app.hpp — what the AttnGAN programs (examples 04–07) share: the
// model they build, batches from the data loader, files of encoders and
// generators, progress lines, and Ctrl-C handling.
//
// The programs train the `small` configuration: a 32² first stage and one
// attentional stage to 64² (GF_DIM = DF_DIM = 16, models::small_preset), the
// bird text encoder (nef 256), and the oracle's small CNN as the DAMSM image
// encoder at 128² input (the 64² images resized) — the model a 2-core CPU trains in minutes on the
// synthetic birds. The bird configuration (three stages to 256², Inception
// encoder) is the library's models::bird_preset; these programs do not
// instantiate it (compile time), a GPU build will.
#pragma once

#include <attngan/data/loader.hpp>
#include <attngan/io/checkpoint.hpp>
#include <attngan/models/attngan.hpp>
#include <attngan/report/html_report.hpp>
#if defined(ATTNGAN_PROGRAMS_CUDA)
#include <attngan/cuda.hpp>
#elif defined(ATTNGAN_PROGRAMS_THRUST_HOST)
#include <attngan/thrust_host.hpp>
#endif

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <type_traits>
#include <unistd.h>
#include <vector>

namespace app {

using namespace attngan;
namespace fs = std::filesystem;

// ------------------------------------------------------------------ the model

using T = float;
// The backend the programs train and generate on: the CPU by default; the GPU
// when built with ATTNGAN_PROGRAMS_BACKEND=cuda (CMake compiles programs.cpp
// with nvcc then); thrust_host, the GPU kernels run on the host, is how a
// machine without a GPU checks that the programs keep to the backend API.
#if defined(ATTNGAN_PROGRAMS_CUDA)
using B = attngan::cuda;
#elif defined(ATTNGAN_PROGRAMS_THRUST_HOST)
using B = attngan::thrust_host;
#else
using B = attngan::cpu;
#endif
using preset = models::small_preset;
inline constexpr int damsm_size = 64;  // the side of the images DAMSM pretraining loads: G's last stage
// The image encoder: models::demo_image_encoder (image_encoder.hpp says why
// 128² input and which widths). At 64² its local features were a 3 × 3 grid,
// too coarse to tell a crown's colour (07_evaluate --part-swaps on real birds:
// crown 70.8 % at 64², 88.8 % at 128²; bench/RESULTS.md, "What the DAMSM
// encoders tell apart, part by part"); with the narrower widths the demo's
// scores held in session 25's screening (R-precision 80.7 %, part colours
// 75.9 %, crown 84.0 %; bench/RESULTS.md, "A narrower image encoder for the
// demo").
using image_encoder_spec = models::demo_image_encoder<preset::nef>;
using text_encoder_spec = models::text_encoder_for<preset>;
using text_network = nn::network<text_encoder_spec, T, B>;
using image_network = nn::network<image_encoder_spec, T, B>;
using gan_trainer = models::gan_trainer<preset, image_encoder_spec, T, B>;
inline constexpr int stages = preset::branch_num;
// Written into every file and checked on load. "small-32-64" files (DAMSM at
// 64² input, before session 22) and "small-32-64-damsm128" files (the
// oracle's encoder widths, before session 25) are refused: their encoders
// would see another image size or have other widths.
inline constexpr const char* config_name = "small-32-64-damsm128-l256";
/// The help of --no-flip (04 and 05).
inline constexpr const char* no_flip_help =
    "No random horizontal flip of the training images (the original flips half of them; the synthetic birds all "
    "face right)";

// ------------------------------------------------------------------ Ctrl-C

/// Set by the first SIGINT/SIGTERM: loops finish their step, save and exit.
/// A second signal exits at once (status 130).
inline std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

extern "C" inline void app_on_signal(int) {
  if (stop_requested().exchange(true)) _exit(130);
  static const char msg[] = "\ninterrupted: finishing the current step, then saving (Ctrl-C again to quit now)\n";
  [[maybe_unused]] const auto n = write(2, msg, sizeof msg - 1);
}

inline void install_stop_handler() {
  struct sigaction sa {};
  sa.sa_handler = app_on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// ------------------------------------------------------------------ progress

/// One status line, rewritten at most four times a second: done / total,
/// rate, ETA and whatever the caller adds.
class progress {
 public:
  progress(std::string what, std::size_t total, std::size_t done = 0)
      : what_(std::move(what)), total_(total), first_(done), start_(clock::now()), last_(start_) {}

  void update(std::size_t done, const std::string& extra = {}, bool force = false) {
    const auto now = clock::now();
    if (!force && done != total_ && now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? double(done - first_) / seconds : 0.0;
    const double eta = rate > 0 ? double(total_ - done) / rate : 0.0;
    std::fprintf(stderr, "\r%s %zu/%zu  %.2f/s  ETA %s  %s   ", what_.c_str(), done, total_, rate,
                 clock_text(eta).c_str(), extra.c_str());
    if (done == total_ || force) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

  [[nodiscard]] double seconds() const { return std::chrono::duration<double>(clock::now() - start_).count(); }

  static std::string clock_text(double s) {
    char buf[32];
    const long v = long(s + 0.5);
    std::snprintf(buf, sizeof buf, "%ld:%02ld", v / 60, v % 60);
    return buf;
  }

 private:
  using clock = std::chrono::steady_clock;
  std::string what_;
  std::size_t total_, first_;
  clock::time_point start_, last_;
};

/// The device the programs run on. A GPU build on a machine without a usable
/// GPU fails here, before any work.
inline std::string device_description() {
#if defined(ATTNGAN_PROGRAMS_CUDA)
  if (!attngan::cuda::available())
    throw backend_error("device", "these programs were built for the GPU (ATTNGAN_PROGRAMS_BACKEND=cuda) but no CUDA "
                                  "device is usable here; rebuild with -DATTNGAN_PROGRAMS_BACKEND=cpu");
  return "cuda, " + attngan::cuda::device_name();
#elif defined(ATTNGAN_PROGRAMS_THRUST_HOST)
  return "thrust_host (the GPU backend's code paths on the CPU)";
#else
  return attngan::detail::cat("cpu, ", attngan::cpu::threads(), " threads");
#endif
}

/// The programs' first line of output: the device. stdout becomes line
/// buffered, so a log of stdout and stderr together (the progress line is on
/// stderr) keeps the order in which things were printed.
inline void announce_device() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("device: %s\n", device_description().c_str());
}

// ------------------------------------------------------------------ batches

/// A tensor from the data loader (host memory) on the programs' backend: a
/// view of the same storage on the CPU, a copy elsewhere.
template <class V>
tensor<V, B> on_backend(const tensor<V, cpu>& t) {
  if constexpr (std::is_same_v<B, cpu>) {
    return t.view(t.shape());
  } else {
    return t.template to<B>();
  }
}

/// Every stage's images of a loader batch on the programs' backend.
inline std::vector<tensor<T, B>> on_backend(const std::vector<tensor<T, cpu>>& images) {
  std::vector<tensor<T, B>> out;
  out.reserve(images.size());
  for (const auto& t : images) out.push_back(on_backend(t));
  return out;
}

/// A loader batch's captions as the models take them.
struct text_batch {
  tensor<std::int64_t, B> captions;
  std::vector<index_t> lengths;
  std::vector<std::int64_t> class_ids;
};

inline text_batch text_of(const data::batch& b) {
  text_batch t;
  t.captions = on_backend(b.captions);
  for (std::int64_t l : b.lengths.to_vector()) t.lengths.push_back(index_t(l));
  t.class_ids = b.class_ids.to_vector();
  return t;
}

/// Sentences → a batch sorted by length (descending) as the text encoder
/// wants it, padded with 0 to the longest; order[i] is the input index of
/// row i. value_error naming the sentence when one has no known word.
struct encoded_sentences {
  text_batch text;
  std::vector<std::size_t> order;                  ///< order[row] = input index of batch row `row`
  std::vector<std::size_t> rows;                   ///< rows[i] = batch row of input sentence i
  std::vector<std::vector<std::string>> unknown;  ///< per input sentence
};

inline encoded_sentences encode_sentences(const data::vocabulary& vocab, const std::vector<std::string>& sentences,
                                          int max_words) {
  if (sentences.empty()) throw value_error("encode", "no sentences given");
  std::vector<std::vector<std::int64_t>> ids(sentences.size());
  encoded_sentences r;
  r.unknown.resize(sentences.size());
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    auto e = vocab.encode(sentences[i]);
    if (e.ids.empty())
      throw value_error("encode", attngan::detail::cat("sentence ", i + 1, " (\"", sentences[i], "\") has no word the ",
                                                       "model knows", e.unknown.empty() ? "" : " (unknown: ",
                                                       e.unknown.empty() ? "" : e.unknown.front(),
                                                       e.unknown.empty() ? "" : ", ...)"));
    if (int(e.ids.size()) > max_words) e.ids.resize(std::size_t(max_words));  // first words kept (deterministic)
    ids[i] = std::move(e.ids);
    r.unknown[i] = std::move(e.unknown);
  }
  r.order.resize(sentences.size());
  for (std::size_t i = 0; i < r.order.size(); ++i) r.order[i] = i;
  std::stable_sort(r.order.begin(), r.order.end(), [&](std::size_t a, std::size_t b) { return ids[a].size() > ids[b].size(); });
  r.rows.resize(r.order.size());
  for (std::size_t row = 0; row < r.order.size(); ++row) r.rows[r.order[row]] = row;
  const index_t width = index_t(ids[r.order.front()].size());
  std::vector<std::int64_t> flat(sentences.size() * std::size_t(width), 0);
  for (std::size_t row = 0; row < r.order.size(); ++row) {
    const auto& s = ids[r.order[row]];
    std::copy(s.begin(), s.end(), flat.begin() + std::ptrdiff_t(row * std::size_t(width)));
    r.text.lengths.push_back(index_t(s.size()));
  }
  r.text.captions = tensor<std::int64_t, B>::from_host(shape(index_t(sentences.size()), width), flat);
  return r;
}

// ------------------------------------------------------------------ files

/// The DAMSM encoders and their vocabulary, checked against this program's
/// configuration on load.
inline void save_damsm(const fs::path& path, text_network& text, image_network& image, const data::vocabulary& vocab,
                       const nlohmann::json& info) {
  io::save_damsm(path, text, image,
                 {{"config", config_name}, {"vocabulary", io::words_to_json(vocab.words())}, {"info", info.dump()}});
}

inline data::vocabulary vocabulary_of(const std::map<std::string, std::string>& meta, const fs::path& file) {
  const auto it = meta.find("vocabulary");
  if (it == meta.end())
    throw io_error("load", attngan::detail::cat("'", file.string(), "' has no vocabulary"));
  return data::vocabulary(io::words_from_json(it->second));
}

inline data::vocabulary load_damsm(const fs::path& path, text_network& text, image_network& image) {
  return vocabulary_of(io::load_damsm(path, text, image, config_name), path);
}

/// A training checkpoint: the trainer's whole state, the vocabulary, and the
/// batch size and data order it was trained with (checked on resume).
inline void save_training(const fs::path& path, gan_trainer& trainer, const data::vocabulary& vocab,
                          std::int64_t step, std::int64_t epoch, const nlohmann::json& run) {
  io::checkpoint_info info;
  info.step = step;
  info.epoch = epoch;
  info.metadata = {{"config", config_name}, {"vocabulary", io::words_to_json(vocab.words())}, {"run", run.dump()}};
  io::save_checkpoint(path, trainer, info);
}

struct loaded_training {
  io::checkpoint_info info;
  data::vocabulary vocab;
  nlohmann::json run;
};

inline loaded_training load_training(const fs::path& path, gan_trainer& trainer) {
  loaded_training r;
  r.info = io::load_checkpoint(path, trainer, config_name);
  r.vocab = vocabulary_of(r.info.metadata, path);
  const auto it = r.info.metadata.find("run");
  r.run = it == r.info.metadata.end() ? nlohmann::json::object() : nlohmann::json::parse(it->second, nullptr, false);
  return r;
}

// ------------------------------------------------------------------ images

/// One image of a (N, 3, H, W) batch, as a view (report::image_from_tensor
/// turns it into 8-bit RGB as the original writes samples).
inline tensor<T, B> image_at(const tensor<T, B>& batch, index_t n) {
  const shape& s = batch.shape();
  return batch.subview(n * s[1] * s[2] * s[3], shape(s[1], s[2], s[3]));
}

/// A grid of images (row-major), `gap` pixels of white between them.
inline data::image sheet(const std::vector<data::image>& images, int columns, int gap = 2) {
  if (images.empty()) return data::image();
  const int w = images.front().width, h = images.front().height;
  const int rows = (int(images.size()) + columns - 1) / columns;
  data::image out(columns * w + (columns - 1) * gap, rows * h + (rows - 1) * gap);
  std::fill(out.rgb.begin(), out.rgb.end(), std::uint8_t(255));
  for (std::size_t i = 0; i < images.size(); ++i) {
    const int x0 = int(i) % columns * (w + gap), y0 = int(i) / columns * (h + gap);
    for (int y = 0; y < h; ++y)
      std::copy_n(images[i].rgb.begin() + std::ptrdiff_t(3 * y * w), 3 * w,
                  out.rgb.begin() + std::ptrdiff_t(3 * ((y0 + y) * out.width + x0)));
  }
  return out;
}

/// The paper's attention figure for row `row` of a generator batch: each
/// stage's image, and for each attentional stage the map of every word of the
/// sentence laid over that stage's image.
inline void add_attention_figure(report::html_report& page, const models::generator_output<T, B>& out, index_t row,
                                 const std::string& sentence, const data::vocabulary& vocab,
                                 const tensor<std::int64_t, B>& captions, index_t length) {
  std::vector<std::string> words;
  const auto ids = captions.to_vector();
  const index_t width = captions.shape()[1];
  for (index_t t = 0; t < length; ++t) words.push_back(vocab.word(ids[std::size_t(row * width + t)]));
  std::vector<report::attention_row> rows;
  for (std::size_t s = 0; s < out.images.size(); ++s) {
    const auto img = image_at(out.images[s].value(), row);
    const index_t side = img.shape()[1];
    const std::string label = attngan::detail::cat("stage ", s + 1, " (", side, "x", side, ")");
    if (s == 0) {  // the first stage has no attention: its image alone
      report::attention_row r;
      r.label = label;
      r.image = report::image_from_tensor(img);
      r.height = r.width = 1;
      rows.push_back(std::move(r));
      continue;
    }
    const auto& a = out.attention[s - 1].value();  // (B, T, h, w)
    const index_t h = a.shape()[2], w = a.shape()[3], per = a.shape()[1] * h * w;
    const auto maps = a.subview(row * per, shape(length, h, w)).clone();
    rows.push_back(report::html_report::make_attention_row(label, img, maps));
  }
  page.add_attention_figure(sentence, words, rows);
}

/// The folders one run created for its output. When it goes out of scope it
/// removes those that are still empty, deepest first: a run that fails after
/// creating them (a foreign DAMSM file, a data folder in the wrong layout)
/// leaves nothing behind, while a folder that received a file stays.
class created_folders {
 public:
  created_folders() = default;
  explicit created_folders(std::vector<fs::path> made) : made_(std::move(made)) {}
  created_folders(created_folders&&) noexcept = default;
  created_folders(const created_folders&) = delete;
  created_folders& operator=(const created_folders&) = delete;
  created_folders& operator=(created_folders&&) = delete;
  ~created_folders() {
    for (const fs::path& p : made_) {  // deepest first
      std::error_code ec;
      if (fs::is_directory(p, ec) && fs::is_empty(p, ec) && !ec) fs::remove(p, ec);
    }
  }

 private:
  std::vector<fs::path> made_;
};

/// Fails early, with the folder named, when `dir` cannot be created or
/// written. Keep the result for as long as the run lasts (see created_folders).
[[nodiscard]] inline created_folders ensure_writable_folder(const fs::path& dir) {
  std::vector<fs::path> made;  // the folders create_directories is about to make, deepest first
  std::error_code ec;
  fs::path p = fs::absolute(dir, ec).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "out/" is "out"
  while (!ec && p.has_relative_path() && !fs::exists(p, ec)) {
    made.push_back(p);
    p = p.parent_path();
  }
  created_folders guard(std::move(made));  // also undoes a partial create_directories below
  ec.clear();
  fs::create_directories(dir, ec);
  if (ec) throw io_error("output", attngan::detail::cat("cannot create '", dir.string(), "': ", ec.message()));
  if (access(dir.c_str(), W_OK) != 0)
    throw io_error("output", attngan::detail::cat("'", dir.string(), "' is not writable"));
  return guard;
}

}  // namespace app
