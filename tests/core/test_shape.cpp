#include "test_support.hpp"

namespace test_shape {

using namespace attngan;

TEST_CASE("shape: rank, extents, strides and padding") {
  shape s(2, 3, 4, 5);
  CHECK(s.rank() == 4);
  CHECK(s.numel() == 120);
  CHECK(s[0] == 2);
  CHECK(s[-1] == 5);
  CHECK(s.dim<1>() == 3);
  CHECK(s.stride(0) == 60);
  CHECK(s.stride(2) == 5);
  CHECK(s.stride(3) == 1);
  CHECK(shape(7, 9).padded() == std::array<index_t, 4>{1, 1, 7, 9});
  CHECK(shape().rank() == 0);
  CHECK(shape().numel() == 1);
  CHECK(shape(3, 0).numel() == 0);
  CHECK(shape(1, 2) == shape(1, 2));
  CHECK_FALSE(shape(1, 2) == shape(2, 1));
  CHECK_FALSE(shape(2) == shape(1, 2));
  CHECK(shape(2, 3, 64, 64).str() == "(2, 3, 64, 64)");
}

TEST_CASE("shape: invalid extents and axes throw shape_error naming the shape") {
  CHECK_THROWS_AS(shape(2, -1), shape_error);
  CHECK_THROWS_WITH_AS((void)shape(2, 3)[2], "shape: axis 2 is out of range for shape (2, 3)", shape_error);
  index_t five[5] = {1, 2, 3, 4, 5};
  CHECK_THROWS_AS(shape::from_dims(five, 5), shape_error);
}

TEST_CASE("broadcast_shapes follows NumPy rules and names the operation on failure") {
  CHECK(broadcast_shapes(shape(2, 3, 4, 4), shape(1, 3, 1, 1), "add") == shape(2, 3, 4, 4));
  CHECK(broadcast_shapes(shape(2, 1, 4, 4), shape(3, 1, 1), "add") == shape(2, 3, 4, 4));
  CHECK(broadcast_shapes(shape(5), shape(2, 5), "mul") == shape(2, 5));
  CHECK(broadcast_shapes(shape(), shape(2, 5), "mul") == shape(2, 5));
  CHECK_THROWS_WITH_AS(broadcast_shapes(shape(2, 3, 4, 4), shape(1, 5, 1, 1), "mul"),
                       "mul: shapes (2, 3, 4, 4) and (1, 5, 1, 1) cannot be broadcast together (axis 1: 3 vs 5)",
                       shape_error);
}

TEST_CASE("errors form one hierarchy under attngan::error") {
  try {
    throw shape_error("conv2d", "input (1, 3, 8, 8) has 3 channels, weight expects 4");
  } catch (const error& e) {
    CHECK(e.op() == "conv2d");
    CHECK(std::string(e.what()) == "conv2d: input (1, 3, 8, 8) has 3 channels, weight expects 4");
  }
  CHECK(std::is_base_of_v<error, value_error>);
  CHECK(std::is_base_of_v<error, backend_error>);
  CHECK(std::is_base_of_v<error, io_error>);
  CHECK(std::is_base_of_v<error, autodiff_error>);
  CHECK(std::is_base_of_v<std::runtime_error, error>);
}

}  // namespace test_shape
