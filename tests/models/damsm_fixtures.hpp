// tests/models/damsm_fixtures.hpp — reading the DAMSM fixtures
// (golden/make_damsm_fixtures.py) and the key table (data/attngan-state-dict-keys.tsv).
#pragma once

#include "golden.hpp"

#include <attngan/models/attngan/text_encoder.hpp>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace attngan::test {

/// (key, shape) rows of one file of the key table, in saved order.
inline std::vector<std::pair<std::string, shape>> key_table(const std::string& file) {
  std::ifstream in(std::string(ATTNGAN_TESTS_SOURCE_DIR) + "/models/data/attngan-state-dict-keys.tsv");
  REQUIRE_MESSAGE(in.good(), "cannot open the key table");
  std::vector<std::pair<std::string, shape>> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string f, index, key, dims;
    std::getline(ls, f, '\t');
    std::getline(ls, index, '\t');
    std::getline(ls, key, '\t');
    std::getline(ls, dims, '\t');
    if (f != file) continue;
    index_t d[4] = {1, 1, 1, 1};
    int rank = 0;
    std::istringstream ds(dims);
    std::string part;
    while (std::getline(ds, part, ',')) d[rank++] = std::stoll(part);
    rows.emplace_back(key, shape::from_dims(d, rank));
  }
  return rows;
}

/// A network's (name, shape) list in state_dict order.
template <class Net>
std::vector<std::pair<std::string, shape>> names_and_shapes(const Net& net) {
  std::vector<std::pair<std::string, shape>> out;
  for (const auto& e : net.entries()) out.emplace_back(e.name, e.extents);
  return out;
}

/// Copies the fixture's "<prefix><name>" tensors into every parameter and
/// buffer of `net`, after checking that the fixture lists exactly the
/// network's names in the network's order.
template <class Net>
void load_prefixed_state(Net& net, const golden_file& f, const std::string& prefix) {
  std::vector<std::string> ours, theirs;
  for (const auto& e : net.entries()) ours.push_back(e.name);
  for (const auto& n : f.names())
    if (n.rfind(prefix, 0) == 0 && n.find('.', prefix.size()) != std::string::npos) {
      // exclude longer prefixes such as "image.param." when prefix is "param."
      theirs.push_back(n.substr(prefix.size()));
    }
  REQUIRE(ours == theirs);
  for (const auto& e : net.entries()) {
    auto dst = net.state(e.name);
    auto src = f.tensor_of(prefix + e.name);
    REQUIRE(dst.shape() == src.shape());
    cpu::copy_within(dst.data(), src.data(), std::size_t(src.numel()) * sizeof(float));
  }
}

inline std::vector<index_t> index_list(const golden_file& f, const std::string& name) {
  std::vector<index_t> v;
  for (float x : f.at(name).values) v.push_back(index_t(x));
  return v;
}

inline tensor<std::int64_t, cpu> id_tensor(const golden_file& f, const std::string& name) {
  const auto& g = f.at(name);
  std::vector<std::int64_t> v;
  for (float x : g.values) v.push_back(std::int64_t(x));
  return tensor<std::int64_t, cpu>::from_host(g.extents, v);
}

/// The reduced text encoder of damsm_small.txt.
using small_text_spec = models::text_encoder<20, 12, 8>;

}  // namespace attngan::test
