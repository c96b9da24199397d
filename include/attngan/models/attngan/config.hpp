// attngan/models/attngan/config.hpp — AttnGAN's hyperparameters as compile-time presets.
//
// A preset is a struct of constants mirroring the knobs of the oracle's
// AttnGANConfig (reference/attngan_ref.py) and of the original code's
// config.py + YAML files (spec §1). Structural numbers (channel counts,
// stage count, image sizes) are template arguments of the model types, so a
// preset is what generator_for<Preset> / discriminator_for<Preset, Stage>
// turn into types; loss weights and optimiser settings are plain constants.
//
//   bird_preset   the published bird model (bird_attn2.yml): GF_DIM 32,
//                 DF_DIM 64, Z_DIM 100, nef 256, ncf 100, R_NUM 2, three
//                 stages 64² → 128² → 256².
//   small_preset  the CPU-training model of issue 6: a 32² first stage
//                 (three up-blocks instead of four, from a 4×4 code of
//                 8·GF_DIM channels) and one attentional stage to 64²,
//                 GF_DIM = DF_DIM = 16, D32 and D64; text side unchanged (nef
//                 256, the bird text encoder's width), Z_DIM and ncf 100.
#pragma once

namespace attngan::models {

/// How the word attention applies the padding mask (attention.hpp, spec §7.3):
/// `official` reproduces the original's misaligned mask (the released weights
/// were trained with it), `correct` gives every pixel its own sample's mask.
enum class mask_mode { official, correct };

struct bird_preset {
  // text side (the DAMSM encoders; spec §3)
  static constexpr int n_words = 5450;   // len(ixtoword) of the bird captions.pickle
  static constexpr int word_dim = 300;   // embedding width
  static constexpr int nef = 256;        // TEXT.EMBEDDING_DIM (BiLSTM 2 × 128)
  static constexpr int words_num = 18;   // TEXT.WORDS_NUM during training
  static constexpr double text_dropout = 0.5;
  // generator / discriminators (spec §7, §8)
  static constexpr int z_dim = 100;      // GAN.Z_DIM
  static constexpr int cond_dim = 100;   // GAN.CONDITION_DIM (ncf)
  static constexpr int gf_dim = 32;      // GAN.GF_DIM (ngf)
  static constexpr int df_dim = 64;      // GAN.DF_DIM (ndf)
  static constexpr int r_num = 2;        // GAN.R_NUM residual blocks per attentional stage
  static constexpr int branch_num = 3;   // TREE.BRANCH_NUM
  static constexpr int base_size = 64;   // TREE.BASE_SIZE: the first stage's image size
  // losses (bird_attn2.yml; spec §5, §9)
  static constexpr double gamma1 = 4.0, gamma2 = 5.0, gamma3 = 10.0;
  static constexpr double lambda = 5.0;     // TRAIN.SMOOTH.LAMBDA, DAMSM weight in L_G
  static constexpr double kl_weight = 1.0;  // the CA KL term's weight in L_G
  // optimisation (spec §10.3)
  static constexpr double lr_g = 2e-4, lr_d = 2e-4, beta1 = 0.5, beta2 = 0.999;
  static constexpr double ema_decay = 0.999;
  static constexpr int damsm_input_size = 299;  // fakes are resized to this for the image encoder
  // implementation switches of the oracle's AttnGANConfig
  static constexpr mask_mode attn_mask_mode = mask_mode::official;
  static constexpr bool freeze_d_in_g_step = false;  // the original computes (and discards) D grads in the G step
};

struct small_preset : bird_preset {
  static constexpr int gf_dim = 16;
  static constexpr int df_dim = 16;
  static constexpr int branch_num = 2;   // 32² → 64²
  static constexpr int base_size = 32;
  // No released weights use this configuration, so it trains with each
  // sample's own padding mask rather than the original's misaligned one
  // (spec §7.3). At a 32² attention grid and batch 32 the misaligned mask
  // hands every pixel column x the mask of batch sample x: a quarter of
  // the crown words, for instance, are hidden from the pixels that draw
  // the crown, and the pattern changes with the batch size at inference.
  static constexpr mask_mode attn_mask_mode = mask_mode::correct;
};

/// Number of up-blocks of the first stage: its 4×4 code is doubled until it
/// reaches base_size (64 → 4 up-blocks as in the paper, 32 → 3).
template <class Preset>
constexpr int init_upsamples() {
  int n = 0;
  for (int s = 4; s < Preset::base_size; s *= 2) ++n;
  return n;
}

/// Image side of stage `stage` (0-based): base_size · 2^stage.
template <class Preset>
constexpr int stage_image_size(int stage) {
  return Preset::base_size << stage;
}

}  // namespace attngan::models
