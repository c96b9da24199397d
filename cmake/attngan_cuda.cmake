# The Thrust backends: `attngan::thrust_host` (the CUDA backend's Thrust code
# paths on the host, g++ only; needs Thrust headers) and `attngan::cuda` (the
# CUDA backend; needs nvcc, cuBLAS).
#
#   ATTNGAN_ENABLE_CUDA = AUTO (default) | ON | OFF
#     AUTO builds the CUDA targets when nvcc is found (PATH, $CUDACXX or
#     /usr/local/cuda/bin/nvcc); ON requires it. Without a GPU the CUDA test
#     programs build and report "skipped" (exit code 77) when run.
#   CMAKE_CUDA_ARCHITECTURES defaults to "80;90" (A100, H100/H200).

# --- Thrust headers for the host backend ------------------------------------
find_path(ATTNGAN_THRUST_INCLUDE_DIR thrust/version.h
  HINTS /usr/local/cuda/include/cccl /usr/local/cuda/include
  PATHS /usr/include
  DOC "Folder holding thrust/ (the CUDA toolkit's cccl/ or Debian's libthrust-dev)")
if(ATTNGAN_THRUST_INCLUDE_DIR)
  add_library(attngan_thrust_host INTERFACE)
  add_library(attngan::thrust_host ALIAS attngan_thrust_host)
  target_include_directories(attngan_thrust_host SYSTEM INTERFACE "${ATTNGAN_THRUST_INCLUDE_DIR}")
  target_link_libraries(attngan_thrust_host INTERFACE attngan::attngan)
  message(STATUS "attngan: Thrust headers in ${ATTNGAN_THRUST_INCLUDE_DIR}: thrust_host backend available")
else()
  message(STATUS "attngan: no Thrust headers found: the thrust_host backend and its parity tests are "
                 "skipped (install the CUDA toolkit, or Debian's libthrust-dev)")
endif()

# --- CUDA ---------------------------------------------------------------------
set(ATTNGAN_ENABLE_CUDA "AUTO" CACHE STRING "Build the CUDA backend targets: AUTO (when nvcc is found), ON or OFF")
set_property(CACHE ATTNGAN_ENABLE_CUDA PROPERTY STRINGS AUTO ON OFF)
set(ATTNGAN_HAS_CUDA OFF)
if(NOT ATTNGAN_ENABLE_CUDA STREQUAL "OFF")
  if(NOT DEFINED CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    set(ENV{CUDACXX} /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    add_library(attngan_cuda INTERFACE)
    add_library(attngan::cuda ALIAS attngan_cuda)
    target_link_libraries(attngan_cuda INTERFACE attngan::attngan CUDA::cudart CUDA::cublas)
    # C++20 in .cu files: given as a flag, since CMake 3.25 does not know
    # the cuda_std_20 feature for nvcc 13.
    # Eigen's constexpr helpers are called from device code (relaxed
    # constexpr) and nvcc warns about Eigen's own __host__ __device__
    # annotations (20012). OpenMP for the cpu backend in the same program.
    target_compile_options(attngan_cuda INTERFACE
      $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20 --expt-relaxed-constexpr -diag-suppress=20012 -Xcompiler=-fopenmp>)
    set(ATTNGAN_HAS_CUDA ON)
    # For the project's own CUDA programs (tests, benchmarks): compile the
    # architectures in parallel inside one nvcc call (--threads 0), which
    # halves the wall time of the largest translation unit on two cores.
    function(attngan_cuda_program target)
      target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--threads=0>)
    endfunction()
    message(STATUS "attngan: CUDA backend enabled (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, "
                   "architectures ${CMAKE_CUDA_ARCHITECTURES})")
  elseif(ATTNGAN_ENABLE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "attngan: ATTNGAN_ENABLE_CUDA=ON but no nvcc was found "
                        "(set CUDACXX or CMAKE_CUDA_COMPILER, or install the CUDA toolkit)")
  else()
    message(STATUS "attngan: nvcc not found: CUDA targets skipped")
  endif()
endif()
