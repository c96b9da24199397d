// attngan/nn/layers.hpp — the basic layers as specs.
//
// Each spec's template arguments are its hyperparameters; `module<T, B>`
// holds its parameters (named as PyTorch names them) and computes the
// forward pass on vars, so the backward pass comes from autodiff. Shapes are
// NCHW. The operations behind them (conv2d, upsample_nearest,
// concat_channels) are in nn::functional. Channel interfaces (`in_channels`, `out_channels_for`) feed the
// compile-time checks of sequential<...>.
#pragma once

#include <cmath>

#include "attngan/autodiff/linalg.hpp"
#include "attngan/autodiff/reduce.hpp"
#include "attngan/autodiff/var.hpp"
#include "attngan/nn/init.hpp"
#include "attngan/nn/module.hpp"
#include "attngan/nn/ops/batch_norm.hpp"
#include "attngan/nn/ops/conv2d.hpp"
#include "attngan/nn/ops/embedding.hpp"
#include "attngan/nn/ops/pool.hpp"
#include "attngan/nn/ops/resample.hpp"
#include "attngan/nn/ops/upsample_conv.hpp"
#include "attngan/nn/sequential.hpp"

namespace attngan::nn {

/// Fully connected: (N, In) -> (N, Out), y = x·Wᵀ + b. weight (Out, In), bias (Out).
template <int In, int Out, bias Bias = bias::yes>
struct linear {
  static_assert(In > 0 && Out > 0, "attngan::nn::linear: feature counts must be positive");
  static constexpr int in_channels = In;
  static constexpr int out_channels_for(int) { return Out; }

  template <real T, backend B>
  struct module {
    var<T, B> weight, bias_;
    template <class V>
    void visit(V& v) {
      v.parameter("weight", weight, shape(Out, In));
      if constexpr (Bias == bias::yes) v.parameter("bias", bias_, shape(Out));
    }
    void reset_parameters(generator& rng) {
      init::fan_in_uniform(weight, In, rng);
      if constexpr (Bias == bias::yes) init::fan_in_uniform(bias_, In, rng);
    }
    var<T, B> operator()(const var<T, B>& x) const {
      if (x.shape().rank() != 2 || x.shape()[1] != In)
        throw shape_error("linear", attngan::detail::cat("expects (N, ", In, "), got ", x.shape()));
      var<T, B> y = matmul(x, weight, transpose::no, transpose::yes);  // (N, In)·(In, Out)
      if constexpr (Bias == bias::yes) return y + bias_;               // bias broadcast over rows
      else return y;
    }
  };
};

/// 2-D convolution: (N, In, H, W) -> (N, Out, Ho, Wo). weight (Out, In, KH, KW),
/// bias (Out) when Bias is yes.
template <int In, int Out, int KH, int KW = KH, int Stride = 1, int PadH = 0, int PadW = PadH, bias Bias = bias::no>
struct conv2d {
  static_assert(In > 0 && Out > 0 && KH > 0 && KW > 0 && Stride > 0 && PadH >= 0 && PadW >= 0,
                "attngan::nn::conv2d: channels, kernel and stride must be positive, padding non-negative");
  static constexpr int in_channels = In;
  static constexpr int out_channels_for(int) { return Out; }

  template <real T, backend B>
  struct module {
    var<T, B> weight, bias_;
    template <class V>
    void visit(V& v) {
      v.parameter("weight", weight, shape(Out, In, KH, KW));
      if constexpr (Bias == bias::yes) v.parameter("bias", bias_, shape(Out));
    }
    void reset_parameters(generator& rng) {
      init::fan_in_uniform(weight, In * KH * KW, rng);
      if constexpr (Bias == bias::yes) init::fan_in_uniform(bias_, In * KH * KW, rng);
    }
    static constexpr functional::conv2d_options options() { return {Stride, Stride, PadH, PadW}; }
    var<T, B> operator()(const var<T, B>& x) const { return functional::conv2d(x, weight, bias_, options()); }
  };
};

/// conv3x3 of the original code: 3×3, stride 1, padding 1, no bias.
template <int In, int Out>
using conv3x3 = conv2d<In, Out, 3, 3, 1, 1, 1, bias::no>;
/// conv1x1: 1×1, stride 1, no padding, no bias.
template <int In, int Out>
using conv1x1 = conv2d<In, Out, 1, 1, 1, 0, 0, bias::no>;

/// Batch normalisation over the channels of (N, C) (Rank 2) or (N, C, H, W)
/// (Rank 4), as PyTorch: batch statistics in training (biased variance to
/// normalise; the running variance takes the unbiased one, momentum 0.1),
/// running statistics in evaluation. Eps is configurable (AttnGAN uses 1e-5
/// and the Inception encoder 1e-3).
template <int C, int Rank, double Eps = 1e-5, double Momentum = 0.1>
struct batch_norm {
  static_assert(Rank == 2 || Rank == 4, "attngan::nn::batch_norm: Rank is 2 (BatchNorm1d) or 4 (BatchNorm2d)");
  static constexpr int in_channels = C;
  static constexpr int out_channels_for(int) { return C; }

