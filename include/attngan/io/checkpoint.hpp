// attngan/io/checkpoint.hpp — the AttnGAN training state in one safetensors
// file, to resume training exactly; and the DAMSM encoder pair.
//
// A GAN checkpoint (save_checkpoint / load_checkpoint) holds everything a
// models::gan_trainer carries from one iteration to the next:
//   netG.<name>                 G's parameters and buffers (BatchNorm statistics)
//   netG_ema.<name>             the EMA average of G's parameters
//   netD<i>.<name>              each D's parameters and buffers
//   text_encoder.<name>         the frozen DAMSM encoders the trainer uses
//   image_encoder.<name>
//   optimizerG.exp_avg.<name>   Adam's first and second moments per parameter,
//   optimizerG.exp_avg_sq.<name>  its step count (I64) and learning rate (F64)
//   optimizerG.step, optimizerG.lr
//   optimizerD<i>.…             the same for each D's Adam
//   noise.seed, noise.offset    the trainer's noise generator (U64)
//   train.step, train.epoch     the caller's counters (I64)
// and as metadata: format "attngan.gan_checkpoint", format_version "1",
// preset — every constant of the Preset, "name=value;…" — and the caller's
// strings (its configuration name under "config", the vocabulary as JSON, …).
//
// Loading checks the file completely before changing anything: the format,
// the preset (a checkpoint of another preset names the constants that
// differ), the caller's expected configuration name, then every key — one
// error lists all missing, unexpected and mis-shaped keys. With the same
// batches, a trainer loaded from a checkpoint continues bitwise as the saved
// one would have.
//
// A DAMSM checkpoint (save_damsm / load_damsm) holds text_encoder.<name> and
// image_encoder.<name> with format "attngan.damsm"; words_to_json /
// words_from_json put the vocabulary into its metadata, and load_damsm checks
// that the text encoder's embedding has a row for every word (a compile-time
// preset may embed more words than a dataset has: the rest are never used).
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "attngan/core/error.hpp"
#include "attngan/io/safetensors.hpp"
#include "attngan/io/state_dict.hpp"
#include "attngan/models/attngan/trainer.hpp"

