// attngan/autodiff/expression.hpp — fused elementwise expressions and their backward.
//
// Arithmetic on vars does not compute anything: it builds an expression tree
// (leaf, scalar, unary, binary, where) whose type records the whole
// computation. Materialising the tree (assigning it to a var, or reducing it)
// lowers it to an *evaluator*: the same tree with raw pointers and broadcast
// strides in place of nodes, trivially copyable, handed by value to the
// backend's one generic elementwise kernel. So `tanh(a * b + c) * sigmoid(d) - a`
// is one pass over memory and one allocation.
//
// Backward is fused the same way. Each functor knows its partial derivatives
// (functors.hpp); per element the evaluator runs forward once, caching each
// node's operands in registers, then walks the tree back, multiplying adjoints
// by the local derivatives, and writes d loss / d leaf for every leaf at once.
// Leaves with the output's shape receive their gradient in that single pass;
// a broadcast leaf (per channel (1, C, 1, 1), per sample (B, 1, 1, 1), ...)
// receives it through one reduction that evaluates the same per-element
// backward. No intermediate of the expression is ever stored.
//
// Expression objects own shared references to the nodes they read, so none
// can dangle; they are move-only and consumed by the operator that uses them,
// which turns "kept an expression in an `auto` and used it twice" into a
// compile error with a message (see var.hpp).
#pragma once

#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "attngan/autodiff/functors.hpp"
#include "attngan/autodiff/tape.hpp"
#include "attngan/backend/primitives.hpp"
#include "attngan/core/shape.hpp"
#include "attngan/core/tensor.hpp"

namespace attngan {

// ============================================================== expressions

/// Base of every expression node type; `expression<E>` tests for it.
struct expression_base {
  expression_base() = default;
  expression_base(const expression_base&) = delete;
  expression_base& operator=(const expression_base&) = delete;
  expression_base(expression_base&&) = default;
  expression_base& operator=(expression_base&&) = default;
};

template <class E>
concept expression = std::is_base_of_v<expression_base, std::remove_cvref_t<E>>;

/// Which elements of a node's value a leaf reads: `extents` with element
/// `strides` (right-aligned to rank 4, like shape::padded) starting at
/// `offset`. The default is the whole value, contiguous; narrow() makes
/// others (a channel slice of an NCHW tensor, for GLU).
struct strided_view {
  shape extents;
  std::array<index_t, 4> strides{0, 0, 0, 1};
  index_t offset = 0;

