// 06_generate — images from your own sentences with a trained AttnGAN.
//
//   06_generate --checkpoint runs/demo/checkpoint.safetensors --out out
//               --sentence "a small bird with a red crown and a blue belly"
//   06_generate --checkpoint ... --file sentences.txt --out out
//   06_generate --pth-generator bird_AttnGAN2.pth --pth-text-encoder text_encoder200.pth
//               --captions-pickle birds/captions.pickle --sentence "..." --out out
//
// The second form runs the original's released bird model (spec §13): the
// three-stage generator to 256² and the bird text encoder, read from the
// PyTorch files themselves (io/torch_import.hpp), with the vocabulary of the
// released captions.pickle (its word order is the embedding's).
//
// Writes for sentence N (1-based, in input order): NNN_stageS.png for every
// stage, and one page generated.html with every sentence's attention figure
// (each stage's image, and every word's attention map over it, as in the
// paper's figures). Words the model does not know are dropped with a
// warning; a sentence with no known word is an error. The generator runs in
// eval mode (BatchNorm running statistics) with fresh z and CA noise from
// --seed, as the original's sampling does.
#include "attngan_app.hpp"

#include <attngan/io/torch_import.hpp>

#include <CLI/CLI.hpp>

#include <fstream>

using namespace app;

namespace {

/// What generation needs to write its files, from either kind of model.
struct generated {
  models::generator_output<T, B> out;
  encoded_sentences text;
  data::vocabulary vocab;
  std::string model;  ///< for the page
};

void warn_unknown(const encoded_sentences& e) {
  for (std::size_t i = 0; i < e.unknown.size(); ++i)
    if (!e.unknown[i].empty()) {
      std::string list;
      for (const auto& w : e.unknown[i]) list += (list.empty() ? "" : ", ") + w;
      std::fprintf(stderr, "warning: sentence %zu: unknown words dropped: %s\n", i + 1, list.c_str());
    }
}

/// The released bird model: generator_for<bird_preset> and its text encoder
/// from the original .pth files, eval mode, z and CA noise from `seed`.
generated generate_with_released_bird(const std::string& g_file, const std::string& text_file,
                                      const std::string& captions_file, const std::vector<std::string>& sentences,
                                      std::uint64_t seed) {
  using bird = models::bird_preset;
  generator rng(seed);
  nn::network<models::text_encoder_for<bird>, T, B> text(rng);
  nn::network<models::generator_for<bird>, T, B> g(rng);
  std::printf("reading %s and %s\n", text_file.c_str(), g_file.c_str());
  std::fflush(stdout);
  io::load_into(text, io::load_torch_state_dict(text_file));
  io::load_into(g, io::load_torch_state_dict(g_file));
  const auto pickle = data::read_captions_pickle(captions_file);
  if (int(pickle.ixtoword.size()) != bird::n_words)
    throw value_error("generate", attngan::detail::cat("'", captions_file, "' has ", pickle.ixtoword.size(),
                                                       " words; the released bird encoder embeds ", bird::n_words));
  generated r;
  r.vocab = data::vocabulary(pickle.ixtoword);
  r.text = encode_sentences(r.vocab, sentences, 25);  // TEXT.WORDS_NUM at evaluation
  warn_unknown(r.text);
  text.eval();
  g.eval();
  no_grad_guard guard;
  const auto t = text(r.text.text.captions, r.text.text.lengths);
  const auto mask = models::padding_mask<T, B>(r.text.text.lengths, t.words.shape()[2]);
  const index_t n = index_t(sentences.size());
  const auto z = var<T, B>::leaf(rng.normal<T, B>(shape(n, bird::z_dim)));
  const auto eps = var<T, B>::leaf(rng.normal<T, B>(shape(n, bird::cond_dim)));
  r.out = g(z, t.sent, t.words, &mask, eps, bird::attn_mask_mode);
  r.model = attngan::detail::cat("released bird model ", g_file, " with ", text_file);
  return r;
}

}  // namespace

// Built alone this is main(); examples/programs.cpp builds the four programs
// in one translation unit (one instantiation of the model) under other names.
#ifndef ATTNGAN_PROGRAM_MAIN
#define ATTNGAN_PROGRAM_MAIN main
#endif

