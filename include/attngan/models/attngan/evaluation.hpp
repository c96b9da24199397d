// attngan/models/attngan/evaluation.hpp — the numbers a trained AttnGAN is
// judged by (spec §12, issue 7): R-precision with the paper's protocol, the
// synthetic birds' part-colour accuracy, and the Inception Score and FID
// arithmetic. Every metric takes numbers (tensors of any backend, or host
// vectors), not networks: the DAMSM encoders or the Inception classifier that
// produce those numbers are the caller's, so each metric is testable with
// synthetic inputs (three thin helpers below run the DAMSM encoders).
//
// R-precision (paper §4.1; no code was released). For generated image i with
// DAMSM image code v̄_i and the sentence vector ē_i of the caption it was
// generated from, draw 99 captions from a pool of test-caption sentence
// vectors whose identity differs from image i's ("mismatching"); rank the
// 100 candidates by cosine similarity cos(v̄_i, ē) = v̄·ē / max(‖v̄‖‖ē‖, 1e−8)
// (the DAMSM loss's cosine); image i is a hit when its true caption scores
// strictly higher than all 99 (a tie is a miss, so degenerate codes cannot
// score). R-precision of one repeat = hits / N; the result is mean ± std over
// 10 repeats, each drawing fresh mismatching captions for every image.
// Choices (the paper leaves them open):
//   * identity: the caller passes one integer per generated image and per pool
//     caption. With image indices (what the demo does) "mismatching" means
//     "describes another image", so a caption of a different photograph of the
//     same class may be drawn; with class ids it means "another class", which
//     is stricter to pass and gives higher numbers.
//   * the 99 are distinct pool entries (drawn without replacement), uniform
//     among the eligible ones;
//   * std is the population standard deviation over repeats (numpy's np.std,
//     as the Inception Score code uses); values are in percent;
//   * randomness: Philox (data::philox_stream) keyed by the seed, one stream per
//     (repeat, image), so the result does not depend on evaluation order.
//
// Part-colour accuracy (synthetic birds, issue 7's bar). A generated image
// shows the bird where the §10.1 pipeline put it in the training images. For
// a bird far from its photograph's border and the mean crop offset the
// bounding box — cropped with its 0.75·max(w, h) margin, scaled to
// int(final·76/64) and cropped to `final` — lands at a fixed place,
// expected_bird_frame. But the random crop moves it, the random flip mirrors
// it, and a bird near the border gets a clamped bbox crop that makes it
// larger and off centre (on the synthetic birds through the 32²→64² pipeline:
// width 1.0–1.28× the expected, centre within ±0.22 of the image; only a
// fifth of the birds are unclamped). A generator trained on those crops draws
// birds over that range, facing either way. locate_bird therefore aligns the
// pose's silhouette (from pose::part_at; no caption involved) with the
// image's foreground (distance from a background fitted to the image border
// as a vertical gradient), over shifts, widths and both orientations, and
// read_part_colours reads the parts at the best-aligned frame. Scoring
// compares the colour read for each part with the colour the caption names
// for it (caption_part_colours parses the synthetic captions); parts a
// caption does not name are not scored (all_parts(attributes) scores all
// seven). Chance for a part is 1 / |palette| (1/9; eyes 1/5, beaks 1/6).
//
// DAMSM plumbing: damsm_image_codes / damsm_sentence_vectors run the encoders
// in batches without a graph; damsm_r_precision chains them into r_precision.
//
// Inception Score: exp(E_x KL(p(y|x) ‖ p(y))) per split, p(y) the split's mean
// prediction, 10 consecutive splits [k·N/10, (k+1)·N/10) as OpenAI's
// improved-gan code, mean ± population std over splits; 0·log 0 = 0.
// FID: ‖μ1 − μ2‖² + tr Σ1 + tr Σ2 − 2 tr (Σ1^½ Σ2 Σ1^½)^½ in double precision,
// both square roots through symmetric eigendecompositions (Eigen's
// SelfAdjointEigenSolver; negative round-off eigenvalues clamped to 0), Σ the
// unbiased sample covariance (np.cov). inception_activations_of and
// inception_scores run any network with `pool` and `logits` outputs (the
// Inception-v3 itself, models::inception_v3, is in image_encoder.hpp).
#pragma once

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "attngan/autodiff/tape.hpp"
#include "attngan/autodiff/var.hpp"
#include "attngan/core/error.hpp"
#include "attngan/core/tensor.hpp"
#include "attngan/data/image.hpp"
#include "attngan/data/synthetic_birds.hpp"
#include "attngan/data/transforms.hpp"
#include "attngan/nn/ops/shape_ops.hpp"
#include "attngan/nn/ops/softmax.hpp"

