// The CPU reduction primitive against a naive loop, for every subset of axes
// and for sizes that take each of its code paths (serial, parallel over
// outputs, parallel over chunks of one output).
#include "test_support.hpp"

namespace test_reduce {

using namespace attngan;
using namespace attngan::test;

namespace {
struct reader {
  const double* p;
  double operator()(index_t i) const { return p[i]; }
};

void check_all_axis_subsets(const shape& in) {
  auto x = randn<double>(in, 5);
  auto xv = x.to_vector();
  auto d = in.padded();
  for (int mask = 0; mask < 16; ++mask) {
    CAPTURE(mask);
    index_t out_dims[4];
    for (int k = 0; k < 4; ++k) out_dims[k] = (mask >> k) & 1 ? 1 : d[std::size_t(k)];
    shape out = shape::from_dims(out_dims, 4);
    auto plan = primitives::make_reduce_plan(shape::from_dims(d.data(), 4), out, "test");
    // naive reference, then the primitive with accumulate = true on top of 1s and alpha 0.5
    std::vector<double> ref(std::size_t(out.numel()), 0.0);
    for (index_t n = 0; n < d[0]; ++n)
      for (index_t c = 0; c < d[1]; ++c)
        for (index_t h = 0; h < d[2]; ++h)
          for (index_t w = 0; w < d[3]; ++w) {
            index_t o[4] = {n, c, h, w};
            index_t oi = 0;
            for (int k = 0; k < 4; ++k) oi = oi * out_dims[k] + (out_dims[k] == 1 ? 0 : o[k]);
            ref[std::size_t(oi)] += xv[std::size_t(((n * d[1] + c) * d[2] + h) * d[3] + w)];
          }
    auto result = tcpu<double>::full(out, 1.0);
    primitives::reduce_sum<cpu>(result.data(), plan, reader{x.data()}, 0.5, true);
    auto rv = result.to_vector();
    for (std::size_t i = 0; i < ref.size(); ++i) CHECK(rv[i] == doctest::Approx(1.0 + 0.5 * ref[i]).epsilon(1e-12));
  }
}
}  // namespace

TEST_CASE("reduce_sum over every subset of axes, small") { check_all_axis_subsets(shape(2, 3, 4, 5)); }

TEST_CASE("reduce_sum over every subset of axes, large enough to run in parallel") {
  check_all_axis_subsets(shape(3, 8, 33, 129));
}

TEST_CASE("reduce_sum: one huge output is split across threads") {
  const index_t n = 5'000'003;
  auto x = tcpu<double>::full(shape(n), 0.5);
  auto out = tcpu<double>::zeros(shape(1));
  primitives::reduce_sum<cpu>(out.data(), primitives::make_reduce_plan(shape(n), shape(1), "t"), reader{x.data()}, 1.0,
                              false);
  CHECK(out.item() == 0.5 * double(n));
}

TEST_CASE("make_reduce_plan rejects shapes that are not a reduction") {
  CHECK_THROWS_WITH_AS((void)primitives::make_reduce_plan(shape(2, 3), shape(2, 2), "sum"),
                       "sum: cannot reduce shape (2, 3) to (2, 2): every axis must be kept or reduced to 1", shape_error);
}

}  // namespace test_reduce
