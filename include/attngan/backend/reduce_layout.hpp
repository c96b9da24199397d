// attngan/backend/reduce_layout.hpp — a reduce_plan simplified for kernels.
//
// Every backend's reduce_sum starts the same way: axes of extent 1 are
// dropped, and neighbouring axes that are both kept or both reduced are
// merged (row-major, so merged axes stay one strided run). "(N, C, H, W) ->
// (1, C, 1, 1)" becomes "reduced N (stride C·H·W), kept C (stride H·W),
// reduced H·W (stride 1)". The layout is trivially copyable and its index
// maps are __host__ __device__, so kernels carry it by value.
#pragma once

#include "attngan/backend/primitives.hpp"
#include "attngan/core/config.hpp"

namespace attngan::primitives {

struct reduce_layout {
  struct axis {
    index_t extent;
    index_t stride;  // in the input's flat index
  };

  axis kept[4]{};
  int n_kept = 0;
  axis reduced[4]{};
  int n_reduced = 0;  // at most 2: of four axes with neighbours of a kind merged, runs alternate
  index_t outputs = 1;       // product of the kept extents
  index_t inner = 1;         // extent of the innermost reduced axis
  index_t inner_stride = 1;  // its stride
  index_t outer = 1;         // product of the other reduced extents

  /// Number of input elements summed into each output.
  ATTNGAN_HD index_t per_output() const { return outer * inner; }

  /// Flat input index of the first element summed into output o (row-major
  /// over the kept axes).
  ATTNGAN_HD index_t output_base(index_t o) const {
    index_t base = 0;
    for (int i = n_kept - 1; i >= 0; --i) {
      base += (o % kept[i].extent) * kept[i].stride;
      o /= kept[i].extent;
    }
    return base;
  }

  /// Offset from output_base of the r-th summed element, r in
  /// [0, per_output()), row-major over the reduced axes (the innermost
  /// reduced axis varies fastest).
  ATTNGAN_HD index_t reduced_offset(index_t r) const {
    if (n_reduced == 1) return r * inner_stride;
    index_t off = 0;
    for (int i = n_reduced - 1; i >= 0; --i) {
      off += (r % reduced[i].extent) * reduced[i].stride;
      r /= reduced[i].extent;
    }
    return off;
  }
};

inline reduce_layout make_reduce_layout(const reduce_plan& p) {
  reduce_layout l;
  index_t strides[4];
  strides[3] = 1;
  for (int k = 2; k >= 0; --k) strides[k] = strides[k + 1] * p.in[std::size_t(k + 1)];
  int last_kind = -1;  // 0 kept, 1 reduced
  for (int k = 0; k < 4; ++k) {
    const index_t e = p.in[std::size_t(k)];
    if (e == 1) continue;
    const int kind = p.out[std::size_t(k)] == 1 ? 1 : 0;
    reduce_layout::axis* list = kind ? l.reduced : l.kept;
    int& count = kind ? l.n_reduced : l.n_kept;
    if (kind == last_kind) {  // merge with the previous axis (row-major: contiguous)
      list[count - 1].extent *= e;
      list[count - 1].stride = strides[k];
    } else {
      list[count++] = reduce_layout::axis{e, strides[k]};
    }
    last_kind = kind;
  }
  for (int i = 0; i < l.n_kept; ++i) l.outputs *= l.kept[i].extent;
  if (l.n_reduced > 0) {
    l.inner = l.reduced[l.n_reduced - 1].extent;
    l.inner_stride = l.reduced[l.n_reduced - 1].stride;
    for (int i = 0; i + 1 < l.n_reduced; ++i) l.outer *= l.reduced[i].extent;
  }
  return l;
}

}  // namespace attngan::primitives
