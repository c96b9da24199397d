// attngan/io/safetensors.hpp — the safetensors file format: named tensors and
// string metadata, read strictly and written atomically.
//
// Layout (https://github.com/huggingface/safetensors, the format Python's
// `safetensors` package reads and writes):
//   bytes [0, 8)        N, the header length, unsigned 64-bit little-endian;
//   bytes [8, 8 + N)    the header: one JSON object, UTF-8, padded with spaces
//                       so that N is a multiple of 8 —
//                         {"__metadata__": {"key": "value", ...},
//                          "<name>": {"dtype": "F32", "shape": [2, 3],
//                                     "data_offsets": [begin, end]}, ...}
//                       ("__metadata__" is optional, string to string);
//   bytes [8 + N, end)  the data section: every tensor's elements, row-major,
//                       little-endian, at [begin, end) relative to its start.
// The writer emits compact JSON (no spaces; "__metadata__" first when there
// is metadata, then the tensors in the order they were put) and lays the
// tensors out in that order without gaps.
//
// read_safetensors is strict and bounded: the header length, every shape and
// every offset are checked against the file's size before anything is
// allocated; bad JSON, a duplicate name, an unknown dtype or field, offsets
// out of range, overlapping, leaving gaps or not matching the shape and dtype
// are io_error naming the file and what is wrong (the checks of the Python
// reader, so every file accepted here is accepted there).
//
// write_safetensors writes atomically: a temporary file in the destination
// folder, written, fsync'ed, closed and renamed over the target, then the
// folder fsync'ed. On any failure the temporary file is removed and io_error
// names the target; the target is either the old file or the complete new one.
//
// safetensors_file holds the tensors in host memory (bytes + dtype + dims, so
// any dtype and rank round-trips); put()/get() move attngan tensors of any
// backend in and out through the host.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "attngan/core/backend.hpp"
#include "attngan/core/error.hpp"
#include "attngan/core/shape.hpp"
#include "attngan/core/tensor.hpp"

namespace attngan::io {

static_assert(std::endian::native == std::endian::little,
              "attngan::io: safetensors data is little-endian; this host is not (byte swapping is not implemented)");

// ------------------------------------------------------------------ dtypes

/// The element types of the safetensors format.
enum class dtype : std::uint8_t { boolean, u8, i8, u16, i16, f16, bf16, u32, i32, f32, u64, i64, f64, f8_e4m3, f8_e5m2 };

namespace detail {
using attngan::detail::cat;

struct dtype_info {
  dtype type;
  std::string_view name;
  std::size_t size;
};
inline constexpr dtype_info dtype_table[] = {
    {dtype::boolean, "BOOL", 1}, {dtype::u8, "U8", 1},         {dtype::i8, "I8", 1},
    {dtype::u16, "U16", 2},      {dtype::i16, "I16", 2},       {dtype::f16, "F16", 2},
    {dtype::bf16, "BF16", 2},    {dtype::u32, "U32", 4},       {dtype::i32, "I32", 4},
    {dtype::f32, "F32", 4},      {dtype::u64, "U64", 8},       {dtype::i64, "I64", 8},
    {dtype::f64, "F64", 8},      {dtype::f8_e4m3, "F8_E4M3", 1}, {dtype::f8_e5m2, "F8_E5M2", 1},
};
}  // namespace detail

/// "F32", "I64", ... as the format spells them.
constexpr std::string_view dtype_name(dtype t) {
  for (const auto& d : detail::dtype_table)
    if (d.type == t) return d.name;
  return "?";
}
/// Bytes per element.
constexpr std::size_t dtype_size(dtype t) {
  for (const auto& d : detail::dtype_table)
    if (d.type == t) return d.size;
  return 0;
}
/// The dtype of a format name; nullopt for a name the format does not have.
constexpr std::optional<dtype> dtype_from_name(std::string_view name) {
  for (const auto& d : detail::dtype_table)
    if (d.name == name) return d.type;
  return std::nullopt;
}

/// The dtype of a C++ element type (bool, the fixed-width integers, float, double).
template <class T>
constexpr dtype dtype_of() {
  if constexpr (std::is_same_v<T, bool>) return dtype::boolean;
  else if constexpr (std::is_same_v<T, float>) return dtype::f32;
  else if constexpr (std::is_same_v<T, double>) return dtype::f64;
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T> && sizeof(T) == 1) return dtype::i8;
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T> && sizeof(T) == 2) return dtype::i16;
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T> && sizeof(T) == 4) return dtype::i32;
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T> && sizeof(T) == 8) return dtype::i64;
  else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && sizeof(T) == 1) return dtype::u8;
  else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && sizeof(T) == 2) return dtype::u16;
  else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && sizeof(T) == 4) return dtype::u32;
  else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && sizeof(T) == 8) return dtype::u64;
  else static_assert(sizeof(T) == 0, "attngan::io::dtype_of: no safetensors dtype for this type");
}

