// attngan/models/attngan/generator.hpp — the attentional generator G_NET
// (spec §7) as a typed list of stages.
//
//   generator<ca_net<nef, ncf>,            CA: ē -> c (spec §6)
//             init_stage<ncf, z, 16·ngf>,  (c, z) -> 4×4 -> 4 up-blocks -> h1 (ngf, 64²)
//             next_stage<ngf, nef, R>,     h1, words -> attention, R ResBlocks, up-block -> h2 (128²)
//             next_stage<ngf, nef, R>>     -> h3 (256²)
//
// Every stage is followed by its image head GET_IMAGE_G (conv3x3 -> tanh),
// so the number of stages and the image sizes follow from the list; the
// first stage's up-block count is a template argument (4 for 64², 3 for a
// 32² first stage). Parameter names are the original's: ca_net, then h_net1,
// img_net1, h_net2, img_net2, ... in that order (the released checkpoint's).
// Adjacent stages must agree on channels and on the text width; a mismatch is
// a compile error naming the stage and both numbers.
#pragma once

#include <array>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "attngan/autodiff/linalg.hpp"
#include "attngan/autodiff/var.hpp"
#include "attngan/models/attngan/attention.hpp"
#include "attngan/models/attngan/ca.hpp"
#include "attngan/models/attngan/config.hpp"
#include "attngan/nn/layers.hpp"
#include "attngan/nn/module.hpp"
#include "attngan/nn/ops/shape_ops.hpp"
#include "attngan/nn/sequential.hpp"

namespace attngan::models {

namespace detail {
template <std::size_t, class X>
using always = X;

template <class Indices, class X>
struct repeated_sequential;
template <std::size_t... I, class X>
struct repeated_sequential<std::index_sequence<I...>, X> {
  using type = nn::sequential<always<I, X>...>;
};

template <class X>
inline constexpr bool always_false = false;
}  // namespace detail

/// upBlock(in, out): nearest ×2 -> conv3x3(in -> 2·out) -> BN -> GLU.
/// Children 0 upsample, 1 conv, 2 BN, 3 GLU.
template <int In, int Out>
using up_block = nn::sequential<nn::upsample_nearest<2>, nn::conv3x3<In, 2 * Out>, nn::batch_norm2d<2 * Out>, nn::glu>;

/// ResBlock(C): x + BN(conv3x3(GLU(BN(conv3x3(x))))), child "block" with
/// indices 0 conv, 1 BN, 2 GLU, 3 conv, 4 BN.
template <int C>
struct res_block {
  static constexpr int in_channels = C;
  static constexpr int out_channels_for(int) { return C; }
  template <real T, backend B>
  struct module {
    nn::module_of<nn::sequential<nn::conv3x3<C, 2 * C>, nn::batch_norm2d<2 * C>, nn::glu, nn::conv3x3<C, C>,
                                 nn::batch_norm2d<C>>,
                  T, B>
        block;
    template <class V>
    void visit(V& v) {
      v.child("block", block);
    }
    var<T, B> operator()(const var<T, B>& x) const { return x + block(x); }  // (B, C, H, W)
  };
};

/// GET_IMAGE_G(ngf): child "img" = conv3x3(ngf -> 3), tanh.
template <int Ngf>
struct image_head {
  static constexpr int in_channels = Ngf;
  static constexpr int out_channels_for(int) { return 3; }
  template <real T, backend B>
  struct module {
    nn::module_of<nn::sequential<nn::conv3x3<Ngf, 3>, nn::tanh>, T, B> img;
    template <class V>
    void visit(V& v) {
      v.child("img", img);
    }
    var<T, B> operator()(const var<T, B>& h) const { return img(h); }  // (B, ngf, H, W) -> (B, 3, H, W)
  };
};

/// INIT_STAGE_G: (c, z) -> fc -> (B, Ngf, 4, 4) -> Ups up-blocks halving the
/// channels -> (B, Ngf / 2^Ups, 4·2^Ups, 4·2^Ups). Ngf is 16·GF_DIM in the
/// original (so that 4 up-blocks end at GF_DIM). Children: "fc" (0 Linear
/// without bias, 1 BatchNorm1d, 2 GLU), "upsample1" ... "upsample<Ups>".
template <int CondDim, int ZDim, int Ngf, int Ups = 4>
struct init_stage {
  static_assert(Ups >= 1 && Ngf % (1 << Ups) == 0,
                "attngan::models::init_stage: Ngf must be divisible by 2^Ups (each up-block halves the channels)");
  static constexpr int cond_dim = CondDim;
  static constexpr int z_dim = ZDim;
  static constexpr int out_channels = Ngf >> Ups;
  static constexpr int image_size = 4 << Ups;

