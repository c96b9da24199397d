// attngan/nn/lstm.hpp — LSTM and bidirectional LSTM over a padded batch with
// per-sample lengths, with PyTorch's packed-sequence meaning.
//
// One step, gates in PyTorch's row order i, f, g, o:
//   z = x_t·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh          (B, 4H)
//   c' = σ(z_f)·c + σ(z_i)·tanh(z_g),  h' = σ(z_o)·tanh(c')
// The input projection of every step is one GEMM up front, (B·T, In)·(In, 4H);
// each step then reads its slice of it as a strided view, adds one
// (B, H)·(H, 4H) GEMM and runs two fused elementwise kernels.
// Packed semantics (pack_padded_sequence → LSTM → pad_packed_sequence):
// sample b only advances while t < len_b (its state is carried unchanged
// after), outputs at t ≥ len_b are exactly 0, the reverse direction starts at
// each sample's last real token, and h_n/c_n are the states at the true
// lengths. The output is padded to T = max(lengths), as pad_packed_sequence
// does. Parameters are named as PyTorch names them: weight_ih_l0,
// weight_hh_l0, bias_ih_l0, bias_hh_l0, then the same with _reverse.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "attngan/autodiff/linalg.hpp"
#include "attngan/autodiff/var.hpp"
#include "attngan/nn/init.hpp"
#include "attngan/nn/module.hpp"
#include "attngan/nn/ops/shape_ops.hpp"

namespace attngan::nn {

template <int In, int Hidden, bool Bidirectional = false>
struct lstm {
  static_assert(In > 0 && Hidden > 0, "attngan::nn::lstm: sizes must be positive");
  static constexpr int in_channels = In;
  static constexpr int directions = Bidirectional ? 2 : 1;
  static constexpr int out_channels_for(int) { return directions * Hidden; }

  template <real T, backend B>
  struct module {
    struct direction_params {
      var<T, B> weight_ih, weight_hh, bias_ih, bias_hh;
    };
    direction_params dir[directions];

    struct result {
      var<T, B> output;  ///< (B, T, directions·H), T = max(lengths); zero past each length
      var<T, B> h_n;     ///< (directions, B, H): states at the true lengths
      var<T, B> c_n;     ///< (directions, B, H)
    };

    template <class V>
    void visit(V& v) {
      for (int d = 0; d < directions; ++d) {
        const std::string suffix = d == 0 ? "_l0" : "_l0_reverse";
        v.parameter("weight_ih" + suffix, dir[d].weight_ih, shape(4 * Hidden, In));
        v.parameter("weight_hh" + suffix, dir[d].weight_hh, shape(4 * Hidden, Hidden));
        v.parameter("bias_ih" + suffix, dir[d].bias_ih, shape(4 * Hidden));
        v.parameter("bias_hh" + suffix, dir[d].bias_hh, shape(4 * Hidden));
      }
    }

    /// PyTorch's default: every weight and bias U(−1/√H, 1/√H).
    void reset_parameters(generator& rng) {
      const double bound = 1.0 / std::sqrt(double(Hidden));
      for (auto& p : dir) {
        init::uniform(p.weight_ih, -bound, bound, rng);
        init::uniform(p.weight_hh, -bound, bound, rng);
        init::uniform(p.bias_ih, -bound, bound, rng);
        init::uniform(p.bias_hh, -bound, bound, rng);
      }
    }

    /// x (B, T, In), batch first; lengths[b] in [1, T].
    result operator()(const var<T, B>& x, const std::vector<index_t>& lengths) const {
      const shape& s = x.shape();
      if (s.rank() != 3 || s[2] != In)
        throw shape_error("lstm", attngan::detail::cat("expects input (B, T, ", In, "), got ", s));
      const index_t batch = s[0], steps = s[1];
      if (index_t(lengths.size()) != batch)
        throw value_error("lstm", attngan::detail::cat(lengths.size(), " lengths for a batch of ", batch));
      for (std::size_t b = 0; b < lengths.size(); ++b)
        if (lengths[b] < 1 || lengths[b] > steps)
          throw value_error("lstm", attngan::detail::cat("length ", lengths[b], " of sample ", b,
                                                         " is outside [1, ", steps, "]"));
      const index_t t_max = *std::max_element(lengths.begin(), lengths.end());

      // keep[t]: 1 where the sample is still inside its sequence at step t
      // (one host-to-device copy for all steps, then views of it)
      std::vector<T> m(static_cast<std::size_t>(t_max * batch));
      for (index_t t = 0; t < t_max; ++t)
        for (index_t b = 0; b < batch; ++b) m[std::size_t(t * batch + b)] = t < lengths[std::size_t(b)] ? T(1) : T(0);
      const var<T, B> masks = var<T, B>::leaf(tensor<T, B>::from_host(shape(t_max, batch, 1), m));
      std::vector<var<T, B>> keep(static_cast<std::size_t>(t_max));
      for (index_t t = 0; t < t_max; ++t) keep[std::size_t(t)] = var<T, B>(select(masks, 0, t));

      const var<T, B> flat = reshape(x, shape(batch * steps, In));
      std::vector<var<T, B>> outputs, h_last, c_last;
      for (int d = 0; d < directions; ++d) {
        const direction_params& p = dir[d];
        var<T, B> projected = matmul(flat, p.weight_ih, transpose::no, transpose::yes) + p.bias_ih + p.bias_hh;
        const var<T, B> steps_view = reshape(projected, shape(batch, steps, 4 * Hidden));  // (B, T, 4H)
        var<T, B> h = var<T, B>::leaf(tensor<T, B>::zeros(shape(batch, Hidden)));
        var<T, B> c = var<T, B>::leaf(tensor<T, B>::zeros(shape(batch, Hidden)));
        std::vector<var<T, B>> out(static_cast<std::size_t>(t_max));
        for (index_t step = 0; step < t_max; ++step) {
          const index_t t = d == 0 ? step : t_max - 1 - step;
          const var<T, B>& m = keep[std::size_t(t)];
          var<T, B> z = select(steps_view, 1, t) + matmul(h, p.weight_hh, transpose::no, transpose::yes);  // (B, 4H)
          // (attngan:: qualifies the functions: nn::sigmoid and nn::tanh are layer specs)
          var<T, B> c_next =
              m * (attngan::sigmoid(narrow(z, 1, Hidden, Hidden)) * c +
                   attngan::sigmoid(narrow(z, 1, 0, Hidden)) * attngan::tanh(narrow(z, 1, 2 * Hidden, Hidden))) +
              (T(1) - m) * c;
          var<T, B> h_new = attngan::sigmoid(narrow(z, 1, 3 * Hidden, Hidden)) * attngan::tanh(c_next);
          out[std::size_t(t)] = m * h_new;  // zero past the sample's length
          h = m * h_new + (T(1) - m) * h;
          c = c_next;
        }
        outputs.push_back(functional::stack(out, 1));  // (B, T, H)
        h_last.push_back(h);
        c_last.push_back(c);
      }
      result r;
      r.output = directions == 1 ? outputs[0] : functional::concat(outputs, 2);
      r.h_n = functional::stack(h_last, 0);
      r.c_n = functional::stack(c_last, 0);
      return r;
    }
  };
};

}  // namespace attngan::nn