  static strided_view whole(const shape& s) {
    strided_view v;
    v.extents = s;
    auto p = s.padded();
    v.strides[3] = 1;
    for (int k = 2; k >= 0; --k) v.strides[std::size_t(k)] = v.strides[std::size_t(k + 1)] * p[std::size_t(k + 1)];
    return v;
  }
  /// True when the view is all of a contiguous value of `n` elements.
  [[nodiscard]] bool is_whole(index_t n) const {
    return offset == 0 && extents.numel() == n && strides == whole(extents).strides;
  }
};

/// Reads a var's value, or a strided view of it.
template <real T, backend B>
struct leaf_expr : expression_base {
  using scalar_type = T;
  using backend_type = B;
  detail::node_ptr<T, B> node;
  strided_view view;
  explicit leaf_expr(detail::node_ptr<T, B> n) : node(std::move(n)), view(strided_view::whole(node->value.shape())) {}
  leaf_expr(detail::node_ptr<T, B> n, const strided_view& v) : node(std::move(n)), view(v) {}
  [[nodiscard]] shape result_shape() const { return view.extents; }
};

/// A constant; broadcasts to any shape. Its backend is "any" (void).
template <real T>
struct scalar_expr : expression_base {
  using scalar_type = T;
  using backend_type = void;
  T value;
  explicit scalar_expr(T v) : value(v) {}
  [[nodiscard]] shape result_shape() const { return shape(); }
};

template <class Op, class A>
struct unary_expr : expression_base {
  using scalar_type = typename A::scalar_type;
  using backend_type = typename A::backend_type;
  Op op;
  A a;
  unary_expr(Op o, A&& x) : op(o), a(std::move(x)) {}
  [[nodiscard]] shape result_shape() const { return a.result_shape(); }
};

namespace detail {
template <class X, class Y>
using common_backend_t = std::conditional_t<std::is_void_v<X>, Y, X>;
}

template <class Op, class A, class Bx>
struct binary_expr : expression_base {
  using scalar_type = typename A::scalar_type;
  using backend_type = detail::common_backend_t<typename A::backend_type, typename Bx::backend_type>;
  Op op;
  A a;
  Bx b;
  binary_expr(Op o, A&& x, Bx&& y) : op(o), a(std::move(x)), b(std::move(y)) {}
  [[nodiscard]] shape result_shape() const { return broadcast_shapes(a.result_shape(), b.result_shape(), Op::name); }
};

/// where(c, a, b): a where c != 0, else b. No gradient flows into c.
template <class C, class A, class Bx>
struct where_expr : expression_base {
  using scalar_type = typename A::scalar_type;
  using backend_type = detail::common_backend_t<
      typename C::backend_type, detail::common_backend_t<typename A::backend_type, typename Bx::backend_type>>;
  C c;
  A a;
  Bx b;
  where_expr(C&& cond, A&& x, Bx&& y) : c(std::move(cond)), a(std::move(x)), b(std::move(y)) {}
  [[nodiscard]] shape result_shape() const {
    return broadcast_shapes(c.result_shape(), broadcast_shapes(a.result_shape(), b.result_shape(), "where"),
                            "where");
  }
};

// =============================================================== evaluators
// An evaluator is the expression tree with the leaves replaced by slot
// numbers: it holds functors and constants only. Values come from an
// *access* object that maps (slot, index) to a value:
//   flat_access   index = flat position in the broadcast index space; each
//                 slot maps it through a broadcast_reader (divisions per
//                 element) — used on the GPU, one thread per element;
//   chunk_access  index = position inside a contiguous chunk; each slot is a
//                 plain pointer (into the operand, or into a small buffer
//                 holding a broadcast value) — used on the CPU, where the
//                 chunk loop then vectorises.

/// Reads a tensor of shape `src` at the flat index of a larger broadcast index
/// space `out`: idx = Σ ((i / div_k) mod mod_k) · stride_k over the axes that
/// are not broadcast (neighbouring such axes merged). `terms < 0` means the
/// shapes are equal and idx = i.
/// Division of x in [0, 2^31) by a fixed d in [1, 2^31) as a multiply and a
/// shift: x / d == (x · m) >> k with k = 32 + ⌈log2 d⌉ and m = ⌈2^k / d⌉
/// (exact: m·d − 2^k < d ≤ 2^(k−32), so the rounding error x·(m·d − 2^k)/2^k
/// stays below 1/d for every x < 2^31; and x·m < 2^31 · (2^33 + 1) fits in 64
/// bits). A division is a long instruction sequence on a GPU; this is three.
struct fast_divisor {
  std::uint64_t m = std::uint64_t(1) << 32;
  int k = 32;

  static fast_divisor make(index_t d) {
    fast_divisor f;
    int s = 0;
    while ((index_t(1) << s) < d) ++s;
    f.k = 32 + s;
    f.m = ((std::uint64_t(1) << f.k) + std::uint64_t(d) - 1) / std::uint64_t(d);
    return f;
  }
  ATTNGAN_HD std::uint64_t divide(std::uint64_t x) const { return (x * m) >> k; }
};

inline constexpr index_t fast_index_limit = index_t(1) << 31;

template <class T>
struct broadcast_reader {
  const T* p = nullptr;
  int terms = -1;
  index_t div[4]{}, mod[4]{}, stride[4]{};
  fast_divisor fast_div[4]{}, fast_mod[4]{};
  bool fast = false;  // every div and mod below fast_index_limit (set by make)