  template <int K>  // up-block K (0-based): Ngf/2^K -> Ngf/2^(K+1)
  using up = up_block<(Ngf >> K), (Ngf >> (K + 1))>;

  template <class Seq>
  struct ups_of;
  template <std::size_t... K>
  struct ups_of<std::index_sequence<K...>> {
    template <real T, backend B>
    using type = std::tuple<nn::module_of<up<int(K)>, T, B>...>;
  };

  template <real T, backend B>
  struct module {
    nn::module_of<nn::sequential<nn::linear<CondDim + ZDim, Ngf * 4 * 4 * 2, nn::bias::no>,
                                 nn::batch_norm1d<Ngf * 4 * 4 * 2>, nn::glu>,
                  T, B>
        fc;
    typename ups_of<std::make_index_sequence<Ups>>::template type<T, B> upsample;

    template <class V>
    void visit(V& v) {
      v.child("fc", fc);
      visit_ups(v, std::make_index_sequence<Ups>{});
    }

    /// c (B, ncf) and z (B, z_dim) -> h (B, out_channels, image_size, image_size).
    var<T, B> operator()(const var<T, B>& c, const var<T, B>& z) const {
      if (c.shape().rank() != 2 || c.shape()[1] != CondDim || z.shape().rank() != 2 || z.shape()[1] != ZDim ||
          z.shape()[0] != c.shape()[0])
        throw shape_error("init_stage", attngan::detail::cat("expects c (B, ", CondDim, ") and z (B, ", ZDim,
                                                             "), got ", c.shape(), " and ", z.shape()));
      // (c, z), condition first: (B, ncf + z) -> linear, BN -> (B, Ngf·4·4·2) -> glu -> (B, Ngf·4·4)
      const var<T, B> code = fc(nn::functional::concat(std::vector<var<T, B>>{c, z}, 1));
      const var<T, B> x = reshape(code, shape(c.shape()[0], Ngf, 4, 4));  // (B, Ngf, 4, 4)
      return run_ups(x, std::make_index_sequence<Ups>{});                // (B, Ngf/2^Ups, 4·2^Ups, 4·2^Ups)
    }

   private:
    template <class V, std::size_t... K>
    void visit_ups(V& v, std::index_sequence<K...>) {
      (v.child("upsample" + std::to_string(K + 1), std::get<K>(upsample)), ...);
    }
    template <std::size_t... K>
    var<T, B> run_ups(var<T, B> x, std::index_sequence<K...>) const {
      ((x = std::get<K>(upsample)(x)), ...);  // each: (B, C, S, S) -> (B, C/2, 2S, 2S)
      return x;
    }
  };
};

template <real T, backend B>
struct next_stage_output {
  var<T, B> h;              ///< (B, ngf, 2H, 2W)
  attention_output<T, B> attention;
};

/// NEXT_STAGE_G(ngf, nef): attention over words, concat (h, context), RNum
/// ResBlock(2·ngf), upBlock(2·ngf -> ngf). Children "att", "residual"
/// (0 ... RNum−1), "upsample". The CA code is not used by later stages.
template <int Ngf, int Nef, int RNum>
struct next_stage {
  static_assert(Ngf > 0 && Nef > 0 && RNum >= 1,
                "attngan::models::next_stage: ngf and nef must be positive, and R_NUM at least 1");
  static constexpr int in_channels = Ngf;
  static constexpr int out_channels = Ngf;
  static constexpr int nef = Nef;

  using residual_spec = typename detail::repeated_sequential<std::make_index_sequence<RNum>, res_block<2 * Ngf>>::type;