namespace detail {
/// IEEE binary16 → binary32 (exact).
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa · 2^-24
    const float v = float(mantissa) * 0x1p-24f;
    return sign ? -v : v;
  }
  const std::uint32_t bits = exponent == 31 ? (sign | 0x7f800000u | (mantissa << 13))
                                            : (sign | ((exponent + 112u) << 23) | (mantissa << 13));
  return std::bit_cast<float>(bits);
}
inline float bfloat16_to_float(std::uint16_t b) { return std::bit_cast<float>(std::uint32_t(b) << 16); }

inline std::string dims_string(const std::vector<std::int64_t>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  if (dims.size() == 1) s += ",";
  return s + ")";
}
}  // namespace detail

// ------------------------------------------------------------------ stored tensors

/// One tensor of a file: its dtype, extents (any rank, 0 = scalar) and its
/// elements as little-endian bytes.
struct stored_tensor {
  io::dtype type = dtype::f32;
  std::vector<std::int64_t> dims;
  std::vector<std::byte> bytes;

  [[nodiscard]] std::int64_t numel() const {
    std::int64_t n = 1;
    for (auto d : dims) n *= d;
    return n;
  }
  /// dims as an attngan::shape (shape_error above rank 4).
  [[nodiscard]] attngan::shape extents() const {
    if (dims.size() > std::size_t(attngan::max_rank))
      throw shape_error("stored_tensor::extents",
                        detail::cat("rank ", dims.size(), " ", detail::dims_string(dims), " is above 4"));
    index_t d[4] = {};
    for (std::size_t i = 0; i < dims.size(); ++i) d[i] = index_t(dims[i]);
    return shape::from_dims(d, int(dims.size()));
  }
  [[nodiscard]] std::string dims_string() const { return detail::dims_string(dims); }

  /// A tensor from host values; dims' product must equal values.size().
  template <class T>
  static stored_tensor from_values(std::vector<std::int64_t> dims, std::span<const T> values) {
    stored_tensor s;
    s.type = dtype_of<T>();
    s.dims = std::move(dims);
    for (auto d : s.dims)
      if (d < 0) throw value_error("stored_tensor", detail::cat("negative extent in ", detail::dims_string(s.dims)));
    if (std::size_t(s.numel()) != values.size())
      throw shape_error("stored_tensor", detail::cat("shape ", detail::dims_string(s.dims), " needs ", s.numel(),
                                                     " values, got ", values.size()));
    s.bytes.resize(values.size() * sizeof(T));
    if (!values.empty()) std::memcpy(s.bytes.data(), values.data(), s.bytes.size());
    return s;
  }
  /// A rank-0 tensor holding one value.
  template <class T>
  static stored_tensor scalar(T value) {
    return from_values<T>({}, std::span<const T>(&value, 1));
  }

