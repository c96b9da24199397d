// attngan/io/torch_import.hpp — reading PyTorch checkpoints (`torch.save(
// module.state_dict())`) without Python, and copying them into a network.
//
// Two containers (spec §13.2):
//  * the legacy format (PyTorch < 1.6, the released AttnGAN files): five
//    pickles back to back — the magic number 0x1950a86a20f9469cfc6c, the
//    protocol version 1001, sys_info (a dict; little_endian must be true),
//    the state_dict itself, the list of storage keys — then, for each key of
//    that list in order, the storage as an int64 element count followed by
//    count × element-size raw little-endian bytes;
//  * the zip format (PyTorch ≥ 1.6): an uncompressed zip archive holding
//    <prefix>/data.pkl (the state_dict pickle) and <prefix>/data/<key> (each
//    storage's raw bytes), plus <prefix>/version and, in newer versions,
//    <prefix>/byteorder (which must say "little").
// In both, a tensor is pickled as a call of torch._utils._rebuild_tensor_v2
// (storage, storage_offset, size, stride, requires_grad, backward_hooks
// [, metadata]) — or _rebuild_tensor(storage, offset, size, stride) in files
// of PyTorch ≤ 0.3 — whose storage is a persistent id ('storage', storage
// type such as torch.FloatStorage, key, location, numel[, view_metadata]).
// The state_dict is a collections.OrderedDict (Python 2 pickles it as
// OrderedDict([[key, value], ...]), Python 3 as OrderedDict() followed by
// SETITEMS and a BUILD of its _metadata) or a plain dict.
//
// The unpickler is data/pickle.hpp's bounded plain-data machine (no
// recursion, limits checked before allocating, every error an io_error naming
// the file, the byte offset in the file and the opcode), extended with the
// class opcodes a state_dict needs — GLOBAL / STACK_GLOBAL of a whitelist
// (collections.OrderedDict, torch._utils._rebuild_tensor, _rebuild_tensor_v2,
// _rebuild_parameter, torch.{Float,Double,Half,BFloat16,Long,Int,Short,Char,
// Byte,Bool}Storage and their torch.cuda twins — the original code saved its
// models from the GPU; everything is read to the host), REDUCE and NEWOBJ of those, BUILD of an OrderedDict's
// attributes, BINPERSID of storage ids. Any other global (os.system, a model
// class, numpy) is refused, named in the message, before anything is called —
// nothing is ever called: the "calls" only record what to build.
//
// Tensors are materialised contiguous: sizes, strides (views such as a
// transpose or an expand are copied) and storage offsets are honoured, and
// the largest element a view reaches is checked against its storage's size;
// storage views of the legacy format (view_metadata) likewise. The result is
// bounded (torch_import_limits): the file size, the number of tensors, their
// rank, and the bytes produced (at most max_expansion times the file size,
// so stride-0 views cannot blow up memory), all checked before allocating.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "attngan/core/error.hpp"
#include "attngan/data/file_io.hpp"
#include "attngan/data/pickle.hpp"
#include "attngan/nn/module.hpp"

namespace attngan::io {

/// Element types of PyTorch storages this reader accepts.
enum class torch_dtype : std::uint8_t {
  float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, boolean
};

/// "float32", "float64", ... (PyTorch's names without "torch.").
inline std::string_view dtype_name(torch_dtype d) {
  switch (d) {
    case torch_dtype::float32: return "float32";
    case torch_dtype::float64: return "float64";
    case torch_dtype::float16: return "float16";
    case torch_dtype::bfloat16: return "bfloat16";
    case torch_dtype::int64: return "int64";
    case torch_dtype::int32: return "int32";
    case torch_dtype::int16: return "int16";
    case torch_dtype::int8: return "int8";
    case torch_dtype::uint8: return "uint8";
    case torch_dtype::boolean: return "bool";
  }
  return "?";
}

inline std::size_t element_size(torch_dtype d) {
  switch (d) {
    case torch_dtype::float64:
    case torch_dtype::int64: return 8;
    case torch_dtype::float32:
    case torch_dtype::int32: return 4;
    case torch_dtype::float16:
    case torch_dtype::bfloat16:
    case torch_dtype::int16: return 2;
    default: return 1;
  }
}

inline bool is_floating(torch_dtype d) {
  return d == torch_dtype::float32 || d == torch_dtype::float64 || d == torch_dtype::float16 ||
         d == torch_dtype::bfloat16;
}

namespace detail::torch {

using attngan::detail::cat;

/// IEEE binary16 bits to float (subnormals, infinities and NaN included).
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu;
  std::uint32_t mantissa = h & 0x3FFu;
  std::uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    std::uint32_t e = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(bits);
}

/// n little-endian bytes at p as an unsigned integer.
inline std::uint64_t little_endian(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t(p[i]) << (8 * i);
  return v;
}

/// Element i of little-endian data of dtype d, as T.
template <class T>
T element(const std::uint8_t* data, torch_dtype d, std::size_t i) {
  const std::uint8_t* p = data + i * element_size(d);
  switch (d) {
    case torch_dtype::float32: return T(std::bit_cast<float>(std::uint32_t(little_endian(p, 4))));
    case torch_dtype::float64: return T(std::bit_cast<double>(little_endian(p, 8)));
    case torch_dtype::float16: return T(half_to_float(std::uint16_t(little_endian(p, 2))));
    case torch_dtype::bfloat16: return T(std::bit_cast<float>(std::uint32_t(little_endian(p, 2)) << 16));
    case torch_dtype::int64: return T(std::int64_t(little_endian(p, 8)));
    case torch_dtype::int32: return T(std::int32_t(std::uint32_t(little_endian(p, 4))));
    case torch_dtype::int16: return T(std::int16_t(std::uint16_t(little_endian(p, 2))));
    case torch_dtype::int8: return T(std::int8_t(p[0]));
    case torch_dtype::uint8: return T(p[0]);
    case torch_dtype::boolean: return T(p[0] != 0 ? 1 : 0);
  }
  return T(0);
}

/// "(2, 3)"; "()" for a scalar.
inline std::string dims_string(const std::vector<std::int64_t>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + ")";
}

}  // namespace detail::torch

