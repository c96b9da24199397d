// attngan/data/loader.hpp — batches of (images per stage, caption, length,
// mask, class id) as the original's DataLoader + prepare_data make them
// (spec §2.4, §10.1), prefetched by worker threads.
//
// One item n of an epoch: caption k of image n is drawn uniformly from its
// captions_per_image; a caption longer than words_num keeps a uniformly random
// subset of words_num of its words in their original order (the original's
// shuffle-then-sort; not a truncation), cap_len = min(len, words_num); the
// image goes through the §10.1 pipeline (transforms.hpp train_transform) with
// its own random crop and flip. A batch is batch_size items of the epoch's
// order (a shuffle of the split per epoch, or dataset order), then sorted by
// caption length, descending, with std::stable_sort — the original's
// torch.sort is not stable, so items of equal length keep their epoch order
// here — and images (every stage), class ids, keys and indices permuted alike.
// drop_last as the original (8,855 // 20 = 442 batches per epoch); the last
// short batch is kept when drop_last is off.
//
// Tensors of a batch: images[s] (B, 3, S_s, S_s) float in [-1, 1];
// captions (B, words_num) int64, 0-padded (the original's dtype);
// lengths (B) int64, descending; mask (B, T) uint8 with 1 = padding, where
// T = lengths[0] is the longest caption of the batch and mask = (captions ==
// 0) on the first T columns (spec §2.4; tensors hold no bool); class_ids (B)
// int64.
//
// Determinism: every random draw is a pure function of (seed, epoch, dataset
// index, purpose) through Philox (philox.hpp): the epoch's shuffle, each
// item's caption choice and word subset, and each item's image transform
// (a generator keyed by a seed derived from the same tuple). Workers only
// decide which thread computes a batch, so the same seed gives bit-identical
// batches with 0, 1 or N workers, in any timing.
//
// Threads: with workers = 0 next() builds each batch in the calling thread
// (the per-core throughput). With N > 0, N threads build whole batches ahead
// of the consumer, at most `prefetch` batches ahead (a bounded window: memory
// is prefetch batches), and next() hands them out in order. Workers build
// only the current epoch, so the first batch after start_epoch() costs one
// batch of latency (0.2% of a 442-batch CUB epoch). An exception
// thrown while building a batch (a missing or corrupt image, a box outside
// its image: io_error naming the file) is rethrown by the next() that would
// have returned that batch; later batches are unaffected. The destructor
// stops and joins the workers (each finishes the batch it is building). The
// dataset must outlive the loader; next() and start_epoch() are called from
// one consumer thread.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "attngan/backend/cpu/cpu.hpp"
#include "attngan/core/error.hpp"
#include "attngan/core/philox.hpp"
#include "attngan/core/random.hpp"
#include "attngan/core/tensor.hpp"
#include "attngan/data/cub.hpp"
#include "attngan/data/transforms.hpp"

namespace attngan::data {

struct loader_options {
  int batch_size = 20;          ///< TRAIN.BATCH_SIZE (birds GAN)
  int words_num = 18;           ///< TEXT.WORDS_NUM (25 at evaluation)
  int base_size = 64;           ///< TREE.BASE_SIZE (299 for DAMSM)
  int branches = 3;             ///< TREE.BRANCH_NUM (1 for DAMSM)
  bool shuffle = true;
  bool drop_last = true;
  /// RandomHorizontalFlip (the original: on). Off keeps a dataset's pose:
  /// the synthetic birds all face right, and a short run learns one pose
  /// faster than two. The crops are the same either way.
  bool flip = true;
  /// RandomCrop's random offset (the original: on). Off crops every image at
  /// the centre, so a dataset's birds stay where their bounding box puts
  /// them. The flips are the same either way.
  bool shift = true;
  int workers = 0;              ///< background threads; 0 = build batches in next()
  int prefetch = 0;             ///< batches built ahead; 0 = 2 per worker
  std::uint64_t seed = 0;

