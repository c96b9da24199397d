// LSTM / bidirectional LSTM with per-sample lengths: golden parity with
// PyTorch's packed sequences, gradcheck with unequal lengths, bad input.
#include "golden.hpp"
#include "network_gradcheck.hpp"

#include <attngan/nn.hpp>

namespace test_lstm {

using namespace attngan;
using namespace attngan::test;

namespace {
template <bool Bidirectional>
void check_lstm_golden(const std::string& fixture) {
  CAPTURE(fixture);
  const golden_file f(golden_path("nn", fixture));
  generator rng(0);
  nn::network<nn::lstm<5, 4, Bidirectional>, float, cpu> net(rng);
  load_golden_state(net, f);
  std::vector<index_t> lengths;
  for (float v : f.at("lengths").values) lengths.push_back(index_t(v));
  vf x = vf::leaf(f.tensor_of("input0"), true);
  auto r = net(x, lengths);
  check_close(f, "output", r.output.value(), "output");
  check_close(f, "h_n", r.h_n.value(), "output");
  check_close(f, "c_n", r.c_n.value(), "output");
  vf loss = sum(r.output * vf::leaf(f.tensor_of("proj"))) + sum(r.h_n * vf::leaf(f.tensor_of("proj_h"))) +
            sum(r.c_n * vf::leaf(f.tensor_of("proj_c")));
  backward(loss);
  check_close(f, "grad.input0", x.grad(), "grad");
  for (const auto& e : net.entries())
    check_close(f, "grad." + e.name, net.gradient_arena().subview(e.offset, e.extents).clone(), "grad");
}
}  // namespace

TEST_CASE("golden: LSTM over a padded batch equals PyTorch with packed sequences") {
  check_lstm_golden<false>("lstm");
  check_lstm_golden<true>("bilstm");
}

TEST_CASE("gradcheck: bidirectional LSTM with unequal lengths, input and every parameter") {
  generator rng(5);
  nn::network<nn::lstm<3, 2, true>, double, cpu> net(rng);
  auto x = randn<double>(shape(3, 4, 3), 6);
  auto r = gradcheck_network(net, {&x}, [](auto& n, const std::vector<vd>& in) {
    auto out = n(in[0], std::vector<index_t>{4, 2, 3});
    return vd(sum(out.output * out.output) + sum(out.h_n) * 0.5 + sum(out.c_n * out.c_n));
  });
  CHECK(r.checked == x.numel() + net.parameter_count());
  INFO(r.report);
  CHECK(r.ok);
}

TEST_CASE("LSTM outputs past a sample's length are exactly zero, and bad lengths are errors") {
  generator rng(7);
  nn::network<nn::lstm<3, 4, true>, float, cpu> net(rng);
  vf x = vf::leaf(randn<float>(shape(2, 5, 3), 8));
  auto r = net(x, std::vector<index_t>{5, 2});
  CHECK(r.output.shape() == shape(2, 5, 8));
  auto o = r.output.value().to_vector();
  for (index_t t = 2; t < 5; ++t)
    for (index_t j = 0; j < 8; ++j) CHECK(o[std::size_t((5 + t) * 8 + j)] == 0.f);
  CHECK_THROWS_WITH_AS(net(x, std::vector<index_t>{5, 0}), "lstm: length 0 of sample 1 is outside [1, 5]", value_error);
  CHECK_THROWS_WITH_AS(net(x, std::vector<index_t>{5}), "lstm: 1 lengths for a batch of 2", value_error);
  vf wrong = vf::leaf(randn<float>(shape(2, 5, 4), 9));
  CHECK_THROWS_WITH_AS(net(wrong, std::vector<index_t>{5, 2}), "lstm: expects input (B, T, 3), got (2, 5, 4)", shape_error);
}

TEST_CASE("gradcheck: concat, stack, transpose and select") {
  namespace F = nn::functional;
  auto a = randn<double>(shape(2, 3, 4), 1), b = randn<double>(shape(2, 1, 4), 2);
  CHECK(gradcheck<cpu>([](const std::vector<vd>& v) { return F::concat(std::vector<vd>{v[0], v[1]}, 1); }, {&a, &b}).ok);
  CHECK(gradcheck<cpu>([](const std::vector<vd>& v) { return F::stack(std::vector<vd>{v[0], v[0]}, 2); }, {&a}).ok);
  CHECK(gradcheck<cpu>([](const std::vector<vd>& v) { return F::transpose(v[0], 1, 2); }, {&a}).ok);
  CHECK(gradcheck<cpu>([](const std::vector<vd>& v) { return vd(select(v[0], 1, 2) * 2.0); }, {&a}).ok);
  vd t = F::transpose(vd::leaf(a.clone()), 0, 2);
  CHECK(t.shape() == shape(4, 3, 2));
  CHECK(t.item(1) == a.item(12));  // t[0, 0, 1] = a[1, 0, 0]
}

}  // namespace test_lstm
