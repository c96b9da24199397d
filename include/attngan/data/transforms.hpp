// attngan/data/transforms.hpp — the training image pipeline of spec §10.1:
// bounding-box crop, Scale, RandomCrop, RandomHorizontalFlip, per-stage
// images, normalisation to [-1, 1].
//
// The original (datasets.py `get_imgs`, torchvision 0.2 transforms, PIL) does,
// for every image and every time it is loaded:
//   1. bbox crop: r = int(0.75 max(w, h)), centre (int((2x + w)/2),
//      int((2y + h)/2)), box [cx - r, cy - r, cx + r, cy + r] clamped to the
//      image (so it can be non-square at the borders);
//   2. Scale(int(final · 76/64)) (304 for 256, 355 for DAMSM's 299): shorter
//      side to that size, longer side int(size · long / short) — Python 2
//      integer division, i.e. floor — with PIL's bilinear resize;
//   3. RandomCrop(final): x uniform in [0, W - final], then y in
//      [0, H - final]; RandomHorizontalFlip: flip when a uniform draw < 0.5;
//   4. stage i < last: Scale(base · 2^i) of that crop (the crop is square, so
//      a square resize); the last stage is the crop itself;
//   5. ToTensor + Normalize(0.5, 0.5): v/255 then (x - 0.5)/0.5 in float32.
//
// PIL's "bilinear" resize is not 2x2 interpolation. Pillow resamples
// separably (horizontal pass, then vertical) with a triangle filter whose
// support is scaled by the downscale factor (antialiasing), normalises each
// output's weights to sum 1, converts them to 22-bit fixed point and rounds
// each pass to uint8. resize_bilinear below implements that algorithm (the
// convolution resampler of Pillow's libImaging/Resample.c: window ends
// rounded with (int)(x + 0.5), weights normalised in double, 22-bit
// fixed-point sums with a rounding bias, an axis left alone when its size
// does not change) and is checked bit-exact against Pillow 9.4.0 (Debian 12)
// by tests/data/test_transforms.cpp, on fixtures written by
// tests/data/golden/make_resize_golden.py. The original AttnGAN ran on a
// 2017 Pillow; releases that predate the fixed-point coefficients may differ
// from this by one level in some pixels.
//
// Randomness comes from an attngan::generator passed in: one train_transform
// call consumes one draw of three doubles (two Philox blocks), whatever the
// image size, so a loader can give item n its own (seed, offset) and get the
// same batch on any thread.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "attngan/backend/cpu/cpu.hpp"
#include "attngan/core/error.hpp"
#include "attngan/core/philox.hpp"
#include "attngan/core/random.hpp"
#include "attngan/core/tensor.hpp"
#include "attngan/data/image.hpp"

// Non-aliasing pointers for the resampling loops (a common extension of GCC,
// Clang and MSVC).
#if defined(__GNUC__) || defined(__clang__) || defined(_MSC_VER)
#define ATTNGAN_DATA_RESTRICT __restrict
#else
#define ATTNGAN_DATA_RESTRICT
#endif

