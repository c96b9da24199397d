// Networks: names in PyTorch order, one arena, modes, initialisation, errors.
#include "test_support.hpp"

#include <attngan/nn.hpp>

namespace test_modules {

using namespace attngan;
using namespace attngan::test;

namespace {
template <int In, int Out>
using up_block = nn::sequential<nn::upsample_nearest<2>, nn::conv3x3<In, 2 * Out>, nn::batch_norm2d<2 * Out>, nn::glu>;

// A named block, as model code writes them: members visited by name.
struct res_block_spec {
  static constexpr int in_channels = 8;
  static constexpr int out_channels_for(int) { return 8; }
  template <real T, backend B>
  struct module {
    nn::module_of<nn::sequential<nn::conv3x3<8, 16>, nn::batch_norm2d<16>, nn::glu, nn::conv3x3<8, 8>,
                                 nn::batch_norm2d<8>>, T, B>
        block;
    template <class V>
    void visit(V& v) {
      v.child("block", block);
    }
    var<T, B> operator()(const var<T, B>& x) const { return x + block(x); }
  };
};
}  // namespace

TEST_CASE("parameter and buffer names follow PyTorch's state_dict, Sequential indices included") {
  generator rng(1);
  nn::network<nn::sequential<up_block<8, 4>, res_block_spec>, float, cpu> net(rng);
  std::vector<std::string> names;
  for (const auto& e : net.entries()) names.push_back(e.name);
  const std::vector<std::string> expected = {
      "0.1.weight",         "0.2.weight",         "0.2.bias",           "0.2.running_mean",
      "0.2.running_var",    "1.block.0.weight",   "1.block.1.weight",   "1.block.1.bias",
      "1.block.1.running_mean", "1.block.1.running_var", "1.block.3.weight", "1.block.4.weight",
      "1.block.4.bias",     "1.block.4.running_mean", "1.block.4.running_var"};
  CHECK(names == expected);
  // parameters only, contiguous in one arena
  CHECK(net.parameter_count() == 8 * 8 * 9 + 2 * 8 + 8 * 16 * 9 + 2 * 16 + 8 * 8 * 9 + 2 * 8);
  CHECK(net.parameters().size() == 9);
  const float* arena = net.parameter_arena().data();
  index_t offset = 0;
  for (const auto& p : net.parameters()) {
    CHECK(p.value().data() == arena + offset);
    offset += p.numel();
  }
}

TEST_CASE("PyTorch default initialisation: conv/linear U(-1/sqrt(fan_in), ..), batch norm 1 and 0") {
  generator rng(2);
  nn::network<nn::sequential<nn::conv3x3<16, 32>, nn::batch_norm2d<32>>, float, cpu> net(rng);
  auto w = net.state("0.weight").to_vector();
  const float bound = 1.f / std::sqrt(16.f * 9.f);
  CHECK(*std::max_element(w.begin(), w.end()) <= bound);
  CHECK(*std::min_element(w.begin(), w.end()) >= -bound);
  CHECK(*std::max_element(w.begin(), w.end()) > 0.9f * bound);  // actually spread over the range
  CHECK(net.state("1.weight").to_vector() == std::vector<float>(32, 1.f));
  CHECK(net.state("1.bias").to_vector() == std::vector<float>(32, 0.f));
  CHECK(net.state("1.running_var").to_vector() == std::vector<float>(32, 1.f));
  // the same seed gives the same parameters
  generator again(2);
  nn::network<nn::sequential<nn::conv3x3<16, 32>, nn::batch_norm2d<32>>, float, cpu> twin(again);
  CHECK(twin.state("0.weight").to_vector() == w);
}

TEST_CASE("gradients accumulate in the network's arena, and zero_grad is one fill") {
  generator rng(3);
  nn::network<nn::sequential<nn::linear<4, 3>, nn::tanh>, float, cpu> net(rng);
  vf x = vf::leaf(randn<float>(shape(5, 4), 1));
  backward(sum(net(x)));
  auto first = net.gradient_arena().to_vector();
  CHECK(std::any_of(first.begin(), first.end(), [](float g) { return g != 0.f; }));
  backward(sum(net(x)));
  auto twice = net.gradient_arena().to_vector();
  for (std::size_t i = 0; i < first.size(); ++i) CHECK(twice[i] == doctest::Approx(2 * first[i]));
  net.zero_grad();
  auto zero = net.gradient_arena().to_vector();
  CHECK(std::all_of(zero.begin(), zero.end(), [](float g) { return g == 0.f; }));
}

TEST_CASE("train/eval switches batch norm between batch and running statistics") {
  generator rng(4);
  nn::network<nn::batch_norm2d<2>, float, cpu> net(rng);
  vf x0 = vf::leaf(randn<float>(shape(4, 2, 3, 3), 5));
  vf x = x0 * 3.f + 1.f;
  net.eval();
  CHECK_FALSE(net.training());
  vf y_eval = net(x);  // running stats (0, 1): y = x / sqrt(1 + eps)
  CHECK(y_eval.item(7) == doctest::Approx(x.item(7) / std::sqrt(1.f + 1e-5f)));
  CHECK(net.state("running_mean").to_vector() == std::vector<float>{0.f, 0.f});  // unchanged in eval
  net.train();
  vf y_train = net(x);
  vf m = mean(y_train, {0, 2, 3});
  CHECK(std::abs(m.item(0)) < 1e-5f);
  CHECK(net.state("running_mean").item(0) != 0.f);  // momentum update
}

TEST_CASE("layers reject wrong shapes with errors naming the layer and the shapes") {
  generator rng(5);
  nn::network<nn::conv3x3<3, 4>, float, cpu> conv(rng);
  vf wrong = vf::leaf(tcpu<float>::zeros(shape(1, 2, 5, 5)));
  CHECK_THROWS_WITH_AS(conv(wrong), "conv2d: input (1, 2, 5, 5) has 2 channels, weight (4, 3, 3, 3) expects 3",
                       shape_error);
  nn::network<nn::linear<4, 2>, float, cpu> lin(rng);
  CHECK_THROWS_WITH_AS(lin(wrong), "linear: expects (N, 4), got (1, 2, 5, 5)", shape_error);
  nn::network<nn::batch_norm2d<3>, float, cpu> bn(rng);
  CHECK_THROWS_WITH_AS(bn(vf::leaf(tcpu<float>::zeros(shape(1, 3, 1, 1)))),
                       "batch_norm: training needs more than one value per channel, got (1, 3, 1, 1)", value_error);
  CHECK_THROWS_WITH_AS(bn(wrong), "batch_norm: expects (N, 3, H, W), got (1, 2, 5, 5)", shape_error);
  nn::network<nn::batch_norm1d<3>, float, cpu> bn1(rng);
  CHECK_THROWS_WITH_AS(bn1(wrong), "batch_norm: expects (N, 3), got (1, 2, 5, 5)", shape_error);
  nn::network<nn::glu, float, cpu> glu(rng);
  CHECK_THROWS_WITH_AS(glu(vf::leaf(tcpu<float>::zeros(shape(1, 3, 2, 2)))),
                       "glu: needs an even number of channels, got (1, 3, 2, 2)", shape_error);
  CHECK_THROWS_WITH_AS((void)conv.state("bias"), "network::state: no parameter or buffer named 'bias'", value_error);
}

TEST_CASE("orthogonal initialisation gives orthonormal rows or columns") {
  generator rng(6);
  for (auto s : {shape(4, 7), shape(7, 4), shape(3, 2, 2)}) {
    CAPTURE(s);
    vd w = vd::leaf(tcpu<double>::zeros(s));
    nn::init::orthogonal(w, rng, 1.0);
    const index_t rows = s[0], cols = s.numel() / rows;
    auto v = w.value().to_vector();
    const bool wide = rows <= cols;  // rows orthonormal; else columns
    const index_t n = wide ? rows : cols, len = wide ? cols : rows;
    for (index_t i = 0; i < n; ++i)
      for (index_t j = 0; j < n; ++j) {
        double dot = 0;
        for (index_t k = 0; k < len; ++k)
          dot += wide ? v[std::size_t(i * cols + k)] * v[std::size_t(j * cols + k)]
                      : v[std::size_t(k * cols + i)] * v[std::size_t(k * cols + j)];
        CHECK(dot == doctest::Approx(i == j ? 1.0 : 0.0).epsilon(1e-9).scale(1.0));
      }
  }
}

TEST_CASE("use_parameters points the modules at other vars, and back") {
  generator rng(8);
  nn::network<nn::sequential<nn::linear<3, 2>, nn::tanh>, float, cpu> net(rng);
  vf x = vf::leaf(randn<float>(shape(4, 3), 9));
  const auto own = net(x).value().to_vector();
  std::vector<vf> other;
  for (const auto& p : net.parameters()) other.push_back(vf::leaf(tcpu<float>::full(p.shape(), 0.25f), true));
  net.use_parameters(other);
  vf y = net(x);
  CHECK(y.value().to_vector() != own);
  backward(sum(y));
  CHECK(other[0].has_grad());  // the gradient reaches the substituted leaves
  CHECK(other[1].has_grad());
  net.use_own_parameters();
  CHECK(net(x).value().to_vector() == own);
  CHECK_THROWS_AS(net.use_parameters({other[0]}), value_error);
  std::vector<vf> wrong{other[1], other[0]};
  CHECK_THROWS_AS(net.use_parameters(wrong), shape_error);
}

}  // namespace test_modules
