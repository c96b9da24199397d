# attngan_testing.cmake — helpers used by tests/CMakeLists.txt and the test
# folders below it. Three kinds of tests:
#
#   attngan_add_test_suite(NAME <name> SOURCES <files...> [LABELS <labels...>]
#                          [LIBRARIES <targets...>] [COMPOSITION_ONLY] [UNITY])
#       A doctest executable; every TEST_CASE becomes one ctest test named
#       "<name>.<test case>" with the labels "unit", <name> and LABELS.
#       COMPOSITION_ONLY: the suite tests how layers and models are put
#       together, not the vectorised kernels (tests/backend and
#       tests/autodiff do): it compiles at -O1 in Release.
#       UNITY: the files compile as one translation unit (when the option
#       ATTNGAN_UNITY_TESTS is ON, the default).
#
#   attngan_add_failtest(<file.cpp>)
#       A must-not-compile check (ctest test "failtest.<stem>", label
#       "failtest"); see cmake/check_compile_failure.cmake for the rules a
#       snippet follows.
#
#   attngan_add_consumer_test(<find_package|add_subdirectory>)
#       Builds tests/consumer/ against attngan the way a user would (ctest test
#       "consumer.<mode>", label "consumer"); see cmake/check_consumer.cmake.
#
# The doctest main is compiled once, into the static library
# attngan_doctest_main, which tests/CMakeLists.txt defines before including
# the test folders.

include_guard(GLOBAL)
include(doctest)   # doctest_discover_tests(), found via doctest's package config

function(attngan_add_test_suite)
  cmake_parse_arguments(PARSE_ARGV 0 arg "COMPOSITION_ONLY;UNITY" "NAME" "SOURCES;LABELS;LIBRARIES")
  if(NOT arg_NAME OR NOT arg_SOURCES)
    message(FATAL_ERROR "attngan_add_test_suite: NAME and SOURCES are required")
  endif()
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "attngan_add_test_suite(${arg_NAME}): unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()

  add_executable(${arg_NAME} ${arg_SOURCES})
  # UNITY: the suite's files compile as one translation unit (CMake's unity
  # build). Where they instantiate the same layers and kernels, each template
  # is then instantiated and optimised once instead of once per file: test_nn
  # 72 s instead of 124 s, test_autodiff 60 s instead of 99 s (2 jobs on the
  # 2-core VM). Suites whose files instantiate different models (the model,
  # io and eval suites) gained nothing joined, so they do not ask for it.
  # Every test file keeps its code in a namespace named after the file, so
  # joined files do not clash.
  if(arg_UNITY AND ATTNGAN_UNITY_TESTS)
    set_target_properties(${arg_NAME} PROPERTIES UNITY_BUILD ON UNITY_BUILD_MODE BATCH UNITY_BUILD_BATCH_SIZE 0)
  endif()
  target_link_libraries(${arg_NAME} PRIVATE
    attngan::attngan doctest::doctest attngan_doctest_main ${arg_LIBRARIES})
  target_include_directories(${arg_NAME} PRIVATE "${PROJECT_SOURCE_DIR}/tests/support")
  # Where tests find checked-in data (golden files) and may write scratch files.
  target_compile_definitions(${arg_NAME} PRIVATE
    ATTNGAN_TESTS_SOURCE_DIR="${PROJECT_SOURCE_DIR}/tests"
    ATTNGAN_TESTS_BINARY_DIR="${CMAKE_CURRENT_BINARY_DIR}")
  attngan_target_warnings(${arg_NAME})
  # Test suites compile at -O2 rather than Release's -O3: about a fifth less
  # compile time for the template-heavy suites (the build budget is 5 minutes
  # on 2 cores), while GCC still vectorises the chunked loops the tests cover.
  # Benchmarks and examples keep -O3. The model-level suites
  # (COMPOSITION_ONLY) go down to -O1: a quarter to a third less compile time
  # (test_checkpoint.cpp: 45 s against 61 s), and the kernels they run are
  # covered at -O2 by the backend and autodiff suites.
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    if(arg_COMPOSITION_ONLY)
      target_compile_options(${arg_NAME} PRIVATE $<$<CONFIG:Release>:-O1>)
    else()
      target_compile_options(${arg_NAME} PRIVATE $<$<CONFIG:Release>:-O2>)
    endif()
  endif()

  # Each test case runs as its own ctest test, so `ctest -j` spreads them over
  # the cores. The case list is read from the built executable (post-build),
  # so adding a TEST_CASE needs no re-configure.
  set(_labels unit ${arg_NAME} ${arg_LABELS})
  list(REMOVE_DUPLICATES _labels)
  doctest_discover_tests(${arg_NAME}
    TEST_PREFIX "${arg_NAME}."
    WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}"
    TEST_LIST ${arg_NAME}_TESTS)

  # Labels are NOT passed as doctest_discover_tests(... PROPERTIES LABELS ...):
  # doctest 2.4.9's discovery script (Debian's doctest-dev) writes
  #   set_tests_properties(<case> PROPERTIES ... LABELS a b c LABELS)
  # i.e. it flattens a label list into bogus property pairs and appends an
  # empty LABELS of its own. Instead a second ctest include file, read after
  # doctest's (which defines the cases and <name>_TESTS), sets them.
  set(_label_file "${CMAKE_CURRENT_BINARY_DIR}/${arg_NAME}_labels.cmake")
  file(WRITE "${_label_file}"
    "if(${arg_NAME}_TESTS)\n"
    "  set_tests_properties(\${${arg_NAME}_TESTS} PROPERTIES LABELS \"${_labels}\")\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${_label_file}")
