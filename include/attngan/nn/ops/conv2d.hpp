// attngan/nn/ops/conv2d.hpp — 2-D convolution on vars (cross-correlation, as PyTorch).
//
// x (N, C, H, W), weight (O, C, KH, KW), optional bias (O) ->
// out (N, O, Ho, Wo), Ho = (H + 2·PH − KH) / SH + 1 (likewise Wo).
// Per image: out[n] = W · im2col(x[n]) (+ bias), through the backend's GEMM.
// Backward, with G = dL/dout:
//   dW  += Σ_n G[n] · im2col(x[n])ᵀ          (O, HoWo)·(HoWo, C·KH·KW)
//   dx[n] += col2im(Wᵀ · G[n])               (C·KH·KW, O)·(O, HoWo), folded back
//   db  += Σ_{n, oh, ow} G
// The column matrix is recomputed in backward instead of kept: one image's
// worth of memory at a time. 1×1 convolutions with stride 1 and no padding
// skip im2col (the image is its own column matrix). On the cpu backend most
// other convolutions skip the column matrix altogether
// (backend/cpu/conv_shifted.hpp: one GEMM per kernel tap on shifted views of
// the padded image, split by stride phase; kernels::shifted_applies says
// which); the column path below serves the rest and the other backends —
// on the host, for outputs of at most 16² pixels, with the chunk's column
// matrices side by side so that each product is one GEMM (wide_columns).
#pragma once

#include "attngan/autodiff/linalg.hpp"
#include "attngan/autodiff/var.hpp"
#include "attngan/backend/conv_kernels.hpp"
#include "attngan/backend/cpu/conv_planes.hpp"
#include "attngan/backend/cpu/conv_shifted.hpp"
#include "attngan/backend/primitives.hpp"

#include <vector>