namespace attngan::data {

/// A CUB bounding box in pixels: top-left corner (x, y) and extent (w, h), as
/// in bounding_boxes.txt after the original's cast to int.
struct bbox {
  int x = 0, y = 0, w = 0, h = 0;
  friend bool operator==(const bbox&, const bbox&) = default;
};

/// A pixel rectangle [x0, x1) x [y0, y1), PIL's crop-box convention.
struct crop_box {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  [[nodiscard]] int width() const noexcept { return x1 - x0; }
  [[nodiscard]] int height() const noexcept { return y1 - y0; }
  friend bool operator==(const crop_box&, const crop_box&) = default;
};

/// Step 1 of §10.1: the crop box the original cuts around a bounding box,
/// clamped to a width x height image. Throws value_error when the box and the
/// image do not overlap (the bounding box lies outside the image).
inline crop_box bbox_crop_box(const bbox& b, int width, int height) {
  // int(max(w, h) * 0.75) truncates; (2x + w) / 2 with non-negative ints is
  // Python 2's floor division (== int() of the float quotient the spec quotes).
  const std::int64_t r = std::int64_t(double(std::max(b.w, b.h)) * 0.75);
  const std::int64_t cx = (2 * std::int64_t(b.x) + b.w) / 2;
  const std::int64_t cy = (2 * std::int64_t(b.y) + b.h) / 2;
  const crop_box box{int(std::max<std::int64_t>(0, cx - r)), int(std::max<std::int64_t>(0, cy - r)),
                     int(std::min<std::int64_t>(width, cx + r)), int(std::min<std::int64_t>(height, cy + r))};
  if (b.w < 0 || b.h < 0 || box.width() <= 0 || box.height() <= 0)
    throw value_error("bbox_crop", detail::cat("bounding box (x ", b.x, ", y ", b.y, ", w ", b.w, ", h ", b.h,
                                               ") gives an empty crop of the ", width, "x", height,
                                               " image (it lies outside the image or is empty)"));
  return box;
}

/// Copies the rectangle `box` (inside the image) into a new image.
inline image crop(const image& src, const crop_box& box) {
  if (box.x0 < 0 || box.y0 < 0 || box.x1 > src.width || box.y1 > src.height || box.width() <= 0 ||
      box.height() <= 0)
    throw value_error("crop", detail::cat("box [", box.x0, ", ", box.y0, ", ", box.x1, ", ", box.y1,
                                          ") is empty or outside the ", src.width, "x", src.height, " image"));
  image out(box.width(), box.height());
  const std::size_t row = out.row_bytes();
  for (int y = 0; y < out.height; ++y) std::memcpy(out.pixel(0, y), src.pixel(box.x0, box.y0 + y), row);
  return out;
}

/// Step 1 of §10.1 on an image: crop around the bounding box.
inline image bbox_crop(const image& src, const bbox& b) { return crop(src, bbox_crop_box(b, src.width, src.height)); }

/// Mirrors the image left-right in place (PIL's FLIP_LEFT_RIGHT).
inline void flip_horizontal(image& img) {
  for (int y = 0; y < img.height; ++y) {
    std::uint8_t* row = img.pixel(0, y);
    for (int a = 0, b = img.width - 1; a < b; ++a, --b)
      for (int c = 0; c < 3; ++c) std::swap(row[3 * a + c], row[3 * b + c]);
  }
}

/// Output size of torchvision 0.2's Scale(size) on a width x height image:
/// the shorter side becomes `size`, the longer floor(size · long / short)
/// (the original runs under Python 2, where int / int floors). A square image
/// takes the "width >= height" branch, so it becomes size x size.
inline std::pair<int, int> scale_size(int width, int height, int size) {
  if (width <= 0 || height <= 0 || size <= 0)
    throw value_error("scale_size", detail::cat("cannot scale a ", width, "x", height, " image to ", size));
  std::int64_t ow = size, oh = size;
  if (width < height)
    oh = std::int64_t(size) * height / width;
  else
    ow = std::int64_t(size) * width / height;
  image::check_size("scale_size", ow, oh);  // a sliver bbox must not demand gigabytes
  return {int(ow), int(oh)};
}

namespace detail {

/// A read-only rectangle of an image: `height` rows of `width` RGB pixels,
/// rows `stride` bytes apart (a crop without copying).
struct pixels {
  const std::uint8_t* data = nullptr;
  int width = 0, height = 0;
  std::size_t stride = 0;
  [[nodiscard]] const std::uint8_t* row(int y) const noexcept { return data + std::size_t(y) * stride; }
};

/// Pillow's fixed-point precision for 8-bit images: 32 - 8 - 2 bits.
inline constexpr int resample_precision_bits = 22;

/// The resampling weights of one axis: output i reads `count[i]` inputs
/// starting at `first[i]`, with weights k[i * ksize + j] in 22-bit fixed point.
struct resample_axis {
  int in_size = 0, out_size = 0, ksize = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> k;
};

/// Pillow's precompute_coeffs for the bilinear (triangle) filter, support 1,
/// followed by normalize_coeffs_8bpc. Weights are computed in double exactly
/// as Pillow does (same expressions, same order), so the fixed-point values
/// match bit for bit.
inline resample_axis bilinear_axis(int in_size, int out_size) {
  resample_axis a;
  a.in_size = in_size;
  a.out_size = out_size;
  // Pillow: scale = (in1 - in0) / outSize with in0 = 0, in1 = inSize (floats).
  const double scale = double(float(in_size)) / out_size;
  const double filterscale = std::max(scale, 1.0);  // downscaling widens the filter: antialiasing
  const double support = 1.0 * filterscale;
  a.ksize = int(std::ceil(support)) * 2 + 1;
  a.first.resize(std::size_t(out_size));
  a.count.resize(std::size_t(out_size));
  a.k.assign(std::size_t(out_size) * std::size_t(a.ksize), 0);
  std::vector<double> w(std::size_t(a.ksize));
  const double ss = 1.0 / filterscale;
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    // Pillow rounds the window ends with (int)(v + 0.5) (truncation toward 0).
    int xmin = int(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = int(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      double t = (x + xmin - center + 0.5) * ss;
      if (t < 0.0) t = -t;
      const double v = t < 1.0 ? 1.0 - t : 0.0;
      w[std::size_t(x)] = v;
      ww += v;
    }
    std::int32_t* k = a.k.data() + std::size_t(xx) * std::size_t(a.ksize);
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[std::size_t(x)] / ww : w[std::size_t(x)];
      // Triangle weights are never negative; Pillow's negative branch rounds
      // away from zero the same way.
      k[x] = v < 0 ? std::int32_t(-0.5 + v * (1 << resample_precision_bits))
                   : std::int32_t(0.5 + v * (1 << resample_precision_bits));
    }
    a.first[std::size_t(xx)] = xmin;
    a.count[std::size_t(xx)] = xmax;
  }
  return a;
}

/// Pillow's clip8: fixed-point sum (rounding bias already added) to uint8.
ATTNGAN_ALWAYS_INLINE std::uint8_t clip8(std::int32_t v) {
  return std::uint8_t(std::clamp(v >> resample_precision_bits, 0, 255));
}

/// acc[i] += row[i] * k. Non-aliasing pointers and `omp simd` make the loop
/// vectorise at -O2 too, where GCC's cheap cost model would otherwise refuse
/// the run-time alias check and the byte-to-int widening (15x slower).
ATTNGAN_ALWAYS_INLINE void accumulate_row(std::int32_t* ATTNGAN_DATA_RESTRICT acc,
                                          const std::uint8_t* ATTNGAN_DATA_RESTRICT row, std::int32_t k,
                                          std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) acc[i] += std::int32_t(row[i]) * k;
}