  /// The elements as T; dtype must be exactly dtype_of<T>() (value_error otherwise).
  template <class T>
  [[nodiscard]] std::vector<T> values() const {
    if (type != dtype_of<T>())
      throw value_error("stored_tensor::values", detail::cat("the tensor is ", dtype_name(type), ", not ",
                                                             dtype_name(dtype_of<T>())));
    std::vector<T> out(bytes.size() / sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
    return out;
  }

  /// Whether converted<T>() accepts this dtype: F16, BF16, F32, F64.
  [[nodiscard]] bool is_floating() const {
    return type == dtype::f16 || type == dtype::bf16 || type == dtype::f32 || type == dtype::f64;
  }
  /// The elements converted to float or double from any floating dtype (as
  /// PyTorch's load_state_dict copies across dtypes); value_error otherwise.
  template <real T>
  [[nodiscard]] std::vector<T> converted() const {
    if (type == dtype_of<T>()) return values<T>();
    const std::size_t n = bytes.size() / dtype_size(type);
    std::vector<T> out(n);
    auto load = [&]<class S>(S) {
      for (std::size_t i = 0; i < n; ++i) {
        S v;
        std::memcpy(&v, bytes.data() + i * sizeof(S), sizeof(S));
        out[i] = T(v);
      }
    };
    auto load16 = [&](auto convert) {
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t v;
        std::memcpy(&v, bytes.data() + i * 2, 2);
        out[i] = T(convert(v));
      }
    };
    switch (type) {
      case dtype::f32: load(float{}); break;
      case dtype::f64: load(double{}); break;
      case dtype::f16: load16(detail::half_to_float); break;
      case dtype::bf16: load16(detail::bfloat16_to_float); break;
      default:
        throw value_error("stored_tensor::converted",
                          detail::cat("cannot convert ", dtype_name(type), " to ", dtype_name(dtype_of<T>())));
    }
    return out;
  }
};

// ------------------------------------------------------------------ the file

/// Named tensors (in the order put or read) and string metadata.
class safetensors_file {
 public:
  /// The "__metadata__" map (string to string), sorted by key.
  std::map<std::string, std::string> metadata;

  /// Adds a tensor under a new name (value_error for an empty, reserved or
  /// already used name, or bytes that do not match dtype and dims).
  void put(const std::string& name, stored_tensor t) {
    if (name.empty()) throw value_error("safetensors_file::put", "empty tensor name");
    if (name == "__metadata__") throw value_error("safetensors_file::put", "'__metadata__' is reserved");
    if (index_.count(name)) throw value_error("safetensors_file::put", detail::cat("'", name, "' is already in the file"));
    for (auto d : t.dims)
      if (d < 0) throw value_error("safetensors_file::put", detail::cat("'", name, "': negative extent"));
    if (t.bytes.size() != std::size_t(t.numel()) * dtype_size(t.type))
      throw value_error("safetensors_file::put", detail::cat("'", name, "': ", t.bytes.size(), " bytes for a ",
                                                             dtype_name(t.type), " tensor of shape ",
                                                             t.dims_string()));
    index_.emplace(name, tensors_.size());
    tensors_.emplace_back(name, std::move(t));
  }
  /// Adds an attngan tensor of any backend (copied through the host).
  template <element T, backend B>
  void put(const std::string& name, const tensor<T, B>& t) {
    const auto host = t.to_vector();
    std::vector<std::int64_t> dims;
    for (int i = 0; i < t.shape().rank(); ++i) dims.push_back(std::int64_t(t.shape()[i]));
    put(name, stored_tensor::from_values<T>(std::move(dims), std::span<const T>(host)));
  }
  /// Adds a rank-0 tensor (step counts, seeds).
  template <class T>
    requires std::is_arithmetic_v<T>
  void put_scalar(const std::string& name, T value) {
    put(name, stored_tensor::scalar(value));
  }