namespace attngan::models {

/// A mean and a population standard deviation.
struct mean_std {
  double mean = 0, std = 0;
};

/// A (rows, cols) matrix on the host, row-major, in double: what the metrics
/// compute on (tensors of any backend are copied into one).
struct host_matrix {
  index_t rows = 0, cols = 0;
  std::vector<double> v;  ///< rows · cols values
  [[nodiscard]] const double* row(index_t i) const { return v.data() + std::size_t(i) * std::size_t(cols); }
};

namespace detail {

/// The Euclidean norm of every row of a.
inline std::vector<double> row_norms(const host_matrix& a) {
  std::vector<double> r(std::size_t(a.rows));
  for (index_t i = 0; i < a.rows; ++i) {
    double s = 0;
    for (index_t k = 0; k < a.cols; ++k) s += a.row(i)[k] * a.row(i)[k];
    r[std::size_t(i)] = std::sqrt(s);
  }
  return r;
}

/// The DAMSM cosine of two d-vectors given their norms: x·y / max(|x||y|, 1e-8).
inline double clamped_cosine(const double* x, double x_norm, const double* y, double y_norm, index_t d) {
  double s = 0;
  for (index_t k = 0; k < d; ++k) s += x[k] * y[k];
  return s / std::max(x_norm * y_norm, 1e-8);
}

inline mean_std mean_and_std(std::span<const double> v) {
  mean_std r;
  if (v.empty()) return r;
  for (double x : v) r.mean += x;
  r.mean /= double(v.size());
  double ss = 0;
  for (double x : v) ss += (x - r.mean) * (x - r.mean);
  r.std = std::sqrt(ss / double(v.size()));
  return r;
}

template <real T, backend B>
host_matrix to_host_matrix(const tensor<T, B>& t, const char* op, const char* what) {
  if (!t.defined() || t.rank() != 2)
    throw shape_error(op, attngan::detail::cat(what, " must be a (rows, columns) matrix, got ",
                                               t.defined() ? t.shape() : shape()));
  host_matrix m;
  m.rows = t.shape()[0];
  m.cols = t.shape()[1];
  const std::vector<T> h = t.to_vector();
  m.v.assign(h.begin(), h.end());
  return m;
}

}  // namespace detail

// ===========================================================================
// R-precision

struct r_precision_options {
  int candidates = 100;       ///< the true caption + candidates − 1 mismatching ones (paper: 100)
  int repeats = 10;           ///< evaluations averaged (mean ± std)
  std::uint64_t seed = 100;   ///< eval_bird.yml's seed
};

struct r_precision_result {
  double mean = 0, std = 0;         ///< percent
  std::vector<double> per_repeat;   ///< percent, one per repeat
  index_t images = 0;
  int candidates = 0;
};

/// R-precision (top-1) on host matrices: image_codes (N, D), true_sentences
/// (N, D) (row i: the caption image i was generated from), image_ids (N),
/// pool_sentences (M, D) with pool_ids (M). See the header comment.
inline r_precision_result r_precision(const host_matrix& image_codes, const host_matrix& true_sentences,
                                      std::span<const std::int64_t> image_ids, const host_matrix& pool_sentences,
                                      std::span<const std::int64_t> pool_ids, const r_precision_options& opt = {}) {
  constexpr const char* op = "r_precision";
  const index_t n = image_codes.rows, d = image_codes.cols, m = pool_sentences.rows;
  if (true_sentences.rows != n || true_sentences.cols != d || pool_sentences.cols != d)
    throw shape_error(op, attngan::detail::cat("image codes (", n, ", ", d, "), true sentences (", true_sentences.rows,
                                               ", ", true_sentences.cols, ") and pool (", m, ", ",
                                               pool_sentences.cols, ") must share N and D"));
  if (std::int64_t(image_ids.size()) != n || std::int64_t(pool_ids.size()) != m)
    throw shape_error(op, attngan::detail::cat(image_ids.size(), " image ids for ", n, " images, ", pool_ids.size(),
                                               " pool ids for ", m, " pool captions"));
  if (n == 0) throw value_error(op, "no images to evaluate");
  if (opt.candidates < 2 || opt.repeats < 1)
    throw value_error(op, attngan::detail::cat("candidates = ", opt.candidates, " (at least 2) and repeats = ",
                                               opt.repeats, " (at least 1)"));
  const auto wrong = std::size_t(opt.candidates - 1);
  std::unordered_map<std::int64_t, std::size_t> per_id;
  for (std::int64_t id : pool_ids) ++per_id[id];
  for (index_t i = 0; i < n; ++i) {
    const auto it = per_id.find(image_ids[std::size_t(i)]);
    const std::size_t eligible = std::size_t(m) - (it == per_id.end() ? 0 : it->second);
    if (eligible < wrong)
      throw value_error(op, attngan::detail::cat("image ", i, " (id ", image_ids[std::size_t(i)], ") has ", eligible,
                                                 " mismatching pool captions; ", wrong, " are needed"));
  }
  // Norms once per row (the DAMSM cosine clamps their product).
  const auto img_norm = detail::row_norms(image_codes), true_norm = detail::row_norms(true_sentences),
             pool_norm = detail::row_norms(pool_sentences);
  const auto cosine = [&](index_t i, const double* e, double e_norm) {
    return detail::clamped_cosine(image_codes.row(i), img_norm[std::size_t(i)], e, e_norm, d);
  };

  r_precision_result res;
  res.images = n;
  res.candidates = opt.candidates;
  std::vector<index_t> drawn, eligible_list;
  for (int rep = 0; rep < opt.repeats; ++rep) {
    std::int64_t hits = 0;
    for (index_t i = 0; i < n; ++i) {
      const std::int64_t id = image_ids[std::size_t(i)];
      data::philox_stream rng(opt.seed, 0x52500000u + std::uint32_t(rep), std::uint32_t(i));
      const auto it = per_id.find(id);
      const std::size_t eligible = std::size_t(m) - (it == per_id.end() ? 0 : it->second);
      drawn.clear();
      if (2 * eligible >= std::size_t(m)) {
        // Rejection: uniform over the pool, keep mismatching entries not yet drawn.
        while (drawn.size() < wrong) {
          const index_t j = rng.below(int(m));
          if (pool_ids[std::size_t(j)] == id || std::find(drawn.begin(), drawn.end(), j) != drawn.end()) continue;
          drawn.push_back(j);
        }
      } else {
        // Few eligible: list them, partial Fisher-Yates.
        eligible_list.clear();
        for (index_t j = 0; j < m; ++j)
          if (pool_ids[std::size_t(j)] != id) eligible_list.push_back(j);
        for (std::size_t k = 0; k < wrong; ++k) {
          std::swap(eligible_list[k], eligible_list[k + std::size_t(rng.below(int(eligible_list.size() - k)))]);
          drawn.push_back(eligible_list[k]);
        }
      }
      const double truth = cosine(i, true_sentences.row(i), true_norm[std::size_t(i)]);
      bool hit = true;
      for (index_t j : drawn)
        if (cosine(i, pool_sentences.row(j), pool_norm[std::size_t(j)]) >= truth) {
          hit = false;
          break;
        }
      hits += hit;
    }
    res.per_repeat.push_back(100.0 * double(hits) / double(n));
  }
  const mean_std ms = detail::mean_and_std(res.per_repeat);
  res.mean = ms.mean;
  res.std = ms.std;
  return res;
}

/// R-precision on tensors of any backend (copied to the host; the scoring is
/// N·candidates·D multiply-adds per repeat): image_codes (N, D) from the DAMSM
/// image encoder (`code`), true_sentences (N, D) and pool_sentences (M, D)
/// from the DAMSM text encoder (`sent`).
template <real T, backend B>
r_precision_result r_precision(const tensor<T, B>& image_codes, const tensor<T, B>& true_sentences,
                               std::span<const std::int64_t> image_ids, const tensor<T, B>& pool_sentences,
                               std::span<const std::int64_t> pool_ids, const r_precision_options& opt = {}) {
  return r_precision(detail::to_host_matrix(image_codes, "r_precision", "image codes"),
                     detail::to_host_matrix(true_sentences, "r_precision", "true sentence vectors"), image_ids,
                     detail::to_host_matrix(pool_sentences, "r_precision", "pool sentence vectors"), pool_ids, opt);
}

/// The DAMSM global image codes v̄ (N, D) of images (N, 3, H, W), `batch`
/// images at a time, without recording a graph. `encoder` is an image
/// encoder module (inception_image_encoder or small_image_encoder, in eval
/// mode), or anything callable on a (b, 3, H, W) var returning a struct with
/// a (b, D) var `code`.
template <class ImageEncoder, real T, backend B>
tensor<T, B> damsm_image_codes(const ImageEncoder& encoder, const tensor<T, B>& images, index_t batch = 50) {
  if (!images.defined() || images.rank() != 4 || images.shape()[0] < 1)
    throw shape_error("damsm_image_codes", attngan::detail::cat("expects images (N, 3, H, W), got ",
                                                                images.defined() ? images.shape() : shape()));
  if (batch < 1) throw value_error("damsm_image_codes", "batch must be at least 1");
  no_grad_guard guard;
  const var<T, B> all = var<T, B>::leaf(images.view(images.shape()));
  std::vector<var<T, B>> codes;
  for (index_t start = 0; start < images.shape()[0]; start += batch) {
    const index_t n = std::min(batch, images.shape()[0] - start);
    const var<T, B> x = eval(narrow(all, 0, start, n));  // (b, 3, H, W)
    codes.push_back(encoder(x).code);                    // (b, D)
  }
  const var<T, B> out = codes.size() == 1 ? codes[0] : nn::functional::concat(codes, 0);  // (N, D)
  return out.value().view(out.value().shape());
}

/// The DAMSM sentence vectors ē (N, D) of captions (N, L) token ids (0-padded)
/// with their lengths, `batch` captions at a time, without a graph. `encoder`
/// is a text_encoder module in eval mode, or anything callable on (captions,
/// lengths) returning a struct with a (b, D) var `sent`.
template <real T, class TextEncoder, backend B>
tensor<T, B> damsm_sentence_vectors(const TextEncoder& encoder, const tensor<std::int64_t, B>& captions,
                                    const std::vector<index_t>& lengths, index_t batch = 100) {
  if (!captions.defined() || captions.rank() != 2 || captions.shape()[0] < 1 ||
      std::int64_t(lengths.size()) != captions.shape()[0])
    throw shape_error("damsm_sentence_vectors",
                      attngan::detail::cat("expects captions (N, L) and N lengths, got ",
                                           captions.defined() ? captions.shape() : shape(), " and ", lengths.size(),
                                           " lengths"));
  if (batch < 1) throw value_error("damsm_sentence_vectors", "batch must be at least 1");
  no_grad_guard guard;
  const index_t n_all = captions.shape()[0], width = captions.shape()[1];
  const std::vector<std::int64_t> host = captions.to_vector();
  std::vector<var<T, B>> sents;
  for (index_t start = 0; start < n_all; start += batch) {
    const index_t n = std::min(batch, n_all - start);
    const auto chunk = tensor<std::int64_t, B>::from_host(
        shape(n, width), std::span<const std::int64_t>(host.data() + start * width, std::size_t(n * width)));
    const std::vector<index_t> len(lengths.begin() + start, lengths.begin() + start + n);
    sents.push_back(encoder(chunk, len).sent);  // (b, D)
  }
  const var<T, B> out = sents.size() == 1 ? sents[0] : nn::functional::concat(sents, 0);  // (N, D)
  return out.value().view(out.value().shape());
}

/// R-precision of generated images with the DAMSM encoders: image codes of
/// `images` (N, 3, H, W), sentence vectors of the captions they were generated
/// from (N, L) and of the pool's captions (M, L), then r_precision.
template <class ImageEncoder, class TextEncoder, real T, backend B>
r_precision_result damsm_r_precision(const ImageEncoder& image_encoder, const TextEncoder& text_encoder,
                                     const tensor<T, B>& images, const tensor<std::int64_t, B>& captions,
                                     const std::vector<index_t>& lengths, std::span<const std::int64_t> image_ids,
                                     const tensor<std::int64_t, B>& pool_captions,
                                     const std::vector<index_t>& pool_lengths, std::span<const std::int64_t> pool_ids,
                                     const r_precision_options& opt = {}, index_t batch = 50) {
  const tensor<T, B> codes = damsm_image_codes(image_encoder, images, batch);
  const tensor<T, B> truth = damsm_sentence_vectors<T>(text_encoder, captions, lengths, batch);
  const tensor<T, B> pool = damsm_sentence_vectors<T>(text_encoder, pool_captions, pool_lengths, batch);
  return r_precision(codes, truth, image_ids, pool, pool_ids, opt);
}

// ===========================================================================
// Synthetic birds: where a generated bird is, and its part colours

/// The frame (bounding box in stage pixels) in which the §10.1 pipeline shows
/// a synthetic bird in stage `stage` (0-based) for the expected crop: the
/// random crop at its mean offset ((W − final) / 2, integer) and no flip. A
/// bird whose crop box was not clamped at its photograph's border lands here
/// exactly; the frame depends on the sizes alone.
inline data::frame expected_bird_frame(const data::pipeline_sizes& sizes, int stage) {
  if (stage < 0 || stage >= sizes.branches)
    throw value_error("expected_bird_frame",
                      attngan::detail::cat("stage ", stage, " of a ", sizes.branches, "-stage pipeline"));
  // A nominal bird far from any border, large enough that int() truncations
  // of the crop arithmetic are negligible (< 1e-3 of the frame).
  const int w = 3200, h = int(std::lround(w * data::pose::frame_h / data::pose::frame_w));
  const int side = 4 * w;
  const data::bbox box{(side - w) / 2, (side - h) / 2, w, h};
  data::transform_record rec;
  rec.bbox_crop = data::bbox_crop_box(box, side, side);
  std::tie(rec.scaled_width, rec.scaled_height) =
      data::scale_size(rec.bbox_crop.width(), rec.bbox_crop.height(), sizes.scale_size());
  rec.crop_size = sizes.final_size();
  rec.crop_x = (rec.scaled_width - rec.crop_size) / 2;
  rec.crop_y = (rec.scaled_height - rec.crop_size) / 2;
  rec.flipped = false;
  return data::map_to_stage(rec, data::frame{double(box.x), double(box.y), double(box.w), double(box.h), false},
                            sizes.stage_size(stage));
}

struct locate_options {
  /// Largest shift of the frame's centre searched, as a share of the image
  /// side each way. Birds near their photograph's border get a clamped bbox
  /// crop, which moves them further than the random crop alone: on synthetic
  /// birds through the 32²→64² pipeline the centre lands within ±0.22.
  double max_shift = 0.25;
  /// Frame widths searched, relative to the expected frame: a clamped crop
  /// is smaller, so the bird is larger (measured up to 1.28×).
  double min_scale = 0.9, max_scale = 1.4;
  bool search_orientation = true;  ///< also try the mirrored bird
};

namespace detail {

/// Foreground strength of every pixel: RGB distance from the background,
/// modelled per channel as linear in y (the synthetic backgrounds are vertical
/// gradients plus noise) and fitted to the image's one-pixel border by least
/// squares, twice dropping border pixels far from the fit (a bird touching
/// the border).
inline std::vector<float> foreground_map(const data::image& img) {
  const int W = img.width, H = img.height;
  std::vector<std::pair<int, int>> border;  // (x, y)
  for (int x = 0; x < W; ++x) {
    border.emplace_back(x, 0);
    border.emplace_back(x, H - 1);
  }
  for (int y = 1; y + 1 < H; ++y) {
    border.emplace_back(0, y);
    border.emplace_back(W - 1, y);
  }
  std::vector<char> keep(border.size(), 1);
  std::array<std::array<double, 2>, 3> fit{};  // per channel: a + b·y
  for (int round = 0; round < 3; ++round) {
    double n = 0, sy = 0, syy = 0;
    std::array<double, 3> sc{}, syc{};
    for (std::size_t k = 0; k < border.size(); ++k) {
      if (!keep[k]) continue;
      const auto [x, y] = border[k];
      n += 1;
      sy += y;
      syy += double(y) * y;
      for (int c = 0; c < 3; ++c) {
        sc[std::size_t(c)] += img.pixel(x, y)[c];
        syc[std::size_t(c)] += double(y) * img.pixel(x, y)[c];
      }
    }
    if (n < 2) break;  // everything rejected: keep the previous fit
    const double det = n * syy - sy * sy;
    for (int c = 0; c < 3; ++c) {
      const double b = det > 0 ? (n * syc[std::size_t(c)] - sy * sc[std::size_t(c)]) / det : 0.0;
      fit[std::size_t(c)] = {(sc[std::size_t(c)] - b * sy) / n, b};
    }
    if (round == 2) break;
    // Drop border pixels more than 3 median residuals (at least 24) from the fit.
    std::vector<double> res(border.size());
    std::vector<double> kept;
    for (std::size_t k = 0; k < border.size(); ++k) {
      const auto [x, y] = border[k];
      double d = 0;
      for (int c = 0; c < 3; ++c) {
        const double e = img.pixel(x, y)[c] - (fit[std::size_t(c)][0] + fit[std::size_t(c)][1] * y);
        d += e * e;
      }
      res[k] = std::sqrt(d);
      if (keep[k]) kept.push_back(res[k]);
    }
    std::nth_element(kept.begin(), kept.begin() + std::ptrdiff_t(kept.size() / 2), kept.end());
    const double limit = std::max(24.0, 3.0 * kept[kept.size() / 2]);
    for (std::size_t k = 0; k < border.size(); ++k) keep[k] = res[k] <= limit;
  }
  std::vector<float> fg(std::size_t(W) * std::size_t(H));
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      double d = 0;
      for (int c = 0; c < 3; ++c) {
        const double e = img.pixel(x, y)[c] - (fit[std::size_t(c)][0] + fit[std::size_t(c)][1] * y);
        d += e * e;
      }
      fg[std::size_t(y) * std::size_t(W) + std::size_t(x)] = float(std::sqrt(d));
    }
  return fg;
}

/// The pose's silhouette on a grid of bird units (the frame plus a margin):
/// +1 where every bird has a part, −1 where none has; points that depend on
/// the beak and tail lengths are left out.
struct silhouette_probe {
  double u, v;
  float sign;
};
inline std::vector<silhouette_probe> make_silhouette(int nu, int nv) {
  using namespace data::pose;
  std::vector<silhouette_probe> out;
  const double mu = 0.12 * frame_w, mv = 0.15 * frame_h;
  for (int i = 0; i < nu; ++i)
    for (int j = 0; j < nv; ++j) {
      const double u = frame_u0 - mu + (i + 0.5) * (frame_w + 2 * mu) / nu;
      const double v = frame_v0 - mv + (j + 0.5) * (frame_h + 2 * mv) / nv;
      if (part_at(u, v, false, false) >= 0) out.push_back({u, v, 1.f});
      else if (part_at(u, v, true, true) < 0) out.push_back({u, v, -1.f});
    }
  // Equal total weight inside and outside: the score is then unbiased
  // towards larger or smaller frames on a uniform image.
  double in = 0, outside = 0;
  for (const auto& p : out) (p.sign > 0 ? in : outside) += 1;
  for (auto& p : out)
    if (p.sign < 0) p.sign = float(-in / outside);
  return out;
}
/// The coarse (20 × 10) and fine (40 × 20) probe grids.
inline const std::vector<silhouette_probe>& silhouette(bool fine) {
  static const std::vector<silhouette_probe> coarse_grid = make_silhouette(20, 10);
  static const std::vector<silhouette_probe> fine_grid = make_silhouette(40, 20);
  return fine ? fine_grid : coarse_grid;
}

}  // namespace detail

