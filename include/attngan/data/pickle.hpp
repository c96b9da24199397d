// attngan/data/pickle.hpp — a small, bounded reader for the pickle subset of
// the CUB metadata files (spec §2.1, §2.3).
//
// The original AttnGAN keeps its metadata in Python pickles: train|test/
// filenames.pickle (a list of str), train|test/class_info.pickle (a list of
// int) and captions.pickle = [train_captions, test_captions, ixtoword,
// wordtoix] (two lists of lists of int, a dict int -> str, a dict str -> int),
// written by Python 2 with protocol 2. This reader runs the pickle virtual
// machine for plain data only — no classes, no code — and it is meant to be
// fed untrusted files: every input either parses or throws attngan::io_error
// naming the file, the byte offset, the opcode and what is wrong. It never
// recurses while parsing, every opcode consumes at least one byte, and all
// memory is bounded by pickle_limits (checked before anything is allocated).
//
// ACCEPTED OPCODES (protocols 0 to 5 as written by Python 2 and 3 for plain
// data; protocol 5 adds only buffer opcodes, which are rejected):
//   control    PROTO 0x80 (version 0..5), FRAME 0x95 (length checked, framing
//              otherwise ignored), STOP '.', MARK '(', POP '0', POP_MARK '1',
//              DUP '2'
//   scalars    NONE 'N', NEWTRUE 0x88, NEWFALSE 0x89, INT 'I' (decimal;
//              "I00"/"I01" are Python 2's False/True), BININT 'J', BININT1 'K',
//              BININT2 'M', LONG 'L' (decimal, optional trailing L), LONG1
//              0x8a, LONG4 0x8b (at most 8 bytes: integers are int64),
//              FLOAT 'F', BINFLOAT 'G'
//   text       STRING 'S' (quoted, Python escapes), BINSTRING 'T',
//              SHORT_BINSTRING 'U' (Python 2 str -> bytes), UNICODE 'V'
//              (raw-unicode-escape), BINUNICODE 'X', SHORT_BINUNICODE 0x8c,
//              BINUNICODE8 0x8d (-> str, must be valid UTF-8), BINBYTES 'B',
//              SHORT_BINBYTES 'C', BINBYTES8 0x8e (-> bytes)
//   containers EMPTY_LIST ']', LIST 'l', APPEND 'a', APPENDS 'e', EMPTY_TUPLE
//              ')', TUPLE 't', TUPLE1 0x85, TUPLE2 0x86, TUPLE3 0x87,
//              EMPTY_DICT '}', DICT 'd', SETITEM 's', SETITEMS 'u'
//   memo       PUT 'p', BINPUT 'q', LONG_BINPUT 'r', GET 'g', BINGET 'h',
//              LONG_BINGET 'j', MEMOIZE 0x94
// Every other opcode (GLOBAL, REDUCE, BUILD, NEWOBJ, sets, buffers, ...) is an
// error that names it; for GLOBAL/INST the message also names the class, so a
// numpy array where a list was expected is recognisable from the message.
//
// Where this reader is stricter than Python: STOP must find exactly one value
// and no open MARK; a dict key must be None, bool, int, float, str, bytes or a
// tuple; strings from the unicode opcodes must be valid UTF-8 (Python accepts
// lone surrogates). Like Python, bytes after STOP are ignored. A dict keeps its
// entries in stream order, a key set twice appearing twice (the typed readers
// reject that); shared references (memo GET of a list) are shared while
// parsing, so a list filled after it was memoised is seen filled, and are
// copied when the result is turned into a pickle_value tree.
//
// LIMITS (pickle_limits; the defaults hold COCO's captions.pickle): file size,
// open MARKs (the nesting depth while parsing) and the nesting depth of the
// result (so a list that contains itself is an error, not endless recursion),
// values pushed (which bounds the stack, memo and containers: 16 bytes each),
// bytes of one string, memo entries, and the values and string bytes of a
// result, absolute and as a multiple of what was parsed (max_expansion). So
// memory is proportional to the input: parsing holds at most 16 bytes per
// value (every opcode pushes at most one), 16 to about 64 bytes per memo entry
// (each PUT costs 2 to 5 input bytes) and the strings (at most twice the
// input), and results are a small multiple of that.
#pragma once

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "attngan/core/error.hpp"
#include "attngan/data/file_io.hpp"
#include "attngan/data/unicode.hpp"

namespace attngan::data {

/// Hard limits of one pickle read; every one is checked before the memory it
/// guards is allocated.
struct pickle_limits {
  std::uint64_t max_file_bytes = std::uint64_t(64) << 20;      ///< file size
  std::size_t max_depth = 64;                                   ///< open MARKs; nesting of the result (<= 4096)
  std::size_t max_elements = std::size_t(1) << 24;              ///< values pushed / produced
  std::size_t max_string_bytes = std::size_t(1) << 20;          ///< one string, bytes or text argument
  std::size_t max_memo_entries = std::size_t(1) << 22;          ///< distinct memo keys
  std::uint64_t max_total_string_bytes = std::uint64_t(256) << 20;  ///< string bytes in a result
  /// A result may hold at most this many times the values parsed (and string
  /// bytes read) plus a small allowance: shared references (memo GETs of a
  /// list) are expanded into copies, and without a ratio a few hundred bytes
  /// of nested GETs would expand to max_elements values ("billion laughs";
  /// libxml2 caps entity amplification the same way). Real files share only
  /// strings (a word in both ixtoword and wordtoix): a ratio of 2.
  std::size_t max_expansion = 4;
};

/// `object` is a class instance made by an extension of the machine (see
/// machine::extension_opcode; io/torch_import.hpp); the plain-data readers
/// never produce one.
enum class pickle_kind : std::uint8_t { none, boolean, integer, floating, str, bytes, list, tuple, dict, object };

/// "None", "bool", "int", "float", "str", "bytes", "list", "tuple", "dict", "object".
inline std::string_view kind_name(pickle_kind k) {
  switch (k) {
    case pickle_kind::none: return "None";
    case pickle_kind::boolean: return "bool";
    case pickle_kind::integer: return "int";
    case pickle_kind::floating: return "float";
    case pickle_kind::str: return "str";
    case pickle_kind::bytes: return "bytes";
    case pickle_kind::list: return "list";
    case pickle_kind::tuple: return "tuple";
    case pickle_kind::dict: return "dict";
    case pickle_kind::object: return "object";
  }
  return "?";
}

/// One unpickled value, as a tree with value semantics. `offset()` is the byte
/// offset of the opcode that created it, for error messages. Lists and tuples
/// hold items(); a dict holds items() as key0, value0, key1, value1, ... in
/// stream order. Accessors of the wrong kind throw value_error.
class pickle_value {
 public:
  pickle_value() = default;

