// attngan/data/image.hpp — 8-bit RGB images: decoding JPEG and PNG, encoding
// PNG and JPEG, with atomic writes.
//
// An `image` is what the original code gets from `Image.open(path)
// .convert('RGB')`: height x width pixels of three 8-bit channels, stored
// row-major and interleaved (HWC). Decoding and encoding go through stb_image
// and stb_image_write (Debian's libstb-dev, design decision 10). Both are
// single-file libraries; this header compiles a private copy of each into
// every translation unit that includes it (STB_*_STATIC), so users link
// nothing and two libraries embedding stb cannot clash. Only the JPEG and PNG
// decoders are compiled (the formats CUB and the programs use); the HDR and
// float paths and stb's FILE* helpers are left out, because files are read and
// written here with the C++ library, which also lets every error name its
// file. Hostile headers cannot demand unbounded memory: width and height are
// capped at max_image_side and their product at max_image_pixels before
// anything is decoded.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "attngan/core/error.hpp"
#include "attngan/data/file_io.hpp"

namespace attngan::data::detail {

/// stb_image allocates its output and its working planes afresh for every
/// image and frees them at the end. Fresh memory from the system costs a page
/// fault per 4 KiB page, which on a virtual machine outweighs the decoding
/// itself (measured here: 5 of 7 ms for a 500x375 JPEG). So each thread keeps
/// up to eight of the large blocks stb frees (64 MiB at most) and gives them
/// back to stb's next requests that fit: a loader decoding image after image
/// touches the same warm pages. Blocks carry their capacity in a 16-byte
/// header, which keeps malloc's alignment.
class stb_block_cache {
 public:
  stb_block_cache() = default;
  stb_block_cache(const stb_block_cache&) = delete;
  stb_block_cache& operator=(const stb_block_cache&) = delete;
  ~stb_block_cache() {
    for (header* h : cached_) std::free(h);
  }
  static stb_block_cache& local() {
    thread_local stb_block_cache cache;
    return cache;
  }

  void* allocate(std::size_t n) {
    if (n >= min_cached) {
      // Smallest cached block that fits without wasting more than 4x.
      std::size_t best = cached_.size();
      for (std::size_t i = 0; i < cached_.size(); ++i) {
        const std::size_t cap = cached_[i]->capacity;
        if (cap >= n && cap <= 4 * n && (best == cached_.size() || cap < cached_[best]->capacity)) best = i;
      }
      if (best != cached_.size()) {
        header* h = cached_[best];
        cached_.erase(cached_.begin() + std::ptrdiff_t(best));
        cached_bytes_ -= h->capacity;
        return h + 1;
      }
      n = (n + min_cached - 1) / min_cached * min_cached;  // round up: neighbouring sizes share blocks
    }
    auto* h = static_cast<header*>(std::malloc(sizeof(header) + n));
    if (!h) return nullptr;
    h->capacity = n;
    return h + 1;
  }

  void release(void* p) {
    if (!p) return;
    header* h = static_cast<header*>(p) - 1;
    if (h->capacity < min_cached || h->capacity > max_bytes) {
      std::free(h);
      return;
    }
    if (cached_.size() == max_blocks) {  // drop the oldest
      cached_bytes_ -= cached_.front()->capacity;
      std::free(cached_.front());
      cached_.erase(cached_.begin());
    }
    while (!cached_.empty() && cached_bytes_ + h->capacity > max_bytes) {
      cached_bytes_ -= cached_.front()->capacity;
      std::free(cached_.front());
      cached_.erase(cached_.begin());
    }
    cached_.push_back(h);
    cached_bytes_ += h->capacity;
  }

  void* reallocate(void* p, std::size_t n) {
    if (!p) return allocate(n);
    header* h = static_cast<header*>(p) - 1;
    if (h->capacity >= n) return p;
    void* q = allocate(n);
    if (!q) return nullptr;  // stb frees p itself on failure
    std::memcpy(q, p, h->capacity);
    release(p);
    return q;
  }

 private:
  struct alignas(16) header {
    std::size_t capacity;
  };
  static constexpr std::size_t min_cached = std::size_t(64) << 10;
  static constexpr std::size_t max_blocks = 8;
  static constexpr std::size_t max_bytes = std::size_t(64) << 20;
  std::vector<header*> cached_;
  std::size_t cached_bytes_ = 0;
};

inline void* stb_malloc(std::size_t n) { return stb_block_cache::local().allocate(n); }
inline void* stb_realloc(void* p, std::size_t n) { return stb_block_cache::local().reallocate(p, n); }
inline void stb_free(void* p) { stb_block_cache::local().release(p); }

}  // namespace attngan::data::detail