namespace attngan::nn::functional {

struct conv2d_options {
  index_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
};

namespace detail {

using attngan::detail::node;
using attngan::detail::node_ptr;

template <class T>
struct add_channel_bias {  // out[n, o, p] = b[o]
  T* out;
  const T* b;
  index_t channels, pixels;
  ATTNGAN_HD void operator()(index_t i) const { out[i] = b[(i / pixels) % channels]; }
};

template <class T>
struct plain_reader {
  const T* p;
  ATTNGAN_HD T operator()(index_t i) const { return p[i]; }
};

inline kernels::conv_geometry conv_geometry_of(const shape& x, const shape& w, const conv2d_options& o) {
  kernels::conv_geometry g{x[1], x[2], x[3], w[2], w[3], o.stride_h, o.stride_w, o.pad_h, o.pad_w, 0, 0};
  g.out_h = (g.height + 2 * g.pad_h - g.kernel_h) / g.stride_h + 1;
  g.out_w = (g.width + 2 * g.pad_w - g.kernel_w) / g.stride_w + 1;
  return g;
}

/// 1×1, stride 1, no padding: the image is its own column matrix.
inline bool is_direct(const kernels::conv_geometry& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0;
}

/// A kernel that covers the whole unpadded input (one output pixel per
/// image, e.g. the discriminators' 4×4 logits): the convolution is a dense
/// layer, out (N, O) = x (N, C·H·W) · Wᵀ, one GEMM over the batch.
inline bool is_dense(const kernels::conv_geometry& g) {
  return g.out_h == 1 && g.out_w == 1 && g.pad_h == 0 && g.pad_w == 0 && g.kernel_h == g.height &&
         g.kernel_w == g.width;
}

/// Images per GEMM batch: as many as fit in `budget` bytes of column
/// matrices. Batches of images run their GEMMs in parallel (one image per
/// thread), which uses the cores better than splitting one small GEMM.
/// Bytes of column matrices a convolution may hold at once: 64 MiB on the
/// host (cache-friendly chunks), 512 MiB on a GPU (fewer, larger GEMMs).
template <backend B>
constexpr std::size_t column_budget() {
  return B::is_host ? std::size_t(64) << 20 : std::size_t(512) << 20;
}

template <class T>
index_t images_per_chunk(const kernels::conv_geometry& g, index_t batch, bool direct,
                         std::size_t budget = std::size_t(64) << 20) {
  if (direct) return batch;
  const std::size_t per = std::size_t(g.col_rows() * g.col_cols()) * sizeof(T);
  index_t n = index_t(budget / (per ? per : 1));
  return n < 1 ? 1 : (n > batch ? batch : n);
}

/// Host, small outputs: the column path's GEMMs have N = Ho·Wo columns per
/// image (9–25 at D's and the image encoder's deep layers) and, for dW, K =
/// Ho·Wo — thin products that Eigen runs far below its speed, the dW ones
/// image after image. The wide path lays a chunk's column matrices side by
/// side, col (C·KH·KW, nb·Ho·Wo), and G (and out) as (O, nb·Ho·Wo), so each
/// product is one GEMM over the whole chunk: out = W·col, dW += G·colᵀ (K =
/// nb·Ho·Wo), dcol = Wᵀ·G. Costs two relayouts of an output-sized array. On
/// the cpu backend im2col and col2im go plane by plane (conv_planes.hpp).
/// On by default; benchmarks switch it off to compare with one column matrix
/// per image (tests call both paths directly).
inline bool& wide_columns_enabled() {
  static bool on = true;
  return on;
}
inline bool wide_columns(const kernels::conv_geometry& g) {
  return wide_columns_enabled() && !is_direct(g) && g.col_cols() <= 256;
}

template <class T>
struct images_to_wide {  // dst (O, n·P)[o, m·P + p] = src (n, O, P)[m, o, p]
  const T* src;
  T* dst;
  index_t channels, pixels, images;
  ATTNGAN_HD void operator()(index_t i) const {
    const index_t p = i % pixels, mp = i / pixels, m = mp % images, o = mp / images;
    dst[i] = src[(m * channels + o) * pixels + p];
  }
  // Host: a run of pixels at a time, its (o, m) found once.
  void range(index_t begin, index_t end) const {
    for (index_t i = begin; i < end;) {
      const index_t p = i % pixels, mp = i / pixels, m = mp % images, o = mp / images;
      const index_t len = pixels - p < end - i ? pixels - p : end - i;
      const T* s = src + (m * channels + o) * pixels + p;
      for (index_t j = 0; j < len; ++j) dst[i + j] = s[j];
      i += len;
    }
  }
};

template <class T>
struct wide_to_images {  // dst (n, O, P)[m, o, p] = src (O, n·P)[o, m·P + p] (+ dst where accumulate)
  const T* src;
  T* dst;
  index_t channels, pixels, images;
  bool accumulate;
  ATTNGAN_HD void operator()(index_t i) const {
    const index_t p = i % pixels, mo = i / pixels, o = mo % channels, m = mo / channels;
    const T v = src[(o * images + m) * pixels + p];
    dst[i] = accumulate ? dst[i] + v : v;
  }
  // Host: a run of pixels at a time, its (m, o) found once.
  void range(index_t begin, index_t end) const {
    for (index_t i = begin; i < end;) {
      const index_t p = i % pixels, mo = i / pixels, o = mo % channels, m = mo / channels;
      const index_t len = pixels - p < end - i ? pixels - p : end - i;
      const T* s = src + (o * images + m) * pixels + p;
      T* d = dst + i;
      if (accumulate) {
        for (index_t j = 0; j < len; ++j) d[j] += s[j];
      } else {
        for (index_t j = 0; j < len; ++j) d[j] = s[j];
      }
      i += len;
    }
  }
};

/// col (C·KH·KW, nb·Ho·Wo) from x (nb, C, H, W): on the cpu backend plane by
/// plane (conv_planes.hpp), elsewhere by the generic kernel with strides.
template <real T, backend B>
void im2col_wide(const T* x, T* col, const kernels::conv_geometry& g, index_t nb) {
  const index_t cols = g.col_cols(), total = nb * g.col_rows() * cols;
  if constexpr (std::is_same_v<B, cpu>)
    kernels::for_each_channel(g.channels, kernels::im2col_planes<T>{{g, nb}, x, col});
  else
    primitives::for_each_index<B>(total, kernels::im2col<T>{x, col, g, total, cols, nb * cols});
}

/// dx (nb, C, H, W) += col2im(col), col as im2col_wide lays it out.
template <real T, backend B>
void col2im_wide_add(const T* col, T* dx, const kernels::conv_geometry& g, index_t nb) {
  const index_t cols = g.col_cols(), per_col = g.col_rows() * cols, image = g.channels * g.height * g.width;
  if constexpr (std::is_same_v<B, cpu>)
    kernels::for_each_channel(g.channels, kernels::col2im_planes<T>{{g, nb}, col, dx});
  else
    primitives::for_each_index<B>(nb * image, kernels::col2im_add<T>{col, dx, g, nb * (per_col > image ? per_col : image),
                                                                      cols, nb * cols});
}

/// The wide path's chunks of the batch and their scratch: col (C·KH·KW,
/// nb·Ho·Wo) and wide (O, nb·Ho·Wo). for_chunks calls f(n0, nb, ld) for
/// the images [n0, n0 + nb), ld = nb·Ho·Wo.
template <real T, backend B>
struct wide_chunks {
  index_t rows, cols, image, chunk;
  tensor<T, B> col, wide;
  wide_chunks(const kernels::conv_geometry& g, index_t n, index_t oc, std::size_t budget)
      : rows(g.col_rows()), cols(g.col_cols()), image(g.channels * g.height * g.width),
        chunk(images_per_chunk<T>(g, n, false, budget)), col(shape(chunk * rows * cols)),
        wide(shape(chunk * oc * cols)) {}
  template <class F>
  void for_chunks(index_t n, F&& f) const {
    for (index_t n0 = 0; n0 < n; n0 += chunk) {
      const index_t nb = chunk < n - n0 ? chunk : n - n0;
      f(n0, nb, nb * cols);
    }
  }
};

/// out (n, O, Ho, Wo) = W · im2col(x) (+ out where accumulate), the wide way.
template <real T, backend B>
void conv2d_wide_forward(const T* x, const T* w, T* out, bool accumulate, const kernels::conv_geometry& g, index_t n,
                         index_t oc, std::size_t budget) {
  wide_chunks<T, B> s(g, n, oc, budget);
  s.for_chunks(n, [&](index_t n0, index_t nb, index_t ld) {
    im2col_wide<T, B>(x + n0 * s.image, s.col.data(), g, nb);
    primitives::gemm<B>(primitives::gemm_args<T>{transpose::no, transpose::no, oc, ld, s.rows, T(1), w, s.rows,
                                                 s.col.data(), ld, T(0), s.wide.data(), ld});
    primitives::for_each_index<B>(nb * oc * s.cols, wide_to_images<T>{s.wide.data(), out + n0 * oc * s.cols, oc,
                                                                      s.cols, nb, accumulate});
  });
}

/// dW += Σ G[m]·im2col(x[m])ᵀ and dx += col2im(Wᵀ·G[m]) (either may be null), the wide way.
template <real T, backend B>
void conv2d_wide_backward(const T* x, const T* w, const T* G, T* dw, T* dx, const kernels::conv_geometry& g, index_t n,
                          index_t oc, std::size_t budget) {
  wide_chunks<T, B> s(g, n, oc, budget);
  s.for_chunks(n, [&](index_t n0, index_t nb, index_t ld) {
    primitives::for_each_index<B>(nb * oc * s.cols,
                                  images_to_wide<T>{G + n0 * oc * s.cols, s.wide.data(), oc, s.cols, nb});
    if (dw) {
      im2col_wide<T, B>(x + n0 * s.image, s.col.data(), g, nb);
      primitives::gemm<B>(primitives::gemm_args<T>{transpose::no, transpose::yes, oc, s.rows, ld, T(1), s.wide.data(),
                                                   ld, s.col.data(), ld, T(1), dw, s.rows});
    }
    if (dx) {
      primitives::gemm<B>(primitives::gemm_args<T>{transpose::yes, transpose::no, s.rows, ld, oc, T(1), w, s.rows,
                                                   s.wide.data(), ld, T(0), s.col.data(), ld});
      col2im_wide_add<T, B>(s.col.data(), dx + n0 * s.image, g, nb);
    }
  });
}

template <real T, backend B>
struct conv2d_node : node<T, B> {
  kernels::conv_geometry g;
  index_t batch, out_channels;
  bool has_bias;
  conv2d_node(kernels::conv_geometry geometry, index_t n, index_t o, bool b)
      : g(geometry), batch(n), out_channels(o), has_bias(b) {}

