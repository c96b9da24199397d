// attngan/models/attngan/attention.hpp — the word-context attention of the
// generator (GlobalAttentionGeneral, spec §7.3; the paper's Eq. 2).
//
// Image features h (B, idf, H, W) are N = H·W queries; word features
// e (B, cdf, T) are projected to the image width by a bias-free 1×1 conv:
//   e' = W_ctx · e                                     (B, idf, T)
//   s[b, n, t] = h[b, :, n] · e'[b, :, t]              (B, N, T)   one bmm
//   β = softmax_t(s) with padding words excluded        (B, N, T)
//   c[b, :, n] = Σ_t β[b, n, t] · e'[b, :, t]          (B, idf, N) one bmm
// The returned attention map is β laid out as (B, T, H, W) (for
// visualisation; it carries no gradient).
//
// Two mask behaviours (spec §7.3, §15.1):
//   official  the released code tiles the (B, T) mask N times along rows and
//             lays it over the (B·N, T) score matrix, so pixel n of sample b
//             gets the mask of sample (b·N + n) mod B. The released weights
//             were trained with it; reproducing their images needs it.
//   correct   every pixel of sample b uses sample b's mask.
// Both agree when all captions have the same length or B = 1.
#pragma once

#include <cstdint>
#include <vector>

#include "attngan/autodiff/linalg.hpp"
#include "attngan/autodiff/var.hpp"
#include "attngan/models/attngan/config.hpp"
#include "attngan/nn/layers.hpp"
#include "attngan/nn/module.hpp"
#include "attngan/nn/ops/shape_ops.hpp"
#include "attngan/nn/ops/softmax.hpp"

namespace attngan::models {

/// The padding mask of a batch, (B, T): 1 where t ≥ lengths[b], else 0.
template <real T, backend B>
tensor<T, B> padding_mask(const std::vector<index_t>& lengths, index_t words) {
  std::vector<T> m(lengths.size() * std::size_t(words), T(0));
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    if (lengths[b] < 1 || lengths[b] > words)
      throw value_error("padding_mask", attngan::detail::cat("length ", lengths[b], " of sample ", b,
                                                             " is outside [1, ", words, "]"));
    for (index_t t = lengths[b]; t < words; ++t) m[b * std::size_t(words) + std::size_t(t)] = T(1);
  }
  return tensor<T, B>::from_host(shape(index_t(lengths.size()), words), m);
}

/// The mask each score row sees, as a tensor that broadcasts to the scores
/// (B, N, T): (B, 1, T) for `correct`, the tiled (B, N, T) one for `official`.
template <real T, backend B>
tensor<T, B> attention_row_mask(const tensor<T, B>& mask, index_t pixels, mask_mode mode) {
  const index_t batch = mask.shape()[0], words = mask.shape()[1];
  if (mode == mask_mode::correct) return mask.view(shape(batch, 1, words));
  // torch's mask.repeat(N, 1): N copies of the (B, T) mask stacked along rows,
  // i.e. a (N, B, T) tensor, then read as (B, N, T) — row b·N + n holds
  // mask[(b·N + n) mod B].
  no_grad_guard guard;
  const var<T, B> m = var<T, B>::leaf(mask.view(shape(1, batch, words)));
  const var<T, B> ones = var<T, B>::leaf(tensor<T, B>::full(shape(pixels, 1, 1), T(1)));
  const var<T, B> tiled = m * ones;  // (N, B, T)
  return tiled.value().view(shape(batch, pixels, words));
}

template <real T, backend B>
struct attention_output {
  var<T, B> context;  ///< (B, idf, H, W) word-context features
  var<T, B> map;      ///< (B, T, H, W) attention weights β over words, no gradient
};

/// GlobalAttentionGeneral(idf, cdf): parameter "conv_context.weight" (idf, cdf, 1, 1).
template <int Idf, int Cdf>
struct word_attention {
  static_assert(Idf > 0 && Cdf > 0, "attngan::models::word_attention: sizes must be positive");
  static constexpr int idf = Idf;
  static constexpr int cdf = Cdf;

  template <real T, backend B>
  struct module {
    nn::module_of<nn::conv1x1<Cdf, Idf>, T, B> conv_context;

    template <class V>
    void visit(V& v) {
      v.child("conv_context", conv_context);
    }

    /// h (B, idf, H, W), words (B, cdf, T), mask (B, T) with 1 = padding or
    /// nullptr for none.
    attention_output<T, B> operator()(const var<T, B>& h, const var<T, B>& words, const tensor<T, B>* mask,
                                      mask_mode mode = mask_mode::official) const {
      const shape& hs = h.shape();
      const shape& ws = words.shape();
      if (hs.rank() != 4 || hs[1] != Idf || ws.rank() != 3 || ws[1] != Cdf || ws[0] != hs[0])
        throw shape_error("word_attention", attngan::detail::cat("expects h (B, ", Idf, ", H, W) and words (B, ", Cdf,
                                                                 ", T), got ", hs, " and ", ws));
      const index_t batch = hs[0], height = hs[2], width = hs[3], pixels = height * width, words_n = ws[2];
      if (mask && !(mask->shape() == shape(batch, words_n)))
        throw shape_error("word_attention", attngan::detail::cat("mask must be (", batch, ", ", words_n, "), got ",
                                                                 mask->shape()));
      // (B, cdf, T) -> as a (B, cdf, T, 1) image -> 1×1 conv -> (B, idf, T)
      const var<T, B> source = reshape(conv_context(reshape(words, shape(batch, Cdf, words_n, 1))),
                                       shape(batch, Idf, words_n));
      const var<T, B> query = reshape(h, shape(batch, Idf, pixels));                     // (B, idf, N)
      const var<T, B> scores = bmm(query, source, transpose::yes, transpose::no);          // (B, N, T)
      tensor<T, B> row_mask;
      if (mask) row_mask = attention_row_mask(*mask, pixels, mode);
      const var<T, B> beta = nn::functional::softmax(scores, 2, mask ? &row_mask : nullptr);  // (B, N, T)
      const var<T, B> context = bmm(source, beta, transpose::no, transpose::yes);         // (B, idf, N)
      attention_output<T, B> out;
      out.context = reshape(context, shape(batch, Idf, height, width));
      {
        no_grad_guard guard;  // the map is for display: no graph behind it
        out.map = reshape(nn::functional::transpose(beta.detach(), 1, 2), shape(batch, words_n, height, width));
      }
      return out;
    }
  };
};

}  // namespace attngan::models