// --- stb, compiled privately into this translation unit ----------------------
#if defined(STBI_INCLUDE_STB_IMAGE_H) || defined(INCLUDE_STB_IMAGE_WRITE_H)
#error "attngan/data/image.hpp compiles its own private (static) copy of stb_image and stb_image_write; include it before any other include of <stb_image.h> or <stb_image_write.h> in this translation unit, or move your own stb use to another one."
#endif

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO        // files are read with std::ifstream (error messages name the file)
#define STBI_NO_HDR          // 8-bit images only
#define STBI_NO_LINEAR
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_MAX_DIMENSIONS 16384  // == attngan::data::max_image_side, checked by stb's own parsers too
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO  // encoded into memory, then written atomically
#define STBI_MALLOC(size) ::attngan::data::detail::stb_malloc(size)
#define STBI_REALLOC(p, size) ::attngan::data::detail::stb_realloc(p, size)
#define STBI_FREE(p) ::attngan::data::detail::stb_free(p)

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic push
// stb is C written for C and C++ alike; under -Wall -Wextra -Wpedantic as C++20
// it trips these, and the static copy leaves unused functions behind.
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wuseless-cast"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wpedantic"
#if defined(__clang__)
#pragma GCC diagnostic ignored "-Wunknown-warning-option"
#else
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wduplicated-branches"
#endif
#endif

#include <stb_image.h>
#include <stb_image_write.h>

// The implementations are compiled; a later #include <stb_image.h> in this
// translation unit (from another header) must see only the guarded
// declarations, not compile them a second time.
#undef STB_IMAGE_IMPLEMENTATION
#undef STB_IMAGE_WRITE_IMPLEMENTATION

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace attngan::data {

/// Largest accepted width or height, in pixels (CUB's images are at most 500).
inline constexpr int max_image_side = 16384;
/// Largest accepted width * height: 64 Mi pixels (192 MiB as RGB).
inline constexpr std::int64_t max_image_pixels = std::int64_t(1) << 26;

/// An 8-bit RGB image, row-major, channels interleaved (HWC): the bytes of
/// pixel (x, y) are rgb[3 * (y * width + x) + 0..2].
struct image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;

  image() = default;
  /// A black width x height image. Sizes must be positive and within the caps.
  image(int width_, int height_) : width(width_), height(height_) {
    check_size("image", width_, height_);
    rgb.assign(std::size_t(width_) * std::size_t(height_) * 3, 0);
  }

  [[nodiscard]] bool empty() const noexcept { return width == 0 || height == 0; }
  friend bool operator==(const image&, const image&) = default;
  /// Bytes per row (3 * width).
  [[nodiscard]] std::size_t row_bytes() const noexcept { return std::size_t(width) * 3; }

  /// Pointer to the three bytes of pixel (x, y); no bounds check.
  [[nodiscard]] std::uint8_t* pixel(int x, int y) noexcept {
    return rgb.data() + (std::size_t(y) * std::size_t(width) + std::size_t(x)) * 3;
  }
  [[nodiscard]] const std::uint8_t* pixel(int x, int y) const noexcept {
    return rgb.data() + (std::size_t(y) * std::size_t(width) + std::size_t(x)) * 3;
  }
  /// Channel c (0 = R, 1 = G, 2 = B) of pixel (x, y), bounds-checked.
  [[nodiscard]] std::uint8_t& at(int x, int y, int c) {
    check_index(x, y, c);
    return pixel(x, y)[c];
  }
  [[nodiscard]] std::uint8_t at(int x, int y, int c) const {
    check_index(x, y, c);
    return pixel(x, y)[c];
  }

  /// Throws value_error (naming `op`) unless 0 < width, height <= max_image_side
  /// and width * height <= max_image_pixels.
  static void check_size(const char* op, std::int64_t w, std::int64_t h) {
    if (w <= 0 || h <= 0 || w > max_image_side || h > max_image_side || w * h > max_image_pixels)
      throw value_error(op, attngan::detail::cat("image size ", w, "x", h, " is outside 1..", max_image_side,
                                        " per side and ", max_image_pixels, " pixels in all"));
  }

 private:
  void check_index(int x, int y, int c) const {
    if (x < 0 || x >= width || y < 0 || y >= height || c < 0 || c > 2)
      throw value_error("image::at", attngan::detail::cat("pixel (", x, ", ", y, ") channel ", c, " is outside the ", width,
                                                 "x", height, " RGB image"));
  }
};

