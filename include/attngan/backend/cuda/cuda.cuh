// attngan/backend/cuda/cuda.cuh — the CUDA backend type.
//
// `attngan::cuda` is one device (the current one at first use) and one
// non-blocking stream on it: every kernel, copy and cuBLAS call of the
// backend is ordered on that stream, so memory can go back to the caching
// allocator the moment its last user is *enqueued* — a later kernel reusing
// the block runs after it (a stream-ordered cache; no cudaMalloc or cudaFree
// in a steady-state step, see allocator().stats()). Host copies wait for the
// stream, so host memory handed to copy_from_host may be freed on return.
//
// Every CUDA and cuBLAS call is checked; a failure becomes
// attngan::backend_error naming the call. GEMMs run in fp32 (or fp64) unless
// TF32 is switched on with cuda::set_tf32(true).
#pragma once

#if !defined(__CUDACC__)
#error "attngan/backend/cuda/*.cuh needs nvcc: include attngan/cuda.hpp from a .cu file"
#endif

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "attngan/core/allocator.hpp"
#include "attngan/core/backend.hpp"
#include "attngan/core/config.hpp"
#include "attngan/core/error.hpp"

namespace attngan {

namespace detail {

inline void cuda_check(cudaError_t status, const char* call) {
  if (status != cudaSuccess)
    throw backend_error(call, detail::cat(cudaGetErrorName(status), ": ", cudaGetErrorString(status)));
}

inline void cublas_check(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS) throw backend_error(call, cublasGetStatusString(status));
}

struct device_system_allocator {
  static void* allocate(std::size_t bytes) {
    void* p = nullptr;
    cuda_check(cudaMalloc(&p, bytes), "cudaMalloc");
    return p;
  }
  static void deallocate(void* p, std::size_t) noexcept { (void)cudaFree(p); }
};

}  // namespace detail

#define ATTNGAN_CUDA_CHECK(call) ::attngan::detail::cuda_check((call), #call)
#define ATTNGAN_CUBLAS_CHECK(call) ::attngan::detail::cublas_check((call), #call)

struct cuda {
  static constexpr const char* name = "cuda";
  static constexpr bool is_host = false;

  /// Number of CUDA devices (0 when there is no GPU or no driver).
  static int device_count() noexcept {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      (void)cudaGetLastError();  // clear the sticky "no device" error
      return 0;
    }
    return n;
  }
  static bool available() noexcept { return device_count() > 0; }

  /// The current device's name, as the driver reports it ("NVIDIA H200").
  static std::string device_name() {
    int device = 0;
    ATTNGAN_CUDA_CHECK(cudaGetDevice(&device));
    cudaDeviceProp prop{};
    ATTNGAN_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    return prop.name;
  }

  /// The process-wide caching allocator of device memory (never destroyed:
  /// freeing after the CUDA runtime shut down would fail).
  static caching_allocator<detail::device_system_allocator>& allocator() {
    static auto* instance = new caching_allocator<detail::device_system_allocator>();
    return *instance;
  }

  /// The backend's stream; every primitive is enqueued on it.
  static cudaStream_t stream() {
    static cudaStream_t s = [] {
      cudaStream_t created = nullptr;
      ATTNGAN_CUDA_CHECK(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking));
      return created;
    }();
    return s;
  }

  /// The backend's cuBLAS handle, bound to stream().
  static cublasHandle_t blas() {
    static cublasHandle_t h = [] {
      cublasHandle_t created = nullptr;
      ATTNGAN_CUBLAS_CHECK(cublasCreate(&created));
      ATTNGAN_CUBLAS_CHECK(cublasSetStream(created, stream()));
      ATTNGAN_CUBLAS_CHECK(cublasSetMathMode(created, CUBLAS_DEFAULT_MATH));
      return created;
    }();
    return h;
  }

  /// TF32 tensor cores for float GEMMs (off by default: fp32 results match
  /// the CPU backend to ~1e-6; with TF32 to ~1e-3).
  static void set_tf32(bool on) {
    ATTNGAN_CUBLAS_CHECK(cublasSetMathMode(blas(), on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    tf32_flag() = on;
  }
  static bool tf32() { return tf32_flag(); }

  static void copy_from_host(void* dst, const void* src, std::size_t bytes) {
    ATTNGAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()));
    ATTNGAN_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }
  static void copy_to_host(void* dst, const void* src, std::size_t bytes) {
    ATTNGAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
    ATTNGAN_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }
  static void copy_within(void* dst, const void* src, std::size_t bytes) {
    ATTNGAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
  }
  static void zero_fill(void* dst, std::size_t bytes) {
    ATTNGAN_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, stream()));
  }
  static void synchronize() { ATTNGAN_CUDA_CHECK(cudaStreamSynchronize(stream())); }

  /// dst[0, n) = value, on the stream (tensor::fill of a non-zero value).
  template <class T>
  static void fill_value(T* dst, index_t n, T value);

 private:
  static bool& tf32_flag() {
    static bool on = false;
    return on;
  }
};

static_assert(backend<cuda>);

}  // namespace attngan