  template <real T, backend B>
  struct module {
    nn::module_of<word_attention<Ngf, Nef>, T, B> att;
    nn::module_of<residual_spec, T, B> residual;
    nn::module_of<up_block<2 * Ngf, Ngf>, T, B> upsample;

    template <class V>
    void visit(V& v) {
      v.child("att", att);
      v.child("residual", residual);
      v.child("upsample", upsample);
    }

    next_stage_output<T, B> operator()(const var<T, B>& h, const var<T, B>& words, const tensor<T, B>* mask,
                                       mask_mode mode) const {
      next_stage_output<T, B> out;
      out.attention = att(h, words, mask, mode);                                               // (B, ngf, H, W)
      const var<T, B> joined = nn::functional::concat_channels(h, out.attention.context);      // (B, 2·ngf, H, W)
      out.h = upsample(residual(joined));                                                     // (B, ngf, 2H, 2W)
      return out;
    }
  };
};

namespace detail {

/// Instantiated only for a mismatch, so that the instantiation context names
/// the stage and both numbers.
template <int Stage, int PreviousOutChannels, int StageInChannels>
struct stage_channel_mismatch {
  static_assert(always_false<stage_channel_mismatch>,
                "attngan::models::generator: a stage's input channels differ from the previous stage's output "
                "channels; see stage_channel_mismatch<stage (1-based), previous stage's output channels, this "
                "stage's input channels> in the instantiation context");
  static constexpr bool value = false;
};

template <int Stage, int CaNef, int StageNef>
struct stage_text_width_mismatch {
  static_assert(always_false<stage_text_width_mismatch>,
                "attngan::models::generator: a stage's word-feature width (nef) differs from the CA net's "
                "sentence width; see stage_text_width_mismatch<stage (1-based), ca_net's nef, this stage's nef> "
                "in the instantiation context");
  static constexpr bool value = false;
};

template <int Stage, int Out, int In>
inline constexpr bool channels_fit =
    std::conditional_t<Out == In, std::true_type, stage_channel_mismatch<Stage, Out, In>>::value;
template <int Stage, int CaNef, int StageNef>
inline constexpr bool text_width_fits =
    std::conditional_t<CaNef == StageNef, std::true_type, stage_text_width_mismatch<Stage, CaNef, StageNef>>::value;

template <class Ca, class Init, class... Next>
struct check_stages {
  // stage k (0-based) outputs outs[k]; stage k + 1 expects ins[k + 1] and words of width nefs[k + 1]
  static constexpr std::array<int, sizeof...(Next) + 1> outs{Init::out_channels, Next::out_channels...};
  static constexpr std::array<int, sizeof...(Next) + 1> ins{Init::out_channels, Next::in_channels...};
  static constexpr std::array<int, sizeof...(Next) + 1> nefs{Ca::nef, Next::nef...};
  template <std::size_t... K>
  static constexpr bool all(std::index_sequence<K...>) {
    return ((channels_fit<int(K) + 2, outs[K], ins[K + 1]> && text_width_fits<int(K) + 2, Ca::nef, nefs[K + 1]>) &&
            ... && true);
  }
  static constexpr bool ok = all(std::make_index_sequence<sizeof...(Next)>{});
};

}  // namespace detail

template <real T, backend B>
struct generator_output {
  std::vector<var<T, B>> images;     ///< one (B, 3, S, S) image per stage, in [-1, 1]
  std::vector<var<T, B>> attention;  ///< one (B, T, S, S) map per attentional stage (at its input size)
  ca_output<T, B> ca;                ///< c, μ, logσ² of the conditioning augmentation
};

/// G_NET as a stage list: Ca, the first stage, then any number of attentional stages.
template <class Ca, class Init, class... Next>
struct generator {
  static_assert(Ca::cond_dim == Init::cond_dim,
                "attngan::models::generator: init_stage's condition width differs from ca_net's ncf");
  static_assert(detail::check_stages<Ca, Init, Next...>::ok);

  static constexpr int stages = 1 + int(sizeof...(Next));
  static constexpr int nef = Ca::nef;
  static constexpr int z_dim = Init::z_dim;
  static constexpr int cond_dim = Ca::cond_dim;
  /// Image side of every stage: the first stage's, doubled by each next stage.
  static constexpr std::array<int, stages> image_sizes = []<std::size_t... K>(std::index_sequence<K...>) {
    return std::array<int, stages>{(Init::image_size << K)...};
  }(std::make_index_sequence<stages>{});

