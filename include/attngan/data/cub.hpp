// attngan/data/cub.hpp — the CUB-200-2011 birds dataset in the layout of the
// original AttnGAN (spec §2.1): split lists, class ids, bounding boxes,
// captions and the vocabulary (spec §2.2, §2.3).
//
// Files read, relative to the dataset folder (the original's DATA_DIR):
//   CUB_200_2011/images.txt           "<id> <path>": row i of this file and row
//   CUB_200_2011/bounding_boxes.txt   "<id> <x> <y> <w> <h>" belong together
//                                     (ids are not matched, as in the original);
//                                     floats, truncated to int like pandas'
//                                     astype(int). The key of an image is its
//                                     path without the extension.
//   CUB_200_2011/images/<path>        the image (JPEG or PNG)
//   train|test/filenames.pickle       the split: a list of keys, in dataset
//                                     order; when absent, filenames.txt (one
//                                     key per line) is read instead
//   train|test/class_info.pickle      class id per key; when absent, the class
//                                     folder's number ("017.Purple_Finch/..."
//                                     -> 17) when every key has one, otherwise
//                                     0..N-1 (the original's fallback)
//   captions.pickle                   when present (and options allow): the
//                                     captions of both splits as word indices
//                                     and the vocabulary, used as they are,
//                                     like the original does (the text files
//                                     are then not read)
//   text/<key>.txt                    otherwise: the first 10 lines with a
//                                     word (text.hpp); the vocabulary is built
//                                     from both splits (text.hpp), or a given
//                                     vocabulary is used
// Bounding boxes are read only when use_bbox is set (the original crops only
// for data folders named "birds"). Whether a box overlaps its image is known
// only once the image is decoded, so load_image() checks it there.
//
// Every problem is an io_error naming the file (and line) and what is wrong:
// missing folders and files, malformed lines, row counts that differ, a key
// with no bounding box, a class_info of the wrong length, a caption file
// that is empty, not UTF-8 or has fewer than 10 usable captions, a
// captions.pickle whose caption count does not match the split. Lines of a
// caption file that have no word are skipped as the original skips them, and
// listed in warnings(). A cub_dataset is immutable after open(): its const
// members may be called from any number of threads (the loader's workers).
#pragma once

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "attngan/core/error.hpp"
#include "attngan/data/file_io.hpp"
#include "attngan/data/image.hpp"
#include "attngan/data/pickle.hpp"
#include "attngan/data/text.hpp"
#include "attngan/data/transforms.hpp"

namespace attngan::data {

enum class split { train, test };

/// "train" or "test": the split's folder name.
inline const char* split_folder(split s) { return s == split::train ? "train" : "test"; }

struct cub_options {
  int captions_per_image = 10;          ///< TEXT.CAPTIONS_PER_IMAGE
  bool use_bbox = true;                 ///< crop around bounding_boxes.txt (birds)
  bool use_captions_pickle = true;      ///< read captions.pickle when it exists
  std::optional<vocabulary> vocab;      ///< encode the text files with this vocabulary instead of building one
};

class cub_dataset {
 public:
  /// Reads the metadata of one split of the dataset at `root` (see the header
  /// note). Image files are only opened by load_image().
  static cub_dataset open(const std::filesystem::path& root, split which, const cub_options& options = {}) {
    cub_dataset ds;
    ds.root_ = root;
    ds.split_ = which;
    ds.captions_per_image_ = options.captions_per_image;
    if (options.captions_per_image < 1)
      throw value_error("cub_dataset", detail::cat("captions_per_image = ", options.captions_per_image,
                                                   " must be at least 1"));
    std::error_code ec;
    if (!std::filesystem::is_directory(root, ec))
      throw io_error(op, detail::cat("'", root.string(), "': dataset folder not found"));

    const auto keys = read_split(root, which);
    ds.keys_ = keys;
    ds.class_ids_ = read_class_ids(root, which, keys);
    ds.read_images_and_boxes(options.use_bbox);
    ds.read_captions(options);
    return ds;
  }

