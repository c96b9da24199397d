// attngan/core/tensor.hpp — tensor<T, Backend>: an owning, contiguous NCHW array.
//
// A tensor owns (a share of) a block from its backend's caching allocator and
// is move-only: copying memory is always spelled out (`clone()`, `to<B>()`).
// Views (`view`, `reshape`, `slice`) alias the same block without copying and
// keep it alive through a shared reference count, so a view can never dangle.
// Rank is 0..4 and the layout is always row-major contiguous (NCHW for images).
#pragma once

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include "attngan/core/backend.hpp"
#include "attngan/core/error.hpp"
#include "attngan/core/shape.hpp"

namespace attngan {

namespace detail {
/// One block from a backend's caching allocator; returned to it on destruction.
template <class Backend>
class storage {
 public:
  explicit storage(std::size_t bytes) : bytes_(bytes), ptr_(Backend::allocator().allocate(bytes)) {}
  storage(const storage&) = delete;
  storage& operator=(const storage&) = delete;
  ~storage() { Backend::allocator().deallocate(ptr_); }
  [[nodiscard]] void* data() const noexcept { return ptr_; }
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

 private:
  std::size_t bytes_;
  void* ptr_;
};
}  // namespace detail

template <element T, backend Backend>
class tensor {
 public:
  using value_type = T;
  using backend_type = Backend;

  /// An undefined tensor: no storage. `defined()` is false.
  tensor() = default;

  /// Uninitialised tensor of the given shape.
  explicit tensor(const shape& s)
      : storage_(std::make_shared<detail::storage<Backend>>(std::size_t(s.numel()) * sizeof(T))), shape_(s) {}

  tensor(const tensor&) = delete;
  tensor& operator=(const tensor&) = delete;
  tensor(tensor&&) noexcept = default;
  tensor& operator=(tensor&&) noexcept = default;

  static tensor empty(const shape& s) { return tensor(s); }

  static tensor zeros(const shape& s) {
    tensor t(s);
    t.fill(T(0));
    return t;
  }

  static tensor full(const shape& s, T value) {
    tensor t(s);
    t.fill(value);
    return t;
  }

  /// Copies host values into a new tensor; `values.size()` must equal numel.
  static tensor from_host(const shape& s, std::span<const T> values) {
    if (index_t(values.size()) != s.numel())
      throw shape_error("tensor::from_host", detail::cat("shape ", s, " needs ", s.numel(), " values, got ",
                                                         values.size()));
    tensor t(s);
    if (!values.empty()) Backend::copy_from_host(t.data(), values.data(), values.size() * sizeof(T));
    return t;
  }
  static tensor from_host(const shape& s, std::initializer_list<T> values) {
    return from_host(s, std::span<const T>(values.begin(), values.size()));
  }
  static tensor from_host(const shape& s, const std::vector<T>& values) {
    return from_host(s, std::span<const T>(values.data(), values.size()));
  }

  [[nodiscard]] bool defined() const noexcept { return storage_ != nullptr; }
  [[nodiscard]] const attngan::shape& shape() const noexcept { return shape_; }
  [[nodiscard]] int rank() const noexcept { return shape_.rank(); }
  [[nodiscard]] index_t numel() const noexcept { return defined() ? shape_.numel() : 0; }
  [[nodiscard]] index_t size(int axis) const { return shape_[axis]; }

  [[nodiscard]] T* data() noexcept { return defined() ? static_cast<T*>(storage_->data()) + offset_ : nullptr; }
  [[nodiscard]] const T* data() const noexcept {
    return defined() ? static_cast<const T*>(storage_->data()) + offset_ : nullptr;
  }

  /// A deep copy on the same backend.
  [[nodiscard]] tensor clone() const {
    require_defined("tensor::clone");
    tensor t(shape_);
    if (numel()) Backend::copy_within(t.data(), data(), std::size_t(numel()) * sizeof(T));
    return t;
  }

  /// Explicit copy to another backend (host staging when neither is the host).
  template <backend Other>
  [[nodiscard]] tensor<T, Other> to() const {
    require_defined("tensor::to");
    tensor<T, Other> t(shape_);
    std::size_t bytes = std::size_t(numel()) * sizeof(T);
    if (bytes == 0) return t;
    if constexpr (std::is_same_v<Other, Backend>) {
      Backend::copy_within(t.data(), data(), bytes);
    } else if constexpr (Backend::is_host) {
      Other::copy_from_host(t.data(), data(), bytes);
    } else if constexpr (Other::is_host) {
      Backend::copy_to_host(t.data(), data(), bytes);
    } else {
      std::vector<T> staging(static_cast<std::size_t>(numel()));
      Backend::copy_to_host(staging.data(), data(), bytes);
      Other::copy_from_host(t.data(), staging.data(), bytes);
    }
    return t;
  }