/// out[i] = clip8(acc[i]) over a row.
ATTNGAN_ALWAYS_INLINE void clip_row(std::uint8_t* ATTNGAN_DATA_RESTRICT out,
                                    const std::int32_t* ATTNGAN_DATA_RESTRICT acc, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) out[i] = clip8(acc[i]);
}

/// The same weights with every output reading exactly ksize inputs: windows
/// shorter than ksize are widened with zero weights (shifted left at the
/// right border), which adds exact zeros to the fixed-point sums. Needs
/// in_size >= ksize; otherwise the axis is returned unchanged.
inline resample_axis padded(resample_axis a) {
  if (a.in_size < a.ksize) return a;
  for (int xx = 0; xx < a.out_size; ++xx) {
    const std::size_t o = std::size_t(xx);
    std::int32_t* k = a.k.data() + o * std::size_t(a.ksize);
    const int shift = std::max(0, a.first[o] + a.ksize - a.in_size);  // taps that would run off the end
    if (shift > 0) {
      for (int j = a.count[o] - 1; j >= 0; --j) k[j + shift] = k[j];
      for (int j = 0; j < shift; ++j) k[j] = 0;
      a.first[o] -= shift;
    }
    a.count[o] = a.ksize;
  }
  return a;
}

/// Horizontal pass over rows [row_first, row_first + out.height) of `src`
/// into `out`, for output columns [x0, x0 + out.width). K > 0: every output
/// has exactly K taps (a padded axis); K = 0: per-output counts.
template <int K>
void horizontal_pass(const resample_axis& a, const pixels& src, image& out, int x0, int row_first) {
  // Everything the loops read is hoisted into locals: the output is bytes,
  // and a byte store may alias anything, which would otherwise make the
  // compiler reload the weights and offsets after every pixel.
  const std::size_t ksize = std::size_t(a.ksize);
  const std::int32_t* const weights = a.k.data() + std::size_t(x0) * ksize;
  const int* const first = a.first.data() + x0;
  const int* const count = a.count.data() + x0;
  const int width = out.width;
  for (int y = 0; y < out.height; ++y) {
    const std::uint8_t* const in = src.row(row_first + y);
    std::uint8_t* const o = out.pixel(0, y);
    for (int xx = 0; xx < width; ++xx) {
      const std::int32_t* k = weights + std::size_t(xx) * ksize;
      const std::uint8_t* p = in + std::size_t(first[xx]) * 3;
      std::int32_t s0 = 1 << (resample_precision_bits - 1), s1 = s0, s2 = s0;
      const int n = K > 0 ? K : count[xx];
      for (int j = 0; j < n; ++j) {
        const std::int32_t kj = k[j];
        s0 += std::int32_t(p[3 * j + 0]) * kj;
        s1 += std::int32_t(p[3 * j + 1]) * kj;
        s2 += std::int32_t(p[3 * j + 2]) * kj;
      }
      o[3 * xx + 0] = clip8(s0);
      o[3 * xx + 1] = clip8(s1);
      o[3 * xx + 2] = clip8(s2);
    }
  }
}

}  // namespace detail

