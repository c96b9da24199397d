// gradcheck itself: it passes correct gradients and catches wrong ones.
#include "test_support.hpp"

namespace test_gradcheck {

using namespace attngan;
using namespace attngan::test;

namespace {
// y = x², but backward deliberately propagates dy·x instead of dy·2x.
struct wrong_square_node : detail::node<double, cpu> {
  void backward(const std::vector<char>& wants) override {
    if (!wants[0]) return;
    auto& in = *inputs[0];
    double* g = in.grad_buffer();
    const double* x = in.value.data();
    const double* dy = grad.data();
    for (index_t i = 0; i < in.value.numel(); ++i) g[i] += dy[i] * x[i];
  }
};

vd wrong_square(const vd& x) {
  tcpu<double> y = x.value().clone();
  for (index_t i = 0; i < y.numel(); ++i) y.data()[i] *= y.data()[i];
  return vd(detail::make_result<wrong_square_node>(std::move(y), {x.node()}, "wrong_square"));
}
}  // namespace

TEST_CASE("gradcheck rejects a wrong derivative and reports where") {
  auto a = randn_away_from_zero<double>(shape(3, 4), 1, 0.2);
  auto bad = gradcheck<cpu>([](const std::vector<vd>& x) { return wrong_square(x[0]); }, {&a});
  CHECK_FALSE(bad.ok);
  CHECK(bad.max_abs_error > 0.1);
  CHECK(bad.report.find("input 0 (3, 4) element 0") != std::string::npos);

  auto good = gradcheck<cpu>([](const std::vector<vd>& x) { return vd(square(x[0])); }, {&a});
  CHECK(good.ok);
  CHECK(good.max_abs_error < 1e-7);
  CHECK(good.checked == 12);
}

TEST_CASE("gradcheck leaves the caller's tensors unchanged") {
  auto a = randn<double>(shape(5), 2);
  auto before = a.to_vector();
  (void)gradcheck<cpu>([](const std::vector<vd>& x) { return vd(exp(x[0])); }, {&a});
  CHECK(a.to_vector() == before);
}

}  // namespace test_gradcheck
