// attngan/autodiff/var.hpp — var<T, Backend>: a value on the tape, and the
// elementwise operators that build fused expressions from vars.
//
// A var is a cheap, copyable handle to a node of the graph (tape.hpp): copies
// refer to the same value and gradient, as with PyTorch tensors. Leaves are
// made from tensors (`var::leaf(t, requires_grad)`); everything else is the
// result of an operation. Elementwise operators return expressions
// (expression.hpp) that are evaluated, fused, when assigned to a var:
//
//     var<float, cpu> y = tanh(a * b + c) * sigmoid(d) - a;   // one kernel
//
// Operands of one expression must share the scalar type and the backend;
// both are checked at compile time with a message that says so.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "attngan/autodiff/expression.hpp"
#include "attngan/autodiff/tape.hpp"

namespace attngan {

template <real T, backend B>
class var {
 public:
  using scalar_type = T;
  using backend_type = B;
  using tensor_type = tensor<T, B>;

  /// An empty handle; `defined()` is false.
  var() = default;

  /// A leaf holding `value`. Parameters pass requires_grad = true.
  static var leaf(tensor_type value, bool requires_grad = false) {
    return var(std::make_shared<detail::node<T, B>>(std::move(value), requires_grad, "leaf"));
  }

  /// Evaluates an elementwise expression (one fused kernel) into a new var.
  template <expression E>
  // NOLINTNEXTLINE(google-explicit-constructor): `var y = a + b;` is the intended spelling
  var(E&& e) : node_(detail::materialise(e)) {
    static_assert(!std::is_lvalue_reference_v<E>,
                  "attngan: an elementwise expression was stored in a variable (e.g. with `auto`) and "
                  "used again; evaluate it into a var instead: `var<float, cpu> y = a + b;`");
    using EB = typename std::remove_cvref_t<E>::backend_type;
    static_assert(std::is_same_v<typename std::remove_cvref_t<E>::scalar_type, T>,
                  "attngan: the expression's scalar type differs from this var's; convert explicitly");
    static_assert(std::is_same_v<EB, B> || std::is_void_v<EB>,
                  "attngan: the expression's backend differs from this var's; copy explicitly with "
                  "tensor::to<Backend>()");
  }

  explicit var(detail::node_ptr<T, B> n) : node_(std::move(n)) {}

  [[nodiscard]] bool defined() const noexcept { return node_ != nullptr; }
  [[nodiscard]] const tensor_type& value() const { return checked()->value; }
  [[nodiscard]] const attngan::shape& shape() const { return checked()->value.shape(); }
  [[nodiscard]] index_t numel() const { return checked()->value.numel(); }
  [[nodiscard]] T item(index_t flat = 0) const { return checked()->value.item(flat); }
  [[nodiscard]] bool requires_grad() const { return checked()->requires_grad; }
  [[nodiscard]] bool is_leaf() const { return checked()->is_leaf; }

  /// Turns gradient tracking of a leaf on or off (freezing a module).
  void set_requires_grad(bool on) {
    if (!checked()->is_leaf)
      throw autodiff_error("var::set_requires_grad",
                           detail::cat("only leaves can change requires_grad; this is the result of ",
                                       node_->op, ", shape ", shape()));
    node_->requires_grad = on;
  }

  [[nodiscard]] bool has_grad() const { return checked()->grad.defined(); }

  /// The accumulated gradient (throws when none has been computed).
  [[nodiscard]] const tensor_type& grad() const {
    if (!checked()->grad.defined())
      throw autodiff_error("var::grad", detail::cat("no gradient was computed for this ", node_->op, " of shape ",
                                                    shape(), " (did backward reach it?)"));
    return node_->grad;
  }

  /// Drops the gradient (the next backward starts from zero); a gradient
  /// that lives in a network's arena is filled with zeros instead.
  void zero_grad() {
    if (checked()->grad_is_persistent)
      node_->grad.fill(T(0));
    else
      node_->grad = tensor_type();
  }

  /// The same value without history: gradients stop here (no copy is made).
  [[nodiscard]] var detach() const {
    const auto& v = checked()->value;
    return var(std::make_shared<detail::node<T, B>>(v.view(v.shape()), false, "detach"));
  }

  [[nodiscard]] const detail::node_ptr<T, B>& node() const { return node_; }

 private:
  const detail::node_ptr<T, B>& checked() const {
    if (!node_) throw value_error("var", "the var is empty (default-constructed)");
    return node_;
  }

