// attngan/nn/init.hpp — parameter initialisers.
//
// PyTorch's defaults, which every layer applies in reset_parameters():
// Linear and Conv2d weights use kaiming_uniform with a = √5, i.e.
// U(−1/√fan_in, 1/√fan_in), and their biases U(−1/√fan_in, 1/√fan_in);
// BatchNorm starts at weight 1, bias 0, running mean 0, running variance 1.
// Also uniform, normal, constant and orthogonal (QR of a normal matrix with
// the signs of R's diagonal, as torch.nn.init.orthogonal_), drawn from the
// Philox generator so they are reproducible and backend-independent.
#pragma once

#include <cmath>
#include <vector>

#include <Eigen/QR>

#include "attngan/autodiff/var.hpp"
#include "attngan/backend/cpu/elementwise.hpp"  // orthogonal() draws on the host
#include "attngan/core/random.hpp"

namespace attngan::nn::init {

template <real T, backend B>
tensor<T, B>& value_of(const var<T, B>& v) {
  return const_cast<tensor<T, B>&>(v.value());  // parameters are written in place, outside any graph
}

template <real T, backend B>
void uniform(const var<T, B>& v, double low, double high, generator& rng) {
  rng.uniform(value_of(v), T(low), T(high));
}

template <real T, backend B>
void normal(const var<T, B>& v, double mean, double stddev, generator& rng) {
  rng.normal(value_of(v), T(mean), T(stddev));
}

template <real T, backend B>
void constant(const var<T, B>& v, double value) {
  value_of(v).fill(T(value));
}

/// U(−1/√fan_in, 1/√fan_in): PyTorch's default for Linear/Conv2d weights
/// (kaiming_uniform, a = √5) and biases.
template <real T, backend B>
void fan_in_uniform(const var<T, B>& v, index_t fan_in, generator& rng) {
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(double(fan_in)) : 0.0;
  uniform(v, -bound, bound, rng);
}

/// A (semi-)orthogonal matrix over the first axis vs the rest, times gain.
template <real T, backend B>
void orthogonal(const var<T, B>& v, generator& rng, double gain = 1.0) {
  const shape& s = v.shape();
  const index_t rows = s[0], cols = s.numel() / rows;
  const bool tall = rows >= cols;
  const index_t m = tall ? rows : cols, n = tall ? cols : rows;
  auto flat = rng.normal<double, cpu>(shape(m, n));
  Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> a(flat.data(), m, n);
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
  Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(m, n);
  Eigen::MatrixXd r = qr.matrixQR().topLeftCorner(n, n).template triangularView<Eigen::Upper>();
  for (index_t j = 0; j < n; ++j)
    if (r(j, j) < 0) q.col(j) *= -1;
  std::vector<T> out(static_cast<std::size_t>(rows * cols));
  for (index_t i = 0; i < rows; ++i)
    for (index_t j = 0; j < cols; ++j) out[std::size_t(i * cols + j)] = T(gain * (tall ? q(i, j) : q(j, i)));
  B::copy_from_host(value_of(v).data(), out.data(), out.size() * sizeof(T));
}

}  // namespace attngan::nn::init
