// attngan/models/attngan/damsm.hpp — the Deep Attentional Multimodal
// Similarity Model losses (spec §5, paper §3.4 Eq. 7–13 as coded) and one
// DAMSM pretraining step (spec §10.6).
//
// Word loss, for every image j and caption i (its first L_i words), with
// regions v_j (D, R) and words e_i (D, T):
//   s[r, t] = v_j[:, r]·e_i[:, t]
//   s̄[r, ·] = softmax over the words t < L_i of s[r, ·]
//   α[·, t] = softmax over the regions r of γ1·s̄[·, t]
//   c_t = Σ_r α[r, t] v_j[:, r],   R_t = cos(c_t, e_i[:, t])  (denominator clamped at 1e−8)
//   M[j, i] = γ3 · ln Σ_{t < L_i} exp(γ2·R_t)      (no 1/γ2: the code's form, spec §15.5)
// Sentence loss: M[j, i] = γ3 · cos(v̄_j, ē_i).
// With class ids, M[j, i] = −∞ for j ≠ i of the same class. Each returns
// loss0 = CE(M, diag) (each image picks its caption) and loss1 = CE(Mᵀ, diag)
// (each caption picks its image). All (j, i) pairs are computed at once:
// the scores of the batch are one (B·R, D)·(D, B·T) GEMM viewed as
// (B_img, R, B_cap, T), the contexts one batched GEMM.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "attngan/autodiff/backward.hpp"
#include "attngan/autodiff/linalg.hpp"
#include "attngan/autodiff/reduce.hpp"
#include "attngan/autodiff/var.hpp"
#include "attngan/core/random.hpp"
#include "attngan/nn/layers.hpp"
#include "attngan/nn/module.hpp"
#include "attngan/nn/ops/loss.hpp"
#include "attngan/nn/ops/shape_ops.hpp"
#include "attngan/nn/ops/softmax.hpp"
#include "attngan/optim/adam.hpp"
#include "attngan/optim/clip.hpp"

namespace attngan::models {

/// γ1 (word attention sharpness), γ2 (word-score pooling), γ3 (logit scale);
/// the bird YAMLs' values (spec §1, §15.6).
struct damsm_gammas {
  double gamma1 = 4.0, gamma2 = 5.0, gamma3 = 10.0;
};

template <real T, backend B>
struct words_loss_result {
  var<T, B> loss0;       ///< CE(M, labels): each image picks its caption
  var<T, B> loss1;       ///< CE(Mᵀ, labels): each caption picks its image
  var<T, B> similarity;  ///< M (B_img, B_cap) before class masking
  var<T, B> attention;   ///< α (B_img, R, B_cap, T): attention over regions of every word of every pair
  index_t height = 0, width = 0;
  std::vector<index_t> lengths;

