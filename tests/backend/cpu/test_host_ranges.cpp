// Kernels with a host range() loop (run at a time, no per-element index
// arithmetic) against their per-index formula (operator(), the path GPUs and
// thrust_host take), over ranges that start and stop anywhere (the cpu
// backend splits work across threads at arbitrary indices):
//   im2col and col2im_add, for strides, paddings and kernel sizes AttnGAN
//   uses and some it does not; nearest upsampling at scales 2 and 3.
#include <vector>

#include "attngan/backend/conv_kernels.hpp"
#include "attngan/nn/ops/resample.hpp"
#include "test_support.hpp"

namespace test_host_ranges {

using namespace attngan;
using kernels::conv_geometry;

namespace {

conv_geometry geometry(index_t c, index_t h, index_t w, index_t kh, index_t kw, index_t sh, index_t sw, index_t ph,
                       index_t pw) {
  conv_geometry g{c, h, w, kh, kw, sh, sw, ph, pw, 0, 0};
  g.out_h = (h + 2 * ph - kh) / sh + 1;
  g.out_w = (w + 2 * pw - kw) / sw + 1;
  return g;
}

std::vector<float> values(index_t n, std::uint64_t seed) { return test::randu<float>(shape(n), seed, -1.f, 1.f).to_vector(); }

// Cuts [0, total) into pieces at the given points and runs range() on each.
template <class K>
void run_in_pieces(const K& k, index_t total, const std::vector<index_t>& cuts) {
  index_t b = 0;
  for (index_t c : cuts) {
    if (c > b && c < total) {
      k.range(b, c);
      b = c;
    }
  }
  k.range(b, total);
}

void check_geometry(const conv_geometry& g, index_t images) {
  CAPTURE(g.channels);
  CAPTURE(g.height);
  CAPTURE(g.width);
  CAPTURE(g.kernel_h);
  CAPTURE(g.kernel_w);
  CAPTURE(g.stride_h);
  CAPTURE(g.stride_w);
  CAPTURE(g.pad_h);
  CAPTURE(g.pad_w);
  const index_t image = g.channels * g.height * g.width, per_col = g.col_rows() * g.col_cols();
  const auto x = values(images * image, 1);
  const auto col_in = values(images * per_col, 2);
  // cuts: none, every 7, and ones that fall mid-row and on image boundaries
  const std::vector<std::vector<index_t>> cut_sets{
      {}, {1, g.out_w + 1, per_col - 1, per_col, per_col + 3}, {image / 2, image, image + g.width - 1}, [&] {
        std::vector<index_t> v;
        for (index_t i = 7; i < images * (per_col > image ? per_col : image); i += 7) v.push_back(i);
        return v;
      }()};

  // im2col
  std::vector<float> want(std::size_t(images * per_col), -1.f);
  const kernels::im2col<float> ref{x.data(), want.data(), g, images * per_col};
  for (index_t i = 0; i < images * per_col; ++i) ref(i);
  for (std::size_t s = 0; s < cut_sets.size(); ++s) {
    CAPTURE(s);
    std::vector<float> got(want.size(), -1.f);
    run_in_pieces(kernels::im2col<float>{x.data(), got.data(), g, images * per_col}, images * per_col, cut_sets[s]);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < got.size(); ++i) bad += got[i] != want[i];
    CHECK(bad == 0);
  }

  // col2im_add accumulates into dx
  std::vector<float> dx_want = values(images * image, 3);
  const std::vector<float> dx0 = dx_want;
  const kernels::col2im_add<float> fold{col_in.data(), dx_want.data(), g, images * (per_col > image ? per_col : image)};
  for (index_t i = 0; i < images * image; ++i) fold(i);
  for (std::size_t s = 0; s < cut_sets.size(); ++s) {
    CAPTURE(s);
    std::vector<float> got = dx0;
    run_in_pieces(kernels::col2im_add<float>{col_in.data(), got.data(), g, images * image}, images * image,
                  cut_sets[s]);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
      bad += !(std::abs(got[i] - dx_want[i]) <= 1e-6f * (1.f + std::abs(dx_want[i])));
    CHECK(bad == 0);
  }
}

}  // namespace

TEST_CASE("im2col and col2im_add: host range() equals the per-index formula, any split, any stride and padding") {
  // AttnGAN's: 3x3 stride 1 pad 1; 4x4 stride 2 pad 1 (D's down blocks); 1x1.
  check_geometry(geometry(3, 8, 8, 3, 3, 1, 1, 1, 1), 2);
  check_geometry(geometry(2, 16, 16, 4, 4, 2, 2, 1, 1), 3);
  check_geometry(geometry(4, 5, 7, 1, 1, 1, 1, 0, 0), 2);
  // others: rectangular, stride 3, padding wider than the kernel reach, odd sizes
  check_geometry(geometry(2, 9, 11, 3, 5, 2, 3, 2, 2), 2);
  check_geometry(geometry(1, 7, 6, 4, 3, 3, 2, 0, 3), 3);
  check_geometry(geometry(3, 4, 4, 3, 3, 1, 2, 2, 0), 2);
  check_geometry(geometry(2, 6, 13, 2, 6, 2, 4, 1, 5), 2);
}

TEST_CASE("upsample_nearest_kernel: host range() equals the per-index formula, any split, scales 2 and 3") {
  for (index_t scale : {2, 3}) {
    CAPTURE(scale);
    const index_t planes = 5, in_h = 3, in_w = 7, out_h = in_h * scale, out_w = in_w * scale;
    const index_t total = planes * out_h * out_w;
    const auto x = values(planes * in_h * in_w, 4);
    std::vector<float> want(std::size_t(total), -1.f);
    const nn::functional::detail::upsample_nearest_kernel<float> ref{x.data(), want.data(), out_h, out_w, scale};
    for (index_t i = 0; i < total; ++i) ref(i);
    for (const std::vector<index_t>& cuts :
         {std::vector<index_t>{}, std::vector<index_t>{1, out_w - 1, out_w + 2, 3 * out_w - 5, total - 1},
          std::vector<index_t>{5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 100}}) {
      std::vector<float> got(want.size(), -1.f);
      run_in_pieces(nn::functional::detail::upsample_nearest_kernel<float>{x.data(), got.data(), out_h, out_w, scale},
                    total, cuts);
      CHECK(got == want);
    }
  }
}

}  // namespace test_host_ranges
