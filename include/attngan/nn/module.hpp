// attngan/nn/module.hpp — layers as types, named parameters, one arena per network.
//
// A layer is a *spec*: a type whose template arguments are its
// hyperparameters (`conv2d<64, 128, 3, 3, 1, 1>`), with a nested
// `module<T, Backend>` holding its state for one scalar type and backend.
// Specs compose as flat typed lists (`sequential<...>`) and named blocks; the
// scalar type and backend are chosen once, for a whole network:
//
//     nn::network<up_block<64, 32>, float, cpu> net(rng);
//
// Every module lists its tensors through `visit(v)`, in the order PyTorch's
// state_dict lists them (a module's parameters, then its buffers, then its
// children): v.parameter(name, var, shape), v.buffer(name, var, shape),
// v.child(name, module), v.mode(training_flag). Names therefore equal the
// PyTorch keys, Sequential indices included (`upsample1.1.weight`,
// `upsample1.2.running_mean`), which is what golden tests and checkpoint
// import rely on. The network places all parameters in one contiguous arena
// (values and gradients), so an optimiser step is one pass and zeroing the
// gradients one fill.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attngan/autodiff/backward.hpp"
#include "attngan/backend/cpu/cpu.hpp"  // the default backend of network<>
#include "attngan/autodiff/var.hpp"
#include "attngan/core/random.hpp"

namespace attngan::nn {

enum class bias : bool { no = false, yes = true };

enum class tensor_kind { parameter, buffer };

/// The module of a spec for one scalar type and backend.
template <class Spec, real T, backend B>
using module_of = typename Spec::template module<T, B>;

/// A spec's channel interface, for the compile-time checks of sequential:
/// `in_channels` (0 = accepts any) and `out_channels_for(c)`.
template <class Spec>
concept channel_spec = requires {
  { Spec::in_channels } -> std::convertible_to<int>;
  { Spec::out_channels_for(1) } -> std::convertible_to<int>;
};

/// Calls f(full_name, var&, shape, kind) for every tensor of a module tree,
/// in state_dict order.
template <class F>
struct tensor_visitor {
  F& f;
  std::string prefix;
  template <class V>
  void parameter(std::string_view name, V& v, const shape& s) {
    f(prefix + std::string(name), v, s, tensor_kind::parameter);
  }
  template <class V>
  void buffer(std::string_view name, V& v, const shape& s) {
    f(prefix + std::string(name), v, s, tensor_kind::buffer);
  }
  template <class M>
  void child(std::string_view name, M& m) {
    tensor_visitor<F> sub{f, prefix + std::string(name) + "."};
    m.visit(sub);
  }
  void mode(bool&) {}
};

template <class M, class F>
void for_each_tensor(M& m, F&& f) {
  tensor_visitor<std::remove_reference_t<F>> v{f, ""};
  m.visit(v);
}

/// A visitor that ignores everything; the visitors below override what they use.
struct null_visitor {
  template <class V>
  void parameter(std::string_view, V&, const shape&) {}
  template <class V>
  void buffer(std::string_view, V&, const shape&) {}
  template <class M>
  void child(std::string_view, M&) {}
  void mode(bool&) {}
};

/// Sets every module's training flag.
struct mode_visitor : null_visitor {
  bool training;
  explicit mode_visitor(bool on) : training(on) {}
  template <class M>
  void child(std::string_view, M& m) {
    m.visit(*this);
  }
  void mode(bool& flag) { flag = training; }
};

/// Calls m.reset_parameters(rng) on every module of the tree that has one,
/// children first in visit order (PyTorch initialises in construction order).
struct init_visitor : null_visitor {
  generator& rng;
  explicit init_visitor(generator& g) : rng(g) {}
  template <class M>
  void child(std::string_view, M& m) {
    apply(m);
  }
  template <class M>
  void apply(M& m) {
    if constexpr (requires { m.reset_parameters(rng); }) m.reset_parameters(rng);
    m.visit(*this);
  }
};

/// One name of a network's state, with its place in the arena.
struct state_entry {
  std::string name;
  shape extents;
  tensor_kind kind;
  index_t offset;  // in the parameter arena (parameters) or buffer arena (buffers)
};

/// Owns a module tree of Spec for T and Backend, and the arenas behind its
/// parameters (values and gradients) and buffers.
template <class Spec, real T = float, backend B = cpu>
class network {
 public:
  using module_type = module_of<Spec, T, B>;
  using var_type = var<T, B>;

