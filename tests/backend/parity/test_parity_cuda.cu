// Backend parity of cuda against cpu (see parity_cases.hpp), plus the TF32
// GEMM path at its own tolerance. Needs a GPU: without one the program
// prints why and exits 77, which ctest reports as skipped.
#define DOCTEST_CONFIG_IMPLEMENT
#include <attngan/cuda.hpp>

#define ATTNGAN_PARITY_BACKEND attngan::cuda
#include "parity_cases.hpp"

#include <cstdio>

TEST_CASE("parity: TF32 tensor-core GEMMs stay within 1e-3 of fp32 on the CPU") {
  attngan::cuda::set_tf32(true);
  parity::tolerance() = 1e-3;
  check_function("matmul (TF32)", {shape(256, 576), shape(576, 128)}, [](auto& x) { return matmul(x[0], x[1]); });
  check_network<nn::conv2d<32, 64, 3, 3, 1, 1, 1>>("conv3x3 (TF32)", shape(4, 32, 16, 16));
  attngan::cuda::set_tf32(false);
  parity::tolerance() = 1e-5;
}

TEST_CASE("cuda: a steady-state step makes no cudaMalloc") {
  using spec = nn::sequential<nn::conv3x3<16, 32>, nn::batch_norm2d<32>, nn::glu>;
  generator rng(1);
  nn::network<spec, float, attngan::cuda> net(rng);
  auto step = [&] {
    twin x = make_twin(shape(4, 16, 16, 16), 2);
    net.zero_grad();
    backward(sum(square(net(x.b))));
  };
  step();  // warm-up fills the cache
  attngan::cuda::allocator().reset_counters();
  for (int i = 0; i < 3; ++i) step();
  attngan::cuda::synchronize();
  const auto s = attngan::cuda::allocator().stats();
  CHECK(s.requests > 0);
  CHECK(s.system_allocs == 0);
}

TEST_CASE("cuda: errors name the call") {
  bool thrown = false;
  try {
    (void)attngan::cuda::allocator().allocate(std::size_t(1) << 62);  // 4 EiB
  } catch (const attngan::backend_error& e) {
    thrown = true;
    CHECK(std::string(e.what()).find("memory") != std::string::npos);
  }
  CHECK(thrown);
}

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  bool listing = false;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]).rfind("--list", 0) == 0 || std::string(argv[i]).rfind("-ltc", 0) == 0) listing = true;
  if (!listing && !attngan::cuda::available()) {
    std::printf("no CUDA device: GPU parity tests skipped\n");
    return 77;
  }
  return context.run();
}
