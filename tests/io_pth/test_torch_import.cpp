// PyTorch checkpoints read without Python (io/torch_import.hpp): the legacy
// format as PyTorch 0.3 / Python 2 and as torch 1.13 write it, the zip
// format, views and dtypes, the text encoder loaded from both formats against
// the oracle, and every refusal (truncation, forbidden globals, wrong magic,
// corrupt archives, limits). Fixtures: tests/io/golden/make_pth_fixtures.py.
#include "../data/scratch_folder.hpp"
#include "../models/damsm_fixtures.hpp"
#include "../models/gen_fixture.hpp"

#include <attngan/io/torch_import.hpp>
#include <attngan/models/attngan/text_encoder.hpp>

#include <fstream>
#include <iterator>

namespace test_torch_import {

using namespace attngan;
using namespace attngan::test;
using io::torch_dtype;

namespace {

std::string fixture(const std::string& name) { return std::string(ATTNGAN_TESTS_SOURCE_DIR) + "/io/golden/" + name; }

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string import_error(const std::filesystem::path& p, const io::torch_import_limits& l = {}) {
  return error_message<io_error>([&] { (void)io::load_torch_state_dict(p, l); });
}

std::vector<std::string> names(const io::torch_state_dict& sd) {
  std::vector<std::string> out;
  for (const auto& t : sd.tensors) out.push_back(t.name);
  return out;
}

}  // namespace

TEST_CASE("torch_import: the text encoder in the PyTorch 0.3 legacy format with CUDA storages and in the zip format") {
  const auto py2 = io::load_torch_state_dict(fixture("pth_text_encoder_py2.pth"));
  const auto zip = io::load_torch_state_dict(fixture("pth_text_encoder_zip.pth"));
  CHECK(py2.format == "legacy");
  CHECK(zip.format == "zip");
  CHECK_CONTAINS(py2.source, "pth_text_encoder_py2.pth");
  // names and shapes in saved order: those of the network (the oracle's state_dict order)
  generator rng(1);
  nn::network<small_text_spec, float, cpu> net(rng);
  std::vector<std::string> want;
  for (const auto& e : net.entries()) want.push_back(e.name);
  CHECK(names(py2) == want);
  CHECK(names(zip) == want);
  REQUIRE(py2.size() == 9);
  for (std::size_t i = 0; i < py2.size(); ++i) {
    CAPTURE(py2.tensors[i].name);
    const auto& e = net.entries()[i];
    std::vector<std::int64_t> dims;
    for (int k = 0; k < e.extents.rank(); ++k) dims.push_back(e.extents[k]);
    CHECK(py2.tensors[i].shape == dims);
    CHECK(zip.tensors[i].shape == dims);
    CHECK(py2.tensors[i].dtype == torch_dtype::float32);
    CHECK(zip.tensors[i].dtype == torch_dtype::float32);
    CHECK(py2.tensors[i].data == zip.tensors[i].data);  // bit-identical values
    CHECK(py2.tensors[i].data.size() == std::size_t(e.extents.numel()) * 4);
  }
  CHECK(py2.find("rnn.weight_hh_l0_reverse") != nullptr);
  CHECK(py2.find("rnn.nothing") == nullptr);
}

TEST_CASE("golden: the text encoder loaded from either format reproduces the oracle's features") {
  const golden_file f(golden_path("io", "pth_text_encoder"));
  const auto captions = id_tensor(f, "captions");
  const auto lengths = index_list(f, "lengths");
  for (const char* file : {"pth_text_encoder_py2.pth", "pth_text_encoder_zip.pth"}) {
    CAPTURE(file);
    generator rng(5);
    nn::network<small_text_spec, float, cpu> net(rng);
    io::load_torch_checkpoint(net, fixture(file));
    net.eval();
    const auto r = net(captions, lengths);
    check_model(f, "words", r.words.value());
    check_model(f, "sent", r.sent.value());
  }
}

TEST_CASE("torch_import: views (transpose, slice with offset, stride-0 expand) and every dtype, legacy and zip") {
  const golden_file f(golden_path("io", "pth_views"));
  const std::vector<std::pair<std::string, torch_dtype>> want = {
      {"base", torch_dtype::float32},    {"transposed", torch_dtype::float32}, {"sliced", torch_dtype::float32},
      {"expanded", torch_dtype::float32}, {"float64", torch_dtype::float64},   {"float16", torch_dtype::float16},
      {"bfloat16", torch_dtype::bfloat16}, {"int32", torch_dtype::int32},      {"int64", torch_dtype::int64},
      {"uint8", torch_dtype::uint8},      {"bool", torch_dtype::boolean}};
  for (const char* file : {"pth_views_legacy.pth", "pth_views_zip.pth"}) {
    CAPTURE(file);
    const auto sd = io::load_torch_state_dict(fixture(file));
    REQUIRE(sd.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      const auto& t = sd.tensors[i];
      CAPTURE(t.name);
      CHECK(t.name == want[i].first);
      CHECK(t.dtype == want[i].second);
      const auto& g = f.at(t.name);
      std::vector<std::int64_t> dims;
      for (int k = 0; k < g.extents.rank(); ++k) dims.push_back(g.extents[k]);
      CHECK(t.shape == dims);
      CHECK(t.data.size() == std::size_t(t.numel()) * io::element_size(t.dtype));
      const auto v = t.values<double>();
      REQUIRE(v.size() == g.values.size());
      for (std::size_t k = 0; k < v.size(); ++k) CHECK(float(v[k]) == g.values[k]);  // exact
    }
    // spot checks that do not go through the fixture's float text
    CHECK(sd.find("transposed")->values<float>() ==
          std::vector<float>{-1, 1, 3, -0.5f, 1.5f, 3.5f, 0, 2, 4, 0.5f, 2.5f, 4.5f});
    CHECK(sd.find("sliced")->values<float>() == std::vector<float>{1, 2, 3, 4});
    CHECK(sd.find("expanded")->values<float>() == std::vector<float>{1.5f, -2, 3.25f, 1.5f, -2, 3.25f});
    CHECK(sd.find("int64")->shape.empty());
    CHECK(sd.find("int64")->values<std::int64_t>() == std::vector<std::int64_t>{123456789012});
    CHECK(sd.find("int32")->values<std::int64_t>() == std::vector<std::int64_t>{-7, 2147483647});
    CHECK(sd.find("float16")->values<float>()[1] == -65504.f);
    CHECK(sd.find("float64")->values<double>()[0] == 1.0 / 3);
  }
}

TEST_CASE("torch_import: storage views of the legacy format (view_metadata) with tensor offsets and strides") {
  const golden_file f(golden_path("io", "pth_views"));
  const auto sd = io::load_torch_state_dict(fixture("pth_views_py2.pth"));
  REQUIRE(sd.size() == 2);
  CHECK(sd.tensors[0].name == "window");
  CHECK(sd.tensors[0].shape == std::vector<std::int64_t>{2, 3});
  CHECK(sd.tensors[0].values<float>() == f.at("window").values);
  CHECK(sd.tensors[1].name == "whole");
  CHECK(sd.tensors[1].values<float>() == f.at("whole").values);
}

TEST_CASE("torch_import: every truncation of a legacy and of a zip file is an io_error naming the file") {
  for (const char* file : {"pth_text_encoder_py2.pth", "pth_text_encoder_zip.pth", "pth_views_legacy.pth"}) {
    CAPTURE(file);
    const std::string bytes = file_bytes(fixture(file));
    std::size_t truncated_messages = 0;
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      const std::string m = error_message<io_error>([&] {
        (void)io::parse_torch_state_dict(std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + std::ptrdiff_t(n)),
                                         "cut.pth");
      });
      CAPTURE(n);
      const bool ours = m.rfind("torch_import: cut.pth: ", 0) == 0 || m.rfind("pickle: cut.pth: ", 0) == 0;
      REQUIRE(ours);  // an io_error of this reader, naming the source
      if (m.find("truncated") != std::string::npos || m.find("empty file") != std::string::npos) ++truncated_messages;
    }
    // most cuts say so; the others are a misplaced structure (a STOP read too
    // early, an end record missing)
    CHECK(truncated_messages > bytes.size() / 2);
  }
  // from a file: the storage data cut short, precisely
  scratch_folder dir("pth-truncated");
  const std::string bytes = file_bytes(fixture("pth_text_encoder_py2.pth"));
  dir.write("short.pth", std::string_view(bytes).substr(0, bytes.size() - 3));
  const std::string m = import_error(dir / "short.pth");
  CHECK_CONTAINS(m, "short.pth': byte ");
  CHECK_CONTAINS(m, "truncated: storage '");
  CHECK_CONTAINS(m, "the file ends after");
}

