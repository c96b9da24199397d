// tests/nn/network_gradcheck.hpp — gradcheck of a network with respect to its
// inputs and every one of its parameters.
#pragma once

#include "test_support.hpp"

#include <attngan/nn.hpp>

namespace attngan::test {

/// Runs gradcheck on call(network, inputs...) with the network's parameters
/// as additional checked leaves: the network is pointed at gradcheck's leaves
/// (network::use_parameters) for the duration.
template <class Net, class Call>
gradcheck_result gradcheck_network(Net& net, const std::vector<const tensor<double, cpu>*>& inputs, Call&& call) {
  std::vector<tensor<double, cpu>> params;
  for (const auto& p : net.parameters()) params.push_back(p.value().clone());
  std::vector<const tensor<double, cpu>*> all(inputs);
  for (const auto& p : params) all.push_back(&p);
  const std::size_t n_inputs = inputs.size();
  auto r = gradcheck<cpu>(
      [&](const std::vector<vd>& v) {
        net.use_parameters(std::vector<vd>(v.begin() + std::ptrdiff_t(n_inputs), v.end()));
        return call(net, std::vector<vd>(v.begin(), v.begin() + std::ptrdiff_t(n_inputs)));
      },
      all);
  net.use_own_parameters();
  return r;
}

}  // namespace attngan::test
