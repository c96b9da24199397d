// attngan/models/attngan/image_encoder.hpp — the DAMSM image encoders
// (CNN_ENCODER of the original code; spec §4, paper §3.4 "image encoder").
//
// Both map an RGB image in [−1, 1] of any size to
//   region  (B, Nef, h, w): local features projected by emb_features (1×1 conv, no bias)
//   code    (B, Nef):       the global vector projected by emb_cnn_code (linear, bias)
// after a bilinear resize to InputSize × InputSize with align_corners = true
// (PyTorch 0.3's nn.Upsample, which the released encoder was trained with).
//
// inception_image_encoder<Nef, InputSize = 299>: torchvision's Inception-v3
//   trunk, parameters named as torchvision names them (Conv2d_1a_3x3.conv.weight,
//   Mixed_5b.branch1x1.bn.running_mean, ...), BasicConv2d = conv (no bias) →
//   BatchNorm(eps 1e-3) → ReLU. Mixed_6e gives the local features (768, 17, 17),
//   Mixed_7c → 8×8 average the global 2048-vector (spec §4, §13.4).
// small_image_encoder<Nef, InputSize, widths...>: the oracle's light stand-in
//   (`image_encoder='small'` in reference/attngan_ref.py) with the same
//   interface: four stride-2 3×3 conv-BN-ReLU units (3→32→64→128→768, local
//   features 17×17 at 299), then a stride-2 3×3 unit to 512 and a 1×1 unit to
//   2048, averaged over the pixels. BatchNorm eps 1e-5. The widths are template
//   parameters (defaults = the oracle's) so tests can run reduced versions
//   and the demo programs a narrower one (demo_image_encoder, at the end).
// Projection weights are initialised U(−0.1, 0.1) as the original does.
//
// inception_v3<Classes = 1000, InputSize = 299>: the same trunk with
// torchvision's classifier `fc`, giving the pool features (B, 2048) and the
// logits, for Inception Score and FID (models/attngan/evaluation.hpp).
#pragma once

#include <vector>

#include "attngan/autodiff/reduce.hpp"
#include "attngan/autodiff/var.hpp"
#include "attngan/nn/init.hpp"
#include "attngan/nn/layers.hpp"
#include "attngan/nn/module.hpp"
#include "attngan/nn/ops/pool.hpp"
#include "attngan/nn/ops/shape_ops.hpp"
#include "attngan/nn/sequential.hpp"