/// Where the bird is: the frame (expected_bird_frame's shape) shifted,
/// scaled and possibly mirrored to best match the pose's silhouette with the
/// image's foreground (see the header comment): score = Σ over probes of
/// weight · foreground. Per orientation, a coarse search (centre shifts in
/// steps of 1/25 of the frame width — 2 pixels on a 64-pixel stage —, widths
/// in steps of 4 %, a 20 × 10 probe grid, nearest pixel), then two
/// refinements of its best on a 40 × 20 grid with bilinear sampling (±3 half
/// steps with widths ×1.02^k, k = −3..3; then ±2 quarter steps with ±1 %);
/// the better orientation wins. Uses only the image and the pose, never a
/// caption. About 15 ms for a 64-pixel image on one core.
inline data::frame locate_bird(const data::image& img, const data::frame& expected, const locate_options& opt = {}) {
  constexpr const char* op = "locate_bird";
  if (img.empty() || img.width < 4 || img.height < 4) throw value_error(op, "the image is empty or tiny");
  if (!(expected.w > 0) || !(expected.h > 0)) throw value_error(op, "the expected frame is empty");
  if (!(opt.min_scale > 0) || !(opt.max_scale >= opt.min_scale) || !(opt.max_shift >= 0))
    throw value_error(op, "the search ranges are empty");
  const int W = img.width, H = img.height;
  const std::vector<float> fg = detail::foreground_map(img);
  const double ecx = expected.x + expected.w / 2, ecy = expected.y + expected.h / 2;

  // Probe positions relative to the frame's centre, for one width and orientation.
  struct placed {
    std::vector<float> ox, oy, w;
  };
  const auto place = [&](const std::vector<detail::silhouette_probe>& probes, double scale, bool mirrored) {
    placed p;
    const double fw = expected.w * scale, fh = expected.h * scale;
    const double u_mid = data::pose::frame_u0 + data::pose::frame_w / 2;
    const double v_mid = data::pose::frame_v0 + data::pose::frame_h / 2;
    for (const auto& q : probes) {
      const double ox = (q.u - u_mid) * fw / data::pose::frame_w;
      p.ox.push_back(float(mirrored != expected.mirrored ? -ox : ox));
      p.oy.push_back(float((q.v - v_mid) * fh / data::pose::frame_h));
      p.w.push_back(q.sign);
    }
    return p;
  };
  const auto score_nearest = [&](const placed& p, double cx, double cy) {
    double s = 0;
    for (std::size_t k = 0; k < p.w.size(); ++k) {
      const int ix = std::clamp(int(std::floor(cx + p.ox[k])), 0, W - 1);
      const int iy = std::clamp(int(std::floor(cy + p.oy[k])), 0, H - 1);
      s += p.w[k] * fg[std::size_t(iy) * std::size_t(W) + std::size_t(ix)];
    }
    return s;
  };
  const auto score_bilinear = [&](const placed& p, double cx, double cy) {
    double s = 0;
    for (std::size_t k = 0; k < p.w.size(); ++k) {
      // Pixel centres at +0.5; clamped to the image.
      const double x = std::clamp(cx + p.ox[k] - 0.5, 0.0, double(W - 1));
      const double y = std::clamp(cy + p.oy[k] - 0.5, 0.0, double(H - 1));
      const int ix = std::min(int(x), W - 2), iy = std::min(int(y), H - 2);
      const double ax = x - ix, ay = y - iy;
      const float* r0 = fg.data() + std::size_t(iy) * std::size_t(W) + std::size_t(ix);
      const float* r1 = r0 + W;
      s += p.w[k] * ((r0[0] * (1 - ax) + r0[1] * ax) * (1 - ay) + (r1[0] * (1 - ax) + r1[1] * ax) * ay);
    }
    return s;
  };
  // Values around `centre` in steps, nearest first (ties keep the earlier:
  // no shift and the expected width are preferred).
  const auto outwards = [](double centre, double step, int count) {
    std::vector<double> v{centre};
    for (int k = 1; k <= count; ++k) {
      v.push_back(centre + k * step);
      v.push_back(centre - k * step);
    }
    return v;
  };
  struct candidate {
    double dx = 0, dy = 0, scale = 1, score = -1e300;
  };
  const auto search = [&](candidate& best, bool mirrored, bool fine, const std::vector<double>& dxs,
                          const std::vector<double>& dys, const std::vector<double>& scales) {
    const auto& probes = detail::silhouette(fine);
    for (double sc : scales) {
      const placed p = place(probes, sc, mirrored);
      for (double dy : dys)
        for (double dx : dxs) {
          const double s = fine ? score_bilinear(p, ecx + dx, ecy + dy) : score_nearest(p, ecx + dx, ecy + dy);
          if (s > best.score) best = candidate{dx, dy, sc, s};
        }
    }
  };

  std::vector<double> scales{std::clamp(1.0, opt.min_scale, opt.max_scale)};
  for (double sc = scales[0] * 1.04; sc <= opt.max_scale * (1 + 1e-9); sc *= 1.04) scales.push_back(sc);
  for (double sc = scales[0] / 1.04; sc >= opt.min_scale * (1 - 1e-9); sc /= 1.04) scales.push_back(sc);
  // Steps relative to the frame, so the cost does not grow with the image:
  // about 2 pixels on a 64-pixel stage.
  const double unit = expected.w / 25.0;
  const int nx = int(std::floor(opt.max_shift * W / unit)), ny = int(std::floor(opt.max_shift * H / unit));
  candidate best;
  bool best_mirrored = false;
  for (int m = 0; m < (opt.search_orientation ? 2 : 1); ++m) {
    const bool mirrored = m == 1;
    candidate coarse;
    search(coarse, mirrored, false, outwards(0, unit, nx), outwards(0, unit, ny), scales);
    candidate mid;
    std::vector<double> mid_scales{coarse.scale};
    for (int k = 1; k <= 3; ++k) {
      mid_scales.push_back(coarse.scale * std::pow(1.02, k));
      mid_scales.push_back(coarse.scale / std::pow(1.02, k));
    }
    search(mid, mirrored, true, outwards(coarse.dx, unit / 2, 3), outwards(coarse.dy, unit / 2, 3), mid_scales);
    candidate fine;
    search(fine, mirrored, true, outwards(mid.dx, unit / 4, 2), outwards(mid.dy, unit / 4, 2),
           {mid.scale, mid.scale * 1.01, mid.scale / 1.01});
    if (fine.score > best.score) {
      best = fine;
      best_mirrored = mirrored;
    }
  }
  data::frame f;
  f.w = expected.w * best.scale;
  f.h = expected.h * best.scale;
  f.x = ecx + best.dx - f.w / 2;
  f.y = ecy + best.dy - f.h / 2;
  f.mirrored = expected.mirrored != best_mirrored;
  return f;
}

