// attngan/core/config.hpp — compile-time configuration shared by every header.
//
// Holds the library version, the index type used for sizes and offsets, and the
// ATTNGAN_HD annotation that marks functions callable from both host and device
// code: under nvcc it expands to `__host__ __device__`, under a host compiler to
// nothing, so the elementwise functors and Philox are written once for both
// backends (design decision 8).
#pragma once

#include <cstdint>

#define ATTNGAN_VERSION_MAJOR 0
#define ATTNGAN_VERSION_MINOR 1
#define ATTNGAN_VERSION_PATCH 0

#if defined(__CUDACC__)
#define ATTNGAN_HD __host__ __device__
#define ATTNGAN_DEVICE_COMPILE 1
#else
#define ATTNGAN_HD
#define ATTNGAN_DEVICE_COMPILE 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define ATTNGAN_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ATTNGAN_ALWAYS_INLINE inline
#endif

namespace attngan {

/// Signed 64-bit index for sizes, offsets and element counts (tensors past 2^31
/// elements occur in batched attention maps).
using index_t = std::int64_t;

inline constexpr int version_major = ATTNGAN_VERSION_MAJOR;
inline constexpr int version_minor = ATTNGAN_VERSION_MINOR;
inline constexpr int version_patch = ATTNGAN_VERSION_PATCH;
inline constexpr const char* version_string = "0.1.0";

}  // namespace attngan