  /// The attention map of caption i over its own image: (L_i, h, w), the
  /// original's att_maps[i] (for visualisation).
  [[nodiscard]] var<T, B> attention_map(index_t i) const {
    const index_t batch = attention.shape()[0];
    if (i < 0 || i >= batch)
      throw value_error("words_loss::attention_map", attngan::detail::cat("caption ", i, " of a batch of ", batch));
    const var<T, B> of_image = eval(select(attention, 0, i));        // (R, B_cap, T)
    const var<T, B> pair = eval(select(of_image, 1, i));             // (R, T)
    const var<T, B> by_word = nn::functional::transpose(pair, 0, 1);  // (T, R)
    const index_t len = lengths[std::size_t(i)];
    return reshape(eval(narrow(by_word, 0, 0, len)), shape(len, height, width));  // (L_i, h, w)
  }
};

template <real T, backend B>
struct sent_loss_result {
  var<T, B> loss0, loss1;
  var<T, B> similarity;  ///< (B_img, B_cap) before class masking
};

namespace detail {

/// (B, B) mask, 1 where j ≠ i share a class (pairs excluded from the
/// softmax); nullopt without class ids.
template <real T, backend B>
std::optional<tensor<T, B>> same_class_mask(const std::vector<std::int64_t>& class_ids, index_t batch,
                                            const char* op) {
  if (class_ids.empty()) return std::nullopt;
  if (index_t(class_ids.size()) != batch)
    throw value_error(op, attngan::detail::cat(class_ids.size(), " class ids for a batch of ", batch));
  std::vector<T> m(std::size_t(batch * batch), T(0));
  for (index_t j = 0; j < batch; ++j)
    for (index_t i = 0; i < batch; ++i)
      if (j != i && class_ids[std::size_t(j)] == class_ids[std::size_t(i)]) m[std::size_t(j * batch + i)] = T(1);
  return tensor<T, B>::from_host(shape(batch, batch), m);
}

/// dot / max(√sq_a·√sq_b, 1e−8): the original's cosine similarity from its
/// parts, one fused expression shared by both losses (each distinct
/// expression is a kernel the compiler instantiates).
template <real T, backend B>
var<T, B> cosine_from_parts(const var<T, B>& dot, const var<T, B>& sq_a, const var<T, B>& sq_b) {
  return dot / max(sqrt(sq_a) * sqrt(sq_b), T(1e-8));
}

/// −mean_n log softmax(M)[n, n] with the softmax over `axis` (1: rows, i.e.
/// CE(M, diag); 0: columns, i.e. CE(Mᵀ, diag)); masked entries are −∞ and
/// never on the diagonal.
template <real T, backend B>
var<T, B> diagonal_cross_entropy(const var<T, B>& logits, int axis, const std::optional<tensor<T, B>>& mask,
                                 const char* op) {
  const index_t n = logits.shape()[0];
  std::vector<T> eye(std::size_t(n * n), T(0));
  for (index_t k = 0; k < n; ++k) eye[std::size_t(k * n + k)] = T(1);
  const var<T, B> diagonal = var<T, B>::leaf(tensor<T, B>::from_host(shape(n, n), eye));
  const var<T, B> lp = nn::functional::log_softmax(logits, axis, mask ? &*mask : nullptr);  // (B, B)
  // where, not a product: the masked entries are −∞ and −∞·0 would be NaN
  return nn::functional::detail::finite_loss(var<T, B>(sum(where(diagonal, lp, T(0))) * (T(-1) / T(n))), op);
}

}  // namespace detail

/// DAMSM word loss. regions (B, D, h, w) from the image encoder, words
/// (B, D, T) from the text encoder (T = max length, zero past each length),
/// lengths[i] in [1, T]; class_ids empty or one per sample.
template <real T, backend B>
words_loss_result<T, B> words_loss(const var<T, B>& regions, const var<T, B>& words,
                                   const std::vector<index_t>& lengths,
                                   const std::vector<std::int64_t>& class_ids = {}, const damsm_gammas& g = {}) {
  const shape& fs = regions.shape();
  const shape& ws = words.shape();
  if (fs.rank() != 4 || ws.rank() != 3 || fs[0] != ws[0] || fs[1] != ws[1])
    throw shape_error("words_loss", attngan::detail::cat("expects regions (B, D, h, w) and words (B, D, T), got ",
                                                         fs, " and ", ws));
  const index_t batch = ws[0], dim = ws[1], steps = ws[2], regions_n = fs[2] * fs[3];
  if (index_t(lengths.size()) != batch)
    throw value_error("words_loss", attngan::detail::cat(lengths.size(), " lengths for a batch of ", batch));
  // padded: 1 at the words t ≥ L_i of caption i (excluded); valid = 1 − padded
  std::vector<T> padded(std::size_t(batch * steps), T(0)), valid(std::size_t(batch * steps), T(0));
  for (index_t i = 0; i < batch; ++i) {
    const index_t len = lengths[std::size_t(i)];
    if (len < 1 || len > steps)
      throw value_error("words_loss", attngan::detail::cat("length ", len, " of caption ", i, " is outside [1, ",
                                                           steps, "]"));
    for (index_t t = 0; t < steps; ++t) (t < len ? valid : padded)[std::size_t(i * steps + t)] = T(1);
  }
  const tensor<T, B> word_mask = tensor<T, B>::from_host(shape(1, 1, batch, steps), padded);
  const var<T, B> pad = var<T, B>::leaf(tensor<T, B>::from_host(shape(1, batch, steps), padded));
  const var<T, B> keep = var<T, B>::leaf(tensor<T, B>::from_host(shape(1, batch, steps), valid));

  const var<T, B> context = reshape(regions, shape(batch, dim, regions_n));  // (B, D, R)
  const var<T, B> region_rows =
      reshape(nn::functional::transpose(context, 1, 2), shape(batch * regions_n, dim));  // (B·R, D)
  const var<T, B> words_by_dim = nn::functional::transpose(words, 0, 1);                  // (D, B, T)
  const var<T, B> scores = reshape(matmul(region_rows, reshape(words_by_dim, shape(dim, batch * steps))),
                                   shape(batch, regions_n, batch, steps));  // (B_img, R, B_cap, T)
  const var<T, B> over_words = nn::functional::softmax(scores, 3, &word_mask);            // s̄, over t < L_i
  const var<T, B> attention = nn::functional::softmax(var<T, B>(over_words * T(g.gamma1)), 1);  // α, over r
  // The region context of each word, c = Σ_r α_r v_r (B_img, D, B_cap, T), is
  // 19 MB at the demo's sizes; only c·e and ‖c‖² are needed, and both come
  // from R-sized tensors: c·e = Σ_r α_r (v_r·e), where v_r·e is `scores`,
  // and ‖c‖² = Σ_r α_r (Gα)_r with G = VᵀV each image's (R, R) Gram matrix
  // of its regions.
  const var<T, B> dot = sum(attention * scores, {1});  // c·e: (B_img, B_cap, T)
  const var<T, B> gram = bmm(context, context, transpose::yes, transpose::no);  // VᵀV: (B_img, R, R)
  const var<T, B> flat_attention = reshape(attention, shape(batch, regions_n, batch * steps));
  const var<T, B> gram_attention = reshape(bmm(gram, flat_attention), shape(batch, regions_n, batch, steps));
  // ‖c‖² ≥ 0 as a quadratic form of a Gram matrix; rounding could take it just below
  const var<T, B> sq_context = max(sum(attention * gram_attention, {1}), T(0));  // (B_img, B_cap, T)
  const var<T, B> query = reshape(words_by_dim, shape(1, dim, batch, steps));  // e: (1, D, B_cap, T)
  // ‖e‖² + 1 at padded words only: their norm is 0 and √ has no derivative
  // there; they are excluded from the sum below either way
  const var<T, B> sq_words = sum(square(query), {1}) + pad;       // (1, B_cap, T)
  const var<T, B> cosine = detail::cosine_from_parts(dot, sq_context, sq_words);  // R_t: (B_img, B_cap, T)
  const var<T, B> pooled = sum(exp(cosine * T(g.gamma2)) * keep, {2});  // Σ_{t<L_i} exp(γ2 R_t): (B_img, B_cap)
  const var<T, B> similarity = log(pooled) * T(g.gamma3);               // M: (B_img, B_cap)

  const auto mask = detail::same_class_mask<T, B>(class_ids, batch, "words_loss");
  words_loss_result<T, B> r;
  r.loss0 = detail::diagonal_cross_entropy(similarity, 1, mask, "words_loss");
  r.loss1 = detail::diagonal_cross_entropy(similarity, 0, mask, "words_loss");
  r.similarity = similarity;
  r.attention = attention;
  r.height = fs[2];
  r.width = fs[3];
  r.lengths = lengths;
  return r;
}

/// DAMSM sentence loss. codes (B, D) global image features, sent (B, D).
template <real T, backend B>
sent_loss_result<T, B> sent_loss(const var<T, B>& codes, const var<T, B>& sent,
                                 const std::vector<std::int64_t>& class_ids = {}, const damsm_gammas& g = {}) {
  if (codes.shape().rank() != 2 || !(codes.shape() == sent.shape()))
    throw shape_error("sent_loss", attngan::detail::cat("expects image codes and sentences (B, D), got ",
                                                        codes.shape(), " and ", sent.shape()));
  const index_t batch = codes.shape()[0];
  const var<T, B> dot = matmul(codes, sent, transpose::no, transpose::yes);                    // (B_img, B_cap)
  const var<T, B> sq_codes = sum(square(codes), {1}, true);                                  // (B_img, 1)
  const var<T, B> sq_sent = reshape(sum(square(sent), {1}), shape(1, batch));                 // (1, B_cap)
  const var<T, B> similarity = detail::cosine_from_parts(dot, sq_codes, sq_sent) * T(g.gamma3);  // (B_img, B_cap)
  const auto mask = detail::same_class_mask<T, B>(class_ids, batch, "sent_loss");
  sent_loss_result<T, B> r;
  r.loss0 = detail::diagonal_cross_entropy(similarity, 1, mask, "sent_loss");
  r.loss1 = detail::diagonal_cross_entropy(similarity, 0, mask, "sent_loss");
  r.similarity = similarity;
  return r;
}

// ------------------------------------------------------------ DAMSM pretraining

namespace detail {
/// Offset, in the image network's parameter arena, of its two projections
/// (emb_features, emb_cnn_code), which must be its last parameters: what
/// comes before them is the trunk. value_error (naming `op`) otherwise.
template <class Network>
index_t projection_offset(const Network& image, const char* op) {
  index_t first = -1;
  for (const auto& e : image.entries()) {
    if (e.kind != nn::tensor_kind::parameter) continue;
    const bool projection = e.name.rfind("emb_features.", 0) == 0 || e.name.rfind("emb_cnn_code.", 0) == 0;
    if (projection && first < 0) first = e.offset;
    if (!projection && first >= 0)
      throw value_error(op, attngan::detail::cat("the image encoder's projections must be its last parameters; ",
                                                 e.name, " follows them"));
  }
  if (first < 0) throw value_error(op, "the image encoder has no emb_features / emb_cnn_code");
  return first;
}

/// The network's parameter vars whose arena offsets lie in [begin, end).
template <class Network>
auto parameters_between(const Network& net, index_t begin, index_t end) {
  std::vector<typename Network::var_type> out;
  std::size_t k = 0;
  for (const auto& e : net.entries())
    if (e.kind == nn::tensor_kind::parameter) {
      if (e.offset >= begin && e.offset < end) out.push_back(net.parameters()[k]);
      ++k;
    }
  return out;
}
}  // namespace detail

/// pretrain_DAMSM.py for birds (spec §10.6).
struct damsm_options {
  damsm_gammas gammas{};
  double lr = 0.002;           ///< TRAIN.ENCODER_LR
  double beta1 = 0.5, beta2 = 0.999;
  double rnn_grad_clip = 0.25;  ///< TRAIN.RNN_GRAD_CLIP: 2-norm clip of the text encoder's gradients only
  double lr_decay = 0.98;       ///< after each epoch while lr > lr₀/10
  /// false (the original): only the projections of the image encoder learn,
  /// its trunk stays as loaded (ImageNet Inception). true: the whole image
  /// encoder learns — for a trunk with no pretrained weights (the small
  /// encoder), which frozen at its random initialisation sees little.
  bool train_image_trunk = false;
  /// true (the original): a fresh Adam, moments reset, at every epoch. On
  /// CUB that is every 184 steps; on a few hundred images every few dozen.
  /// false: one Adam for the run, whose lr follows the same schedule.
  bool adam_per_epoch = true;
};

struct damsm_step_losses {
  double w_loss0, w_loss1, s_loss0, s_loss1;
  double text_grad_norm;  ///< before clipping
  [[nodiscard]] double total() const { return w_loss0 + w_loss1 + s_loss0 + s_loss1; }
};

/// One DAMSM pretraining run: trains the whole text encoder and the image
/// encoder's two projections (emb_features, emb_cnn_code); the image trunk
/// gets no gradient (the original freezes Inception; train_image_trunk
/// lifts that) but runs in whatever
/// mode the network is in — train mode, as the original, keeps updating its
/// BatchNorm statistics. Adam is re-created at every epoch (moments reset)
/// with lr decayed by 0.98 per epoch while lr > lr₀/10, as the original
/// (adam_per_epoch = false keeps one Adam).
/// Keeps references to both networks; not copyable or movable.
template <class TextSpec, class ImageSpec, real T, backend B>
class damsm_trainer {
 public:
  using text_network = nn::network<TextSpec, T, B>;
  using image_network = nn::network<ImageSpec, T, B>;

