// attngan/core/backend.hpp — what a backend is.
//
// A backend is a type (attngan::cpu, attngan::cuda) — never a run-time flag —
// so model code is written once as a template and compiled for each backend
// (design decision 1). The concept below is the part every tensor needs:
// a name, a caching allocator for its memory, and byte copies to, from and
// within that memory. The compute primitives (elementwise evaluation,
// reductions, GEMM, ...) are declared once in attngan/backend/primitives.hpp
// and implemented under backend/<name>/ with the same file names.
#pragma once

#include <concepts>
#include <cstddef>
#include <type_traits>

#include "attngan/core/allocator.hpp"

namespace attngan {

template <class B>
concept backend = requires(void* dst, const void* src, std::size_t bytes) {
  { B::name } -> std::convertible_to<const char*>;
  { B::is_host } -> std::convertible_to<bool>;
  { B::allocator().allocate(bytes) } -> std::same_as<void*>;
  { B::allocator().stats() } -> std::same_as<allocator_stats>;
  B::copy_from_host(dst, src, bytes);
  B::copy_to_host(dst, src, bytes);
  B::copy_within(dst, src, bytes);
  B::synchronize();
};

/// Element types a tensor may hold: floating point for values, integers for
/// token ids, lengths and masks.
template <class T>
concept element = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;

/// Element types autodiff differentiates: float (default) and double (gradcheck).
template <class T>
concept real = std::is_same_v<T, float> || std::is_same_v<T, double>;

}  // namespace attngan
