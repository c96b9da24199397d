// attngan/cuda.hpp — the library plus the `cuda` backend. The only header
// that needs nvcc (compile the including file as CUDA); link CUDA::cudart and
// CUDA::cublas (the CMake target attngan::cuda does both).
#pragma once

#include "attngan/attngan.hpp"
#include "attngan/backend/cuda/cuda.cuh"
#include "attngan/backend/cuda/elementwise.cuh"
#include "attngan/backend/cuda/gemm.cuh"
#include "attngan/backend/cuda/reduce.cuh"
