// tests/support/golden.hpp — reading golden fixtures written by the PyTorch
// scripts (tests/*/golden/make_*.py), and the one table of tolerances every
// golden comparison uses.
#pragma once

#include "test_support.hpp"

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace attngan::test {

/// Tolerances of golden comparisons, by what is compared: |got − want| ≤
/// atol + rtol·|want| element by element. Kept in this one table so a
/// loosened tolerance is visible in review.
struct tolerance {
  double atol, rtol;
};
inline tolerance golden_tolerance(const std::string& what) {
  static const std::map<std::string, tolerance> table = {
      {"output", {1e-5, 1e-5}},     // float32 forward, different summation order than PyTorch/oneDNN
      {"buffer", {1e-6, 1e-5}},     // running statistics
      {"grad", {1e-4, 1e-4}},       // float32 backward: longer sums (GEMM over batch and pixels)
      // Whole models in float32 against the oracle run in float64 (tests/models): rtol is
      // relative to the tensor's largest magnitude, |got - want| <= atol + rtol * max|want|,
      // because deep nets with batch norm make single small elements ill-conditioned.
      {"model", {1e-7, 1e-4}},
  };
  auto it = table.find(what);
  REQUIRE_MESSAGE(it != table.end(), "no tolerance for " << what);
  return it->second;
}

struct golden_tensor {
  shape extents;
  std::vector<float> values;
};

/// name -> tensor, in file order (names()).
class golden_file {
 public:
  explicit golden_file(const std::string& path) : path_(path) {
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot open golden file " << path);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string name;
      int rank = 0;
      ls >> name >> rank;
      index_t dims[4] = {1, 1, 1, 1};
      for (int k = 0; k < rank; ++k) ls >> dims[k];
      golden_tensor t{shape::from_dims(dims, rank), {}};
      t.values.reserve(std::size_t(t.extents.numel()));
      float v;
      while (ls >> v) t.values.push_back(v);
      REQUIRE_MESSAGE(index_t(t.values.size()) == t.extents.numel(), path << ": " << name << " has "
                                                                          << t.values.size() << " values for "
                                                                          << t.extents);
      order_.push_back(name);
      tensors_.emplace(name, std::move(t));
    }
  }
  [[nodiscard]] bool has(const std::string& name) const { return tensors_.count(name) > 0; }
  [[nodiscard]] const golden_tensor& at(const std::string& name) const {
    auto it = tensors_.find(name);
    REQUIRE_MESSAGE(it != tensors_.end(), path_ << " has no tensor " << name);
    return it->second;
  }
  [[nodiscard]] tensor<float, cpu> tensor_of(const std::string& name) const {
    const auto& g = at(name);
    return tensor<float, cpu>::from_host(g.extents, g.values);
  }
  [[nodiscard]] const std::vector<std::string>& names() const { return order_; }

 private:
  std::string path_;
  std::vector<std::string> order_;
  std::map<std::string, golden_tensor> tensors_;
};

/// Compares `got` with the fixture's tensor `name` under the tolerance of
/// `what`; reports the worst element.
inline void check_close(const golden_file& f, const std::string& name, const tensor<float, cpu>& got,
                        const std::string& what) {
  const auto& want = f.at(name);
  CAPTURE(name);
  REQUIRE(got.shape() == want.extents);
  const tolerance tol = golden_tolerance(what);
  auto g = got.to_vector();
  double worst = 0;
  std::size_t worst_at = 0;
  bool ok = true;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double diff = std::abs(double(g[i]) - double(want.values[i]));
    const double excess = diff - (tol.atol + tol.rtol * std::abs(double(want.values[i])));
    if (!(excess <= 0)) ok = false;  // NaN fails
    if (diff > worst || std::isnan(diff)) {
      worst = diff;
      worst_at = i;
    }
  }
  INFO("worst |difference| " << worst << " at element " << worst_at << ": got " << g[worst_at] << ", PyTorch "
                             << want.values[worst_at]);
  CHECK(ok);
}

/// Checks that a network's parameter and buffer names, in order, equal the
/// fixture's "param.<name>" entries (PyTorch's state_dict order), then copies
/// the fixture's values into the network.
template <class Net>
void load_golden_state(Net& net, const golden_file& f) {
  std::vector<std::string> ours, theirs;
  for (const auto& e : net.entries()) ours.push_back("param." + e.name);
  for (const auto& n : f.names())
    if (n.rfind("param.", 0) == 0) theirs.push_back(n);
  CHECK(ours == theirs);
  for (const auto& e : net.entries()) {
    auto dst = net.state(e.name);
    auto src = f.tensor_of("param." + e.name);
    REQUIRE(dst.shape() == src.shape());
    cpu::copy_within(dst.data(), src.data(), std::size_t(src.numel()) * sizeof(float));
  }
}

inline std::string golden_path(const std::string& folder, const std::string& name) {
  return std::string(ATTNGAN_TESTS_SOURCE_DIR) + "/" + folder + "/golden/" + name + ".txt";
}

}  // namespace attngan::test