  /// value_error naming the bad option.
  void validate() const {
    const auto bad = [](const char* name, int v, const char* rule) {
      throw value_error("loader_options", detail::cat(name, " = ", v, ": ", rule));
    };
    if (batch_size < 1) bad("batch_size", batch_size, "must be at least 1");
    if (words_num < 1) bad("words_num", words_num, "must be at least 1");
    if (workers < 0 || workers > 256) bad("workers", workers, "must be 0..256");
    if (prefetch < 0) bad("prefetch", prefetch, "must be >= 0");
    (void)pipeline_sizes(base_size, branches);  // value_error on a bad pyramid
  }
};

/// One batch, sorted by caption length (descending).
struct batch {
  std::vector<tensor<float, cpu>> images;   ///< per stage (B, 3, S, S)
  tensor<std::int64_t, cpu> captions;       ///< (B, words_num), 0-padded
  tensor<std::int64_t, cpu> lengths;        ///< (B), descending
  tensor<std::uint8_t, cpu> mask;           ///< (B, T), 1 = padding, T = lengths[0]
  tensor<std::int64_t, cpu> class_ids;      ///< (B)
  std::vector<std::string> keys;            ///< image keys, in batch order
  std::vector<std::int64_t> indices;        ///< dataset indices, in batch order
  std::uint64_t epoch = 0;
  std::size_t number = 0;                   ///< position in the epoch
  [[nodiscard]] std::size_t size() const noexcept { return keys.size(); }
};

namespace detail {

// Purposes: one family of Philox streams each, so no two draws share counters.
inline constexpr std::uint32_t purpose_shuffle = 1, purpose_caption = 2, purpose_image = 3;

/// 32-bit draws from the Philox stream keyed by `seed` whose counters are
/// {draw number, epoch, index, purpose}: a pure function of that tuple.
class draw_stream {
 public:
  draw_stream(std::uint64_t seed, std::uint64_t epoch, std::uint64_t index, std::uint32_t purpose)
      : key_(philox::make_key(seed)),
        // Counter words: draw number, epoch, index, purpose. The epoch and
        // index are folded to 32 bits each (mixed with their high halves, so
        // epochs past 2^32 still differ); draws per stream stay below 2^32.
        epoch_(std::uint32_t(epoch) ^ std::uint32_t(epoch >> 32) * 0x9E3779B9u),
        index_(std::uint32_t(index) ^ std::uint32_t(index >> 32) * 0x85EBCA6Bu),
        purpose_(purpose) {}

  std::uint32_t next_u32() {
    if (lane_ == 4) {
      block_ = philox::philox4x32_10(philox::counter{{n_, epoch_, index_, purpose_}}, key_);
      ++n_;
      lane_ = 0;
    }
    return block_.v[lane_++];
  }
  std::uint64_t next_u64() {
    const std::uint64_t lo = next_u32();
    return lo | (std::uint64_t(next_u32()) << 32);
  }
  /// Uniform integer in [0, n), n >= 1, exactly (Lemire's multiply-shift with
  /// rejection of the biased low range).
  std::uint32_t below(std::uint32_t n) {
    std::uint64_t m = std::uint64_t(next_u32()) * n;
    auto low = std::uint32_t(m);
    if (low < n) {
      const std::uint32_t threshold = std::uint32_t(-n) % n;
      while (low < threshold) {
        m = std::uint64_t(next_u32()) * n;
        low = std::uint32_t(m);
      }
    }
    return std::uint32_t(m >> 32);
  }

 private:
  philox::key key_;
  std::uint32_t epoch_, index_, purpose_;
  std::uint32_t n_ = 0;
  philox::counter block_{};
  int lane_ = 4;
};

}  // namespace detail

/// The dataset order of one epoch: a Fisher-Yates shuffle drawn from
/// (seed, epoch), or 0..n-1 without shuffling.
inline std::vector<std::size_t> epoch_order(std::size_t n, const loader_options& opt, std::uint64_t epoch) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  if (opt.shuffle && n > 1) {
    detail::draw_stream rng(opt.seed, epoch, 0, detail::purpose_shuffle);
    for (std::size_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(std::uint32_t(i + 1))]);
  }
  return order;
}

/// Batches per epoch: n / B with drop_last, ceil(n / B) without.
inline std::size_t batches_per_epoch(std::size_t n, const loader_options& opt) {
  const auto b = std::size_t(opt.batch_size);
  return opt.drop_last ? n / b : (n + b - 1) / b;
}

