// Every attentional stage reads word features of the text encoder's width,
// the same width the CA net reads sentences at; a stage declared with another
// nef is a compile error naming the stage and both widths.
//
// expect: a stage's word-feature width (nef) differs from the CA net's sentence width
// expect: stage_text_width_mismatch<3, 8, 16>

#include <attngan/models/attngan.hpp>

using namespace attngan;

using fine = models::generator<models::ca_net<8, 4>, models::init_stage<4, 4, 64>, models::next_stage<4, 8, 1>,
                               models::next_stage<4, 8, 1>>;
static_assert(fine::image_sizes[2] == 256);

#ifdef ATTNGAN_SHOULD_FAIL
using broken = models::generator<models::ca_net<8, 4>, models::init_stage<4, 4, 64>, models::next_stage<4, 8, 1>,
                                 models::next_stage<4, 16, 1>>;
static_assert(broken::stages == 3);
#endif