/// A window [x, x + width) x [y, y + height) of a resize's output.
struct resize_window {
  int x = 0, y = 0, width = 0, height = 0;
};

/// PIL's `img.crop(region).resize((out_width, out_height), Image.BILINEAR)`
/// (Pillow's algorithm, see the header comment), but the crop is not
/// copied and only the pixels of `window` are computed and returned: each
/// output pixel depends on the input alone, so a window of the full resize is
/// exact and saves the work outside it (the random crop of the 304-scaled
/// image keeps 256 of ~405 columns). Like PIL, an axis whose size does not
/// change is copied, not resampled.
inline image resize_bilinear(const image& src, const crop_box& region, int out_width, int out_height,
                             const resize_window& window) {
  image::check_size("resize_bilinear", out_width, out_height);
  if (src.empty()) throw value_error("resize_bilinear", "the input image is empty");
  if (region.x0 < 0 || region.y0 < 0 || region.x1 > src.width || region.y1 > src.height || region.width() <= 0 ||
      region.height() <= 0)
    throw value_error("resize_bilinear", detail::cat("region [", region.x0, ", ", region.y0, ", ", region.x1, ", ",
                                                     region.y1, ") is empty or outside the ", src.width, "x",
                                                     src.height, " image"));
  if (window.x < 0 || window.y < 0 || window.width <= 0 || window.height <= 0 ||
      window.x + window.width > out_width || window.y + window.height > out_height)
    throw value_error("resize_bilinear",
                      detail::cat("window (x ", window.x, ", y ", window.y, ", ", window.width, "x", window.height,
                                  ") is not inside the ", out_width, "x", out_height, " output"));
  const detail::pixels in{src.pixel(region.x0, region.y0), region.width(), region.height(), src.row_bytes()};
  const bool horizontal = out_width != in.width;
  const bool vertical = out_height != in.height;
  const int ww = window.width, wh = window.height;
  image out(ww, wh);

  // Input rows the vertical pass reads.
  detail::resample_axis va;
  int row_first = window.y, row_end = window.y + wh;
  if (vertical) {
    va = detail::bilinear_axis(in.height, out_height);
    row_first = va.first[std::size_t(window.y)];
    row_end = 0;
    for (int y = window.y; y < window.y + wh; ++y)
      row_end = std::max(row_end, va.first[std::size_t(y)] + va.count[std::size_t(y)]);
  }

  // Horizontal pass into `mid`: rows [row_first, row_end), window columns.
  image mid_storage;
  detail::pixels mid{in.data + std::size_t(window.x) * 3, ww, in.height, in.stride};  // row 0 = input row 0
  int mid_y0 = 0;  // input row of mid's row 0
  if (horizontal) {
    const detail::resample_axis ha = detail::padded(detail::bilinear_axis(in.width, out_width));
    mid_storage = image(ww, row_end - row_first);
    // The tap count is a compile-time constant in the common cases (every
    // output reads exactly ksize inputs after padding), so the tap loop
    // unrolls completely. An input narrower than the filter cannot be padded
    // and keeps its per-output counts.
    switch (in.width >= ha.ksize ? ha.ksize : 0) {
      case 3: detail::horizontal_pass<3>(ha, in, mid_storage, window.x, row_first); break;
      case 5: detail::horizontal_pass<5>(ha, in, mid_storage, window.x, row_first); break;
      case 7: detail::horizontal_pass<7>(ha, in, mid_storage, window.x, row_first); break;
      case 9: detail::horizontal_pass<9>(ha, in, mid_storage, window.x, row_first); break;
      default: detail::horizontal_pass<0>(ha, in, mid_storage, window.x, row_first); break;
    }
    mid = detail::pixels{mid_storage.rgb.data(), ww, mid_storage.height, mid_storage.row_bytes()};
    mid_y0 = row_first;
  }

  // Vertical pass: whole rows at a time, so the inner loop is a plain
  // multiply-add over 3 * width bytes that the compiler vectorises.
  const std::size_t row_len = std::size_t(ww) * 3;
  if (vertical) {
    std::vector<std::int32_t> acc(row_len);
    for (int yy = 0; yy < wh; ++yy) {
      const std::size_t oy = std::size_t(window.y + yy);
      const std::int32_t* k = va.k.data() + oy * std::size_t(va.ksize);
      std::fill(acc.begin(), acc.end(), std::int32_t(1) << (detail::resample_precision_bits - 1));
      const int n = va.count[oy];
      for (int j = 0; j < n; ++j) detail::accumulate_row(acc.data(), mid.row(va.first[oy] + j - mid_y0), k[j], row_len);
      detail::clip_row(out.pixel(0, yy), acc.data(), row_len);
    }
  } else {
    for (int yy = 0; yy < wh; ++yy) std::memcpy(out.pixel(0, yy), mid.row(window.y + yy - mid_y0), row_len);
  }
  return out;
}