TEST_CASE("torch_import: a pickle calling os.system is refused with the global named, in both formats") {
  for (const char* file : {"pth_evil_legacy.pth", "pth_evil_zip.pth"}) {
    CAPTURE(file);
    const std::string m = import_error(fixture(file));
    CHECK_CONTAINS(m, file);
    CHECK_CONTAINS(m, "byte ");
    CHECK_CONTAINS(m, "opcode GLOBAL");
    CHECK_CONTAINS(m, "global posix.system is not allowed");
  }
  // STACK_GLOBAL (protocol 4) and a bare GLOBAL of a model class, built here
  scratch_folder dir("pth-evil");
  const std::string magic("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  const std::string head = magic + std::string("\x80\x02M\xe9\x03.\x80\x02}.", 10);
  dir.write("stack.pth", head + std::string("\x80\x04\x8c\x08\x62uiltins\x8c\x04\x65val\x93.", 20));
  CHECK_CONTAINS(import_error(dir / "stack.pth"), "opcode STACK_GLOBAL: global builtins.eval is not allowed");
  dir.write("model.pth", head + "\x80\x02" "cmodel\nG_NET\n)R.");
  const std::string m = import_error(dir / "model.pth");
  CHECK_CONTAINS(m, "global model.G_NET is not allowed");
  CHECK_CONTAINS(m, "byte 27:");  // the GLOBAL's offset in the file
}

