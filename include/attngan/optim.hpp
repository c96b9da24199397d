// attngan/optim.hpp — Adam, gradient clipping, the parameter EMA.
#pragma once

#include "attngan/optim/adam.hpp"
#include "attngan/optim/clip.hpp"