  /// All values, copied to a host vector (row-major).
  [[nodiscard]] std::vector<T> to_vector() const {
    std::vector<T> out(static_cast<std::size_t>(numel()));
    if (!out.empty()) Backend::copy_to_host(out.data(), data(), out.size() * sizeof(T));
    return out;
  }

  /// One value by flat index, copied to the host (for tests and scalars).
  [[nodiscard]] T item(index_t flat = 0) const {
    require_defined("tensor::item");
    if (flat < 0 || flat >= numel())
      throw shape_error("tensor::item", detail::cat("index ", flat, " out of range for shape ", shape_));
    T v;
    Backend::copy_to_host(&v, data() + flat, sizeof(T));
    return v;
  }

  void fill(T value) {
    require_defined("tensor::fill");
    if constexpr (requires(void* p, std::size_t n) { Backend::zero_fill(p, n); }) {
      if (zero_bits(value)) {  // the backend's memset (cpu: split over its threads; cuda: cudaMemsetAsync)
        Backend::zero_fill(data(), std::size_t(numel()) * sizeof(T));
        return;
      }
    }
    if constexpr (Backend::is_host) {
      std::fill_n(data(), numel(), value);
    } else if constexpr (requires(T* p, index_t n, T v) { Backend::fill_value(p, n, v); }) {
      Backend::fill_value(data(), numel(), value);  // a device kernel, no host staging
    } else {
      std::vector<T> host(std::size_t(numel()), value);
      Backend::copy_from_host(data(), host.data(), host.size() * sizeof(T));
    }
  }

  /// A tensor of another shape with the same number of elements, aliasing
  /// this one's memory (no copy).
  [[nodiscard]] tensor view(const attngan::shape& s) const {
    require_defined("tensor::view");
    if (s.numel() != shape_.numel())
      throw shape_error("tensor::view", detail::cat("cannot view shape ", shape_, " (", shape_.numel(),
                                                    " elements) as ", s, " (", s.numel(), " elements)"));
    return tensor(storage_, offset_, s);
  }

  /// Same as view() but consumes this tensor: `t = std::move(t).reshape(s)`.
  [[nodiscard]] tensor reshape(const attngan::shape& s) && {
    tensor v = view(s);
    *this = tensor();
    return v;
  }

  /// Rows [begin, end) of the first axis, aliasing this tensor's memory.
  [[nodiscard]] tensor slice(index_t begin, index_t end) const {
    require_defined("tensor::slice");
    if (shape_.rank() == 0 || begin < 0 || end < begin || end > shape_[0])
      throw shape_error("tensor::slice",
                        detail::cat("rows [", begin, ", ", end, ") out of range for shape ", shape_));
    index_t dims[4];
    for (int i = 0; i < shape_.rank(); ++i) dims[i] = shape_[i];
    dims[0] = end - begin;
    return tensor(storage_, offset_ + begin * shape_.stride(0), attngan::shape::from_dims(dims, shape_.rank()));
  }

  /// Elements [offset, offset + s.numel()) of this tensor's memory, as shape
  /// s, aliasing it (parameters inside a network's arena).
  [[nodiscard]] tensor subview(index_t offset, const attngan::shape& s) const {
    require_defined("tensor::subview");
    if (offset < 0 || offset + s.numel() > numel())
      throw shape_error("tensor::subview", detail::cat("elements [", offset, ", ", offset + s.numel(),
                                                       ") as ", s, " are out of range for shape ", shape_));
    return tensor(storage_, offset_ + offset, s);
  }

  /// True when both tensors use the same memory block (a view relation).
  [[nodiscard]] bool shares_storage_with(const tensor& other) const noexcept {
    return storage_ && storage_ == other.storage_;
  }

 private:
  tensor(std::shared_ptr<detail::storage<Backend>> st, index_t offset, const attngan::shape& s)
      : storage_(std::move(st)), offset_(offset), shape_(s) {}

  void require_defined(const char* op) const {
    if (!defined()) throw value_error(op, "the tensor is undefined (default-constructed or moved from)");
  }

  /// Whether value's bytes are all zero, so a memset writes it (−0.0 is not).
  static bool zero_bits(T value) noexcept {
    const T zero{};
    return std::memcmp(&value, &zero, sizeof(T)) == 0;
  }

  std::shared_ptr<detail::storage<Backend>> storage_;
  index_t offset_ = 0;
  attngan::shape shape_;
};

}  // namespace attngan