  template <real T, backend B>
  struct module {
    var<T, B> weight, bias_, running_mean, running_var;
    bool training = true;
    template <class V>
    void visit(V& v) {
      v.parameter("weight", weight, shape(C));
      v.parameter("bias", bias_, shape(C));
      v.buffer("running_mean", running_mean, shape(C));
      v.buffer("running_var", running_var, shape(C));
      v.mode(training);
    }
    void reset_parameters(generator&) {
      init::constant(weight, 1.0);
      init::constant(bias_, 0.0);
      init::constant(running_mean, 0.0);
      init::constant(running_var, 1.0);
    }
    static shape channel_shape() { return Rank == 4 ? shape(1, C, 1, 1) : shape(1, C); }

    var<T, B> operator()(const var<T, B>& x) const {
      const shape& s = x.shape();
      if (s.rank() != Rank || s[1] != C)
        throw shape_error("batch_norm",
                          attngan::detail::cat("expects (N, ", C, Rank == 4 ? ", H, W)" : ")", ", got ", s));
      const T eps = T(Eps);
      if (!training) {
        const var<T, B> g = reshape(weight, channel_shape()), b = reshape(bias_, channel_shape());
        const var<T, B> rm = reshape(running_mean, channel_shape()), rv = reshape(running_var, channel_shape());
        var<T, B> inv = T(1) / sqrt(rv + eps);
        return (x - rm) * inv * g + b;
      }
      const index_t count = s.numel() / C;
      if (count < 2)
        throw value_error("batch_norm", attngan::detail::cat("training needs more than one value per channel, got ",
                                                             s));
      auto r = functional::batch_norm_training(x, weight, bias_, eps);  // one fused op (nn/ops/batch_norm.hpp)
      const var<T, B> mu = var<T, B>::leaf(r.mean.view(channel_shape()));
      const var<T, B> variance = var<T, B>::leaf(r.variance.view(channel_shape()));
      check_finite(variance);  // C values: a NaN or infinity anywhere in x shows up here
      update_running(mu, variance, count);
      return r.y;
    }

    static void check_finite(const var<T, B>& stat) {
      const auto v = stat.value().to_vector();
      for (std::size_t c = 0; c < v.size(); ++c)
        if (!std::isfinite(double(v[c])))
          throw value_error("batch_norm", attngan::detail::cat("the batch variance of channel ", c, " is ",
                                                               attngan::detail::number_text(double(v[c])),
                                                               ": the input contains NaN or infinity"));
    }