namespace attngan::models {

/// conv (no bias) → BatchNorm(Eps) → ReLU, children named "conv" and "bn"
/// (torchvision's BasicConv2d with Eps 1e-3; the oracle's _ConvBNReLU with 1e-5).
template <int In, int Out, int KH, int KW = KH, int Stride = 1, int PadH = 0, int PadW = PadH, double Eps = 1e-3>
struct conv_bn_relu {
  static constexpr int in_channels = In;
  static constexpr int out_channels_for(int) { return Out; }
  template <real T, backend B>
  struct module {
    nn::module_of<nn::conv2d<In, Out, KH, KW, Stride, PadH, PadW, nn::bias::no>, T, B> conv;
    nn::module_of<nn::batch_norm2d<Out, Eps>, T, B> bn;
    template <class V>
    void visit(V& v) {
      v.child("conv", conv);
      v.child("bn", bn);
    }
    var<T, B> operator()(const var<T, B>& x) const { return attngan::relu(bn(conv(x))); }
  };
};

/// torchvision's BasicConv2d.
template <int In, int Out, int KH, int KW = KH, int Stride = 1, int PadH = 0, int PadW = PadH>
using basic_conv2d = conv_bn_relu<In, Out, KH, KW, Stride, PadH, PadW, 1e-3>;

/// A layer whose weight is re-initialised U(−0.1, 0.1) after the layer's own
/// initialisation (CNN_ENCODER.init_trainable_weights; the bias keeps its default).
template <class Spec>
struct weight_uniform_init {
  static constexpr int in_channels = Spec::in_channels;
  static constexpr int out_channels_for(int c) { return Spec::out_channels_for(c); }
  template <real T, backend B>
  struct module : nn::module_of<Spec, T, B> {
    void reset_parameters(attngan::generator& rng) {
      nn::module_of<Spec, T, B>::reset_parameters(rng);
      nn::init::uniform(this->weight, -0.1, 0.1, rng);
    }
  };
};

template <real T, backend B>
struct image_features {
  var<T, B> region;  ///< (B, Nef, h, w) projected local features
  var<T, B> code;    ///< (B, Nef) projected global feature
};

namespace detail {
template <real T, backend B>
var<T, B> resize_input(const var<T, B>& x, int size, const char* op) {
  if (x.shape().rank() != 4 || x.shape()[1] != 3)
    throw shape_error(op, attngan::detail::cat("expects RGB images (B, 3, H, W), got ", x.shape()));
  return nn::functional::resize_bilinear(x, size, size, true);  // (B, 3, H, W) -> (B, 3, S, S)
}
template <real T, backend B>
var<T, B> avg_pool3x3_same(const var<T, B>& x) {  // the "pool" branches: 3×3, stride 1, pad 1, padded zeros counted
  return nn::functional::avg_pool2d(x, nn::functional::pool_options{3, 1, 1, true});
}
template <real T, backend B>
var<T, B> max_pool3x3_s2(const var<T, B>& x) {
  return nn::functional::max_pool2d(x, nn::functional::pool_options{3, 2, 0, true});
}
}  // namespace detail

// ------------------------------------------------------------ Inception-v3 blocks
// Branch order of each concatenation = torchvision's = the weights' channel order.

/// InceptionA: [1x1 64, 5x5 64, 3x3dbl 96, pool→1x1 Pool] -> 224 + Pool channels.
template <int In, int Pool>
struct inception_a {
  static constexpr int in_channels = In;
  static constexpr int out_channels_for(int) { return 224 + Pool; }
  template <real T, backend B>
  struct module {
    nn::module_of<basic_conv2d<In, 64, 1>, T, B> branch1x1;
    nn::module_of<basic_conv2d<In, 48, 1>, T, B> branch5x5_1;
    nn::module_of<basic_conv2d<48, 64, 5, 5, 1, 2>, T, B> branch5x5_2;
    nn::module_of<basic_conv2d<In, 64, 1>, T, B> branch3x3dbl_1;
    nn::module_of<basic_conv2d<64, 96, 3, 3, 1, 1>, T, B> branch3x3dbl_2;
    nn::module_of<basic_conv2d<96, 96, 3, 3, 1, 1>, T, B> branch3x3dbl_3;
    nn::module_of<basic_conv2d<In, Pool, 1>, T, B> branch_pool;
    template <class V>
    void visit(V& v) {
      v.child("branch1x1", branch1x1);
      v.child("branch5x5_1", branch5x5_1);
      v.child("branch5x5_2", branch5x5_2);
      v.child("branch3x3dbl_1", branch3x3dbl_1);
      v.child("branch3x3dbl_2", branch3x3dbl_2);
      v.child("branch3x3dbl_3", branch3x3dbl_3);
      v.child("branch_pool", branch_pool);
    }
    var<T, B> operator()(const var<T, B>& x) const {
      return nn::functional::concat(
          std::vector<var<T, B>>{branch1x1(x), branch5x5_2(branch5x5_1(x)),
                                 branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x))),
                                 branch_pool(detail::avg_pool3x3_same(x))},
          1);  // (B, 64 + 64 + 96 + Pool, H, W)
    }
  };
};

