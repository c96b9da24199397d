#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace test_tensor {

using namespace attngan;
using attngan::test::tcpu;

static_assert(!std::is_copy_constructible_v<tensor<float, cpu>>, "tensors are move-only");
static_assert(!std::is_copy_assignable_v<tensor<float, cpu>>, "tensors are move-only");
static_assert(std::is_nothrow_move_constructible_v<tensor<float, cpu>>);

TEST_CASE("tensor: construction, values and copies") {
  auto t = tcpu<float>::from_host(shape(2, 3), {1, 2, 3, 4, 5, 6});
  CHECK(t.defined());
  CHECK(t.shape() == shape(2, 3));
  CHECK(t.numel() == 6);
  CHECK(t.item(4) == 5);
  CHECK(t.to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(tcpu<float>::zeros(shape(3)).to_vector() == std::vector<float>{0, 0, 0});
  CHECK(tcpu<int>::full(shape(2), 7).to_vector() == std::vector<int>{7, 7});
  CHECK_FALSE(tcpu<float>().defined());
  CHECK(tcpu<float>().numel() == 0);
}

TEST_CASE("tensor: clone is a deep copy, move transfers ownership") {
  auto t = tcpu<float>::from_host(shape(3), {1, 2, 3});
  auto c = t.clone();
  c.data()[0] = 42;
  CHECK(t.item(0) == 1);
  CHECK_FALSE(c.shares_storage_with(t));
  const float* p = t.data();
  tcpu<float> m = std::move(t);
  CHECK(m.data() == p);
  CHECK_FALSE(t.defined());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  CHECK_THROWS_AS((void)t.clone(), value_error);
}

TEST_CASE("tensor: zeros, fill and clone of large tensors (the cpu's threaded memset and memcpy)") {
  // Sizes on both sides of cpu::parallel_bytes, and odd ones, so the shares
  // end inside a page and the last share is short.
  for (const index_t n : {index_t(1000), index_t(65535), index_t(65536), index_t(1'000'003), index_t(3'145'727)}) {
    CAPTURE(n);
    auto t = tcpu<float>::full(shape(n), 3.5f);  // the block may come back from the cache
    t.fill(0.f);
    const auto z = t.to_vector();
    CHECK(std::count(z.begin(), z.end(), 0.f) == n);
    for (index_t i = 0; i < n; ++i) t.data()[i] = float(i % 977) - 400.f;
    const auto c = t.clone();
    CHECK(c.to_vector() == t.to_vector());
    t.fill(-0.f);  // not all-zero bits: the sign must survive
    CHECK(std::signbit(t.item(n - 1)));
    CHECK(std::signbit(t.item(0)));
    auto big = tcpu<double>::full(shape(n), 1.0);
    big.fill(0.0);
    CHECK(big.item(n - 1) == 0.0);
    CHECK(big.item(n / 2) == 0.0);
  }
}

TEST_CASE("tensor: view, reshape and slice alias memory without copying") {
  auto t = tcpu<float>::from_host(shape(2, 3, 2), {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  auto v = t.view(shape(6, 2));
  CHECK(v.shares_storage_with(t));
  CHECK(v.data() == t.data());
  v.data()[0] = -1;
  CHECK(t.item(0) == -1);

  auto rows = t.slice(1, 2);
  CHECK(rows.shape() == shape(1, 3, 2));
  CHECK(rows.data() == t.data() + 6);
  CHECK(rows.item(0) == 6);

  const float* p = t.data();
  auto r = std::move(t).reshape(shape(12));
  CHECK(r.data() == p);
  CHECK_FALSE(t.defined());  // NOLINT(bugprone-use-after-move)

  // the storage stays alive as long as any view of it
  tcpu<float> survivor;
  {
    auto owner = tcpu<float>::full(shape(4), 3.f);
    survivor = owner.view(shape(2, 2));
  }
  CHECK(survivor.item(3) == 3.f);
}

TEST_CASE("tensor: misuse throws errors that name the operation and shapes") {
  auto t = tcpu<float>::zeros(shape(2, 3));
  CHECK_THROWS_WITH_AS((void)t.view(shape(4, 2)),
                       "tensor::view: cannot view shape (2, 3) (6 elements) as (4, 2) (8 elements)", shape_error);
  CHECK_THROWS_WITH_AS((void)t.slice(1, 3), "tensor::slice: rows [1, 3) out of range for shape (2, 3)",
                       shape_error);
  std::vector<float> five(5, 0.f);
  CHECK_THROWS_WITH_AS((void)tcpu<float>::from_host(shape(2, 3), five),
                       "tensor::from_host: shape (2, 3) needs 6 values, got 5", shape_error);
  CHECK_THROWS_AS((void)t.item(6), shape_error);
}

TEST_CASE("tensor: explicit copy between backends keeps values") {
  auto t = tcpu<double>::from_host(shape(2, 2), {1.5, -2, 3, 4});
  auto u = t.to<cpu>();
  CHECK_FALSE(u.shares_storage_with(t));
  CHECK(u.to_vector() == t.to_vector());
}

}  // namespace test_tensor
