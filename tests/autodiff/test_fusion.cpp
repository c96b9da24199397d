// An elementwise expression is one pass and one allocation, forward and
// backward — counted with the primitive launch counter and the allocator.
#include "test_support.hpp"

namespace test_fusion {

using namespace attngan;
using namespace attngan::test;

namespace {
std::uint64_t launches() { return primitives::launch_count().load(); }
}  // namespace

TEST_CASE("a six-operation expression runs as one pass with one allocation") {
  const shape s(4, 8, 16, 16);
  vf a = vf::leaf(randn<float>(s, 1)), b = vf::leaf(randn<float>(s, 2)), c = vf::leaf(randn<float>(s, 3)),
     d = vf::leaf(randn<float>(s, 4));
  auto& alloc = cpu::allocator();
  alloc.reset_counters();
  const auto before = launches();
  vf y = tanh(a * b + c) * sigmoid(d) - a;  // mul, add, tanh, sigmoid, mul, sub
  CHECK(launches() - before == 1);
  CHECK(alloc.stats().requests == 1);

  // and it computes the same as the chain evaluated op by op (up to the
  // compiler contracting a * b + c into one FMA in the fused loop: an
  // intermediate rounding fewer, a difference of an ulp or two)
  vf t1 = a * b;
  vf t2 = t1 + c;
  vf t3 = tanh(t2);
  vf t4 = sigmoid(d);
  vf t5 = t3 * t4;
  vf t6 = t5 - a;
  CHECK(max_abs_diff(y.value().to_vector(), t6.value().to_vector()) <= 1e-6);
}

TEST_CASE("its backward is one pass for same-shape leaves plus one reduction per broadcast leaf") {
  const shape s(4, 8, 16, 16);
  vf a = vf::leaf(randn<float>(s, 1), true), b = vf::leaf(randn<float>(s, 2), true);
  vf ch = vf::leaf(randn<float>(shape(1, 8, 1, 1), 3), true);
  vf y = tanh(a * b + ch) * sigmoid(b) - a;
  vf l = sum(y);  // the reduction is fused with nothing here: y is a var
  auto before = launches();
  backward(l);
  // sum's backward writes y's gradient (1 pass); y's backward: 1 pass for a and
  // b, 1 reduction for the per-channel leaf.
  CHECK(launches() - before == 3);
  CHECK(a.has_grad());
  CHECK(b.has_grad());
  CHECK(ch.grad().shape() == shape(1, 8, 1, 1));
}

TEST_CASE("a reduction of an expression is fused with it") {
  const shape s(2, 3, 8, 8);
  vf a = vf::leaf(randn<float>(s, 1), true), b = vf::leaf(randn<float>(s, 2), true);
  auto before = launches();
  vf l = mean(square(a - b));
  CHECK(launches() - before == 1);
  before = launches();
  backward(l);
  CHECK(launches() - before == 1);
  auto av = a.value().to_vector(), bv = b.value().to_vector(), ga = a.grad().to_vector();
  for (std::size_t i = 0; i < av.size(); i += 37)
    CHECK(ga[i] == doctest::Approx(2 * (av[i] - bv[i]) / float(s.numel())).epsilon(1e-5));
}

}  // namespace test_fusion
