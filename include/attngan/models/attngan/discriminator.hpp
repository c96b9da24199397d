// attngan/models/attngan/discriminator.hpp — the stage discriminators
// D_NET64, D_NET128, D_NET256 (spec §8) and D_NET32 for a 32² first stage.
//
// Each reduces its image to a (B, 8·ndf, 4, 4) code with a trunk of strided
// 4×4 convolutions (LeakyReLU 0.2, BatchNorm after all but the first), then
// judges the code with two heads (D_GET_LOGITS):
//   unconditional  outlogits: conv 4×4 stride 4 (8·ndf -> 1, with bias) -> sigmoid -> (B,)
//   conditional    ē (B, nef) tiled to 4×4 and concatenated after the code
//                  (8·ndf + nef channels) -> jointConv (conv3x3, BN, LReLU) to
//                  8·ndf -> the same outlogits -> (B,); computed by
//                  conv2d_tiled, which never builds the tiled channels
// Trunks, by image size (names are the original's state_dict keys):
//   64   img_code_s16 (3 -> ndf -> 2ndf -> 4ndf -> 8ndf, 64 -> 4)
//   128  img_code_s16 (-> 8×8), img_code_s32 downBlock(8ndf -> 16ndf) 4×4,
//        img_code_s32_1 Block3x3(16ndf -> 8ndf)
//   256  img_code_s16 (-> 16×16), img_code_s32 downBlock(8ndf -> 16ndf) 8×8,
//        img_code_s64 downBlock(16ndf -> 32ndf) 4×4, img_code_s64_1
//        Block3x3(32ndf -> 16ndf), img_code_s64_2 Block3x3(16ndf -> 8ndf)
//   32   (not in the original, which only has 64/128/256; nor in the oracle)
//        img_code_s8: the first three convolutions of img_code_s16
//        (3 -> ndf -> 2ndf -> 4ndf, 32 -> 4, same indices 0..7), then
//        img_code_s8_1 Block3x3(4ndf -> 8ndf) so that the heads see the
//        same 8·ndf × 4 × 4 code as in every other D. This mirrors D_NET128,
//        whose trunk also ends in a Block3x3 that fixes the channel count.
#pragma once

#include "attngan/autodiff/linalg.hpp"
#include "attngan/autodiff/var.hpp"
#include "attngan/models/attngan/config.hpp"
#include "attngan/nn/layers.hpp"
#include "attngan/nn/module.hpp"
#include "attngan/nn/ops/shape_ops.hpp"
#include "attngan/nn/sequential.hpp"