  damsm_trainer(text_network& text, image_network& image, damsm_options o = {})
      : text_(text), image_(image), o_(o), lr_(o.lr) {
    index_t first = detail::projection_offset(image, "damsm_trainer");
    if (o.train_image_trunk) first = 0;
    const shape tail(image.parameter_count() - first);
    image_values_ = image.parameter_arena().subview(first, tail);
    image_grads_ = image.gradient_arena().subview(first, tail);
    trained_ = detail::parameters_between(image, first, image.parameter_count());
    for (const auto& p : text.parameters()) trained_.push_back(p);
    start_optimisers();
  }
  damsm_trainer(const damsm_trainer&) = delete;
  damsm_trainer& operator=(const damsm_trainer&) = delete;

  /// One step: encoders forward, loss w0 + w1 + s0 + s1, backward into the
  /// text encoder and the image encoder's trained part, clip the text encoder's gradient
  /// norm, Adam. images (B, 3, H, W), captions (B, L) sorted or not, class
  /// ids one per sample (empty: no masking); `rng` drives the text dropout.
  damsm_step_losses step(const tensor<T, B>& images, const tensor<std::int64_t, B>& captions,
                         const std::vector<index_t>& lengths, const std::vector<std::int64_t>& class_ids,
                         attngan::generator& rng) {
    text_.zero_grad();
    image_.zero_grad();
    const auto img = image_(var<T, B>::leaf(images.clone()));  // region (B, nef, h, w), code (B, nef)
    const auto txt = text_(captions, lengths, rng);            // words (B, nef, T), sent (B, nef)
    const auto w = words_loss(img.region, txt.words, lengths, class_ids, o_.gammas);
    const auto s = sent_loss(img.code, txt.sent, class_ids, o_.gammas);
    const var<T, B> loss = w.loss0 + w.loss1 + s.loss0 + s.loss1;
    backward(loss, trained_);
    damsm_step_losses r{double(w.loss0.item()), double(w.loss1.item()), double(s.loss0.item()),
                        double(s.loss1.item()), 0.0};
    r.text_grad_norm = optim::clip_grad_norm(text_.gradient_arena(), o_.rnn_grad_clip);
    text_adam_->step();
    image_adam_->step();
    return r;
  }