/// InceptionB (grid reduction): [3x3 s2 384, 3x3dbl s2 96, max pool] -> 480 + In channels.
template <int In>
struct inception_b {
  static constexpr int in_channels = In;
  static constexpr int out_channels_for(int) { return 480 + In; }
  template <real T, backend B>
  struct module {
    nn::module_of<basic_conv2d<In, 384, 3, 3, 2>, T, B> branch3x3;
    nn::module_of<basic_conv2d<In, 64, 1>, T, B> branch3x3dbl_1;
    nn::module_of<basic_conv2d<64, 96, 3, 3, 1, 1>, T, B> branch3x3dbl_2;
    nn::module_of<basic_conv2d<96, 96, 3, 3, 2>, T, B> branch3x3dbl_3;
    template <class V>
    void visit(V& v) {
      v.child("branch3x3", branch3x3);
      v.child("branch3x3dbl_1", branch3x3dbl_1);
      v.child("branch3x3dbl_2", branch3x3dbl_2);
      v.child("branch3x3dbl_3", branch3x3dbl_3);
    }
    var<T, B> operator()(const var<T, B>& x) const {
      return nn::functional::concat(
          std::vector<var<T, B>>{branch3x3(x), branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x))),
                                 detail::max_pool3x3_s2(x)},
          1);  // (B, 384 + 96 + In, H', W')
    }
  };
};

/// InceptionC (factorised 7×7, C7 inner channels): [1x1 192, 7x7 192, 7x7dbl 192, pool→1x1 192] -> 768.
template <int In, int C7>
struct inception_c {
  static constexpr int in_channels = In;
  static constexpr int out_channels_for(int) { return 768; }
  template <real T, backend B>
  struct module {
    nn::module_of<basic_conv2d<In, 192, 1>, T, B> branch1x1;
    nn::module_of<basic_conv2d<In, C7, 1>, T, B> branch7x7_1;
    nn::module_of<basic_conv2d<C7, C7, 1, 7, 1, 0, 3>, T, B> branch7x7_2;
    nn::module_of<basic_conv2d<C7, 192, 7, 1, 1, 3, 0>, T, B> branch7x7_3;
    nn::module_of<basic_conv2d<In, C7, 1>, T, B> branch7x7dbl_1;
    nn::module_of<basic_conv2d<C7, C7, 7, 1, 1, 3, 0>, T, B> branch7x7dbl_2;
    nn::module_of<basic_conv2d<C7, C7, 1, 7, 1, 0, 3>, T, B> branch7x7dbl_3;
    nn::module_of<basic_conv2d<C7, C7, 7, 1, 1, 3, 0>, T, B> branch7x7dbl_4;
    nn::module_of<basic_conv2d<C7, 192, 1, 7, 1, 0, 3>, T, B> branch7x7dbl_5;
    nn::module_of<basic_conv2d<In, 192, 1>, T, B> branch_pool;
    template <class V>
    void visit(V& v) {
      v.child("branch1x1", branch1x1);
      v.child("branch7x7_1", branch7x7_1);
      v.child("branch7x7_2", branch7x7_2);
      v.child("branch7x7_3", branch7x7_3);
      v.child("branch7x7dbl_1", branch7x7dbl_1);
      v.child("branch7x7dbl_2", branch7x7dbl_2);
      v.child("branch7x7dbl_3", branch7x7dbl_3);
      v.child("branch7x7dbl_4", branch7x7dbl_4);
      v.child("branch7x7dbl_5", branch7x7dbl_5);
      v.child("branch_pool", branch_pool);
    }
    var<T, B> operator()(const var<T, B>& x) const {
      const var<T, B> b = branch7x7_3(branch7x7_2(branch7x7_1(x)));
      const var<T, B> c =
          branch7x7dbl_5(branch7x7dbl_4(branch7x7dbl_3(branch7x7dbl_2(branch7x7dbl_1(x)))));
      return nn::functional::concat(std::vector<var<T, B>>{branch1x1(x), b, c, branch_pool(detail::avg_pool3x3_same(x))},
                                    1);  // (B, 768, H, W)
    }
  };
};

