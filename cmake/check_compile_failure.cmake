# check_compile_failure.cmake — must-not-compile check for one snippet.
#
#   cmake -DCOMPILER=<c++> -DSOURCE=<snippet.cpp>
#         [-DINCLUDE_DIRS=<dir>|<dir>...] [-DFLAGS=<flag>|<flag>...]
#         -P check_compile_failure.cmake
#
# A snippet (tests/failtest/*.cpp) is valid C++ except for the code inside
# `#ifdef ATTNGAN_SHOULD_FAIL`, and states the diagnostic it must produce on
# one or more lines of the form
#
#   // expect: <text>
#
# The check passes when
#   (a) the snippet compiles (-fsyntax-only) WITHOUT -DATTNGAN_SHOULD_FAIL —
#       the control, proving that nothing else in it is broken; and
#   (b) it fails to compile WITH -DATTNGAN_SHOULD_FAIL, and the compiler
#       output contains every "expect" text verbatim (case-sensitive).
# Diagnostics are produced in the C locale so quotes are plain ASCII.

cmake_minimum_required(VERSION 3.25)

foreach(_var IN ITEMS COMPILER SOURCE)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "check_compile_failure.cmake: -D${_var}=... is required")
  endif()
endforeach()
if(NOT EXISTS "${SOURCE}")
  message(FATAL_ERROR "check_compile_failure.cmake: no such file: ${SOURCE}")
endif()

# Expected diagnostics.
file(STRINGS "${SOURCE}" _expect_lines REGEX "^[ \t]*//[ \t]*expect:")
set(_expected "")
foreach(_line IN LISTS _expect_lines)
  string(REGEX REPLACE "^[ \t]*//[ \t]*expect:[ \t]*" "" _text "${_line}")
  string(STRIP "${_text}" _text)
  if(NOT _text STREQUAL "")
    string(REPLACE ";" "\\;" _text "${_text}")  # keep a ";" in the text as one list element
    list(APPEND _expected "${_text}")
  endif()
endforeach()
if(NOT _expected)
  message(FATAL_ERROR
    "${SOURCE}: no `// expect: <text>` line. Every must-not-compile snippet "
    "states the diagnostic text it has to produce.")
endif()

# FATAL_ERROR text is re-wrapped by CMake; print long details verbatim with
# NOTICE (stderr, unformatted) first, then fail with a one-line summary.
function(_fail summary details)
  message(NOTICE "${details}")
  message(FATAL_ERROR "${summary}")
endfunction()

# Compiler command.
set(_args "")
string(REPLACE "|" ";" _flag_list "${FLAGS}")
list(APPEND _args ${_flag_list})
string(REPLACE "|" ";" _inc_list "${INCLUDE_DIRS}")
foreach(_dir IN LISTS _inc_list)
  if(NOT _dir STREQUAL "")
    list(APPEND _args "-I${_dir}")
  endif()
endforeach()
list(APPEND _args -fsyntax-only)

set(ENV{LC_ALL} C)
set(ENV{LANG} C)

# (a) control: must compile without ATTNGAN_SHOULD_FAIL.
execute_process(
  COMMAND "${COMPILER}" ${_args} "${SOURCE}"
  RESULT_VARIABLE _rc
  OUTPUT_VARIABLE _out
  ERROR_VARIABLE _out)
if(NOT _rc EQUAL 0)
  list(JOIN _args " " _cmd)
  _fail("${SOURCE}: control compile FAILED: without ATTNGAN_SHOULD_FAIL the snippet must be valid, otherwise its expected failure proves nothing."
    "command: ${COMPILER} ${_cmd} ${SOURCE}\n---- compiler output ----\n${_out}")
endif()

# (b) must fail with ATTNGAN_SHOULD_FAIL, with the expected text.
execute_process(
  COMMAND "${COMPILER}" ${_args} -DATTNGAN_SHOULD_FAIL "${SOURCE}"
  RESULT_VARIABLE _rc
  OUTPUT_VARIABLE _out
  ERROR_VARIABLE _out)
list(JOIN _args " " _cmd)
set(_cmdline "${COMPILER} ${_cmd} -DATTNGAN_SHOULD_FAIL ${SOURCE}")
if(_rc EQUAL 0)
  _fail("${SOURCE}: compiled WITH ATTNGAN_SHOULD_FAIL, but it must not compile."
    "command: ${_cmdline}\n---- compiler output ----\n${_out}")
endif()

set(_missing "")
foreach(_text IN LISTS _expected)
  string(FIND "${_out}" "${_text}" _pos)
  if(_pos EQUAL -1)
    string(REPLACE ";" "\\;" _text "${_text}")
    list(APPEND _missing "${_text}")
  endif()
endforeach()
if(_missing)
  set(_exp_msg "")
  foreach(_text IN LISTS _expected)
    string(APPEND _exp_msg "  expect: ${_text}\n")
  endforeach()
  set(_miss_msg "")
  foreach(_text IN LISTS _missing)
    string(APPEND _miss_msg "  missing: ${_text}\n")
  endforeach()
  _fail("${SOURCE}: failed to compile as required, but not with the expected message (see above)."
    "---- expected (each must appear in the compiler output) ----\n${_exp_msg}${_miss_msg}command: ${_cmdline}\n---- compiler output ----\n${_out}---- end of compiler output ----")
endif()

list(LENGTH _expected _n)
message(STATUS "${SOURCE}: control compiles; with ATTNGAN_SHOULD_FAIL it fails with the expected diagnostic (${_n} text(s) matched)")
