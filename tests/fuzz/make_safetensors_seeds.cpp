// tests/fuzz/make_safetensors_seeds.cpp — writes the seed corpus of
// fuzz_safetensors with the library's own writer (no binary files in the
// repository): a few small, valid files covering every dtype, ranks 0 to 5,
// an empty tensor and metadata.
//
//   make_safetensors_seeds <folder>
#include <attngan/io/safetensors.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <vector>

int main(int argc, char** argv) {
  using namespace attngan::io;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <folder>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  try {
    std::filesystem::create_directories(dir);
    {
      safetensors_file f;
      f.metadata["format"] = "pt";
      f.put("w", stored_tensor::from_values<float>({2, 3}, std::vector<float>{1, -2, 3.5f, 0, 1e-3f, -7}));
      f.put_scalar("step", std::int64_t(42));
      write_safetensors(dir / "floats.safetensors", f);
    }
    {
      safetensors_file f;
      f.put("d", stored_tensor::from_values<double>({1, 1, 1, 1, 2}, std::vector<double>{0.5, -0.25}));
      f.put("i32", stored_tensor::from_values<std::int32_t>({3}, std::vector<std::int32_t>{-1, 0, 1}));
      f.put("i16", stored_tensor::from_values<std::int16_t>({1}, std::vector<std::int16_t>{-3}));
      f.put("i8", stored_tensor::from_values<std::int8_t>({2}, std::vector<std::int8_t>{-4, 5}));
      f.put("u8", stored_tensor::from_values<std::uint8_t>({2, 0}, std::vector<std::uint8_t>{}));
      const bool flags[2] = {true, false};
      f.put("b", stored_tensor::from_values<bool>({2}, std::span<const bool>(flags)));
      write_safetensors(dir / "dtypes.safetensors", f);
    }
    {
      safetensors_file f;  // only metadata
      f.metadata["config"] = "{\"preset\":\"small\"}";
      f.metadata["vocabulary"] = "a\nbird\nred";
      write_safetensors(dir / "metadata.safetensors", f);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_safetensors_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