  ATTNGAN_HD index_t index(index_t i) const {
    if (terms < 0) return i;
    index_t idx = 0;
    if (fast && i < fast_index_limit) {  // every index of every tensor AttnGAN has
      const auto u = std::uint64_t(i);
      for (int k = 0; k < terms; ++k) {
        const std::uint64_t q = fast_div[k].divide(u);
        const std::uint64_t r = q - fast_mod[k].divide(q) * std::uint64_t(mod[k]);
        idx += index_t(r) * stride[k];
      }
      return idx;
    }
    for (int k = 0; k < terms; ++k) idx += (i / div[k]) % mod[k] * stride[k];
    return idx;
  }
  ATTNGAN_HD T operator()(index_t i) const { return p[index(i)]; }

  /// Reads `v` (a view of the memory at `data`) over the index space `out`,
  /// to which v.extents broadcast.
  static broadcast_reader make(const T* data, const strided_view& v, const shape& out) {
    broadcast_reader r;
    r.p = data + v.offset;
    if (v.extents.numel() == out.numel() && v.strides == strided_view::whole(v.extents).strides)
      return r;  // same extents, contiguous: idx = i
    auto sp = v.extents.padded(), op = out.padded();
    index_t out_stride[4];
    out_stride[3] = 1;
    for (int k = 2; k >= 0; --k) out_stride[k] = out_stride[k + 1] * op[std::size_t(k + 1)];
    r.terms = 0;
    bool previous_kept = false;
    for (int k = 0; k < 4; ++k) {
      const std::size_t K = std::size_t(k);
      bool kept = sp[K] != 1;
      if (kept && previous_kept && r.stride[r.terms - 1] == v.strides[K] * sp[K]) {
        int t = r.terms - 1;  // contiguous with the axis before in both: merge
        r.mod[t] *= op[K];
        r.div[t] = out_stride[k];
        r.stride[t] = v.strides[K];
      } else if (kept) {
        r.div[r.terms] = out_stride[k];
        r.mod[r.terms] = op[K];
        r.stride[r.terms] = v.strides[K];
        ++r.terms;
      }
      previous_kept = kept;
    }
    r.fast = true;
    for (int t = 0; t < r.terms; ++t) r.fast = r.fast && r.div[t] < fast_index_limit && r.mod[t] < fast_index_limit;
    if (r.fast)
      for (int t = 0; t < r.terms; ++t) {
        r.fast_div[t] = fast_divisor::make(r.div[t]);
        r.fast_mod[t] = fast_divisor::make(r.mod[t]);
      }
    return r;
  }
};

/// N value sources over one broadcast index space: how each maps flat
/// indices, and the length of the runs in which every source is either
/// contiguous (varying) or constant. Kernels carry it by value.
template <class T, int N>
struct source_table {
  static constexpr int size = N > 0 ? N : 1;
  broadcast_reader<T> reader[size];
  bool varying[size]{};
  index_t run = 1;