  [[nodiscard]] bool contains(std::string_view name) const { return index_.count(std::string(name)) != 0; }
  [[nodiscard]] std::size_t size() const { return tensors_.size(); }
  /// The tensor of a name (value_error naming the file when absent).
  [[nodiscard]] const stored_tensor& at(std::string_view name) const {
    const auto it = index_.find(std::string(name));
    if (it == index_.end())
      throw value_error("safetensors_file", detail::cat(where(), "no tensor named '", name, "'"));
    return tensors_[it->second].second;
  }
  /// Names and tensors in order (put order, or the header's order when read).
  [[nodiscard]] const std::vector<std::pair<std::string, stored_tensor>>& tensors() const { return tensors_; }
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> n;
    for (const auto& [k, v] : tensors_) n.push_back(k);
    return n;
  }

  /// A tensor as an attngan tensor of T on B; its dtype must be exactly T's
  /// and its rank at most 4 (value_error / shape_error naming the file).
  template <element T, backend B>
  [[nodiscard]] tensor<T, B> get(std::string_view name) const {
    const stored_tensor& s = at(name);
    if (s.type != dtype_of<T>())
      throw value_error("safetensors_file::get", detail::cat(where(), "'", name, "' is ", dtype_name(s.type), ", not ",
                                                             dtype_name(dtype_of<T>())));
    return tensor<T, B>::from_host(s.extents(), s.values<T>());
  }
  /// A rank-0 (or one-element) tensor's value, dtype exactly T.
  template <class T>
  [[nodiscard]] T scalar(std::string_view name) const {
    const stored_tensor& s = at(name);
    if (s.type != dtype_of<T>() || s.numel() != 1)
      throw value_error("safetensors_file::scalar", detail::cat(where(), "'", name, "' is ", dtype_name(s.type), " ",
                                                                s.dims_string(), ", not one ",
                                                                dtype_name(dtype_of<T>())));
    return s.values<T>()[0];
  }
  /// A metadata value (value_error naming the file when absent).
  [[nodiscard]] const std::string& meta(const std::string& key) const {
    const auto it = metadata.find(key);
    if (it == metadata.end())
      throw value_error("safetensors_file", detail::cat(where(), "no metadata entry '", key, "'"));
    return it->second;
  }

  /// The file this was read from (empty when built in memory): error
  /// messages of the loaders name it.
  [[nodiscard]] const std::string& source() const { return source_; }
  void set_source(std::string s) { source_ = std::move(s); }

 private:
  [[nodiscard]] std::string where() const { return source_.empty() ? std::string() : "'" + source_ + "': "; }

  std::vector<std::pair<std::string, stored_tensor>> tensors_;
  std::unordered_map<std::string, std::size_t> index_;
  std::string source_;
};

// ------------------------------------------------------------------ writing

/// The header as written: 8-byte little-endian length, then the JSON padded
/// with spaces to a multiple of 8. value_error when a name or metadata string
/// is not valid UTF-8.
inline std::string safetensors_header(const safetensors_file& file) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (!file.metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : file.metadata) m[k] = v;
    j["__metadata__"] = std::move(m);
  }
  std::uint64_t offset = 0;
  for (const auto& [name, t] : file.tensors()) {
    nlohmann::ordered_json e = nlohmann::ordered_json::object();
    e["dtype"] = std::string(dtype_name(t.type));
    e["shape"] = t.dims;
    e["data_offsets"] = {offset, offset + t.bytes.size()};
    offset += t.bytes.size();
    j[name] = std::move(e);
  }
  std::string json;
  try {
    json = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::strict);
  } catch (const nlohmann::json::exception& e) {
    throw value_error("write_safetensors", detail::cat("a tensor name or metadata string is not UTF-8 (", e.what(), ")"));
  }
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const std::uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[std::size_t(i)] = char((n >> (8 * i)) & 0xffu);
  return out + json;
}

namespace detail {
/// write(2) until done; false (errno set) on failure.
inline bool write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) {
      errno = EIO;
      return false;
    }
    p += n;
    size -= std::size_t(n);
  }
  return true;
}
}  // namespace detail

/// Writes `file` to `path` atomically (see the header note). The folder must
/// exist. io_error naming `path` on any failure, with no file left behind.
inline void write_safetensors(const std::filesystem::path& path, const safetensors_file& file) {
  namespace fs = std::filesystem;
  const char* op = "write_safetensors";
  const std::string header = safetensors_header(file);
  const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (!path.has_filename()) throw io_error(op, detail::cat("'", path.string(), "': not a file name"));

  static std::atomic<std::uint64_t> calls{0};
  const fs::path temp =
      folder / detail::cat(".", path.filename().string(), ".tmp-", ::getpid(), "-", calls.fetch_add(1));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    throw io_error(op, detail::cat("'", path.string(), "': cannot create a temporary file in '", folder.string(),
                                   "' (", std::strerror(err), ")"));
  }
  auto fail = [&](const char* what, int err, bool close_fd) {
    if (close_fd) ::close(fd);
    ::unlink(temp.c_str());
    throw io_error(op, detail::cat("'", path.string(), "': ", what, " (", std::strerror(err), ")"));
  };
  std::uint64_t written = header.size();
  if (!detail::write_all(fd, header.data(), header.size())) fail("writing the header failed", errno, true);
  for (const auto& [name, t] : file.tensors()) {
    if (!detail::write_all(fd, t.bytes.data(), t.bytes.size()))
      fail(detail::cat("writing tensor '", name, "' at byte ", written, " failed").c_str(), errno, true);
    written += t.bytes.size();
  }
  if (::fsync(fd) != 0) fail("fsync failed", errno, true);
  if (::close(fd) != 0) fail("closing the temporary file failed", errno, false);
  if (::rename(temp.c_str(), path.c_str()) != 0) fail("cannot move the temporary file into place", errno, false);
  // Make the rename durable. File systems that cannot sync a folder say EINVAL.
  const int dfd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    const int rc = ::fsync(dfd);
    const int err = errno;
    ::close(dfd);
    if (rc != 0 && err != EINVAL && err != EROFS)
      throw io_error(op, detail::cat("'", path.string(), "': written, but syncing folder '", folder.string(),
                                     "' failed (", std::strerror(err), ")"));
  }
}

