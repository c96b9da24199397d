// gradcheck in double of every layer, with respect to its input and its
// parameters (BatchNorm in training mode: gradients through the batch
// statistics).
#include "network_gradcheck.hpp"

#include <attngan/nn.hpp>

using namespace attngan;
using namespace attngan::test;

namespace {

/// Checks d out / d (input, every parameter) of a freshly initialised
/// network of Spec on an input of the given shape.
template <class Spec>
void gradcheck_layer(const char* what, const shape& input_shape, bool training = true) {
  CAPTURE(what);
  generator rng(3);
  nn::network<Spec, double, cpu> net(rng);
  net.train(training);
  // non-trivial biases and BN affine parameters
  for (const auto& p : net.parameters())
    if (p.shape().rank() == 1) nn::init::uniform(p, -0.5, 0.5, rng);
  auto x = randn<double>(input_shape, 4);
  auto r = gradcheck_network(net, {&x}, [](auto& n, const std::vector<vd>& in) { return n(in[0]); });
  // every parameter was checked, not only the input
  CHECK(r.checked == x.numel() + net.parameter_count());
  INFO(r.report);
  CHECK(r.ok);
}

}  // namespace

TEST_CASE("gradcheck: conv2d configurations") {
  using nn::bias;
  gradcheck_layer<nn::conv3x3<3, 4>>("3x3 s1 p1", shape(2, 3, 5, 4));
  gradcheck_layer<nn::conv2d<2, 3, 4, 4, 2, 1, 1>>("4x4 s2 p1", shape(2, 2, 6, 6));
  gradcheck_layer<nn::conv2d<2, 3, 4, 4, 4, 0, 0>>("4x4 s4 p0", shape(1, 2, 8, 4));
  gradcheck_layer<nn::conv1x1<4, 3>>("1x1", shape(2, 4, 3, 3));
  gradcheck_layer<nn::conv2d<2, 2, 3, 3, 2, 0, 0>>("3x3 s2 p0", shape(1, 2, 7, 7));
  gradcheck_layer<nn::conv2d<2, 2, 5, 5, 1, 2, 2, bias::yes>>("5x5 p2 bias", shape(1, 2, 5, 6));
  gradcheck_layer<nn::conv2d<2, 2, 1, 7, 1, 0, 3, bias::yes>>("1x7", shape(1, 2, 3, 8));
  gradcheck_layer<nn::conv2d<2, 2, 7, 1, 1, 3, 0>>("7x1", shape(1, 2, 8, 3));
}

TEST_CASE("gradcheck: linear, batch norm (train and eval), glu, upsample, activations") {
  gradcheck_layer<nn::linear<5, 3>>("linear", shape(4, 5));
  gradcheck_layer<nn::linear<5, 3, nn::bias::no>>("linear no bias", shape(4, 5));
  gradcheck_layer<nn::batch_norm2d<3>>("batch_norm2d train", shape(3, 3, 2, 3));
  gradcheck_layer<nn::batch_norm2d<3, 1e-3>>("batch_norm2d eval", shape(2, 3, 2, 2), false);
  gradcheck_layer<nn::batch_norm1d<4>>("batch_norm1d train", shape(5, 4));
  gradcheck_layer<nn::glu>("glu", shape(2, 4, 3, 3));
  gradcheck_layer<nn::glu>("glu rank 2", shape(3, 8));
  gradcheck_layer<nn::upsample_nearest<2>>("upsample x2", shape(2, 2, 3, 2));
  gradcheck_layer<nn::upsample_nearest<3>>("upsample x3", shape(1, 2, 2, 2));
  gradcheck_layer<nn::leaky_relu<0.2>>("leaky_relu", shape(2, 3, 4));
  gradcheck_layer<nn::tanh>("tanh", shape(2, 3, 4));
  gradcheck_layer<nn::sigmoid>("sigmoid", shape(2, 3, 4));
}

TEST_CASE("gradcheck: an up-block and a residual-style composition") {
  using up_block = nn::sequential<nn::upsample_nearest<2>, nn::conv3x3<4, 4>, nn::batch_norm2d<4>, nn::glu>;
  gradcheck_layer<up_block>("up_block(4 -> 2)", shape(2, 4, 2, 2));
  auto a = randn<double>(shape(2, 3, 2, 2), 7), b = randn<double>(shape(2, 2, 2, 2), 8);
  auto r = gradcheck<cpu>([](const std::vector<vd>& v) { return nn::functional::concat_channels(v[0], v[1]); },
                          {&a, &b});
  CHECK(r.ok);
}
