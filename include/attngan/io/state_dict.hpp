// attngan/io/state_dict.hpp — networks' parameters and buffers in safetensors
// files, under their PyTorch state_dict names.
//
//   io::safetensors_file f;
//   io::put_state(f, netG, "netG.");        // netG.ca_net.fc.weight, ...
//   io::write_safetensors("G.safetensors", f);
//   ...
//   io::load_state(io::read_safetensors("G.safetensors"), netG, "netG.");
//
// Loading is all-or-nothing: every key is checked first — names, shapes and
// dtypes (any floating dtype converts to the network's, as load_state_dict
// copies) — and one error lists ALL missing keys, unexpected keys (those under
// the prefix that the network does not have), mis-shaped keys (with both
// shapes) and keys of a non-floating dtype; only then is anything written. A
// `<module>.num_batches_tracked` key (PyTorch ≥ 0.4.1 BatchNorm buffers; the
// library's batch norms keep running_mean and running_var only) is accepted
// and ignored when its module's running_mean is part of the network.
//
// The slot layer underneath (state_slot, state_check) is what checkpoint.hpp
// builds on to store arenas laid out like a network's parameters (EMA
// average, Adam moments) under parameter names.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "attngan/core/error.hpp"
#include "attngan/core/tensor.hpp"
#include "attngan/io/safetensors.hpp"
#include "attngan/nn/module.hpp"

namespace attngan::io {

/// One named tensor of a state: where its values live (a view into an arena).
template <real T, backend B>
struct state_slot {
  std::string name;
  tensor<T, B> storage;
};

/// The parameters and buffers of `net` as slots named prefix + PyTorch name,
/// in state_dict order.
template <class Spec, real T, backend B>
std::vector<state_slot<T, B>> network_slots(nn::network<Spec, T, B>& net, std::string_view prefix = "") {
  std::vector<state_slot<T, B>> slots;
  for (const auto& e : net.entries()) {
    auto& arena = e.kind == nn::tensor_kind::parameter ? net.parameter_arena() : net.buffer_arena();
    slots.push_back({std::string(prefix) + e.name, arena.subview(e.offset, e.extents)});
  }
  return slots;
}

/// Slots over `arena` laid out as net's parameter arena (an EMA average, Adam
/// moments), named prefix + parameter name.
template <class Spec, real T, backend B>
std::vector<state_slot<T, B>> parameter_slots(nn::network<Spec, T, B>& net, const tensor<T, B>& arena,
                                              std::string_view prefix) {
  if (!(arena.shape() == net.parameter_arena().shape()))
    throw shape_error("io::parameter_slots", detail::cat("arena ", arena.shape(), " is not laid out as the ",
                                                         net.parameter_arena().shape(), " parameters"));
  std::vector<state_slot<T, B>> slots;
  for (const auto& e : net.entries())
    if (e.kind == nn::tensor_kind::parameter)
      slots.push_back({std::string(prefix) + e.name, arena.subview(e.offset, e.extents)});
  return slots;
}

/// Copies every slot into the file (through the host).
template <real T, backend B>
void put_slots(safetensors_file& f, const std::vector<state_slot<T, B>>& slots) {
  for (const auto& s : slots) f.put(s.name, s.storage);
}

/// What a file lacks or has too much of, gathered over several groups of
/// slots and scalars, then thrown as one value_error.
class state_check {
 public:
  std::vector<std::string> missing, unexpected, misshaped, wrong_dtype;

  [[nodiscard]] bool ok() const {
    return missing.empty() && unexpected.empty() && misshaped.empty() && wrong_dtype.empty();
  }

  /// Checks `slots` against `f`: each must be present, of a floating dtype,
  /// with the slot's shape.
  template <real T, backend B>
  void check_slots(const safetensors_file& f, const std::vector<state_slot<T, B>>& slots) {
    for (const auto& s : slots) {
      if (!f.contains(s.name)) {
        missing.push_back(s.name);
        continue;
      }
      const stored_tensor& t = f.at(s.name);
      if (!same_extents(t.dims, s.storage.shape()))
        misshaped.push_back(detail::cat(s.name, " (file ", t.dims_string(), ", expected ", s.storage.shape(), ")"));
      else if (!t.is_floating())
        wrong_dtype.push_back(detail::cat(s.name, " (", dtype_name(t.type), ", expected a floating dtype)"));
    }
  }