namespace attngan::io {

/// The counters and strings a caller stores with a GAN checkpoint.
struct checkpoint_info {
  std::int64_t step = 0;   ///< iterations done
  std::int64_t epoch = 0;  ///< epochs done
  /// The caller's metadata: "config" (its configuration's name, checked on
  /// load when asked), "vocabulary" (words_to_json), anything else. The keys
  /// "format", "format_version" and "preset" are the library's.
  std::map<std::string, std::string> metadata;
};

inline constexpr std::string_view gan_checkpoint_format = "attngan.gan_checkpoint";
inline constexpr std::string_view damsm_checkpoint_format = "attngan.damsm";

namespace detail {
inline std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
}  // namespace detail

/// Every constant of a preset as "name=value;…" (the "preset" metadata).
template <class P>
std::string preset_fingerprint() {
  using detail::number;
  std::string s;
  auto add = [&](const char* name, const std::string& value) { s += detail::cat(s.empty() ? "" : ";", name, "=", value); };
  add("n_words", number(P::n_words));
  add("word_dim", number(P::word_dim));
  add("nef", number(P::nef));
  add("words_num", number(P::words_num));
  add("text_dropout", number(P::text_dropout));
  add("z_dim", number(P::z_dim));
  add("cond_dim", number(P::cond_dim));
  add("gf_dim", number(P::gf_dim));
  add("df_dim", number(P::df_dim));
  add("r_num", number(P::r_num));
  add("branch_num", number(P::branch_num));
  add("base_size", number(P::base_size));
  add("gamma1", number(P::gamma1));
  add("gamma2", number(P::gamma2));
  add("gamma3", number(P::gamma3));
  add("lambda", number(P::lambda));
  add("kl_weight", number(P::kl_weight));
  add("lr_g", number(P::lr_g));
  add("lr_d", number(P::lr_d));
  add("beta1", number(P::beta1));
  add("beta2", number(P::beta2));
  add("ema_decay", number(P::ema_decay));
  add("damsm_input_size", number(P::damsm_input_size));
  add("attn_mask_mode", P::attn_mask_mode == models::mask_mode::official ? "official" : "correct");
  return s;
}

namespace detail {
/// "a=1;b=2" → {a: 1, b: 2}.
inline std::map<std::string, std::string> split_fingerprint(const std::string& s) {
  std::map<std::string, std::string> out;
  std::size_t at = 0;
  while (at < s.size()) {
    std::size_t end = s.find(';', at);
    if (end == std::string::npos) end = s.size();
    const std::string item = s.substr(at, end - at);
    const std::size_t eq = item.find('=');
    out[item.substr(0, eq)] = eq == std::string::npos ? std::string() : item.substr(eq + 1);
    at = end + 1;
  }
  return out;
}

/// value_error unless f's metadata says `format`, version 1.
inline void check_format(const safetensors_file& f, std::string_view format, const char* op) {
  const auto it = f.metadata.find("format");
  const std::string where = f.source().empty() ? std::string() : "'" + f.source() + "': ";
  if (it == f.metadata.end() || it->second != format)
    throw value_error(op, cat(where, "not an ", format, " file (metadata format is '",
                              it == f.metadata.end() ? std::string("absent") : it->second, "')"));
  const auto v = f.metadata.find("format_version");
  if (v == f.metadata.end() || v->second != "1")
    throw value_error(op, cat(where, "format_version '", v == f.metadata.end() ? std::string("absent") : v->second,
                              "' is not the supported '1'"));
}

/// value_error when the caller expects a configuration name the file does not carry.
inline void check_config(const safetensors_file& f, std::string_view expected, const char* op) {
  if (expected.empty()) return;
  const auto it = f.metadata.find("config");
  const std::string where = f.source().empty() ? std::string() : "'" + f.source() + "': ";
  const std::string got = it == f.metadata.end() ? std::string("(none)") : "'" + it->second + "'";
  if (it == f.metadata.end() || it->second != expected)
    throw value_error(op, cat(where, "the checkpoint is of configuration ", got, ", not '", expected, "'"));
}

inline void set_library_metadata(safetensors_file& f, const std::map<std::string, std::string>& caller,
                                 std::string_view format, const char* op) {
  for (const char* reserved : {"format", "format_version", "preset"})
    if (caller.count(reserved))
      throw value_error(op, cat("the metadata key '", reserved, "' is the library's"));
  f.metadata = caller;
  f.metadata["format"] = std::string(format);
  f.metadata["format_version"] = "1";
}
}  // namespace detail

// ------------------------------------------------------------------ GAN training state

/// The trainer's whole state (see the header note) into `f`.
template <class Preset, class ImageSpec, real T, backend B>
void put_checkpoint(safetensors_file& f, models::gan_trainer<Preset, ImageSpec, T, B>& tr, const checkpoint_info& info) {
  detail::set_library_metadata(f, info.metadata, gan_checkpoint_format, "io::save_checkpoint");
  f.metadata["preset"] = preset_fingerprint<Preset>();
  auto& g = tr.generator_network();
  put_state(f, g, "netG.");
  put_slots(f, parameter_slots(g, tr.average().average(), "netG_ema."));
  put_state(f, tr.text_encoder_network(), "text_encoder.");
  put_state(f, tr.image_encoder_network(), "image_encoder.");
  auto put_adam = [&](auto& net, optim::adam<T, B>& adam, const std::string& name) {
    put_slots(f, parameter_slots(net, adam.first_moment(), name + ".exp_avg."));
    put_slots(f, parameter_slots(net, adam.second_moment(), name + ".exp_avg_sq."));
    f.put_scalar(name + ".step", std::int64_t(adam.steps()));
    f.put_scalar(name + ".lr", double(adam.options().lr));
  };
  put_adam(g, tr.generator_optimiser(), "optimizerG");
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((put_state(f, tr.template discriminator<I>(), "netD" + std::to_string(I) + "."),
      put_adam(tr.template discriminator<I>(), tr.discriminator_optimiser(I), "optimizerD" + std::to_string(I))),
     ...);
  }(std::make_index_sequence<std::size_t(Preset::branch_num)>{});
  f.put_scalar("noise.seed", std::uint64_t(tr.noise_generator().seed()));
  f.put_scalar("noise.offset", std::uint64_t(tr.noise_generator().offset()));
  f.put_scalar("train.step", std::int64_t(info.step));
  f.put_scalar("train.epoch", std::int64_t(info.epoch));
}