namespace detail {

/// A word of a caption: its letters' place in the caption and them in lower case.
struct caption_word {
  std::size_t begin = 0, length = 0;
  std::string text;
};

/// The caption's runs of ASCII letters, in order.
inline std::vector<caption_word> caption_words(std::string_view caption) {
  std::vector<caption_word> words;
  for (std::size_t i = 0; i < caption.size();) {
    const auto lower = [&](std::size_t k) {
      const char ch = caption[k];
      return (ch >= 'A' && ch <= 'Z') ? char(ch - 'A' + 'a') : ch;
    };
    if (const char c = lower(i); c < 'a' || c > 'z') {
      ++i;
      continue;
    }
    caption_word w{i, 0, {}};
    for (; i < caption.size() && lower(i) >= 'a' && lower(i) <= 'z'; ++i) w.text += lower(i);
    w.length = i - w.begin;
    words.push_back(std::move(w));
  }
  return words;
}

/// The colour a lower-case word names ("gray" is grey), if any.
inline std::optional<data::colour> colour_of_word(const std::string& w) {
  if (w == "gray") return data::colour::grey;
  for (int c = 0; c < data::colour_count; ++c)
    if (data::colour_names[std::size_t(c)] == w) return data::colour(c);
  return std::nullopt;
}

}  // namespace detail