TEST_CASE("torch_import: wrong magic number, other files, corrupt zips, mismatched storages, limits") {
  scratch_folder dir("pth-bad");
  std::string bytes = file_bytes(fixture("pth_text_encoder_py2.pth"));
  std::string bad = bytes;
  bad[7] = char(bad[7] ^ 1);
  dir.write("magic.pth", bad);
  CHECK_CONTAINS(import_error(dir / "magic.pth"), "byte 4: wrong magic number");
  dir.write("text.pth", "hello, not a checkpoint");
  CHECK_CONTAINS(import_error(dir / "text.pth"), "not a PyTorch checkpoint");
  dir.write("empty.pth", "");
  CHECK_CONTAINS(import_error(dir / "empty.pth"), "empty file");
  CHECK_CONTAINS(import_error(dir / "missing.pth"), "no such file");
  // a plain pickle (no torch header)
  dir.write("pickle.pth", std::string("\x80\x02]q\x00.", 6));
  CHECK_CONTAINS(import_error(dir / "pickle.pth"), "not a PyTorch checkpoint");

  // legacy: a storage whose element count differs from what its tensor declares
  bad = file_bytes(fixture("pth_views_py2.pth"));
  const std::size_t count_at = bad.size() - 10 * 4 - 8;  // one float storage of 10 elements at the end
  REQUIRE(bad[count_at] == 10);
  bad[count_at] = 9;
  dir.write("count.pth", bad);
  CHECK_CONTAINS(import_error(dir / "count.pth"), "storage '140001' holds 9 elements, its tensors declare 10");

  // zip: a flipped byte in a storage fails the CRC; a cut directory; wrong method
  bytes = file_bytes(fixture("pth_text_encoder_zip.pth"));
  const auto at = bytes.find("pth_text_encoder_zip/data/0");
  REQUIRE(at != std::string::npos);
  bad = bytes;
  const std::size_t extra = std::uint8_t(bytes[at - 30 + 28]) + 256 * std::uint8_t(bytes[at - 30 + 29]);
  const std::size_t data = at + 27 + extra;  // after the local header's name and padding
  bad[data + 5] = char(bad[data + 5] ^ 0x10);
  dir.write("crc.pth", bad);
  CHECK_CONTAINS(import_error(dir / "crc.pth"), "fails its CRC-32 check");
  bad = bytes;
  bad[8] = 8;  // local header of data.pkl says deflate; the central directory still says stored
  const auto cd = bytes.find(std::string("PK\x01\x02", 4));
  REQUIRE(cd != std::string::npos);
  bad[cd + 10] = 8;  // central directory: method 8 (deflate)
  dir.write("deflate.pth", bad);
  CHECK_CONTAINS(import_error(dir / "deflate.pth"), "is compressed (method 8)");

  // a tensor reaching past its storage: the legacy view 'window' made one element longer
  bad = file_bytes(fixture("pth_views_py2.pth"));
  const auto sizes = bad.find(std::string("K\x02K\x03\x86", 5));  // size (2, 3) of 'window'
  REQUIRE(sizes != std::string::npos);
  bad[sizes + 3] = 4;  // (2, 4) with strides (3, 1): element 6 of a view of 6
  dir.write("reach.pth", bad);
  CHECK_CONTAINS(import_error(dir / "reach.pth"), "reaches element 6 of a storage of 6 elements");

  // limits
  io::torch_import_limits small;
  small.max_tensors = 3;
  CHECK_CONTAINS(import_error(fixture("pth_views_zip.pth"), small), "more than 3 tensors (limit)");
  small = {};
  small.max_file_bytes = 1000;
  CHECK_CONTAINS(import_error(fixture("pth_views_zip.pth"), small), "bytes is more than the 1000 accepted");
  small = {};
  small.max_rank = 1;
  CHECK_CONTAINS(import_error(fixture("pth_views_legacy.pth"), small), "rank 2 is above the limit of 1");
  small = {};
  small.pickle.max_elements = 20;
  CHECK_CONTAINS(import_error(fixture("pth_views_legacy.pth"), small), "values (limit)");
}