  /// Checks a rank-0 (or one-element) tensor of exactly `type`.
  void check_scalar(const safetensors_file& f, const std::string& name, dtype type) {
    if (!f.contains(name)) {
      missing.push_back(name);
      return;
    }
    const stored_tensor& t = f.at(name);
    if (t.numel() != 1)
      misshaped.push_back(detail::cat(name, " (file ", t.dims_string(), ", expected one value)"));
    else if (t.type != type)
      wrong_dtype.push_back(detail::cat(name, " (", dtype_name(t.type), ", expected ", dtype_name(type), ")"));
  }

  /// Every key of `f` starting with one of `prefixes` that is not in
  /// `expected` is unexpected — except prefix.X.num_batches_tracked when
  /// prefix.X.running_mean is expected.
  void check_unexpected(const safetensors_file& f, const std::vector<std::string>& prefixes,
                        const std::unordered_set<std::string>& expected) {
    static constexpr std::string_view tracked = "num_batches_tracked";
    for (const auto& [name, t] : f.tensors()) {
      bool claimed = false;
      for (const auto& p : prefixes) claimed = claimed || name.starts_with(p);
      if (!claimed || expected.count(name)) continue;
      if (name.ends_with(tracked) &&
          expected.count(name.substr(0, name.size() - tracked.size()) + "running_mean"))
        continue;
      unexpected.push_back(name);
    }
  }

  /// value_error (op, naming `source` when not empty) listing everything
  /// found, when anything was.
  void throw_if_failed(const char* op, const std::string& source, std::string_view what) const {
    if (ok()) return;
    std::string msg = source.empty() ? std::string() : "'" + source + "': ";
    msg += detail::cat(what, " does not match");
    auto list = [&](const std::vector<std::string>& keys, const char* one, const char* many) {
      if (keys.empty()) return;
      msg += detail::cat("; ", keys.size(), " ", keys.size() == 1 ? one : many, ": ");
      for (std::size_t i = 0; i < keys.size(); ++i) msg += (i ? ", " : "") + keys[i];
    };
    list(missing, "missing key", "missing keys");
    list(unexpected, "unexpected key", "unexpected keys");
    list(misshaped, "mis-shaped key", "mis-shaped keys");
    list(wrong_dtype, "key of a wrong dtype", "keys of a wrong dtype");
    throw value_error(op, msg);
  }

 private:
  static bool same_extents(const std::vector<std::int64_t>& dims, const shape& s) {
    if (dims.size() != std::size_t(s.rank())) return false;
    for (int i = 0; i < s.rank(); ++i)
      if (dims[std::size_t(i)] != std::int64_t(s[i])) return false;
    return true;
  }
};

/// Copies the file's values into the slots (after state_check found nothing).
template <real T, backend B>
void write_slots(const safetensors_file& f, std::vector<state_slot<T, B>>& slots) {
  for (auto& s : slots) {
    const std::vector<T> host = f.at(s.name).template converted<T>();
    if (!host.empty()) B::copy_from_host(s.storage.data(), host.data(), host.size() * sizeof(T));
  }
}

/// Puts net's parameters and buffers into `f` under prefix + PyTorch name.
template <class Spec, real T, backend B>
void put_state(safetensors_file& f, nn::network<Spec, T, B>& net, std::string_view prefix = "") {
  put_slots(f, network_slots(net, prefix));
}

/// Loads net's parameters and buffers from the keys of `f` under `prefix`
/// (all keys when the prefix is empty); see the header note. Nothing is
/// written when anything does not match.
template <class Spec, real T, backend B>
void load_state(const safetensors_file& f, nn::network<Spec, T, B>& net, std::string_view prefix = "") {
  auto slots = network_slots(net, prefix);
  state_check check;
  check.check_slots(f, slots);
  std::unordered_set<std::string> expected;
  for (const auto& s : slots) expected.insert(s.name);
  check.check_unexpected(f, {std::string(prefix)}, expected);
  check.throw_if_failed("io::load_state", f.source(),
                        prefix.empty() ? std::string("the network's state")
                                       : detail::cat("the state under '", prefix, "'"));
  write_slots(f, slots);
}

/// One network to a file of its own (atomically), with string metadata.
template <class Spec, real T, backend B>
void save_state(const std::filesystem::path& path, nn::network<Spec, T, B>& net,
                const std::map<std::string, std::string>& metadata = {}, std::string_view prefix = "") {
  safetensors_file f;
  f.metadata = metadata;
  put_state(f, net, prefix);
  write_safetensors(path, f);
}

/// Reads a file and loads `net` from it; returns the file's metadata.
template <class Spec, real T, backend B>
std::map<std::string, std::string> load_state(const std::filesystem::path& path, nn::network<Spec, T, B>& net,
                                              std::string_view prefix = "") {
  const safetensors_file f = read_safetensors(path);
  load_state(f, net, prefix);
  return f.metadata;
}

}  // namespace attngan::io