  [[nodiscard]] pickle_kind kind() const noexcept { return kind_; }
  [[nodiscard]] std::uint64_t offset() const noexcept { return offset_; }
  [[nodiscard]] bool is(pickle_kind k) const noexcept { return kind_ == k; }

  [[nodiscard]] bool as_bool() const {
    expect(pickle_kind::boolean);
    return number_ != 0;
  }
  [[nodiscard]] std::int64_t as_int() const {
    expect(pickle_kind::integer);
    return number_;
  }
  [[nodiscard]] double as_float() const {
    expect(pickle_kind::floating);
    return std::bit_cast<double>(number_);
  }
  /// Text of a str (UTF-8) or the raw bytes of a bytes value.
  [[nodiscard]] const std::string& as_text() const {
    if (kind_ != pickle_kind::str && kind_ != pickle_kind::bytes) expect(pickle_kind::str);
    return text_;
  }
  /// Items of a list or tuple; key, value pairs (flattened) of a dict.
  [[nodiscard]] const std::vector<pickle_value>& items() const {
    if (kind_ != pickle_kind::list && kind_ != pickle_kind::tuple && kind_ != pickle_kind::dict)
      expect(pickle_kind::list);
    return items_;
  }
  /// Number of items of a list or tuple, of entries of a dict.
  [[nodiscard]] std::size_t size() const { return kind_ == pickle_kind::dict ? items().size() / 2 : items().size(); }

  // Builders (used by the reader; handy in tests).
  static pickle_value make_none(std::uint64_t off = 0) { return pickle_value(pickle_kind::none, off); }
  static pickle_value make_bool(bool b, std::uint64_t off = 0) { return scalar(pickle_kind::boolean, b ? 1 : 0, off); }
  static pickle_value make_int(std::int64_t v, std::uint64_t off = 0) { return scalar(pickle_kind::integer, v, off); }
  static pickle_value make_float(double v, std::uint64_t off = 0) {
    return scalar(pickle_kind::floating, std::bit_cast<std::int64_t>(v), off);
  }
  static pickle_value make_text(pickle_kind k, std::string s, std::uint64_t off = 0) {
    pickle_value v(k, off);
    v.text_ = std::move(s);
    return v;
  }
  static pickle_value make_container(pickle_kind k, std::vector<pickle_value> items, std::uint64_t off = 0) {
    pickle_value v(k, off);
    v.items_ = std::move(items);
    return v;
  }

 private:
  pickle_value(pickle_kind k, std::uint64_t off) : kind_(k), offset_(off) {}
  static pickle_value scalar(pickle_kind k, std::int64_t n, std::uint64_t off) {
    pickle_value v(k, off);
    v.number_ = n;
    return v;
  }
  void expect(pickle_kind k) const {
    if (kind_ != k)
      throw value_error("pickle_value", detail::cat("value created at byte ", offset_, " is a ", kind_name(kind_),
                                                    ", not a ", kind_name(k)));
  }