/// The caption of one item (spec §2.4): a random caption of image `index`,
/// randomly subsampled to words_num words; returns the kept words.
inline std::vector<std::int64_t> draw_caption(const cub_dataset& data, std::size_t index, const loader_options& opt,
                                              std::uint64_t epoch) {
  detail::draw_stream rng(opt.seed, epoch, index, detail::purpose_caption);
  const auto k = int(rng.below(std::uint32_t(data.captions_per_image())));
  const auto words = data.caption(index, k);
  if (words.size() <= std::size_t(opt.words_num)) return {words.begin(), words.end()};
  // A uniform subset of words_num positions (partial Fisher-Yates), kept in
  // caption order.
  std::vector<std::size_t> pos(words.size());
  for (std::size_t i = 0; i < pos.size(); ++i) pos[i] = i;
  const auto keep = std::size_t(opt.words_num);
  for (std::size_t i = 0; i < keep; ++i)
    std::swap(pos[i], pos[i + rng.below(std::uint32_t(pos.size() - i))]);
  pos.resize(keep);
  std::sort(pos.begin(), pos.end());
  std::vector<std::int64_t> out(keep);
  for (std::size_t i = 0; i < keep; ++i) out[i] = words[pos[i]];
  return out;
}

/// The generator of one item's image transform: its own Philox key, derived
/// from (seed, epoch, index), offset 0.
inline generator item_generator(const loader_options& opt, std::uint64_t epoch, std::size_t index) {
  detail::draw_stream rng(opt.seed, epoch, index, detail::purpose_image);
  return generator(rng.next_u64(), 0);
}

/// Batch `number` of `epoch`, given the epoch's order: a pure function of its
/// arguments (the loader's workers call it).
inline batch make_batch(const cub_dataset& data, const loader_options& opt, std::uint64_t epoch,
                        const std::vector<std::size_t>& order, std::size_t number) {
  const std::size_t first = number * std::size_t(opt.batch_size);
  if (first >= order.size())
    throw value_error("make_batch", detail::cat("batch ", number, " starts past the ", order.size(), " items"));
  const std::size_t b = std::min(std::size_t(opt.batch_size), order.size() - first);

  struct item {
    std::size_t index;
    std::vector<std::int64_t> words;
    std::vector<tensor<float, cpu>> images;
  };
  std::vector<item> items(b);
  for (std::size_t j = 0; j < b; ++j) {
    item& it = items[j];
    it.index = order[first + j];
    it.words = draw_caption(data, it.index, opt, epoch);
    try {
      const image img = data.load_image(it.index);
      generator rng = item_generator(opt, epoch, it.index);
      it.images = train_transform(img, data.box(it.index), opt.base_size, opt.branches, rng, nullptr,
                                  augmentation{.flip = opt.flip, .shift = opt.shift});
    } catch (const io_error&) {
      throw;  // already names the file
    } catch (const attngan::error& e) {
      // A transform refusing this image (value_error, shape_error): name it.
      throw io_error("batch_loader", detail::cat("'", data.image_path(it.index).string(), "': ", e.what()));
    }
  }
  // Longest caption first; equal lengths keep their epoch order.
  std::stable_sort(items.begin(), items.end(),
                   [](const item& x, const item& y) { return x.words.size() > y.words.size(); });

  batch out;
  out.epoch = epoch;
  out.number = number;
  const auto B = index_t(b);
  const auto T = index_t(items.front().words.size());
  const auto W = index_t(opt.words_num);
  out.captions = tensor<std::int64_t, cpu>::zeros(shape(B, W));
  out.lengths = tensor<std::int64_t, cpu>(shape(B));
  out.class_ids = tensor<std::int64_t, cpu>(shape(B));
  out.mask = tensor<std::uint8_t, cpu>(shape(B, T));
  for (std::size_t s = 0; s < items.front().images.size(); ++s)
    out.images.emplace_back(shape(B, 3, items.front().images[s].size(1), items.front().images[s].size(2)));
  for (std::size_t j = 0; j < b; ++j) {
    const item& it = items[j];
    std::copy(it.words.begin(), it.words.end(), out.captions.data() + index_t(j) * W);
    out.lengths.data()[j] = std::int64_t(it.words.size());
    out.class_ids.data()[j] = data.class_id(it.index);
    for (index_t t = 0; t < T; ++t)
      out.mask.data()[index_t(j) * T + t] = out.captions.data()[index_t(j) * W + t] == 0 ? 1 : 0;
    for (std::size_t s = 0; s < it.images.size(); ++s) {
      const auto n = std::size_t(it.images[s].numel());
      std::memcpy(out.images[s].data() + j * n, it.images[s].data(), n * sizeof(float));
    }
    out.keys.push_back(data.key(it.index));
    out.indices.push_back(std::int64_t(it.index));
  }
  return out;
}