    // running ← (1 − m)·running + m·batch statistic (unbiased variance)
    void update_running(const var<T, B>& mu, const var<T, B>& variance, index_t count) const {
      no_grad_guard guard;
      const T m = T(Momentum), unbias = T(double(count) / double(count - 1));
      const var<T, B> rm = reshape(running_mean, channel_shape()), rv = reshape(running_var, channel_shape());
      var<T, B> new_mean = (T(1) - m) * rm + m * mu;
      var<T, B> new_var = (T(1) - m) * rv + m * unbias * variance;
      B::copy_within(init::value_of(running_mean).data(), new_mean.value().data(), std::size_t(C) * sizeof(T));
      B::copy_within(init::value_of(running_var).data(), new_var.value().data(), std::size_t(C) * sizeof(T));
    }
  };
};

template <int C, double Eps = 1e-5>
using batch_norm1d = batch_norm<C, 2, Eps>;
template <int C, double Eps = 1e-5>
using batch_norm2d = batch_norm<C, 4, Eps>;

/// Parameterless layers: the spec is its own module for every T and B.
template <class Derived>
struct stateless {
  static constexpr int in_channels = 0;  // any
  template <real T, backend B>
  struct module {
    template <class V>
    void visit(V&) {}
    var<T, B> operator()(const var<T, B>& x) const { return Derived::apply(x); }
  };
};

/// Gated linear unit over channels: (N, 2C, ...) -> (N, C, ...), a·σ(b).
struct glu : stateless<glu> {
  static constexpr int out_channels_for(int c) { return c / 2; }
  template <real T, backend B>
  static var<T, B> apply(const var<T, B>& x) {
    const index_t c = x.shape()[1];
    if (c % 2 != 0)
      throw shape_error("glu", attngan::detail::cat("needs an even number of channels, got ", x.shape()));
    return narrow(x, 1, 0, c / 2) * sigmoid(narrow(x, 1, c / 2, c / 2));
  }
};

template <double Slope = 0.2>
struct leaky_relu : stateless<leaky_relu<Slope>> {
  static constexpr int out_channels_for(int c) { return c; }
  template <real T, backend B>
  static var<T, B> apply(const var<T, B>& x) {
    return attngan::leaky_relu(x, Slope);
  }
};

struct relu : stateless<relu> {
  static constexpr int out_channels_for(int c) { return c; }
  template <real T, backend B>
  static var<T, B> apply(const var<T, B>& x) {
    return attngan::relu(x);
  }
};

struct tanh : stateless<tanh> {
  static constexpr int out_channels_for(int c) { return c; }
  template <real T, backend B>
  static var<T, B> apply(const var<T, B>& x) {
    return attngan::tanh(x);
  }
};

struct sigmoid : stateless<sigmoid> {
  static constexpr int out_channels_for(int c) { return c; }
  template <real T, backend B>
  static var<T, B> apply(const var<T, B>& x) {
    return attngan::sigmoid(x);
  }
};

/// Nearest-neighbour upsampling by an integer factor.
template <int Scale = 2>
struct upsample_nearest : stateless<upsample_nearest<Scale>> {
  static constexpr int out_channels_for(int c) { return c; }
  template <real T, backend B>
  static var<T, B> apply(const var<T, B>& x) {
    return functional::upsample_nearest(x, Scale);
  }
};

/// sequential<..., upsample_nearest<2>, conv2d<In, Out, 3, 3, 1, 1, 1, Bias>, ...>
/// (AttnGAN's up-blocks) computes the pair at the input's resolution
/// (functional::upsample2x_conv3x3: the same function with 16/36 of the
/// multiply-adds, and no upsampled image). The conv keeps its name and weight.
template <int In, int Out, bias Bias>
struct fuse_pair<upsample_nearest<2>, conv2d<In, Out, 3, 3, 1, 1, 1, Bias>> {
  static constexpr bool value = true;
  template <class Up, class Conv, real T, backend B>
  static var<T, B> apply(const Up&, const Conv& conv, const var<T, B>& x) {
    return functional::upsample2x_conv3x3(x, conv.weight, conv.bias_);
  }
};

/// Token embedding: ids (N, T) -> (N, T, D); weight (V, D), PyTorch's default N(0, 1).
template <int Vocabulary, int Dim>
struct embedding {
  static_assert(Vocabulary > 0 && Dim > 0, "attngan::nn::embedding: sizes must be positive");
  static constexpr int in_channels = 0;
  static constexpr int out_channels_for(int) { return Dim; }
  template <real T, backend B>
  struct module {
    var<T, B> weight;
    template <class V>
    void visit(V& v) {
      v.parameter("weight", weight, shape(Vocabulary, Dim));
    }
    void reset_parameters(generator& rng) { init::normal(weight, 0.0, 1.0, rng); }
    var<T, B> operator()(const tensor<std::int64_t, B>& ids) const { return functional::embedding(weight, ids); }
  };
};

/// Max pooling with a square window (floor mode).
template <int Kernel, int Stride = Kernel, int Pad = 0>
struct max_pool2d : stateless<max_pool2d<Kernel, Stride, Pad>> {
  static constexpr int out_channels_for(int c) { return c; }
  template <real T, backend B>
  static var<T, B> apply(const var<T, B>& x) {
    return functional::max_pool2d(x, functional::pool_options{Kernel, Stride, Pad, true});
  }
};

/// Average pooling with a square window (floor mode).
template <int Kernel, int Stride = Kernel, int Pad = 0, bool CountIncludePad = true>
struct avg_pool2d : stateless<avg_pool2d<Kernel, Stride, Pad, CountIncludePad>> {
  static constexpr int out_channels_for(int c) { return c; }
  template <real T, backend B>
  static var<T, B> apply(const var<T, B>& x) {
    return functional::avg_pool2d(x, functional::pool_options{Kernel, Stride, Pad, CountIncludePad});
  }
};

}  // namespace attngan::nn
