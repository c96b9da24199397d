// attngan/data/pickle_write.hpp — writes the two pickle shapes the CUB
// metadata uses: a list of str (train/filenames.pickle) and a list of int
// (train/class_info.pickle), in Python's pickle protocol 2.
//
// The bytes are exactly what CPython 3's `pickle.dumps(obj, protocol=2)`
// writes for a list of distinct str objects or of ints (checked in
// tests/data/test_synthetic_birds.cpp against bytes captured from Python
// 3.11): PROTO 2, EMPTY_LIST, BINPUT 0, then the items in batches of 1000 —
// MARK ... APPENDS for a batch of two or more, the item and APPEND for a batch
// of one — and STOP. A str is BINUNICODE (4-byte little-endian length, UTF-8
// bytes) followed by BINPUT/LONG_BINPUT of its memo index, as Python memoises
// every str; ints use BININT1 (0..255), BININT2 (256..65535), BININT (other
// 32-bit values) or LONG1 (two's complement, shortest form). Python 2 and 3
// both load these files (Python 2 as `unicode` strings); the original
// AttnGAN data, written by Python 2, used SHORT_BINSTRING instead, which a
// reader must accept too (data/pickle.hpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "attngan/core/error.hpp"
#include "attngan/data/file_io.hpp"

namespace attngan::data {

namespace detail {

/// The pickle opcodes written here (Python's Lib/pickle.py names them).
namespace pickle_op {
inline constexpr std::uint8_t proto = 0x80, stop = '.', mark = '(', empty_list = ']', append = 'a', appends = 'e',
                              binput = 'q', long_binput = 'r', binunicode = 'X', binint = 'J', binint1 = 'K',
                              binint2 = 'M', long1 = 0x8a;
}

inline void put_u32_le(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(std::uint8_t(v >> (8 * i)));
}

/// Memoises the object just written, as Python's pickler does (index = memo size).
inline void put_memo(std::vector<std::uint8_t>& out, std::uint32_t index) {
  if (index < 256) {
    out.push_back(pickle_op::binput);
    out.push_back(std::uint8_t(index));
  } else {
    out.push_back(pickle_op::long_binput);
    put_u32_le(out, index);
  }
}

/// Writes a list: items through `put_item(i)`, batched like CPython's
/// _batch_appends (batch size 1000).
template <class PutItem>
std::vector<std::uint8_t> pickle_list(std::size_t n, PutItem put_item) {
  std::vector<std::uint8_t> out{pickle_op::proto, 2, pickle_op::empty_list};
  put_memo(out, 0);
  constexpr std::size_t batch = 1000;
  for (std::size_t start = 0; start < n; start += batch) {
    const std::size_t end = std::min(n, start + batch);
    if (end - start > 1) {
      out.push_back(pickle_op::mark);
      for (std::size_t i = start; i < end; ++i) put_item(out, i);
      out.push_back(pickle_op::appends);
    } else {
      put_item(out, start);
      out.push_back(pickle_op::append);
    }
  }
  out.push_back(pickle_op::stop);
  return out;
}

}  // namespace detail

/// Pickle protocol 2 bytes of a Python list of str. Strings are UTF-8 (they
/// are stored as given; the keys of CUB are ASCII).
inline std::vector<std::uint8_t> pickle_string_list(const std::vector<std::string>& items) {
  std::uint32_t memo = 1;  // index 0 is the list itself
  for (const auto& s : items)
    if (s.size() > 0xFFFFFFFFull)
      throw value_error("pickle_string_list", detail::cat("a string of ", s.size(), " bytes does not fit BINUNICODE"));
  return detail::pickle_list(items.size(), [&](std::vector<std::uint8_t>& out, std::size_t i) {
    const std::string& s = items[i];
    out.push_back(detail::pickle_op::binunicode);
    detail::put_u32_le(out, std::uint32_t(s.size()));
    out.insert(out.end(), s.begin(), s.end());
    detail::put_memo(out, memo++);
  });
}

/// Pickle protocol 2 bytes of a Python list of int.
inline std::vector<std::uint8_t> pickle_int_list(const std::vector<std::int64_t>& items) {
  return detail::pickle_list(items.size(), [&](std::vector<std::uint8_t>& out, std::size_t i) {
    const std::int64_t v = items[i];
    if (v >= 0 && v < 256) {
      out.push_back(detail::pickle_op::binint1);
      out.push_back(std::uint8_t(v));
    } else if (v >= 256 && v < 65536) {
      out.push_back(detail::pickle_op::binint2);
      out.push_back(std::uint8_t(v));
      out.push_back(std::uint8_t(v >> 8));
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      out.push_back(detail::pickle_op::binint);
      detail::put_u32_le(out, std::uint32_t(std::int32_t(v)));
    } else {
      // LONG1: the shortest little-endian two's complement that keeps the sign.
      std::uint8_t bytes[9];
      int n = 0;
      std::int64_t rest = v;
      for (;;) {
        const auto byte = std::uint8_t(std::uint64_t(rest) & 0xFF);
        bytes[n++] = byte;
        rest >>= 8;  // arithmetic shift: sign-extends
        const bool sign_bit = (byte & 0x80) != 0;
        if ((rest == 0 && !sign_bit) || (rest == -1 && sign_bit)) break;
      }
      out.push_back(detail::pickle_op::long1);
      out.push_back(std::uint8_t(n));
      out.insert(out.end(), bytes, bytes + n);
    }
  });
}

/// Writes a list of str as a protocol-2 pickle file, atomically.
inline void write_pickle_string_list(const std::filesystem::path& path, const std::vector<std::string>& items) {
  const auto bytes = pickle_string_list(items);
  write_file_atomically("write_pickle_string_list", path, bytes.data(), bytes.size());
}

/// Writes a list of int as a protocol-2 pickle file, atomically.
inline void write_pickle_int_list(const std::filesystem::path& path, const std::vector<std::int64_t>& items) {
  const auto bytes = pickle_int_list(items);
  write_file_atomically("write_pickle_int_list", path, bytes.data(), bytes.size());
}

}  // namespace attngan::data