  pickle_kind kind_ = pickle_kind::none;
  std::uint64_t offset_ = 0;
  std::int64_t number_ = 0;  // bool, int, or the bits of a float
  std::string text_;
  std::vector<pickle_value> items_;
};

/// captions.pickle of the original code (spec §2.3), validated: every caption
/// index is in [0, ixtoword.size()), ixtoword has exactly the keys
/// 0..N-1 and wordtoix is its inverse.
struct captions_pickle {
  std::vector<std::vector<std::int64_t>> train_captions;  ///< caption k of image n at n*10 + k
  std::vector<std::vector<std::int64_t>> test_captions;
  std::vector<std::string> ixtoword;                      ///< index -> word; [0] is "<end>"
};

namespace detail::pickle {

// Opcodes (Python's pickletools names).
enum : std::uint8_t {
  op_mark = '(', op_stop = '.', op_pop = '0', op_pop_mark = '1', op_dup = '2', op_float = 'F', op_int = 'I',
  op_binint = 'J', op_binint1 = 'K', op_long = 'L', op_binint2 = 'M', op_none = 'N', op_persid = 'P',
  op_binpersid = 'Q', op_reduce = 'R', op_string = 'S', op_binstring = 'T', op_short_binstring = 'U',
  op_unicode = 'V', op_binunicode = 'X', op_append = 'a', op_build = 'b', op_global = 'c', op_dict = 'd',
  op_empty_dict = '}', op_appends = 'e', op_get = 'g', op_binget = 'h', op_inst = 'i', op_long_binget = 'j',
  op_list = 'l', op_empty_list = ']', op_obj = 'o', op_put = 'p', op_binput = 'q', op_long_binput = 'r',
  op_setitem = 's', op_tuple = 't', op_empty_tuple = ')', op_setitems = 'u', op_binfloat = 'G',
  op_binbytes = 'B', op_short_binbytes = 'C',
  op_proto = 0x80, op_newobj = 0x81, op_ext1 = 0x82, op_ext2 = 0x83, op_ext4 = 0x84, op_tuple1 = 0x85,
  op_tuple2 = 0x86, op_tuple3 = 0x87, op_newtrue = 0x88, op_newfalse = 0x89, op_long1 = 0x8a, op_long4 = 0x8b,
  op_short_binunicode = 0x8c, op_binunicode8 = 0x8d, op_binbytes8 = 0x8e, op_empty_set = 0x8f,
  op_additems = 0x90, op_frozenset = 0x91, op_newobj_ex = 0x92, op_stack_global = 0x93, op_memoize = 0x94,
  op_frame = 0x95, op_bytearray8 = 0x96, op_next_buffer = 0x97, op_readonly_buffer = 0x98
};

/// The pickletools name of an opcode, or "" when the byte is no opcode.
inline std::string_view opcode_name(std::uint8_t op) {
  switch (op) {
    case op_mark: return "MARK";
    case op_stop: return "STOP";
    case op_pop: return "POP";
    case op_pop_mark: return "POP_MARK";
    case op_dup: return "DUP";
    case op_float: return "FLOAT";
    case op_int: return "INT";
    case op_binint: return "BININT";
    case op_binint1: return "BININT1";
    case op_long: return "LONG";
    case op_binint2: return "BININT2";
    case op_none: return "NONE";
    case op_persid: return "PERSID";
    case op_binpersid: return "BINPERSID";
    case op_reduce: return "REDUCE";
    case op_string: return "STRING";
    case op_binstring: return "BINSTRING";
    case op_short_binstring: return "SHORT_BINSTRING";
    case op_unicode: return "UNICODE";
    case op_binunicode: return "BINUNICODE";
    case op_append: return "APPEND";
    case op_build: return "BUILD";
    case op_global: return "GLOBAL";
    case op_dict: return "DICT";
    case op_empty_dict: return "EMPTY_DICT";
    case op_appends: return "APPENDS";
    case op_get: return "GET";
    case op_binget: return "BINGET";
    case op_inst: return "INST";
    case op_long_binget: return "LONG_BINGET";
    case op_list: return "LIST";
    case op_empty_list: return "EMPTY_LIST";
    case op_obj: return "OBJ";
    case op_put: return "PUT";
    case op_binput: return "BINPUT";
    case op_long_binput: return "LONG_BINPUT";
    case op_setitem: return "SETITEM";
    case op_tuple: return "TUPLE";
    case op_empty_tuple: return "EMPTY_TUPLE";
    case op_setitems: return "SETITEMS";
    case op_binfloat: return "BINFLOAT";
    case op_binbytes: return "BINBYTES";
    case op_short_binbytes: return "SHORT_BINBYTES";
    case op_proto: return "PROTO";
    case op_newobj: return "NEWOBJ";
    case op_ext1: return "EXT1";
    case op_ext2: return "EXT2";
    case op_ext4: return "EXT4";
    case op_tuple1: return "TUPLE1";
    case op_tuple2: return "TUPLE2";
    case op_tuple3: return "TUPLE3";
    case op_newtrue: return "NEWTRUE";
    case op_newfalse: return "NEWFALSE";
    case op_long1: return "LONG1";
    case op_long4: return "LONG4";
    case op_short_binunicode: return "SHORT_BINUNICODE";
    case op_binunicode8: return "BINUNICODE8";
    case op_binbytes8: return "BINBYTES8";
    case op_empty_set: return "EMPTY_SET";
    case op_additems: return "ADDITEMS";
    case op_frozenset: return "FROZENSET";
    case op_newobj_ex: return "NEWOBJ_EX";
    case op_stack_global: return "STACK_GLOBAL";
    case op_memoize: return "MEMOIZE";
    case op_frame: return "FRAME";
    case op_bytearray8: return "BYTEARRAY8";
    case op_next_buffer: return "NEXT_BUFFER";
    case op_readonly_buffer: return "READONLY_BUFFER";
    default: return "";
  }
}

/// A value on the machine's stack or inside a container: scalars inline,
/// strings and containers as indices into the document's arenas. 16 bytes.
struct ref {
  std::int64_t payload = 0;   // int / bool value, float bits, or arena index
  std::uint32_t offset = 0;   // byte offset of the creating opcode
  pickle_kind kind = pickle_kind::none;
};

/// The parsed pickle: the root value plus the arenas its refs point into.
/// Containers are shared by reference here (as in Python), so the typed
/// readers below charge every value they emit against the limits again.
struct document {
  std::string name;  // the file, for messages
  std::uint64_t base = 0;  // byte offset of the pickle in its file, added to reported offsets
  std::uint64_t end = 0;   // bytes consumed, STOP included (a file may hold more after it)
  pickle_limits limits;
  std::uint64_t input_bytes = 0;
  std::uint64_t values_parsed = 0;
  ref root;
  std::vector<std::string> strings;
  std::vector<std::vector<ref>> containers;  // dict: key0, value0, key1, value1, ...

  [[noreturn]] void fail(std::uint64_t offset, const std::string& what) const {
    throw io_error("pickle", cat(name, ": byte ", base + offset, ": ", what));
  }
  [[noreturn]] void fail_at(const ref& r, const std::string& what) const { fail(r.offset, what); }
  [[nodiscard]] const std::vector<ref>& items(const ref& r) const {
    return containers[static_cast<std::size_t>(r.payload)];
  }
  [[nodiscard]] const std::string& text(const ref& r) const { return strings[static_cast<std::size_t>(r.payload)]; }
};

/// The pickle virtual machine. One pass over the bytes; no recursion.
/// Opcodes for classes (GLOBAL, REDUCE, BUILD, persistent ids, ...) go to
/// extension_opcode(), which refuses them; a derived machine that accepts a
/// whitelist of classes overrides it (io/torch_import.hpp) and represents
/// what it builds as pickle_kind::object refs.
class machine {
 public:
  /// `base`: the offset of `bytes` in the file named `name` (for messages).
  machine(std::string_view bytes, std::string name, const pickle_limits& limits, std::uint64_t base = 0)
      : data_(bytes) {
    doc_.name = std::move(name);
    doc_.limits = limits;
    doc_.base = base;
  }
  virtual ~machine() = default;
  machine(const machine&) = delete;
  machine& operator=(const machine&) = delete;

  document run() {
    if (data_.size() > doc_.limits.max_file_bytes)
      doc_.fail(0, cat("input is ", data_.size(), " bytes, more than the limit of ", doc_.limits.max_file_bytes));
    // Offsets are stored in 32 bits; inputs past 4 GiB are refused above with
    // any sane limit, and here whatever the limit says.
    if (data_.size() > std::numeric_limits<std::uint32_t>::max())
      doc_.fail(0, "input larger than 4 GiB");
    if (data_.empty()) doc_.fail(0, "empty input (0 bytes), not a pickle");
    // The result tree is built recursively, one frame per level.
    if (doc_.limits.max_depth > 4096)
      throw value_error("pickle", cat("max_depth = ", doc_.limits.max_depth, " is above the supported 4096"));
    while (true) {
      if (pos_ >= data_.size())
        doc_.fail(pos_, "truncated: the input ends before the STOP opcode");
      op_at_ = pos_;
      op_ = byte_at(pos_++);
      if (step()) break;
    }
    doc_.input_bytes = data_.size();
    doc_.values_parsed = values_;
    doc_.end = pos_;
    return std::move(doc_);
  }

