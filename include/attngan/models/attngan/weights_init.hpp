// attngan/models/attngan/weights_init.hpp — the original weights_init
// (spec §10.2), applied to G and every D (not to the encoders):
//   every convolution and linear weight (the attention's conv_context
//   included): orthogonal, gain 1 (over the first axis vs the rest);
//   linear biases: 0; convolution biases (D's outlogits) keep their
//   PyTorch-default initialisation;
//   batch norm: weight ~ N(1, 0.02), bias 0 (running statistics untouched).
// Layers are told apart by their tensors, in state_dict order: a weight of
// rank ≥ 2 belongs to a conv (rank 4) or a linear layer (rank 2); a rank-1
// weight to a batch norm; a bias follows its layer's weight. G and D hold no
// other kinds of parameters (no embeddings or LSTMs), which is checked.
#pragma once

#include <string>

#include "attngan/core/random.hpp"
#include "attngan/nn/init.hpp"
#include "attngan/nn/module.hpp"

namespace attngan::models {

template <class Network>
void weights_init(Network& net, attngan::generator& rng) {
  const auto& params = net.parameters();
  std::size_t p = 0;
  int previous_weight_rank = 0;
  std::string previous_prefix;
  for (const auto& e : net.entries()) {
    if (e.kind != nn::tensor_kind::parameter) continue;
    const auto& v = params[p++];
    const auto dot = e.name.rfind('.');
    const std::string prefix = e.name.substr(0, dot == std::string::npos ? 0 : dot);
    const std::string leaf = e.name.substr(dot == std::string::npos ? 0 : dot + 1);
    if (leaf == "weight") {
      if (e.extents.rank() >= 2)
        nn::init::orthogonal(v, rng, 1.0);
      else
        nn::init::normal(v, 1.0, 0.02, rng);  // batch norm
      previous_weight_rank = e.extents.rank();
      previous_prefix = prefix;
    } else if (leaf == "bias" && prefix == previous_prefix) {
      if (previous_weight_rank != 4) nn::init::constant(v, 0.0);  // linear or batch norm; conv biases keep theirs
    } else {
      throw value_error("weights_init", attngan::detail::cat("parameter '", e.name,
                                                             "' is neither a layer's weight nor its bias"));
    }
  }
}

}  // namespace attngan::models