/// Epochs of batches over one split, optionally prefetched by worker threads
/// (see the header note).
class batch_loader {
 public:
  /// Starts epoch 0. value_error when an option is invalid or the split is
  /// smaller than one batch with drop_last (training would silently do nothing).
  batch_loader(const cub_dataset& data, loader_options opt) : data_(data), opt_(opt) {
    opt_.validate();
    if (opt_.prefetch == 0) opt_.prefetch = 2 * std::max(1, opt_.workers);
    if (batches_per_epoch() == 0)
      throw value_error("batch_loader", detail::cat("the ", split_folder(data.which()), " split has ", data.size(),
                                                    " images: not one full batch of ", opt_.batch_size,
                                                    " (drop_last is on)"));
    start_epoch(0);
    for (int w = 0; w < opt_.workers; ++w) threads_.emplace_back([this] { work(); });
  }

  batch_loader(const batch_loader&) = delete;
  batch_loader& operator=(const batch_loader&) = delete;

  ~batch_loader() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    work_ready_.notify_all();
    for (auto& t : threads_) t.join();
  }

  [[nodiscard]] std::size_t batches_per_epoch() const { return data::batches_per_epoch(data_.size(), opt_); }
  [[nodiscard]] const loader_options& options() const noexcept { return opt_; }
  [[nodiscard]] std::uint64_t epoch() const {
    std::lock_guard lock(mutex_);
    return epoch_;
  }

  /// Begins `epoch` (any number: a resumed run starts where it stopped);
  /// batches prefetched for the previous epoch are dropped.
  void start_epoch(std::uint64_t epoch) {
    auto order = std::make_shared<const std::vector<std::size_t>>(epoch_order(data_.size(), opt_, epoch));
    {
      std::lock_guard lock(mutex_);
      epoch_ = epoch;
      ++generation_;
      order_ = std::move(order);
      next_claim_ = 0;
      next_deliver_ = 0;
      ready_.clear();
    }
    work_ready_.notify_all();
  }

  /// The next batch of the current epoch, or nullopt at its end. Rethrows
  /// what building that batch threw.
  std::optional<batch> next() {
    std::unique_lock lock(mutex_);
    if (next_deliver_ >= batches_per_epoch()) return std::nullopt;
    if (threads_.empty()) {
      const std::size_t number = next_deliver_++;
      const auto order = order_;
      const std::uint64_t epoch = epoch_;
      lock.unlock();
      return make_batch(data_, opt_, epoch, *order, number);
    }
    const std::size_t number = next_deliver_;
    batch_ready_.wait(lock, [&] { return ready_.count(number) != 0; });
    result r = std::move(ready_.at(number));
    ready_.erase(number);
    ++next_deliver_;
    lock.unlock();
    work_ready_.notify_all();  // the window moved
    if (r.error) std::rethrow_exception(r.error);
    return std::move(r.value);
  }

 private:
  struct result {
    std::optional<batch> value;
    std::exception_ptr error;
  };

  void work() {
    std::unique_lock lock(mutex_);
    while (true) {
      work_ready_.wait(lock, [&] {
        return stop_ || (next_claim_ < batches_per_epoch() && next_claim_ < next_deliver_ + std::size_t(opt_.prefetch));
      });
      if (stop_) return;
      const std::size_t number = next_claim_++;
      const std::uint64_t generation = generation_, epoch = epoch_;
      const auto order = order_;  // keeps this epoch's order alive while building
      lock.unlock();
      result r;
      try {
        r.value = make_batch(data_, opt_, epoch, *order, number);
      } catch (...) {
        r.error = std::current_exception();
      }
      lock.lock();
      if (generation == generation_) {  // else start_epoch() dropped this epoch
        ready_.emplace(number, std::move(r));
        batch_ready_.notify_all();
      }
    }
  }

  const cub_dataset& data_;
  loader_options opt_;
  mutable std::mutex mutex_;
  std::condition_variable work_ready_, batch_ready_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
  std::uint64_t epoch_ = 0;
  std::uint64_t generation_ = 0;
  std::shared_ptr<const std::vector<std::size_t>> order_;
  std::size_t next_claim_ = 0, next_deliver_ = 0;
  std::map<std::size_t, result> ready_;
};

}  // namespace attngan::data