endfunction()

# Flags given to the compiler by the must-not-compile checks: the language
# standard and OpenMP exactly as the attngan target gets them, and plain,
# ASCII, caret-free diagnostics so that "// expect:" text is matched against
# the diagnostic itself and not against an echoed source line.
function(_attngan_failtest_flags out_var)
  set(_flags "")
  if(CMAKE_CXX20_STANDARD_COMPILE_OPTION)
    list(APPEND _flags "${CMAKE_CXX20_STANDARD_COMPILE_OPTION}")
  else()
    list(APPEND _flags -std=c++20)
  endif()
  if(OpenMP_CXX_FLAGS)
    separate_arguments(_omp NATIVE_COMMAND "${OpenMP_CXX_FLAGS}")
    list(APPEND _flags ${_omp})
  else()
    list(APPEND _flags -fopenmp)
  endif()
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    list(APPEND _flags -fdiagnostics-color=never -fno-diagnostics-show-caret)
  elseif(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    list(APPEND _flags -fno-color-diagnostics -fno-caret-diagnostics)
  endif()
  set(${out_var} "${_flags}" PARENT_SCOPE)
endfunction()

function(attngan_add_failtest source)
  get_filename_component(_abs "${source}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  get_filename_component(_stem "${source}" NAME_WE)

  set(_incs "${PROJECT_SOURCE_DIR}/include")
  get_target_property(_eigen_incs Eigen3::Eigen INTERFACE_INCLUDE_DIRECTORIES)
  if(_eigen_incs)
    list(APPEND _incs ${_eigen_incs})
  endif()
  _attngan_failtest_flags(_flags)
  # Lists travel to the script "|"-separated: ";" would be split by add_test.
  string(REPLACE ";" "|" _incs "${_incs}")
  string(REPLACE ";" "|" _flags "${_flags}")

  add_test(NAME failtest.${_stem}
    COMMAND "${CMAKE_COMMAND}"
      "-DCOMPILER=${CMAKE_CXX_COMPILER}"
      "-DINCLUDE_DIRS=${_incs}"
      "-DFLAGS=${_flags}"
      "-DSOURCE=${_abs}"
      -P "${PROJECT_SOURCE_DIR}/cmake/check_compile_failure.cmake")
  set_tests_properties(failtest.${_stem} PROPERTIES LABELS failtest TIMEOUT 300)
endfunction()

function(attngan_add_consumer_test mode)
  if(NOT mode MATCHES "^(find_package|add_subdirectory)$")
    message(FATAL_ERROR "attngan_add_consumer_test: mode must be find_package or add_subdirectory, not '${mode}'")
  endif()
  string(REPLACE ";" "|" _prefix_path "${CMAKE_PREFIX_PATH}")
  add_test(NAME consumer.${mode}
    COMMAND "${CMAKE_COMMAND}"
      "-DMODE=${mode}"
      "-DATTNGAN_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
      "-DATTNGAN_BINARY_DIR=${PROJECT_BINARY_DIR}"
      "-DCONSUMER_SOURCE_DIR=${PROJECT_SOURCE_DIR}/tests/consumer"
      "-DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/consumer-${mode}"
      "-DGENERATOR=${CMAKE_GENERATOR}"
      "-DGENERATOR_PLATFORM=${CMAKE_GENERATOR_PLATFORM}"
      "-DGENERATOR_TOOLSET=${CMAKE_GENERATOR_TOOLSET}"
      "-DMAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}"
      "-DCXX_COMPILER=${CMAKE_CXX_COMPILER}"
      "-DPREFIX_PATH=${_prefix_path}"
      "-DBUILD_TYPE=$<CONFIG>"
      "-DEXPECTED_VERSION=${PROJECT_VERSION}"
      -P "${PROJECT_SOURCE_DIR}/cmake/check_consumer.cmake")
  set_tests_properties(consumer.${mode} PROPERTIES LABELS consumer TIMEOUT 600)
endfunction()