  detail::node_ptr<T, B> node_;
};

template <class X>
struct is_var : std::false_type {};
template <real T, backend B>
struct is_var<var<T, B>> : std::true_type {};

/// Anything an elementwise operator accepts besides plain numbers.
template <class X>
concept var_or_expression = is_var<std::remove_cvref_t<X>>::value || expression<X>;

template <class X>
concept number = std::is_arithmetic_v<std::remove_cvref_t<X>>;

// ============================================================ operand lifting

namespace detail {

template <class X>
struct scalar_of {
  using type = void;
};
template <class X>
  requires requires { typename X::scalar_type; }
struct scalar_of<X> {
  using type = typename X::scalar_type;
};

template <class X>
using scalar_of_t = typename scalar_of<std::remove_cvref_t<X>>::type;

template <class X>
struct backend_of {
  using type = void;
};
template <class X>
  requires requires { typename X::backend_type; }
struct backend_of<X> {
  using type = typename X::backend_type;
};
template <class X>
using backend_of_t = typename backend_of<std::remove_cvref_t<X>>::type;

/// Compile-time checks shared by every operator on two or three operands.
template <class... Xs>
constexpr void check_operands() {
  static_assert(((!expression<Xs> || !std::is_lvalue_reference_v<Xs>) && ...),
                "attngan: an elementwise expression was stored in a variable (e.g. with `auto`) and used "
                "again; expressions are consumed when used — evaluate it into a var first: "
                "`var<float, cpu> t = a + b;`");
}

template <class S, class... Xs>
inline constexpr bool same_scalar = ((std::is_void_v<scalar_of_t<Xs>> || std::is_same_v<scalar_of_t<Xs>, S>) && ...);

template <class Be, class... Xs>
inline constexpr bool same_backend = ((std::is_void_v<backend_of_t<Xs>> || std::is_same_v<backend_of_t<Xs>, Be>) &&
                                      ...);

/// The scalar type and backend of the first operand that has one.
template <class... Xs>
struct first_typed;
template <class X, class... Xs>
struct first_typed<X, Xs...> {
  using next = first_typed<Xs...>;
  using scalar = std::conditional_t<std::is_void_v<scalar_of_t<X>>, typename next::scalar, scalar_of_t<X>>;
  using backend = std::conditional_t<std::is_void_v<backend_of_t<X>>, typename next::backend, backend_of_t<X>>;
};
template <>
struct first_typed<> {
  using scalar = void;
  using backend = void;
};

template <class... Xs>
constexpr void check_types() {
  using S = typename first_typed<Xs...>::scalar;
  using Be = typename first_typed<Xs...>::backend;
  static_assert(same_scalar<S, Xs...>,
                "attngan: cannot mix scalar types (e.g. float and double) in one expression; "
                "convert one operand explicitly");
  static_assert(same_backend<Be, Xs...>,
                "attngan: cannot mix backends (e.g. cpu and cuda) in one expression; "
                "copy one operand explicitly with tensor::to<Backend>()");
}

/// Turns an operand into an expression node of scalar type T.
template <class T, class X>
auto lift(X&& x) {
  using D = std::remove_cvref_t<X>;
  if constexpr (is_var<D>::value) {
    return leaf_expr<typename D::scalar_type, typename D::backend_type>(x.node());
  } else if constexpr (expression<D>) {
    return D(std::move(x));
  } else {
    return scalar_expr<T>(T(x));
  }
}

template <class X, class T>
using lifted_t = decltype(lift<T>(std::declval<X>()));

template <class Op, class A, class Bx>
auto make_binary(Op op, A&& a, Bx&& b) {
  check_operands<A, Bx>();
  check_types<A, Bx>();
  using T = typename first_typed<A, Bx>::scalar;
  using LA = lifted_t<A, T>;
  using LB = lifted_t<Bx, T>;
  return binary_expr<Op, LA, LB>(op, lift<T>(std::forward<A>(a)), lift<T>(std::forward<Bx>(b)));
}

template <class Op, class A>
auto make_unary(Op op, A&& a) {
  check_operands<A>();
  using T = scalar_of_t<A>;
  using LA = lifted_t<A, T>;
  return unary_expr<Op, LA>(op, lift<T>(std::forward<A>(a)));
}

}  // namespace detail

// ============================================================== operators
// Binary operators take vars, expressions and plain numbers (at least one
// operand is not a number); the result is an expression.

#define ATTNGAN_BINARY_OPERATOR(OPERATOR, FUNCTOR)                                              \
  template <class A, class Bx>                                                                  \
    requires((var_or_expression<A> && (var_or_expression<Bx> || number<Bx>)) ||                \
             (number<A> && var_or_expression<Bx>))                                              \
  auto OPERATOR(A&& a, Bx&& b) {                                                                \
    return detail::make_binary(fn::FUNCTOR{}, std::forward<A>(a), std::forward<Bx>(b));         \
  }
ATTNGAN_BINARY_OPERATOR(operator+, add)
ATTNGAN_BINARY_OPERATOR(operator-, sub)
ATTNGAN_BINARY_OPERATOR(operator*, mul)
ATTNGAN_BINARY_OPERATOR(operator/, div)
ATTNGAN_BINARY_OPERATOR(operator>, greater)
ATTNGAN_BINARY_OPERATOR(operator>=, greater_equal)
ATTNGAN_BINARY_OPERATOR(operator<, less)
ATTNGAN_BINARY_OPERATOR(operator<=, less_equal)
ATTNGAN_BINARY_OPERATOR(max, max)
ATTNGAN_BINARY_OPERATOR(min, min)
#undef ATTNGAN_BINARY_OPERATOR

#define ATTNGAN_UNARY_FUNCTION(NAME, FUNCTOR)                          \
  template <var_or_expression A>                                       \
  auto NAME(A&& a) {                                                   \
    return detail::make_unary(fn::FUNCTOR{}, std::forward<A>(a));      \
  }
ATTNGAN_UNARY_FUNCTION(operator-, negate)
ATTNGAN_UNARY_FUNCTION(exp, exp)
ATTNGAN_UNARY_FUNCTION(log, log)
ATTNGAN_UNARY_FUNCTION(sigmoid, sigmoid)
ATTNGAN_UNARY_FUNCTION(tanh, tanh)
ATTNGAN_UNARY_FUNCTION(relu, relu)
ATTNGAN_UNARY_FUNCTION(sqrt, sqrt)
ATTNGAN_UNARY_FUNCTION(square, square)
ATTNGAN_UNARY_FUNCTION(abs, abs)
#undef ATTNGAN_UNARY_FUNCTION

/// leaky_relu(x, slope): x for x > 0, slope·x otherwise.
template <var_or_expression A>
auto leaky_relu(A&& a, double slope) {
  using T = detail::scalar_of_t<A>;
  return detail::make_unary(fn::leaky_relu<T>{T(slope)}, std::forward<A>(a));
}

/// where(c, a, b): a where c is non-zero, b elsewhere (c is typically a
/// comparison such as `x > 0`); c receives no gradient. a and b may be numbers.
template <var_or_expression C, class A, class Bx>
  requires((var_or_expression<A> || number<A>) && (var_or_expression<Bx> || number<Bx>))
auto where(C&& c, A&& a, Bx&& b) {
  detail::check_operands<C, A, Bx>();
  detail::check_types<C, A, Bx>();
  using T = typename detail::first_typed<C, A, Bx>::scalar;
  using LC = detail::lifted_t<C, T>;
  using LA = detail::lifted_t<A, T>;
  using LB = detail::lifted_t<Bx, T>;
  return where_expr<LC, LA, LB>(detail::lift<T>(std::forward<C>(c)), detail::lift<T>(std::forward<A>(a)),
                                detail::lift<T>(std::forward<Bx>(b)));
}

/// The elements [start, start + length) of `axis` of x, as an operand of an
/// elementwise expression — no copy: the expression reads x through a
/// strided view, and its gradient lands in the same elements of x's
/// gradient. GLU is `narrow(x, 1, 0, C) * sigmoid(narrow(x, 1, C, C))`.
template <real T, backend B>
leaf_expr<T, B> narrow(const var<T, B>& x, int axis, index_t start, index_t length) {
  const shape& s = x.shape();
  const int a = s.normalise_axis(axis);
  if (start < 0 || length < 0 || start + length > s[a])
    throw shape_error("narrow", detail::cat("elements [", start, ", ", start + length, ") of axis ", axis,
                                            " are out of range for shape ", s));
  strided_view v = strided_view::whole(s);
  index_t dims[4];
  for (int k = 0; k < s.rank(); ++k) dims[k] = s[k];
  dims[a] = length;
  v.extents = shape::from_dims(dims, s.rank());
  v.offset = start * v.strides[std::size_t(4 - s.rank() + a)];
  return leaf_expr<T, B>(x.node(), v);
}

/// Index `index` of `axis` of x, with that axis removed (torch.select), as an
/// operand of an elementwise expression: a strided view, no copy. An LSTM
/// reads the input projection of step t as select(P, 1, t) of P (B, T, 4H).
template <real T, backend B>
leaf_expr<T, B> select(const var<T, B>& x, int axis, index_t index) {
  const shape& s = x.shape();
  const int a = s.normalise_axis(axis);
  if (index < 0 || index >= s[a])
    throw shape_error("select", detail::cat("index ", index, " of axis ", axis, " is out of range for shape ", s));
  const strided_view whole = strided_view::whole(s);
  index_t dims[4];
  std::array<index_t, 4> strides{};
  int r = 0;
  for (int k = 0; k < s.rank(); ++k) {
    if (k == a) continue;
    dims[r] = s[k];
    strides[std::size_t(r)] = whole.strides[std::size_t(4 - s.rank() + k)];
    ++r;
  }
  strided_view v;
  v.extents = shape::from_dims(dims, r);
  v.strides = {0, 0, 0, 0};
  for (int k = 0; k < r; ++k) v.strides[std::size_t(4 - r + k)] = strides[std::size_t(k)];
  v.offset = index * whole.strides[std::size_t(4 - s.rank() + a)];
  return leaf_expr<T, B>(x.node(), v);
}

/// Evaluates a var or an expression into a var (identity for vars).
template <var_or_expression X>
auto eval(X&& x) {
  using D = std::remove_cvref_t<X>;
  if constexpr (is_var<D>::value) {
    return D(x);
  } else {
    detail::check_operands<X>();
    return var<typename D::scalar_type, typename D::backend_type>(detail::materialise(x));
  }
}

}  // namespace attngan