  /// Ends an epoch: lr ← 0.98·lr while lr > lr₀/10, and a fresh Adam
  /// (adam_per_epoch) or the same Adam at the new lr.
  void end_epoch() {
    if (lr_ > o_.lr / 10.0) lr_ *= o_.lr_decay;
    if (o_.adam_per_epoch) {
      start_optimisers();
    } else {
      text_adam_->set_lr(lr_);
      image_adam_->set_lr(lr_);
    }
  }

  [[nodiscard]] double lr() const { return lr_; }

 private:
  void start_optimisers() {
    const optim::adam_options a{lr_, o_.beta1, o_.beta2, 1e-8, 0.0};
    text_adam_.emplace(text_.parameter_arena(), text_.gradient_arena(), a);
    image_adam_.emplace(image_values_, image_grads_, a);
  }

  text_network& text_;
  image_network& image_;
  damsm_options o_;
  double lr_;
  tensor<T, B> image_values_, image_grads_;
  std::vector<var<T, B>> trained_;
  std::optional<optim::adam<T, B>> text_adam_, image_adam_;
};

// ------------------------------------------------------------ a head start for a random trunk

struct attribute_step_result {
  double loss;                  ///< mean cross-entropy over samples and groups (the heads' sum with both)
  double accuracy = -1;         ///< share of (sample, group) labels the pooled head names right; −1 without it
  double local_accuracy = -1;   ///< the same for the local head; −1 without it
};

/// Which trunk features trunk_attribute_pretrainer's classifier reads.
enum class attribute_head : std::uint8_t {
  pooled,  ///< the pooled trunk vector, one linear head (the default)
  local,   ///< the local grid: each group pools it with its own attention, then a linear head
  both,    ///< both heads, their losses added
};

namespace detail {

/// The local head of trunk_attribute_pretrainer. For each of Groups
/// attributes, a 1×1 convolution scores every position of the trunk's local
/// grid, a softmax over the positions turns the scores into weights, and
/// that group's vector is the weighted mean of the local features; group g's
/// Classes logits are then a linear map of group g's vector. An attribute
/// that sits in one place of the image (a bird's crown) can then be named
/// only if the local features at that place carry it.
template <int Local, int Groups, int Classes>
struct local_attribute_head {
  template <real T, backend B>
  struct module {
    nn::module_of<nn::conv1x1<Local, Groups>, T, B> where;
    nn::module_of<nn::linear<Local, Groups * Classes>, T, B> what;