/// Restores the trainer from `f` and returns the caller's counters and
/// metadata. Checks everything first (format, preset, `expected_config` when
/// not empty, every key; value_error listing what does not match) and
/// changes nothing when a check fails.
template <class Preset, class ImageSpec, real T, backend B>
checkpoint_info load_checkpoint(const safetensors_file& f, models::gan_trainer<Preset, ImageSpec, T, B>& tr,
                                std::string_view expected_config = {}) {
  const char* op = "io::load_checkpoint";
  detail::check_format(f, gan_checkpoint_format, op);
  const std::string where = f.source().empty() ? std::string() : "'" + f.source() + "': ";
  const auto preset_it = f.metadata.find("preset");
  const std::string mine = preset_fingerprint<Preset>();
  if (preset_it == f.metadata.end()) throw value_error(op, where + "no preset in the metadata");
  if (preset_it->second != mine) {
    const auto theirs = detail::split_fingerprint(preset_it->second), ours = detail::split_fingerprint(mine);
    std::string diff;
    for (const auto& [k, v] : ours) {
      const auto it = theirs.find(k);
      if (it == theirs.end() || it->second != v)
        diff += detail::cat(diff.empty() ? "" : ", ", k, " ", it == theirs.end() ? std::string("absent") : it->second,
                            " (this trainer: ", v, ")");
    }
    for (const auto& [k, v] : theirs)
      if (!ours.count(k)) diff += detail::cat(diff.empty() ? "" : ", ", k, " ", v, " (unknown here)");
    throw value_error(op, detail::cat(where, "the checkpoint is of another preset: ", diff));
  }
  detail::check_config(f, expected_config, op);

  auto& g = tr.generator_network();
  std::vector<state_slot<T, B>> slots = network_slots(g, "netG.");
  auto append = [&](std::vector<state_slot<T, B>>&& more) {
    for (auto& s : more) slots.push_back(std::move(s));
  };
  append(parameter_slots(g, tr.average().average(), "netG_ema."));
  append(network_slots(tr.text_encoder_network(), "text_encoder."));
  append(network_slots(tr.image_encoder_network(), "image_encoder."));
  std::vector<std::string> scalars_i64{"train.step", "train.epoch"};
  std::vector<std::string> prefixes{"netG.", "netG_ema.", "text_encoder.", "image_encoder.", "optimizerG.", "noise.",
                                    "train."};
  auto adam_slots = [&](auto& net, optim::adam<T, B>& adam, const std::string& name) {
    append(parameter_slots(net, adam.first_moment(), name + ".exp_avg."));
    append(parameter_slots(net, adam.second_moment(), name + ".exp_avg_sq."));
    scalars_i64.push_back(name + ".step");
  };
  adam_slots(g, tr.generator_optimiser(), "optimizerG");
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((append(network_slots(tr.template discriminator<I>(), "netD" + std::to_string(I) + ".")),
      adam_slots(tr.template discriminator<I>(), tr.discriminator_optimiser(I), "optimizerD" + std::to_string(I)),
      prefixes.push_back("netD" + std::to_string(I) + "."), prefixes.push_back("optimizerD" + std::to_string(I) + ".")),
     ...);
  }(std::make_index_sequence<std::size_t(Preset::branch_num)>{});

  state_check check;
  check.check_slots(f, slots);
  std::unordered_set<std::string> expected;
  for (const auto& s : slots) expected.insert(s.name);
  for (const auto& name : scalars_i64) {
    check.check_scalar(f, name, dtype::i64);
    expected.insert(name);
  }
  std::vector<std::string> lrs{"optimizerG.lr"};
  for (int i = 0; i < Preset::branch_num; ++i) lrs.push_back("optimizerD" + std::to_string(i) + ".lr");
  for (const auto& name : lrs) {
    check.check_scalar(f, name, dtype::f64);
    expected.insert(name);
  }
  for (const char* name : {"noise.seed", "noise.offset"}) {
    check.check_scalar(f, name, dtype::u64);
    expected.insert(name);
  }
  check.check_unexpected(f, prefixes, expected);
  check.throw_if_failed(op, f.source(), "the GAN training state");

  // Everything matches: write.
  write_slots(f, slots);
  tr.generator_optimiser().set_steps(f.scalar<std::int64_t>("optimizerG.step"));
  tr.generator_optimiser().set_lr(f.scalar<double>("optimizerG.lr"));
  for (int i = 0; i < Preset::branch_num; ++i) {
    auto& adam = tr.discriminator_optimiser(std::size_t(i));
    adam.set_steps(f.scalar<std::int64_t>("optimizerD" + std::to_string(i) + ".step"));
    adam.set_lr(f.scalar<double>("optimizerD" + std::to_string(i) + ".lr"));
  }
  tr.noise_generator() = attngan::generator(f.scalar<std::uint64_t>("noise.seed"), f.scalar<std::uint64_t>("noise.offset"));
  checkpoint_info info;
  info.step = f.scalar<std::int64_t>("train.step");
  info.epoch = f.scalar<std::int64_t>("train.epoch");
  info.metadata = f.metadata;
  for (const char* reserved : {"format", "format_version", "preset"}) info.metadata.erase(reserved);
  return info;
}

