// Golden parity with PyTorch: each layer, with PyTorch's parameters copied in
// by name, must give PyTorch's output, buffers and gradients (fixtures from
// tests/nn/golden/make_fixtures.py; tolerances from tests/support/golden.hpp).
#include "golden.hpp"

#include <attngan/nn.hpp>

namespace test_golden {

using namespace attngan;
using namespace attngan::test;

namespace {

template <class Spec>
void check_layer(const std::string& fixture, bool training = true) {
  CAPTURE(fixture);
  const golden_file f(golden_path("nn", fixture));
  generator rng(0);
  nn::network<Spec, float, cpu> net(rng);
  net.train(training);

  // The network's names and order equal PyTorch's state_dict (parameters and buffers).
  load_golden_state(net, f);

  vf x = vf::leaf(f.tensor_of("input0"), true);
  vf out = net(x);
  check_close(f, "output", out.value(), "output");
  backward(sum(out * vf::leaf(f.tensor_of("proj"))));
  check_close(f, "grad.input0", x.grad(), "grad");
  for (const auto& e : net.entries()) {
    if (e.kind == nn::tensor_kind::parameter) {
      check_close(f, "grad." + e.name, tensor<float, cpu>::from_host(e.extents, net.gradient_arena().subview(e.offset, e.extents).to_vector()), "grad");
    } else {
      check_close(f, "after." + e.name, net.state(e.name), "buffer");
    }
  }
}

}  // namespace

TEST_CASE("golden: conv2d in every configuration AttnGAN uses") {
  using nn::bias;
  check_layer<nn::conv2d<4, 6, 3, 3, 1, 1, 1>>("conv3x3_s1_p1");
  check_layer<nn::conv2d<3, 5, 4, 4, 2, 1, 1>>("conv4x4_s2_p1");
  check_layer<nn::conv2d<3, 4, 4, 4, 4, 0, 0>>("conv4x4_s4_p0");
  check_layer<nn::conv2d<6, 3, 1, 1, 1, 0, 0>>("conv1x1");
  check_layer<nn::conv2d<3, 4, 3, 3, 2, 0, 0>>("conv3x3_s2_p0");
  check_layer<nn::conv2d<3, 4, 5, 5, 1, 2, 2, bias::yes>>("conv5x5_p2_bias");
  check_layer<nn::conv2d<3, 4, 1, 7, 1, 0, 3, bias::yes>>("conv1x7_p03_bias");
  check_layer<nn::conv2d<3, 4, 7, 1, 1, 3, 0, bias::yes>>("conv7x1_p30_bias");
  check_layer<nn::conv2d<2, 3, 1, 3, 1, 0, 1>>("conv1x3_p01");
  check_layer<nn::conv2d<2, 3, 3, 1, 1, 1, 0>>("conv3x1_p10");
}

TEST_CASE("golden: linear with and without bias") {
  check_layer<nn::linear<5, 3>>("linear_bias");
  check_layer<nn::linear<6, 4, nn::bias::no>>("linear_nobias");
}

TEST_CASE("golden: batch norm in training (batch statistics, running update) and evaluation") {
  check_layer<nn::batch_norm2d<3>>("batch_norm2d_train");
  check_layer<nn::batch_norm2d<3, 1e-3>>("batch_norm2d_eval_eps1e-3", false);
  check_layer<nn::batch_norm1d<6>>("batch_norm1d_train");
}

TEST_CASE("golden: glu, upsampling and activations") {
  check_layer<nn::glu>("glu");
  check_layer<nn::upsample_nearest<2>>("upsample_nearest2");
  check_layer<nn::leaky_relu<0.2>>("leaky_relu0.2");
  check_layer<nn::relu>("relu");
  check_layer<nn::tanh>("tanh");
  check_layer<nn::sigmoid>("sigmoid");
}

TEST_CASE("golden: AttnGAN's upBlock as a sequential, names included") {
  check_layer<nn::sequential<nn::upsample_nearest<2>, nn::conv3x3<8, 8>, nn::batch_norm2d<8>, nn::glu>>("up_block_8_4");
}

TEST_CASE("golden: channel concatenation") {
  const golden_file f(golden_path("nn", "concat_channels"));
  vf a = vf::leaf(f.tensor_of("input0"), true), b = vf::leaf(f.tensor_of("input1"), true);
  vf out = nn::functional::concat_channels(a, b);
  check_close(f, "output", out.value(), "output");
  backward(sum(out * vf::leaf(f.tensor_of("proj"))));
  check_close(f, "grad.input0", a.grad(), "grad");
  check_close(f, "grad.input1", b.grad(), "grad");
}

}  // namespace test_golden
