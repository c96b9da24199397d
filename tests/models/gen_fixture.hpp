// tests/models/gen_fixture.hpp — what the generator-side model tests share
// with tests/models/golden/make_gen_fixtures.py: the hash-defined parameter
// and input values both sides compute (so fixtures hold only results), and
// the comparison of tensors the fixtures store in full or subsampled.
#pragma once

#include "golden.hpp"

#include <attngan/models/attngan.hpp>

#include <cstdint>
#include <fstream>
#include <sstream>

namespace attngan::test {

/// u(stream, i) in [0, 1): the same 64-bit hash as hashed_uniform() in make_gen_fixtures.py.
inline double hashed_uniform(std::uint64_t stream, std::uint64_t i) {
  std::uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull;
  h ^= (stream + 1) * 0xC2B2AE3D27D4EB4Full;
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBull;
  h ^= h >> 31;
  return double(h >> 11) * (1.0 / 9007199254740992.0);
}

/// Value i of the state entry `name` (shape s) in hash stream k (formula_value() of the script).
inline double formula_value(const std::string& name, const shape& s, std::uint64_t k, std::uint64_t i) {
  const double u = hashed_uniform(k, i);
  const std::string leaf = name.substr(name.rfind('.') + 1);
  if (leaf == "weight" && s.rank() >= 2) return (2 * u - 1) * std::sqrt(3.0 / double(s.numel() / s[0]));
  if (leaf == "weight") return 1 + 0.2 * (2 * u - 1);
  if (leaf == "running_var") return 1 + 0.5 * u;
  return 0.1 * (2 * u - 1);
}

/// Overwrites every parameter and buffer of a network with the formula values,
/// entry k of the state_dict order using stream k.
template <class Net>
void set_formula_state(Net& net) {
  std::uint64_t k = 0;
  for (const auto& e : net.entries()) {
    auto t = net.state(e.name);
    using T = std::remove_cvref_t<decltype(*t.data())>;
    std::vector<T> v(std::size_t(e.extents.numel()));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = T(float(formula_value(e.name, e.extents, k, i)));
    cpu::copy_from_host(t.data(), v.data(), v.size() * sizeof(T));
    ++k;
  }
}

/// Input values low + (high − low)·u(stream, i), rounded to float first as the script does.
template <class T>
tensor<T, cpu> formula_input(std::uint64_t stream, const shape& s, double low = -1, double high = 1) {
  std::vector<T> v(std::size_t(s.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = T(float(low + (high - low) * hashed_uniform(stream, i)));
  return tensor<T, cpu>::from_host(s, v);
}

/// |got − want| ≤ atol + rtol·scale for every element, with the tolerance "model".
inline void check_scaled(const std::string& name, const std::vector<float>& got, const std::vector<float>& want,
                         double scale) {
  CAPTURE(name);
  REQUIRE(got.size() == want.size());
  const tolerance tol = golden_tolerance("model");
  const double bound = tol.atol + tol.rtol * scale;
  double worst = 0;
  std::size_t at = 0;
  bool ok = true;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = std::abs(double(got[i]) - double(want[i]));
    if (!(d <= bound)) ok = false;  // NaN fails
    if (d > worst || std::isnan(d)) {
      worst = d;
      at = i;
    }
  }
  INFO("worst |difference| " << worst << " (bound " << bound << ", " << worst / std::max(scale, 1e-300)
                             << " of max|want| " << scale << ") at element " << at << ": got " << got[at]
                             << ", oracle " << want[at]);
  CHECK(ok);
}

/// Compares `got` with the fixture's tensor `name` (the oracle in float64)
/// relative to the tensor's largest magnitude. Small tensors are stored in
/// full; large ones as name.sub — every stride-th element, compared element
/// by element against the whole tensor's name.absmax — plus name.dot =
/// Σ x_i·w_i over all elements with w_i = 2u(9999, i) − 1, which must agree
/// within rtol·Σ|x_i·w_i|.
inline void check_model(const golden_file& f, const std::string& name, const tensor<float, cpu>& got) {
  CAPTURE(name);
  const auto all = got.to_vector();
  if (f.has(name)) {
    const auto& want = f.at(name);
    REQUIRE(got.shape() == want.extents);
    double scale = 0;
    for (float v : want.values) scale = std::max(scale, double(std::abs(v)));
    check_scaled(name, all, want.values, scale);
    return;
  }
  const auto& dims = f.at(name + ".shape").values;
  index_t d[4] = {1, 1, 1, 1};
  for (std::size_t k = 0; k < dims.size(); ++k) d[k] = index_t(dims[k]);
  REQUIRE(got.shape() == shape::from_dims(d, int(dims.size())));
  const auto stride = std::size_t(f.at(name + ".stride").values[0]);
  std::vector<float> sub;
  for (std::size_t i = 0; i < all.size(); i += stride) sub.push_back(all[i]);
  check_scaled(name + ".sub", sub, f.at(name + ".sub").values, f.at(name + ".absmax").values[0]);
  double dot = 0;
  for (std::size_t i = 0; i < all.size(); ++i) dot += double(all[i]) * (2 * hashed_uniform(9999, i) - 1);
  const double want = f.at(name + ".dot").values[0], scale = f.at(name + ".absdot").values[0];
  const tolerance tol = golden_tolerance("model");
  INFO("weighted sum: got " << dot << ", oracle " << want << ", sum of |terms| " << scale);
  CHECK(std::abs(dot - want) <= tol.atol + tol.rtol * scale);
}

/// "key<TAB>d0,d1,..." of the rows of a tab-separated key file whose first
/// column is `file`, with the key and shape in columns key_col and key_col + 1.
inline std::vector<std::string> read_keys(const std::string& path, const std::string& file, std::size_t key_col) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::vector<std::string> keys;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cols;
    std::istringstream ls(line);
    std::string c;
    while (std::getline(ls, c, '\t')) cols.push_back(c);
    REQUIRE(cols.size() >= key_col + 2);
    if (cols[0] == file) keys.push_back(cols[key_col] + "\t" + cols[key_col + 1]);
  }
  return keys;
}

/// "name<TAB>d0,d1,..." for every parameter and buffer of a module type, in visit order.
template <class Spec>
std::vector<std::string> state_keys() {
  nn::module_of<Spec, float, cpu> m;
  std::vector<std::string> keys;
  nn::for_each_tensor(m, [&](const std::string& name, var<float, cpu>&, const shape& s, nn::tensor_kind) {
    std::string dims;
    for (int k = 0; k < s.rank(); ++k) dims += (k ? "," : "") + std::to_string(s[k]);
    keys.push_back(name + "\t" + dims);
  });
  return keys;
}

/// Trainable parameter count of a module type, without allocating it.
template <class Spec>
index_t parameter_count() {
  nn::module_of<Spec, float, cpu> m;
  index_t n = 0;
  nn::for_each_tensor(m, [&](const std::string&, var<float, cpu>&, const shape& s, nn::tensor_kind k) {
    if (k == nn::tensor_kind::parameter) n += s.numel();
  });
  return n;
}

}  // namespace attngan::test
