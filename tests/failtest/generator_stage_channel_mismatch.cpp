// The stages of a generator must agree on channels: an attentional stage
// whose input width differs from the previous stage's output is a compile
// error that names the stage and both channel counts.
//
// expect: a stage's input channels differ from the previous stage's output channels
// expect: stage_channel_mismatch<2, 4, 8>

#include <attngan/models/attngan.hpp>

using namespace attngan;

// init_stage<ncf 4, z 4, 4×4 code of 64 channels, 4 up-blocks> ends at 64 / 2^4 = 4 channels
using fine = models::generator<models::ca_net<8, 4>, models::init_stage<4, 4, 64>, models::next_stage<4, 8, 1>>;
static_assert(fine::stages == 2);
static_assert(fine::image_sizes[1] == 128);

#ifdef ATTNGAN_SHOULD_FAIL
using broken = models::generator<models::ca_net<8, 4>, models::init_stage<4, 4, 64>, models::next_stage<8, 8, 1>>;
static_assert(broken::stages == 2);
#endif
