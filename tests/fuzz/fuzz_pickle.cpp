// tests/fuzz/fuzz_pickle.cpp — libFuzzer target for the pickle reader
// (attngan/data/pickle.hpp).
//
// Every input must either parse or throw attngan::io_error: any other
// exception, a crash, a sanitizer report, a hang or a memory blow-up is a bug.
// Each input goes through all four entry points (the generic tree and the
// three typed readers) with the default limits, and once more with tiny
// limits so that every limit check is reached by short inputs. Successful
// results are checked for the reader's promises (UTF-8 strings, dict entries
// in pairs, the captions' cross-checks).
#include <attngan/data/pickle.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

using namespace attngan;
using namespace attngan::data;

void require(bool ok) {
  if (!ok) std::abort();  // a broken promise: let libFuzzer record the input
}

void check_tree(const pickle_value& v, int depth) {
  require(depth <= 64);
  switch (v.kind()) {
    case pickle_kind::str: require(unicode::is_valid_utf8(v.as_text())); break;
    case pickle_kind::dict: require(v.items().size() % 2 == 0); [[fallthrough]];
    case pickle_kind::list:
    case pickle_kind::tuple:
      for (const auto& item : v.items()) check_tree(item, depth + 1);
      break;
    default: break;
  }
}

template <class F>
void expect_io_error_or_success(F&& f) {
  try {
    f();
  } catch (const io_error&) {
    // The documented way to reject an input.
  }
  // Anything else propagates: libFuzzer reports the uncaught exception.
}

void run_all(std::string_view bytes, const pickle_limits& limits) {
  expect_io_error_or_success([&] { check_tree(parse_pickle(bytes, "fuzz", limits), 0); });
  expect_io_error_or_success([&] {
    for (const auto& s : parse_string_list(bytes, "fuzz", limits)) require(unicode::is_valid_utf8(s));
  });
  expect_io_error_or_success([&] { (void)parse_int_list(bytes, "fuzz", limits); });
  expect_io_error_or_success([&] {
    const captions_pickle c = parse_captions_pickle(bytes, "fuzz", limits);
    const auto n = static_cast<std::int64_t>(c.ixtoword.size());
    for (const auto* split : {&c.train_captions, &c.test_captions})
      for (const auto& caption : *split)
        for (std::int64_t ix : caption) require(ix >= 0 && ix < n);
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  run_all(bytes, pickle_limits{});

  pickle_limits tiny;
  tiny.max_file_bytes = 4096;
  tiny.max_depth = 4;
  tiny.max_elements = 64;
  tiny.max_string_bytes = 16;
  tiny.max_memo_entries = 8;
  tiny.max_total_string_bytes = 128;
  tiny.max_expansion = 2;
  run_all(bytes, tiny);
  return 0;
}
