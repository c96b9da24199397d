// attngan/nn/sequential.hpp — sequential<Specs...>: a flat typed list of layers.
//
// Children are named "0", "1", ... in order, as PyTorch's nn.Sequential
// names them (parameterless layers take an index too), so
// `sequential<upsample_nearest<2>, conv3x3<64, 64>, batch_norm2d<64>, glu>`
// has parameters "1.weight", "2.weight", "2.bias" and buffers
// "2.running_mean", "2.running_var". Consecutive layers must agree on
// channels; a mismatch is a compile error whose instantiation names both
// layers and both numbers.
//
// Adjacent layers can be computed together: where fuse_pair<A, B> is
// specialised (layers.hpp: upsample_nearest<2> then a 3×3 stride-1
// padding-1 conv2d), sequential calls its apply(a, b, x) in place of b(a(x)).
// Names and parameters stay those of the two layers.
#pragma once

#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "attngan/nn/module.hpp"

namespace attngan::nn {

namespace detail {

template <class Spec>
inline constexpr bool always_false = false;

/// Instantiated only for a mismatch, so that the compiler prints the two
/// layers and their channel counts in the instantiation context.
template <class Previous, int PreviousOutChannels, class Next, int NextInChannels>
struct channel_mismatch {
  static_assert(always_false<Previous>,
                "attngan::nn::sequential: a layer's output channels differ from the next layer's input "
                "channels; see channel_mismatch<previous layer, its output channels, next layer, its input "
                "channels> in the instantiation context");
  static constexpr bool value = false;
};

/// Folds the channel count through the list; 0 means "any" (e.g. before
/// the first layer that fixes it).
template <int Channels, class Previous, class... Specs>
struct check_channels {
  static constexpr int out = Channels;
  static constexpr bool ok = true;
};

template <int Channels, class Previous, class Spec, class... Rest>
struct check_channels<Channels, Previous, Spec, Rest...> {
  static constexpr bool match = Channels == 0 || Spec::in_channels == 0 || Spec::in_channels == Channels;
  // only a mismatch instantiates channel_mismatch (and its static_assert)
  static constexpr bool here =
      std::conditional_t<match, std::true_type, channel_mismatch<Previous, Channels, Spec, Spec::in_channels>>::value;
  static constexpr int in = Spec::in_channels != 0 ? Spec::in_channels : Channels;
  using next = check_channels<(in == 0 ? 0 : Spec::out_channels_for(in)), Spec, Rest...>;
  static constexpr int out = next::out;
  static constexpr bool ok = here && next::ok;
};

}  // namespace detail

/// Whether sequential computes layer A followed by layer B in one step:
/// specialisations set value = true and give
/// `static var<T, B> apply(const module_of<A, T, B>&, const module_of<B, T, B>&, const var<T, B>&)`.
template <class A, class B>
struct fuse_pair {
  static constexpr bool value = false;
};

template <class... Specs>
struct sequential {
  static_assert(sizeof...(Specs) > 0, "attngan::nn::sequential: give at least one layer");
  static_assert(detail::check_channels<0, void, Specs...>::ok);

  using first = std::tuple_element_t<0, std::tuple<Specs...>>;
  static constexpr int in_channels = first::in_channels;
  static constexpr int out_channels_for(int c) {
    return detail::check_channels<0, void, Specs...>::out != 0 ? detail::check_channels<0, void, Specs...>::out : c;
  }

  template <real T, backend B>
  struct module {
    std::tuple<module_of<Specs, T, B>...> layers;

    template <class V>
    void visit(V& v) {
      visit_each(v, std::index_sequence_for<Specs...>{});
    }
    var<T, B> operator()(const var<T, B>& x) const { return apply_from<0>(x); }

   private:
    template <class V, std::size_t... I>
    void visit_each(V& v, std::index_sequence<I...>) {
      (v.child(std::to_string(I), std::get<I>(layers)), ...);
    }
    using spec_list = std::tuple<Specs...>;
    template <std::size_t I>
    var<T, B> apply_from(const var<T, B>& y) const {
      if constexpr (I == sizeof...(Specs)) {
        return y;
      } else if constexpr (I + 1 < sizeof...(Specs)) {
        using pair = fuse_pair<std::tuple_element_t<I, spec_list>, std::tuple_element_t<I + 1, spec_list>>;
        if constexpr (pair::value)
          return apply_from<I + 2>(pair::apply(std::get<I>(layers), std::get<I + 1>(layers), y));
        else
          return apply_from<I + 1>(std::get<I>(layers)(y));
      } else {
        return apply_from<I + 1>(std::get<I>(layers)(y));
      }
    }
  };
};

}  // namespace attngan::nn