 protected:
  /// Called for every opcode the plain-data machine does not execute (op_,
  /// at op_at_); the default refuses it with an io_error naming the opcode,
  /// and for GLOBAL / INST the class.
  virtual void extension_opcode() {
    if (op_ == op_global || op_ == op_inst) refuse_class();
    const std::string_view name = opcode_name(op_);
    static constexpr char hex[] = "0123456789abcdef";
    const std::string code = {'0', 'x', hex[op_ >> 4], hex[op_ & 15]};
    if (name.empty()) doc_.fail(op_at_, cat("unknown opcode ", code, " (not a pickle, or a corrupt one)"));
    doc_.fail(op_at_, cat("opcode ", name, " (", code,
                          ") is not supported: only plain data (lists, tuples, dicts, strings, numbers) is"));
  }

  // --- failing --------------------------------------------------------------
  [[noreturn]] void fail(const std::string& what) const {
    doc_.fail(op_at_, cat("opcode ", opcode_name(op_), ": ", what));
  }

  // --- reading arguments ----------------------------------------------------
  [[nodiscard]] std::uint8_t byte_at(std::size_t i) const { return static_cast<std::uint8_t>(data_[i]); }

  /// Consumes n argument bytes, failing when the input ends first.
  std::string_view take(std::uint64_t n) {
    const std::size_t left = data_.size() - pos_;
    if (n > left) fail(cat("truncated: needs ", n, " argument bytes, the input ends after ", left));
    const std::string_view s = data_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }
  template <class U>
  U little_endian(std::size_t n) {
    const std::string_view s = take(n);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t(static_cast<std::uint8_t>(s[i])) << (8 * i);
    return static_cast<U>(v);
  }
  std::uint8_t u8() { return little_endian<std::uint8_t>(1); }
  std::uint64_t length_argument(std::size_t width) {
    return width == 1 ? u8() : width == 4 ? little_endian<std::uint32_t>(4) : little_endian<std::uint64_t>(8);
  }

  /// The argument of a text opcode: bytes up to '\n' (excluded), at most
  /// max_string_bytes long.
  std::string_view line() {
    const std::size_t left = data_.size() - pos_;
    const std::size_t window = doc_.limits.max_string_bytes < left ? doc_.limits.max_string_bytes + 1 : left;
    const void* nl = std::memchr(data_.data() + pos_, '\n', window);
    if (!nl) {
      if (window == left) fail("truncated: the input ends before the newline that ends the argument");
      fail(cat("text argument longer than the limit of ", doc_.limits.max_string_bytes, " bytes"));
    }
    const std::size_t len = static_cast<std::size_t>(static_cast<const char*>(nl) - (data_.data() + pos_));
    const std::string_view s = data_.substr(pos_, len);
    pos_ += len + 1;
    return s;
  }

  static std::string_view trim(std::string_view s) {
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
  }

  /// Decimal integer with optional sign (surrounding blanks allowed, as
  /// Python's int() allows).
  std::int64_t decimal(std::string_view s) {
    s = trim(s);
    if (s.size() > 1 && s.front() == '+' && s[1] != '-') s.remove_prefix(1);
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc::result_out_of_range) fail(cat("integer '", printable(s), "' does not fit in 64 bits"));
    if (s.empty() || ec != std::errc() || end != s.data() + s.size())
      fail(cat("'", printable(s), "' is not a decimal integer"));
    return v;
  }

  /// At most 40 characters of s, non-printable bytes as \xNN (for messages).
  static std::string printable(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size() && i < 40; ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c < 0x7f) {
        out += static_cast<char>(c);
      } else {
        static constexpr char hex[] = "0123456789abcdef";
        out += "\\x";
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
    if (s.size() > 40) out += "...";
    return out;
  }

  // --- the stack --------------------------------------------------------------
  [[nodiscard]] std::size_t fence() const { return marks_.empty() ? 0 : marks_.back(); }
  [[nodiscard]] std::size_t above_mark() const { return stack_.size() - fence(); }
  void need(std::size_t n) const {
    if (above_mark() < n)
      fail(cat("stack underflow: needs ", n, " value", n == 1 ? "" : "s", " above the last MARK, has ", above_mark()));
  }
  void count_value() {
    if (++values_ > doc_.limits.max_elements)
      fail(cat("more than ", doc_.limits.max_elements, " values (limit)"));
  }
  void push(ref r) {
    count_value();
    stack_.push_back(r);
  }
  ref pop() {
    need(1);
    ref r = stack_.back();
    stack_.pop_back();
    return r;
  }
  std::size_t pop_mark() {
    if (marks_.empty()) fail("no MARK to pop");
    const std::size_t k = marks_.back();
    marks_.pop_back();
    return k;
  }
  ref make(pickle_kind k, std::int64_t payload = 0) { return ref{payload, static_cast<std::uint32_t>(op_at_), k}; }
  ref new_container(pickle_kind k) {
    doc_.containers.emplace_back();
    return make(k, static_cast<std::int64_t>(doc_.containers.size() - 1));
  }
  std::vector<ref>& items_of(const ref& r) { return doc_.containers[static_cast<std::size_t>(r.payload)]; }
  ref new_string(pickle_kind k, std::string s) {
    doc_.strings.push_back(std::move(s));
    return make(k, static_cast<std::int64_t>(doc_.strings.size() - 1));
  }

  /// The container a mutating opcode writes into (top of stack or the value
  /// just below a MARK), checked for its kind.
  std::vector<ref>& target(const ref& r, pickle_kind want) {
    if (r.kind != want)
      fail(cat("target is a ", kind_name(r.kind), " (created at byte ", r.offset, "), expected a ", kind_name(want)));
    return items_of(r);
  }
  void check_key(const ref& key) const {
    if (key.kind == pickle_kind::list || key.kind == pickle_kind::dict)
      fail(cat("dict key is a ", kind_name(key.kind), " (unhashable)"));
  }
  /// Moves stack_[k..] to the end of `dst`.
  void move_from(std::size_t k, std::vector<ref>& dst) {
    dst.insert(dst.end(), stack_.begin() + static_cast<std::ptrdiff_t>(k), stack_.end());
    stack_.resize(k);
  }
  /// The value just below the MARK popped at k (APPENDS, SETITEMS).
  ref below_mark(std::size_t k) const {
    if (k == 0 || k - 1 < fence()) fail("no value below the MARK to add the items to");
    return stack_[k - 1];
  }

