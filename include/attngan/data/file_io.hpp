// attngan/data/file_io.hpp — whole-file reads with a size cap, and atomic
// writes, for the data layer's readers and writers.
//
// Every file the library writes (images, split lists, pickles, captions) is
// written atomically (design decision 9): the bytes go to a temporary file in
// the destination folder, which is flushed, closed and then renamed over the
// destination, so a reader or a crash never leaves a half-written file under
// the real name. Reads take a size cap so that a huge or hostile file is an
// error, not unbounded memory. Errors are io_error naming the operation and
// the file.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#if __has_include(<unistd.h>)
#include <unistd.h>
#define ATTNGAN_DATA_HAS_GETPID 1
#else
#define ATTNGAN_DATA_HAS_GETPID 0
#endif

#include "attngan/core/error.hpp"

namespace attngan::data {

namespace detail {
// The library's message builder, visible as detail::cat inside attngan::data.
using attngan::detail::cat;
}  // namespace detail

/// The whole file as bytes. io_error (naming `op` and the file) when it is
/// missing, not a regular file, unreadable or larger than `max_bytes`.
inline std::vector<std::uint8_t> read_file_bytes(const char* op, const std::filesystem::path& path,
                                                 std::uintmax_t max_bytes) {
  using attngan::detail::cat;
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw io_error(op, cat("'", path.string(), "': cannot access (", ec.message(), ")"));
  if (!std::filesystem::exists(status)) throw io_error(op, cat("'", path.string(), "': no such file"));
  if (!std::filesystem::is_regular_file(status)) throw io_error(op, cat("'", path.string(), "': not a regular file"));
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) throw io_error(op, cat("'", path.string(), "': cannot read its size (", ec.message(), ")"));
  if (size > max_bytes)
    throw io_error(op, cat("'", path.string(), "': ", size, " bytes is more than the ", max_bytes, " accepted"));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error(op, cat("'", path.string(), "': cannot open for reading"));
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(size)))
    throw io_error(op, cat("'", path.string(), "': read failed after ", in.gcount(), " of ", size, " bytes"));
  return bytes;
}

/// Writes `size` bytes to `path` atomically: into a uniquely named temporary
/// file in the same folder (so the rename stays on one file system), flushed
/// and closed, then renamed over `path`. On failure the temporary file is
/// removed and io_error names `op` and `path`. The folder must exist.
inline void write_file_atomically(const char* op, const std::filesystem::path& path, const void* data,
                                  std::size_t size) {
  namespace fs = std::filesystem;
  using attngan::detail::cat;
  const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw io_error(op, cat("'", path.string(), "': folder '", folder.string(), "' does not exist"));
  // A name no concurrent writer uses: the process id separates processes, the
  // thread id and a per-process counter separate threads and calls, the clock
  // separates a process from a crashed predecessor with the same id.
  static std::atomic<std::uint64_t> calls{0};
  std::uint64_t pid = 0;
#if ATTNGAN_DATA_HAS_GETPID
  pid = std::uint64_t(::getpid());
#endif
  const std::uint64_t tag = std::uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                            (std::uint64_t(std::hash<std::thread::id>{}(std::this_thread::get_id())) << 1) ^
                            (calls.fetch_add(1) * 0x9E3779B97F4A7C15ull);
  fs::path temp = path;
  temp += cat(".tmp-", pid, "-", tag);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw io_error(op, cat("'", path.string(), "': cannot create the temporary file '", temp.string(), "'"));
    out.write(static_cast<const char*>(data), std::streamsize(size));
    out.close();
    if (!out) {
      fs::remove(temp, ec);
      throw io_error(op, cat("'", path.string(), "': writing ", size, " bytes failed (disk full?)"));
    }
  }
  fs::rename(temp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw io_error(op, cat("'", path.string(), "': cannot move the temporary file into place (", ec.message(), ")"));
  }
}

/// write_file_atomically for text.
inline void write_text_atomically(const char* op, const std::filesystem::path& path, std::string_view text) {
  write_file_atomically(op, path, text.data(), text.size());
}

}  // namespace attngan::data