/// InceptionD (grid reduction): [3x3 s2 320, 7x7x3 s2 192, max pool] -> 512 + In channels.
template <int In>
struct inception_d {
  static constexpr int in_channels = In;
  static constexpr int out_channels_for(int) { return 512 + In; }
  template <real T, backend B>
  struct module {
    nn::module_of<basic_conv2d<In, 192, 1>, T, B> branch3x3_1;
    nn::module_of<basic_conv2d<192, 320, 3, 3, 2>, T, B> branch3x3_2;
    nn::module_of<basic_conv2d<In, 192, 1>, T, B> branch7x7x3_1;
    nn::module_of<basic_conv2d<192, 192, 1, 7, 1, 0, 3>, T, B> branch7x7x3_2;
    nn::module_of<basic_conv2d<192, 192, 7, 1, 1, 3, 0>, T, B> branch7x7x3_3;
    nn::module_of<basic_conv2d<192, 192, 3, 3, 2>, T, B> branch7x7x3_4;
    template <class V>
    void visit(V& v) {
      v.child("branch3x3_1", branch3x3_1);
      v.child("branch3x3_2", branch3x3_2);
      v.child("branch7x7x3_1", branch7x7x3_1);
      v.child("branch7x7x3_2", branch7x7x3_2);
      v.child("branch7x7x3_3", branch7x7x3_3);
      v.child("branch7x7x3_4", branch7x7x3_4);
    }
    var<T, B> operator()(const var<T, B>& x) const {
      const var<T, B> b = branch7x7x3_4(branch7x7x3_3(branch7x7x3_2(branch7x7x3_1(x))));
      return nn::functional::concat(
          std::vector<var<T, B>>{branch3x3_2(branch3x3_1(x)), b, detail::max_pool3x3_s2(x)},
          1);  // (B, 320 + 192 + In, H', W')
    }
  };
};

/// InceptionE (expanded filter bank): [1x1 320, 3x3 (1x3 ++ 3x1) 768, 3x3dbl (1x3 ++ 3x1) 768, pool→1x1 192] -> 2048.
template <int In>
struct inception_e {
  static constexpr int in_channels = In;
  static constexpr int out_channels_for(int) { return 2048; }
  template <real T, backend B>
  struct module {
    nn::module_of<basic_conv2d<In, 320, 1>, T, B> branch1x1;
    nn::module_of<basic_conv2d<In, 384, 1>, T, B> branch3x3_1;
    nn::module_of<basic_conv2d<384, 384, 1, 3, 1, 0, 1>, T, B> branch3x3_2a;
    nn::module_of<basic_conv2d<384, 384, 3, 1, 1, 1, 0>, T, B> branch3x3_2b;
    nn::module_of<basic_conv2d<In, 448, 1>, T, B> branch3x3dbl_1;
    nn::module_of<basic_conv2d<448, 384, 3, 3, 1, 1>, T, B> branch3x3dbl_2;
    nn::module_of<basic_conv2d<384, 384, 1, 3, 1, 0, 1>, T, B> branch3x3dbl_3a;
    nn::module_of<basic_conv2d<384, 384, 3, 1, 1, 1, 0>, T, B> branch3x3dbl_3b;
    nn::module_of<basic_conv2d<In, 192, 1>, T, B> branch_pool;
    template <class V>
    void visit(V& v) {
      v.child("branch1x1", branch1x1);
      v.child("branch3x3_1", branch3x3_1);
      v.child("branch3x3_2a", branch3x3_2a);
      v.child("branch3x3_2b", branch3x3_2b);
      v.child("branch3x3dbl_1", branch3x3dbl_1);
      v.child("branch3x3dbl_2", branch3x3dbl_2);
      v.child("branch3x3dbl_3a", branch3x3dbl_3a);
      v.child("branch3x3dbl_3b", branch3x3dbl_3b);
      v.child("branch_pool", branch_pool);
    }
    var<T, B> operator()(const var<T, B>& x) const {
      const var<T, B> b = branch3x3_1(x);
      const var<T, B> c = branch3x3dbl_2(branch3x3dbl_1(x));
      return nn::functional::concat(
          std::vector<var<T, B>>{branch1x1(x), branch3x3_2a(b), branch3x3_2b(b), branch3x3dbl_3a(c),
                                 branch3x3dbl_3b(c), branch_pool(detail::avg_pool3x3_same(x))},
          1);  // (B, 320 + 384·2 + 384·2 + 192 = 2048, H, W)
    }
  };
};