  // --- memo ---------------------------------------------------------------------
  // Python numbers memo keys 0, 1, 2, ... (the memo's size at each PUT), so
  // keys up to the dense table's size go there (16 bytes each); any other key
  // (only hand-made pickles have them) goes to a hash map.
  [[nodiscard]] std::size_t memo_size() const { return memo_dense_.size() + memo_sparse_.size(); }
  void memo_put(std::uint64_t key) {
    need(1);
    const ref value = stack_.back();
    if (key < memo_dense_.size()) {
      memo_dense_[key] = value;
      return;
    }
    if (auto it = memo_sparse_.find(key); it != memo_sparse_.end()) {
      it->second = value;
      return;
    }
    if (memo_size() >= doc_.limits.max_memo_entries)
      fail(cat("more than ", doc_.limits.max_memo_entries, " memo entries (limit)"));
    if (key == memo_dense_.size()) {
      memo_dense_.push_back(value);
      // A sparse key may now be the next dense one.
      for (auto it = memo_sparse_.find(memo_dense_.size()); it != memo_sparse_.end();
           it = memo_sparse_.find(memo_dense_.size())) {
        memo_dense_.push_back(it->second);
        memo_sparse_.erase(it);
      }
    } else {
      memo_sparse_.emplace(key, value);
    }
  }
  void memo_get(std::uint64_t key) {
    if (key < memo_dense_.size()) return push(memo_dense_[key]);
    const auto it = memo_sparse_.find(key);
    if (it == memo_sparse_.end()) fail(cat("memo key ", key, " was never stored (PUT)"));
    push(it->second);
  }

  // --- strings ------------------------------------------------------------------
  void check_length(std::uint64_t n) const {
    if (n > doc_.limits.max_string_bytes)
      fail(cat("string of ", n, " bytes, more than the limit of ", doc_.limits.max_string_bytes));
  }
  void counted_string(pickle_kind k, std::size_t width) {
    const std::uint64_t n = length_argument(width);
    check_length(n);
    std::string s(take(n));
    if (k == pickle_kind::str) {
      if (const auto bad = unicode::first_invalid_utf8(s))
        doc_.fail(pos_ - n + *bad, cat("the string of the ", opcode_name(op_), " at byte ", op_at_,
                                       " is not valid UTF-8"));
    }
    push(new_string(k, std::move(s)));
  }
  void signed_length_string(pickle_kind k) {  // BINSTRING: the length is a signed int32
    const auto n = little_endian<std::int32_t>(4);
    if (n < 0) fail(cat("negative string length ", n));
    check_length(std::uint64_t(n));
    push(new_string(k, std::string(take(std::uint64_t(n)))));
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  /// STRING: a quoted Python 2 literal, decoded like codecs.escape_decode.
  std::string escape_decode(std::string_view s) {
    if (s.size() < 2 || s.front() != s.back() || (s.front() != '\'' && s.front() != '"'))
      fail("the STRING argument must be quoted");
    s = s.substr(1, s.size() - 2);
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '\\') {
        out += s[i];
        continue;
      }
      if (++i == s.size()) fail("STRING argument ends with a lone backslash");
      const char c = s[i];
      switch (c) {
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'x': {
          const int hi = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
          const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
          if (hi < 0 || lo < 0) fail("invalid \\x escape in STRING argument");
          out += static_cast<char>(hi * 16 + lo);
          i += 2;
          break;
        }
        default:
          if (c >= '0' && c <= '7') {  // up to three octal digits
            int v = c - '0';
            for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7'; ++k)
              v = v * 8 + (s[++i] - '0');
            out += static_cast<char>(v & 0xFF);
          } else {  // unknown escapes stay as written
            out += '\\';
            out += c;
          }
      }
    }
    return out;
  }