  template <real T, backend B>
  struct module {
    nn::module_of<Ca, T, B> ca_net;
    nn::module_of<Init, T, B> h_net1;
    nn::module_of<image_head<Init::out_channels>, T, B> img_net1;
    std::tuple<nn::module_of<Next, T, B>...> h_next;
    std::tuple<nn::module_of<image_head<Next::out_channels>, T, B>...> img_next;

    template <class V>
    void visit(V& v) {
      v.child("ca_net", ca_net);
      v.child("h_net1", h_net1);
      v.child("img_net1", img_net1);
      visit_next(v, std::index_sequence_for<Next...>{});
    }

    /// z (B, z_dim), sent (B, nef), words (B, nef, T), mask (B, T) with
    /// 1 = padding (or nullptr), ca_eps (B, ncf) the CA noise.
    generator_output<T, B> operator()(const var<T, B>& z, const var<T, B>& sent, const var<T, B>& words,
                                      const tensor<T, B>* mask, const var<T, B>& ca_eps,
                                      mask_mode mode = mask_mode::official) const {
      generator_output<T, B> out;
      out.ca = ca_net(sent, ca_eps);                   // c (B, ncf)
      var<T, B> h = h_net1(out.ca.c, z);               // (B, ngf, S1, S1)
      out.images.push_back(img_net1(h));               // (B, 3, S1, S1)
      run_next(out, h, words, mask, mode, std::index_sequence_for<Next...>{});
      return out;
    }

   private:
    template <class V, std::size_t... K>
    void visit_next(V& v, std::index_sequence<K...>) {
      ((v.child("h_net" + std::to_string(K + 2), std::get<K>(h_next)),
        v.child("img_net" + std::to_string(K + 2), std::get<K>(img_next))),
       ...);
    }
    template <std::size_t... K>
    void run_next(generator_output<T, B>& out, var<T, B> h, const var<T, B>& words, const tensor<T, B>* mask,
                  mask_mode mode, std::index_sequence<K...>) const {
      auto step = [&](const auto& stage, const auto& head) {
        auto s = stage(h, words, mask, mode);  // (B, ngf, S, S) -> (B, ngf, 2S, 2S)
        h = s.h;
        out.attention.push_back(s.attention.map);
        out.images.push_back(head(h));         // (B, 3, 2S, 2S)
      };
      (step(std::get<K>(h_next), std::get<K>(img_next)), ...);
    }
  };
};

/// The generator of a preset: CA, a first stage ending at base_size with
/// gf_dim channels, and branch_num − 1 attentional stages. The first stage's
/// 4×4 code has gf_dim·2^ups channels: 16·gf_dim for 64² (the original's
/// 512 for the bird), 8·gf_dim for a 32² first stage, so that every stage
/// works at gf_dim channels as in the original.
template <class Preset, class Indices = std::make_index_sequence<Preset::branch_num - 1>>
struct generator_of;
template <class Preset, std::size_t... K>
struct generator_of<Preset, std::index_sequence<K...>> {
  using type = generator<ca_net<Preset::nef, Preset::cond_dim>,
                         init_stage<Preset::cond_dim, Preset::z_dim, (Preset::gf_dim << init_upsamples<Preset>()),
                                    init_upsamples<Preset>()>,
                         detail::always<K, next_stage<Preset::gf_dim, Preset::nef, Preset::r_num>>...>;
};
template <class Preset>
using generator_for = typename generator_of<Preset>::type;

/// The bird model of the paper (bird_AttnGAN2.pth): 64² -> 128² -> 256².
using bird_generator =
    generator<ca_net<256, 100>, init_stage<100, 100, 512>, next_stage<32, 256, 2>, next_stage<32, 256, 2>>;
static_assert(std::is_same_v<bird_generator, generator_for<bird_preset>>);

/// The CPU-training model: 32² (three up-blocks) -> 64², ngf 16.
using small_generator = generator_for<small_preset>;
static_assert(small_generator::image_sizes == std::array<int, 2>{32, 64});

}  // namespace attngan::models