/// The colours a synthetic-bird caption names, per part (nullopt where it
/// names none): "<colour> [short|long|small|feathers on its|mostly ...] <part>",
/// "<part> is|are <colour>", and for the body also "<colour> bird" and
/// "mostly <colour>". Words are matched case-insensitively; "bill" is the beak,
/// "underbelly" the belly, "gray" grey.
inline std::array<std::optional<data::colour>, data::part_count> caption_part_colours(std::string_view caption) {
  using data::part;
  std::vector<std::string> words;
  for (auto& w : detail::caption_words(caption)) words.push_back(std::move(w.text));
  const auto colour_of = detail::colour_of_word;
  const auto part_of = [](const std::string& w) -> std::optional<part> {
    if (w == "crown") return part::crown;
    if (w == "wing" || w == "wings") return part::wing;
    if (w == "belly" || w == "underbelly") return part::belly;
    if (w == "tail") return part::tail;
    if (w == "beak" || w == "bill") return part::beak;
    if (w == "eye" || w == "eyes") return part::eye;
    if (w == "body") return part::body;
    return std::nullopt;
  };
  const auto filler = [](const std::string& w) {
    return w == "short" || w == "long" || w == "small" || w == "feathers" || w == "on" || w == "its" ||
           w == "mostly";
  };
  std::array<std::optional<data::colour>, data::part_count> out{};
  for (std::size_t i = 0; i < words.size(); ++i) {
    const auto p = part_of(words[i]);
    if (p) {
      std::optional<data::colour> c;
      for (std::size_t j = i; j-- > 0;) {  // backwards over fillers
        if ((c = colour_of(words[j]))) break;
        if (!filler(words[j])) break;
      }
      if (!c && i + 2 < words.size() && (words[i + 1] == "is" || words[i + 1] == "are")) c = colour_of(words[i + 2]);
      if (c) out[std::size_t(*p)] = c;
      continue;
    }
    if (words[i] == "bird" && i > 0 && colour_of(words[i - 1])) out[std::size_t(part::body)] = colour_of(words[i - 1]);
    if (words[i] == "mostly" && i + 1 < words.size() && colour_of(words[i + 1]) &&
        !(i + 2 < words.size() && part_of(words[i + 2])))
      out[std::size_t(part::body)] = colour_of(words[i + 1]);
  }
  return out;
}