  /// UNICODE: raw-unicode-escape (bytes are Latin-1 code points; \uXXXX and
  /// \UXXXXXXXX escape when an odd number of backslashes precede the u), to
  /// UTF-8.
  std::string raw_unicode_escape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
      if (s[i] != '\\') {
        unicode::append_utf8(out, static_cast<unsigned char>(s[i]));
        ++i;
        continue;
      }
      std::size_t run = 0;
      while (i + run < s.size() && s[i + run] == '\\') ++run;
      const std::size_t after = i + run;
      const bool escape = (run % 2 == 1) && after < s.size() && (s[after] == 'u' || s[after] == 'U');
      if (!escape) {
        out.append(run, '\\');
        i = after;
        continue;
      }
      out.append(run - 1, '\\');
      const std::size_t digits = s[after] == 'u' ? 4 : 8;
      if (s.size() - (after + 1) < digits) fail("truncated \\u escape in UNICODE argument");
      char32_t cp = 0;
      for (std::size_t k = 0; k < digits; ++k) {
        const int h = hex_value(s[after + 1 + k]);
        if (h < 0) fail("invalid \\u escape in UNICODE argument");
        cp = (cp << 4) | static_cast<char32_t>(h);
      }
      if (cp > 0x10FFFF) fail("\\U escape beyond U+10FFFF in UNICODE argument");
      if (cp >= 0xD800 && cp <= 0xDFFF) fail("surrogate code point in UNICODE argument (not representable in UTF-8)");
      unicode::append_utf8(out, cp);
      i = after + 1 + digits;
    }
    if (out.size() > doc_.limits.max_string_bytes)
      fail(cat("string of ", out.size(), " bytes, more than the limit of ", doc_.limits.max_string_bytes));
    return out;
  }

  /// GLOBAL / INST: name the class in the refusal.
  [[noreturn]] void refuse_class() {
    const std::string module = printable(line());
    const std::string qualname = printable(line());
    fail(cat("class ", module, ".", qualname,
             ": only plain data (lists, tuples, dicts, strings, numbers) is supported"));
  }

  // --- one opcode ---------------------------------------------------------------
  /// Executes op_; returns true at STOP.
  bool step() {
    switch (op_) {
      case op_proto: {
        const std::uint8_t v = u8();
        if (v > 5) fail(cat("unsupported protocol ", int(v), " (this reader accepts 0 to 5)"));
        return false;
      }
      case op_frame: {
        const std::uint64_t n = little_endian<std::uint64_t>(8);
        if (n > data_.size() - pos_) fail(cat("frame of ", n, " bytes, but only ", data_.size() - pos_, " remain"));
        return false;
      }
      case op_stop: {
        if (!marks_.empty()) fail(cat("STOP with ", marks_.size(), " MARK(s) still open"));
        if (stack_.size() != 1) fail(cat("STOP needs exactly one value on the stack, found ", stack_.size()));
        doc_.root = stack_.back();
        return true;
      }
      case op_mark:
        if (marks_.size() >= doc_.limits.max_depth)
          fail(cat("more than ", doc_.limits.max_depth, " nested MARKs (nesting limit)"));
        count_value();  // bounds the marks' memory like any value
        marks_.push_back(stack_.size());
        return false;
      case op_pop:
        // Python pops the MARK itself when nothing is above it.
        if (above_mark() == 0 && !marks_.empty()) {
          marks_.pop_back();
        } else {
          pop();
        }
        return false;
      case op_pop_mark: stack_.resize(pop_mark()); return false;
      case op_dup: {
        need(1);
        const ref top = stack_.back();
        push(top);
        return false;
      }

      // scalars
      case op_none: push(make(pickle_kind::none)); return false;
      case op_newtrue: push(make(pickle_kind::boolean, 1)); return false;
      case op_newfalse: push(make(pickle_kind::boolean, 0)); return false;
      case op_int: {
        const std::string_view s = line();
        if (s == "00" || s == "01") {
          push(make(pickle_kind::boolean, s == "01"));
        } else {
          push(make(pickle_kind::integer, decimal(s)));
        }
        return false;
      }
      case op_long: {
        std::string_view s = trim(line());
        if (!s.empty() && s.back() == 'L') s.remove_suffix(1);
        push(make(pickle_kind::integer, decimal(s)));
        return false;
      }
      case op_binint: push(make(pickle_kind::integer, little_endian<std::int32_t>(4))); return false;
      case op_binint1: push(make(pickle_kind::integer, u8())); return false;
      case op_binint2: push(make(pickle_kind::integer, little_endian<std::uint16_t>(2))); return false;
      case op_long1:
      case op_long4: {
        std::uint64_t n = 0;
        if (op_ == op_long1) {
          n = u8();
        } else {
          const auto m = little_endian<std::int32_t>(4);
          if (m < 0) fail(cat("negative byte count ", m));
          n = std::uint64_t(m);
        }
        if (n > 8) fail(cat("integer of ", n, " bytes does not fit in 64 bits"));
        const std::string_view b = take(n);
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t(static_cast<std::uint8_t>(b[i])) << (8 * i);
        // Two's complement of n bytes: sign-extend from bit 8n-1.
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~std::uint64_t(0) << (8 * n);
        push(make(pickle_kind::integer, static_cast<std::int64_t>(v)));
        return false;
      }
      case op_float: {
        const std::string_view s = trim(line());
        double v = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size())
          fail(cat("'", printable(s), "' is not a float"));
        push(make(pickle_kind::floating, std::bit_cast<std::int64_t>(v)));
        return false;
      }
      case op_binfloat: {  // big-endian IEEE double
        const std::string_view b = take(8);
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(b[std::size_t(i)]);
        push(make(pickle_kind::floating, static_cast<std::int64_t>(v)));
        return false;
      }

      // strings
      case op_string: push(new_string(pickle_kind::bytes, escape_decode(line()))); return false;
      case op_binstring: signed_length_string(pickle_kind::bytes); return false;
      case op_short_binstring: counted_string(pickle_kind::bytes, 1); return false;
      case op_unicode: push(new_string(pickle_kind::str, raw_unicode_escape(line()))); return false;
      case op_binunicode: counted_string(pickle_kind::str, 4); return false;
      case op_short_binunicode: counted_string(pickle_kind::str, 1); return false;
      case op_binunicode8: counted_string(pickle_kind::str, 8); return false;
      case op_binbytes: counted_string(pickle_kind::bytes, 4); return false;
      case op_short_binbytes: counted_string(pickle_kind::bytes, 1); return false;
      case op_binbytes8: counted_string(pickle_kind::bytes, 8); return false;

      // containers
      case op_empty_list: push(new_container(pickle_kind::list)); return false;
      case op_empty_tuple: push(new_container(pickle_kind::tuple)); return false;
      case op_empty_dict: push(new_container(pickle_kind::dict)); return false;
      case op_list:
      case op_tuple: {
        const std::size_t k = pop_mark();
        ref r = new_container(op_ == op_list ? pickle_kind::list : pickle_kind::tuple);
        move_from(k, items_of(r));
        push(r);
        return false;
      }
      case op_tuple1:
      case op_tuple2:
      case op_tuple3: {
        const std::size_t n = std::size_t(op_ - op_tuple1 + 1);
        need(n);
        ref r = new_container(pickle_kind::tuple);
        move_from(stack_.size() - n, items_of(r));
        push(r);
        return false;
      }
      case op_dict: {
        const std::size_t k = pop_mark();
        if ((stack_.size() - k) % 2 != 0) fail("odd number of values between MARK and DICT");
        for (std::size_t i = k; i < stack_.size(); i += 2) check_key(stack_[i]);
        ref r = new_container(pickle_kind::dict);
        move_from(k, items_of(r));
        push(r);
        return false;
      }
      case op_append: {
        need(2);
        const ref v = pop();
        target(stack_.back(), pickle_kind::list).push_back(v);
        return false;
      }
      case op_appends: {
        const std::size_t k = pop_mark();
        move_from(k, target(below_mark(k), pickle_kind::list));
        return false;
      }
      case op_setitem: {
        need(3);
        const ref v = pop();
        const ref key = pop();
        check_key(key);
        auto& d = target(stack_.back(), pickle_kind::dict);
        d.push_back(key);
        d.push_back(v);
        return false;
      }
      case op_setitems: {
        const std::size_t k = pop_mark();
        auto& d = target(below_mark(k), pickle_kind::dict);
        if ((stack_.size() - k) % 2 != 0) fail("odd number of values between MARK and SETITEMS");
        for (std::size_t i = k; i < stack_.size(); i += 2) check_key(stack_[i]);
        move_from(k, d);
        return false;
      }

      // memo
      case op_put: {
        const std::int64_t key = decimal(line());
        if (key < 0) fail("negative memo key");
        memo_put(std::uint64_t(key));
        return false;
      }
      case op_binput: memo_put(u8()); return false;
      case op_long_binput: memo_put(little_endian<std::uint32_t>(4)); return false;
      case op_memoize: memo_put(memo_size()); return false;
      case op_get: {
        const std::int64_t key = decimal(line());
        if (key < 0) fail("negative memo key");
        memo_get(std::uint64_t(key));
        return false;
      }
      case op_binget: memo_get(u8()); return false;
      case op_long_binget: memo_get(little_endian<std::uint32_t>(4)); return false;

      default: extension_opcode(); return false;
    }
  }

  std::string_view data_;
  std::size_t pos_ = 0;
  std::size_t op_at_ = 0;
  std::uint8_t op_ = 0;
  std::size_t values_ = 0;
  std::vector<ref> stack_;
  std::vector<std::size_t> marks_;
  std::vector<ref> memo_dense_;
  std::unordered_map<std::uint64_t, ref> memo_sparse_;
  document doc_;
};