/// resize_bilinear of the whole image, returning the window.
inline image resize_bilinear(const image& src, int out_width, int out_height, const resize_window& window) {
  return resize_bilinear(src, crop_box{0, 0, src.width, src.height}, out_width, out_height, window);
}

/// PIL's `img.resize((out_width, out_height), Image.BILINEAR)`.
inline image resize_bilinear(const image& src, int out_width, int out_height) {
  return resize_bilinear(src, out_width, out_height, resize_window{0, 0, out_width, out_height});
}

/// torchvision 0.2's Scale(size) with PIL bilinear: shorter side to `size`.
inline image scale(const image& src, int size) {
  const auto [w, h] = scale_size(src.width, src.height, size);
  return resize_bilinear(src, w, h);
}

/// The sizes of §10.1 for a generator of `branches` stages starting at
/// `base_size`: stage i is base_size · 2^i; the crop is the last stage's size
/// and the image is first scaled to int(final · 76 / 64).
struct pipeline_sizes {
  int base_size = 64;
  int branches = 3;

  pipeline_sizes(int base, int stages) : base_size(base), branches(stages) {
    if (base <= 0 || stages < 1 || stages > 8 || (std::int64_t(base) << (stages - 1)) > max_image_side)
      throw value_error("pipeline_sizes",
                        detail::cat("base size ", base, " with ", stages, " stages is not a valid image pyramid"));
  }
  [[nodiscard]] int stage_size(int i) const noexcept { return base_size << i; }
  [[nodiscard]] int final_size() const noexcept { return stage_size(branches - 1); }
  /// int(final · 76 / 64): 304 for 256, 355 for 299.
  [[nodiscard]] int scale_size() const noexcept { return int(std::int64_t(final_size()) * 76 / 64); }
};

/// What train_transform did to one image: enough to map a point of the source
/// image (e.g. the bird's bounding box) into any stage image.
struct transform_record {
  crop_box bbox_crop;                // step 1, in source pixels (the whole image without a bbox)
  int scaled_width = 0, scaled_height = 0;  // after Scale, step 2
  int crop_x = 0, crop_y = 0;        // RandomCrop offsets in the scaled image
  int crop_size = 0;                 // final stage size
  bool flipped = false;              // RandomHorizontalFlip applied
};

/// The random choices of step 3 drawn from `rng`: one draw of three doubles
/// u0, u1, u2 (exactly what rng.uniform<double, cpu>(shape(3)) would give):
/// x = floor(u0 · (W - S + 1)), y = floor(u1 · (H - S + 1)), flip = u2 < 0.5.
struct random_crop_flip {
  int x = 0, y = 0;
  bool flip = false;
};

inline random_crop_flip draw_crop_flip(generator& rng, int width, int height, int size) {
  if (width < size || height < size)
    throw value_error("random_crop", detail::cat("cannot crop ", size, "x", size, " from a ", width, "x", height,
                                                 " image"));
  const std::uint64_t seed = rng.seed(), offset = rng.offset();
  const double u0 = philox::uniform<double>(seed, offset, 0);
  const double u1 = philox::uniform<double>(seed, offset, 1);
  const double u2 = philox::uniform<double>(seed, offset, 2);
  rng = generator(seed, offset + philox::blocks_used_uniform<double>(3));
  random_crop_flip r;
  r.x = std::min(int(u0 * double(width - size + 1)), width - size);
  r.y = std::min(int(u1 * double(height - size + 1)), height - size);
  r.flip = u2 < 0.5;
  return r;
}

