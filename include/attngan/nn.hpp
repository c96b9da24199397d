// attngan/nn.hpp — layers as types, sequential<...>, networks and initialisers.
#pragma once

#include "attngan/attngan.hpp"
#include "attngan/nn/init.hpp"
#include "attngan/nn/layers.hpp"
#include "attngan/nn/lstm.hpp"
#include "attngan/nn/module.hpp"
#include "attngan/nn/ops/conv2d.hpp"
#include "attngan/nn/ops/embedding.hpp"
#include "attngan/nn/ops/loss.hpp"
#include "attngan/nn/ops/pool.hpp"
#include "attngan/nn/ops/resample.hpp"
#include "attngan/nn/ops/shape_ops.hpp"
#include "attngan/nn/ops/softmax.hpp"
#include "attngan/nn/sequential.hpp"