  bool direct() const { return is_direct(g); }
  index_t c_stride_of(index_t per_col) const { return direct() ? g.channels * g.height * g.width : per_col; }

  void backward(const std::vector<char>& wants) override {
    auto& x = *this->inputs[0];
    auto& w = *this->inputs[1];
    const T* G = this->grad.data();
    if (is_dense(g)) {
      const index_t k = g.col_rows();
      if (wants[1])  // dW (O × K) += Gᵀ · x
        primitives::gemm<B>(primitives::gemm_args<T>{transpose::yes, transpose::no, out_channels, k, batch, T(1), G,
                                                     out_channels, x.value.data(), k, T(1), w.grad_buffer(), k});
      if (wants[0])  // dx (N × K) += G · W
        primitives::gemm<B>(primitives::gemm_args<T>{transpose::no, transpose::no, batch, k, out_channels, T(1), G,
                                                     out_channels, w.value.data(), k, T(1), x.grad_buffer(), k});
      backward_bias(wants, G);
      return;
    }
    if constexpr (std::is_same_v<B, cpu>) {
      if (kernels::shifted_applies<T>(g, batch, out_channels)) {
        kernels::shifted_conv_backward<T>(g, batch, out_channels, x.value.data(), w.value.data(), G,
                                          wants[1] ? w.grad_buffer() : nullptr, wants[0] ? x.grad_buffer() : nullptr);
        backward_bias(wants, G);
        return;
      }
    }
    if constexpr (B::is_host) {
      if (wide_columns(g)) {
        conv2d_wide_backward<T, B>(x.value.data(), w.value.data(), G, wants[1] ? w.grad_buffer() : nullptr,
                                   wants[0] ? x.grad_buffer() : nullptr, g, batch, out_channels, column_budget<B>());
        backward_bias(wants, G);
        return;
      }
    }
    const index_t rows = g.col_rows(), cols = g.col_cols(), image = g.channels * g.height * g.width;
    const index_t out_image = out_channels * cols, per_col = rows * cols;
    const index_t chunk = images_per_chunk<T>(g, batch, direct(), column_budget<B>());
    tensor<T, B> col;
    if (!direct()) col = tensor<T, B>(shape(chunk * per_col));
    for (index_t n0 = 0; n0 < batch; n0 += chunk) {
      const index_t nb = chunk < batch - n0 ? chunk : batch - n0;
      const T* xs = x.value.data() + n0 * image;
      const T* gs = G + n0 * out_image;
      if (wants[1]) {  // dW += G[n] · col[n]ᵀ, image after image (one gradient buffer)
        const T* c = xs;
        if (!direct()) {
          primitives::for_each_index<B>(nb * per_col, kernels::im2col<T>{xs, col.data(), g, nb * per_col});
          c = col.data();
        }
        T* dw = w.grad_buffer();
        const primitives::gemm_args<T> per_image{transpose::no, transpose::yes, out_channels, rows, cols, T(1),
                                                 gs, cols, c, cols, T(1), dw, rows};
        if constexpr (B::is_host) {
          for (index_t n = 0; n < nb; ++n) {
            auto a = per_image;
            a.a = gs + n * out_image;
            a.b = c + n * per_col;
            primitives::gemm<B>(a);
          }
        } else {
          // On a GPU one (O × C·KH·KW) product per image is too few output
          // tiles to fill the SMs: compute the images' products in one batched
          // GEMM, then sum them into dW with one reduction.
          tensor<T, B> parts(shape(nb, out_channels * rows));
          auto a = per_image;
          a.beta = T(0);
          a.c = parts.data();
          primitives::gemm_batched<B>(a, nb, out_image, c_stride_of(per_col), out_channels * rows);
          primitives::reduce_sum<B>(dw, primitives::make_reduce_plan(parts.shape(), shape(1, out_channels * rows),
                                                                     "conv2d"),
                                    plain_reader<T>{parts.data()}, T(1), true);
        }
      }
      if (wants[0]) {  // dx[n] += col2im(Wᵀ · G[n]), the images of the chunk in parallel
        T* dx = x.grad_buffer() + n0 * image;
        if (direct()) {
          primitives::gemm_batched<B>(primitives::gemm_args<T>{transpose::yes, transpose::no, rows, cols, out_channels,
                                                               T(1), w.value.data(), rows, gs, cols, T(1), dx, cols},
                                      nb, 0, out_image, image);
        } else {
          primitives::gemm_batched<B>(primitives::gemm_args<T>{transpose::yes, transpose::no, rows, cols, out_channels,
                                                               T(1), w.value.data(), rows, gs, cols, T(0), col.data(),
                                                               cols},
                                      nb, 0, out_image, per_col);
          primitives::for_each_index<B>(nb * image, kernels::col2im_add<T>{col.data(), dx, g,
                                                                               nb * (per_col > image ? per_col : image)});
        }
      }
    }
    backward_bias(wants, G);
  }