/// Float32 values of ToTensor + Normalize(0.5, 0.5) for each byte, computed
/// with the same float operations as torchvision: (v / 255 - 0.5) / 0.5.
inline const std::array<float, 256>& normalise_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int v = 0; v < 256; ++v) t[std::size_t(v)] = (float(v) / 255.0f - 0.5f) / 0.5f;
    return t;
  }();
  return table;
}

/// Step 5: an image as a (3, H, W) float tensor in [-1, 1].
inline tensor<float, cpu> to_tensor(const image& img) {
  tensor<float, cpu> t(shape(3, img.height, img.width));
  const auto& table = normalise_table();
  const std::size_t plane = std::size_t(img.width) * std::size_t(img.height);
  float* r = t.data();
  float* g = r + plane;
  float* b = g + plane;
  const std::uint8_t* p = img.rgb.data();
  for (std::size_t i = 0; i < plane; ++i) {
    r[i] = table[p[3 * i + 0]];
    g[i] = table[p[3 * i + 1]];
    b[i] = table[p[3 * i + 2]];
  }
  return t;
}

/// The inverse of to_tensor for display: (3, H, W) values in [-1, 1] to
/// bytes, round((x + 1) · 127.5) clamped to 0..255.
inline image from_tensor(const tensor<float, cpu>& t) {
  if (t.shape().rank() != 3 || t.shape()[0] != 3)
    throw shape_error("from_tensor", detail::cat("expected a (3, H, W) image tensor, got ", t.shape()));
  image img(int(t.shape()[2]), int(t.shape()[1]));
  const std::size_t plane = std::size_t(img.width) * std::size_t(img.height);
  const float* v = t.data();
  for (int c = 0; c < 3; ++c)
    for (std::size_t i = 0; i < plane; ++i) {
      const float x = std::round((v[std::size_t(c) * plane + i] + 1.0f) * 127.5f);
      img.rgb[3 * i + std::size_t(c)] = std::uint8_t(std::clamp(x, 0.0f, 255.0f));
    }
  return img;
}

/// Size of the image that step 2 produces from `src` (after the bbox crop).
inline std::pair<int, int> scaled_size(const image& src, const std::optional<bbox>& box, const pipeline_sizes& sizes) {
  const crop_box c = box ? bbox_crop_box(*box, src.width, src.height) : crop_box{0, 0, src.width, src.height};
  return scale_size(c.width(), c.height(), sizes.scale_size());
}

/// Steps 1-4 with the random choices of step 3 given: the per-stage images
/// (bytes, before normalisation). Stage i < branches - 1 is Scale(base · 2^i)
/// of the crop, the last stage the crop itself. `record`, when given,
/// receives the geometry (for map_to_stage).
inline std::vector<image> train_images(const image& src, const std::optional<bbox>& box, const pipeline_sizes& sizes,
                                       const random_crop_flip& choice, transform_record* record = nullptr) {
  if (src.empty()) throw value_error("train_transform", "the input image is empty");
  transform_record rec;
  // 1. bbox crop (birds).
  rec.bbox_crop = box ? bbox_crop_box(*box, src.width, src.height) : crop_box{0, 0, src.width, src.height};
  // 2. Scale; 3. RandomCrop of it. The bbox crop is read in place and only
  // the randomly cropped window of the scaled image is resampled.
  const int final_size = sizes.final_size();
  std::tie(rec.scaled_width, rec.scaled_height) =
      scale_size(rec.bbox_crop.width(), rec.bbox_crop.height(), sizes.scale_size());
  if (choice.x < 0 || choice.y < 0 || choice.x + final_size > rec.scaled_width ||
      choice.y + final_size > rec.scaled_height)
    throw value_error("random_crop", detail::cat("crop ", final_size, "x", final_size, " at (", choice.x, ", ",
                                                 choice.y, ") does not fit the ", rec.scaled_width, "x",
                                                 rec.scaled_height, " scaled image"));
  rec.crop_x = choice.x;
  rec.crop_y = choice.y;
  rec.crop_size = final_size;
  rec.flipped = choice.flip;
  image last = resize_bilinear(src, rec.bbox_crop, rec.scaled_width, rec.scaled_height,
                               resize_window{choice.x, choice.y, final_size, final_size});
  if (choice.flip) flip_horizontal(last);  // before the stage resizes, as the original
  // 4. Per-stage images.
  std::vector<image> stages;
  stages.reserve(std::size_t(sizes.branches));
  for (int i = 0; i + 1 < sizes.branches; ++i) {
    const int s = sizes.stage_size(i);
    stages.push_back(resize_bilinear(last, s, s));
  }
  stages.push_back(std::move(last));
  if (record) *record = rec;
  return stages;
}