namespace attngan::models {

/// conv 4×4 stride 2 padding 1, no bias: halves the image side.
template <int In, int Out>
using conv4x4_down = nn::conv2d<In, Out, 4, 4, 2, 1, 1, nn::bias::no>;
using leaky = nn::leaky_relu<0.2>;

/// downBlock(in, out): conv 4×4/2 -> BN -> LReLU(0.2).
template <int In, int Out>
using down_block = nn::sequential<conv4x4_down<In, Out>, nn::batch_norm2d<Out>, leaky>;

/// Block3x3_leakRelu(in, out): conv3x3 -> BN -> LReLU(0.2).
template <int In, int Out>
using block3x3_leaky = nn::sequential<nn::conv3x3<In, Out>, nn::batch_norm2d<Out>, leaky>;

/// encode_image_by_16times(ndf): 3 -> 8·ndf channels, side / 16.
template <int Ndf>
using encode_image_by_16times =
    nn::sequential<conv4x4_down<3, Ndf>, leaky, conv4x4_down<Ndf, 2 * Ndf>, nn::batch_norm2d<2 * Ndf>, leaky,
                   conv4x4_down<2 * Ndf, 4 * Ndf>, nn::batch_norm2d<4 * Ndf>, leaky,
                   conv4x4_down<4 * Ndf, 8 * Ndf>, nn::batch_norm2d<8 * Ndf>, leaky>;

/// The first three stride-2 convolutions of encode_image_by_16times: 3 -> 4·ndf, side / 8.
template <int Ndf>
using encode_image_by_8times =
    nn::sequential<conv4x4_down<3, Ndf>, leaky, conv4x4_down<Ndf, 2 * Ndf>, nn::batch_norm2d<2 * Ndf>, leaky,
                   conv4x4_down<2 * Ndf, 4 * Ndf>, nn::batch_norm2d<4 * Ndf>, leaky>;

/// The trunk of the discriminator for ImageSize: image (B, 3, S, S) -> code (B, 8·ndf, 4, 4).
/// Its children are visited at the discriminator's top level.
template <int Ndf, int ImageSize>
struct d_trunk {
  static_assert(ImageSize == 32 || ImageSize == 64 || ImageSize == 128 || ImageSize == 256,
                "attngan::models::discriminator: the image size must be 32, 64, 128 or 256");
};

template <int Ndf>
struct d_trunk<Ndf, 32> {
  template <real T, backend B>
  struct module {
    nn::module_of<encode_image_by_8times<Ndf>, T, B> img_code_s8;
    nn::module_of<block3x3_leaky<4 * Ndf, 8 * Ndf>, T, B> img_code_s8_1;
    template <class V>
    void visit(V& v) {
      v.child("img_code_s8", img_code_s8);
      v.child("img_code_s8_1", img_code_s8_1);
    }
    var<T, B> operator()(const var<T, B>& x) const { return img_code_s8_1(img_code_s8(x)); }  // (B, 3, 32, 32) -> (B, 4ndf, 4, 4) -> (B, 8ndf, 4, 4)
  };
};

template <int Ndf>
struct d_trunk<Ndf, 64> {
  template <real T, backend B>
  struct module {
    nn::module_of<encode_image_by_16times<Ndf>, T, B> img_code_s16;
    template <class V>
    void visit(V& v) {
      v.child("img_code_s16", img_code_s16);
    }
    var<T, B> operator()(const var<T, B>& x) const { return img_code_s16(x); }  // (B, 3, 64, 64) -> (B, 8ndf, 4, 4)
  };
};

template <int Ndf>
struct d_trunk<Ndf, 128> {
  template <real T, backend B>
  struct module {
    nn::module_of<encode_image_by_16times<Ndf>, T, B> img_code_s16;
    nn::module_of<down_block<8 * Ndf, 16 * Ndf>, T, B> img_code_s32;
    nn::module_of<block3x3_leaky<16 * Ndf, 8 * Ndf>, T, B> img_code_s32_1;
    template <class V>
    void visit(V& v) {
      v.child("img_code_s16", img_code_s16);
      v.child("img_code_s32", img_code_s32);
      v.child("img_code_s32_1", img_code_s32_1);
    }
    var<T, B> operator()(const var<T, B>& x) const {
      const var<T, B> s16 = img_code_s16(x);    // (B, 8ndf, 8, 8)
      return img_code_s32_1(img_code_s32(s16));  // (B, 16ndf, 4, 4) -> (B, 8ndf, 4, 4)
    }
  };
};

template <int Ndf>
struct d_trunk<Ndf, 256> {
  template <real T, backend B>
  struct module {
    nn::module_of<encode_image_by_16times<Ndf>, T, B> img_code_s16;
    nn::module_of<down_block<8 * Ndf, 16 * Ndf>, T, B> img_code_s32;
    nn::module_of<down_block<16 * Ndf, 32 * Ndf>, T, B> img_code_s64;
    nn::module_of<block3x3_leaky<32 * Ndf, 16 * Ndf>, T, B> img_code_s64_1;
    nn::module_of<block3x3_leaky<16 * Ndf, 8 * Ndf>, T, B> img_code_s64_2;
    template <class V>
    void visit(V& v) {
      v.child("img_code_s16", img_code_s16);
      v.child("img_code_s32", img_code_s32);
      v.child("img_code_s64", img_code_s64);
      v.child("img_code_s64_1", img_code_s64_1);
      v.child("img_code_s64_2", img_code_s64_2);
    }
    var<T, B> operator()(const var<T, B>& x) const {
      const var<T, B> s16 = img_code_s16(x);                           // (B, 8ndf, 16, 16)
      const var<T, B> s64 = img_code_s64(img_code_s32(s16));           // (B, 16ndf, 8, 8) -> (B, 32ndf, 4, 4)
      return img_code_s64_2(img_code_s64_1(s64));                      // (B, 16ndf, 4, 4) -> (B, 8ndf, 4, 4)
    }
  };
};

/// D_GET_LOGITS(ndf, nef, conditional). Children: "jointConv" (conditional
/// only; 0 conv, 1 BN, 2 LReLU) and "outlogits" (0 conv 4×4/4 with bias, 1 sigmoid).
template <int Ndf, int Nef, bool Conditional>
struct d_logits {
  template <real T, backend B>
  struct module {
    struct none {
      template <class V>
      void visit(V&) {}
    };
    std::conditional_t<Conditional, nn::module_of<block3x3_leaky<8 * Ndf + Nef, 8 * Ndf>, T, B>, none> jointConv;
    nn::module_of<nn::sequential<nn::conv2d<8 * Ndf, 1, 4, 4, 4, 0, 0, nn::bias::yes>, nn::sigmoid>, T, B> outlogits;

