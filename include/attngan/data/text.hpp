// attngan/data/text.hpp — caption tokenisation (spec §2.2), caption files, and
// the vocabulary (spec §2.3).
//
// TOKENISATION, exactly as the original (datasets.py load_captions): for one
// caption line, replace U+FFFD U+FFFD by a space, lower-case, take the
// maximal runs of `\w` characters (NLTK RegexpTokenizer(r'\w+'), Unicode
// mode; unicode.hpp says which code points those are), drop every non-ASCII
// character of each token, drop tokens that became empty. Notes on exactness:
//   * the U+FFFD U+FFFD replacement cannot change the tokens (U+FFFD and the
//     space both separate words), so it is implied, not performed;
//   * lower-casing matters only where it creates ASCII: A-Z, U+0130 'İ'
//     (Python: "i" + U+0307, which ends the token after the i) and U+212A
//     KELVIN SIGN ('k'). Every other non-ASCII character is dropped after
//     tokenising and lower-casing never changes whether it is a word
//     character (checked over all of Unicode 14 by the table's script), so
//     it is left as it is;
//   * a caption is used when it yields at least one token after the ASCII
//     filter (spec §2.1/§2.2; the original code tested before the filter, so
//     a caption made only of non-ASCII words, absent from CUB, would have
//     counted there as an empty caption).
// Caption files must be UTF-8: the original decodes them with
// .decode('utf8'), which raises on anything else, so invalid bytes are an
// io_error naming the file, line and byte rather than a silent replacement.
//
// VOCABULARY: index 0 is "<end>" (padding only: no end token is appended).
// The released encoders need the word order of the released captions.pickle,
// so that file is read when present (cub.hpp). Otherwise the vocabulary is
// built deterministically from the tokenised captions: words in order of first
// appearance over the train captions (dataset index order, caption 0..9 of
// each image), then over the test captions — the order Python 3's
// insertion-ordered dicts give the original build_dictionary (count threshold
// 0); Python 2's order was arbitrary. It is saved as a plain UTF-8 text file,
// one word per line, line i holding index i, written atomically.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "attngan/core/error.hpp"
#include "attngan/data/file_io.hpp"
#include "attngan/data/unicode.hpp"

namespace attngan::data {

/// Tokens of one caption or sentence (spec §2.2). `text` must be UTF-8;
/// otherwise throws value_error naming the byte offset.
inline std::vector<std::string> tokenize_caption(std::string_view text) {
  std::vector<std::string> tokens;
  std::string token;        // ASCII part of the current run of word characters
  bool in_word = false;
  const auto end_word = [&] {
    if (in_word && !token.empty()) tokens.push_back(token);
    token.clear();
    in_word = false;
  };
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto c = static_cast<unsigned char>(text[pos]);
    if (c < 0x80) {  // ASCII fast path
      ++pos;
      const bool word = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
      if (!word) {
        end_word();
        continue;
      }
      in_word = true;
      token += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      continue;
    }
    const std::size_t at = pos;
    char32_t cp = 0;
    if (!unicode::decode_utf8(text, pos, cp))
      throw value_error("tokenize_caption", detail::cat("byte ", at, " is not valid UTF-8"));
    if (cp == 0x0130) {  // lower() gives "i" + U+0307 (a combining mark: not \w)
      in_word = true;
      token += 'i';
      end_word();
    } else if (cp == 0x212A) {  // KELVIN SIGN: lower() gives ASCII 'k'
      in_word = true;
      token += 'k';
    } else if (unicode::is_word_code_point(cp)) {
      in_word = true;  // joins the token, then dropped as non-ASCII
    } else {
      end_word();
    }
  }
  end_word();
  return tokens;
}

/// The usable captions of one caption file (text/<key>.txt).
struct caption_file {
  std::vector<std::vector<std::string>> captions;  ///< the first `wanted` captions with >= 1 token
  std::vector<int> skipped_lines;                  ///< 1-based: non-empty lines without a token
};

