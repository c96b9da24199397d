# attngan_dependencies.cmake — every external dependency of attngan is a Debian
# package found by CMake (design decision 10); nothing is downloaded.
#
# Included once from the top-level CMakeLists.txt after the ATTNGAN_BUILD_*
# options are declared. It finds what the library itself needs (Eigen3, OpenMP,
# Threads) and what the enabled parts need (doctest for tests, Google Benchmark
# for bench). The example-only libraries (nlohmann_json, CLI11, stb) are found
# by attngan_find_example_deps(), which examples/CMakeLists.txt calls once the
# examples use them.

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

# attngan_find_example_deps()
#
# Finds the libraries only the example programs use and defines their targets:
#   nlohmann_json::nlohmann_json  (nlohmann-json3-dev)  metrics, configs, reports
#   CLI11::CLI11                  (libcli11-dev)        command lines
#   attngan::stb                  (libstb-dev)          PNG/JPEG decode/encode
# Debian ships no CMake config for stb, so attngan::stb is an imported INTERFACE
# target whose include directory is the one holding stb/stb_image.h; code
# includes <stb/stb_image.h> and defines STB_IMAGE_IMPLEMENTATION in exactly
# one translation unit.
#
# Call it from examples/CMakeLists.txt (once) when the examples need these
# libraries; nothing calls it yet. Imported targets are directory-scoped, so
# they are visible in the calling directory and below.
function(attngan_find_example_deps)
  attngan_find_package(nlohmann_json 3.10 DEBIAN nlohmann-json3-dev CONFIG)
  attngan_find_package(CLI11 2.1 DEBIAN libcli11-dev CONFIG)

  if(NOT TARGET attngan::stb)
    find_path(ATTNGAN_STB_INCLUDE_DIR
      NAMES stb/stb_image.h
      DOC "Directory containing stb/stb_image.h (libstb-dev)")
    if(NOT ATTNGAN_STB_INCLUDE_DIR)
      message(FATAL_ERROR
        "attngan needs stb (stb/stb_image.h). On Debian/Ubuntu install it with:\n"
        "  sudo apt-get install libstb-dev\n"
        "(or set ATTNGAN_STB_INCLUDE_DIR to the directory that holds stb/).")
    endif()
    add_library(attngan::stb INTERFACE IMPORTED)
    set_target_properties(attngan::stb PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${ATTNGAN_STB_INCLUDE_DIR}")
    message(STATUS "attngan: found stb in ${ATTNGAN_STB_INCLUDE_DIR}")
  endif()
endfunction()

# --- What the library needs --------------------------------------------------
attngan_find_package(Eigen3 3.4 DEBIAN libeigen3-dev NO_MODULE)
# libgomp comes with g++ (libgomp1 is the runtime, g++ pulls in the rest).
attngan_find_package(OpenMP DEBIAN "g++ libgomp1" COMPONENTS CXX)
set(THREADS_PREFER_PTHREAD_FLAG ON)
attngan_find_package(Threads DEBIAN libc6-dev)

# --- What the enabled parts need ----------------------------------------------
if(ATTNGAN_BUILD_TESTS)
  attngan_find_package(doctest 2.4 DEBIAN doctest-dev CONFIG)
endif()
if(ATTNGAN_BUILD_BENCH)
  attngan_find_package(benchmark 1.6 DEBIAN libbenchmark-dev CONFIG)
endif()