/// The Mixed_7c grid edge for an InputSize² input (floor arithmetic of the
/// trunk's unpadded 3×3 convolutions and stride-2 reductions).
constexpr int inception_final_grid(int s) {
  s = (s - 3) / 2 + 1;  // Conv2d_1a_3x3, stride 2
  s = s - 2;            // Conv2d_2a_3x3 (Conv2d_2b pads)
  s = (s - 3) / 2 + 1;  // max pool
  s = s - 2;            // Conv2d_4a_3x3 (Conv2d_3b is 1×1)
  s = (s - 3) / 2 + 1;  // max pool -> Mixed_5b..5d
  s = (s - 3) / 2 + 1;  // Mixed_6a -> Mixed_6b..6e (local features)
  return (s - 3) / 2 + 1;  // Mixed_7a -> Mixed_7b, 7c
}

namespace detail {

/// torchvision's Inception-v3 trunk, Conv2d_1a_3x3 to Mixed_7c, under
/// torchvision's names; shared by the DAMSM encoder and inception_v3.
template <real T, backend B>
struct inception_v3_trunk {
  nn::module_of<basic_conv2d<3, 32, 3, 3, 2>, T, B> Conv2d_1a_3x3;
  nn::module_of<basic_conv2d<32, 32, 3>, T, B> Conv2d_2a_3x3;
  nn::module_of<basic_conv2d<32, 64, 3, 3, 1, 1>, T, B> Conv2d_2b_3x3;
  nn::module_of<basic_conv2d<64, 80, 1>, T, B> Conv2d_3b_1x1;
  nn::module_of<basic_conv2d<80, 192, 3>, T, B> Conv2d_4a_3x3;
  nn::module_of<inception_a<192, 32>, T, B> Mixed_5b;
  nn::module_of<inception_a<256, 64>, T, B> Mixed_5c;
  nn::module_of<inception_a<288, 64>, T, B> Mixed_5d;
  nn::module_of<inception_b<288>, T, B> Mixed_6a;
  nn::module_of<inception_c<768, 128>, T, B> Mixed_6b;
  nn::module_of<inception_c<768, 160>, T, B> Mixed_6c;
  nn::module_of<inception_c<768, 160>, T, B> Mixed_6d;
  nn::module_of<inception_c<768, 192>, T, B> Mixed_6e;
  nn::module_of<inception_d<768>, T, B> Mixed_7a;
  nn::module_of<inception_e<1280>, T, B> Mixed_7b;
  nn::module_of<inception_e<2048>, T, B> Mixed_7c;

  template <class V>
  void visit_trunk(V& v) {
    v.child("Conv2d_1a_3x3", Conv2d_1a_3x3);
    v.child("Conv2d_2a_3x3", Conv2d_2a_3x3);
    v.child("Conv2d_2b_3x3", Conv2d_2b_3x3);
    v.child("Conv2d_3b_1x1", Conv2d_3b_1x1);
    v.child("Conv2d_4a_3x3", Conv2d_4a_3x3);
    v.child("Mixed_5b", Mixed_5b);
    v.child("Mixed_5c", Mixed_5c);
    v.child("Mixed_5d", Mixed_5d);
    v.child("Mixed_6a", Mixed_6a);
    v.child("Mixed_6b", Mixed_6b);
    v.child("Mixed_6c", Mixed_6c);
    v.child("Mixed_6d", Mixed_6d);
    v.child("Mixed_6e", Mixed_6e);
    v.child("Mixed_7a", Mixed_7a);
    v.child("Mixed_7b", Mixed_7b);
    v.child("Mixed_7c", Mixed_7c);
  }