  void backward_bias(const std::vector<char>& wants, const T* G) {
    if (has_bias && wants[2]) {  // db += Σ over batch and pixels
      auto& b = *this->inputs[2];
      primitives::reduce_sum<B>(b.grad_buffer(),
                                primitives::make_reduce_plan(shape(batch, out_channels, g.out_h, g.out_w),
                                                             shape(1, out_channels, 1, 1), "conv2d"),
                                plain_reader<T>{G}, T(1), true);
    }
  }
};

/// out (N, O, Ho, Wo) = W · im2col(x[n]) (+ beta · out), chunk after chunk of
/// images, the images of a chunk in parallel.
template <real T, backend B>
void conv2d_columns(const T* x, const T* w, T* out, T beta, const kernels::conv_geometry& g, index_t n, index_t oc) {
  const bool direct = is_direct(g);
  const index_t rows = g.col_rows(), cols = g.col_cols(), image = g.channels * g.height * g.width;
  const index_t chunk = images_per_chunk<T>(g, n, direct, column_budget<B>());
  tensor<T, B> col;
  if (!direct) col = tensor<T, B>(shape(chunk * rows * cols));
  for (index_t n0 = 0; n0 < n; n0 += chunk) {
    const index_t nb = chunk < n - n0 ? chunk : n - n0;
    const T* c = x + n0 * image;
    index_t c_stride = image;
    if (!direct) {
      primitives::for_each_index<B>(nb * rows * cols, kernels::im2col<T>{c, col.data(), g, nb * rows * cols});
      c = col.data();
      c_stride = rows * cols;
    }
    primitives::gemm_batched<B>(primitives::gemm_args<T>{transpose::no, transpose::no, oc, cols, rows, T(1), w, rows, c,
                                                         cols, beta, out + n0 * oc * cols, cols},
                                nb, 0, c_stride, oc * cols);
  }
}

}  // namespace detail

/// Convolution of x (N, C, H, W) with weight (O, C, KH, KW) and an optional
/// bias (O) — pass an empty var for none.
template <real T, backend B>
var<T, B> conv2d(const var<T, B>& x, const var<T, B>& weight, const var<T, B>& bias, const conv2d_options& o) {
  const shape& xs = x.shape();
  const shape& ws = weight.shape();
  if (xs.rank() != 4 || ws.rank() != 4)
    throw shape_error("conv2d", attngan::detail::cat("expects input (N, C, H, W) and weight (O, C, KH, KW), got ", xs,
                                                     " and ", ws));
  if (xs[1] != ws[1])
    throw shape_error("conv2d", attngan::detail::cat("input ", xs, " has ", xs[1], " channels, weight ", ws,
                                                     " expects ", ws[1]));
  if (bias.defined() && !(bias.shape() == shape(ws[0])))
    throw shape_error("conv2d", attngan::detail::cat("bias ", bias.shape(), " does not match ", ws[0],
                                                     " output channels"));
  if (o.stride_h < 1 || o.stride_w < 1 || o.pad_h < 0 || o.pad_w < 0)
    throw value_error("conv2d", attngan::detail::cat("stride (", o.stride_h, ", ", o.stride_w, ") and padding (",
                                                     o.pad_h, ", ", o.pad_w, ") must be positive / non-negative"));
  const auto g = detail::conv_geometry_of(xs, ws, o);
  if (xs[2] + 2 * o.pad_h < ws[2] || xs[3] + 2 * o.pad_w < ws[3])
    throw shape_error("conv2d", attngan::detail::cat("kernel ", ws[2], "x", ws[3], " is larger than the padded input ",
                                                     xs));
  const index_t n = xs[0], oc = ws[0], cols = g.col_cols();
  tensor<T, B> out(shape(n, oc, g.out_h, g.out_w));
  T beta = T(0);
  if (bias.defined()) {
    primitives::for_each_index<B>(out.numel(),
                                  detail::add_channel_bias<T>{out.data(), bias.value().data(), oc, cols});
    beta = T(1);
  }
  bool done = false;
  if (detail::is_dense(g)) {  // out (N × O) = x (N × K) · Wᵀ (+ the bias already in out)
    const index_t k = g.col_rows();
    primitives::gemm<B>(primitives::gemm_args<T>{transpose::no, transpose::yes, n, oc, k, T(1), x.value().data(), k,
                                                 weight.value().data(), k, beta, out.data(), oc});
    done = true;
  }
  if constexpr (std::is_same_v<B, cpu>) {
    if (!done && kernels::shifted_applies<T>(g, n, oc)) {
      kernels::shifted_conv_forward<T>(g, n, oc, x.value().data(), weight.value().data(), out.data(), beta != T(0));
      done = true;
    }
  }
  if constexpr (B::is_host) {
    if (!done && detail::wide_columns(g)) {
      detail::conv2d_wide_forward<T, B>(x.value().data(), weight.value().data(), out.data(), beta != T(0), g, n, oc,
                                        detail::column_budget<B>());
      done = true;
    }
  }
  if (!done) detail::conv2d_columns<T, B>(x.value().data(), weight.value().data(), out.data(), beta, g, n, oc);
  std::vector<attngan::detail::node_ptr<T, B>> inputs{x.node(), weight.node()};
  if (bias.defined()) inputs.push_back(bias.node());
  return var<T, B>(attngan::detail::make_result<detail::conv2d_node<T, B>>(std::move(out), std::move(inputs), "conv2d",
                                                                           g, n, oc, bias.defined()));
}

namespace detail {

/// P (N, O, taps) of conv2d_tiled: P[n, o, t] = Σ_c v[n, c] · W[o, Cx + c, t],
/// read straight from the weight (no copy of its vector block): one GEMM
/// per output channel, batched, v shared by all of them.
template <real T, backend B>
struct tiled_taps_node : node<T, B> {
  index_t n, cv, oc, taps, w_stride, offset;  // offset = Cx · taps into each weight row
  tiled_taps_node(index_t n_, index_t cv_, index_t oc_, index_t taps_, index_t w_stride_, index_t offset_)
      : n(n_), cv(cv_), oc(oc_), taps(taps_), w_stride(w_stride_), offset(offset_) {}

