// tests/fuzz/fuzz_safetensors.cpp — libFuzzer target for the safetensors
// reader and writer (attngan/io/safetensors.hpp).
//
// read_safetensors reads a path, so each input is written to a file in a
// folder of this process's own under the temporary directory (TMPDIR; point
// it at a tmpfs such as /dev/shm for speed). Every input must either be read
// or throw attngan::io_error; any other exception, a crash, a sanitizer
// report, a hang or a memory blow-up is a bug. An accepted file is checked
// for the reader's promises (names unique, non-empty and not "__metadata__";
// no negative extent; each tensor's bytes exactly numel × dtype size) and
// must survive a round trip: written with write_safetensors and read back,
// it gives the same metadata and the same tensors in the same order.
#include <attngan/io/safetensors.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <unistd.h>

namespace {

using namespace attngan;
using namespace attngan::io;
namespace fs = std::filesystem;

void require(bool ok) {
  if (!ok) std::abort();  // a broken promise: let libFuzzer record the input
}

const fs::path& folder() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("attngan_fuzz_safetensors_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

void check(const safetensors_file& f) {
  std::set<std::string> seen;
  for (const auto& [name, t] : f.tensors()) {
    require(!name.empty() && name != "__metadata__");
    require(seen.insert(name).second);
    for (auto d : t.dims) require(d >= 0);
    require(t.bytes.size() == std::uint64_t(t.numel()) * dtype_size(t.type));
  }
  require(seen.size() == f.size());
}

bool same(const safetensors_file& a, const safetensors_file& b) {
  if (a.metadata != b.metadata || a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& [na, ta] = a.tensors()[i];
    const auto& [nb, tb] = b.tensors()[i];
    if (na != nb || ta.type != tb.type || ta.dims != tb.dims || ta.bytes != tb.bytes) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path in = folder() / "in.safetensors", out = folder() / "out.safetensors";
  {
    std::ofstream os(in, std::ios::binary | std::ios::trunc);
    os.write(reinterpret_cast<const char*>(data), std::streamsize(size));
    if (!os) std::abort();  // the fuzzing machine itself failed (disk full?)
  }
  safetensors_file f;
  try {
    f = read_safetensors(in);
  } catch (const io_error&) {
    return 0;  // the documented way to reject an input
  }
  check(f);
  write_safetensors(out, f);  // an accepted file must be writable as it is
  require(same(f, read_safetensors(out)));
  return 0;
}
