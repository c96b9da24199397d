// The tape's behaviour in the situations a GAN step creates.
#include "test_support.hpp"

namespace test_tape {

using namespace attngan;
using namespace attngan::test;

namespace {
vf scalar_leaf(float v, bool requires_grad = true) {
  return vf::leaf(tcpu<float>::from_host(shape(1), {v}), requires_grad);
}
}  // namespace

TEST_CASE("leaf gradients accumulate across backward calls until zeroed") {
  vf x = scalar_leaf(3.f);
  backward(sum(x * x));
  CHECK(x.grad().item() == 6.f);
  backward(sum(x * 2.f));
  CHECK(x.grad().item() == 8.f);
  x.zero_grad();
  CHECK_FALSE(x.has_grad());
  backward(sum(x * 2.f));
  CHECK(x.grad().item() == 2.f);
}

TEST_CASE("a graph can be differentiated several times while it lives") {
  vf x = scalar_leaf(2.f);
  vf y = x * x * x;  // kept: 3x² = 12
  backward(sum(y));
  backward(sum(y * 1.f));
  CHECK(x.grad().item() == 24.f);
}

TEST_CASE("no_grad records nothing, and detach cuts the history without copying") {
  vf x = scalar_leaf(2.f);
  vf y = no_grad([&] { return vf(x * 3.f); });
  CHECK_FALSE(y.requires_grad());
  CHECK(grad_enabled());
  {
    no_grad_guard outer;
    {
      no_grad_guard inner;
      CHECK_FALSE(grad_enabled());
    }
    CHECK_FALSE(grad_enabled());
  }
  CHECK(grad_enabled());

  vf z = x * 5.f;
  vf d = z.detach();
  CHECK(d.value().shares_storage_with(z.value()));
  CHECK_FALSE(d.requires_grad());
  vf w = d * x;  // gradient reaches x only through the non-detached factor
  backward(sum(w));
  CHECK(x.grad().item() == 10.f);
  CHECK_THROWS_AS(backward(sum(d * 2.f)), autodiff_error);
}

TEST_CASE("frozen leaves receive no gradient") {
  vf w = scalar_leaf(2.f), frozen = scalar_leaf(5.f);
  frozen.set_requires_grad(false);
  backward(sum(w * frozen));
  CHECK(w.grad().item() == 5.f);
  CHECK_FALSE(frozen.has_grad());
  vf y = w * 2.f;
  CHECK_THROWS_AS(y.set_requires_grad(false), autodiff_error);
}

TEST_CASE("backward restricted to chosen leaves leaves the others untouched") {
  vf g = scalar_leaf(2.f), d = scalar_leaf(3.f);
  vf out = square(g * d);
  backward(sum(out), std::vector<vf>{d});
  CHECK(d.grad().item() == 2.f * 6.f * 2.f);  // d(g d)² / dd = 2 g² d
  CHECK_FALSE(g.has_grad());
  vf inner = g * d;
  CHECK_THROWS_AS(backward(sum(out), std::vector<vf>{inner}), autodiff_error);
}

TEST_CASE("a GAN-shaped step: D on real and detached fake, then G through the updated D") {
  // G: fake = tanh(z * wg); D: score(x) = sigmoid(x * wd).
  vf wg = scalar_leaf(0.5f), wd = scalar_leaf(1.5f);
  vf z = scalar_leaf(0.8f, false), real = scalar_leaf(0.9f, false);
  vf fake = tanh(z * wg);

  // D step: loss_d = -log D(real) - log(1 - D(fake.detach())), gradient into wd only.
  vf loss_d = sum(-log(sigmoid(real * wd)) - log(1.f - sigmoid(fake.detach() * wd)));
  backward(loss_d, std::vector<vf>{wd});
  CHECK(wd.has_grad());
  CHECK_FALSE(wg.has_grad());
  const float f = fake.item(), d_wd = 1.5f;
  const float expected_wd_grad = -(1 - 1 / (1 + std::exp(-0.9f * d_wd))) * 0.9f + (1 / (1 + std::exp(-f * d_wd))) * f;
  CHECK(wd.grad().item() == doctest::Approx(expected_wd_grad).epsilon(1e-5));

  // "optimiser step" on D, in place, outside the graph
  wd.zero_grad();
  const_cast<float*>(wd.value().data())[0] = 1.0f;

  // G step: loss_g = -log D(fake) through the (updated) D, gradient into wg only.
  vf loss_g = sum(-log(sigmoid(fake * wd)));
  backward(loss_g, std::vector<vf>{wg});
  CHECK_FALSE(wd.has_grad());
  // d/dwg: -(1 - σ(f)) · 1.0 · (1 - f²) · z
  const float expected_wg_grad = -(1 - 1 / (1 + std::exp(-f))) * (1 - f * f) * 0.8f;
  CHECK(wg.grad().item() == doctest::Approx(expected_wg_grad).epsilon(1e-5));
}

TEST_CASE("misuse of the tape throws autodiff_error with a message") {
  vf x = vf::leaf(tcpu<float>::zeros(shape(2, 2)), true);
  vf y = x * 2.f;
  CHECK_THROWS_WITH_AS(backward(y), "backward: the loss has shape (2, 2); reduce it to one element or pass its gradient",
                       autodiff_error);
  CHECK_THROWS_WITH_AS((void)x.grad(), "var::grad: no gradient was computed for this leaf of shape (2, 2) (did backward reach it?)",
                       autodiff_error);
  vf c = vf::leaf(tcpu<float>::zeros(shape(1)));
  CHECK_THROWS_AS(backward(sum(c * 2.f)), autodiff_error);
  CHECK_THROWS_AS((void)vf().value(), value_error);
  // a non-scalar output with an explicit upstream gradient
  backward(y, tcpu<float>::full(shape(2, 2), 1.f));
  CHECK(x.grad().to_vector() == std::vector<float>{2, 2, 2, 2});
}

TEST_CASE("intermediate gradients are released after backward") {
  vf x = vf::leaf(randn<float>(shape(64, 64), 1), true);
  vf y = exp(x);
  vf z = y * 2.f;
  backward(sum(z));
  CHECK_FALSE(y.has_grad());
  CHECK_FALSE(z.has_grad());
  CHECK(x.has_grad());
}

}  // namespace test_tape
