// attngan/autodiff/tape.hpp — the reverse-mode tape: nodes, grad mode, backward.
//
// Every `var` is a handle to a node. A node holds its value, its gradient
// (allocated on first use), the nodes it was computed from and a sequence
// number; creation order is a topological order, so the tape is the set of
// nodes reachable from a loss, sorted by sequence number. Nodes are reference
// counted: a graph lives exactly as long as some var refers to it, which is
// what a GAN step needs — D runs on real and on detached fake images and is
// differentiated, then G's graph (still alive) is differentiated through D
// again.
//
// backward(loss) seeds d loss = 1 and visits the reachable nodes in reverse
// creation order; each node adds its inputs' gradients. Leaves (parameters,
// inputs) accumulate across calls until zeroed; intermediate gradients are
// freed as soon as their node has propagated them. backward(loss, leaves)
// computes gradients for the given leaves only: nodes that lead to none of
// them are skipped, so D's step never pays for G's backward.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <unordered_set>
#include <utility>
#include <vector>

#include "attngan/backend/primitives.hpp"
#include "attngan/core/error.hpp"
#include "attngan/core/tensor.hpp"

namespace attngan {

namespace detail {

inline std::uint64_t next_node_sequence() {
  static std::atomic<std::uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

inline bool& grad_mode_flag() {
  thread_local bool enabled = true;
  return enabled;
}

template <class T>
struct add_into_kernel {  // dst[i] += src[i]
  T* dst;
  const T* src;
  ATTNGAN_HD void operator()(index_t i) const { dst[i] += src[i]; }
};

template <real T, backend B>
struct node {
  using tensor_type = tensor<T, B>;
  using pointer = std::shared_ptr<node>;

  tensor_type value;
  tensor_type grad;             ///< undefined until a gradient arrives
  std::vector<pointer> inputs;  ///< what this node was computed from
  std::uint64_t sequence = next_node_sequence();
  bool requires_grad = false;
  bool is_leaf = true;
  bool grad_is_persistent = false;  ///< grad is a view into an arena: zeroed, never dropped
  const char* op = "leaf";

  node() = default;
  node(tensor_type v, bool needs_grad, const char* name)
      : value(std::move(v)), requires_grad(needs_grad), op(name) {}
  node(const node&) = delete;
  node& operator=(const node&) = delete;
  virtual ~node() = default;

  /// Adds d loss / d inputs[k] into inputs[k]->grad for every k with wants[k],
  /// given this->grad. Leaves have nothing to propagate.
  virtual void backward(const std::vector<char>& /*wants*/) {}

  /// The gradient buffer, zero-filled when it did not exist yet.
  T* grad_buffer() {
    if (!grad.defined()) grad = tensor_type::zeros(value.shape());
    return grad.data();
  }

  /// grad += src (src has value's shape).
  void accumulate_grad(const T* src) {
    if (!grad.defined()) {
      grad = tensor_type(value.shape());
      B::copy_within(grad.data(), src, std::size_t(value.numel()) * sizeof(T));
      return;
    }
    primitives::for_each_index<B>(value.numel(), add_into_kernel<T>{grad.data(), src});
  }
};

template <real T, backend B>
using node_ptr = std::shared_ptr<node<T, B>>;

/// True when new nodes should record their inputs: grad mode is on and some
/// input requires a gradient.
template <real T, backend B>
bool records(const std::vector<node_ptr<T, B>>& inputs) {
  if (!grad_mode_flag()) return false;
  for (const auto& n : inputs)
    if (n->requires_grad) return true;
  return false;
}

/// Wraps a freshly computed value as a node of the graph: a constant when
/// nothing needs a gradient, else a node of type Node (derived from node<T,B>)
/// that remembers its inputs.
template <class Node, real T, backend B, class... Args>
node_ptr<T, B> make_result(tensor<T, B> value, std::vector<node_ptr<T, B>> inputs, const char* op,
                           Args&&... args) {
  if (!records(inputs)) return std::make_shared<node<T, B>>(std::move(value), false, op);
  auto n = std::make_shared<Node>(std::forward<Args>(args)...);
  n->value = std::move(value);
  n->inputs = std::move(inputs);
  n->requires_grad = true;
  n->is_leaf = false;
  n->op = op;
  return n;
}

template <real T, backend B>
void run_backward(const node_ptr<T, B>& root, tensor<T, B> seed, const std::vector<node<T, B>*>* only) {
  if (!root->requires_grad)
    throw autodiff_error("backward", detail::cat("the loss (", root->op, ", shape ", root->value.shape(),
                                                 ") does not depend on anything that requires a gradient"));
  // Collect the reachable part of the graph that carries gradients.
  std::vector<node<T, B>*> order;
  std::unordered_set<node<T, B>*> seen;
  std::vector<node<T, B>*> stack{root.get()};
  seen.insert(root.get());
  while (!stack.empty()) {
    node<T, B>* n = stack.back();
    stack.pop_back();
    order.push_back(n);
    for (const auto& in : n->inputs)
      if (in->requires_grad && seen.insert(in.get()).second) stack.push_back(in.get());
  }
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->sequence < b->sequence; });

  // needed: the node is a requested leaf or leads to one (inputs come earlier).
  std::unordered_set<node<T, B>*> needed;
  std::unordered_set<node<T, B>*> targets;
  if (only) targets.insert(only->begin(), only->end());
  for (node<T, B>* n : order) {
    bool need;
    if (n->is_leaf) {
      need = only ? targets.count(n) > 0 : n->requires_grad;
    } else {
      need = false;
      for (const auto& in : n->inputs) need = need || needed.count(in.get()) > 0;
    }
    if (need) needed.insert(n);
  }
  if (!needed.count(root.get())) return;  // none of the requested leaves is reachable

  if (root->grad.defined())
    root->accumulate_grad(seed.data());
  else
    root->grad = std::move(seed);

  std::vector<char> wants;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    node<T, B>* n = *it;
    if (n->is_leaf || !needed.count(n) || !n->grad.defined()) continue;
    wants.assign(n->inputs.size(), 0);
    for (std::size_t k = 0; k < n->inputs.size(); ++k) wants[k] = needed.count(n->inputs[k].get()) > 0;
    n->backward(wants);
    n->grad = tensor<T, B>();  // intermediate gradients are not kept
  }
}

}  // namespace detail

/// Within the scope of a no_grad_guard, results record no graph (evaluation,
/// frozen encoders, EMA updates). Scopes nest.
class no_grad_guard {
 public:
  no_grad_guard() : previous_(detail::grad_mode_flag()) { detail::grad_mode_flag() = false; }
  no_grad_guard(const no_grad_guard&) = delete;
  no_grad_guard& operator=(const no_grad_guard&) = delete;
  ~no_grad_guard() { detail::grad_mode_flag() = previous_; }

 private:
  bool previous_;
};

/// Runs f() with graph recording off and returns its result.
template <class F>
decltype(auto) no_grad(F&& f) {
  no_grad_guard guard;
  return std::forward<F>(f)();
}

/// Whether operations on this thread currently record a graph.
inline bool grad_enabled() { return detail::grad_mode_flag(); }

}  // namespace attngan
