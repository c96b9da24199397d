// attngan/autodiff/functors.hpp — the elementwise functions and their derivatives.
//
// Each functor carries its value and its partial derivatives as
// `ATTNGAN_HD` members, so one definition serves the CPU loops, Thrust and the
// CUDA kernels, and the chain rule over an expression tree is assembled at
// compile time from these pieces (see expression.hpp). Derivatives receive the
// operands and the already computed result y, so exp, sigmoid, tanh and sqrt
// reuse y instead of recomputing it.
//
// Conventions at the non-differentiable points follow PyTorch, so imported
// models train identically: relu'(0) = 0, leaky_relu'(0) = slope,
// abs'(0) = 0, and for min/max a tie splits the gradient in half.
#pragma once

#include "attngan/core/config.hpp"
#include "attngan/core/math.hpp"

namespace attngan::fn {


// ----------------------------------------------------------------- binary ops
struct add {
  static constexpr const char* name = "add";
  template <class T> ATTNGAN_HD T operator()(T a, T b) const { return a + b; }
  template <class T> ATTNGAN_HD T da(T, T, T) const { return T(1); }
  template <class T> ATTNGAN_HD T db(T, T, T) const { return T(1); }
};

struct sub {
  static constexpr const char* name = "sub";
  template <class T> ATTNGAN_HD T operator()(T a, T b) const { return a - b; }
  template <class T> ATTNGAN_HD T da(T, T, T) const { return T(1); }
  template <class T> ATTNGAN_HD T db(T, T, T) const { return T(-1); }
};

struct mul {
  static constexpr const char* name = "mul";
  template <class T> ATTNGAN_HD T operator()(T a, T b) const { return a * b; }
  template <class T> ATTNGAN_HD T da(T, T b, T) const { return b; }
  template <class T> ATTNGAN_HD T db(T a, T, T) const { return a; }
};

// d(a/b)/da = 1/b, d(a/b)/db = -a/b² = -y/b
struct div {
  static constexpr const char* name = "div";
  template <class T> ATTNGAN_HD T operator()(T a, T b) const { return a / b; }
  template <class T> ATTNGAN_HD T da(T, T b, T) const { return T(1) / b; }
  template <class T> ATTNGAN_HD T db(T, T b, T y) const { return -y / b; }
};

// One element of binary cross-entropy on probabilities, nn.BCELoss's:
//   ℓ(p, y) = −(y·max(log p, −100) + (1 − y)·max(log(1 − p), −100)),
//   ∂ℓ/∂p  = (p − y) / max(p·(1 − p), 1e−12),
//   ∂ℓ/∂y  = max(log(1 − p), −100) − max(log p, −100).
// One functor rather than an expression of log and max: a saturated sigmoid
// gives p = 1 exactly, and the chain rule through the clamped log(1 − p)
// would multiply a zero gradient by 1/(1 − p) = ∞ and return NaN, where
// PyTorch's bounded derivative keeps training going.
struct binary_cross_entropy {
  static constexpr const char* name = "binary_cross_entropy";
  template <class T> ATTNGAN_HD static T clamped_log(T x) {
    const T l = math::log(x);
    return l < T(-100) ? T(-100) : l;  // NaN stays NaN
  }
  template <class T> ATTNGAN_HD T operator()(T p, T y) const {
    return -(y * clamped_log(p) + (T(1) - y) * clamped_log(T(1) - p));
  }
  template <class T> ATTNGAN_HD T da(T p, T y, T) const {
    const T v = p * (T(1) - p);
    return (p - y) / (v > T(1e-12) ? v : T(1e-12));
  }
  template <class T> ATTNGAN_HD T db(T p, T, T) const { return clamped_log(T(1) - p) - clamped_log(p); }
};

// PyTorch's maximum/minimum: on a tie each operand receives half the gradient.
struct max {
  static constexpr const char* name = "max";
  template <class T> ATTNGAN_HD T operator()(T a, T b) const { return a > b ? a : (b > a ? b : a); }
  template <class T> ATTNGAN_HD T da(T a, T b, T) const { return a > b ? T(1) : (a == b ? T(0.5) : T(0)); }
  template <class T> ATTNGAN_HD T db(T a, T b, T) const { return b > a ? T(1) : (a == b ? T(0.5) : T(0)); }
};

struct min {
  static constexpr const char* name = "min";
  template <class T> ATTNGAN_HD T operator()(T a, T b) const { return a < b ? a : (b < a ? b : a); }
  template <class T> ATTNGAN_HD T da(T a, T b, T) const { return a < b ? T(1) : (a == b ? T(0.5) : T(0)); }
  template <class T> ATTNGAN_HD T db(T a, T b, T) const { return b < a ? T(1) : (a == b ? T(0.5) : T(0)); }
};

// Comparisons give 1 or 0 and have zero derivative: they feed where() and masks.
#define ATTNGAN_COMPARISON(NAME, OP)                                                   \
  struct NAME {                                                                        \
    static constexpr const char* name = #NAME;                                         \
    template <class T> ATTNGAN_HD T operator()(T a, T b) const { return a OP b ? T(1) : T(0); } \
    template <class T> ATTNGAN_HD T da(T, T, T) const { return T(0); }                 \
    template <class T> ATTNGAN_HD T db(T, T, T) const { return T(0); }                 \
  };
ATTNGAN_COMPARISON(greater, >)
ATTNGAN_COMPARISON(greater_equal, >=)
ATTNGAN_COMPARISON(less, <)
ATTNGAN_COMPARISON(less_equal, <=)
#undef ATTNGAN_COMPARISON

// ------------------------------------------------------------------ unary ops
struct negate {
  static constexpr const char* name = "negate";
  template <class T> ATTNGAN_HD T operator()(T x) const { return -x; }
  template <class T> ATTNGAN_HD T d(T, T) const { return T(-1); }
};

struct exp {
  static constexpr const char* name = "exp";
  template <class T> ATTNGAN_HD T operator()(T x) const { return math::exp(x); }
  template <class T> ATTNGAN_HD T d(T, T y) const { return y; }
};

struct log {
  static constexpr const char* name = "log";
  template <class T> ATTNGAN_HD T operator()(T x) const { return math::log(x); }
  template <class T> ATTNGAN_HD T d(T x, T) const { return T(1) / x; }
};

// σ(x) = 1 / (1 + e^{-x}); for x → −∞, e^{-x} = +∞ gives exactly 0, and the
// relative error stays that of exp. σ' = y(1-y)
struct sigmoid {
  static constexpr const char* name = "sigmoid";
  template <class T> ATTNGAN_HD T operator()(T x) const { return T(1) / (T(1) + math::exp(-x)); }
  template <class T> ATTNGAN_HD T d(T, T y) const { return y * (T(1) - y); }
};

// tanh' = 1 - y²
struct tanh {
  static constexpr const char* name = "tanh";
  template <class T> ATTNGAN_HD T operator()(T x) const { return math::tanh(x); }
  template <class T> ATTNGAN_HD T d(T, T y) const { return T(1) - y * y; }
};

struct relu {
  static constexpr const char* name = "relu";
  template <class T> ATTNGAN_HD T operator()(T x) const { return x > T(0) ? x : T(0); }
  template <class T> ATTNGAN_HD T d(T x, T) const { return x > T(0) ? T(1) : T(0); }
};

/// leaky_relu(x) = x for x > 0, slope·x otherwise (AttnGAN's D uses slope 0.2).
template <class T>
struct leaky_relu {
  static constexpr const char* name = "leaky_relu";
  T slope;
  ATTNGAN_HD T operator()(T x) const { return x > T(0) ? x : slope * x; }
  ATTNGAN_HD T d(T x, T) const { return x > T(0) ? T(1) : slope; }
};

// sqrt' = 1 / (2y)
struct sqrt {
  static constexpr const char* name = "sqrt";
  template <class T> ATTNGAN_HD T operator()(T x) const { return math::sqrt(x); }
  template <class T> ATTNGAN_HD T d(T, T y) const { return T(0.5) / y; }
};

struct square {
  static constexpr const char* name = "square";
  template <class T> ATTNGAN_HD T operator()(T x) const { return x * x; }
  template <class T> ATTNGAN_HD T d(T x, T) const { return T(2) * x; }
};

// abs' = sign(x), with sign(0) = 0
struct abs {
  static constexpr const char* name = "abs";
  template <class T> ATTNGAN_HD T operator()(T x) const { return math::abs(x); }
  template <class T> ATTNGAN_HD T d(T x, T) const { return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0)); }
};

}  // namespace attngan::fn
