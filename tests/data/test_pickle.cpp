// tests/data/test_pickle.cpp — the bounded pickle reader (data/pickle.hpp):
// golden files written by Python 2 and 3 with protocols 0 to 5
// (golden/make_golden.py), and hostile or broken inputs, each of which must
// give an io_error that names the source, the byte offset and the problem.
#include <attngan/data/pickle.hpp>
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

namespace test_pickle {

namespace {

using namespace attngan;
using namespace attngan::data;

std::filesystem::path golden(const std::string& name) {
  return std::filesystem::path(ATTNGAN_TESTS_SOURCE_DIR) / "data" / "golden" / name;
}

std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Bytes from a list of values 0..255 (opcodes and arguments), so that no
/// hex escape in a string literal swallows the next character.
std::string b(std::initializer_list<int> v) {
  std::string s;
  for (int c : v) s += static_cast<char>(c);
  return s;
}

template <class F>
std::string io_error_message(F&& f) {
  return attngan::test::error_message<io_error>(std::forward<F>(f));
}

// The values make_golden.py writes.
const std::vector<std::string> kFilenames = {
    "001.Black_footed_Albatross/Black_Footed_Albatross_0046_18",
    "001.Black_footed_Albatross/Black_Footed_Albatross_0009_34",
    "002.Laysan_Albatross/Laysan_Albatross_0002_1027",
    "200.Common_Yellowthroat/Common_Yellowthroat_0055_190967",
};
const std::vector<std::int64_t> kClassInfo = {1,
                                              1,
                                              2,
                                              200,
                                              0,
                                              255,
                                              256,
                                              65535,
                                              65536,
                                              -1,
                                              -129,
                                              2147483647LL,
                                              -2147483648LL,
                                              2147483648LL,
                                              1099511627776LL,
                                              std::numeric_limits<std::int64_t>::min(),
                                              std::numeric_limits<std::int64_t>::max()};

void check_captions(const captions_pickle& c) {
  const std::vector<std::string> words = {"<end>", "this", "bird", "has",  "a",    "red",
                                          "crown", "and",  "blue", "wings", "small"};
  CHECK(c.ixtoword == words);
  using captions = std::vector<std::vector<std::int64_t>>;
  CHECK(c.train_captions == captions{{1, 2, 3, 4, 5, 6}, {4, 10, 2, 7, 8, 9}, {1, 2, 3, 8, 9}});
  CHECK(c.test_captions == captions{{5, 6, 7}, {10, 2}});
}

}  // namespace

TEST_CASE("pickle: golden files of Python 3, protocols 0 to 5") {
  for (int proto = 0; proto <= 5; ++proto) {
    CAPTURE(proto);
    const std::string p = std::to_string(proto);
    CHECK(read_string_list(golden("filenames_p" + p + ".pickle")) == kFilenames);
    CHECK(read_int_list(golden("class_info_p" + p + ".pickle")) == kClassInfo);
    check_captions(read_captions_pickle(golden("captions_p" + p + ".pickle")));
  }
}

TEST_CASE("pickle: golden files written the way Python 2 writes them") {
  for (const char* proto : {"0", "2"}) {
    CAPTURE(proto);
    const std::string p = proto;
    // STRING / SHORT_BINSTRING, then UNICODE / BINUNICODE.
    CHECK(read_string_list(golden("filenames_py2_str_p" + p + ".pickle")) == kFilenames);
    CHECK(read_string_list(golden("filenames_py2_unicode_p" + p + ".pickle")) == kFilenames);
    CHECK(read_int_list(golden("class_info_py2_p" + p + ".pickle")) == kClassInfo);
    check_captions(read_captions_pickle(golden("captions_py2_p" + p + ".pickle")));
  }
  // Python 2 str with quotes, backslash, tab and \x escapes (protocol 0 STRING).
  CHECK(read_string_list(golden("strings_py2_p0.pickle")) ==
        std::vector<std::string>{"it's", "say \"hi\"", "back\\slash\ttab", "\xc3\xa9t\xc3\xa9"});
  // 2500 names: APPENDS batches of 1000, LONG_BINPUT beyond memo key 255.
  const auto many = read_string_list(golden("filenames_py2_many_p2.pickle"));
  REQUIRE(many.size() == 2500);
  CHECK(many[0] == "000.Class/Image_0");
  CHECK(many[2499] == "2499.Class/Image_2499");
}

TEST_CASE("pickle: the generic value tree") {
  for (int proto = 0; proto <= 5; ++proto) {
    CAPTURE(proto);
    const pickle_value v = read_pickle(golden("mixed_p" + std::to_string(proto) + ".pickle"));
    REQUIRE(v.kind() == pickle_kind::list);
    const auto& it = v.items();
    REQUIRE(it.size() == 15);
    CHECK(it[0].is(pickle_kind::none));
    CHECK(it[1].as_bool() == true);
    CHECK(it[2].as_bool() == false);
    CHECK(it[3].as_float() == 1.5);
    CHECK(it[4].as_float() == -2.25e10);
    REQUIRE(it[5].kind() == pickle_kind::tuple);
    CHECK(it[5].items()[0].as_int() == 1);
    CHECK(it[5].items()[1].as_text() == "a");
    CHECK((it[6].kind() == pickle_kind::tuple && it[6].size() == 0));
    CHECK(it[7].size() == 4);
    CHECK(it[7].items()[3].as_int() == 4);
    // {"k": [1, {2: "x"}], 3: None}
    REQUIRE(it[8].kind() == pickle_kind::dict);
    REQUIRE(it[8].size() == 2);
    CHECK(it[8].items()[0].as_text() == "k");
    CHECK(it[8].items()[1].items()[1].items()[0].as_int() == 2);
    CHECK(it[8].items()[1].items()[1].items()[1].as_text() == "x");
    CHECK(it[8].items()[2].as_int() == 3);
    CHECK(it[8].items()[3].is(pickle_kind::none));
    CHECK(it[9].kind() == pickle_kind::str);
    CHECK(it[9].as_text() == "\xc3\xbcn\xc3\xaf" "code \xe9\xb8\x9f \xf0\x9f\x90\xa6");
    CHECK(it[10].as_int() == 1099511627776LL);
    CHECK(it[11].as_int() == std::numeric_limits<std::int64_t>::min());
    CHECK(it[12].as_int() == std::numeric_limits<std::int64_t>::max());
    CHECK((it[13].kind() == pickle_kind::list && it[13].size() == 0));
    CHECK((it[14].kind() == pickle_kind::dict && it[14].size() == 0));
    // Wrong-kind access is a value_error naming the offset.
    CHECK_THROWS_AS((void)it[0].as_int(), value_error);
  }
}

TEST_CASE("pickle: shared references stay shared while parsing") {
  // a = []; x = [a, a]; a.append(1) happens after a is memoised, as Python
  // writes [a, a] for a = [1, 2]: both items must read [1, 2].
  const std::string p = b({0x80, 2, ']', 'q', 0, '(', ']', 'q', 1, '(', 'K', 1, 'K', 2, 'e', 'h', 1, 'e', '.'});
  const auto v = parse_pickle(p);
  REQUIRE(v.size() == 2);
  for (const auto& item : v.items()) {
    REQUIRE(item.size() == 2);
    CHECK(item.items()[1].as_int() == 2);
  }
}

TEST_CASE("pickle: refused Python outputs name the problem") {
  const std::string bytes_msg = io_error_message([] { read_pickle(golden("bytes_py3_p2.pickle")); });
  CHECK(bytes_msg.find("bytes_py3_p2.pickle") != std::string::npos);
  CHECK(bytes_msg.find("GLOBAL") != std::string::npos);
  CHECK(bytes_msg.find("_codecs.encode") != std::string::npos);

  const std::string nested_msg = io_error_message([] { read_pickle(golden("nested_100_p2.pickle")); });
  CHECK(nested_msg.find("nested deeper than 64") != std::string::npos);
  const std::string nested_list = io_error_message([] { read_string_list(golden("nested_100_p2.pickle")); });
  CHECK(nested_list.find("item 0 is a list, expected a string") != std::string::npos);

  // A list of ints is not a list of strings and vice versa.
  CHECK(io_error_message([] { read_string_list(golden("class_info_p2.pickle")); }).find("item 0 is a int") !=
        std::string::npos);
  CHECK(io_error_message([] { read_int_list(golden("filenames_p2.pickle")); }).find("expected an int") !=
        std::string::npos);
  CHECK(io_error_message([] { read_captions_pickle(golden("class_info_p2.pickle")); }).find("expected 4") !=
        std::string::npos);
}

TEST_CASE("pickle: every truncation of every golden file is an io_error") {
  for (const char* name : {"filenames_p0.pickle", "filenames_py2_str_p2.pickle", "captions_py2_p2.pickle",
                           "captions_p4.pickle", "mixed_p0.pickle", "mixed_p2.pickle", "class_info_p1.pickle"}) {
    CAPTURE(name);
    const std::string all = file_bytes(golden(name));
    for (std::size_t n = 0; n < all.size(); ++n) {
      CAPTURE(n);
      const std::string msg = io_error_message([&] { parse_pickle(all.substr(0, n), name); });
      CHECK(msg.rfind("pickle: ", 0) == 0);
      CHECK(msg.find(name) != std::string::npos);
    }
  }
}

TEST_CASE("pickle: hostile and malformed inputs") {
  const auto msg = [](const std::string& bytes, const pickle_limits& lim = {}) {
    return io_error_message([&] { parse_pickle(bytes, "'x.pickle'", lim); });
  };
  const auto has = [](const std::string& m, const std::string& part) {
    INFO(m);
    CHECK(m.find(part) != std::string::npos);
  };

  has(msg(""), "empty input");
  has(msg(b({0x80, 2, ']'})), "ends before the STOP");
  has(msg(b({0xff})), "'x.pickle': byte 0: unknown opcode 0xff");
  has(msg(b({0x80, 9, ']', '.'})), "unsupported protocol 9");
  // A 4 GiB string length: refused by the limit before any allocation.
  has(msg(b({0x80, 2, 'X', 0xff, 0xff, 0xff, 0xff, 'a'})), "more than the limit");
  // A plausible length with too few bytes behind it.
  has(msg(b({0x80, 2, 'X', 10, 0, 0, 0, 'a', 'b'})), "truncated: needs 10 argument bytes");
  has(msg(b({0x80, 2, 'T', 0xff, 0xff, 0xff, 0xff})), "negative string length");
  has(msg(b({0x80, 2, 0x8b, 0xff, 0xff, 0xff, 0xff})), "negative byte count");
  has(msg(b({0x80, 2, 0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, '.'})), "9 bytes does not fit in 64 bits");
  has(msg("I99999999999999999999\n."), "does not fit in 64 bits");
  has(msg("Iabc\n."), "not a decimal integer");
  has(msg("Fxyz\n."), "not a float");
  has(msg("S'abc\n."), "must be quoted");
  has(msg("V\\u12\n."), "truncated \\u escape");
  has(msg("V\\ud800\n."), "surrogate");
  has(msg(b({0x80, 2, 'X', 2, 0, 0, 0, 0xc3, 0x28, '.'})),
      "byte 7: the string of the BINUNICODE at byte 2 is not valid UTF-8");
  // Deep MARK nesting stops at the limit, naming the byte.
  has(msg(std::string(100, '(')), "byte 64: opcode MARK: more than 64 nested MARKs");
  // A list containing itself: fine to parse, an error to expand.
  has(msg(b({0x80, 2, ']', 'q', 0, 'h', 0, 'a', '.'})), "nested deeper than 64");
  // Stack discipline.
  has(msg(b({'a', '.'})), "stack underflow");
  has(msg(b({'e'})), "no MARK to pop");
  has(msg(b({'N', 'N', '.'})), "exactly one value");
  has(msg(b({'(', 'N', '.'})), "MARK(s) still open");
  has(msg(b({')', 'N', 'a', '.'})), "target is a tuple");
  has(msg(b({'}', '(', 'N', 'u', '.'})), "odd number of values");
  has(msg(b({'}', ']', 'N', 's', '.'})), "unhashable");
  has(msg(b({'h', 7, '.'})), "memo key 7 was never stored");
  // Sparse memo keys (Python writes 0, 1, 2, ...; hand-made files need not).
  CHECK(parse_pickle(b({'N', 'r', 7, 0, 0, 0, '0', 'K', 1, 'q', 0, '0', 'j', 7, 0, 0, 0, '.'})).is(pickle_kind::none));
  // MEMOIZE stores at key len(memo) = 1, replacing the 3 (as Python does).
  CHECK(parse_pickle(b({'K', 3, 'q', 1, '0', 'K', 4, 0x94, '0', 'h', 1, '.'})).as_int() == 4);
  has(msg(b({'K', 3, 'q', 1, '0', 'K', 4, 0x94, '0', 'h', 2, '.'})), "memo key 2 was never stored");
  has(msg("Np-1\n."), "negative memo key");
  has(msg("p1\n."), "stack underflow");
  has(msg(b({0x95, 100, 0, 0, 0, 0, 0, 0, 0, 'N', '.'})), "frame of 100 bytes");
  has(msg("cos\nsystem\n."), "class os.system");
  has(msg(b({'N', 'R', '.'})), "opcode REDUCE (0x52) is not supported");

  // Billion laughs: each level is a list holding the previous one twice. The
  // parse is small; the expansion is refused by the amplification limit.
  std::string laughs = b({0x80, 2, ']', 'q', 0, '0'});
  for (int level = 1; level < 40; ++level) laughs += b({'(', 'h', level - 1, 'h', level - 1, 'l', 'q', level, '0'});
  laughs += b({'h', 39, '.'});
  has(msg(laughs), "result would hold more than");

  // A 1000-byte string fetched 200 times from the memo: 2 input bytes buy
  // 1000 output bytes, refused by the amplification limit on string bytes.
  std::string copies = b({']', 'q', 0, '(', 'X', 0xe8, 3, 0, 0}) + std::string(1000, 'a') + b({'q', 1});
  for (int i = 0; i < 200; ++i) copies += b({'h', 1});
  copies += b({'e', '.'});
  has(io_error_message([&] { parse_string_list(copies, "'x.pickle'"); }), "string bytes (limit");
  CHECK(parse_pickle(copies.substr(0, copies.size() - 402) + b({'e', '.'})).size() == 1);

  // Limits.
  pickle_limits lim;
  lim.max_elements = 10;
  has(msg(std::string(20, 'N'), lim), "more than 10 values");
  lim = {};
  lim.max_memo_entries = 2;
  has(msg(b({'N', 'q', 0, 'q', 1, 'q', 2, '.'}), lim), "more than 2 memo entries");
  lim = {};
  lim.max_file_bytes = 3;
  has(msg("N.....", lim), "more than the limit of 3");
  lim = {};
  lim.max_depth = 5000;
  CHECK_THROWS_AS(parse_pickle("N.", "x", lim), value_error);
  lim = {};
  lim.max_string_bytes = 4;
  has(msg("Vabcdefgh\n.", lim), "text argument longer than the limit of 4");
}

TEST_CASE("pickle: captions.pickle cross-checks") {
  // [[[w]], [], {0: '<end>', k: 'a'}, {'<end>': 0, 'a': x}]
  const auto real = [](int x, int w, int k) {
    return b({0x80, 2, '(',                                                                   //
              ']', ']', 'K', w, 'a', 'a',                                                     // train [[w]]
              ']',                                                                            // test []
              '(', 'K', 0, 0x8c, 5, '<', 'e', 'n', 'd', '>', 'K', k, 0x8c, 1, 'a', 'd',       // ixtoword
              '(', 0x8c, 5, '<', 'e', 'n', 'd', '>', 'K', 0, 0x8c, 1, 'a', 'K', x, 'd',       // wordtoix
              'l', '.'});
  };
  const auto ok = parse_captions_pickle(real(1, 1, 1));
  CHECK(ok.ixtoword == std::vector<std::string>{"<end>", "a"});
  CHECK(ok.train_captions == std::vector<std::vector<std::int64_t>>{{1}});
  CHECK(io_error_message([&] { parse_captions_pickle(real(0, 1, 1)); }).find("does not match ixtoword") !=
        std::string::npos);
  CHECK(io_error_message([&] { parse_captions_pickle(real(1, 7, 1)); }).find("holds word index 7") !=
        std::string::npos);
  CHECK(io_error_message([&] { parse_captions_pickle(real(1, 1, 5)); }).find("outside 0..1") != std::string::npos);
  CHECK(io_error_message([&] { parse_captions_pickle(real(1, 1, 0)); }).find("appears twice") != std::string::npos);
}

TEST_CASE("pickle: files that are missing or too large are named") {
  const auto missing = io_error_message([] { read_string_list(golden("no_such_file.pickle")); });
  CHECK(missing.find("no_such_file.pickle") != std::string::npos);
  CHECK(missing.find("no such file") != std::string::npos);
  pickle_limits lim;
  lim.max_file_bytes = 100;
  const auto big = io_error_message([&] { read_string_list(golden("filenames_py2_many_p2.pickle"), lim); });
  CHECK(big.find("more than the 100 accepted") != std::string::npos);
}

}  // namespace test_pickle
