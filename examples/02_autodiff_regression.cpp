// 02_autodiff_regression — reverse-mode autodiff on a small problem.
//
// Fits logistic regression p = sigmoid(X·w + b) to 2-D points from two
// Gaussian blobs by gradient descent: matmul, fused expressions and a fused
// mean make the loss, backward() gives dL/dw and dL/db. Before training, the
// public gradcheck verifies the same loss's gradients in double precision.
#include <attngan/attngan.hpp>

#include <cstdio>
#include <vector>

using namespace attngan;

template <class T>
var<T, cpu> bce_loss(const var<T, cpu>& x, const var<T, cpu>& w, const var<T, cpu>& b, const var<T, cpu>& labels) {
  var<T, cpu> logits = matmul(x, w);                  // (N, 2)·(2, 1) -> (N, 1)
  var<T, cpu> p = sigmoid(logits + b);                // (N, 1)
  const T eps = T(1e-6);
  return mean(-(labels * log(p + eps) + (T(1) - labels) * log(T(1) - p + eps)));  // binary cross-entropy
}

int main() {
  // 512 points: class 0 around (-1, -1), class 1 around (+1, +1).
  const index_t n = 512;
  generator rng(7);
  auto noise = rng.normal<float, cpu>(shape(n, 2), 0.f, 0.7f);
  std::vector<float> points(static_cast<std::size_t>(2 * n)), labels(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) {
    const float label = float(i % 2), centre = label > 0 ? 1.f : -1.f;
    labels[std::size_t(i)] = label;
    points[std::size_t(2 * i)] = centre + noise.data()[2 * i];
    points[std::size_t(2 * i + 1)] = centre + noise.data()[2 * i + 1];
  }
  using V = var<float, cpu>;
  V x = V::leaf(tensor<float, cpu>::from_host(shape(n, 2), points));
  V y = V::leaf(tensor<float, cpu>::from_host(shape(n, 1), labels));
  V w = V::leaf(tensor<float, cpu>::zeros(shape(2, 1)), true);
  V b = V::leaf(tensor<float, cpu>::zeros(shape(1)), true);

  // Check the gradients of this loss in double on a few points first.
  auto xd = rng.normal<double, cpu>(shape(8, 2)), wd = rng.normal<double, cpu>(shape(2, 1));
  auto bd = rng.normal<double, cpu>(shape(1)), yd = tensor<double, cpu>::from_host(shape(8, 1), {0, 1, 0, 1, 1, 0, 1, 0});
  auto check = gradcheck<cpu>(
      [&](const std::vector<var<double, cpu>>& v) {
        return bce_loss(v[0], v[1], v[2], var<double, cpu>::leaf(yd.clone()));
      },
      {&xd, &wd, &bd});
  std::printf("gradcheck of the loss: %s (max error %.2e over %lld elements)\n", check.ok ? "passed" : "FAILED",
              check.max_abs_error, static_cast<long long>(check.checked));
  if (!check.ok) return 1;

  const float learning_rate = 0.5f;
  for (int step = 0; step <= 200; ++step) {
    V loss = bce_loss(x, w, b, y);
    w.zero_grad();
    b.zero_grad();
    backward(loss, std::vector<V>{w, b});
    // plain gradient descent, in place, outside the graph
    float* wp = const_cast<float*>(w.value().data());
    float* bp = const_cast<float*>(b.value().data());
    for (int k = 0; k < 2; ++k) wp[k] -= learning_rate * w.grad().data()[k];
    bp[0] -= learning_rate * b.grad().data()[0];
    if (step % 50 == 0) std::printf("step %3d  loss %.4f\n", step, double(loss.item()));
  }
  // accuracy on the training points
  V p = no_grad([&] { return V(sigmoid(matmul(x, w) + b)); });
  int correct = 0;
  for (index_t i = 0; i < n; ++i) correct += (p.item(i) > 0.5f) == (labels[std::size_t(i)] > 0.5f);
  std::printf("w = (%.3f, %.3f), b = %.3f, training accuracy %.1f%%\n", double(w.item(0)), double(w.item(1)),
              double(b.item()), 100.0 * correct / double(n));
  return correct > n * 8 / 10 ? 0 : 1;
}
