// tests/fuzz/fuzz_torch_import.cpp — libFuzzer target for the PyTorch
// checkpoint reader (attngan/io/torch_import.hpp): both containers (the
// legacy pickles + storages, and the zip archive) and the unpickler's class
// opcodes.
//
// Every input must either give a state_dict or throw attngan::io_error; any
// other exception, a crash, a sanitizer report, a hang or a memory blow-up is
// a bug. Each input is read with the default limits and once more with tiny
// ones, so that every limit check is reached by short inputs. An accepted
// checkpoint is checked for the reader's promises: a known format, at most
// max_tensors tensors of rank at most max_rank with no negative extent, each
// tensor's bytes exactly numel × element size (contiguous), no more bytes
// produced in all than max_expansion × the file's size + 1 MiB, and every
// element readable as float.
#include <attngan/io/torch_import.hpp>

#include <cstdint>
#include <cstdlib>
#include <vector>

namespace {

using namespace attngan;
using namespace attngan::io;

void require(bool ok) {
  if (!ok) std::abort();  // a broken promise: let libFuzzer record the input
}

void check(const torch_state_dict& sd, std::size_t file_bytes, const torch_import_limits& limits) {
  require(sd.format == "legacy" || sd.format == "zip");
  require(sd.tensors.size() <= limits.max_tensors);
  std::uint64_t produced = 0;
  for (const auto& t : sd.tensors) {
    require(t.shape.size() <= limits.max_rank);
    for (auto d : t.shape) require(d >= 0);
    require(t.data.size() == std::uint64_t(t.numel()) * element_size(t.dtype));
    produced += t.data.size();
    float sum = 0;  // every element converts (half and bfloat16 through float)
    for (float v : t.values<float>()) sum += v;
    (void)sum;
  }
  require(produced <= limits.max_expansion * std::uint64_t(file_bytes) + (std::uint64_t(1) << 20));
}

void run(const std::uint8_t* data, std::size_t size, const torch_import_limits& limits) {
  try {
    const torch_state_dict sd = parse_torch_state_dict(std::vector<std::uint8_t>(data, data + size), "fuzz", limits);
    check(sd, size, limits);
  } catch (const io_error&) {
    // The documented way to reject an input; anything else propagates and
    // libFuzzer reports it.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  run(data, size, torch_import_limits{});

  torch_import_limits tiny;
  tiny.max_file_bytes = 8192;
  tiny.max_tensors = 4;
  tiny.max_rank = 3;
  tiny.max_zip_entries = 8;
  tiny.max_expansion = 1;
  tiny.pickle.max_depth = 4;
  tiny.pickle.max_elements = 64;
  tiny.pickle.max_string_bytes = 32;
  tiny.pickle.max_memo_entries = 16;
  tiny.pickle.max_total_string_bytes = 256;
  tiny.pickle.max_expansion = 2;
  run(data, size, tiny);
  return 0;
}