/// Which of step 3's random choices are applied. The original applies both.
/// Either can be turned off without changing the random stream: the draw is
/// made all the same, so every later draw of the generator is unchanged.
struct augmentation {
  /// RandomHorizontalFlip; off never mirrors.
  bool flip = true;
  /// RandomCrop's offset; off crops at the centre, ((W − S) / 2, (H − S) / 2)
  /// rounded down (the mean offset, where evaluation's expected_bird_frame
  /// puts the bird).
  bool shift = true;
};

/// Steps 1-4 with the random crop and flip drawn from `rng` (draw_crop_flip),
/// applied as `aug` allows.
inline std::vector<image> train_images(const image& src, const std::optional<bbox>& box, const pipeline_sizes& sizes,
                                       generator& rng, transform_record* record = nullptr, augmentation aug = {}) {
  if (src.empty()) throw value_error("train_transform", "the input image is empty");
  const auto [w, h] = scaled_size(src, box, sizes);
  const int size = sizes.final_size();
  random_crop_flip choice = draw_crop_flip(rng, w, h, size);
  choice.flip = choice.flip && aug.flip;
  if (!aug.shift) {
    choice.x = (w - size) / 2;
    choice.y = (h - size) / 2;
  }
  return train_images(src, box, sizes, choice, record);
}

/// The whole of §10.1 for one image: per-stage (3, S, S) float tensors in
/// [-1, 1], S = base_size · 2^i for i < branches (64, 128, 256 for the bird
/// GAN; one 299 image for DAMSM with base_size 299, branches 1). Consumes one
/// three-double draw of `rng`.
inline std::vector<tensor<float, cpu>> train_transform(const image& src, const std::optional<bbox>& box,
                                                       int base_size, int branches, generator& rng,
                                                       transform_record* record = nullptr, augmentation aug = {}) {
  const auto stages = train_images(src, box, pipeline_sizes(base_size, branches), rng, record, aug);
  std::vector<tensor<float, cpu>> out;
  out.reserve(stages.size());
  for (const auto& s : stages) out.push_back(to_tensor(s));
  return out;
}

/// An axis-aligned rectangle in continuous pixel coordinates (pixel (i, j)
/// covers [i, i + 1) x [j, j + 1)), with a mirror flag: where a source
/// rectangle lands in a transformed image.
struct frame {
  double x = 0, y = 0, w = 0, h = 0;
  bool mirrored = false;  // the content is flipped left-right
};

/// Maps a rectangle of the source image (e.g. the bird's bounding box) through
/// the transform `rec` into the stage image of size `stage_size`. Resizes map
/// continuous coordinates linearly (PIL samples output pixel i at input
/// (i + 0.5) · in / out), so edges map to edges.
inline frame map_to_stage(const transform_record& rec, const frame& source, int stage_size) {
  const double sx = double(rec.scaled_width) / rec.bbox_crop.width();
  const double sy = double(rec.scaled_height) / rec.bbox_crop.height();
  const double stage = double(stage_size) / rec.crop_size;
  frame f;
  double x0 = ((source.x - rec.bbox_crop.x0) * sx - rec.crop_x);
  double x1 = ((source.x + source.w - rec.bbox_crop.x0) * sx - rec.crop_x);
  if (rec.flipped) {
    const double a = rec.crop_size - x1, b = rec.crop_size - x0;
    x0 = a;
    x1 = b;
  }
  f.x = x0 * stage;
  f.w = (x1 - x0) * stage;
  f.y = ((source.y - rec.bbox_crop.y0) * sy - rec.crop_y) * stage;
  f.h = source.h * sy * stage;
  f.mirrored = source.mirrored != rec.flipped;
  return f;
}

}  // namespace attngan::data