/// Charges values and string bytes produced from a document against its
/// limits (shared containers can expand without bound otherwise).
class budget {
 public:
  explicit budget(const document& doc)
      : doc_(doc),
        max_values_(std::min<std::uint64_t>(doc.limits.max_elements,
                                            doc.limits.max_expansion * doc.values_parsed + 1024)),
        max_bytes_(std::min<std::uint64_t>(doc.limits.max_total_string_bytes,
                                           doc.limits.max_expansion * doc.input_bytes + 65536)) {}
  void value(const ref& at) {
    if (++values_ > max_values_)
      doc_.fail_at(at, cat("result would hold more than ", max_values_, " values (limit: ",
                           doc_.limits.max_elements, ", or ", doc_.limits.max_expansion,
                           " times the values parsed; shared lists expand into copies)"));
  }
  void bytes(const ref& at, std::size_t n) {
    bytes_ += n;
    if (bytes_ > max_bytes_)
      doc_.fail_at(at, cat("result would hold more than ", max_bytes_, " string bytes (limit: ",
                           doc_.limits.max_total_string_bytes, ", or ", doc_.limits.max_expansion,
                           " times the input size)"));
  }

 private:
  const document& doc_;
  std::uint64_t max_values_, max_bytes_;
  std::uint64_t values_ = 0;
  std::uint64_t bytes_ = 0;
};

/// Builds the value tree; recursion depth is bounded by limits.max_depth.
inline pickle_value to_value(const document& doc, const ref& r, budget& b, std::size_t depth) {
  b.value(r);
  switch (r.kind) {
    case pickle_kind::none: return pickle_value::make_none(r.offset);
    case pickle_kind::boolean: return pickle_value::make_bool(r.payload != 0, r.offset);
    case pickle_kind::integer: return pickle_value::make_int(r.payload, r.offset);
    case pickle_kind::floating: return pickle_value::make_float(std::bit_cast<double>(r.payload), r.offset);
    case pickle_kind::str:
    case pickle_kind::bytes:
      b.bytes(r, doc.text(r).size());
      return pickle_value::make_text(r.kind, doc.text(r), r.offset);
    case pickle_kind::object: doc.fail_at(r, "a class instance, not plain data");
    case pickle_kind::list:
    case pickle_kind::tuple:
    case pickle_kind::dict: {
      if (depth >= doc.limits.max_depth)
        doc.fail_at(r, cat("containers nested deeper than ", doc.limits.max_depth,
                           " levels (nesting limit; or a container that contains itself)"));
      const auto& items = doc.items(r);
      std::vector<pickle_value> out;
      out.reserve(items.size());
      for (const ref& item : items) out.push_back(to_value(doc, item, b, depth + 1));
      return pickle_value::make_container(r.kind, std::move(out), r.offset);
    }
  }
  doc.fail_at(r, "corrupt value");
}

// --- typed extraction -----------------------------------------------------------
// `what` is a callable returning the value's description ("item 3"): built
// only when a check fails, so millions of caption words cost no formatting.
template <class What>
const std::vector<ref>& expect_list(const document& doc, const ref& r, const What& what) {
  if (r.kind != pickle_kind::list && r.kind != pickle_kind::tuple)
    doc.fail_at(r, cat(what(), " is a ", kind_name(r.kind), ", expected a list"));
  return doc.items(r);
}

template <class What>
std::string expect_string(const document& doc, const ref& r, const What& what, budget& b) {
  if (r.kind != pickle_kind::str && r.kind != pickle_kind::bytes)
    doc.fail_at(r, cat(what(), " is a ", kind_name(r.kind), ", expected a string"));
  const std::string& s = doc.text(r);
  // Python 2 str (bytes here) are taken as UTF-8, as Python 3 would decode
  // the ASCII file names of CUB.
  if (r.kind == pickle_kind::bytes && !unicode::is_valid_utf8(s))
    doc.fail_at(r, cat(what(), " is a byte string that is not valid UTF-8"));
  b.bytes(r, s.size());
  return s;
}

template <class What>
std::int64_t expect_int(const document& doc, const ref& r, const What& what) {
  if (r.kind != pickle_kind::integer) doc.fail_at(r, cat(what(), " is a ", kind_name(r.kind), ", expected an int"));
  return r.payload;
}

inline std::string top_level() { return "the top-level value"; }

inline std::vector<std::string> string_list(const document& doc) {
  budget b(doc);
  const auto& items = expect_list(doc, doc.root, top_level);
  std::vector<std::string> out;
  out.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    b.value(items[i]);
    out.push_back(expect_string(doc, items[i], [&] { return cat("item ", i); }, b));
  }
  return out;
}

inline std::vector<std::int64_t> int_list(const document& doc) {
  const auto& items = expect_list(doc, doc.root, top_level);
  std::vector<std::int64_t> out;
  out.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i)
    out.push_back(expect_int(doc, items[i], [&] { return cat("item ", i); }));
  return out;
}

inline std::vector<std::vector<std::int64_t>> caption_lists(const document& doc, const ref& r, const char* what,
                                                            budget& b) {
  const auto& captions = expect_list(doc, r, [&] { return std::string(what); });
  std::vector<std::vector<std::int64_t>> out;
  out.reserve(captions.size());
  for (std::size_t i = 0; i < captions.size(); ++i) {
    const auto& words = expect_list(doc, captions[i], [&] { return cat(what, " item ", i); });
    std::vector<std::int64_t> ids;
    ids.reserve(words.size());
    for (std::size_t j = 0; j < words.size(); ++j) {
      b.value(words[j]);
      ids.push_back(expect_int(doc, words[j], [&] { return cat(what, " item ", i, " word ", j); }));
    }
    out.push_back(std::move(ids));
  }
  return out;
}

