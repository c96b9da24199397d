// attngan/autodiff/reduce.hpp — sum and mean over all axes or chosen axes.
//
// A reduction of an expression is fused with it: `mean(square(a - b))` reads
// a and b once and never stores a − b. The backward pass broadcasts the
// incoming gradient over the reduced axes and pushes it through the same
// expression (expression.hpp), again without intermediates.
#pragma once

#include <initializer_list>
#include <utility>

#include "attngan/autodiff/var.hpp"

namespace attngan {

namespace detail {

struct reduced_shapes {
  shape kept;    // input shape with reduced axes set to 1
  shape result;  // kept, or kept without the reduced axes
  index_t count; // elements summed into each output
};

inline reduced_shapes reduce_shapes(const shape& in, std::initializer_list<int> axes, bool keepdim, const char* op) {
  bool reduce[4] = {false, false, false, false};
  if (axes.size() == 0)
    for (int k = 0; k < in.rank(); ++k) reduce[k] = true;
  for (int a : axes) {
    if (a < -in.rank() || a >= in.rank())
      throw shape_error(op, detail::cat("axis ", a, " is out of range for shape ", in));
    int k = a < 0 ? a + in.rank() : a;
    if (reduce[k] && axes.size() != 0)
      throw value_error(op, detail::cat("axis ", a, " is listed twice for shape ", in));
    reduce[k] = true;
  }
  index_t kept[4], result[4];
  int result_rank = 0;
  index_t count = 1;
  for (int k = 0; k < in.rank(); ++k) {
    kept[k] = reduce[k] ? 1 : in[k];
    if (reduce[k]) count *= in[k];
    if (!reduce[k] || keepdim) result[result_rank++] = kept[k];
  }
  shape kept_shape = shape::from_dims(kept, in.rank());
  return {kept_shape, shape::from_dims(result, result_rank), count};
}

template <class X>
auto reduce(X&& x, std::initializer_list<int> axes, bool keepdim, bool average, const char* op) {
  check_operands<X>();
  using T = scalar_of_t<X>;
  using Be = backend_of_t<X>;
  auto e = lift<T>(std::forward<X>(x));
  reduced_shapes s = reduce_shapes(e.result_shape(), axes, keepdim, op);
  T alpha = average ? (s.count > 0 ? T(1) / T(s.count) : T(0)) : T(1);
  return var<T, Be>(materialise_reduction(e, s.kept, s.result, alpha, op));
}

}  // namespace detail

/// Sum of every element: a rank-0 var.
template <var_or_expression X>
auto sum(X&& x) {
  return detail::reduce(std::forward<X>(x), {}, false, false, "sum");
}

/// Sum over the given axes (negative counts from the back); keepdim keeps
/// them as extent 1, which is the form that broadcasts back.
template <var_or_expression X>
auto sum(X&& x, std::initializer_list<int> axes, bool keepdim = false) {
  if (axes.size() == 0) throw value_error("sum", "no axes given; call sum(x) to reduce everything");
  return detail::reduce(std::forward<X>(x), axes, keepdim, false, "sum");
}

/// Mean of every element: a rank-0 var.
template <var_or_expression X>
auto mean(X&& x) {
  return detail::reduce(std::forward<X>(x), {}, false, true, "mean");
}

/// Mean over the given axes.
template <var_or_expression X>
auto mean(X&& x, std::initializer_list<int> axes, bool keepdim = false) {
  if (axes.size() == 0) throw value_error("mean", "no axes given; call mean(x) to reduce everything");
  return detail::reduce(std::forward<X>(x), axes, keepdim, true, "mean");
}

}  // namespace attngan