  /// Builds the module tree, lays out the arenas and initialises the
  /// parameters as PyTorch would (each module's reset_parameters).
  explicit network(generator& rng, module_type m = module_type{}) : module_(std::move(m)) {
    index_t params = 0, buffers = 0;
    for_each_tensor(module_, [&](const std::string& name, var_type&, const shape& s, tensor_kind k) {
      index_t& next = k == tensor_kind::parameter ? params : buffers;
      entries_.push_back({name, s, k, next});
      next += s.numel();
    });
    values_ = tensor<T, B>::zeros(shape(params));
    grads_ = tensor<T, B>::zeros(shape(params));
    buffers_ = tensor<T, B>::zeros(shape(buffers));
    std::size_t i = 0;
    for_each_tensor(module_, [&](const std::string&, var_type& v, const shape& s, tensor_kind k) {
      const state_entry& e = entries_[i++];
      if (k == tensor_kind::parameter) {
        v = var_type::leaf(values_.subview(e.offset, s), true);
        v.node()->grad = grads_.subview(e.offset, s);
        v.node()->grad_is_persistent = true;
        parameters_.push_back(v);
      } else {
        v = var_type::leaf(buffers_.subview(e.offset, s), false);
      }
    });
    init_visitor init{rng};
    init.apply(module_);
  }

  network(const network&) = delete;
  network& operator=(const network&) = delete;

  template <class... Args>
  decltype(auto) operator()(Args&&... args) {
    return module_(std::forward<Args>(args)...);
  }

  module_type& module() { return module_; }
  module_type* operator->() { return &module_; }

  /// Names, shapes and arena offsets in state_dict order.
  [[nodiscard]] const std::vector<state_entry>& entries() const { return entries_; }
  /// The trainable parameters, in state_dict order.
  [[nodiscard]] const std::vector<var_type>& parameters() const { return parameters_; }
  [[nodiscard]] index_t parameter_count() const { return values_.numel(); }

  /// Contiguous storage of all parameter values / gradients / buffers.
  tensor<T, B>& parameter_arena() { return values_; }
  tensor<T, B>& gradient_arena() { return grads_; }
  tensor<T, B>& buffer_arena() { return buffers_; }

  /// One fill of the gradient arena.
  void zero_grad() { grads_.fill(T(0)); }

  void train(bool on = true) {
    mode_visitor v{on};
    module_.visit(v);
    training_ = on;
  }
  void eval() { train(false); }
  [[nodiscard]] bool training() const { return training_; }

  /// Points the modules at other parameter vars — same order and shapes as
  /// parameters() — such as the leaves gradcheck differentiates, or vars
  /// computed from others (hypernetworks). use_own_parameters() undoes it.
  void use_parameters(const std::vector<var_type>& replacement) {
    if (replacement.size() != parameters_.size())
      throw value_error("network::use_parameters", attngan::detail::cat(replacement.size(), " vars for ",
                                                                        parameters_.size(), " parameters"));
    std::size_t i = 0;
    for_each_tensor(module_, [&](const std::string& name, var_type& v, const shape& s, tensor_kind k) {
      if (k != tensor_kind::parameter) return;
      const var_type& r = replacement[i++];
      if (!(r.shape() == s))
        throw shape_error("network::use_parameters", attngan::detail::cat(name, " has shape ", s, ", got ", r.shape()));
      v = r;
    });
  }
  void use_own_parameters() { use_parameters(parameters_); }

  /// The value of a parameter or buffer by its PyTorch name.
  [[nodiscard]] tensor<T, B> state(std::string_view name) {
    for (const auto& e : entries_)
      if (e.name == name)
        return (e.kind == tensor_kind::parameter ? values_ : buffers_).subview(e.offset, e.extents);
    throw value_error("network::state", detail::cat("no parameter or buffer named '", name, "'"));
  }

 private:
  module_type module_;
  std::vector<state_entry> entries_;
  std::vector<var_type> parameters_;
  tensor<T, B> values_, grads_, buffers_;
  bool training_ = true;
};

}  // namespace attngan::nn