/// Reads text/<key>.txt as the original does: lines split at '\n', empty lines
/// skipped, lines without a token skipped (and listed, so that callers can warn
/// as the original prints them), stop after `wanted` captions. Throws io_error
/// naming the file when it is missing, empty (0 bytes), not UTF-8 (with line
/// and byte), or has fewer than `wanted` usable captions — the original would
/// then misalign every later image's captions (it indexes caption k of image n
/// at n*10 + k).
inline caption_file read_caption_file(const std::filesystem::path& path, int wanted = 10) {
  const char* op = "read_caption_file";
  // Reed et al.'s files are about 1 KB; 1 MiB is generous and bounds memory.
  const std::vector<std::uint8_t> bytes = read_file_bytes(op, path, std::uintmax_t(1) << 20);
  const std::string_view data(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (data.empty()) throw io_error(op, detail::cat("'", path.string(), "': empty caption file (0 bytes)"));
  if (const auto bad = unicode::first_invalid_utf8(data)) {
    const std::string_view before(data.data(), *bad);
    const auto line = 1 + std::count(before.begin(), before.end(), '\n');
    const auto line_start = before.rfind('\n') == std::string_view::npos ? 0 : before.rfind('\n') + 1;
    throw io_error(op, detail::cat("'", path.string(), "': line ", line, ", column ", *bad - line_start + 1,
                                   " (file offset ", *bad, "): bytes that are not valid UTF-8"));
  }
  caption_file out;
  std::size_t start = 0;
  int line = 0;
  while (start <= data.size() && int(out.captions.size()) < wanted) {
    std::size_t nl = data.find('\n', start);
    if (nl == std::string::npos) nl = data.size();
    ++line;
    const std::string_view text(data.data() + start, nl - start);
    start = nl + 1;
    if (text.empty()) continue;
    auto tokens = tokenize_caption(text);
    if (tokens.empty()) {
      out.skipped_lines.push_back(line);
      continue;
    }
    out.captions.push_back(std::move(tokens));
  }
  if (int(out.captions.size()) < wanted)
    throw io_error(op, detail::cat("'", path.string(), "': ", out.captions.size(), " caption",
                                   out.captions.size() == 1 ? "" : "s", " with at least one word, ", wanted,
                                   " needed (one file holds the captions of one image)"));
  return out;
}

/// Word <-> index mapping. Index 0 is always "<end>".
class vocabulary {
 public:
  static constexpr std::string_view end_word = "<end>";

  /// A sentence encoded for the text encoder.
  struct encoded {
    std::vector<std::int64_t> ids;     ///< indices of the known words, in order
    std::vector<std::string> unknown;  ///< distinct dropped words, in order of appearance
  };

  /// Only "<end>".
  vocabulary() : vocabulary(std::vector<std::string>{std::string(end_word)}) {}

  /// words[i] is the word of index i; words[0] must be "<end>" and all
  /// words distinct and non-empty (value_error otherwise).
  explicit vocabulary(std::vector<std::string> words) : words_(std::move(words)) {
    if (words_.empty() || words_[0] != end_word)
      throw value_error("vocabulary", detail::cat("index 0 must be '", end_word, "'"));
    index_.reserve(words_.size());
    for (std::size_t i = 0; i < words_.size(); ++i) {
      if (words_[i].empty()) throw value_error("vocabulary", detail::cat("word ", i, " is empty"));
      const auto [it, fresh] = index_.emplace(words_[i], std::int64_t(i));
      if (!fresh)
        throw value_error("vocabulary",
                          detail::cat("word '", words_[i], "' appears at indices ", it->second, " and ", i));
    }
  }

  /// Built from tokenised captions: "<end>", then every word in order of first
  /// appearance over `train`, then over `test` (see the header note).
  static vocabulary from_captions(std::span<const std::vector<std::string>> train,
                                  std::span<const std::vector<std::string>> test) {
    std::vector<std::string> words{std::string(end_word)};
    std::unordered_map<std::string, bool> seen{{std::string(end_word), true}};
    for (const auto split : {train, test})
      for (const auto& caption : split)
        for (const auto& w : caption)
          if (seen.emplace(w, true).second) words.push_back(w);
    return vocabulary(std::move(words));
  }

  /// Reads a vocabulary file (one word per line, line i = index i, optional
  /// final newline; a trailing '\r' is tolerated). Throws io_error naming the
  /// file and line for anything else.
  static vocabulary load(const std::filesystem::path& path) {
    const char* op = "vocabulary::load";
    const std::vector<std::uint8_t> bytes = read_file_bytes(op, path, std::uintmax_t(64) << 20);
    const std::string_view data(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const std::string where = detail::cat("'", path.string(), "'");
    if (data.empty()) throw io_error(op, detail::cat(where, ": empty file"));
    if (const auto bad = unicode::first_invalid_utf8(data))
      throw io_error(op, detail::cat(where, ": byte ", *bad, " is not valid UTF-8"));
    std::vector<std::string> words;
    std::unordered_map<std::string_view, std::size_t> seen;
    std::size_t start = 0;
    while (start < data.size()) {
      std::size_t nl = data.find('\n', start);
      if (nl == std::string::npos) nl = data.size();
      std::string_view w(data.data() + start, nl - start);
      start = nl + 1;
      if (!w.empty() && w.back() == '\r') w.remove_suffix(1);
      const std::size_t line = words.size() + 1;
      if (w.empty()) throw io_error(op, detail::cat(where, ": line ", line, " is empty"));
      for (const char ch : w)
        if (static_cast<unsigned char>(ch) <= ' ' || ch == 0x7f)
          throw io_error(op, detail::cat(where, ": line ", line,
                                         " holds a space or control character (one word per line)"));
      if (line == 1 && w != end_word)
        throw io_error(op, detail::cat(where, ": line 1 must be '", end_word, "', found '", w, "'"));
      const auto [it, fresh] = seen.emplace(w, line);
      if (!fresh)
        throw io_error(op, detail::cat(where, ": line ", line, ": word '", w, "' already on line ",
                                       it->second));
      words.emplace_back(w);
    }
    return vocabulary(std::move(words));
  }

  /// Writes the vocabulary file atomically (temporary file + rename).
  void save(const std::filesystem::path& path) const {
    std::string text;
    for (const auto& w : words_) {
      text += w;
      text += '\n';
    }
    write_text_atomically("vocabulary::save", path, text);
  }

  [[nodiscard]] std::size_t size() const noexcept { return words_.size(); }
  [[nodiscard]] const std::vector<std::string>& words() const noexcept { return words_; }

  /// The word of an index; value_error when out of range.
  [[nodiscard]] const std::string& word(std::int64_t index) const {
    if (index < 0 || std::uint64_t(index) >= words_.size())
      throw value_error("vocabulary::word", detail::cat("index ", index, " outside 0..", words_.size() - 1));
    return words_[std::size_t(index)];
  }

  /// The index of a word, if it is in the vocabulary.
  [[nodiscard]] std::optional<std::int64_t> index(std::string_view w) const {
    const auto it = index_.find(w);
    if (it == index_.end()) return std::nullopt;
    return it->second;
  }

  /// Indices of tokens; unknown tokens are dropped and listed (distinct, in
  /// order of appearance) so the caller can warn about them.
  [[nodiscard]] encoded encode_tokens(std::span<const std::string> tokens) const {
    encoded out;
    for (const auto& t : tokens) {
      if (const auto ix = index(t)) {
        out.ids.push_back(*ix);
      } else if (std::find(out.unknown.begin(), out.unknown.end(), t) == out.unknown.end()) {
        out.unknown.push_back(t);
      }
    }
    return out;
  }

  /// A user's sentence (gen_example): tokenised as a caption (spec §2.2), then
  /// encoded; the original drops unknown words silently, we return them.
  /// value_error when the sentence is not UTF-8.
  [[nodiscard]] encoded encode(std::string_view sentence) const { return encode_tokens(tokenize_caption(sentence)); }

  /// Words of indices joined by spaces; padding (0) is skipped.
  [[nodiscard]] std::string decode(std::span<const std::int64_t> ids) const {
    std::string out;
    for (const std::int64_t ix : ids) {
      if (ix == 0) continue;
      if (!out.empty()) out += ' ';
      out += word(ix);
    }
    return out;
  }

 private:
  // Transparent hashing: look up string_views without building strings.
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::string> words_;
  std::unordered_map<std::string, std::int64_t, string_hash, std::equal_to<>> index_;
};

}  // namespace attngan::data