// ------------------------------------------------------------------ reading

/// Headers above this are rejected (the Python reader's limit).
inline constexpr std::uint64_t max_safetensors_header = 100'000'000;

/// Reads a whole safetensors file (see the header note for what is checked).
inline safetensors_file read_safetensors(const std::filesystem::path& path) {
  const char* op = "read_safetensors";
  auto error = [&](const auto&... parts) { return io_error(op, detail::cat("'", path.string(), "': ", parts...)); };

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw error(err == ENOENT ? std::string("no such file") : detail::cat("cannot open (", std::strerror(err), ")"));
  }
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } guard{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw error("cannot read its size (", std::strerror(errno), ")");
  if (!S_ISREG(st.st_mode)) throw error("not a regular file");
  const std::uint64_t file_size = std::uint64_t(st.st_size);

  auto read_at = [&](void* dst, std::uint64_t size, std::uint64_t at, const std::string& what) {
    char* p = static_cast<char*>(dst);
    while (size > 0) {
      const ssize_t n = ::pread(fd, p, size, off_t(at));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        throw error("reading ", what, " failed at byte ", at,
                    n < 0 ? detail::cat(" (", std::strerror(errno), ")") : std::string(" (the file shrank?)"));
      p += n;
      at += std::uint64_t(n);
      size -= std::uint64_t(n);
    }
  };

  if (file_size < 8) throw error("truncated file: ", file_size, " bytes, fewer than the 8 of the header length");
  unsigned char len[8];
  read_at(len, 8, 0, "the header length");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
  if (n > file_size - 8)
    throw error("truncated file or corrupted header length: the header length is ", n, " bytes but only ",
                file_size - 8, " follow");
  if (n > max_safetensors_header) throw error("the header length ", n, " is above the limit of ", max_safetensors_header);
  if (n < 2) throw error("the header is ", n, " bytes, too short for a JSON object");
  std::string header(n, '\0');
  read_at(header.data(), n, 8, "the header");
  if (header[0] != '{') throw error("the header does not start with '{'");

  using json = nlohmann::ordered_json;
  std::string duplicate;
  std::set<std::string> seen;
  const json::parser_callback_t find_duplicates = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && duplicate.empty()) {
      const std::string key = parsed.get<std::string>();
      if (!seen.insert(key).second) duplicate = key;
    }
    return true;
  };
  json j;
  try {
    j = json::parse(header, find_duplicates);
  } catch (const json::exception& e) {
    throw error("the header is not valid JSON (", e.what(), ")");
  }
  if (!duplicate.empty()) throw error("the header names '", duplicate, "' twice");
  if (!j.is_object()) throw error("the header is not a JSON object");

  const std::uint64_t data_start = 8 + n, data_size = file_size - data_start;
  struct pending {
    std::string name;
    stored_tensor t;
    std::uint64_t begin, end;
  };
  std::vector<pending> entries;
  safetensors_file out;
  for (const auto& [name, value] : j.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) throw error("__metadata__ is not an object");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) throw error("__metadata__ entry '", k, "' is not a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string what = detail::cat("tensor '", name, "'");
    if (name.empty()) throw error("a tensor has an empty name");
    if (!value.is_object()) throw error(what, " is not an object");
    for (const auto& [field, ignored] : value.items())
      if (field != "dtype" && field != "shape" && field != "data_offsets")
        throw error(what, " has an unknown field '", field, "'");
    if (!value.contains("dtype") || !value["dtype"].is_string()) throw error(what, " has no dtype string");
    const std::string type_name = value["dtype"].get<std::string>();
    const auto type = dtype_from_name(type_name);
    if (!type) throw error(what, " has the unknown dtype '", type_name, "'");
    if (!value.contains("shape") || !value["shape"].is_array()) throw error(what, " has no shape array");
    pending p{name, {}, 0, 0};
    p.t.type = *type;
    std::uint64_t count = 1;
    bool overflow = false;
    for (const auto& d : value["shape"]) {
      if (!d.is_number_unsigned()) throw error(what, ": its shape holds ", d.dump(), ", not a non-negative integer");
      const std::uint64_t extent = d.get<std::uint64_t>();
      if (extent > std::uint64_t(INT64_MAX)) throw error(what, ": extent ", extent, " is too large");
      p.t.dims.push_back(std::int64_t(extent));
      overflow = overflow || __builtin_mul_overflow(count, extent, &count);
    }
    std::uint64_t bytes = 0;
    overflow = overflow || __builtin_mul_overflow(count, std::uint64_t(dtype_size(*type)), &bytes);
    if (overflow) throw error(what, ": shape ", p.t.dims_string(), " is too large");
    const auto& offsets = value.contains("data_offsets") ? value["data_offsets"] : json();
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      throw error(what, " has no data_offsets [begin, end] of non-negative integers");
    p.begin = offsets[0].get<std::uint64_t>();
    p.end = offsets[1].get<std::uint64_t>();
    if (p.end < p.begin) throw error(what, ": data_offsets [", p.begin, ", ", p.end, "] end before they begin");
    if (p.end > data_size)
      throw error(what, ": data_offsets [", p.begin, ", ", p.end, "] run past the end of the ", data_size,
                  "-byte data section (truncated file?)");
    if (p.end - p.begin != bytes)
      throw error(what, ": data_offsets [", p.begin, ", ", p.end, "] hold ", p.end - p.begin, " bytes but ",
                  dtype_name(*type), " ", p.t.dims_string(), " needs ", bytes);
    entries.push_back(std::move(p));
  }

  // The data section must be covered exactly: sorted by offset, each tensor
  // starts where the previous one ended.
  std::vector<const pending*> by_offset;
  for (const auto& p : entries) by_offset.push_back(&p);
  // Ties keep the header's order (the pointers are into `entries`), so a
  // message names the pair the same way every time. std::sort with that
  // tie-break rather than std::stable_sort: libstdc++'s stable_sort calls
  // std::get_temporary_buffer, which Clang 19 warns is deprecated.
  std::sort(by_offset.begin(), by_offset.end(), [](const pending* a, const pending* b) {
    if (a->begin != b->begin) return a->begin < b->begin;
    if (a->end != b->end) return a->end < b->end;
    return a < b;
  });
  std::uint64_t expected = 0;
  const pending* previous = nullptr;
  for (const pending* p : by_offset) {
    if (p->begin < expected)
      throw error("tensors '", previous->name, "' [", previous->begin, ", ", previous->end, ") and '", p->name, "' [",
                  p->begin, ", ", p->end, ") overlap");
    if (p->begin > expected)
      throw error("bytes [", expected, ", ", p->begin, ") of the data section belong to no tensor (before '", p->name,
                  "')");
    expected = p->end;
    previous = p;
  }
  if (expected != data_size)
    throw error("bytes [", expected, ", ", data_size, ") at the end of the data section belong to no tensor");

  // Everything is checked against the file size: allocate and read.
  for (auto& p : entries) {
    p.t.bytes.resize(p.end - p.begin);
    if (!p.t.bytes.empty()) read_at(p.t.bytes.data(), p.t.bytes.size(), data_start + p.begin, "tensor '" + p.name + "'");
    out.put(p.name, std::move(p.t));
  }
  out.set_source(path.string());
  return out;
}

}  // namespace attngan::io
