// 06_generate — images from your own sentences with a trained AttnGAN.
//
//   06_generate --checkpoint runs/demo/checkpoint.safetensors --out out
//               --sentence "a small bird with a red crown and a blue belly"
//   06_generate --checkpoint ... --file sentences.txt --out out
//
// Writes for sentence N (1-based, in input order): NNN_stageS.png for every
// stage, and one page generated.html with every sentence's attention figure
// (each stage's image, and every word's attention map over it, as in the
// paper's figures). Words the model does not know are dropped with a
// warning; a sentence with no known word is an error. The generator runs in
// eval mode (BatchNorm running statistics) with fresh z and CA noise from
// --seed, as the original's sampling does.
#include "attngan_app.hpp"

#include <CLI/CLI.hpp>

#include <fstream>

using namespace app;

// Built alone this is main(); examples/programs.cpp builds the four programs
// in one translation unit (one instantiation of the model) under other names.
#ifndef ATTNGAN_PROGRAM_MAIN
#define ATTNGAN_PROGRAM_MAIN main
#endif

int ATTNGAN_PROGRAM_MAIN(int argc, char** argv) {
  CLI::App cli{"Generates images (every stage) and attention maps from sentences with a trained small AttnGAN."};
  std::string checkpoint, file, out = "generated";
  std::vector<std::string> sentences;
  std::uint64_t seed = 100;
  bool average = false;
  cli.add_option("--checkpoint", checkpoint, "checkpoint.safetensors from 05_train_attngan")->required();
  cli.add_option("--sentence", sentences, "A sentence (repeatable)");
  cli.add_option("--file", file, "A text file with one sentence per line");
  cli.add_option("--out", out, "Output folder")->capture_default_str();
  cli.add_option("--seed", seed, "Seed of the noise z and the CA noise")->capture_default_str();
  cli.add_flag("--average", average, "Use the running average of G (default: G itself)");
  CLI11_PARSE(cli, argc, argv);

  try {
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

    generator rng(seed);
    gan_trainer trainer(rng, false);
    const auto loaded = load_training(checkpoint, trainer);
    const encoded_sentences e = encode_sentences(loaded.vocab, sentences, preset::words_num);
    for (std::size_t i = 0; i < sentences.size(); ++i)
      if (!e.unknown[i].empty()) {
        std::string list;
        for (const auto& w : e.unknown[i]) list += (list.empty() ? "" : ", ") + w;
        std::fprintf(stderr, "warning: sentence %zu: unknown words dropped: %s\n", i + 1, list.c_str());
      }
    const fs::path dir(out);
    ensure_writable_folder(dir);

    const auto result = trainer.generate(e.text.captions, e.text.lengths, std::nullopt, std::nullopt, average);
    report::html_report page("attngan: generated images");
    page.add_paragraph(attngan::detail::cat("checkpoint ", checkpoint, " (step ", loaded.info.step, "), ",
                                            average ? "averaged" : "raw", " generator, seed ", seed));
    for (std::size_t i = 0; i < sentences.size(); ++i) {
      const index_t row = index_t(e.rows[i]);
      for (std::size_t s = 0; s < result.images.size(); ++s) {
        char name[64];
        std::snprintf(name, sizeof name, "%03zu_stage%zu.png", i + 1, s + 1);
        data::write_png(dir / name, report::image_from_tensor(image_at(result.images[s].value(), row)));
      }
      add_attention_figure(page, result, row, sentences[i], loaded.vocab, e.text.captions,
                           e.text.lengths[std::size_t(row)]);
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