inline captions_pickle captions(const document& doc) {
  budget b(doc);
  const auto& top = expect_list(doc, doc.root, top_level);
  if (top.size() != 4)
    doc.fail_at(doc.root, cat("the top-level list has ", top.size(),
                              " items, expected 4: [train_captions, test_captions, ixtoword, wordtoix]"));
  captions_pickle out;
  out.train_captions = caption_lists(doc, top[0], "train_captions", b);
  out.test_captions = caption_lists(doc, top[1], "test_captions", b);

  // ixtoword: dict int -> str with keys exactly 0..N-1.
  const ref& ixtoword = top[2];
  if (ixtoword.kind != pickle_kind::dict)
    doc.fail_at(ixtoword, cat("ixtoword is a ", kind_name(ixtoword.kind), ", expected a dict"));
  const auto& ix_items = doc.items(ixtoword);
  const std::size_t n = ix_items.size() / 2;
  out.ixtoword.assign(n, std::string());
  std::vector<bool> seen(n, false);
  for (std::size_t e = 0; e < n; ++e) {
    const ref& key = ix_items[2 * e];
    const std::int64_t ix = expect_int(doc, key, [&] { return cat("ixtoword key ", e); });
    if (ix < 0 || std::uint64_t(ix) >= n)
      doc.fail_at(key, cat("ixtoword key ", ix, " is outside 0..", n - 1, " (the keys must be 0..N-1)"));
    if (seen[std::size_t(ix)]) doc.fail_at(key, cat("ixtoword key ", ix, " appears twice"));
    seen[std::size_t(ix)] = true;
    out.ixtoword[std::size_t(ix)] =
        expect_string(doc, ix_items[2 * e + 1], [&] { return cat("ixtoword[", ix, "]"); }, b);
  }

  // wordtoix: the inverse of ixtoword.
  const ref& wordtoix = top[3];
  if (wordtoix.kind != pickle_kind::dict)
    doc.fail_at(wordtoix, cat("wordtoix is a ", kind_name(wordtoix.kind), ", expected a dict"));
  const auto& w_items = doc.items(wordtoix);
  if (w_items.size() / 2 != n)
    doc.fail_at(wordtoix, cat("wordtoix has ", w_items.size() / 2, " entries, ixtoword has ", n));
  for (std::size_t e = 0; e < n; ++e) {
    const std::string word = expect_string(doc, w_items[2 * e], [&] { return cat("wordtoix key ", e); }, b);
    const std::int64_t ix = expect_int(doc, w_items[2 * e + 1], [&] { return cat("wordtoix['", word, "']"); });
    if (ix < 0 || std::uint64_t(ix) >= n || out.ixtoword[std::size_t(ix)] != word)
      doc.fail_at(w_items[2 * e + 1], cat("wordtoix['", word, "'] = ", ix, " does not match ixtoword"));
  }
  // Equal sizes and every wordtoix entry matching ixtoword make it the exact
  // inverse only when the words are distinct.
  {
    std::unordered_map<std::string_view, std::size_t> index;
    index.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      if (!index.emplace(out.ixtoword[i], i).second)
        doc.fail_at(ixtoword, cat("ixtoword maps ", index[out.ixtoword[i]], " and ", i, " to the same word '",
                                  out.ixtoword[i], "'"));
  }

  for (const auto* split : {&out.train_captions, &out.test_captions}) {
    const ref& at = split == &out.train_captions ? top[0] : top[1];
    for (std::size_t i = 0; i < split->size(); ++i)
      for (std::int64_t ix : (*split)[i])
        if (ix < 0 || std::uint64_t(ix) >= n)
          doc.fail_at(at, cat(split == &out.train_captions ? "train" : "test", "_captions item ", i,
                              " holds word index ", ix, ", outside the vocabulary 0..", n == 0 ? 0 : n - 1));
  }
  return out;
}

inline document parse(std::string_view bytes, const std::string& name, const pickle_limits& limits) {
  return machine(bytes, name, limits).run();
}

inline document load(const std::filesystem::path& path, const pickle_limits& limits) {
  const std::vector<std::uint8_t> bytes = read_file_bytes("pickle", path, limits.max_file_bytes);
  const std::string_view view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return parse(view, cat("'", path.string(), "'"), limits);
}

}  // namespace detail::pickle

// --- public API -----------------------------------------------------------------
// parse_*: from bytes in memory, `name` naming the source in messages;
// read_*: from a file. All throw io_error on any malformed, hostile or
// mistyped input.

inline pickle_value parse_pickle(std::string_view bytes, const std::string& name = "<memory>",
                                 const pickle_limits& limits = {}) {
  const auto doc = detail::pickle::parse(bytes, name, limits);
  detail::pickle::budget b(doc);
  return detail::pickle::to_value(doc, doc.root, b, 0);
}
inline pickle_value read_pickle(const std::filesystem::path& path, const pickle_limits& limits = {}) {
  const auto doc = detail::pickle::load(path, limits);
  detail::pickle::budget b(doc);
  return detail::pickle::to_value(doc, doc.root, b, 0);
}

/// A list (or tuple) of str / Python 2 str / bytes, each valid UTF-8
/// (filenames.pickle).
inline std::vector<std::string> parse_string_list(std::string_view bytes, const std::string& name = "<memory>",
                                                  const pickle_limits& limits = {}) {
  return detail::pickle::string_list(detail::pickle::parse(bytes, name, limits));
}
inline std::vector<std::string> read_string_list(const std::filesystem::path& path, const pickle_limits& limits = {}) {
  return detail::pickle::string_list(detail::pickle::load(path, limits));
}

/// A list (or tuple) of ints, bools refused (class_info.pickle).
inline std::vector<std::int64_t> parse_int_list(std::string_view bytes, const std::string& name = "<memory>",
                                                const pickle_limits& limits = {}) {
  return detail::pickle::int_list(detail::pickle::parse(bytes, name, limits));
}
inline std::vector<std::int64_t> read_int_list(const std::filesystem::path& path, const pickle_limits& limits = {}) {
  return detail::pickle::int_list(detail::pickle::load(path, limits));
}

/// captions.pickle (spec §2.3), validated as described at captions_pickle.
inline captions_pickle parse_captions_pickle(std::string_view bytes, const std::string& name = "<memory>",
                                             const pickle_limits& limits = {}) {
  return detail::pickle::captions(detail::pickle::parse(bytes, name, limits));
}
inline captions_pickle read_captions_pickle(const std::filesystem::path& path, const pickle_limits& limits = {}) {
  return detail::pickle::captions(detail::pickle::load(path, limits));
}

}  // namespace attngan::data