    template <class V>
    void visit(V& v) {
      v.child("where", where);
      v.child("what", what);
    }

    /// features (N, Local, H, W); diagonal (1, Groups, Groups, 1), 1 where
    /// the two group indices agree → logits (N·Groups, Classes), sample-major.
    var<T, B> operator()(const var<T, B>& features, const var<T, B>& diagonal) const {
      const shape& s = features.shape();
      const index_t n = s[0], positions = s[2] * s[3];
      const var<T, B> weights = nn::functional::softmax(reshape(where(features), shape(n, Groups, positions)), 2);
      const var<T, B> pooled =
          bmm(weights, reshape(features, shape(n, Local, positions)), transpose::no, transpose::yes);  // (N, G, Local)
      // every group's classifier on every group's vector; keep g on g
      const var<T, B> all =
          reshape(what(reshape(pooled, shape(n * Groups, Local))), shape(n, Groups, Groups, Classes));
      return reshape(sum(all * diagonal, {2}), shape(n * Groups, Classes));
    }
  };
};

/// Share of the rows of logits (rows × Classes, row-major) whose largest
/// entry is at the row's label.
template <class V>
double share_right(const std::vector<V>& z, const std::vector<index_t>& labels, int classes) {
  std::size_t right = 0;
  for (std::size_t r = 0; r < labels.size(); ++r) {
    const auto row = z.begin() + std::ptrdiff_t(r * std::size_t(classes));
    right += std::size_t(std::max_element(row, row + classes) - row) == std::size_t(labels[r]);
  }
  return labels.empty() ? 0.0 : double(right) / double(labels.size());
}

}  // namespace detail

/// Teaches a randomly initialised image trunk to name labelled attributes
/// before DAMSM pretraining — a stand-in for the ImageNet prior of the
/// original's Inception, which the small encoder lacks (bench/RESULTS.md,
/// "The DAMSM bottleneck"). A throwaway head maps the trunk's features to
/// Groups softmaxes of Classes values each — for the synthetic birds 7 parts ×
/// 9 colours —, the loss is their mean cross-entropy, and Adam updates the
/// trunk and the head. attribute_head::pooled reads the pooled trunk vector
/// (ImageSpec's `pooled`) with one linear layer; attribute_head::local reads
/// the local grid (ImageSpec's `trunk(x).local`, whose projection is what the
/// DAMSM word loss and G's word attention compare with words) through
/// detail::local_attribute_head; attribute_head::both adds the two losses.
/// The projections (emb_features, emb_cnn_code, the image network's last
/// parameters) are not touched. Keeps a reference to the network.
template <class ImageSpec, int Groups, int Classes, real T, backend B>
class trunk_attribute_pretrainer {
 public:
  static_assert(Groups > 0 && Classes > 1, "attngan::models::trunk_attribute_pretrainer: Groups > 0, Classes > 1");
  using image_network = nn::network<ImageSpec, T, B>;
  using head_spec = nn::linear<ImageSpec::global_channels, Groups * Classes>;
  using local_head_spec = detail::local_attribute_head<ImageSpec::local_channels, Groups, Classes>;