/// The targets of one image: the colour each part should have (nullopt: not scored).
using part_targets = std::array<std::optional<data::colour>, data::part_count>;

// ===========================================================================
// Part swaps: can the DAMSM encoders tell a part's colours apart?

/// A caption with the colour it names for one part replaced by another.
struct part_swap {
  std::string caption;  ///< the original with that one colour word replaced
  data::part part{};
  data::colour from{}, to{};
};

/// Every caption that differs from `caption` only in the colour it names for
/// one part: for each part the caption names (caption_part_colours), one
/// caption per other colour of that part's palette. The part's colour word is
/// found by trial: a colour word that, replaced, changes that part's parsed
/// colour to the new one and leaves every other part's as it was. A caption
/// that names no part gives none.
inline std::vector<part_swap> part_swaps(std::string_view caption) {
  const std::vector<detail::caption_word> words = detail::caption_words(caption);
  const auto named = caption_part_colours(caption);
  const auto replaced = [&](const detail::caption_word& w, data::colour c) {
    std::string r(caption);
    r.replace(w.begin, w.length, data::colour_name(c));
    return r;
  };
  std::vector<part_swap> out;
  for (int pi = 0; pi < data::part_count; ++pi) {
    const auto p = data::part(pi);
    const auto from = named[std::size_t(pi)];
    if (!from) continue;
    // A word is p's colour word if, replaced by another of p's colours, only p changes, to it.
    const auto palette = data::part_palette(p);
    const auto probe = std::find_if(palette.begin(), palette.end(), [&](data::colour c) { return c != *from; });
    if (probe == palette.end()) continue;
    auto expect = named;
    expect[std::size_t(pi)] = *probe;
    for (const auto& w : words) {
      if (!detail::colour_of_word(w.text)) continue;
      if (caption_part_colours(replaced(w, *probe)) != expect) continue;
      for (const data::colour to : palette) {
        if (to == *from) continue;
        out.push_back({replaced(w, to), p, *from, to});
      }
      break;  // one word names p's colour
    }
  }
  return out;
}

struct part_swap_result {
  /// Per part: the share of swaps where the true caption's sentence vector
  /// is closer (cosine) to the image's code than the swapped one's (ties
  /// count half); 0.5 is what encoders blind to that part's colour score.
  std::array<double, data::part_count> preferred{};
  std::array<std::int64_t, data::part_count> swaps{};
  double mean = 0;  ///< mean of `preferred` over the parts with swaps
};

/// For image codes (N, D), the sentence vectors of the captions they belong
/// to (N, D, row i: image i's caption) and of M swapped captions (M, D) with
/// the image row and part of each: how often the true caption wins.
inline part_swap_result part_swap_preference(const host_matrix& codes, const host_matrix& truths,
                                             const host_matrix& swapped, std::span<const std::size_t> image_of,
                                             std::span<const data::part> part_of) {
  if (codes.rows != truths.rows || codes.cols != truths.cols || swapped.cols != codes.cols)
    throw shape_error("part_swap_preference",
                      attngan::detail::cat("codes (", codes.rows, ", ", codes.cols, "), true sentences (", truths.rows,
                                           ", ", truths.cols, ") and swapped sentences (", swapped.rows, ", ",
                                           swapped.cols, ") must be (N, D), (N, D) and (M, D)"));
  if (std::int64_t(image_of.size()) != swapped.rows || std::int64_t(part_of.size()) != swapped.rows)
    throw shape_error("part_swap_preference",
                      attngan::detail::cat(swapped.rows, " swapped sentences need as many image rows and parts, got ",
                                           image_of.size(), " and ", part_of.size()));
  const index_t d = codes.cols;
  const auto code_norm = detail::row_norms(codes), true_norm = detail::row_norms(truths),
             swap_norm = detail::row_norms(swapped);
  part_swap_result r;
  std::array<double, data::part_count> wins{};
  for (index_t m = 0; m < swapped.rows; ++m) {
    const std::size_t i = image_of[std::size_t(m)];
    if (std::int64_t(i) >= codes.rows)
      throw value_error("part_swap_preference", attngan::detail::cat("swap ", m, " belongs to image row ", i, " of ",
                                                                     codes.rows));
    const double* v = codes.row(index_t(i));
    const double t = detail::clamped_cosine(v, code_norm[i], truths.row(index_t(i)), true_norm[i], d);
    const double s = detail::clamped_cosine(v, code_norm[i], swapped.row(m), swap_norm[std::size_t(m)], d);
    const auto p = std::size_t(part_of[std::size_t(m)]);
    wins[p] += t > s ? 1.0 : t == s ? 0.5 : 0.0;
    ++r.swaps[p];
  }
  int parts = 0;
  for (std::size_t p = 0; p < r.preferred.size(); ++p) {
    if (r.swaps[p] == 0) continue;
    r.preferred[p] = wins[p] / double(r.swaps[p]);
    r.mean += r.preferred[p];
    ++parts;
  }
  if (parts) r.mean /= parts;
  return r;
}

/// All seven parts of a bird's attributes as targets.
inline part_targets all_parts(const data::bird_attributes& a) {
  part_targets t;
  for (int p = 0; p < data::part_count; ++p) t[std::size_t(p)] = a.colours.c[std::size_t(p)];
  return t;
}

struct part_colour_result {
  std::array<double, data::part_count> accuracy{};       ///< share of scored images whose part matched (0..1)
  std::array<std::int64_t, data::part_count> scored{};   ///< images scored per part
  std::array<double, data::part_count> chance{};         ///< 1 / palette size
  double mean = 0;         ///< mean of accuracy over the parts scored at least once
  double mean_chance = 0;  ///< mean of chance over the same parts
  double all_named = 0;    ///< share of images (with at least one target) whose every named part matched
  std::int64_t images = 0; ///< images with at least one target
};

struct part_colour_options {
  bool locate = true;  ///< align the frame per image (locate_bird); false: read at the given frame
  locate_options search{};
};