/// One tensor of a checkpoint: its state_dict name, element type, shape and
/// its elements, contiguous in row-major order, as little-endian bytes.
struct torch_tensor {
  std::string name;
  torch_dtype dtype = torch_dtype::float32;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> data;

  [[nodiscard]] std::int64_t numel() const {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  /// The elements converted to T (half and bfloat16 through float).
  template <class T>
  [[nodiscard]] std::vector<T> values() const {
    std::vector<T> out(static_cast<std::size_t>(numel()));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = detail::torch::element<T>(data.data(), dtype, i);
    return out;
  }
};

/// A checkpoint's tensors in saved order.
struct torch_state_dict {
  std::string source;  ///< the file, for messages
  std::string format;  ///< "legacy" or "zip"
  std::vector<torch_tensor> tensors;

  [[nodiscard]] std::size_t size() const { return tensors.size(); }
  /// The tensor named `name`, or nullptr.
  [[nodiscard]] const torch_tensor* find(std::string_view name) const {
    for (const auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
};

/// Bounds of one import, each checked before the memory it guards is allocated.
struct torch_import_limits {
  std::uint64_t max_file_bytes = std::uint64_t(4) << 30;  ///< the whole file is read into memory
  data::pickle_limits pickle{};                           ///< each pickle (its max_file_bytes is not used)
  std::size_t max_tensors = std::size_t(1) << 20;
  std::size_t max_rank = 16;
  std::size_t max_zip_entries = std::size_t(1) << 20;
  /// The tensors produced hold at most this many times the file's bytes
  /// (plus 1 MiB): a view with zero strides could otherwise expand a few
  /// bytes of storage into any size.
  std::uint64_t max_expansion = 4;
};

namespace detail::torch {

namespace pk = attngan::data::detail::pickle;
using pk::ref;
using data::pickle_kind;

enum class global_kind : std::uint8_t { ordered_dict, rebuild_tensor, rebuild_tensor_v2, rebuild_parameter, storage };
enum class object_type : std::uint8_t { global, storage, tensor };

struct object {
  object_type type;
  global_kind global = global_kind::ordered_dict;  // type == global
  torch_dtype dtype = torch_dtype::float32;        // global storage type
  std::size_t index = 0;                           // type == storage / tensor: into storages / tensors
};

/// A storage as a tensor sees it: elements [offset, offset + numel) of the
/// root storage `key` (a legacy storage view, or the whole root).
struct storage_view {
  std::string key;
  torch_dtype dtype;
  std::int64_t offset = 0;
  std::int64_t numel = 0;
};

struct tensor_record {
  std::size_t storage;
  std::int64_t offset;
  std::vector<std::int64_t> size, stride;
  std::uint64_t at;  // byte offset in the file of the REDUCE that built it
};

/// The plain-data pickle machine plus the classes of a state_dict.
class unpickler final : public pk::machine {
 public:
  unpickler(std::string_view bytes, std::string name, const data::pickle_limits& limits, std::uint64_t base,
            const torch_import_limits& tl)
      : machine(bytes, std::move(name), limits, base), tl_(tl) {}

  std::vector<object> objects;
  std::vector<storage_view> storages;
  std::vector<tensor_record> tensors;
  /// Root storages: key -> (dtype, numel), from the persistent ids.
  std::map<std::string, std::pair<torch_dtype, std::int64_t>> roots;

  [[nodiscard]] const object* object_of(const ref& r) const {
    return r.kind == pickle_kind::object ? &objects[std::size_t(r.payload)] : nullptr;
  }

 protected:
  void extension_opcode() override {
    switch (op_) {
      case pk::op_global: {
        const std::string module(line());
        const std::string qualname(line());
        push(global(module, qualname));
        return;
      }
      case pk::op_stack_global: {
        need(2);
        const ref qualname = pop();
        const ref module = pop();
        if (module.kind != pickle_kind::str || qualname.kind != pickle_kind::str)
          fail(cat("module and name must be str, got ", kind_name(module.kind), " and ", kind_name(qualname.kind)));
        push(global(doc_.text(module), doc_.text(qualname)));
        return;
      }
      case pk::op_reduce:
      case pk::op_newobj: {
        need(2);
        const ref args = pop();
        const ref callable = pop();
        push(call(callable, args));
        return;
      }
      case pk::op_build: {
        need(2);
        const ref state = pop();
        const ref target = stack_.back();
        // An OrderedDict's instance attributes (state_dict's _metadata: the
        // modules' versions); a tensor or storage has no state to set.
        if (target.kind != pickle_kind::dict)
          fail(cat("BUILD of a ", kind_name(target.kind), " (created at byte ", doc_.base + target.offset,
                   "): only an OrderedDict's attributes may be set"));
        if (state.kind != pickle_kind::dict && state.kind != pickle_kind::none)
          fail(cat("the state of an OrderedDict must be a dict, got a ", kind_name(state.kind)));
        return;
      }
      case pk::op_binpersid: {
        need(1);
        const ref pid = pop();
        push(persistent(pid));
        return;
      }
      case pk::op_persid:
        fail("a text persistent id; torch.save writes only binary ones (BINPERSID)");
      default: machine::extension_opcode();
    }
  }

 private:
  ref new_object(object o) {
    objects.push_back(o);
    return make(pickle_kind::object, std::int64_t(objects.size() - 1));
  }

  ref global(const std::string& module, const std::string& qualname) {
    static const std::pair<std::string_view, torch_dtype> storage_types[] = {
        {"FloatStorage", torch_dtype::float32}, {"DoubleStorage", torch_dtype::float64},
        {"HalfStorage", torch_dtype::float16},  {"BFloat16Storage", torch_dtype::bfloat16},
        {"LongStorage", torch_dtype::int64},    {"IntStorage", torch_dtype::int32},
        {"ShortStorage", torch_dtype::int16},   {"CharStorage", torch_dtype::int8},
        {"ByteStorage", torch_dtype::uint8},    {"BoolStorage", torch_dtype::boolean}};
    if (module == "collections" && qualname == "OrderedDict")
      return new_object({object_type::global, global_kind::ordered_dict});
    if (module == "torch._utils") {
      if (qualname == "_rebuild_tensor_v2") return new_object({object_type::global, global_kind::rebuild_tensor_v2});
      if (qualname == "_rebuild_tensor") return new_object({object_type::global, global_kind::rebuild_tensor});
      if (qualname == "_rebuild_parameter") return new_object({object_type::global, global_kind::rebuild_parameter});
    }
    if (module == "torch" || module == "torch.cuda")  // CUDA storages are read to the host
      for (const auto& [n, d] : storage_types)
        if (qualname == n) return new_object({object_type::global, global_kind::storage, d});
    fail(cat("global ", printable(module), ".", printable(qualname),
             " is not allowed: a state_dict holds only collections.OrderedDict, torch tensors "
             "(torch._utils._rebuild_tensor*, _rebuild_parameter) and torch[.cuda].*Storage"));
  }

  [[nodiscard]] const std::vector<ref>& tuple_items(const ref& r, const char* what) const {
    if (r.kind != pickle_kind::tuple) fail(cat(what, " must be a tuple, got a ", kind_name(r.kind)));
    return doc_.items(r);
  }
  std::int64_t integer(const ref& r, const char* what) const {
    if (r.kind != pickle_kind::integer) fail(cat(what, " must be an int, got a ", kind_name(r.kind)));
    return r.payload;
  }
  [[nodiscard]] std::string text(const ref& r, const char* what) const {
    if (r.kind != pickle_kind::str && r.kind != pickle_kind::bytes)
      fail(cat(what, " must be a string, got a ", kind_name(r.kind)));
    return doc_.text(r);
  }

  /// REDUCE / NEWOBJ of a whitelisted global.
  ref call(const ref& callable, const ref& args) {
    const object* f = object_of(callable);
    if (!f || f->type != object_type::global)
      fail(cat("the callable is a ", f ? "tensor or storage" : kind_name(callable.kind),
               ", not a whitelisted global"));
    // a copy: creating a container below may move the containers' storage
    const std::vector<ref> a = tuple_items(args, "the arguments");
    if (op_ == pk::op_newobj && f->global != global_kind::ordered_dict)
      fail("NEWOBJ of anything but collections.OrderedDict");
    switch (f->global) {
      case global_kind::ordered_dict: {
        ref d = new_container(pickle_kind::dict);
        if (a.empty()) return d;
        // Python 2: OrderedDict([[key, value], ...])
        if (a.size() != 1 || (a[0].kind != pickle_kind::list && a[0].kind != pickle_kind::tuple))
          fail("OrderedDict takes no argument or one list of (key, value) pairs");
        const std::vector<ref> pairs = doc_.items(a[0]);  // a copy, as above
        auto& items = items_of(d);
        for (const ref& p : pairs) {
          if (p.kind != pickle_kind::list && p.kind != pickle_kind::tuple)
            fail(cat("an OrderedDict item is a ", kind_name(p.kind), ", not a (key, value) pair"));
          const auto& kv = doc_.items(p);
          if (kv.size() != 2) fail(cat("an OrderedDict item has ", kv.size(), " values, not 2"));
          check_key(kv[0]);
          items.push_back(kv[0]);
          items.push_back(kv[1]);
        }
        return d;
      }
      case global_kind::rebuild_parameter: {
        if (a.size() != 3) fail(cat("_rebuild_parameter takes 3 arguments, got ", a.size()));
        const object* t = object_of(a[0]);
        if (!t || t->type != object_type::tensor) fail("_rebuild_parameter of something other than a tensor");
        return a[0];
      }
      case global_kind::rebuild_tensor:
      case global_kind::rebuild_tensor_v2: {
        const bool v2 = f->global == global_kind::rebuild_tensor_v2;
        if (v2 ? (a.size() != 6 && a.size() != 7) : a.size() != 4)
          fail(cat(v2 ? "_rebuild_tensor_v2 takes 6 or 7" : "_rebuild_tensor takes 4", " arguments, got ",
                   a.size()));
        const object* s = object_of(a[0]);
        if (!s || s->type != object_type::storage)
          fail(cat("the first argument of _rebuild_tensor must be a storage (a persistent id), got a ",
                   s ? "tensor or global" : kind_name(a[0].kind)));
        if (v2) {
          if (a[4].kind != pickle_kind::boolean && a[4].kind != pickle_kind::integer)
            fail("requires_grad must be a bool");
          if (a[5].kind != pickle_kind::dict) fail("backward_hooks must be an OrderedDict");
          if (a.size() == 7 && a[6].kind != pickle_kind::none && a[6].kind != pickle_kind::dict)
            fail("the metadata argument must be None or a dict");
        }
        return tensor(s->index, a[1], a[2], a[3]);
      }
      case global_kind::storage: fail("a storage type cannot be called");
    }
    fail("corrupt object");
  }

  ref tensor(std::size_t storage, const ref& offset_arg, const ref& size_arg, const ref& stride_arg) {
    if (tensors.size() >= tl_.max_tensors) fail(cat("more than ", tl_.max_tensors, " tensors (limit)"));
    const auto& sizes = tuple_items(size_arg, "the size");
    const auto& strides = tuple_items(stride_arg, "the stride");
    if (sizes.size() != strides.size())
      fail(cat("the size has ", sizes.size(), " dimensions, the stride ", strides.size()));
    if (sizes.size() > tl_.max_rank) fail(cat("rank ", sizes.size(), " is above the limit of ", tl_.max_rank));
    tensor_record t{storage, integer(offset_arg, "the storage offset"), {}, {}, doc_.base + op_at_};
    if (t.offset < 0) fail(cat("negative storage offset ", t.offset));
    constexpr std::int64_t big = std::int64_t(1) << 62;
    std::int64_t numel = 1, last = t.offset;  // last: the largest element index the view reads
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const std::int64_t n = integer(sizes[i], "a size"), s = integer(strides[i], "a stride");
      if (n < 0 || s < 0) fail(cat("negative size or stride in size ", n, ", stride ", s));
      if (n > 0 && numel > big / n) fail("the tensor's element count overflows");
      numel *= n;
      if (n > 0 && s > 0 && (n - 1) > (big - last) / s) fail("the tensor's extent overflows");
      if (n > 0) last += (n - 1) * s;
      t.size.push_back(n);
      t.stride.push_back(s);
    }
    const storage_view& sv = storages[storage];
    if (numel > 0 && last >= sv.numel)
      fail(cat("the view (offset ", t.offset, ", size ", dims_string(t.size), ", stride ", dims_string(t.stride),
               ") reaches element ", last, " of a storage of ", sv.numel, " elements"));
    tensors.push_back(std::move(t));
    return new_object({object_type::tensor, global_kind::ordered_dict, sv.dtype, tensors.size() - 1});
  }

  /// BINPERSID: ('storage', storage type, key, location, numel[, view_metadata]).
  ref persistent(const ref& pid) {
    const auto& p = tuple_items(pid, "a persistent id");
    if (p.empty()) fail("empty persistent id");
    const std::string tag = text(p[0], "the persistent id's tag");
    if (tag == "module")
      fail("the file holds a pickled nn.Module (torch.save(model)); only state_dicts "
           "(torch.save(model.state_dict())) can be read");
    if (tag != "storage") fail(cat("unknown persistent id '", printable(tag), "'"));
    if (p.size() != 5 && p.size() != 6) fail(cat("a storage id has 5 or 6 fields, got ", p.size()));
    const object* type = object_of(p[1]);
    if (!type || type->type != object_type::global || type->global != global_kind::storage)
      fail("the storage type must be a torch.*Storage global");
    storage_view v{text(p[2], "the storage key"), type->dtype, 0, integer(p[4], "the storage size")};
    (void)text(p[3], "the storage location");  // 'cpu', 'cuda:0': everything is read to the host
    if (v.numel < 0 || std::uint64_t(v.numel) > (std::uint64_t(1) << 62) / element_size(v.dtype))
      fail(cat("storage size ", v.numel, " out of range"));
    if (auto it = roots.find(v.key); it != roots.end()) {
      if (it->second.first != v.dtype || it->second.second != v.numel)
        fail(cat("storage '", printable(v.key), "' appears as ", dtype_name(it->second.first), " × ",
                 it->second.second, " and as ", dtype_name(v.dtype), " × ", v.numel));
    } else {
      if (roots.size() >= tl_.max_tensors) fail(cat("more than ", tl_.max_tensors, " storages (limit)"));
      roots.emplace(v.key, std::make_pair(v.dtype, v.numel));
    }
    if (p.size() == 6 && p[5].kind != pickle_kind::none) {  // a legacy view: (view key, offset, size)
      const auto& view = tuple_items(p[5], "the view metadata");
      if (view.size() != 3) fail(cat("the view metadata has ", view.size(), " fields, not 3"));
      (void)text(view[0], "the view key");
      v.offset = integer(view[1], "the view offset");
      const std::int64_t n = integer(view[2], "the view size");
      if (v.offset < 0 || n < 0 || v.offset > v.numel || n > v.numel - v.offset)
        fail(cat("storage view [", v.offset, ", ", v.offset, " + ", n, ") is outside its storage of ", v.numel,
                 " elements"));
      v.numel = n;
    }
    storages.push_back(std::move(v));
    return new_object({object_type::storage, global_kind::ordered_dict, storages.back().dtype, storages.size() - 1});
  }

  torch_import_limits tl_;
};

/// The bytes of a file and its name for messages.
struct source {
  std::string name;  // quoted path
  std::vector<std::uint8_t> bytes;
  [[nodiscard]] std::string_view view(std::uint64_t from) const {
    return {reinterpret_cast<const char*>(bytes.data()) + from, std::size_t(bytes.size() - from)};
  }
  [[noreturn]] void fail(std::uint64_t offset, const std::string& what) const {
    throw io_error("torch_import", cat(name, ": byte ", offset, ": ", what));
  }
  [[noreturn]] void fail(const std::string& what) const { throw io_error("torch_import", cat(name, ": ", what)); }
};

/// A pickle at `at` of the file, limited to `max_bytes`.
inline data::pickle_limits pickle_limits_for(const torch_import_limits& tl, std::uint64_t bytes) {
  data::pickle_limits l = tl.pickle;
  l.max_file_bytes = bytes;
  return l;
}

/// The root storages' bytes: key -> (offset in the file, bytes).
using storage_map = std::unordered_map<std::string, std::pair<std::uint64_t, std::uint64_t>>;

/// Builds the tensors of the parsed state_dict from the storages' bytes.
inline std::vector<torch_tensor> materialise(const source& src, const unpickler& u, const pk::document& doc,
                                             const storage_map& data, const torch_import_limits& tl) {
  if (doc.root.kind != pickle_kind::dict)
    src.fail(doc.base + doc.root.offset,
             cat("the checkpoint holds a ", kind_name(doc.root.kind), ", not a state_dict (an OrderedDict)"));
  const std::uint64_t budget_bytes = tl.max_expansion * std::uint64_t(src.bytes.size()) + (std::uint64_t(1) << 20);
  std::uint64_t produced = 0;
  const auto& items = doc.items(doc.root);
  std::vector<torch_tensor> out;
  out.reserve(items.size() / 2);
  std::unordered_set<std::string> names;
  for (std::size_t e = 0; e + 1 < items.size(); e += 2) {
    const ref& key = items[e];
    const ref& value = items[e + 1];
    if (key.kind != pickle_kind::str && key.kind != pickle_kind::bytes)
      src.fail(doc.base + key.offset, cat("a state_dict key is a ", kind_name(key.kind), ", not a string"));
    const std::string& name = doc.text(key);
    if (key.kind == pickle_kind::bytes && !data::unicode::is_valid_utf8(name))
      src.fail(doc.base + key.offset, "a state_dict key is not valid UTF-8");
    if (!names.insert(name).second) src.fail(doc.base + key.offset, cat("key '", name, "' appears twice"));
    const object* o = u.object_of(value);
    if (!o || o->type != object_type::tensor)
      src.fail(doc.base + value.offset,
               cat("the value of '", name, "' is a ", o ? "storage or global" : kind_name(value.kind),
                   ", not a tensor"));
    const tensor_record& t = u.tensors[o->index];
    const storage_view& sv = u.storages[t.storage];
    const auto it = data.find(sv.key);
    if (it == data.end()) src.fail(t.at, cat("the data of storage '", sv.key, "' (tensor '", name, "') is missing"));
    const std::size_t es = element_size(sv.dtype);
    std::int64_t numel = 1;
    for (auto n : t.size) numel *= n;  // no overflow: checked when the tensor was read
    const std::uint64_t bytes = std::uint64_t(numel) * es;
    if (bytes > budget_bytes - produced)
      src.fail(t.at, cat("tensor '", name, "' of ", bytes, " bytes would take the tensors read past ", budget_bytes,
                         " bytes (", tl.max_expansion, " times the file size plus 1 MiB: the limit for views)"));
    produced += bytes;
    torch_tensor r{name, sv.dtype, t.size, std::vector<std::uint8_t>(std::size_t(bytes))};
    const std::uint8_t* base = src.bytes.data() + it->second.first + std::uint64_t(sv.offset + t.offset) * es;
    // Contiguous (strides of row-major order, size-1 dimensions ignored): one copy.
    bool contiguous = true;
    std::int64_t expect = 1;
    for (std::size_t i = t.size.size(); i-- > 0;) {
      if (t.size[i] != 1 && t.stride[i] != expect) contiguous = false;
      expect *= t.size[i];
    }
    if (numel > 0 && contiguous) {
      std::memcpy(r.data.data(), base, std::size_t(bytes));
    } else if (numel > 0) {  // odometer over the index, last dimension fastest
      const std::size_t rank = t.size.size();
      std::vector<std::int64_t> index(rank, 0);
      std::int64_t source = 0;
      for (std::int64_t k = 0; k < numel; ++k) {
        std::memcpy(r.data.data() + std::size_t(k) * es, base + std::uint64_t(source) * es, es);
        for (std::size_t d = rank; d-- > 0;) {
          if (++index[d] < t.size[d]) {
            source += t.stride[d];
            break;
          }
          source -= (t.size[d] - 1) * t.stride[d];
          index[d] = 0;
        }
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

inline constexpr std::array<std::uint8_t, 10> magic_number = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                                              0x20, 0x6a, 0xa8, 0x50, 0x19};

/// The legacy format (see the top of the file).
inline torch_state_dict read_legacy(const source& src, const torch_import_limits& tl) {
  const auto& b = src.bytes;
  // 1. the magic number, pickled with a binary protocol: PROTO n, LONG1 10 <bytes>, STOP
  if (b.size() < 15 || b[0] != pk::op_proto || b[2] != pk::op_long1 || b[3] != 10 || b[14] != pk::op_stop)
    src.fail(0, "not a PyTorch checkpoint: neither a zip archive nor the legacy format (which starts with a "
                "pickled magic number)");
  if (!std::equal(magic_number.begin(), magic_number.end(), b.begin() + 4))
    src.fail(4, "wrong magic number: a pickle, but not a PyTorch legacy checkpoint (or a corrupt one)");
  std::uint64_t at = 15;
  auto plain = [&](const char* what) {
    if (at >= b.size()) src.fail(at, cat("truncated: the file ends before the ", what));
    return pk::machine(src.view(at), src.name, pickle_limits_for(tl, b.size() - at), at).run();
  };
  // 2. the protocol version
  {
    const auto doc = plain("protocol version");
    if (doc.root.kind != pickle_kind::integer || doc.root.payload != 1001)
      src.fail(at, cat("unsupported legacy protocol version (expected the int 1001, got a ", kind_name(doc.root.kind),
                       doc.root.kind == pickle_kind::integer ? cat(" ", doc.root.payload) : std::string(), ")"));
    at += doc.end;
  }
  // 3. sys_info: the storages are read as little-endian
  {
    const auto doc = plain("sys_info");
    if (doc.root.kind != pickle_kind::dict) src.fail(at, "sys_info is not a dict");
    const auto& items = doc.items(doc.root);
    for (std::size_t i = 0; i + 1 < items.size(); i += 2)
      if ((items[i].kind == pickle_kind::str || items[i].kind == pickle_kind::bytes) &&
          doc.text(items[i]) == "little_endian" &&
          !(items[i + 1].kind == pickle_kind::boolean && items[i + 1].payload == 1))
        src.fail(at, "written on a big-endian machine (sys_info little_endian is not True); not supported");
    at += doc.end;
  }
  // 4. the state_dict
  if (at >= b.size()) src.fail(at, "truncated: the file ends before the state_dict");
  unpickler u(src.view(at), src.name, pickle_limits_for(tl, b.size() - at), at, tl);
  const pk::document doc = u.run();
  at += doc.end;
  // 5. the storage keys, then each storage: int64 element count and the bytes
  const auto keys_doc = plain("list of storage keys");
  if (keys_doc.root.kind != pickle_kind::list)
    src.fail(at, cat("the storage keys are a ", kind_name(keys_doc.root.kind), ", not a list"));
  at += keys_doc.end;
  storage_map data;
  for (const ref& k : keys_doc.items(keys_doc.root)) {
    if (k.kind != pickle_kind::str && k.kind != pickle_kind::bytes)
      src.fail(keys_doc.base + k.offset, "a storage key is not a string");
    const std::string& key = keys_doc.text(k);
    const auto root = u.roots.find(key);
    if (root == u.roots.end()) src.fail(at, cat("storage '", key, "' is listed but no tensor uses it"));
    if (data.count(key)) src.fail(at, cat("storage '", key, "' is listed twice"));
    if (b.size() - at < 8)
      src.fail(at, cat("truncated: the file ends in the element count of storage '", key, "'"));
    const std::uint64_t count = little_endian(b.data() + at, 8);
    if (count != std::uint64_t(root->second.second))
      src.fail(at, cat("storage '", key, "' holds ", count, " elements, its tensors declare ", root->second.second));
    at += 8;
    const std::uint64_t bytes = count * element_size(root->second.first);
    if (b.size() - at < bytes)
      src.fail(at, cat("truncated: storage '", key, "' needs ", bytes, " bytes, the file ends after ",
                       b.size() - at));
    data.emplace(key, std::make_pair(at, bytes));
    at += bytes;
  }
  for (const auto& [key, info] : u.roots)
    if (!data.count(key)) src.fail(at, cat("storage '", key, "' is used by a tensor but not in the file"));
  return {src.name, "legacy", materialise(src, u, doc, data, tl)};
}

// --- zip ------------------------------------------------------------------------

inline std::uint32_t crc32(const std::uint8_t* p, std::uint64_t n) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::uint64_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

struct zip_entry {
  std::string name;
  std::uint64_t local = 0;   // offset of the local header
  std::uint64_t size = 0;    // uncompressed
  std::uint64_t csize = 0;   // compressed
  std::uint32_t crc = 0;
  std::uint16_t method = 0, flags = 0;
  std::uint64_t at = 0;      // offset of the central directory record
};

/// Central directory of a zip archive (zip64 included), bounds-checked.
inline std::vector<zip_entry> zip_directory(const source& src, const torch_import_limits& tl) {
  const auto& b = src.bytes;
  const std::uint64_t n = b.size();
  auto u16 = [&](std::uint64_t at) { return std::uint16_t(little_endian(b.data() + at, 2)); };
  auto u32 = [&](std::uint64_t at) { return std::uint32_t(little_endian(b.data() + at, 4)); };
  auto u64 = [&](std::uint64_t at) { return little_endian(b.data() + at, 8); };
  // end of central directory: 22 bytes plus a comment of at most 65535
  if (n < 22) src.fail("truncated zip archive: shorter than its end record");
  std::uint64_t eocd = n;
  for (std::uint64_t i = n - 22 + 1; i-- > 0 && n - i <= 22 + 65535;)
    if (u32(i) == 0x06054b50u && i + 22 + u16(i + 20) <= n) {
      eocd = i;
      break;
    }
  if (eocd == n) src.fail("truncated or corrupt zip archive: no end-of-central-directory record");
  if (u16(eocd + 4) != 0 || u16(eocd + 6) != 0) src.fail(eocd, "multi-disk zip archives are not supported");
  std::uint64_t entries = u16(eocd + 10), cd_size = u32(eocd + 12), cd_offset = u32(eocd + 16);
  if (eocd >= 20 && u32(eocd - 20) == 0x07064b50u) {  // zip64 locator
    const std::uint64_t z = u64(eocd - 20 + 8);
    if (z > n || n - z < 56 || u32(z) != 0x06064b50u)
      src.fail(eocd - 20, "corrupt zip64 locator: no zip64 end record where it points");
    entries = u64(z + 32);
    cd_size = u64(z + 40);
    cd_offset = u64(z + 48);
  }
  if (cd_offset > n || cd_size > n - cd_offset)
    src.fail(eocd, cat("truncated zip archive: the central directory [", cd_offset, ", +", cd_size,
                       ") lies outside the file of ", n, " bytes"));
  if (entries > tl.max_zip_entries) src.fail(eocd, cat(entries, " zip entries, above the limit"));
  if (entries > cd_size / 46) src.fail(eocd, cat(entries, " zip entries cannot fit ", cd_size, " bytes of directory"));
  std::vector<zip_entry> out;
  out.reserve(std::size_t(entries));
  std::uint64_t at = cd_offset;
  const std::uint64_t end = cd_offset + cd_size;
  for (std::uint64_t e = 0; e < entries; ++e) {
    if (end - at < 46 || u32(at) != 0x02014b50u) src.fail(at, "corrupt zip central directory record");
    zip_entry z;
    z.at = at;
    z.flags = u16(at + 8);
    z.method = u16(at + 10);
    z.crc = u32(at + 16);
    z.csize = u32(at + 20);
    z.size = u32(at + 24);
    const std::uint64_t name_len = u16(at + 28), extra_len = u16(at + 30), comment_len = u16(at + 32);
    z.local = u32(at + 42);
    if (end - at - 46 < name_len + extra_len + comment_len) src.fail(at, "zip central directory record overruns");
    z.name.assign(reinterpret_cast<const char*>(b.data() + at + 46), std::size_t(name_len));
    // zip64 extended information: the 64-bit values of the fields set to 0xFFFFFFFF, in this order
    for (std::uint64_t x = at + 46 + name_len, xend = x + extra_len; x + 4 <= xend;) {
      const std::uint16_t id = u16(x), len = u16(x + 2);
      if (xend - x - 4 < len) src.fail(x, cat("zip extra field of entry '", z.name, "' overruns"));
      if (id == 0x0001) {
        std::uint64_t f = x + 4, fend = f + len;
        for (std::uint64_t* field : {&z.size, &z.csize, &z.local})
          if (*field == 0xFFFFFFFFu) {
            if (fend - f < 8) src.fail(x, cat("zip64 field of entry '", z.name, "' too short"));
            *field = u64(f);
            f += 8;
          }
      }
      x += 4 + len;
    }
    out.push_back(std::move(z));
    at += 46 + name_len + extra_len + comment_len;
  }
  return out;
}

/// The bytes of a stored (uncompressed) entry: (offset, size), checked
/// against the local header, the file's bounds and its CRC-32.
inline std::pair<std::uint64_t, std::uint64_t> zip_data(const source& src, const zip_entry& z) {
  const auto& b = src.bytes;
  const std::uint64_t n = b.size();
  if (z.flags & 1) src.fail(z.at, cat("zip entry '", z.name, "' is encrypted"));
  if (z.method != 0)
    src.fail(z.at, cat("zip entry '", z.name, "' is compressed (method ", z.method,
                       "); torch.save stores entries uncompressed"));
  if (z.csize != z.size) src.fail(z.at, cat("zip entry '", z.name, "' is stored with two different sizes"));
  if (z.local > n || n - z.local < 30 || little_endian(b.data() + z.local, 4) != 0x04034b50u)
    src.fail(z.local, cat("truncated or corrupt zip archive: no local header for '", z.name, "'"));
  const std::uint64_t name_len = little_endian(b.data() + z.local + 26, 2);
  const std::uint64_t extra_len = little_endian(b.data() + z.local + 28, 2);
  const std::uint64_t data = z.local + 30 + name_len + extra_len;
  if (data > n || n - data < z.size)
    src.fail(z.local, cat("truncated zip archive: entry '", z.name, "' needs ", z.size, " bytes at ", data,
                          ", the file has ", n));
  if (std::string_view(reinterpret_cast<const char*>(b.data() + z.local + 30), std::size_t(name_len)) != z.name)
    src.fail(z.local, cat("zip local header names another entry than '", z.name, "'"));
  if (crc32(b.data() + data, z.size) != z.crc)
    src.fail(data, cat("zip entry '", z.name, "' fails its CRC-32 check (corrupt file)"));
  return {data, z.size};
}

/// The zip format (see the top of the file).
inline torch_state_dict read_zip(const source& src, const torch_import_limits& tl) {
  const auto dir = zip_directory(src, tl);
  std::unordered_map<std::string_view, const zip_entry*> by_name;
  const zip_entry* pkl = nullptr;
  for (const auto& z : dir) {
    if (!by_name.emplace(z.name, &z).second) src.fail(z.at, cat("zip entry '", z.name, "' appears twice"));
    const auto slash = z.name.find('/');
    if (slash != std::string::npos && z.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      if (pkl) src.fail(z.at, cat("two state pickles: '", pkl->name, "' and '", z.name, "'"));
      pkl = &z;
    }
  }
  if (!pkl) src.fail("a zip archive without <name>/data.pkl: not a checkpoint of torch.save");
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - 8);  // "<name>/"
  if (const auto it = by_name.find(prefix + "byteorder"); it != by_name.end()) {
    const auto [at, size] = zip_data(src, *it->second);
    if (src.view(at).substr(0, std::size_t(size)) != "little")
      src.fail(at, "written on a big-endian machine (byteorder is not 'little'); not supported");
  }
  const auto [at, size] = zip_data(src, *pkl);
  unpickler u(src.view(at).substr(0, std::size_t(size)), src.name, pickle_limits_for(tl, size), at, tl);
  const pk::document doc = u.run();
  storage_map data;
  for (const auto& [key, info] : u.roots) {
    const auto it = by_name.find(prefix + "data/" + key);
    if (it == by_name.end()) src.fail(cat("the archive has no entry '", prefix, "data/", key, "' (a storage)"));
    const auto [where, bytes] = zip_data(src, *it->second);
    const std::uint64_t need = std::uint64_t(info.second) * element_size(info.first);
    if (bytes < need)
      src.fail(where, cat("storage '", key, "' holds ", bytes, " bytes, its tensors declare ", info.second, " × ",
                          dtype_name(info.first), " = ", need));
    data.emplace(key, std::make_pair(where, bytes));
  }
  return {src.name, "zip", materialise(src, u, doc, data, tl)};
}

}  // namespace detail::torch

// --- public API -------------------------------------------------------------------

/// The tensors of a checkpoint held in memory (`name` names it in messages);
/// see load_torch_state_dict.
inline torch_state_dict parse_torch_state_dict(std::vector<std::uint8_t> bytes, const std::string& name = "<memory>",
                                               const torch_import_limits& limits = {}) {
  detail::torch::source src{name, std::move(bytes)};
  const auto& b = src.bytes;
  if (b.size() > limits.max_file_bytes)
    src.fail(attngan::detail::cat(b.size(), " bytes is more than the ", limits.max_file_bytes, " accepted"));
  if (b.size() >= 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4)
    return detail::torch::read_zip(src, limits);
  if (b.empty()) src.fail("empty file");
  return detail::torch::read_legacy(src, limits);
}

/// The tensors of a file written by torch.save(module.state_dict()), legacy
/// or zip format, in saved order. io_error naming the file (and, where it
/// applies, the byte offset, the opcode and the refused global) on anything
/// else: a truncated or corrupt file, a pickle of other classes, a view
/// outside its storage, a limit exceeded.
inline torch_state_dict load_torch_state_dict(const std::filesystem::path& path,
                                              const torch_import_limits& limits = {}) {
  return parse_torch_state_dict(data::read_file_bytes("torch_import", path, limits.max_file_bytes),
                                attngan::detail::cat("'", path.string(), "'"), limits);
}

/// Copies a state_dict into a network by name, converting floating types to
/// T. Every network entry must be present with its shape and a floating
/// dtype; every checkpoint key must be a network entry, except BatchNorm's
/// `<module>.num_batches_tracked` (PyTorch ≥ 0.4.1 saves it; the released
/// files predate it) next to a `<module>.running_mean`. Otherwise a
/// value_error lists every missing, unexpected, mis-shaped and mis-typed key
/// (with both shapes) and nothing is copied.
template <class Spec, class T, class B>
void load_into(nn::network<Spec, T, B>& net, const torch_state_dict& sd) {
  using attngan::detail::cat;
  std::unordered_map<std::string_view, const torch_tensor*> by_name;
  for (const auto& t : sd.tensors) by_name.emplace(t.name, &t);
  std::unordered_set<std::string_view> ours;
  std::vector<std::string> missing, misshaped, mistyped, unexpected;
  for (const auto& e : net.entries()) {
    ours.insert(e.name);
    std::vector<std::int64_t> want;
    for (int k = 0; k < e.extents.rank(); ++k) want.push_back(e.extents[k]);
    const auto it = by_name.find(e.name);
    if (it == by_name.end()) {
      missing.push_back(cat(e.name, " ", detail::torch::dims_string(want)));
    } else if (it->second->shape != want) {
      misshaped.push_back(cat(e.name, ": checkpoint ", detail::torch::dims_string(it->second->shape), ", network ",
                              detail::torch::dims_string(want)));
    } else if (!is_floating(it->second->dtype)) {
      mistyped.push_back(cat(e.name, " is ", dtype_name(it->second->dtype)));
    }
  }
  const std::string_view nbt = ".num_batches_tracked";
  for (const auto& t : sd.tensors) {
    if (ours.count(t.name)) continue;
    const std::string_view n = t.name;
    if (n.size() > nbt.size() && n.substr(n.size() - nbt.size()) == nbt &&
        ours.count(std::string(n.substr(0, n.size() - nbt.size())) + ".running_mean"))
      continue;
    unexpected.push_back(cat(t.name, " ", detail::torch::dims_string(t.shape)));
  }
  if (!missing.empty() || !misshaped.empty() || !mistyped.empty() || !unexpected.empty()) {
    std::string msg = cat(sd.source, " does not fit the network:");
    auto list = [&](const std::vector<std::string>& v, const char* what) {
      if (v.empty()) return;
      msg += cat(" ", v.size(), " ", what, ":");
      for (std::size_t i = 0; i < v.size(); ++i) msg += cat(i ? "; " : " ", v[i]);
      msg += ".";
    };
    list(missing, "missing key(s)");
    list(unexpected, "unexpected key(s)");
    list(misshaped, "mis-shaped key(s)");
    list(mistyped, "key(s) not of a floating type");
    throw value_error("load_into", msg);
  }
  for (const auto& e : net.entries()) {
    const std::vector<T> v = by_name.at(e.name)->template values<T>();
    auto dst = (e.kind == nn::tensor_kind::parameter ? net.parameter_arena() : net.buffer_arena())
                   .subview(e.offset, e.extents);
    if (!v.empty()) B::copy_from_host(dst.data(), v.data(), v.size() * sizeof(T));
  }
}

/// load_into(net, load_torch_state_dict(path)).
template <class Spec, class T, class B>
void load_torch_checkpoint(nn::network<Spec, T, B>& net, const std::filesystem::path& path,
                           const torch_import_limits& limits = {}) {
  load_into(net, load_torch_state_dict(path, limits));
}

}  // namespace attngan::io