  struct outputs {
    var<T, B> mixed_6e;  ///< (B, 768, 17, 17) at 299²
    var<T, B> pooled;    ///< (B, 2048): Mixed_7c averaged over its 8×8 grid
  };
  /// x (B, 3, S, S), already at the input size.
  outputs trunk(var<T, B> x) const {
    x = Conv2d_2b_3x3(Conv2d_2a_3x3(Conv2d_1a_3x3(x)));  // (B, 64, 147, 147)
    x = max_pool3x3_s2(x);                               // (B, 64, 73, 73)
    x = Conv2d_4a_3x3(Conv2d_3b_1x1(x));                 // (B, 192, 71, 71)
    x = max_pool3x3_s2(x);                               // (B, 192, 35, 35)
    x = Mixed_5d(Mixed_5c(Mixed_5b(x)));                 // (B, 288, 35, 35)
    x = Mixed_6a(x);                                     // (B, 768, 17, 17)
    const var<T, B> local = Mixed_6e(Mixed_6d(Mixed_6c(Mixed_6b(x))));  // (B, 768, 17, 17)
    x = Mixed_7c(Mixed_7b(Mixed_7a(local)));             // (B, 2048, 8, 8)
    return {local, mean(x, {2, 3})};                     // 8×8 average pool -> (B, 2048)
  }
};

}  // namespace detail

template <int Nef = 256, int InputSize = 299>
struct inception_image_encoder {
  static_assert(Nef > 0, "attngan::models::inception_image_encoder: Nef must be positive");
  static_assert(inception_final_grid(InputSize) == 8,
                "attngan::models::inception_image_encoder: the 8×8 average pool after Mixed_7c needs an 8×8 grid, "
                "i.e. an input size of 299 to 330");
  static constexpr int nef = Nef;
  static constexpr int input_size = InputSize;

  template <real T, backend B>
  struct module : detail::inception_v3_trunk<T, B> {
    nn::module_of<weight_uniform_init<nn::conv1x1<768, Nef>>, T, B> emb_features;
    nn::module_of<weight_uniform_init<nn::linear<2048, Nef>>, T, B> emb_cnn_code;

    template <class V>
    void visit(V& v) {
      this->visit_trunk(v);
      v.child("emb_features", emb_features);
      v.child("emb_cnn_code", emb_cnn_code);
    }

    /// x (B, 3, H, W) in [−1, 1].
    image_features<T, B> operator()(const var<T, B>& image) const {
      const auto t = this->trunk(detail::resize_input(image, InputSize, "inception_image_encoder"));
      return {emb_features(t.mixed_6e), emb_cnn_code(t.pooled)};  // (B, Nef, 17, 17), (B, Nef)
    }
  };
};

/// What inception_v3 gives for a batch of images.
template <real T, backend B>
struct inception_outputs {
  var<T, B> pool;    ///< (B, 2048): the average-pooled Mixed_7c features (FID's "pool3")
  var<T, B> logits;  ///< (B, Classes): fc of the pool features
};

/// torchvision's Inception-v3 classifier (eval-mode inference: no dropout,
/// no auxiliary head), for Inception Score and FID: the trunk above plus
/// `fc` (2048 -> Classes, with bias), parameter names as in torchvision's
/// state_dict (its AuxLogits.* entries are not part of this network).
/// Images in [−1, 1] are resized bilinearly (align_corners = true) to
/// InputSize²; torchvision's `transform_input` maps ImageNet-normalised
/// input to this same range, so no further normalisation is applied.
template <int Classes = 1000, int InputSize = 299>
struct inception_v3 {
  static_assert(Classes > 1, "attngan::models::inception_v3: at least two classes");
  static_assert(inception_final_grid(InputSize) == 8,
                "attngan::models::inception_v3: the 8×8 average pool after Mixed_7c needs an input size of 299 to 330");
  static constexpr int classes = Classes;
  static constexpr int input_size = InputSize;

