// attngan/core/shape.hpp — the shape of a tensor: rank 0..4, NCHW order.
//
// AttnGAN needs nothing above rank 4 (images are (B, C, H, W), word features
// (B, C, T), attention maps (B, T, H·W)), so a shape is a fixed array of four
// extents plus a rank; it lives on the stack and can be passed by value into
// device code. Constructing a shape with more than four extents is a compile
// error, not a run-time one.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <ostream>
#include <string>
#include <type_traits>

#include "attngan/core/config.hpp"
#include "attngan/core/error.hpp"

namespace attngan {

inline constexpr int max_rank = 4;

class shape {
 public:
  constexpr shape() = default;  // rank 0: a scalar with one element

  /// shape(2, 3, 64, 64). The rank is the number of arguments; more than four
  /// is rejected at compile time.
  template <class... Extents>
    requires(sizeof...(Extents) >= 1 && (std::is_integral_v<Extents> && ...))
  constexpr explicit shape(Extents... extents) : rank_(int(sizeof...(Extents))) {
    static_assert(sizeof...(Extents) <= max_rank,
                  "attngan::shape: a tensor has rank at most 4 (N, C, H, W); "
                  "this shape was given more than four extents");
    index_t values[] = {index_t(extents)...};
    for (int i = 0; i < rank_; ++i) dims_[std::size_t(i)] = values[i];
    validate("shape");
  }

  /// Rank known only at run time (e.g. read from a file).
  static shape from_dims(const index_t* dims, int rank) {
    if (rank < 0 || rank > max_rank)
      throw shape_error("shape", detail::cat("rank ", rank, " is outside 0..4"));
    shape s;
    s.rank_ = rank;
    for (int i = 0; i < rank; ++i) s.dims_[std::size_t(i)] = dims[i];
    s.validate("shape");
    return s;
  }

  [[nodiscard]] constexpr int rank() const noexcept { return rank_; }

  /// Extent of axis i; negative i counts from the back as in Python.
  [[nodiscard]] constexpr index_t operator[](int i) const {
    return dims_[std::size_t(normalise_axis(i))];
  }

  /// Extent of a compile-time axis; an axis ≥ 4 does not compile.
  template <int Axis>
  [[nodiscard]] constexpr index_t dim() const {
    static_assert(Axis >= 0 && Axis < max_rank,
                  "attngan::shape::dim<Axis>: axis must be in 0..3 (tensors have rank at most 4)");
    if (Axis >= rank_) throw shape_error("shape::dim", detail::cat("axis ", Axis, " of shape ", *this));
    return dims_[std::size_t(Axis)];
  }

  [[nodiscard]] constexpr index_t numel() const noexcept {
    index_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[std::size_t(i)];
    return n;
  }

  /// Row-major (contiguous) stride of axis i, in elements.
  [[nodiscard]] constexpr index_t stride(int i) const {
    int a = normalise_axis(i);
    index_t s = 1;
    for (int k = a + 1; k < rank_; ++k) s *= dims_[std::size_t(k)];
    return s;
  }

  /// The four extents right-aligned into rank 4 with leading ones:
  /// (C, T) -> (1, 1, C, T). Broadcasting and kernels work on this form.
  [[nodiscard]] constexpr std::array<index_t, 4> padded() const noexcept {
    std::array<index_t, 4> p{1, 1, 1, 1};
    for (int i = 0; i < rank_; ++i) p[std::size_t(4 - rank_ + i)] = dims_[std::size_t(i)];
    return p;
  }

  [[nodiscard]] constexpr int normalise_axis(int i) const {
    int a = i < 0 ? i + rank_ : i;
    if (a < 0 || a >= rank_)
      throw shape_error("shape", detail::cat("axis ", i, " is out of range for shape ", *this));
    return a;
  }

  friend constexpr bool operator==(const shape& a, const shape& b) noexcept {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.dims_[std::size_t(i)] != b.dims_[std::size_t(i)]) return false;
    return true;
  }

  friend std::ostream& operator<<(std::ostream& os, const shape& s) {
    os << '(';
    for (int i = 0; i < s.rank_; ++i) os << (i ? ", " : "") << s.dims_[std::size_t(i)];
    return os << ')';
  }

  [[nodiscard]] std::string str() const { return detail::cat(*this); }

 private:
  constexpr void validate(const char* op) const {
    for (int i = 0; i < rank_; ++i)
      if (dims_[std::size_t(i)] < 0)
        throw shape_error(op, detail::cat("negative extent in shape ", *this));
  }

  std::array<index_t, 4> dims_{1, 1, 1, 1};
  int rank_ = 0;
};

/// NumPy broadcasting of two shapes (right-aligned; equal extents or one of
/// them 1). Throws shape_error naming `op` and both shapes when they do not fit.
inline shape broadcast_shapes(const shape& a, const shape& b, const char* op) {
  int r = a.rank() > b.rank() ? a.rank() : b.rank();
  auto pa = a.padded(), pb = b.padded();
  index_t out[4];
  for (int i = 0; i < r; ++i) {
    std::size_t k = std::size_t(4 - r + i);
    if (pa[k] == pb[k] || pb[k] == 1)
      out[i] = pa[k];
    else if (pa[k] == 1)
      out[i] = pb[k];
    else
      throw shape_error(op, detail::cat("shapes ", a, " and ", b, " cannot be broadcast together (axis ",
                                        i, ": ", pa[k], " vs ", pb[k], ")"));
  }
  return shape::from_dims(out, r);
}

}  // namespace attngan
