// attngan/autodiff/linalg.hpp — matmul, batched matmul and reshape on vars.
//
// C = op(A)·op(B) with op = identity or transpose. With G = dL/dC the
// gradients are dL/d op(A) = G·op(B)ᵀ and dL/d op(B) = op(A)ᵀ·G; for a
// transposed operand the stored gradient is the transpose of that, which is
// again a single GEMM with swapped operands:
//   A not transposed: dA = G · op(B)ᵀ          (M×N · N×K)
//   A transposed:     dA = op(B) · Gᵀ          (K×N · N×M)
//   B not transposed: dB = op(A)ᵀ · G          (K×M · M×N)
//   B transposed:     dB = Gᵀ · op(A)          (N×M · M×K)
// Each is accumulated into the existing gradient with beta = 1 (beta = 0
// when the gradient is new).
#pragma once

#include "attngan/autodiff/var.hpp"
#include "attngan/backend/primitives.hpp"

namespace attngan {

using primitives::transpose;

namespace detail {

template <real T, backend B>
struct gemm_operand {
  T* grad;
  T beta;
};

/// Where a GEMM may write a gradient: into the existing buffer (beta 1) or a
/// fresh uninitialised one (beta 0).
template <real T, backend B>
gemm_operand<T, B> gemm_target(node<T, B>& n) {
  if (n.grad.defined()) return {n.grad.data(), T(1)};
  n.grad = tensor<T, B>(n.value.shape());
  return {n.grad.data(), T(0)};
}

/// Shapes of C = op(A)·op(B) for matrices, or for batches of matrices
/// (rank 3, same batch).
struct matmul_dims {
  index_t batch, m, n, k;
};

inline matmul_dims check_matmul(const shape& a, const shape& b, transpose ta, transpose tb, int rank,
                                const char* op) {
  if (a.rank() != rank || b.rank() != rank)
    throw shape_error(op, detail::cat("expects rank-", rank, " operands, got ", a, " and ", b));
  int r = rank - 2;
  index_t batch = rank == 3 ? a[0] : 1;
  if (rank == 3 && b[0] != batch)
    throw shape_error(op, detail::cat("batch sizes differ: ", a, " and ", b));
  index_t m = ta == transpose::yes ? a[r + 1] : a[r], ka = ta == transpose::yes ? a[r] : a[r + 1];
  index_t kb = tb == transpose::yes ? b[r + 1] : b[r], n = tb == transpose::yes ? b[r] : b[r + 1];
  if (ka != kb)
    throw shape_error(op, detail::cat("inner dimensions differ: op(a) is ", m, "x", ka, " (a ", a, "), op(b) is ",
                                      kb, "x", n, " (b ", b, ")"));
  return {batch, m, n, ka};
}

template <real T, backend B>
struct matmul_node : node<T, B> {
  transpose ta, tb;
  matmul_dims d;
  matmul_node(transpose a, transpose b, matmul_dims dims) : ta(a), tb(b), d(dims) {}

  void run(const primitives::gemm_args<T>& g, index_t sa, index_t sb, index_t sc) {
    primitives::gemm_batched<B>(g, d.batch, sa, sb, sc);
  }

  void backward(const std::vector<char>& wants) override {
    auto& A = *this->inputs[0];
    auto& Bn = *this->inputs[1];
    const T* G = this->grad.data();
    const index_t lda = A.value.shape()[-1], ldb = Bn.value.shape()[-1];
    const index_t sa = d.m * d.k, sb = d.k * d.n, sg = d.m * d.n;
    const transpose flip_b = tb == transpose::yes ? transpose::no : transpose::yes;
    const transpose flip_a = ta == transpose::yes ? transpose::no : transpose::yes;
    if (wants[0]) {
      auto t = gemm_target(A);
      if (ta == transpose::no)  // dA (M×K) = G · op(B)ᵀ
        run({transpose::no, flip_b, d.m, d.k, d.n, T(1), G, d.n, Bn.value.data(), ldb, t.beta, t.grad, d.k}, sg,
            sb, sa);
      else  // dA (K×M) = op(B) · Gᵀ
        run({tb, transpose::yes, d.k, d.m, d.n, T(1), Bn.value.data(), ldb, G, d.n, t.beta, t.grad, d.m}, sb, sg,
            sa);
    }
    if (wants[1]) {
      auto t = gemm_target(Bn);
      if (tb == transpose::no)  // dB (K×N) = op(A)ᵀ · G
        run({flip_a, transpose::no, d.k, d.n, d.m, T(1), A.value.data(), lda, G, d.n, t.beta, t.grad, d.n}, sa,
            sg, sb);
      else  // dB (N×K) = Gᵀ · op(A)
        run({transpose::yes, ta, d.n, d.k, d.m, T(1), G, d.n, A.value.data(), lda, t.beta, t.grad, d.k}, sg, sa,
            sb);
    }
  }
};

template <real T, backend B>
var<T, B> matmul_impl(const var<T, B>& a, const var<T, B>& b, transpose ta, transpose tb, int rank,
                      const char* op) {
  const matmul_dims d = check_matmul(a.shape(), b.shape(), ta, tb, rank, op);
  shape out = rank == 3 ? shape(d.batch, d.m, d.n) : shape(d.m, d.n);
  tensor<T, B> value(out);
  primitives::gemm_args<T> g{ta, tb, d.m, d.n, d.k, T(1), a.value().data(), a.shape()[-1],
                             b.value().data(), b.shape()[-1], T(0), value.data(), d.n};
  primitives::gemm_batched<B>(g, d.batch, d.m * d.k, d.k * d.n, d.m * d.n);
  return var<T, B>(make_result<matmul_node<T, B>>(std::move(value), {a.node(), b.node()}, op, ta, tb, d));
}

template <real T, backend B>
struct view_node : node<T, B> {
  void backward(const std::vector<char>& wants) override {
    if (wants[0]) this->inputs[0]->accumulate_grad(this->grad.data());
  }
};

}  // namespace detail

/// op(a)·op(b) for rank-2 a and b: (M, K)·(K, N) -> (M, N).
template <real T, backend B>
var<T, B> matmul(const var<T, B>& a, const var<T, B>& b, transpose ta = transpose::no,
                 transpose tb = transpose::no) {
  return detail::matmul_impl(a, b, ta, tb, 2, "matmul");
}

/// Batched op(a)·op(b) for rank-3 a and b: (N, M, K)·(N, K, P) -> (N, M, P).
template <real T, backend B>
var<T, B> bmm(const var<T, B>& a, const var<T, B>& b, transpose ta = transpose::no, transpose tb = transpose::no) {
  return detail::matmul_impl(a, b, ta, tb, 3, "bmm");
}

/// The same elements under another shape; no copy is made.
template <real T, backend B>
var<T, B> reshape(const var<T, B>& x, const shape& s) {
  tensor<T, B> v = x.value().view(s);
  return var<T, B>(detail::make_result<detail::view_node<T, B>>(std::move(v), {x.node()}, "reshape"));
}

}  // namespace attngan
