// Consecutive layers of a sequential must agree on channels; a mismatch names
// both layers and both channel counts in the compiler's instantiation context.
//
// expect: a layer's output channels differ from the next layer's input channels
// expect: channel_mismatch<attngan::nn::conv2d<3, 64, 3, 3, 1, 1, 1, attngan::nn::bias::no>, 64, attngan::nn::batch_norm<32, 4,
// expect: >, 32>'

#include <attngan/nn.hpp>

using namespace attngan;

using fine = nn::sequential<nn::conv3x3<3, 64>, nn::batch_norm2d<64>, nn::glu, nn::conv3x3<32, 8>>;
static_assert(fine::in_channels == 3);

#ifdef ATTNGAN_SHOULD_FAIL
using broken = nn::sequential<nn::conv3x3<3, 64>, nn::batch_norm2d<32>>;
static_assert(broken::in_channels == 3);
#endif
