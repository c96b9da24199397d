// attngan/autodiff/backward.hpp — the public entry points of reverse mode.
#pragma once

#include <vector>

#include "attngan/autodiff/tape.hpp"
#include "attngan/autodiff/var.hpp"

namespace attngan {

/// Accumulates d loss / d leaf into every leaf that requires a gradient. The
/// loss must hold one element.
template <real T, backend B>
void backward(const var<T, B>& loss) {
  if (loss.numel() != 1)
    throw autodiff_error("backward", detail::cat("the loss has shape ", loss.shape(),
                                                 "; reduce it to one element or pass its gradient"));
  detail::run_backward<T, B>(loss.node(), tensor<T, B>::full(loss.shape(), T(1)), nullptr);
}

/// Backward from a non-scalar output with the given upstream gradient.
template <real T, backend B>
void backward(const var<T, B>& output, tensor<T, B> d_output) {
  if (!(d_output.shape() == output.shape()))
    throw shape_error("backward", detail::cat("gradient of shape ", d_output.shape(), " for an output of shape ",
                                              output.shape()));
  detail::run_backward<T, B>(output.node(), std::move(d_output), nullptr);
}

/// Accumulates gradients into the given leaves only; the parts of the graph
/// that lead to none of them are not differentiated.
template <real T, backend B>
void backward(const var<T, B>& loss, const std::vector<var<T, B>>& leaves) {
  if (loss.numel() != 1)
    throw autodiff_error("backward", detail::cat("the loss has shape ", loss.shape(),
                                                 "; reduce it to one element first"));
  std::vector<detail::node<T, B>*> only;
  only.reserve(leaves.size());
  for (const auto& l : leaves) {
    if (!l.is_leaf())
      throw autodiff_error("backward", detail::cat("the restriction lists a non-leaf (", l.node()->op, ", shape ",
                                                   l.shape(), "); list parameters or inputs"));
    only.push_back(l.node().get());
  }
  detail::run_backward<T, B>(loss.node(), tensor<T, B>::full(loss.shape(), T(1)), &only);
}

/// Drops the gradients of the given vars.
template <real T, backend B>
void zero_grad(std::vector<var<T, B>>& vars) {
  for (auto& v : vars) v.zero_grad();
}

}  // namespace attngan
