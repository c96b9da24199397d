// attngan/attngan.hpp — the whole library for host compilers (g++ alone).
// The CUDA backend is added by attngan/cuda.hpp, which needs nvcc.
#pragma once

#include "attngan/core/allocator.hpp"
#include "attngan/core/backend.hpp"
#include "attngan/core/config.hpp"
#include "attngan/core/error.hpp"
#include "attngan/core/philox.hpp"
#include "attngan/core/random.hpp"
#include "attngan/core/shape.hpp"
#include "attngan/core/tensor.hpp"

#include "attngan/backend/cpu/cpu.hpp"
#include "attngan/backend/cpu/elementwise.hpp"
#include "attngan/backend/cpu/gemm.hpp"
#include "attngan/backend/cpu/reduce.hpp"
#include "attngan/backend/primitives.hpp"

#include "attngan/autodiff/backward.hpp"
#include "attngan/autodiff/expression.hpp"
#include "attngan/autodiff/functors.hpp"
#include "attngan/autodiff/gradcheck.hpp"
#include "attngan/autodiff/linalg.hpp"
#include "attngan/autodiff/reduce.hpp"
#include "attngan/autodiff/tape.hpp"
#include "attngan/autodiff/var.hpp"