  /// The pooled head is drawn from rng first whichever `which`, so the
  /// default draws the same numbers as before the local head existed.
  trunk_attribute_pretrainer(image_network& image, generator& rng, attribute_head which = attribute_head::pooled,
                             optim::adam_options o = {})
      : image_(image), which_(which), head_(rng) {
    const index_t trunk_end = detail::projection_offset(image, "trunk_attribute_pretrainer");
    if (trunk_end == 0) throw value_error("trunk_attribute_pretrainer", "the image encoder has no trunk parameters");
    trained_ = detail::parameters_between(image, 0, trunk_end);
    trunk_values_ = image.parameter_arena().subview(0, shape(trunk_end));
    trunk_grads_ = image.gradient_arena().subview(0, shape(trunk_end));
    trunk_adam_.emplace(trunk_values_, trunk_grads_, o);
    if (uses_pooled()) {
      for (const auto& p : head_.parameters()) trained_.push_back(p);
      head_adam_.emplace(head_.parameter_arena(), head_.gradient_arena(), o);
    }
    if (uses_local()) {
      local_.emplace(rng);
      for (const auto& p : local_->parameters()) trained_.push_back(p);
      local_adam_.emplace(local_->parameter_arena(), local_->gradient_arena(), o);
      std::vector<T> eye(std::size_t(Groups * Groups), T(0));
      for (int g = 0; g < Groups; ++g) eye[std::size_t(g * Groups + g)] = T(1);
      diagonal_ = var<T, B>::leaf(tensor<T, B>::from_host(shape(1, Groups, Groups, 1), eye));
    }
  }
  trunk_attribute_pretrainer(const trunk_attribute_pretrainer&) = delete;
  trunk_attribute_pretrainer& operator=(const trunk_attribute_pretrainer&) = delete;