  [[nodiscard]] std::size_t size() const noexcept { return keys_.size(); }
  [[nodiscard]] split which() const noexcept { return split_; }
  [[nodiscard]] const std::filesystem::path& root() const noexcept { return root_; }
  [[nodiscard]] int captions_per_image() const noexcept { return captions_per_image_; }
  [[nodiscard]] const vocabulary& vocab() const noexcept { return vocab_; }
  /// Lines skipped while reading captions, as "'<file>' line <n>: ...".
  [[nodiscard]] const std::vector<std::string>& warnings() const noexcept { return warnings_; }

  /// "001.Black_footed_Albatross/Black_Footed_Albatross_0046_18".
  [[nodiscard]] const std::string& key(std::size_t i) const { return keys_.at(i); }
  [[nodiscard]] std::int64_t class_id(std::size_t i) const { return class_ids_.at(i); }
  [[nodiscard]] const std::vector<std::int64_t>& class_ids() const noexcept { return class_ids_; }
  /// The bounding box of image i (none when use_bbox is off).
  [[nodiscard]] std::optional<bbox> box(std::size_t i) const {
    if (boxes_.empty()) return std::nullopt;
    return boxes_.at(i).box;
  }
  [[nodiscard]] std::filesystem::path image_path(std::size_t i) const {
    return root_ / "CUB_200_2011" / "images" / image_files_.at(i);
  }
  [[nodiscard]] std::filesystem::path caption_path(std::size_t i) const {
    return root_ / "text" / (keys_.at(i) + ".txt");
  }

  /// Word indices of caption k (0 <= k < captions_per_image) of image i;
  /// at least one word, no 0 (padding) inside.
  [[nodiscard]] std::span<const std::int64_t> caption(std::size_t i, int k) const {
    if (i >= size() || k < 0 || k >= captions_per_image_)
      throw value_error("cub_dataset::caption", detail::cat("caption ", k, " of image ", i, " is outside ", size(),
                                                            " images x ", captions_per_image_, " captions"));
    const std::size_t c = i * std::size_t(captions_per_image_) + std::size_t(k);
    return std::span<const std::int64_t>(words_).subspan(caption_start_[c], caption_start_[c + 1] - caption_start_[c]);
  }

  /// Decodes image i (RGB) and checks that its bounding box overlaps it.
  /// io_error naming the image (missing, corrupt, truncated) or naming
  /// bounding_boxes.txt and its line when the box lies outside the image.
  [[nodiscard]] image load_image(std::size_t i) const {
    const auto path = image_path(i);
    image img = read_image(path);
    if (!boxes_.empty()) {
      const located_box& b = boxes_.at(i);
      try {
        (void)bbox_crop_box(b.box, img.width, img.height);
      } catch (const value_error&) {
        throw io_error(op, detail::cat("'", (root_ / "CUB_200_2011" / "bounding_boxes.txt").string(), "' line ",
                                       b.line, ": the box (x ", b.box.x, ", y ", b.box.y, ", w ", b.box.w, ", h ",
                                       b.box.h, ") does not overlap the ", img.width, "x", img.height, " image '",
                                       path.string(), "'"));
      }
    }
    return img;
  }

 private:
  static constexpr const char* op = "cub_dataset";

  struct located_box {
    bbox box;
    std::size_t line = 0;  // in bounding_boxes.txt, for messages
  };

  cub_dataset() = default;

  // --- small text-file helpers ---------------------------------------------
  static std::string read_text(const std::filesystem::path& path, std::uintmax_t max_bytes) {
    const auto bytes = read_file_bytes(op, path, max_bytes);
    return std::string(bytes.begin(), bytes.end());
  }

