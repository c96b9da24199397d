// Backend parity of thrust_host (the CUDA backend's Thrust code paths, run
// on the host) against cpu. See parity_cases.hpp.
#include <attngan/thrust_host.hpp>

#define ATTNGAN_PARITY_BACKEND attngan::thrust_host
#include "parity_cases.hpp"