  [[nodiscard]] attribute_head head() const { return which_; }

  /// images (N, 3, H, W); labels N·Groups class indices, sample-major
  /// (labels[n·Groups + g] is group g of sample n), each in [0, Classes).
  attribute_step_result step(const tensor<T, B>& images, const std::vector<index_t>& labels) {
    const index_t n = images.shape()[0];
    if (index_t(labels.size()) != n * Groups)
      throw shape_error("trunk_attribute_pretrainer", attngan::detail::cat(labels.size(), " labels for ", n,
                                                                           " images of ", Groups, " groups"));
    image_.zero_grad();
    const auto t = image_->trunk(var<T, B>::leaf(images.clone()));
    std::optional<var<T, B>> pooled_logits, local_logits, loss;
    if (uses_pooled()) {
      head_.zero_grad();
      pooled_logits = reshape(head_(t.pooled), shape(n * Groups, Classes));
      loss = nn::functional::cross_entropy(*pooled_logits, labels);
    }
    if (uses_local()) {
      local_->zero_grad();
      local_logits = (*local_)(t.local, diagonal_);
      const var<T, B> l = nn::functional::cross_entropy(*local_logits, labels);
      loss = loss ? var<T, B>(*loss + l) : l;
    }
    backward(*loss, trained_);
    trunk_adam_->step();
    if (head_adam_) head_adam_->step();
    if (local_adam_) local_adam_->step();
    attribute_step_result r{double(loss->item())};
    if (pooled_logits) r.accuracy = detail::share_right(pooled_logits->value().to_vector(), labels, Classes);
    if (local_logits) r.local_accuracy = detail::share_right(local_logits->value().to_vector(), labels, Classes);
    return r;
  }

 private:
  [[nodiscard]] bool uses_pooled() const { return which_ != attribute_head::local; }
  [[nodiscard]] bool uses_local() const { return which_ != attribute_head::pooled; }

  image_network& image_;
  attribute_head which_;
  nn::network<head_spec, T, B> head_;
  std::optional<nn::network<local_head_spec, T, B>> local_;
  var<T, B> diagonal_;
  std::vector<var<T, B>> trained_;
  tensor<T, B> trunk_values_, trunk_grads_;
  std::optional<optim::adam<T, B>> trunk_adam_, head_adam_, local_adam_;
};

}  // namespace attngan::models