namespace detail {

/// stb's reason for the last failure on this thread (thread-local in stb).
inline std::string stb_reason() {
  const char* r = stbi_failure_reason();
  return r && *r ? std::string(r) : std::string("no reason given");
}

/// Checks the Huffman tables (DHT segments) of a JPEG before stb sees them:
/// the 16 code-length counts of a table must sum to at most 256. stb_image
/// 2.27 (Debian 12's libstb) trusts them and writes past its code-size
/// array on a hostile file (fixed upstream in 2.28). Walks the marker
/// segments (skipping APPn payloads such as EXIF thumbnails by their length,
/// and the entropy-coded data after each SOS up to the next marker). Returns
/// an empty string when the tables are sound, else what is wrong; anything
/// else malformed is left to stb to report.
inline std::string jpeg_huffman_problem(const std::uint8_t* b, std::size_t n) {
  std::size_t pos = 2;  // after SOI
  while (pos + 1 < n) {
    if (b[pos] != 0xFF) {  // not at a marker (inside entropy-coded data): scan on
      ++pos;
      continue;
    }
    const std::uint8_t m = b[pos + 1];
    if (m == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (m == 0x00 || m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) {  // stuffing, TEM, SOI, RSTn: no length
      pos += 2;
      continue;
    }
    if (m == 0xD9) break;  // EOI
    if (pos + 4 > n) break;
    const std::size_t len = (std::size_t(b[pos + 2]) << 8) | b[pos + 3];
    if (len < 2) return "a marker segment shorter than its length field";
    const std::size_t end = std::min(n, pos + 2 + len);
    if (m == 0xC4) {
      std::size_t p = pos + 4;
      while (p < end) {
        if (p + 17 > end) return "a truncated Huffman table";
        std::size_t count = 0;
        for (int i = 1; i <= 16; ++i) count += b[p + std::size_t(i)];
        if (count > 256) return cat("a Huffman table with ", count, " codes (at most 256)");
        p += 17 + count;
      }
    }
    pos = pos + 2 + len;
  }
  return {};
}

/// stb_image_write's callback: appends to a std::vector<std::uint8_t>.
inline void append_to_vector(void* context, void* data, int size) {
  if (size <= 0) return;
  auto* out = static_cast<std::vector<std::uint8_t>*>(context);
  // resize + memcpy rather than insert: GCC 12 reports a false
  // -Wstringop-overflow for vector::insert inlined into stb's JPEG writer.
  const std::size_t old = out->size();
  out->resize(old + std::size_t(size));
  std::memcpy(out->data() + old, data, std::size_t(size));
}

inline void check_writable(const char* op, const std::filesystem::path& path, const image& img) {
  if (img.empty()) throw value_error(op, cat("'", path.string(), "': the image is empty"));
  image::check_size(op, img.width, img.height);
  if (img.rgb.size() != std::size_t(img.width) * std::size_t(img.height) * 3)
    throw value_error(op, cat("'", path.string(), "': image is ", img.width, "x", img.height, " but holds ",
                              img.rgb.size(), " bytes, not ", std::size_t(img.width) * std::size_t(img.height) * 3));
}

}  // namespace detail

/// Decodes an in-memory JPEG or PNG into RGB (grayscale is replicated, alpha
/// dropped). `name` is used in error messages only (the file it came from).
/// A truncated JPEG is an error, as in PIL: stb_image requires the
/// end-of-image marker.
inline image decode_image(const std::uint8_t* bytes, std::size_t size, const std::string& name = "<memory>") {
  constexpr const char* op = "read_image";
  if (size == 0) throw io_error(op, detail::cat("'", name, "': file is empty (0 bytes)"));
  if (size > std::size_t(INT32_MAX))
    throw io_error(op, detail::cat("'", name, "': ", size, " bytes is more than stb_image accepts"));
  const int len = static_cast<int>(size);
  // The format from its signature, so that errors can say what the file is.
  static constexpr std::uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  const bool is_png = size >= 8 && std::memcmp(bytes, png_signature, 8) == 0;
  const bool is_jpeg = size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
  if (!is_png && !is_jpeg) {
    std::string start;
    for (std::size_t i = 0; i < std::min<std::size_t>(size, 8); ++i) {
      static constexpr char hex[] = "0123456789abcdef";
      start += hex[bytes[i] >> 4];
      start += hex[bytes[i] & 15];
      if (i + 1 < std::min<std::size_t>(size, 8)) start += ' ';
    }
    throw io_error(op, detail::cat("'", name, "': not a JPEG or PNG image (it starts with bytes ", start, ")"));
  }
  const char* format = is_png ? "PNG" : "JPEG";
  if (is_jpeg) {
    const std::string problem = detail::jpeg_huffman_problem(bytes, size);
    if (!problem.empty()) throw io_error(op, detail::cat("'", name, "': corrupt JPEG: ", problem));
  }
  int w = 0, h = 0, channels = 0;
  // Header first: rejects hostile sizes before any pixel memory is allocated.
  if (!stbi_info_from_memory(bytes, len, &w, &h, &channels)) {
    // stbi_info tries every format, so its reason is the last one's. Loading
    // fails in the same header check (nothing is allocated: stb caps each side
    // at STBI_MAX_DIMENSIONS before allocating) and leaves this format's reason.
    stbi_image_free(stbi_load_from_memory(bytes, len, &w, &h, &channels, 3));
    throw io_error(op, detail::cat("'", name, "': corrupt or unsupported ", format, " header (stb_image: ",
                                   detail::stb_reason(), "; at most ", max_image_side, " pixels per side)"));
  }
  if (w <= 0 || h <= 0 || w > max_image_side || h > max_image_side || std::int64_t(w) * h > max_image_pixels)
    throw io_error(op, detail::cat("'", name, "': ", format, " header claims ", w, "x", h,
                                   " pixels; accepted are at most ", max_image_side, " per side and ",
                                   max_image_pixels, " in all"));
  int got_w = 0, got_h = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load_from_memory(bytes, len, &got_w, &got_h, &channels, 3),
                                                   stbi_image_free);
  if (!pixels)
    throw io_error(op, detail::cat("'", name, "': cannot decode the ", format, " data (stb_image: ",
                                   detail::stb_reason(), "); the file is truncated or corrupt"));
  if (got_w != w || got_h != h)
    throw io_error(op, detail::cat("'", name, "': header says ", w, "x", h, " but ", got_w, "x", got_h,
                                   " pixels were decoded"));
  image out;
  out.width = w;
  out.height = h;
  out.rgb.assign(pixels.get(), pixels.get() + std::size_t(w) * std::size_t(h) * 3);
  return out;
}