  /// Sets the sources (views broadcast to `space`) and computes `run`: the
  /// innermost axes over which every source is either broadcast (constant)
  /// or kept and contiguous.
  void plan(const T* const* data, const strided_view* views, const shape& space) {
    auto sp = space.padded();
    bool known = false;
    for (int s = 0; s < N; ++s) reader[s] = broadcast_reader<T>::make(data[s], views[s], space);
    for (int k = 3; k >= 0; --k) {
      const std::size_t K = std::size_t(k);
      if (sp[K] == 1) continue;
      bool fits = true;
      for (int s = 0; s < N; ++s) {
        bool kept = views[s].extents.padded()[K] != 1;
        if (known && kept != varying[s]) fits = false;
        if (kept && views[s].strides[K] != run) fits = false;  // not contiguous with the run so far
        if (!known) varying[s] = kept;
      }
      if (!fits) {
        if (!known) {  // even the innermost axis is strided: element-wise runs
          for (int s = 0; s < N; ++s) varying[s] = views[s].extents.padded()[K] != 1;
          run = 1;
        }
        break;
      }
      known = true;
      run *= sp[K];
    }
  }
};

template <class T, int N>
struct flat_access {
  const source_table<T, N>* table;
  ATTNGAN_HD T get(int slot, index_t i) const { return table->reader[slot](i); }
};

template <class T, int N>
struct chunk_access {
  const T* p[source_table<T, N>::size];
  ATTNGAN_HD T get(int slot, index_t j) const { return p[slot][j]; }
};

namespace detail {

inline constexpr index_t chunk_length = 256;

/// Host loop over the flat range [begin, end) in chunks that never cross a
/// run: for each chunk, body(access, first_index, length) with every source
/// readable as access.p[s][0 .. length).
template <class T, int N, class Body>
void for_each_chunk(const source_table<T, N>& table, index_t begin, index_t end, Body&& body) {
  constexpr int S = source_table<T, N>::size;
  alignas(64) T constant[S][chunk_length];
  index_t filled_at[S];
  for (int s = 0; s < S; ++s) filled_at[s] = -1;
  chunk_access<T, N> acc{};
  index_t i = begin;
  while (i < end) {
    const index_t run_end = (i / table.run + 1) * table.run;
    const index_t stop = run_end < end ? run_end : end;
    const index_t len = stop - i < chunk_length ? stop - i : chunk_length;
    for (int s = 0; s < N; ++s) {
      const index_t at = table.reader[s].index(i);
      if (table.varying[s]) {
        acc.p[s] = table.reader[s].p + at;
      } else {
        if (filled_at[s] != at) {  // a new broadcast value: refill its buffer
          const T v = table.reader[s].p[at];
          for (index_t j = 0; j < chunk_length; ++j) constant[s][j] = v;
          filled_at[s] = at;
        }
        acc.p[s] = constant[s];
      }
    }
    body(acc, i, len);
    i += len;
  }
}

/// Sum of v[0 .. n) in double with eight independent partial sums, so the
/// additions pipeline.
template <class T>
double sum_in_double(const T* v, index_t n) {
  double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  index_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int u = 0; u < 8; ++u) part[u] += double(v[j + u]);
  for (; j < n; ++j) part[0] += double(v[j]);
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

struct empty_cache {};

}  // namespace detail

template <class T, int Slot>
struct leaf_eval {
  using value_type = T;
  using cache = detail::empty_cache;
  template <class Access>
  ATTNGAN_HD T eval(const Access& a, index_t i, cache&) const {
    return a.get(Slot, i);
  }
  ATTNGAN_HD void back(const cache&, T adj, T* local) const { local[Slot] += adj; }
};

template <class T>
struct scalar_eval {
  using value_type = T;
  using cache = detail::empty_cache;
  T value;
  template <class Access>
  ATTNGAN_HD T eval(const Access&, index_t, cache&) const {
    return value;
  }
  ATTNGAN_HD void back(const cache&, T, T*) const {}
};

template <class Op, class A>
struct unary_eval {
  using value_type = typename A::value_type;
  using T = value_type;
  struct cache {
    typename A::cache a;
    T x, y;
  };
  Op op;
  A a;
  template <class Access>
  ATTNGAN_HD T eval(const Access& acc, index_t i, cache& c) const {
    c.x = a.eval(acc, i, c.a);
    c.y = op(c.x);
    return c.y;
  }
  ATTNGAN_HD void back(const cache& c, T adj, T* local) const { a.back(c.a, adj * op.d(c.x, c.y), local); }
};

template <class Op, class A, class Bx>
struct binary_eval {
  using value_type = typename A::value_type;
  using T = value_type;
  struct cache {
    typename A::cache a;
    typename Bx::cache b;
    T x, z, y;
  };
  Op op;
  A a;
  Bx b;
  template <class Access>
  ATTNGAN_HD T eval(const Access& acc, index_t i, cache& c) const {
    c.x = a.eval(acc, i, c.a);
    c.z = b.eval(acc, i, c.b);
    c.y = op(c.x, c.z);
    return c.y;
  }
  ATTNGAN_HD void back(const cache& c, T adj, T* local) const {
    a.back(c.a, adj * op.da(c.x, c.z, c.y), local);
    b.back(c.b, adj * op.db(c.x, c.z, c.y), local);
  }
};

template <class C, class A, class Bx>
struct where_eval {
  using value_type = typename A::value_type;
  using T = value_type;
  struct cache {
    typename A::cache a;
    typename Bx::cache b;
    bool take_a;
  };
  C c;
  A a;
  Bx b;
  template <class Access>
  ATTNGAN_HD T eval(const Access& acc, index_t i, cache& k) const {
    typename C::cache kc;
    k.take_a = c.eval(acc, i, kc) != T(0);
    T x = a.eval(acc, i, k.a), z = b.eval(acc, i, k.b);
    return k.take_a ? x : z;
  }
  ATTNGAN_HD void back(const cache& k, T adj, T* local) const {
    a.back(k.a, k.take_a ? adj : T(0), local);
    b.back(k.b, k.take_a ? T(0) : adj, local);
  }
};

// ================================================================= lowering
// lowering<E, Base>: the evaluator type of E whose leaves take the slots
// Base, Base+1, ... (left to right); `next` is the first slot after them.
// make() builds the evaluator and appends each leaf's node to `inputs`, in
// slot order.

template <class E, int Base>
struct lowering;

template <real T, backend B, int Base>
struct lowering<leaf_expr<T, B>, Base> {
  using type = leaf_eval<T, Base>;
  static constexpr int next = Base + 1;
  template <class Inputs>
  static type make(const leaf_expr<T, B>& e, Inputs& inputs) {
    inputs.add(e.node, e.view);
    return type{};
  }
};

template <real T, int Base>
struct lowering<scalar_expr<T>, Base> {
  using type = scalar_eval<T>;
  static constexpr int next = Base;
  template <class Inputs>
  static type make(const scalar_expr<T>& e, Inputs&) {
    return type{e.value};
  }
};

template <class Op, class A, int Base>
struct lowering<unary_expr<Op, A>, Base> {
  using la = lowering<A, Base>;
  using type = unary_eval<Op, typename la::type>;
  static constexpr int next = la::next;
  template <class Inputs>
  static type make(const unary_expr<Op, A>& e, Inputs& inputs) {
    return type{e.op, la::make(e.a, inputs)};
  }
};

template <class Op, class A, class Bx, int Base>
struct lowering<binary_expr<Op, A, Bx>, Base> {
  using la = lowering<A, Base>;
  using lb = lowering<Bx, la::next>;
  using type = binary_eval<Op, typename la::type, typename lb::type>;
  static constexpr int next = lb::next;
  template <class Inputs>
  static type make(const binary_expr<Op, A, Bx>& e, Inputs& inputs) {
    auto ea = la::make(e.a, inputs);
    return type{e.op, ea, lb::make(e.b, inputs)};
  }
};

template <class C, class A, class Bx, int Base>
struct lowering<where_expr<C, A, Bx>, Base> {
  using lc = lowering<C, Base>;
  using la = lowering<A, lc::next>;
  using lb = lowering<Bx, la::next>;
  using type = where_eval<typename lc::type, typename la::type, typename lb::type>;
  static constexpr int next = lb::next;
  template <class Inputs>
  static type make(const where_expr<C, A, Bx>& e, Inputs& inputs) {
    auto ec = lc::make(e.c, inputs);
    auto ea = la::make(e.a, inputs);
    return type{ec, ea, lb::make(e.b, inputs)};
  }
};

// ================================================================== kernels
// Each kernel offers the two interfaces the backends choose from:
// operator()(i) for one element (GPU) and range(begin, end) / sum_range
// (CPU, chunked and vectorised).

namespace detail {

/// The leaves of an expression in slot order, borrowed: their nodes and the
/// view each reads. Backward passes read them from the result's node without
/// copying the vectors.
template <real T, backend B>
struct leaf_refs {
  const std::vector<node_ptr<T, B>>& nodes;
  const std::vector<strided_view>& views;
};

/// The same, owned, while an expression is lowered (the nodes then move into
/// the result's node, which keeps them alive).
template <real T, backend B>
struct leaf_list {
  std::vector<node_ptr<T, B>> nodes;
  std::vector<strided_view> views;
  void add(const node_ptr<T, B>& n, const strided_view& v) {
    nodes.push_back(n);
    views.push_back(v);
  }
  [[nodiscard]] leaf_refs<T, B> refs() const { return {nodes, views}; }
};

/// The sources of an expression over `space`: its leaves' views (slots
/// 0..K-1) and, for backward kernels, the incoming gradient (slot K).
template <real T, backend B, int N>
source_table<T, N> make_sources(const leaf_refs<T, B>& leaves, const shape& space, const T* extra = nullptr,
                                const shape* extra_shape = nullptr) {
  const T* data[source_table<T, N>::size] = {};
  strided_view views[source_table<T, N>::size];
  const int count = int(leaves.nodes.size());
  for (int s = 0; s < N && s < count; ++s) {
    data[s] = leaves.nodes[std::size_t(s)]->value.data();
    views[s] = leaves.views[std::size_t(s)];
  }
  if (extra && count < N) {
    data[count] = extra;
    views[count] = strided_view::whole(*extra_shape);
  }
  source_table<T, N> t;
  t.plan(data, views, space);
  return t;
}

template <class T, class Ev, int K>
struct assign_kernel {  // out[i] = expression(i)
  Ev ev;
  source_table<T, K> sources;
  T* out;
  ATTNGAN_HD void operator()(index_t i) const {
    typename Ev::cache c;
    out[i] = ev.eval(flat_access<T, K>{&sources}, i, c);
  }
  // The loops below work on local copies of the evaluator and the pointers:
  // a store through `o` could otherwise alias a float inside the kernel
  // object (a functor's parameter), which forces reloads and defeats
  // vectorisation.
  void range(index_t begin, index_t end) const {
    for_each_chunk(sources, begin, end, [&](const chunk_access<T, K>& chunk, index_t at, index_t len) {
      const Ev e = ev;
      const chunk_access<T, K> acc = chunk;
      T* o = out + at;
      for (index_t j = 0; j < len; ++j) {
        typename Ev::cache c;
        o[j] = e.eval(acc, j, c);
      }
    });
  }
};

template <class T, class Ev, int K>
struct value_reader {  // expression(i), for fused reductions
  Ev ev;
  source_table<T, K> sources;
  ATTNGAN_HD T operator()(index_t i) const {
    typename Ev::cache c;
    return ev.eval(flat_access<T, K>{&sources}, i, c);
  }
  double sum_range(index_t begin, index_t len) const {
    double total = 0;
    for_each_chunk(sources, begin, begin + len, [&](const chunk_access<T, K>& chunk, index_t, index_t n) {
      const Ev e = ev;
      const chunk_access<T, K> acc = chunk;
      alignas(64) T v[chunk_length];
      for (index_t j = 0; j < n; ++j) {
        typename Ev::cache c;
        v[j] = e.eval(acc, j, c);
      }
      total += sum_in_double(v, n);
    });
    return total;
  }
};

/// Pushes the adjoint alpha·g through the expression at one element; the
/// leaves' contributions land in local[0 .. K).
template <class T, class Ev, int K, class Access>
ATTNGAN_HD ATTNGAN_ALWAYS_INLINE void backprop_element(const Ev& ev, const Access& acc, index_t i, T alpha,
                                                       T* local) {
  typename Ev::cache c;
  ev.eval(acc, i, c);
  for (int j = 0; j < K; ++j) local[j] = T(0);
  ev.back(c, alpha * acc.get(K, i), local);
}

/// One fused backward pass: every leaf slot j with grads[j] != null (those
/// leaves are not broadcast: their view has the index space's extents)
/// receives its contribution, at the same place of its gradient as the view
/// reads in its value (grads[j] points at the view's offset).
template <class T, class Ev, int K>
struct backward_kernel {
  Ev ev;
  source_table<T, K + 1> sources;  // leaves, then the incoming gradient
  T alpha;
  T* grads[K];
  ATTNGAN_HD void operator()(index_t i) const {
    T local[K];
    backprop_element<T, Ev, K>(ev, flat_access<T, K + 1>{&sources}, i, alpha, local);
    for (int j = 0; j < K; ++j)
      if (grads[j]) grads[j][sources.reader[j].index(i)] += local[j];
  }
  // Host: per chunk, the contributions go to local buffers first (a loop
  // free of aliasing questions, so it vectorises), then are added to each
  // wanted gradient.
  void range(index_t begin, index_t end) const {
    for_each_chunk(sources, begin, end, [&](const chunk_access<T, K + 1>& chunk, index_t at, index_t len) {
      const Ev ev_local = ev;
      const chunk_access<T, K + 1> acc = chunk;
      const T a = alpha;
      alignas(64) T contribution[K][chunk_length];
      for (index_t e = 0; e < len; ++e) {
        T local[K];
        backprop_element<T, Ev, K>(ev_local, acc, e, a, local);
        for (int j = 0; j < K; ++j) contribution[j][e] = local[j];
      }
      for (int j = 0; j < K; ++j) {
        if (!grads[j]) continue;
        T* g = grads[j] + sources.reader[j].index(at);  // contiguous within the chunk
        const T* c = contribution[j];
        for (index_t e = 0; e < len; ++e) g[e] += c[e];
      }
    });
  }
};

/// The contribution of one leaf slot at i, for broadcast leaves whose
/// gradient is a reduction over the broadcast axes.
template <class T, class Ev, int K>
struct backward_slot_reader {
  Ev ev;
  source_table<T, K + 1> sources;
  T alpha;
  int slot;
  ATTNGAN_HD T operator()(index_t i) const {
    T local[K];
    backprop_element<T, Ev, K>(ev, flat_access<T, K + 1>{&sources}, i, alpha, local);
    return local[slot];
  }
  double sum_range(index_t begin, index_t len) const {
    double total = 0;
    for_each_chunk(sources, begin, begin + len, [&](const chunk_access<T, K + 1>& chunk, index_t, index_t n) {
      const Ev ev_local = ev;
      const chunk_access<T, K + 1> acc = chunk;
      const T a = alpha;
      const int k = slot;
      alignas(64) T v[chunk_length];
      for (index_t e = 0; e < n; ++e) {
        T local[K];
        backprop_element<T, Ev, K>(ev_local, acc, e, a, local);
        v[e] = local[k];
      }
      total += sum_in_double(v, n);
    });
    return total;
  }
};

/// grad[offset + Σ coordinate_k · stride_k] += src[i] for the contiguous
/// src of shape `v.extents`: scatters a reduced gradient into a strided view.
template <class T>
struct strided_add_kernel {
  T* grad;                    // at the view's offset
  const T* src;
  broadcast_reader<T> where;  // maps src's flat index to the view's position
  ATTNGAN_HD void operator()(index_t i) const { grad[where.index(i)] += src[i]; }
};

/// Backward of an expression evaluated over `space`, given the gradient
/// `g` laid out as `g_shape` (equal to space, or space with reduced axes of
/// extent 1), scaled by alpha.
template <real T, backend B, int K, class Ev>
void expression_backward(const Ev& ev, const shape& space, const T* g, const shape& g_shape, T alpha,
                         const leaf_refs<T, B>& leaves, const std::vector<char>& wants) {
  if constexpr (K > 0) {
    const auto sources = make_sources<T, B, K + 1>(leaves, space, g, &g_shape);
    auto direct = [&](int j) { return leaves.views[std::size_t(j)].extents.numel() == space.numel(); };
    backward_kernel<T, Ev, K> full{ev, sources, alpha, {}};
    bool any_direct = false;
    for (int j = 0; j < K; ++j) {
      full.grads[j] = nullptr;
      if (!wants[std::size_t(j)] || !direct(j)) continue;
      full.grads[j] = leaves.nodes[std::size_t(j)]->grad_buffer() + leaves.views[std::size_t(j)].offset;
      any_direct = true;
    }
    if (any_direct) primitives::for_each_index<B>(space.numel(), full);
    for (int j = 0; j < K; ++j) {  // broadcast leaves: reduce over the broadcast axes
      if (!wants[std::size_t(j)] || direct(j)) continue;
      auto& in = *leaves.nodes[std::size_t(j)];
      const strided_view& v = leaves.views[std::size_t(j)];
      const auto plan = primitives::make_reduce_plan(space, v.extents, in.op);
      const backward_slot_reader<T, Ev, K> contribution{ev, sources, alpha, j};
      if (v.is_whole(in.value.numel())) {
        primitives::reduce_sum<B>(in.grad_buffer(), plan, contribution, T(1), true);
      } else {  // a broadcast strided view: reduce, then scatter into the view
        tensor<T, B> reduced(v.extents);
        primitives::reduce_sum<B>(reduced.data(), plan, contribution, T(1), false);
        T* grad = in.grad_buffer();
        primitives::for_each_index<B>(v.extents.numel(),
                                      strided_add_kernel<T>{grad + v.offset, reduced.data(),
                                                            broadcast_reader<T>::make(grad, v, v.extents)});
      }
    }
  }
}

template <real T, backend B, class Ev, int K>
struct elementwise_node : node<T, B> {
  Ev ev;
  std::vector<strided_view> views;
  elementwise_node(const Ev& e, std::vector<strided_view> v) : ev(e), views(std::move(v)) {}
  void backward(const std::vector<char>& wants) override {
    expression_backward<T, B, K>(ev, this->value.shape(), this->grad.data(), this->value.shape(), T(1),
                                 leaf_refs<T, B>{this->inputs, views}, wants);
  }
};

template <real T, backend B, class Ev, int K>
struct reduction_node : node<T, B> {
  Ev ev;
  std::vector<strided_view> views;
  shape space, kept;  // the expression's shape; the result with reduced axes as 1
  T alpha;
  reduction_node(const Ev& e, std::vector<strided_view> v, const shape& s, const shape& k, T a)
      : ev(e), views(std::move(v)), space(s), kept(k), alpha(a) {}
  void backward(const std::vector<char>& wants) override {
    expression_backward<T, B, K>(ev, space, this->grad.data(), kept, alpha, leaf_refs<T, B>{this->inputs, views},
                                 wants);
  }
};

/// Evaluates an expression into a new node (one kernel, one allocation).
template <expression E>
auto materialise(const E& e) {
  using T = typename E::scalar_type;
  using B = typename E::backend_type;
  using L = lowering<E, 0>;
  constexpr int K = L::next;
  const shape out = e.result_shape();
  leaf_list<T, B> leaves;
  leaves.nodes.reserve(std::size_t(K));
  leaves.views.reserve(std::size_t(K));
  auto ev = L::make(e, leaves);
  tensor<T, B> value(out);
  primitives::for_each_index<B>(
      out.numel(), assign_kernel<T, decltype(ev), K>{ev, make_sources<T, B, K>(leaves.refs(), out), value.data()});
  return make_result<elementwise_node<T, B, decltype(ev), K>>(std::move(value), std::move(leaves.nodes),
                                                              "elementwise", ev, std::move(leaves.views));
}

/// Sums an expression over the axes where `kept` has extent 1, scaled by
/// alpha (1 for sum, 1/count for mean), into a tensor of shape `result`
/// (kept itself, or kept without the reduced axes).
template <expression E>
auto materialise_reduction(const E& e, const shape& kept, const shape& result, typename E::scalar_type alpha,
                           const char* op) {
  using T = typename E::scalar_type;
  using B = typename E::backend_type;
  using L = lowering<E, 0>;
  constexpr int K = L::next;
  const shape space = e.result_shape();
  leaf_list<T, B> leaves;
  auto ev = L::make(e, leaves);
  tensor<T, B> value(result);
  primitives::reduce_sum<B>(value.data(), primitives::make_reduce_plan(space, kept, op),
                            value_reader<T, decltype(ev), K>{ev, make_sources<T, B, K>(leaves.refs(), space)}, alpha,
                            false);
  return make_result<reduction_node<T, B, decltype(ev), K>>(std::move(value), std::move(leaves.nodes), op, ev,
                                                            std::move(leaves.views), space, kept, alpha);
}

}  // namespace detail
}  // namespace attngan