    template <class V>
    void visit(V& v) {
      if constexpr (Conditional) v.child("jointConv", jointConv);
      v.child("outlogits", outlogits);
    }

    /// Unconditional: code (B, 8ndf, 4, 4) -> probabilities (B,).
    var<T, B> operator()(const var<T, B>& code) const
      requires(!Conditional)
    {
      return reshape(outlogits(code), shape(code.shape()[0]));  // (B, 1, 1, 1) -> (B,)
    }

    /// Conditional: code (B, 8ndf, 4, 4), sentence (B, nef) -> probabilities (B,).
    var<T, B> operator()(const var<T, B>& code, const var<T, B>& sent) const
      requires(Conditional)
    {
      const shape& s = code.shape();
      if (sent.shape().rank() != 2 || sent.shape()[0] != s[0] || sent.shape()[1] != Nef)
        throw shape_error("d_logits", attngan::detail::cat("sentence features must be (", s[0], ", ", Nef,
                                                           ") for the code ", s, ", got ", sent.shape()));
      // jointConv of concat(code, sentence tiled to 4×4), without tiling it
      // (conv2d_tiled: the sentence's share is two small GEMMs).
      const auto& [conv, bn, act] = jointConv.layers;
      const var<T, B> joint = act(bn(nn::functional::conv2d_tiled(code, sent, conv.weight, conv.options())));  // (B, 8ndf, 4, 4)
      return reshape(outlogits(joint), shape(s[0]));                                    // (B,)
    }
  };
};

/// D_NET<ImageSize>(ndf, nef): trunk children, then "UNCOND_DNET" and "COND_DNET".
/// Calling the module gives the code; the heads are members, called on it.
template <int Ndf, int Nef, int ImageSize>
struct discriminator {
  static constexpr int ndf = Ndf;
  static constexpr int nef = Nef;
  static constexpr int image_size = ImageSize;

  template <real T, backend B>
  struct module {
    nn::module_of<d_trunk<Ndf, ImageSize>, T, B> trunk;
    nn::module_of<d_logits<Ndf, Nef, false>, T, B> UNCOND_DNET;
    nn::module_of<d_logits<Ndf, Nef, true>, T, B> COND_DNET;

    template <class V>
    void visit(V& v) {
      trunk.visit(v);  // the trunk's children are top-level names
      v.child("UNCOND_DNET", UNCOND_DNET);
      v.child("COND_DNET", COND_DNET);
    }

    /// image (B, 3, S, S) -> code (B, 8ndf, 4, 4).
    var<T, B> operator()(const var<T, B>& image) const {
      const shape& s = image.shape();
      if (s.rank() != 4 || s[1] != 3 || s[2] != ImageSize || s[3] != ImageSize)
        throw shape_error("discriminator", attngan::detail::cat("D_NET", ImageSize, " expects (B, 3, ", ImageSize,
                                                                ", ", ImageSize, "), got ", s));
      return trunk(image);
    }
  };
};

/// The discriminator of a preset's stage (0-based).
template <class Preset, int Stage>
using discriminator_for = discriminator<Preset::df_dim, Preset::nef, stage_image_size<Preset>(Stage)>;

using bird_d64 = discriminator<64, 256, 64>;
using bird_d128 = discriminator<64, 256, 128>;
using bird_d256 = discriminator<64, 256, 256>;
static_assert(std::is_same_v<bird_d256, discriminator_for<bird_preset, 2>>);

}  // namespace attngan::models
