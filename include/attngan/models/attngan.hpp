// attngan/models/attngan.hpp — the AttnGAN model (Xu et al., CVPR 2018):
// presets, the DAMSM text and image encoders and losses, conditioning
// augmentation, word attention, the stage-list generator, the stage
// discriminators, their losses and initialisation, and the GAN training
// iteration (trainer.hpp).
#pragma once

#include "attngan/nn.hpp"

#include "attngan/models/attngan/attention.hpp"
#include "attngan/models/attngan/ca.hpp"
#include "attngan/models/attngan/config.hpp"
#include "attngan/models/attngan/damsm.hpp"
#include "attngan/models/attngan/discriminator.hpp"
#include "attngan/models/attngan/gan_losses.hpp"
#include "attngan/models/attngan/generator.hpp"
#include "attngan/models/attngan/image_encoder.hpp"
#include "attngan/models/attngan/text_encoder.hpp"
#include "attngan/models/attngan/trainer.hpp"
#include "attngan/models/attngan/weights_init.hpp"