TEST_CASE("load_into: the text encoder's state into a mismatched network lists every problem, copies nothing") {
  auto sd = io::load_torch_state_dict(fixture("pth_text_encoder_zip.pth"));
  sd.tensors.erase(sd.tensors.begin() + 2);  // rnn.weight_hh_l0
  sd.tensors[0].shape = {12, 20};             // encoder.weight transposed
  sd.tensors[1].dtype = torch_dtype::int32;   // rnn.weight_ih_l0 (same byte size)
  io::torch_tensor extra{"rnn.weight_ih_l1", torch_dtype::float32, {16, 8}, std::vector<std::uint8_t>(16 * 8 * 4)};
  sd.tensors.push_back(extra);
  generator rng(9);
  nn::network<small_text_spec, float, cpu> net(rng);
  const auto before = net.parameter_arena().to_vector();
  const std::string m = error_message<value_error>([&] { io::load_into(net, sd); });
  CHECK_CONTAINS(m, "load_into: '");
  CHECK_CONTAINS(m, "pth_text_encoder_zip.pth' does not fit the network:");
  CHECK_CONTAINS(m, "1 missing key(s): rnn.weight_hh_l0 (16, 4).");
  CHECK_CONTAINS(m, "1 unexpected key(s): rnn.weight_ih_l1 (16, 8).");
  CHECK_CONTAINS(m, "1 mis-shaped key(s): encoder.weight: checkpoint (12, 20), network (20, 12).");
  CHECK_CONTAINS(m, "1 key(s) not of a floating type: rnn.weight_ih_l0 is int32.");
  CHECK(net.parameter_arena().to_vector() == before);
}

}  // namespace test_torch_import
