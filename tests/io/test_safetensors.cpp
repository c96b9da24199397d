// tests/io/test_safetensors.cpp — the safetensors format (io/safetensors.hpp)
// and networks' state in it (io/state_dict.hpp):
//  * the bytes of a small file against hand-computed ones (header length,
//    compact JSON padded with spaces, little-endian data in put order);
//  * every dtype round-trips (bytes, dims of rank 0 to 6), F16/BF16 convert;
//  * broken files — missing, truncated at every kind of place, corrupted
//    header, bad JSON, unknown dtype, wrong / overlapping / gapped offsets,
//    duplicate names — give io_error naming the file and the problem;
//  * failed writes (missing folder, target a folder, a file-size limit hit
//    mid-write) throw io_error naming the target and leave no file behind,
//    an existing target intact;
//  * load_state lists all missing, unexpected and mis-shaped keys, changes
//    nothing on failure, and accepts num_batches_tracked.
#include <attngan/io/state_dict.hpp>
#include <attngan/nn.hpp>
#include <doctest/doctest.h>

#include "../data/scratch_folder.hpp"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

namespace test_safetensors {

namespace {

using namespace attngan;
using namespace attngan::io;
namespace fs = std::filesystem;
using attngan::test::scratch_folder;

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> folder_listing(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(folder)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

/// A file from a header written by hand (padded here) and data bytes.
std::string raw_file(std::string json, const std::string& data) {
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[std::size_t(i)] = char((std::uint64_t(json.size()) >> (8 * i)) & 0xffu);
  return out + json + data;
}

/// read_safetensors(bytes) must throw io_error whose message names the file and contains `phrase`.
void check_rejected(const scratch_folder& dir, const std::string& bytes, const std::string& phrase) {
  const fs::path p = dir.write("bad.safetensors", bytes);
  CAPTURE(phrase);
  try {
    (void)read_safetensors(p);
    FAIL("read_safetensors accepted a broken file");
  } catch (const io_error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find(p.string()) != std::string::npos);
    CHECK(msg.find(phrase) != std::string::npos);
  }
}

safetensors_file small_file() {
  safetensors_file f;
  f.metadata["k"] = "v";
  f.metadata["config"] = "tiny";
  const std::vector<float> a{1.0f, -2.0f};
  f.put("a", stored_tensor::from_values<float>({2}, a));
  f.put_scalar("b", std::int64_t(7));
  f.put("c", stored_tensor::from_values<std::uint8_t>({1, 0}, {}));
  return f;
}

}  // namespace

TEST_CASE("safetensors: a small file is byte for byte the hand-computed layout") {
  scratch_folder dir("io");
  const fs::path p = dir / "small.safetensors";
  write_safetensors(p, small_file());
  const std::string json =
      R"({"__metadata__":{"config":"tiny","k":"v"},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"I64","shape":[],"data_offsets":[8,16]},)"
      R"("c":{"dtype":"U8","shape":[1,0],"data_offsets":[16,16]}})";
  REQUIRE(json.size() == 204);  // padded with 4 spaces to 208 = 0xd0
  const unsigned char length[8] = {0xd0, 0, 0, 0, 0, 0, 0, 0};
  const unsigned char data[16] = {0x00, 0x00, 0x80, 0x3f,  0x00, 0x00, 0x00, 0xc0,   // 1.0f, -2.0f
                                  0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};  // int64 7
  std::string want(reinterpret_cast<const char*>(length), 8);
  want += json + "    ";
  want.append(reinterpret_cast<const char*>(data), 16);
  const std::string got = file_bytes(p);
  CHECK(got.size() == 232);
  CHECK(got == want);
  CHECK(folder_listing(dir.path()) == std::vector<std::string>{"small.safetensors"});  // no temporary left

  const safetensors_file r = read_safetensors(p);
  CHECK(r.source() == p.string());
  CHECK(r.metadata == small_file().metadata);
  CHECK(r.names() == std::vector<std::string>{"a", "b", "c"});
  CHECK(r.at("a").values<float>() == std::vector<float>{1.0f, -2.0f});
  CHECK(r.scalar<std::int64_t>("b") == 7);
  CHECK(r.at("b").dims.empty());
  CHECK(r.at("c").dims == std::vector<std::int64_t>{1, 0});
  CHECK(r.at("c").type == dtype::u8);
  const auto t = r.get<float, cpu>("a");
  CHECK(t.shape() == shape(2));
  CHECK(t.to_vector() == std::vector<float>{1.0f, -2.0f});
  CHECK_THROWS_AS((void)(r.get<double, cpu>("a")), value_error);  // F32 is not F64
  CHECK_THROWS_AS((void)r.at("nope"), value_error);

  // No metadata: no "__metadata__" key at all, as the Python writer does.
  safetensors_file bare;
  bare.put_scalar("x", std::uint8_t(5));
  write_safetensors(p, bare);  // replaces the file
  const std::string header = R"({"x":{"dtype":"U8","shape":[],"data_offsets":[0,1]}})";  // 52 + 4 spaces
  CHECK(file_bytes(p) == std::string("\x38\0\0\0\0\0\0\0", 8) + header + "    " + "\x05");
}

TEST_CASE("safetensors: every dtype and rank round-trips, F16 and BF16 convert exactly") {
  scratch_folder dir("io");
  safetensors_file f;
  f.metadata["unicode"] = "caf\xc3\xa9 \xe2\x86\x92 ok";
  std::vector<std::int64_t> dims_of_rank[] = {{}, {3}, {1, 3}, {3, 1, 1}, {1, 1, 3, 1}, {1, 1, 1, 1, 3}, {1, 3, 1, 1, 1, 1}};
  int k = 0;
  for (dtype t : {dtype::boolean, dtype::u8, dtype::i8, dtype::u16, dtype::i16, dtype::f16, dtype::bf16, dtype::u32,
                  dtype::i32, dtype::f32, dtype::u64, dtype::i64, dtype::f64, dtype::f8_e4m3, dtype::f8_e5m2}) {
    stored_tensor s;
    s.type = t;
    s.dims = dims_of_rank[k % 7];
    s.bytes.resize(std::size_t(s.numel()) * dtype_size(t));
    for (std::size_t i = 0; i < s.bytes.size(); ++i) s.bytes[i] = std::byte((i * 37 + std::size_t(k) * 11 + 1) & 0xffu);
    if (t == dtype::boolean)
      for (auto& b : s.bytes) b = std::byte(unsigned(b) & 1u);
    f.put(std::string("t_") + std::string(dtype_name(t)), std::move(s));
    ++k;
  }
  // typed values, including the extremes of each type
  f.put("i64", tensor<std::int64_t, cpu>::from_host(shape(3), {INT64_MIN, -1, INT64_MAX}));
  f.put("f64", tensor<double, cpu>::from_host(shape(2, 2), {1e-300, -0.0, 3.141592653589793, 1e300}));
  f.put("i32", tensor<std::int32_t, cpu>::from_host(shape(2), {INT32_MIN, INT32_MAX}));
  f.put_scalar("u64", std::uint64_t(0xfedcba9876543210ull));
  // F16: 1, -2, 65504, 2^-24 (subnormal), 0x1.ffcp-15 (largest subnormal), +inf, -0
  {
    const std::vector<std::uint16_t> h{0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0x8000};
    stored_tensor s = stored_tensor::from_values<std::uint16_t>({7}, h);
    s.type = dtype::f16;
    f.put("half", std::move(s));
    const std::vector<std::uint16_t> b{0x3f80, 0xc000, 0x4049};  // 1, -2, 3.140625
    stored_tensor sb = stored_tensor::from_values<std::uint16_t>({3}, b);
    sb.type = dtype::bf16;
    f.put("bfloat", std::move(sb));
  }
  const fs::path p = dir / "all.safetensors";
  write_safetensors(p, f);
  if (const char* out = std::getenv("ATTNGAN_IO_EXPORT_DIR"))  // for tests/io/check_safetensors.py, by hand
    fs::copy_file(p, fs::path(out) / "all_dtypes.safetensors", fs::copy_options::overwrite_existing);
  const safetensors_file r = read_safetensors(p);
  CHECK(r.metadata == f.metadata);
  REQUIRE(r.names() == f.names());
  for (const auto& [name, t] : f.tensors()) {
    CAPTURE(name);
    CHECK(r.at(name).type == t.type);
    CHECK(r.at(name).dims == t.dims);
    CHECK(r.at(name).bytes == t.bytes);
  }
  CHECK(r.get<std::int64_t, cpu>("i64").to_vector() == std::vector<std::int64_t>{INT64_MIN, -1, INT64_MAX});
  CHECK(r.get<double, cpu>("f64").shape() == shape(2, 2));
  CHECK(r.at("f64").values<double>() == std::vector<double>{1e-300, -0.0, 3.141592653589793, 1e300});
  CHECK(r.scalar<std::uint64_t>("u64") == 0xfedcba9876543210ull);
  const auto half = r.at("half").converted<float>();
  CHECK(half == std::vector<float>{1.0f, -2.0f, 65504.0f, 0x1p-24f, 0x1.ff8p-15f, INFINITY, -0.0f});
  CHECK(std::signbit(half[6]));
  CHECK(r.at("bfloat").converted<double>() == std::vector<double>{1.0, -2.0, 3.140625});
  CHECK(r.at("f64").converted<float>()[2] == 3.1415927f);
  CHECK_THROWS_AS((void)r.at("i64").converted<float>(), value_error);
  CHECK(r.at("t_I16").extents() == shape(1, 1, 3, 1));  // rank 4 is an attngan::shape...
  CHECK_THROWS_AS((void)r.at("t_F16").extents(), shape_error);  // ...ranks 5 and 6 are not
  CHECK_THROWS_AS((void)r.at("t_BF16").extents(), shape_error);
}

TEST_CASE("safetensors: put rejects duplicate, reserved and inconsistent entries") {
  safetensors_file f;
  f.put_scalar("x", 1.0f);
  CHECK_THROWS_AS(f.put_scalar("x", 2.0f), value_error);
  CHECK_THROWS_AS(f.put_scalar("__metadata__", 2.0f), value_error);
  CHECK_THROWS_AS(f.put_scalar("", 2.0f), value_error);
  stored_tensor s = stored_tensor::scalar(1.0f);
  s.dims = {2};
  CHECK_THROWS_AS(f.put("y", std::move(s)), value_error);
  safetensors_file bad_utf8;
  bad_utf8.put_scalar("\xff\xfe", 1.0f);
  scratch_folder dir("io");
  CHECK_THROWS_AS(write_safetensors(dir / "u.safetensors", bad_utf8), value_error);
  CHECK(folder_listing(dir.path()).empty());
}

TEST_CASE("safetensors: a missing, truncated or corrupted file is an io_error naming it and the problem") {
  scratch_folder dir("io");
  {
    const fs::path p = dir / "absent.safetensors";
    try {
      (void)read_safetensors(p);
      FAIL("no error for a missing file");
    } catch (const io_error& e) {
      CHECK(std::string(e.what()).find(p.string()) != std::string::npos);
      CHECK(std::string(e.what()).find("no such file") != std::string::npos);
    }
    CHECK_THROWS_AS((void)read_safetensors(dir.path()), io_error);  // a folder
  }
  write_safetensors(dir / "good.safetensors", small_file());
  const std::string good = file_bytes(dir / "good.safetensors");
  REQUIRE(good.size() == 232);

  // truncated: inside the length, inside the header, inside the data
  check_rejected(dir, good.substr(0, 5), "truncated file");
  check_rejected(dir, good.substr(0, 100), "header length is 208 bytes but only 92 follow");
  check_rejected(dir, good.substr(0, 230), "run past the end of the 14-byte data section");
  check_rejected(dir, good.substr(0, 216), "run past the end of the 0-byte data section");
  // trailing garbage after the last tensor
  check_rejected(dir, good + "xyz", "bytes [16, 19) at the end of the data section belong to no tensor");
  // corrupted header length (huge) and header bytes
  {
    std::string b = good;
    b[7] = '\x01';
    check_rejected(dir, b, "header length");
    b = good;
    b[8] = '[';
    check_rejected(dir, b, "does not start with '{'");
    b = good;
    b[20] = '\x01';  // a control byte inside a JSON string
    check_rejected(dir, b, "not valid JSON");
    b = good;
    b[49] = '}';  // header byte 41, the comma after __metadata__: text after the JSON value
    check_rejected(dir, b, "not valid JSON");
  }
  const std::string d8(8, '\0');
  check_rejected(dir, raw_file("[1,2]", ""), "does not start with '{'");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", d8), "not valid JSON");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}})", d8),
                 "tensor 'a' has the unknown dtype 'F12'");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", d8),
                 "not a non-negative integer");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", d8),
                 "not a non-negative integer");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F32","shape":[2]}})", d8), "has no data_offsets");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", d8), "has no shape");
  check_rejected(dir, raw_file(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", d8), "has no dtype");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", d8),
                 "unknown field 'x'");
  check_rejected(dir, raw_file(R"({"a":[1]})", d8), "tensor 'a' is not an object");
  check_rejected(dir, raw_file(R"({"__metadata__":{"k":1}})", ""), "__metadata__ entry 'k' is not a string");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                               "ab"),
                 "names 'a' twice");
  // wrong offsets
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", d8),
                 "hold 4 bytes but F32 (2,) needs 8");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", d8), "end before they begin");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", d8),
                 "run past the end of the 8-byte data section");
  check_rejected(dir,
                 raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                          d8),
                 "overlap");
  check_rejected(dir,
                 raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})",
                          d8),
                 "bytes [2, 4) of the data section belong to no tensor");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", d8),
                 "is too large");
  // A header written in another order (data laid out b then a) is fine.
  {
    const fs::path p = dir.write(
        "ok.safetensors",
        raw_file(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[2,3]},"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})",
                 "xyz"));
    const auto r = read_safetensors(p);
    CHECK(r.names() == std::vector<std::string>{"a", "b"});
    CHECK(r.at("a").values<std::uint8_t>() == std::vector<std::uint8_t>{'z'});
    CHECK(r.at("b").values<std::uint8_t>() == std::vector<std::uint8_t>{'x', 'y'});
  }
}