/// locate_bird for every image (OpenMP threads).
inline std::vector<data::frame> locate_birds(std::span<const data::image> images, const data::frame& expected,
                                             const locate_options& opt = {}) {
  std::vector<data::frame> frames(images.size());
  std::exception_ptr failure;
  const auto n = std::int64_t(images.size());
#pragma omp parallel for schedule(dynamic, 4)
  for (std::int64_t i = 0; i < n; ++i) {
    try {
      frames[std::size_t(i)] = locate_bird(images[std::size_t(i)], expected, opt);
    } catch (...) {
#pragma omp critical(attngan_locate_birds)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
  return frames;
}

/// Scores the colours read from image i in frames[i] against targets[i].
inline part_colour_result part_colour_accuracy(std::span<const data::image> images, std::span<const part_targets> targets,
                                               std::span<const data::frame> frames) {
  if (images.size() != targets.size() || images.size() != frames.size())
    throw shape_error("part_colour_accuracy", attngan::detail::cat(images.size(), " images, ", targets.size(),
                                                                   " target sets and ", frames.size(), " frames"));
  part_colour_result r;
  std::array<std::int64_t, data::part_count> right{};
  std::int64_t all_right = 0;
  for (std::size_t i = 0; i < images.size(); ++i) {
    bool any = false;
    for (const auto& t : targets[i]) any = any || t.has_value();
    if (!any) continue;
    const data::part_colours read = data::read_part_colours(images[i], frames[i]);
    bool all = true;
    for (int p = 0; p < data::part_count; ++p) {
      const auto& t = targets[i][std::size_t(p)];
      if (!t) continue;
      ++r.scored[std::size_t(p)];
      const bool ok = read.c[std::size_t(p)] == *t;
      right[std::size_t(p)] += ok;
      all = all && ok;
    }
    ++r.images;
    all_right += all;
  }
  int counted = 0;
  for (int p = 0; p < data::part_count; ++p) {
    r.chance[std::size_t(p)] = 1.0 / double(data::part_palette(data::part(p)).size());
    if (r.scored[std::size_t(p)] == 0) continue;
    r.accuracy[std::size_t(p)] = double(right[std::size_t(p)]) / double(r.scored[std::size_t(p)]);
    r.mean += r.accuracy[std::size_t(p)];
    r.mean_chance += r.chance[std::size_t(p)];
    ++counted;
  }
  if (counted) {
    r.mean /= counted;
    r.mean_chance /= counted;
  }
  r.all_named = r.images ? double(all_right) / double(r.images) : 0.0;
  return r;
}

/// Reads each bird in `expected` (refined per image by locate_bird unless
/// opt.locate is false) and scores it.
inline part_colour_result part_colour_accuracy(std::span<const data::image> images, std::span<const part_targets> targets,
                                               const data::frame& expected, const part_colour_options& opt = {}) {
  const std::vector<data::frame> frames =
      opt.locate ? locate_birds(images, expected, opt.search) : std::vector<data::frame>(images.size(), expected);
  return part_colour_accuracy(images, targets, std::span<const data::frame>(frames));
}

/// The stage (0-based) of `sizes` whose images are `side` pixels square;
/// shape_error when none is.
inline int stage_of_size(const data::pipeline_sizes& sizes, index_t side, const char* op) {
  for (int i = 0; i < sizes.branches; ++i)
    if (sizes.stage_size(i) == side) return i;
  throw shape_error(op, attngan::detail::cat("image size ", side, " is no stage of the pipeline (base ",
                                             sizes.base_size, ", ", sizes.branches, " stages)"));
}

/// Images (N, 3, S, S) in [-1, 1] on any backend (a generator stage's
/// output) as 8-bit RGB images, each converted by data::from_tensor.
template <real T, backend B>
std::vector<data::image> images_from_tensor(const tensor<T, B>& images, const char* op = "images_from_tensor") {
  if (!images.defined() || images.rank() != 4 || images.shape()[1] != 3 || images.shape()[2] != images.shape()[3])
    throw shape_error(op, attngan::detail::cat("expects images (N, 3, S, S), got ",
                                               images.defined() ? images.shape() : shape()));
  const index_t n = images.shape()[0], s = images.shape()[2];
  const std::vector<T> host = images.to_vector();
  const std::vector<float> values(host.begin(), host.end());
  const auto all = tensor<float, cpu>::from_host(images.shape(), std::span<const float>(values));
  std::vector<data::image> imgs;
  imgs.reserve(std::size_t(n));
  for (index_t i = 0; i < n; ++i) imgs.push_back(data::from_tensor(all.subview(i * 3 * s * s, shape(3, s, s))));
  return imgs;
}

/// Generated images (N, 3, S, S) in [-1, 1] on any backend, converted by
/// images_from_tensor and read in the expected frame of the S×S stage of
/// `sizes`.
template <real T, backend B>
part_colour_result part_colour_accuracy(const tensor<T, B>& images, std::span<const part_targets> targets,
                                        const data::pipeline_sizes& sizes, const part_colour_options& opt = {}) {
  const std::vector<data::image> imgs = images_from_tensor(images, "part_colour_accuracy");
  const int stage = stage_of_size(sizes, images.shape()[2], "part_colour_accuracy");
  return part_colour_accuracy(std::span<const data::image>(imgs), targets, expected_bird_frame(sizes, stage), opt);
}

// ===========================================================================
// Inception Score and FID

/// Inception Score from class probabilities (N, C), rows summing to 1:
/// mean ± std over `splits` consecutive splits of exp(E KL(p(y|x) ‖ p(y))).
inline mean_std inception_score(const host_matrix& probs, int splits = 10) {
  constexpr const char* op = "inception_score";
  const index_t n = probs.rows, c = probs.cols;
  if (splits < 1 || n < splits || c < 1)
    throw value_error(op, attngan::detail::cat(n, " predictions over ", c, " classes cannot make ", splits, " splits"));
  for (index_t i = 0; i < n; ++i) {
    double s = 0;
    for (index_t k = 0; k < c; ++k) {
      const double p = probs.row(i)[k];
      if (!(p >= 0)) throw value_error(op, attngan::detail::cat("prediction ", i, " has a negative or NaN probability"));
      s += p;
    }
    if (std::abs(s - 1) > 1e-3)
      throw value_error(op, attngan::detail::cat("prediction ", i, " sums to ", s, ", not 1 (pass softmax outputs)"));
  }
  std::vector<double> scores;
  std::vector<double> py(static_cast<std::size_t>(c));
  for (int k = 0; k < splits; ++k) {
    const index_t a = index_t(k) * n / splits, b = index_t(k + 1) * n / splits;
    std::fill(py.begin(), py.end(), 0.0);
    for (index_t i = a; i < b; ++i)
      for (index_t j = 0; j < c; ++j) py[std::size_t(j)] += probs.row(i)[j];
    for (double& p : py) p /= double(b - a);
    double kl = 0;
    for (index_t i = a; i < b; ++i)
      for (index_t j = 0; j < c; ++j) {
        const double p = probs.row(i)[j];
        if (p > 0) kl += p * (std::log(p) - std::log(py[std::size_t(j)]));
      }
    scores.push_back(std::exp(kl / double(b - a)));
  }
  return detail::mean_and_std(scores);
}

template <real T, backend B>
mean_std inception_score(const tensor<T, B>& probs, int splits = 10) {
  return inception_score(detail::to_host_matrix(probs, "inception_score", "probabilities"), splits);
}

/// Mean and covariance of pool features. The FID functions are templates on
/// the scalar type so that Eigen's eigensolver is compiled only by the
/// programs that call them (it costs ~9 s of compile time per translation unit).
template <class Scalar = double>
struct basic_gaussian_statistics {
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> mean;
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> covariance;
};
using gaussian_statistics = basic_gaussian_statistics<double>;

/// μ and the unbiased covariance Σ = Σ_i (x_i − μ)(x_i − μ)ᵀ / (N − 1) of features (N, D).
template <class Scalar = double>
basic_gaussian_statistics<Scalar> feature_statistics(const host_matrix& features) {
  using matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  if (features.rows < 2 || features.cols < 1)
    throw value_error("feature_statistics",
                      attngan::detail::cat(features.rows, " feature vectors of width ", features.cols,
                                           ": need at least 2 vectors"));
  const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> x(
      features.v.data(), features.rows, features.cols);
  basic_gaussian_statistics<Scalar> s;
  s.mean = x.colwise().mean().transpose().template cast<Scalar>();
  const matrix centred = (x.rowwise() - x.colwise().mean()).template cast<Scalar>();
  s.covariance = centred.transpose() * centred / Scalar(features.rows - 1);
  return s;
}

template <real T, backend B>
gaussian_statistics feature_statistics(const tensor<T, B>& features) {
  return feature_statistics<double>(detail::to_host_matrix(features, "feature_statistics", "features"));
}

/// Fréchet distance between N(μ1, Σ1) and N(μ2, Σ2).
template <class Scalar>
Scalar frechet_distance(const basic_gaussian_statistics<Scalar>& a, const basic_gaussian_statistics<Scalar>& b) {
  using matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  const auto d = a.mean.size();
  if (b.mean.size() != d || a.covariance.rows() != d || a.covariance.cols() != d || b.covariance.rows() != d ||
      b.covariance.cols() != d)
    throw shape_error("frechet_distance", attngan::detail::cat("statistics of width ", d, " and ", b.mean.size(),
                                                               " (covariances must be square and match)"));
  // Σ1^½ from Σ1 = V Λ Vᵀ; then tr (Σ1^½ Σ2 Σ1^½)^½ = Σ √λ of that symmetric PSD product.
  const Eigen::SelfAdjointEigenSolver<matrix> e1(a.covariance);
  const vector root = e1.eigenvalues().cwiseMax(Scalar(0)).cwiseSqrt();
  const matrix s1_half = e1.eigenvectors() * root.asDiagonal() * e1.eigenvectors().transpose();
  matrix m = s1_half * b.covariance * s1_half;
  m = (Scalar(0.5) * (m + m.transpose())).eval();  // exact symmetry against round-off
  const Eigen::SelfAdjointEigenSolver<matrix> e2(m, Eigen::EigenvaluesOnly);
  const Scalar tr_sqrt = e2.eigenvalues().cwiseMax(Scalar(0)).cwiseSqrt().sum();
  return (a.mean - b.mean).squaredNorm() + a.covariance.trace() + b.covariance.trace() - Scalar(2) * tr_sqrt;
}

/// FID of two sets of pool features (N1, D) and (N2, D), in double precision.
template <real T, backend B>
double frechet_inception_distance(const tensor<T, B>& features_a, const tensor<T, B>& features_b) {
  return frechet_distance(feature_statistics(features_a), feature_statistics(features_b));
}

/// An Inception network's view of a set of images: the pool features (N, D)
/// and the class probabilities softmax(logits) (N, C).
template <real T, backend B>
struct inception_activations {
  tensor<T, B> pool, probs;
};

/// Runs `net` — an inception_v3 module in eval mode, or anything callable on
/// a (b, 3, H, W) var in [−1, 1] returning a struct with (b, D) `pool` and
/// (b, C) `logits` vars — over images (N, 3, H, W), `batch` at a time,
/// without a graph.
template <class Net, real T, backend B>
inception_activations<T, B> inception_activations_of(const Net& net, const tensor<T, B>& images, index_t batch = 20) {
  if (!images.defined() || images.rank() != 4 || images.shape()[0] < 1 || images.shape()[1] != 3)
    throw shape_error("inception_activations_of",
                      attngan::detail::cat("expects images (N, 3, H, W), got ", images.defined() ? images.shape() : shape()));
  if (batch < 1) throw value_error("inception_activations_of", "batch must be at least 1");
  no_grad_guard guard;
  const var<T, B> all = var<T, B>::leaf(images.view(images.shape()));
  std::vector<var<T, B>> pools, probs;
  for (index_t start = 0; start < images.shape()[0]; start += batch) {
    const index_t n = std::min(batch, images.shape()[0] - start);
    const auto out = net(eval(narrow(all, 0, start, n)));
    pools.push_back(out.pool);
    probs.push_back(nn::functional::softmax(out.logits, 1));
  }
  auto join = [](const std::vector<var<T, B>>& parts) {
    const var<T, B> v = parts.size() == 1 ? parts[0] : nn::functional::concat(parts, 0);
    return v.value().view(v.value().shape());
  };
  return {join(pools), join(probs)};
}

/// Inception Score of generated images and FID between them and real ones.
struct inception_result {
  mean_std inception_score;  ///< of the generated images, over `splits` splits
  double fid = 0;            ///< Fréchet distance of the pool features, generated vs real
  index_t generated = 0, real = 0;
  int splits = 0;
};

/// IS (splits as inception_score) and FID through one Inception network.
/// FID compares Gaussians fitted to D-wide features: with fewer images than
/// D (2,048 for Inception-v3) the covariances are singular and the value is
/// biased high; compare FIDs only at equal image counts.
template <class Net, real T, backend B>
inception_result inception_scores(const Net& net, const tensor<T, B>& generated, const tensor<T, B>& real,
                                  int splits = 10, index_t batch = 20) {
  const auto g = inception_activations_of(net, generated, batch);
  const auto r = inception_activations_of(net, real, batch);
  inception_result out;
  out.inception_score = inception_score(g.probs, splits);
  out.fid = frechet_inception_distance(g.pool, r.pool);
  out.generated = generated.shape()[0];
  out.real = real.shape()[0];
  out.splits = splits;
  return out;
}

}  // namespace attngan::models
