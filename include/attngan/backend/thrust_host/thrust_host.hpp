// attngan/backend/thrust_host/thrust_host.hpp — the Thrust backend on the host.
//
// `attngan::thrust_host` runs the CUDA backend's elementwise and reduction
// code (backend/thrust/kernels.hpp) through Thrust's host system — OpenMP
// when the compiler has it, else serial — on ordinary host memory, and its
// GEMMs through the same column-major restatement the CUDA backend hands to
// cuBLAS (executed by Eigen). It exists so the GPU code paths are compiled
// and tested on machines without a GPU: tests/backend/parity checks it
// against `cpu` on every primitive and layer. It compiles with g++ alone.
#pragma once

#if !defined(THRUST_DEVICE_SYSTEM)
#if defined(_OPENMP)
#define THRUST_DEVICE_SYSTEM THRUST_DEVICE_SYSTEM_OMP
#else
#define THRUST_DEVICE_SYSTEM THRUST_DEVICE_SYSTEM_CPP
#endif
#endif

#include "attngan/backend/cpu/cpu.hpp"
#include "attngan/core/allocator.hpp"
#include "attngan/core/backend.hpp"

#if defined(_OPENMP)
#include <thrust/system/omp/execution_policy.h>
#else
#include <thrust/system/cpp/execution_policy.h>
#endif

namespace attngan {

struct thrust_host : detail::host_memory_ops {
  static constexpr const char* name = "thrust_host";
  static constexpr bool is_host = true;

  /// Its own cache of host memory (statistics apart from cpu's).
  static caching_allocator<detail::host_system_allocator>& allocator() {
    static auto* instance = new caching_allocator<detail::host_system_allocator>();
    return *instance;
  }

  /// The Thrust execution policy every primitive runs under.
  static auto policy() {
#if defined(_OPENMP)
    return thrust::omp::par;
#else
    return thrust::cpp::par;
#endif
  }
};

static_assert(backend<thrust_host>);

}  // namespace attngan