/// Writes the trainer's state to `path` atomically.
template <class Preset, class ImageSpec, real T, backend B>
void save_checkpoint(const std::filesystem::path& path, models::gan_trainer<Preset, ImageSpec, T, B>& tr,
                     const checkpoint_info& info) {
  safetensors_file f;
  put_checkpoint(f, tr, info);
  write_safetensors(path, f);
}

/// Reads `path` and restores the trainer from it (see the overload above).
template <class Preset, class ImageSpec, real T, backend B>
checkpoint_info load_checkpoint(const std::filesystem::path& path, models::gan_trainer<Preset, ImageSpec, T, B>& tr,
                                std::string_view expected_config = {}) {
  return load_checkpoint(read_safetensors(path), tr, expected_config);
}

// ------------------------------------------------------------------ DAMSM encoders

/// A word list as a JSON array of strings (for the "vocabulary" metadata).
inline std::string words_to_json(const std::vector<std::string>& words) {
  try {
    return nlohmann::json(words).dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::exception& e) {
    throw value_error("io::words_to_json", detail::cat("a word is not UTF-8 (", e.what(), ")"));
  }
}

/// The word list of words_to_json; value_error when `json` is not an array of strings.
inline std::vector<std::string> words_from_json(const std::string& json) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    throw value_error("io::words_from_json", detail::cat("not JSON (", e.what(), ")"));
  }
  if (!j.is_array()) throw value_error("io::words_from_json", "not a JSON array");
  std::vector<std::string> words;
  for (const auto& w : j) {
    if (!w.is_string()) throw value_error("io::words_from_json", detail::cat("element ", words.size(), " is not a string"));
    words.push_back(w.get<std::string>());
  }
  return words;
}

/// The text and image encoder into `path` atomically, with the caller's
/// metadata ("vocabulary": words_to_json(...), "config", ...).
template <class TextSpec, class ImageSpec, real T, backend B>
void save_damsm(const std::filesystem::path& path, nn::network<TextSpec, T, B>& text,
                nn::network<ImageSpec, T, B>& image, const std::map<std::string, std::string>& metadata = {}) {
  safetensors_file f;
  detail::set_library_metadata(f, metadata, damsm_checkpoint_format, "io::save_damsm");
  put_state(f, text, "text_encoder.");
  put_state(f, image, "image_encoder.");
  write_safetensors(path, f);
}

/// Loads both encoders from `f` (all-or-nothing) and returns the caller's
/// metadata. value_error for another format, a configuration other than
/// `expected_config` (when not empty), a "vocabulary" with more words than the
/// text encoder's, or keys that do not match (all listed).
template <class TextSpec, class ImageSpec, real T, backend B>
std::map<std::string, std::string> load_damsm(const safetensors_file& f, nn::network<TextSpec, T, B>& text,
                                              nn::network<ImageSpec, T, B>& image,
                                              std::string_view expected_config = {}) {
  const char* op = "io::load_damsm";
  detail::check_format(f, damsm_checkpoint_format, op);
  detail::check_config(f, expected_config, op);
  if constexpr (requires { TextSpec::vocabulary; }) {
    const auto it = f.metadata.find("vocabulary");
    if (it != f.metadata.end()) {
      const auto words = words_from_json(it->second);
      if (words.size() > std::size_t(TextSpec::vocabulary))
        throw value_error(op, detail::cat(f.source().empty() ? std::string() : "'" + f.source() + "': ",
                                          "the vocabulary has ", words.size(), " words, the text encoder embeds only ",
                                          TextSpec::vocabulary));
    }
  }
  auto slots = network_slots(text, "text_encoder.");
  for (auto& s : network_slots(image, "image_encoder.")) slots.push_back(std::move(s));
  state_check check;
  check.check_slots(f, slots);
  std::unordered_set<std::string> expected;
  for (const auto& s : slots) expected.insert(s.name);
  check.check_unexpected(f, {""}, expected);
  check.throw_if_failed(op, f.source(), "the DAMSM encoders' state");
  write_slots(f, slots);
  auto meta = f.metadata;
  meta.erase("format");
  meta.erase("format_version");
  return meta;
}

template <class TextSpec, class ImageSpec, real T, backend B>
std::map<std::string, std::string> load_damsm(const std::filesystem::path& path, nn::network<TextSpec, T, B>& text,
                                              nn::network<ImageSpec, T, B>& image,
                                              std::string_view expected_config = {}) {
  return load_damsm(read_safetensors(path), text, image, expected_config);
}

}  // namespace attngan::io