  static void forward(const T* v, const T* w, T* p, index_t n, index_t cv, index_t oc, index_t taps,
                      index_t w_stride, index_t offset) {
    // batch o: P[:, o, :] (N × taps, row stride O·taps) = v (N × Cv) · W[o, Cx:, :] (Cv × taps)
    primitives::gemm_batched<B>(primitives::gemm_args<T>{transpose::no, transpose::no, n, taps, cv, T(1), v, cv,
                                                         w + offset, taps, T(0), p, oc * taps},
                                oc, 0, w_stride, taps);
  }

  void backward(const std::vector<char>& wants) override {
    auto& v = *this->inputs[0];
    auto& w = *this->inputs[1];
    const T* G = this->grad.data();
    if (wants[1])  // dW[o, Cx:, :] += vᵀ · dP[:, o, :], each o its own block of dW
      primitives::gemm_batched<B>(primitives::gemm_args<T>{transpose::yes, transpose::no, cv, taps, n, T(1),
                                                           v.value.data(), cv, G, oc * taps, T(1),
                                                           w.grad_buffer() + offset, taps},
                                  oc, 0, taps, w_stride);
    if (wants[0]) {  // dv += Σ_o dP[:, o, :] · W[o, Cx:, :]ᵀ: one output, so the o's run in turn
      T* dv = v.grad_buffer();
      for (index_t o = 0; o < oc; ++o)
        primitives::gemm<B>(primitives::gemm_args<T>{transpose::no, transpose::yes, n, cv, taps, T(1), G + o * taps,
                                                     oc * taps, w.value.data() + o * w_stride + offset, taps, T(1),
                                                     dv, cv});
    }
  }
};

}  // namespace detail

/// conv2d(concat_channels(x, tile_spatial(v, H, W)), weight) without tiling
/// v: x (N, Cx, H, W), v (N, Cv), weight (O, Cx + Cv, KH, KW), no bias. The
/// tiled channels hold the same vector at every pixel, so at output pixel q
/// they add Σ_t M[t, q] · P[:, :, t] with P[n, o, t] = Σ_c v[n, c] · W[o,
/// Cx + c, t], where t runs over the kernel taps and M[t, q] is 1 when tap t
/// of pixel q reads inside the image (0 where it reads the zero padding):
/// two small GEMMs, (N, Cv)·(Cv, taps) per output channel and (N·O, taps)·
/// (taps, Ho·Wo), in place of a convolution over Cv channels. The
/// discriminators' jointConv (8·ndf + nef → 8·ndf, 3×3 on 4×4) spends most of
/// its work on the tiled sentence. The same function, rounded differently;
/// gradients reach x, v and the weight.
template <real T, backend B>
var<T, B> conv2d_tiled(const var<T, B>& x, const var<T, B>& v, const var<T, B>& weight, const conv2d_options& o) {
  const shape& xs = x.shape();
  const shape& vs = v.shape();
  const shape& ws = weight.shape();
  if (xs.rank() != 4 || vs.rank() != 2 || ws.rank() != 4 || vs[0] != xs[0] || ws[1] != xs[1] + vs[1])
    throw shape_error("conv2d_tiled", attngan::detail::cat("expects x (N, Cx, H, W), v (N, Cv) and weight (O, Cx + "
                                                           "Cv, KH, KW), got ", xs, ", ", vs, " and ", ws));
  const index_t n = xs[0], cx = xs[1], cv = vs[1], oc = ws[0], taps = ws[2] * ws[3];
  const var<T, B> wx = eval(narrow(weight, 1, 0, cx));          // (O, Cx, KH, KW)
  const var<T, B> image_part = conv2d(x, wx, var<T, B>(), o);  // checks the geometry
  const index_t oh = image_part.shape()[2], ow = image_part.shape()[3];
  // M[t, q]: does tap t = (ky, kx) of output pixel q = (y, x) read inside the image?
  std::vector<T> m(std::size_t(taps * oh * ow), T(0));
  for (index_t ky = 0; ky < ws[2]; ++ky)
    for (index_t kx = 0; kx < ws[3]; ++kx)
      for (index_t y = 0; y < oh; ++y)
        for (index_t xx = 0; xx < ow; ++xx) {
          const index_t iy = y * o.stride_h - o.pad_h + ky, ix = xx * o.stride_w - o.pad_w + kx;
          if (iy >= 0 && iy < xs[2] && ix >= 0 && ix < xs[3])
            m[std::size_t(((ky * ws[3] + kx) * oh + y) * ow + xx)] = T(1);
        }
  const var<T, B> inside = var<T, B>::leaf(tensor<T, B>::from_host(shape(taps, oh * ow), m));
  tensor<T, B> p(shape(n * oc, taps));
  const index_t w_stride = ws[1] * taps, offset = cx * taps;
  detail::tiled_taps_node<T, B>::forward(v.value().data(), weight.value().data(), p.data(), n, cv, oc, taps, w_stride,
                                         offset);
  const var<T, B> per_tap(attngan::detail::make_result<detail::tiled_taps_node<T, B>>(
      std::move(p), {v.node(), weight.node()}, "conv2d_tiled", n, cv, oc, taps, w_stride, offset));
  const var<T, B> vector_part = reshape(matmul(per_tap, inside), shape(n, oc, oh, ow));
  return image_part + vector_part;
}

}  // namespace attngan::nn::functional