  /// Lines of a text file with their 1-based numbers; blank lines dropped
  /// (pandas skips them too), '\r' and surrounding blanks stripped.
  static std::vector<std::pair<std::size_t, std::string_view>> lines(std::string_view text) {
    std::vector<std::pair<std::size_t, std::string_view>> out;
    std::size_t start = 0, number = 0;
    while (start < text.size()) {
      std::size_t nl = text.find('\n', start);
      if (nl == std::string_view::npos) nl = text.size();
      ++number;
      std::string_view l = text.substr(start, nl - start);
      start = nl + 1;
      while (!l.empty() && std::isspace(static_cast<unsigned char>(l.back()))) l.remove_suffix(1);
      while (!l.empty() && std::isspace(static_cast<unsigned char>(l.front()))) l.remove_prefix(1);
      if (!l.empty()) out.emplace_back(number, l);
    }
    return out;
  }

  static std::vector<std::string_view> fields(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      const std::size_t start = i;
      while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      if (i > start) out.push_back(line.substr(start, i - start));
    }
    return out;
  }

  /// A key or relative image path must stay inside the dataset folder.
  static void check_relative(const std::string& where, std::string_view rel) {
    const std::filesystem::path p{std::string(rel)};
    bool escapes = rel.empty() || p.is_absolute() || rel.find('\0') != std::string_view::npos;
    for (const auto& part : p)
      if (part == "..") escapes = true;
    if (escapes)
      throw io_error(op, detail::cat(where, ": '", rel, "' is not a relative path inside the dataset folder"));
  }

  // --- split, classes ---------------------------------------------------------
  static std::vector<std::string> read_split(const std::filesystem::path& root, split which) {
    const auto folder = root / split_folder(which);
    const auto pickle_path = folder / "filenames.pickle";
    const auto text_path = folder / "filenames.txt";
    std::error_code ec;
    std::vector<std::string> keys;
    if (std::filesystem::exists(pickle_path, ec)) {
      keys = read_string_list(pickle_path);
      for (const auto& k : keys) check_relative(detail::cat("'", pickle_path.string(), "'"), k);
    } else if (std::filesystem::exists(text_path, ec)) {
      const std::string text = read_text(text_path, std::uintmax_t(64) << 20);
      for (const auto& [number, line] : lines(text)) {
        check_relative(detail::cat("'", text_path.string(), "' line ", number), line);
        keys.emplace_back(line);
      }
    } else {
      throw io_error(op, detail::cat("split '", split_folder(which), "': neither '", pickle_path.string(), "' nor '",
                                     text_path.string(), "' exists"));
    }
    if (keys.empty())
      throw io_error(op, detail::cat("split '", split_folder(which), "' in '", folder.string(), "' lists no images"));
    return keys;
  }

