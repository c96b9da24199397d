// 01_tensor_expressions — tensors, views and fused elementwise expressions.
//
// Shows: creating tensors on the CPU backend, views that alias memory, a
// seeded Philox generator, and an expression of six operations that runs as
// one pass with one allocation (read off the launch counter and the caching
// allocator's statistics).
#include <attngan/attngan.hpp>

#include <cstdio>

using namespace attngan;
using V = var<float, cpu>;

int main() {
  // A batch of 2 "images" with 3 channels of 4x4, and a per-channel scale.
  generator rng(2018);
  auto images = rng.normal<float, cpu>(shape(2, 3, 4, 4));
  auto scale = tensor<float, cpu>::from_host(shape(1, 3, 1, 1), {0.5f, 1.f, 2.f});
  std::printf("images %s, scale %s\n", images.shape().str().c_str(), scale.shape().str().c_str());

  // Views alias memory: the first image, and the batch seen as rows of 16.
  auto first = images.slice(0, 1);
  auto rows = images.view(shape(6, 16));
  std::printf("slice %s and view %s share the batch's memory: %s\n", first.shape().str().c_str(),
              rows.shape().str().c_str(), first.shares_storage_with(images) ? "yes" : "no");

  // One fused expression: leaky_relu(x * scale + 1) * sigmoid(x) - x.
  V x = V::leaf(std::move(images));
  V s = V::leaf(std::move(scale));
  cpu::allocator().reset_counters();
  const auto launches_before = primitives::launch_count().load();
  V y = leaky_relu(x * s + 1.f, 0.2) * sigmoid(x) - x;
  const auto stats = cpu::allocator().stats();
  std::printf("y = leaky_relu(x * s + 1, 0.2) * sigmoid(x) - x: %llu kernel pass(es), %zu allocation(s)\n",
              static_cast<unsigned long long>(primitives::launch_count().load() - launches_before), stats.requests);
  std::printf("y[0, :, 0, 0] = %.4f %.4f %.4f\n", y.item(0), y.item(16), y.item(32));

  // Reductions: per-channel means over batch and pixels (keepdim broadcasts back).
  V m = mean(y, {0, 2, 3}, true);
  V centred = y - m;
  std::printf("per-channel means %s; after centring, mean of everything = %.2e\n", m.shape().str().c_str(),
              double(mean(centred).item()));
  return 0;
}