/// Reads a JPEG or PNG file as RGB, like PIL's `Image.open(path).convert('RGB')`
/// (grayscale replicated to three channels, alpha dropped without blending).
/// Throws io_error naming the file: missing, empty, not an image, truncated or
/// corrupt, or larger than the caps above.
inline image read_image(const std::filesystem::path& path) {
  // 256 MiB of compressed data is far beyond any accepted image.
  const auto bytes = read_file_bytes("read_image", path, std::uintmax_t(256) << 20);
  return decode_image(bytes.data(), bytes.size(), path.string());
}

/// Encodes an image as PNG (zlib level 8, stb's default) in memory.
inline std::vector<std::uint8_t> encode_png(const image& img) {
  detail::check_writable("encode_png", "<memory>", img);
  std::vector<std::uint8_t> out;
  if (!stbi_write_png_to_func(detail::append_to_vector, &out, img.width, img.height, 3, img.rgb.data(),
                              int(img.row_bytes())))
    throw io_error("encode_png", detail::cat("stb_image_write failed on a ", img.width, "x", img.height, " image"));
  return out;
}

/// Encodes an image as baseline JPEG of the given quality (1..100) in memory.
/// stb_image_write subsamples chroma (4:2:0) at quality <= 90 and keeps full
/// chroma resolution above, which is what small coloured parts need.
inline std::vector<std::uint8_t> encode_jpeg(const image& img, int quality = 95) {
  detail::check_writable("encode_jpeg", "<memory>", img);
  if (quality < 1 || quality > 100)
    throw value_error("encode_jpeg", detail::cat("quality ", quality, " is outside 1..100"));
  std::vector<std::uint8_t> out;
  if (!stbi_write_jpg_to_func(detail::append_to_vector, &out, img.width, img.height, 3, img.rgb.data(), quality))
    throw io_error("encode_jpeg", detail::cat("stb_image_write failed on a ", img.width, "x", img.height, " image"));
  return out;
}

/// Writes `img` as a PNG file, atomically (temporary file + rename).
inline void write_png(const std::filesystem::path& path, const image& img) {
  detail::check_writable("write_png", path, img);
  const auto bytes = encode_png(img);
  write_file_atomically("write_png", path, bytes.data(), bytes.size());
}

/// Writes `img` as a JPEG file of the given quality (1..100), atomically.
inline void write_jpeg(const std::filesystem::path& path, const image& img, int quality = 95) {
  detail::check_writable("write_jpeg", path, img);
  if (quality < 1 || quality > 100)
    throw value_error("write_jpeg", detail::cat("'", path.string(), "': quality ", quality, " is outside 1..100"));
  const auto bytes = encode_jpeg(img, quality);
  write_file_atomically("write_jpeg", path, bytes.data(), bytes.size());
}

}  // namespace attngan::data
