// attngan/core/random.hpp — a seeded generator that fills tensors on any backend.
//
// A generator is the pair (seed, offset) of the Philox stream contract
// (philox.hpp): each fill evaluates element i of the stream in the backend's
// elementwise kernel, then advances the offset by the blocks it consumed. The
// same (seed, offset) therefore gives the same numbers on the CPU and on the
// GPU, and saving the pair in a checkpoint resumes the stream exactly.
#pragma once

#include <cstdint>

#include "attngan/backend/primitives.hpp"
#include "attngan/core/philox.hpp"
#include "attngan/core/tensor.hpp"

namespace attngan {

namespace detail {
/// a + b·x rounded twice, as the host computes it: nvcc would otherwise fuse
/// it into one FMA and the CUDA draws would differ from the CPU's in the last
/// bit. (Host code is compiled as ISO C++, where GCC does not contract.)
ATTNGAN_HD inline float add_mul_unfused(float a, float b, float x) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, __fmul_rn(b, x));
#else
  return a + b * x;
#endif
}
ATTNGAN_HD inline double add_mul_unfused(double a, double b, double x) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, __dmul_rn(b, x));
#else
  return a + b * x;
#endif
}

template <class T>
struct uniform_fill {
  T* out;
  std::uint64_t seed, offset;
  T low, width;
  ATTNGAN_HD void operator()(index_t i) const { out[i] = add_mul_unfused(low, width, philox::uniform<T>(seed, offset, i)); }
};

template <class T>
struct normal_fill {
  T* out;
  std::uint64_t seed, offset;
  T mean, stddev;
  ATTNGAN_HD void operator()(index_t i) const { out[i] = add_mul_unfused(mean, stddev, philox::normal<T>(seed, offset, i)); }
};
}  // namespace detail

class generator {
 public:
  explicit generator(std::uint64_t seed = 0, std::uint64_t offset = 0) : seed_(seed), offset_(offset) {}

  [[nodiscard]] std::uint64_t seed() const noexcept { return seed_; }
  [[nodiscard]] std::uint64_t offset() const noexcept { return offset_; }

  /// Advances the stream by `blocks` counter blocks (after a kernel drew
  /// from (seed, offset) itself).
  void skip(std::uint64_t blocks) noexcept { offset_ += blocks; }

  /// Fills t with values uniform in [low, high).
  template <real T, backend B>
  void uniform(tensor<T, B>& t, T low = T(0), T high = T(1)) {
    primitives::for_each_index<B>(t.numel(), detail::uniform_fill<T>{t.data(), seed_, offset_, low, high - low});
    offset_ += philox::blocks_used_uniform<T>(t.numel());
  }

  /// Fills t with normal values of the given mean and standard deviation.
  template <real T, backend B>
  void normal(tensor<T, B>& t, T mean = T(0), T stddev = T(1)) {
    primitives::for_each_index<B>(t.numel(), detail::normal_fill<T>{t.data(), seed_, offset_, mean, stddev});
    offset_ += philox::blocks_used_normal<T>(t.numel());
  }

  /// A new tensor of the given shape with uniform values.
  template <real T, backend B>
  tensor<T, B> uniform(const shape& s, T low = T(0), T high = T(1)) {
    tensor<T, B> t(s);
    uniform(t, low, high);
    return t;
  }

  /// A new tensor of the given shape with normal values.
  template <real T, backend B>
  tensor<T, B> normal(const shape& s, T mean = T(0), T stddev = T(1)) {
    tensor<T, B> t(s);
    normal(t, mean, stddev);
    return t;
  }

 private:
  std::uint64_t seed_;
  std::uint64_t offset_;
};

}  // namespace attngan
