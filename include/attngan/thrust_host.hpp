// attngan/thrust_host.hpp — the library plus the `thrust_host` backend: the
// CUDA backend's Thrust code paths run on the host (for testing them without
// a GPU). Needs Thrust headers (the CUDA toolkit's CCCL, or Debian's
// libthrust-dev) but no nvcc.
#pragma once

#include "attngan/backend/thrust_host/thrust_host.hpp"  // first: sets THRUST_DEVICE_SYSTEM

#include "attngan/attngan.hpp"
#include "attngan/backend/thrust_host/elementwise.hpp"
#include "attngan/backend/thrust_host/gemm.hpp"
#include "attngan/backend/thrust_host/reduce.hpp"
