# check_consumer.cmake — build tests/consumer/ against attngan as a user would.
#
#   cmake -DMODE=find_package|add_subdirectory
#         -DATTNGAN_SOURCE_DIR=<src> -DATTNGAN_BINARY_DIR=<attngan build dir>
#         -DCONSUMER_SOURCE_DIR=<src>/tests/consumer -DWORK_DIR=<scratch dir>
#         -DGENERATOR=<gen> [-DGENERATOR_PLATFORM=] [-DGENERATOR_TOOLSET=]
#         [-DMAKE_PROGRAM=] -DCXX_COMPILER=<c++> [-DPREFIX_PATH=a|b]
#         -DBUILD_TYPE=<config> -DEXPECTED_VERSION=<x.y.z>
#         -P check_consumer.cmake
#
# find_package:     cmake --install <attngan build> --prefix WORK/prefix, then
#                   configure the consumer with CMAKE_PREFIX_PATH=WORK/prefix
#                   and check that attngan was found there.
# add_subdirectory: configure the consumer with add_subdirectory(<src>) and
#                   check that attngan's tests/examples/bench are switched off.
# Both: build, run, and check that the program prints "attngan <version>".
# WORK_DIR is wiped first; each mode has its own, so both can run in parallel.

cmake_minimum_required(VERSION 3.25)

foreach(_var IN ITEMS MODE ATTNGAN_SOURCE_DIR ATTNGAN_BINARY_DIR CONSUMER_SOURCE_DIR
                      WORK_DIR GENERATOR CXX_COMPILER EXPECTED_VERSION)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "check_consumer.cmake: -D${_var}=... is required")
  endif()
endforeach()
if(NOT BUILD_TYPE)
  set(BUILD_TYPE Release)
endif()

function(_run step)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
  if(NOT _rc EQUAL 0)
    list(JOIN ARGN " " _cmd)
    message(NOTICE "command: ${_cmd}\n---- output ----\n${_out}---- end of output ----")
    message(FATAL_ERROR "consumer.${MODE}: ${step} failed (exit ${_rc}), output above")
  endif()
  set(_last_output "${_out}" PARENT_SCOPE)
endfunction()

function(_cache_value build_dir name out_var)
  file(STRINGS "${build_dir}/CMakeCache.txt" _line REGEX "^${name}:[A-Z]+=")
  string(REGEX REPLACE "^${name}:[A-Z]+=" "" _value "${_line}")
  set(${out_var} "${_value}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(_build "${WORK_DIR}/build")

set(_configure "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${_build}"
  -G "${GENERATOR}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
  "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}"
  "-DATTNGAN_CONSUMER_MODE=${MODE}"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(GENERATOR_PLATFORM)
  list(APPEND _configure -A "${GENERATOR_PLATFORM}")
endif()
if(GENERATOR_TOOLSET)
  list(APPEND _configure -T "${GENERATOR_TOOLSET}")
endif()
if(MAKE_PROGRAM)
  list(APPEND _configure "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
string(REPLACE "|" ";" _prefix_path "${PREFIX_PATH}")

# The prefix path reaches the child cmake through the environment
# (CMAKE_PREFIX_PATH, a native path list): a ";"-list does not survive being
# passed through execute_process arguments. It is searched before the system
# prefixes, so the fresh install wins over any attngan installed system-wide.
function(_export_prefix_path)
  set(_all ${_prefix_path})
  if(DEFINED ENV{CMAKE_PREFIX_PATH} AND NOT "$ENV{CMAKE_PREFIX_PATH}" STREQUAL "")
    cmake_path(CONVERT "$ENV{CMAKE_PREFIX_PATH}" TO_CMAKE_PATH_LIST _env)
    list(APPEND _all ${_env})
  endif()
  if(_all)
    cmake_path(CONVERT "${_all}" TO_NATIVE_PATH_LIST _native)
    set(ENV{CMAKE_PREFIX_PATH} "${_native}")
  endif()
endfunction()

if(MODE STREQUAL "find_package")
  set(_prefix "${WORK_DIR}/prefix")
  _run("cmake --install" "${CMAKE_COMMAND}" --install "${ATTNGAN_BINARY_DIR}"
       --prefix "${_prefix}" --config "${BUILD_TYPE}")
  list(PREPEND _prefix_path "${_prefix}")
  _export_prefix_path()
  _run("configure (find_package)" ${_configure})
  _cache_value("${_build}" attngan_DIR _found_dir)
  file(REAL_PATH "${_prefix}" _real_prefix)
  file(REAL_PATH "${_found_dir}" _real_found)
  string(FIND "${_real_found}" "${_real_prefix}/" _pos)
  if(NOT _pos EQUAL 0)
    message(FATAL_ERROR "consumer.find_package: attngan was found in '${_found_dir}', not in the fresh install prefix '${_prefix}'")
  endif()
elseif(MODE STREQUAL "add_subdirectory")
  list(APPEND _configure "-DATTNGAN_SOURCE_DIR=${ATTNGAN_SOURCE_DIR}")
  _export_prefix_path()
  _run("configure (add_subdirectory)" ${_configure})
  # As a subproject attngan must build nothing of its own.
  foreach(_opt IN ITEMS ATTNGAN_BUILD_TESTS ATTNGAN_BUILD_EXAMPLES ATTNGAN_BUILD_BENCH)
    _cache_value("${_build}" ${_opt} _value)
    if(_value)
      message(FATAL_ERROR "consumer.add_subdirectory: ${_opt} is '${_value}' in the consumer's cache; it must be OFF when attngan is not the top-level project")
    endif()
  endforeach()
  if(EXISTS "${_build}/attngan-build/tests")
    message(FATAL_ERROR "consumer.add_subdirectory: attngan's tests were configured inside the consumer (${_build}/attngan-build/tests exists)")
  endif()
else()
  message(FATAL_ERROR "check_consumer.cmake: MODE must be find_package or add_subdirectory, not '${MODE}'")
endif()

_run("build" "${CMAKE_COMMAND}" --build "${_build}" --config "${BUILD_TYPE}")

set(_exe_file "${_build}/consumer-exe-${BUILD_TYPE}.txt")
if(NOT EXISTS "${_exe_file}")
  message(FATAL_ERROR "consumer.${MODE}: ${_exe_file} was not generated")
endif()
file(READ "${_exe_file}" _exe)
string(STRIP "${_exe}" _exe)
_run("running ${_exe}" "${_exe}")
string(STRIP "${_last_output}" _printed)
if(NOT _printed MATCHES "^attngan ${EXPECTED_VERSION} ")
  message(FATAL_ERROR
    "consumer.${MODE}: expected the program to print 'attngan ${EXPECTED_VERSION} ...' "
    "(CMake project version vs attngan::version_string), got: '${_printed}'")
endif()
message(STATUS "consumer.${MODE}: OK: ${_printed}")