  static std::vector<std::int64_t> read_class_ids(const std::filesystem::path& root, split which,
                                                  const std::vector<std::string>& keys) {
    const auto path = root / split_folder(which) / "class_info.pickle";
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      auto ids = read_int_list(path);
      if (ids.size() != keys.size())
        throw io_error(op, detail::cat("'", path.string(), "' holds ", ids.size(), " class ids, the split lists ",
                                       keys.size(), " images"));
      return ids;
    }
    // The class folder's number: "017.Purple_Finch/Purple_Finch_0001" -> 17.
    std::vector<std::int64_t> ids;
    ids.reserve(keys.size());
    for (const auto& k : keys) {
      const auto dot = k.find('.');
      const auto slash = k.find('/');
      std::int64_t v = 0;
      const char* first = k.data();
      const char* last = k.data() + std::min(dot, k.size());
      const bool numbered = dot != std::string::npos && dot > 0 && dot < slash &&
                            std::from_chars(first, last, v).ptr == last && v >= 0;
      if (!numbered) {
        // Not CUB-style folders: every image its own class, as the original.
        ids.resize(keys.size());
        for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = std::int64_t(i);
        return ids;
      }
      ids.push_back(v);
    }
    return ids;
  }

  // --- images.txt, bounding_boxes.txt ------------------------------------------
  void read_images_and_boxes(bool use_bbox) {
    image_files_.resize(keys_.size());
    if (!use_bbox) {
      // Without images.txt the original's naming applies: images/<key>.jpg.
      for (std::size_t i = 0; i < keys_.size(); ++i) image_files_[i] = keys_[i] + ".jpg";
      return;
    }
    const auto cub = root_ / "CUB_200_2011";
    const auto images_path = cub / "images.txt";
    const auto boxes_path = cub / "bounding_boxes.txt";
    const std::string images_text = read_text(images_path, std::uintmax_t(64) << 20);
    const std::string boxes_text = read_text(boxes_path, std::uintmax_t(64) << 20);
    const auto image_lines = lines(images_text);
    const auto box_lines = lines(boxes_text);
    if (image_lines.size() != box_lines.size())
      throw io_error(op, detail::cat("'", images_path.string(), "' has ", image_lines.size(), " rows but '",
                                     boxes_path.string(), "' has ", box_lines.size(),
                                     " (row i of one belongs to row i of the other)"));

    struct entry {
      std::string file;
      located_box box;
    };
    std::unordered_map<std::string, entry> by_key;
    by_key.reserve(image_lines.size());
    for (std::size_t r = 0; r < image_lines.size(); ++r) {
      const auto [img_no, img_line] = image_lines[r];
      const auto img_fields = fields(img_line);
      const std::string img_where = detail::cat("'", images_path.string(), "' line ", img_no);
      if (img_fields.size() != 2)
        throw io_error(op, detail::cat(img_where, ": expected '<id> <path>', got '", img_line, "'"));
      const std::string file(img_fields[1]);
      check_relative(img_where, file);
      // The key is the path without its extension (the original strips ".jpg").
      const auto slash = file.rfind('/');
      const auto dot = file.rfind('.');
      const std::string key =
          dot != std::string::npos && (slash == std::string::npos || dot > slash) ? file.substr(0, dot) : file;

      const auto [box_no, box_line] = box_lines[r];
      const std::string box_where = detail::cat("'", boxes_path.string(), "' line ", box_no);
      const auto box_fields = fields(box_line);
      if (box_fields.size() != 5)
        throw io_error(op, detail::cat(box_where, ": expected '<id> <x> <y> <w> <h>', got '", box_line, "'"));
      int v[4] = {};
      for (int j = 0; j < 4; ++j) v[j] = box_number(box_where, box_fields[std::size_t(j) + 1]);
      if (v[2] <= 0 || v[3] <= 0)
        throw io_error(op, detail::cat(box_where, ": the box has width ", v[2], " and height ", v[3],
                                       "; both must be positive"));
      const auto [it, fresh] = by_key.emplace(key, entry{file, located_box{bbox{v[0], v[1], v[2], v[3]}, box_no}});
      if (!fresh) throw io_error(op, detail::cat(img_where, ": image '", key, "' is listed twice"));
    }

    boxes_.resize(keys_.size());
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      const auto it = by_key.find(keys_[i]);
      if (it == by_key.end())
        throw io_error(op, detail::cat("image '", keys_[i], "' of the ", split_folder(split_), " split is not in '",
                                       images_path.string(), "', so it has no bounding box"));
      image_files_[i] = it->second.file;
      boxes_[i] = it->second.box;
    }
  }

  /// A coordinate of bounding_boxes.txt: a finite number, truncated to int.
  static int box_number(const std::string& where, std::string_view text) {
    double v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) || std::abs(v) > 1e9)
      throw io_error(op, detail::cat(where, ": '", text, "' is not a pixel coordinate"));
    return int(std::trunc(v));
  }

  // --- captions ------------------------------------------------------------------
  void add_caption(std::span<const std::int64_t> ids) {
    words_.insert(words_.end(), ids.begin(), ids.end());
    caption_start_.push_back(words_.size());
  }

  void read_captions(const cub_options& options) {
    caption_start_.assign(1, 0);
    const auto pickle_path = root_ / "captions.pickle";
    std::error_code ec;
    if (options.use_captions_pickle && std::filesystem::exists(pickle_path, ec)) {
      read_captions_pickle_file(pickle_path, options);
      return;
    }

    // Text files. With a given vocabulary only this split is needed; to build
    // one, both splits are read (the vocabulary spans train + test).
    std::vector<std::vector<std::string>> mine;
    std::vector<std::vector<std::string>> train, test;
    const auto read_split_captions = [&](const std::vector<std::string>& keys,
                                         std::vector<std::vector<std::string>>& out) {
      out.reserve(keys.size() * std::size_t(captions_per_image_));
      for (const auto& key : keys) {
        const auto path = root_ / "text" / (key + ".txt");
        caption_file f = read_caption_file(path, captions_per_image_);
        for (int line : f.skipped_lines)
          warnings_.push_back(detail::cat("'", path.string(), "' line ", line, ": no word in the caption, skipped"));
        for (auto& c : f.captions) out.push_back(std::move(c));
      }
    };
    if (options.vocab) {
      vocab_ = *options.vocab;
      read_split_captions(keys_, mine);
    } else {
      const split other = split_ == split::train ? split::test : split::train;
      read_split_captions(keys_, split_ == split::train ? train : test);
      read_split_captions(read_split(root_, other), other == split::train ? train : test);
      vocab_ = vocabulary::from_captions(train, test);
    }
    const auto& captions = options.vocab ? mine : (split_ == split::train ? train : test);
    for (std::size_t c = 0; c < captions.size(); ++c) {
      const auto e = vocab_.encode_tokens(captions[c]);
      if (!e.unknown.empty()) {
        const std::size_t i = c / std::size_t(captions_per_image_);
        throw io_error(op, detail::cat("'", caption_path(i).string(), "': word '", e.unknown.front(),
                                       "' is not in the given vocabulary (", vocab_.size(), " words)"));
      }
      add_caption(e.ids);
    }
  }

  void read_captions_pickle_file(const std::filesystem::path& path, const cub_options& options) {
    captions_pickle p = read_captions_pickle(path);
    const std::string where = detail::cat("'", path.string(), "'");
    auto& captions = split_ == split::train ? p.train_captions : p.test_captions;
    const std::size_t want = keys_.size() * std::size_t(captions_per_image_);
    if (captions.size() != want)
      throw io_error(op, detail::cat(where, ": ", captions.size(), " ", split_folder(split_),
                                     " captions, but the split has ", keys_.size(), " images x ", captions_per_image_,
                                     " captions = ", want));
    for (std::size_t c = 0; c < captions.size(); ++c) {
      // The text encoder cannot take an empty caption; 0 is padding only.
      if (captions[c].empty())
        throw io_error(op, detail::cat(where, ": ", split_folder(split_), " caption ", c, " (image '",
                                       keys_[c / std::size_t(captions_per_image_)], "') has no word"));
      if (std::find(captions[c].begin(), captions[c].end(), 0) != captions[c].end())
        throw io_error(op, detail::cat(where, ": ", split_folder(split_), " caption ", c,
                                       " holds index 0 ('<end>'), which is padding only"));
      add_caption(captions[c]);
    }
    try {
      vocab_ = vocabulary(std::move(p.ixtoword));
    } catch (const value_error& e) {
      throw io_error(op, detail::cat(where, ": ixtoword is not a vocabulary: ", e.what()));
    }
    if (options.vocab && options.vocab->words() != vocab_.words())
      throw io_error(op, detail::cat(where, ": its vocabulary (", vocab_.size(),
                                     " words) differs from the one given in the options (", options.vocab->size(),
                                     " words)"));
  }

  std::filesystem::path root_;
  split split_ = split::train;
  int captions_per_image_ = 10;
  std::vector<std::string> keys_;
  std::vector<std::int64_t> class_ids_;
  std::vector<std::string> image_files_;  // relative to CUB_200_2011/images
  std::vector<located_box> boxes_;        // empty when use_bbox is off
  std::vector<std::int64_t> words_;       // all captions, concatenated
  std::vector<std::size_t> caption_start_;  // caption c is words_[start[c], start[c + 1])
  vocabulary vocab_;
  std::vector<std::string> warnings_;
};

}  // namespace attngan::data
