// attngan/models/attngan/text_encoder.hpp — the DAMSM text encoder
// (RNN_ENCODER of the original code; spec §3, paper §3.4 "text encoder").
//
// A caption of token ids (B, L), padded with 0, goes through
//   encoder  embedding (Vocabulary, WordDim), init U(−0.1, 0.1)     -> (B, L, WordDim)
//   dropout  p = 0.5 in training (Philox stream, not torch's)        -> (B, L, WordDim)
//   rnn      1-layer bidirectional LSTM, Nef/2 hidden per direction,
//            packed semantics: sample b reads only its first len_b words
//                                                                    -> (B, T, Nef), T = max len
// and gives
//   words  (B, Nef, T): per word [forward h_t, backward h_t], exactly 0 past a caption's length
//   sent   (B, Nef):    [forward state after the last word, backward state after the first word]
// Parameter names equal the checkpoint keys of text_encoder200.pth:
// encoder.weight, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0,
// rnn.bias_hh_l0, then the same with _reverse. The bird encoder is
// text_encoder<5450> (WordDim 300, Nef 256).
#pragma once

#include <cstdint>
#include <vector>

#include "attngan/autodiff/var.hpp"
#include "attngan/core/random.hpp"
#include "attngan/nn/init.hpp"
#include "attngan/nn/lstm.hpp"
#include "attngan/nn/module.hpp"
#include "attngan/nn/ops/embedding.hpp"
#include "attngan/nn/ops/shape_ops.hpp"

namespace attngan::models {

/// The word-embedding table of the text encoder: like nn::embedding, but
/// initialised U(−0.1, 0.1) as RNN_ENCODER.init_weights does.
template <int Vocabulary, int Dim>
struct word_embedding {
  static_assert(Vocabulary > 0 && Dim > 0, "attngan::models::word_embedding: sizes must be positive");
  template <real T, backend B>
  struct module {
    var<T, B> weight;
    template <class V>
    void visit(V& v) {
      v.parameter("weight", weight, shape(Vocabulary, Dim));
    }
    void reset_parameters(attngan::generator& rng) { nn::init::uniform(weight, -0.1, 0.1, rng); }
    var<T, B> operator()(const tensor<std::int64_t, B>& ids) const { return nn::functional::embedding(weight, ids); }
  };
};

template <int Vocabulary, int WordDim = 300, int Nef = 256>
struct text_encoder {
  static_assert(Nef > 0 && Nef % 2 == 0,
                "attngan::models::text_encoder: Nef must be even (two LSTM directions of Nef/2)");
  static constexpr int vocabulary = Vocabulary;
  static constexpr int word_dim = WordDim;
  static constexpr int nef = Nef;
  static constexpr int hidden = Nef / 2;

  template <real T, backend B>
  struct module {
    nn::module_of<word_embedding<Vocabulary, WordDim>, T, B> encoder;
    nn::module_of<nn::lstm<WordDim, hidden, true>, T, B> rnn;
    double dropout = 0.5;  ///< on the embedded words, training only (spec §3)
    bool training = true;

    struct result {
      var<T, B> words;  ///< (B, Nef, T), T = max(lengths)
      var<T, B> sent;   ///< (B, Nef)
    };

    template <class V>
    void visit(V& v) {
      v.child("encoder", encoder);
      v.child("rnn", rnn);
      v.mode(training);
    }

    /// captions (B, L) token ids, 0-padded; lengths[b] in [1, L]. `rng`
    /// drives the dropout mask (used only in training with dropout > 0).
    result operator()(const tensor<std::int64_t, B>& captions, const std::vector<index_t>& lengths,
                      attngan::generator& rng) const {
      if (captions.rank() != 2)
        throw shape_error("text_encoder", attngan::detail::cat("expects captions (B, L), got ", captions.shape()));
      const index_t batch = captions.shape()[0];
      var<T, B> x = encoder(captions);                                        // (B, L, WordDim)
      x = nn::functional::dropout(x, dropout, rng, training);                 // (B, L, WordDim)
      auto r = rnn(x, lengths);                                               // output (B, T, Nef), h_n (2, B, Nef/2)
      result out;
      out.words = nn::functional::transpose(r.output, 1, 2);                  // (B, Nef, T)
      out.sent = reshape(nn::functional::transpose(r.h_n, 0, 1), shape(batch, Nef));  // (B, 2, Nef/2) -> (B, Nef)
      return out;
    }

    /// Without a generator: only where no dropout is drawn (evaluation, or dropout 0).
    result operator()(const tensor<std::int64_t, B>& captions, const std::vector<index_t>& lengths) const {
      if (training && dropout > 0)
        throw value_error("text_encoder", "training with dropout needs a generator: call (captions, lengths, rng)");
      attngan::generator unused(0);
      return (*this)(captions, lengths, unused);
    }
  };
};

}  // namespace attngan::models
