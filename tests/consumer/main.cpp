// A user's program: includes attngan, links attngan::attngan and nothing else.
// Checks that the target carries C++20, the include path, Eigen and OpenMP.
#include <attngan/attngan.hpp>

#include <Eigen/Core>
#include <omp.h>

#include <iostream>

static_assert(__cplusplus >= 202002L, "attngan::attngan must bring C++20");

int main() {
  const Eigen::Matrix2f identity = Eigen::Matrix2f::Identity();
  std::cout << "attngan " << attngan::version_string << " (Eigen " << EIGEN_WORLD_VERSION << '.'
            << EIGEN_MAJOR_VERSION << '.' << EIGEN_MINOR_VERSION << ", OpenMP max threads "
            << omp_get_max_threads() << ")\n";
  return identity.trace() == 2.0f ? 0 : 1;
}
