// attngan/core/error.hpp — the one exception hierarchy of the library.
//
// Every failure that a caller can provoke (bad shapes, bad arguments, a backend
// call that failed, unreadable files, misuse of the autodiff tape) is thrown as
// a subclass of attngan::error. Messages name the operation and, where shapes
// are involved, every shape in the form "(2, 3, 64, 64)", so a message read in
// a log is enough to find the call that failed.
#pragma once

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace attngan {

/// Base of every exception attngan throws. `op()` is the operation that failed
/// ("matmul", "conv2d", "tensor::reshape", ...).
class error : public std::runtime_error {
 public:
  error(std::string op, const std::string& what)
      : std::runtime_error(op + ": " + what), op_(std::move(op)) {}
  [[nodiscard]] const std::string& op() const noexcept { return op_; }

 private:
  std::string op_;
};

/// Shapes of operands do not fit the operation.
class shape_error : public error {
 public:
  using error::error;
};

/// An argument has an invalid value (negative size, unknown name, ...).
class value_error : public error {
 public:
  using error::error;
};

/// A backend call failed (allocation, CUDA or cuBLAS error, ...).
class backend_error : public error {
 public:
  using error::error;
};

/// Reading or writing a file failed or the file is malformed.
class io_error : public error {
 public:
  using error::error;
};

/// Misuse of the autodiff tape: backward from a non-scalar without a seed,
/// a gradient requested from a value that has none, ...
class autodiff_error : public error {
 public:
  using error::error;
};

namespace detail {
/// Concatenates anything streamable into one string: the message builder
/// behind every throw in the library.
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

/// A number for a message: "nan", "inf" and "-inf" spelt the same on every
/// path (a NaN's sign bit, which streams as "-nan", depends on the code path
/// and the optimisation level), finite values as streamed.
inline std::string number_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return cat(v);
}
}  // namespace detail

}  // namespace attngan