int ATTNGAN_PROGRAM_MAIN(int argc, char** argv) {
  CLI::App cli{"Generates images (every stage) and attention maps from sentences with a trained small AttnGAN."};
  std::string checkpoint, file, out = "generated", pth_g, pth_text, captions_pickle;
  std::vector<std::string> sentences;
  std::uint64_t seed = 100;
  bool average = false;
  auto* ours = cli.add_option("--checkpoint", checkpoint, "checkpoint.safetensors from 05_train_attngan");
  auto* released = cli.add_option("--pth-generator", pth_g, "The original's bird generator (bird_AttnGAN2.pth) instead");
  auto* released_text =
      cli.add_option("--pth-text-encoder", pth_text, "With --pth-generator: its text encoder (text_encoder200.pth)");
  auto* released_vocab = cli.add_option("--captions-pickle", captions_pickle,
                                        "With --pth-generator: the released captions.pickle (the vocabulary)");
  ours->excludes(released);
  released->needs(released_text)->needs(released_vocab);
  released_text->needs(released);
  released_vocab->needs(released);
  cli.add_option("--sentence", sentences, "A sentence (repeatable)");
  cli.add_option("--file", file, "A text file with one sentence per line");
  cli.add_option("--out", out, "Output folder")->capture_default_str();
  cli.add_option("--seed", seed, "Seed of the noise z and the CA noise")->capture_default_str();
  cli.add_flag("--average", average, "Use the running average of G (default: G itself)")->excludes(released);
  CLI11_PARSE(cli, argc, argv);
  if (checkpoint.empty() && pth_g.empty()) {
    std::fprintf(stderr, "06_generate: error: --checkpoint is required (or --pth-generator with its files); see --help\n");
    return 1;
  }

  try {
    announce_device();
    if (!file.empty()) {
      std::ifstream in(file);
      if (!in) throw io_error("generate", attngan::detail::cat("cannot read '", file, "'"));
      for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") != std::string::npos) sentences.push_back(line);
      }
      if (sentences.empty()) throw value_error("generate", attngan::detail::cat("'", file, "' has no sentence"));
    }
    if (sentences.empty()) throw value_error("generate", "give --sentence or --file (see --help)");
    for (std::size_t i = 0; i < sentences.size(); ++i)
      if (sentences[i].find_first_not_of(" \t") == std::string::npos)
        throw value_error("generate", attngan::detail::cat("sentence ", i + 1, " is empty"));

    generated r;
    const fs::path dir(out);
    if (!checkpoint.empty()) {
      generator rng(seed);
      gan_trainer trainer(rng, false);
      const auto loaded = load_training(checkpoint, trainer);
      r.vocab = loaded.vocab;
      r.text = encode_sentences(r.vocab, sentences, preset::words_num);
      r.model = attngan::detail::cat("checkpoint ", checkpoint, " (step ", loaded.info.step, "), ",
                                     average ? "averaged" : "raw", " generator");
      warn_unknown(r.text);
      r.out = trainer.generate(r.text.text.captions, r.text.text.lengths, std::nullopt, std::nullopt, average);
    } else {
      r = generate_with_released_bird(pth_g, pth_text, captions_pickle, sentences, seed);
    }
    const auto out_folder = ensure_writable_folder(dir);

    const auto& result = r.out;
    report::html_report page("attngan: generated images");
    page.add_paragraph(attngan::detail::cat(r.model, ", seed ", seed));
    for (std::size_t i = 0; i < sentences.size(); ++i) {
      const index_t row = index_t(r.text.rows[i]);
      for (std::size_t s = 0; s < result.images.size(); ++s) {
        char name[64];
        std::snprintf(name, sizeof name, "%03zu_stage%zu.png", i + 1, s + 1);
        data::write_png(dir / name, report::image_from_tensor(image_at(result.images[s].value(), row)));
      }
      add_attention_figure(page, result, row, sentences[i], r.vocab, r.text.text.captions,
                           r.text.text.lengths[std::size_t(row)]);
    }
    page.write(dir / "generated.html");
    std::printf("wrote %zu sentence%s x %zu stages and %s\n", sentences.size(), sentences.size() == 1 ? "" : "s",
                result.images.size(), (dir / "generated.html").c_str());
    return 0;
  } catch (const attngan::error& e) {
    std::fprintf(stderr, "06_generate: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "06_generate: unexpected error: %s\n", e.what());
    return 2;
  }
}
