// attngan/nn/ops/embedding.hpp — embedding lookup, dropout, and tiling a
// per-sample vector over an image.
//
// embedding(W, ids): W (V, D), ids (N, T) int64 -> (N, T, D), out[n, t] = W[ids[n, t]].
// Its backward adds each token's gradient row into dW[id]; threads split the
// D columns, so repeated ids never race.
// dropout(x, p, rng): x · mask / (1 − p) with mask ~ Bernoulli(1 − p) from the
// Philox generator (element i keeps when uniform(i) ≥ p), so a seed gives the
// same mask on every backend; the identity in evaluation.
// tile_spatial(v, H, W): (N, C) -> (N, C, H, W), v repeated at every pixel
// (AttnGAN's conditioning code concatenated to image features in D).
#pragma once

#include <cstdint>
#include <vector>

#include "attngan/autodiff/linalg.hpp"
#include "attngan/autodiff/var.hpp"
#include "attngan/backend/primitives.hpp"
#include "attngan/core/random.hpp"

namespace attngan::nn::functional {

namespace detail {

template <class T>
struct embedding_kernel {
  const T* w;
  const std::int64_t* ids;
  T* out;
  index_t dim;
  ATTNGAN_HD void operator()(index_t i) const { out[i] = w[ids[i / dim] * dim + i % dim]; }
};

template <class T>
struct embedding_backward {  // column j: dW[ids[k], j] += G[k, j] for every token k
  const T* g;
  const std::int64_t* ids;
  T* dw;
  index_t tokens, dim;
  ATTNGAN_HD void operator()(index_t j) const {
    for (index_t k = 0; k < tokens; ++k) dw[ids[k] * dim + j] += g[k * dim + j];
  }
};

template <real T, backend B>
struct embedding_node : attngan::detail::node<T, B> {
  tensor<std::int64_t, B> ids;
  void backward(const std::vector<char>& wants) override {
    if (!wants[0]) return;
    auto& w = *this->inputs[0];
    const index_t dim = w.value.shape()[1];
    primitives::for_each_index<B>(dim, embedding_backward<T>{this->grad.data(), ids.data(), w.grad_buffer(),
                                                             ids.numel(), dim});
  }
};

template <class T>
struct dropout_mask {
  T* mask;
  std::uint64_t seed, offset;
  T p, scale;
  ATTNGAN_HD void operator()(index_t i) const {
    mask[i] = philox::uniform<T>(seed, offset, i) >= p ? scale : T(0);
  }
};

}  // namespace detail

/// weight (V, D), ids (N, T) with values in [0, V) -> (N, T, D).
template <real T, backend B>
var<T, B> embedding(const var<T, B>& weight, const tensor<std::int64_t, B>& ids) {
  const shape& ws = weight.shape();
  if (ws.rank() != 2 || ids.rank() < 1 || ids.rank() > 3)
    throw shape_error("embedding", attngan::detail::cat("expects weight (V, D) and ids of rank 1..3, got ", ws, " and ",
                                                        ids.shape()));
  for (std::int64_t id : ids.to_vector())  // one host pass: a bad id must not read out of bounds
    if (id < 0 || id >= ws[0])
      throw value_error("embedding", attngan::detail::cat("token id ", id, " is outside the vocabulary [0, ", ws[0],
                                                          ")"));
  index_t dims[4];
  for (int k = 0; k < ids.rank(); ++k) dims[k] = ids.shape()[k];
  dims[ids.rank()] = ws[1];
  tensor<T, B> out(shape::from_dims(dims, ids.rank() + 1));
  primitives::for_each_index<B>(out.numel(), detail::embedding_kernel<T>{weight.value().data(), ids.data(),
                                                                         out.data(), ws[1]});
  auto n = attngan::detail::make_result<detail::embedding_node<T, B>>(std::move(out), {weight.node()}, "embedding");
  if (auto* e = dynamic_cast<detail::embedding_node<T, B>*>(n.get())) e->ids = ids.clone();
  return var<T, B>(n);
}

/// Inverted dropout with probability p (training); the identity when !training or p = 0.
template <real T, backend B>
var<T, B> dropout(const var<T, B>& x, double p, generator& rng, bool training = true) {
  if (!(p >= 0 && p < 1)) throw value_error("dropout", attngan::detail::cat("probability ", p, " is outside [0, 1)"));
  if (!training || p == 0) return x;
  tensor<T, B> mask(x.shape());
  primitives::for_each_index<B>(mask.numel(), detail::dropout_mask<T>{mask.data(), rng.seed(), rng.offset(), T(p),
                                                                      T(1.0 / (1.0 - p))});
  rng.skip(philox::blocks_used_uniform<T>(mask.numel()));
  return x * var<T, B>::leaf(std::move(mask));
}

/// (N, C) -> (N, C, H, W), each sample's vector at every pixel.
template <real T, backend B>
var<T, B> tile_spatial(const var<T, B>& v, index_t height, index_t width) {
  const shape& s = v.shape();
  if (s.rank() != 2 || height < 1 || width < 1)
    throw shape_error("tile_spatial", attngan::detail::cat("expects (N, C) and a positive size, got ", s, " and ",
                                                           height, "x", width));
  const var<T, B> column = reshape(v, shape(s[0], s[1], 1, 1));
  const var<T, B> ones = var<T, B>::leaf(tensor<T, B>::full(shape(1, 1, height, width), T(1)));
  return column * ones;  // broadcast: one fused pass; backward sums over H×W
}

}  // namespace attngan::nn::functional
