// tests/data/test_text.cpp — tokenisation (spec §2.2) against Python's re on
// golden cases, caption files, and the vocabulary (spec §2.3).
#include <attngan/data/text.hpp>
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "scratch_folder.hpp"

namespace test_text {

namespace {

using namespace attngan;
using namespace attngan::data;
using attngan::test::scratch_folder;

std::filesystem::path golden(const std::string& name) {
  return std::filesystem::path(ATTNGAN_TESTS_SOURCE_DIR) / "data" / "golden" / name;
}

std::vector<std::string> lines_of(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> split_spaces(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

using attngan::test::error_message;

std::string ten_captions() {
  std::string s;
  for (int i = 0; i < 10; ++i) s += "caption number " + std::to_string(i) + " of a bird\n";
  return s;
}

}  // namespace

TEST_CASE("text: tokenisation matches Python's re on the golden cases") {
  const auto input = lines_of(golden("tokenise_input.txt"));
  const auto expected = lines_of(golden("tokenise_expected.txt"));
  REQUIRE(input.size() == expected.size());
  REQUIRE(input.size() >= 13);
  for (std::size_t i = 0; i < input.size(); ++i) {
    CAPTURE(input[i]);
    CHECK(tokenize_caption(input[i]) == split_spaces(expected[i]));
  }
}

TEST_CASE("text: tokenisation details") {
  using v = std::vector<std::string>;
  CHECK(tokenize_caption("") == v{});
  CHECK(tokenize_caption("A Bird_With-2 WINGS.") == v{"a", "bird_with", "2", "wings"});
  // U+FFFD U+FFFD and a single U+FFFD both separate words.
  CHECK(tokenize_caption("red\xef\xbf\xbd\xef\xbf\xbd" "crown\xef\xbf\xbd" "bird") == v{"red", "crown", "bird"});
  // Non-ASCII letters join and vanish; non-ASCII punctuation separates.
  CHECK(tokenize_caption("na\xc3\xafve\xe2\x80\x94" "bird") == v{"nave", "bird"});
  // A token made only of non-ASCII letters disappears.
  CHECK(tokenize_caption("\xc3\xb1 bird") == v{"bird"});
  // Bytes that are not UTF-8.
  const auto msg = error_message<value_error>([] { tokenize_caption("ab\xff" "cd"); });
  CHECK(msg.find("byte 2 is not valid UTF-8") != std::string::npos);
  CHECK_THROWS_AS(tokenize_caption("\xc3"), value_error);             // truncated sequence
  CHECK_THROWS_AS(tokenize_caption("\xed\xa0\x80"), value_error);     // encoded surrogate
  CHECK_THROWS_AS(tokenize_caption("\xc0\xaf"), value_error);         // overlong
  CHECK_THROWS_AS(tokenize_caption("\xf4\x90\x80\x80"), value_error); // beyond U+10FFFF
}

TEST_CASE("text: UTF-8 decoder and word classes") {
  std::size_t pos = 0;
  char32_t cp = 0;
  const std::string s = "\xf0\x9f\x90\xa6";
  REQUIRE(unicode::decode_utf8(s, pos, cp));
  CHECK(cp == 0x1F426);
  CHECK(pos == 4);
  std::string round;
  for (char32_t c : {U'a', char32_t(0xE9), char32_t(0x9E1F), char32_t(0x1F426)}) unicode::append_utf8(round, c);
  CHECK(round == "a\xc3\xa9\xe9\xb8\x9f\xf0\x9f\x90\xa6");
  CHECK(unicode::is_word_code_point(U'_'));
  CHECK(!unicode::is_word_code_point(U'-'));
  CHECK(unicode::is_word_code_point(0xE9));     // é
  CHECK(unicode::is_word_code_point(0x9E1F));   // 鸟
  CHECK(unicode::is_word_code_point(0x00B2));   // ² (numeric)
  CHECK(!unicode::is_word_code_point(0x0301));  // combining acute: a mark, not \w
  CHECK(!unicode::is_word_code_point(0xFFFD));
  CHECK(!unicode::is_word_code_point(0x2019));  // ’
  CHECK(!unicode::is_word_code_point(0x1F426));
  CHECK(!unicode::is_word_code_point(0x10FFFF));
}

TEST_CASE("text: caption files") {
  scratch_folder dir("text");
  SUBCASE("the first 10 usable captions; empty and wordless lines skipped") {
    const std::string text = "\nfirst bird\n!!!\n\n" + ten_captions();
    const auto f = read_caption_file(dir.write("a.txt", text));
    REQUIRE(f.captions.size() == 10);
    CHECK(f.captions[0] == std::vector<std::string>{"first", "bird"});
    CHECK(f.captions[9] == std::vector<std::string>{"caption", "number", "8", "of", "a", "bird"});
    CHECK(f.skipped_lines == std::vector<int>{3});
  }
  SUBCASE("no final newline, Windows line ends") {
    std::string text = ten_captions();
    text.pop_back();
    CHECK(read_caption_file(dir.write("b.txt", text)).captions.size() == 10);
    std::string crlf;
    for (char c : ten_captions()) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
    CHECK(read_caption_file(dir.write("c.txt", crlf)).captions[3].back() == "bird");
  }
  SUBCASE("bad files are named") {
    const auto missing = error_message<io_error>([&] { read_caption_file(dir / "missing.txt"); });
    CHECK(missing.find("missing.txt': no such file") != std::string::npos);
    const auto empty = error_message<io_error>([&] { read_caption_file(dir.write("empty.txt", "")); });
    CHECK(empty.find("empty.txt': empty caption file (0 bytes)") != std::string::npos);
    const auto few = error_message<io_error>([&] { read_caption_file(dir.write("few.txt", "one\ntwo\n\n???\n")); });
    CHECK(few.find("few.txt': 2 captions with at least one word, 10 needed") != std::string::npos);
    const auto latin1 =
        error_message<io_error>([&] { read_caption_file(dir.write("latin1.txt", "ok\nfine\nthe caf\xe9 bird\n")); });
    CHECK(latin1.find("latin1.txt': line 3, column 8 (file offset 15): bytes that are not valid UTF-8") !=
          std::string::npos);
    const auto folder = error_message<io_error>([&] { read_caption_file(dir.path()); });
    CHECK(folder.find("not a regular file") != std::string::npos);
  }
}

TEST_CASE("text: vocabulary") {
  const std::vector<std::vector<std::string>> train = {{"this", "bird", "is", "red"}, {"a", "red", "bird"}};
  const std::vector<std::vector<std::string>> test = {{"a", "blue", "bird"}, {"this", "is", "tiny"}};
  const auto vocab = vocabulary::from_captions(train, test);
  CHECK(vocab.words() == std::vector<std::string>{"<end>", "this", "bird", "is", "red", "a", "blue", "tiny"});
  CHECK(vocab.index("red") == 4);
  CHECK(!vocab.index("green").has_value());
  CHECK(vocab.word(6) == "blue");
  CHECK_THROWS_AS((void)vocab.word(8), value_error);

  SUBCASE("encoding a user's sentence reports unknown words") {
    const auto e = vocab.encode("This GREEN bird is red, and green!");
    CHECK(e.ids == std::vector<std::int64_t>{1, 2, 3, 4});
    CHECK(e.unknown == std::vector<std::string>{"green", "and"});
    CHECK(vocab.decode(std::vector<std::int64_t>{1, 2, 0, 0}) == "this bird");
  }
  SUBCASE("save and load round trip") {
    scratch_folder dir("vocab");
    const auto p = dir / "vocabulary.txt";
    vocab.save(p);
    CHECK(vocabulary::load(p).words() == vocab.words());
    // No temporary files are left behind.
    CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()) == 1);
  }
  SUBCASE("bad vocabulary files") {
    scratch_folder dir("vocab-bad");
    const auto load_msg = [&](const std::string& text) {
      return error_message<io_error>([&] { vocabulary::load(dir.write("v.txt", text)); });
    };
    CHECK(load_msg("").find("empty file") != std::string::npos);
    CHECK(load_msg("bird\n<end>\n").find("line 1 must be '<end>'") != std::string::npos);
    CHECK(load_msg("<end>\nbird\n\nred\n").find("line 3 is empty") != std::string::npos);
    CHECK(load_msg("<end>\nbird\nred\nbird\n").find("line 4: word 'bird' already on line 2") != std::string::npos);
    CHECK(load_msg("<end>\nred bird\n").find("line 2 holds a space") != std::string::npos);
    CHECK(load_msg("<end>\n\xff\n").find("not valid UTF-8") != std::string::npos);
    CHECK(vocabulary::load(dir.write("crlf.txt", "<end>\r\nbird\r\nred")).words().size() == 3);
  }
  CHECK_THROWS_AS(vocabulary(std::vector<std::string>{"bird"}), value_error);
  CHECK_THROWS_AS(vocabulary(std::vector<std::string>{"<end>", "a", "a"}), value_error);
}

}  // namespace test_text