TEST_CASE("safetensors: a failed write throws io_error naming the target and leaves no file behind") {
  scratch_folder dir("io");
  const safetensors_file f = small_file();
  auto names_target = [](const io_error& e, const fs::path& p) {
    return std::string(e.what()).find(p.string()) != std::string::npos;
  };

  SUBCASE("the folder does not exist") {
    const fs::path p = dir / "missing" / "x.safetensors";
    try {
      write_safetensors(p, f);
      FAIL("no error");
    } catch (const io_error& e) {
      CHECK(names_target(e, p));
    }
    CHECK(folder_listing(dir.path()).empty());
  }
  SUBCASE("the target is a folder: the rename fails after the data was written") {
    fs::create_directory(dir / "x.safetensors");
    try {
      write_safetensors(dir / "x.safetensors", f);
      FAIL("no error");
    } catch (const io_error& e) {
      CHECK(names_target(e, dir / "x.safetensors"));
      CHECK(std::string(e.what()).find("cannot move the temporary file into place") != std::string::npos);
    }
    CHECK(folder_listing(dir.path()) == std::vector<std::string>{"x.safetensors"});
    CHECK(fs::is_directory(dir / "x.safetensors"));
  }
  SUBCASE("the disk fills up mid-write (a file-size limit): the old file stays, no temporary is left") {
    const fs::path p = dir / "x.safetensors";
    write_safetensors(p, f);
    const std::string old = file_bytes(p);
    safetensors_file big;
    big.put("w", tensor<float, cpu>::zeros(shape(64, 1024)));  // 256 KiB
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // write() fails with EFBIG instead
    rlimit small = saved;
    small.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string message;
    try {
      write_safetensors(p, big);
    } catch (const io_error& e) {
      message = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, old_handler);
    INFO(message);
    CHECK(message.find(p.string()) != std::string::npos);
    CHECK(message.find("writing tensor 'w'") != std::string::npos);
    CHECK(folder_listing(dir.path()) == std::vector<std::string>{"x.safetensors"});
    CHECK(file_bytes(p) == old);
  }
  SUBCASE("the folder is read-only (only testable when not running as root)") {
    fs::create_directory(dir / "ro");
    fs::permissions(dir / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    if (::geteuid() == 0) {
      MESSAGE("running as root: permissions do not stop writes, read-only folder not tested");
    } else {
      CHECK_THROWS_AS(write_safetensors(dir / "ro" / "x.safetensors", f), io_error);
      CHECK(folder_listing(dir / "ro").empty());
    }
    fs::permissions(dir / "ro", fs::perms::owner_all);
  }
}

// ------------------------------------------------------------------ networks

namespace {
using net_a = nn::sequential<nn::conv3x3<3, 4>, nn::batch_norm2d<4>>;                         // 0.weight 1.*
using net_b = nn::sequential<nn::conv3x3<3, 5>, nn::batch_norm2d<5>>;                         // other widths
using net_c = nn::sequential<nn::conv3x3<3, 4>, nn::batch_norm2d<4>, nn::conv2d<4, 2, 1, 1, 1, 0, 0, nn::bias::yes>>;

std::string load_error(const safetensors_file& f, auto& net, std::string_view prefix = "") {
  try {
    load_state(f, net, prefix);
  } catch (const value_error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("state: a network saved under its PyTorch names loads back into a differently initialised one") {
  scratch_folder dir("io");
  generator r1(1), r2(2);
  nn::network<net_a, float, cpu> a(r1), b(r2);
  a.buffer_arena().fill(0.25f);  // as if trained: non-default running statistics
  REQUIRE(a.parameter_arena().to_vector() != b.parameter_arena().to_vector());
  save_state(dir / "a.safetensors", a, {{"config", "net_a"}}, "netX.");
  const safetensors_file f = read_safetensors(dir / "a.safetensors");
  CHECK(f.names() == std::vector<std::string>{"netX.0.weight", "netX.1.weight", "netX.1.bias", "netX.1.running_mean",
                                              "netX.1.running_var"});
  CHECK(f.at("netX.0.weight").dims == std::vector<std::int64_t>{4, 3, 3, 3});
  const auto meta = load_state(dir / "a.safetensors", b, "netX.");
  CHECK(meta.at("config") == "net_a");
  CHECK(b.parameter_arena().to_vector() == a.parameter_arena().to_vector());
  CHECK(b.buffer_arena().to_vector() == a.buffer_arena().to_vector());

  // The same values as F64 (or F16) convert, as load_state_dict copies.
  safetensors_file d;
  for (const auto& e : a.entries()) {
    const auto v = a.state(e.name).to_vector();
    d.put(e.name, tensor<double, cpu>::from_host(e.extents, std::vector<double>(v.begin(), v.end())));
  }
  nn::network<net_a, float, cpu> c(r2);
  load_state(d, c);
  CHECK(c.parameter_arena().to_vector() == a.parameter_arena().to_vector());

  // PyTorch >= 0.4.1 BatchNorm buffers: num_batches_tracked is accepted (and ignored).
  d.put_scalar("1.num_batches_tracked", std::int64_t(100));
  CHECK_NOTHROW(load_state(d, c));
  // ...but only next to a running_mean of the network
  d.put_scalar("0.num_batches_tracked", std::int64_t(100));
  CHECK(load_error(d, c).find("1 unexpected key: 0.num_batches_tracked") != std::string::npos);
}

TEST_CASE("state: the error lists all missing, unexpected and mis-shaped keys, and nothing is loaded") {
  generator rng(3);
  nn::network<net_a, float, cpu> a(rng);
  nn::network<net_b, float, cpu> b(rng);
  nn::network<net_c, float, cpu> c(rng);

  safetensors_file from_a;
  from_a.set_source("a.safetensors");
  put_state(from_a, a);
  const auto c_before = c.parameter_arena().to_vector();
  const std::string missing = load_error(from_a, c);
  INFO(missing);
  CHECK(missing.find("'a.safetensors': the network's state does not match; 2 missing keys: 2.weight, 2.bias") !=
        std::string::npos);
  CHECK(missing.find("unexpected") == std::string::npos);
  CHECK(c.parameter_arena().to_vector() == c_before);

  safetensors_file from_c;
  put_state(from_c, c);
  const std::string unexpected = load_error(from_c, a);
  CHECK(unexpected == "io::load_state: the network's state does not match; 2 unexpected keys: 2.weight, 2.bias");

  const auto b_before = b.parameter_arena().to_vector();
  const std::string misshaped = load_error(from_c, b);
  INFO(misshaped);
  CHECK(misshaped.find("2 unexpected keys: 2.weight, 2.bias") != std::string::npos);
  CHECK(misshaped.find("5 mis-shaped keys: 0.weight (file (4, 3, 3, 3), expected (5, 3, 3, 3)), 1.weight (file (4,), "
                       "expected (5)), 1.bias (file (4,), expected (5)), 1.running_mean (file (4,), expected (5)), "
                       "1.running_var (file (4,), expected (5))") != std::string::npos);
  CHECK(b.parameter_arena().to_vector() == b_before);

  // integer data for a float parameter; keys outside the prefix are ignored
  safetensors_file wrong;
  put_state(wrong, a, "G.");
  put_state(wrong, b, "D.");
  nn::network<net_a, float, cpu> a2(rng);
  CHECK_NOTHROW(load_state(wrong, a2, "G."));
  CHECK(a2.parameter_arena().to_vector() == a.parameter_arena().to_vector());
  safetensors_file ints;
  for (const auto& e : a.entries())
    ints.put("G." + e.name, stored_tensor::from_values<std::int32_t>(
                                [&] {
                                  std::vector<std::int64_t> dims;
                                  for (int i = 0; i < e.extents.rank(); ++i) dims.push_back(e.extents[i]);
                                  return dims;
                                }(),
                                std::vector<std::int32_t>(std::size_t(e.extents.numel()), 1)));
  const std::string dtype_msg = load_error(ints, a2, "G.");
  CHECK(dtype_msg.find("5 keys of a wrong dtype: G.0.weight (I32, expected a floating dtype)") != std::string::npos);
}

}  // namespace test_safetensors
