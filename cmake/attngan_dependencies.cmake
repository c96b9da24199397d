# attngan_dependencies.cmake — every external dependency of attngan is a Debian
# package found by CMake (design decision 10); nothing is downloaded.
#
# Included once from the top-level CMakeLists.txt after the ATTNGAN_BUILD_*
# options are declared. It finds what the library itself needs (Eigen3, OpenMP,
# Threads, stb for image decode/encode in attngan/data/image.hpp) and what the
# enabled parts need (doctest for tests, Google Benchmark for bench). The
# example-only libraries (nlohmann_json, CLI11) are found by
# attngan_find_example_deps(), which examples/CMakeLists.txt calls.

include_guard(GLOBAL)

# attngan_find_package(<Name> DEBIAN "<deb-package> [...]" [find_package args...])
#
# Calls find_package(<Name> <args...> QUIET) and, when the package is not
# found, stops configuration with a message that names the Debian package to
# install, e.g.
#   attngan needs Eigen3 (>= 3.4). On Debian/Ubuntu install it with:
#     sudo apt-get install libeigen3-dev
# The first argument after DEBIAN that looks like a version number (3.4,
# 2.4.9) is shown as the minimum version. DEBIAN may name several packages,
# separated by spaces, in one quoted argument.
#
# This is a macro, not a function, on purpose: package config files set
# variables in the caller's scope (doctest, for instance, appends itself to
# CMAKE_MODULE_PATH so that include(doctest) works), and a function scope
# would drop them. All helper variables are prefixed _attngan_fp_.
macro(attngan_find_package _attngan_fp_name)
  cmake_parse_arguments(_attngan_fp "" "DEBIAN" "" ${ARGN})
  if(NOT _attngan_fp_DEBIAN)
    message(FATAL_ERROR "attngan_find_package(${_attngan_fp_name}): DEBIAN <package> is required")
  endif()
  set(_attngan_fp_version "")
  foreach(_attngan_fp_arg IN LISTS _attngan_fp_UNPARSED_ARGUMENTS)
    if(_attngan_fp_arg MATCHES "^[0-9]+(\\.[0-9]+)*$")
      set(_attngan_fp_version " (>= ${_attngan_fp_arg})")
      break()
    endif()
  endforeach()

  find_package(${_attngan_fp_name} ${_attngan_fp_UNPARSED_ARGUMENTS} QUIET)

  if(NOT ${_attngan_fp_name}_FOUND)
    message(FATAL_ERROR
      "attngan needs ${_attngan_fp_name}${_attngan_fp_version}. "
      "On Debian/Ubuntu install it with:\n"
      "  sudo apt-get install ${_attngan_fp_DEBIAN}\n"
      "(If it is installed under another prefix, add that prefix to "
      "CMAKE_PREFIX_PATH.)")
  endif()
  if(DEFINED ${_attngan_fp_name}_VERSION AND NOT "${${_attngan_fp_name}_VERSION}" STREQUAL "")
    message(STATUS "attngan: found ${_attngan_fp_name} ${${_attngan_fp_name}_VERSION}")
  else()
    message(STATUS "attngan: found ${_attngan_fp_name}")
  endif()

  unset(_attngan_fp_version)
  unset(_attngan_fp_arg)
  unset(_attngan_fp_DEBIAN)
  unset(_attngan_fp_UNPARSED_ARGUMENTS)
  unset(_attngan_fp_KEYWORDS_MISSING_VALUES)
endmacro()

# attngan_find_stb()
#
# Defines the imported INTERFACE target attngan::stb for the single-file stb
# libraries (libstb-dev). Debian ships no CMake config for stb, so this is a
# find_path of stb_image.h; Debian installs it as /usr/include/stb/stb_image.h,
# hence PATH_SUFFIXES stb. The include directory is the one holding the header
# itself, so code writes #include <stb_image.h>. attngan/data/image.hpp compiles
# a private (static) copy of stb_image and stb_image_write into each
# translation unit that includes it, so nothing is linked.
# cmake/attnganConfig.cmake.in repeats this lookup for installed packages.
function(attngan_find_stb)
  if(TARGET attngan::stb)
    return()
  endif()
  find_path(ATTNGAN_STB_INCLUDE_DIR
    NAMES stb_image.h
    PATH_SUFFIXES stb
    DOC "Directory containing stb_image.h and stb_image_write.h (libstb-dev)")
  if(NOT ATTNGAN_STB_INCLUDE_DIR OR NOT EXISTS "${ATTNGAN_STB_INCLUDE_DIR}/stb_image_write.h")
    message(FATAL_ERROR
      "attngan needs stb (stb_image.h, stb_image_write.h). On Debian/Ubuntu install it with:\n"
      "  sudo apt-get install libstb-dev\n"
      "(or set ATTNGAN_STB_INCLUDE_DIR to the directory that holds stb_image.h).")
  endif()
  add_library(attngan::stb INTERFACE IMPORTED GLOBAL)
  set_target_properties(attngan::stb PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${ATTNGAN_STB_INCLUDE_DIR}")
  message(STATUS "attngan: found stb in ${ATTNGAN_STB_INCLUDE_DIR}")
endfunction()

# attngan_find_example_deps()
#
# Finds the libraries only the example programs use and defines their targets:
#   nlohmann_json::nlohmann_json  (nlohmann-json3-dev)  metrics, configs, reports
#   CLI11::CLI11                  (libcli11-dev)        command lines
# Called once from examples/CMakeLists.txt. Imported targets from package
# configs are directory-scoped, so they are visible in the calling directory
# and below.
#
# A macro, not a function: CLI11's and nlohmann_json's config files define
# their imported targets in the caller's directory, and attngan_find_package
# sets its <Name>_FOUND variables there too.
macro(attngan_find_example_deps)
  attngan_find_package(nlohmann_json 3.10 DEBIAN nlohmann-json3-dev CONFIG)
  attngan_find_package(CLI11 2.1 DEBIAN libcli11-dev CONFIG)
endmacro()

# --- What the library needs --------------------------------------------------
attngan_find_package(Eigen3 3.4 DEBIAN libeigen3-dev NO_MODULE)
# libgomp comes with g++ (libgomp1 is the runtime, g++ pulls in the rest);
# Clang needs LLVM's runtime, e.g. libomp-19-dev beside clang-19.
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  string(REGEX MATCH "^[0-9]+" _attngan_clang_major "${CMAKE_CXX_COMPILER_VERSION}")
  attngan_find_package(OpenMP DEBIAN "libomp-${_attngan_clang_major}-dev" COMPONENTS CXX)
  unset(_attngan_clang_major)
else()
  attngan_find_package(OpenMP DEBIAN "g++ libgomp1" COMPONENTS CXX)
endif()
set(THREADS_PREFER_PTHREAD_FLAG ON)
attngan_find_package(Threads DEBIAN libc6-dev)
# stb_image / stb_image_write: JPEG and PNG decode/encode (attngan/data/image.hpp).
attngan_find_stb()

# --- What the enabled parts need ----------------------------------------------
if(ATTNGAN_BUILD_TESTS)
  attngan_find_package(doctest 2.4 DEBIAN doctest-dev CONFIG)
endif()
if(ATTNGAN_BUILD_BENCH)
  attngan_find_package(benchmark 1.6 DEBIAN libbenchmark-dev CONFIG)
endif()
