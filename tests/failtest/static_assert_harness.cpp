// Self-check of the must-not-compile harness (cmake/check_compile_failure.cmake).
// Uses the standard library only, so a failure here is the harness's, not the
// library's.
//
// Rules for every snippet in this folder:
//   * without ATTNGAN_SHOULD_FAIL it is valid C++ (the control compile);
//   * the code under `#ifdef ATTNGAN_SHOULD_FAIL` must fail to compile;
//   * each `// expect:` line gives text that must appear in the diagnostics.
//
// expect: harness self-check: this message must be seen

#include <type_traits>

constexpr int harness_answer() { return 42; }
static_assert(harness_answer() == 42);
static_assert(std::is_same_v<decltype(harness_answer()), int>);

#ifdef ATTNGAN_SHOULD_FAIL
static_assert(sizeof(int) == 0, "harness self-check: this message must be seen");
#endif