  template <real T, backend B>
  struct module : detail::inception_v3_trunk<T, B> {
    nn::module_of<nn::linear<2048, Classes>, T, B> fc;

    template <class V>
    void visit(V& v) {
      this->visit_trunk(v);
      v.child("fc", fc);
    }

    /// x (B, 3, H, W) in [−1, 1].
    inception_outputs<T, B> operator()(const var<T, B>& image) const {
      const auto t = this->trunk(detail::resize_input(image, InputSize, "inception_v3"));
      return {t.pooled, fc(t.pooled)};
    }
  };
};

// ------------------------------------------------------------ the oracle's small encoder

template <int Nef = 256, int InputSize = 299, int C1 = 32, int C2 = 64, int C3 = 128, int Local = 768,
          int G1 = 512, int Global = 2048>
struct small_image_encoder {
  static_assert(Nef > 0 && InputSize >= 63,
                "attngan::models::small_image_encoder: Nef must be positive and InputSize at least 63 (the 3×3 glob unit needs a 3×3 local grid)");
  static constexpr int nef = Nef;
  static constexpr int input_size = InputSize;
  static constexpr int global_channels = Global;  ///< width of the pooled trunk vector
  static constexpr int local_channels = Local;    ///< channels of the local grid (trunk(x).local)

  template <int In, int Out, int K, int Stride>
  using unit = conv_bn_relu<In, Out, K, K, Stride, 0, 0, 1e-5>;

  template <real T, backend B>
  struct module {
    nn::module_of<nn::sequential<unit<3, C1, 3, 2>, unit<C1, C2, 3, 2>, unit<C2, C3, 3, 2>, unit<C3, Local, 3, 2>>,
                  T, B>
        local;
    nn::module_of<nn::sequential<unit<Local, G1, 3, 2>, unit<G1, Global, 1, 1>>, T, B> glob;
    nn::module_of<weight_uniform_init<nn::conv1x1<Local, Nef>>, T, B> emb_features;
    nn::module_of<weight_uniform_init<nn::linear<Global, Nef>>, T, B> emb_cnn_code;

    template <class V>
    void visit(V& v) {
      v.child("local", local);
      v.child("glob", glob);
      v.child("emb_features", emb_features);
      v.child("emb_cnn_code", emb_cnn_code);
    }

    struct trunk_outputs {
      var<T, B> local;   ///< (B, Local, 17, 17)
      var<T, B> pooled;  ///< (B, Global): glob's (B, Global, 8, 8) averaged
    };
    /// The trunk without the projections. x (B, 3, H, W) in [−1, 1].
    trunk_outputs trunk(const var<T, B>& image) const {
      const var<T, B> x = detail::resize_input(image, InputSize, "small_image_encoder");  // (B, 3, 299, 299)
      const var<T, B> feat = local(x);
      return {feat, mean(glob(feat), {2, 3})};
    }

    /// The pooled trunk vector alone, before emb_cnn_code: what a supervised
    /// head start trains on (trunk_attribute_pretrainer).
    var<T, B> pooled(const var<T, B>& image) const { return trunk(image).pooled; }

    /// x (B, 3, H, W) in [−1, 1].
    image_features<T, B> operator()(const var<T, B>& image) const {
      const trunk_outputs t = trunk(image);
      return {emb_features(t.local), emb_cnn_code(t.pooled)};  // (B, Nef, 17, 17), (B, Nef)
    }
  };
};

/// The demo programs' image encoder (examples/attngan_app.hpp; bench_model's
/// demo benchmarks): the small encoder fed 128² (the 64² images upsampled, as
/// the original upsamples 256² to 299²; a 7 × 7 local grid) and narrower than
/// the oracle's: 256 local channels instead of 768, 256 then 512 globally
/// instead of 512 then 2048. Half the FLOPs per image (bench/RESULTS.md, "A
/// narrower image encoder for the demo").
template <int Nef>
using demo_image_encoder = small_image_encoder<Nef, 128, 32, 64, 128, 256, 256, 512>;

}  // namespace attngan::models
