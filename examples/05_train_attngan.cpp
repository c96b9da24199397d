// 05_train_attngan — trains the small AttnGAN on a CUB-layout dataset with
// pretrained DAMSM encoders (from 04_pretrain_damsm).
//
//   05_train_attngan --data data/birds --damsm runs/demo/damsm.safetensors --out runs/demo --steps 600
//
// Every iteration is the original's (spec §10.4): frozen encoders, each D on
// detached fakes, G through the updated D's with λ·DAMSM and the KL term,
// then the running average of G (decay --ema-decay, the original's 0.999 by
// default). Writes to --out:
//   checkpoint.safetensors  the whole training state (G, its average, the D's,
//                           Adam moments, noise generator, step), written
//                           atomically every --save-every steps, at the end
//                           and on Ctrl-C; --resume continues from it exactly
//   metrics.jsonl           one JSON object of loss terms per step
//   samples/step_NNNNNN.png fixed test captions through the raw G (through
//                           its running average with --sample-average), with
//   samples/captions.txt    the captions of the sheet, row by row
//   report.html             one self-contained page: loss curves, the latest
//                           sample sheet with its captions, attention maps
#include "attngan_app.hpp"

#include <CLI/CLI.hpp>

#include <fstream>

using namespace app;

namespace {

nlohmann::json metrics_of(std::size_t step, std::size_t epoch, const models::gan_step_losses& l, double seconds) {
  nlohmann::json j{{"step", step}, {"epoch", epoch}, {"seconds", seconds},  {"g_total", l.g_total},
                   {"w_loss0", l.w_loss0}, {"w_loss1", l.w_loss1}, {"s_loss0", l.s_loss0},
                   {"s_loss1", l.s_loss1}, {"kl", l.kl}};
  for (std::size_t i = 0; i < l.d.size(); ++i) {
    j["d" + std::to_string(i)] = l.d[i].total;
    j["g_uncond" + std::to_string(i)] = l.g_uncond[i];
    j["g_cond" + std::to_string(i)] = l.g_cond[i];
  }
  return j;
}

/// After a crash metrics.jsonl may hold steps past the checkpoint: keep the
/// lines up to `step` (rewritten atomically) so the resumed run appends
/// after them.
void keep_metrics_until(const fs::path& file, std::size_t step) {
  std::ifstream in(file);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("step")) break;  // a torn last line
    if (j["step"].get<std::size_t>() > step) break;
    kept += line + "\n";
  }
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << kept;
    if (!out) throw io_error("train", attngan::detail::cat("cannot write '", tmp.string(), "'"));
  }
  fs::rename(tmp, file);
}

}  // namespace

// Built alone this is main(); examples/programs.cpp builds the four programs
// in one translation unit (one instantiation of the model) under other names.
#ifndef ATTNGAN_PROGRAM_MAIN
#define ATTNGAN_PROGRAM_MAIN main
#endif

int ATTNGAN_PROGRAM_MAIN(int argc, char** argv) {
  CLI::App cli{"Trains the small AttnGAN (32x32 -> 64x64) with pretrained DAMSM encoders."};
  std::string data_dir, damsm_file, out = "runs/attngan";
  int steps = 600, batch_size = 32, workers = 1, sample_every = 100, save_every = 100, sheet = 16;
  std::uint64_t seed = 0;
  cli.add_option("--data", data_dir, "Dataset folder in the CUB layout")->required();
  cli.add_option("--damsm", damsm_file, "Encoders from 04_pretrain_damsm")->required();
  cli.add_option("--out", out, "Output folder")->capture_default_str();
  cli.add_option("--steps", steps, "Training iterations")->check(CLI::Range(1, 100000000))->capture_default_str();
  cli.add_option("--batch", batch_size, "Batch size")->check(CLI::Range(2, 4096))->capture_default_str();
  cli.add_option("--workers", workers, "Threads decoding images ahead of training")->check(CLI::Range(0, 64))->capture_default_str();
  cli.add_option("--sample-every", sample_every, "Steps between sample sheets")->check(CLI::Range(1, 100000000))->capture_default_str();
  cli.add_option("--save-every", save_every, "Steps between saves of the generator")->check(CLI::Range(1, 100000000))->capture_default_str();
  cli.add_option("--seed", seed, "Seed of the weights, the noise and the data order")->capture_default_str();
  models::gan_hyperparameters hyper = models::gan_hyperparameters::of<preset>();
  cli.add_option("--lr-g", hyper.lr_g, "Adam learning rate of the generator (TRAIN.GENERATOR_LR)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cli.add_option("--lr-d", hyper.lr_d, "Adam learning rate of the discriminators (TRAIN.DISCRIMINATOR_LR)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cli.add_option("--lambda", hyper.lambda, "Weight of the DAMSM loss in the generator's loss (TRAIN.SMOOTH.LAMBDA)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cli.add_option("--ema-decay", hyper.ema_decay,
                 "Decay of the running average of G's parameters (07_evaluate and 06_generate --average); 0.999 "
                 "lags a run of a few thousand steps, 0.99 follows it")
      ->check(CLI::Range(0.0, 0.999999))
      ->capture_default_str();
  bool no_flip = false;
  cli.add_flag("--no-flip", no_flip, no_flip_help);
  bool centre_crop = false;
  cli.add_flag("--centre-crop", centre_crop,
               "Crop every training image at the centre instead of at a random offset (the original's RandomCrop "
               "places one bird up to 3/16 of the image apart between epochs; the flips are unchanged)");
  bool sample_average = false;
  cli.add_flag("--sample-average", sample_average,
               "Draw the sample sheets and the report's images with the running average of G instead of the raw G "
               "(as 06_generate --average and 07_evaluate --average)");
  bool resume = false;
  cli.add_flag("--resume", resume,
               "Continue from <out>/checkpoint.safetensors (same data, batch size, seed, learning rates, lambda, "
               "average decay, flip and crop)");
  CLI11_PARSE(cli, argc, argv);

  try {
    announce_device();
    install_stop_handler();
    const fs::path dir(out);
    const auto out_folder = ensure_writable_folder(dir / "samples");
    const auto train = data::cub_dataset::open(data_dir, data::split::train);
    const auto test = data::cub_dataset::open(data_dir, data::split::test);
    data::loader_options lo;
    lo.batch_size = batch_size;
    lo.words_num = preset::words_num;
    lo.base_size = preset::base_size;
    lo.branches = stages;
    lo.workers = workers;
    lo.seed = seed;
    lo.flip = !no_flip;
    lo.shift = !centre_crop;
    data::batch_loader loader(train, lo);

    generator rng(seed);
    gan_trainer trainer(rng, true, hyper);
    const fs::path checkpoint = dir / "checkpoint.safetensors";
    const nlohmann::json run{{"seed", seed},          {"batch", batch_size},   {"data", fs::absolute(data_dir).string()},
                             {"lr_g", hyper.lr_g},    {"lr_d", hyper.lr_d},    {"lambda", hyper.lambda},
                             {"ema_decay", hyper.ema_decay}, {"flip", lo.flip},
                             {"shift", lo.shift}};
    std::size_t step = 0;
    data::vocabulary vocab;
    if (resume) {
      auto loaded = load_training(checkpoint, trainer);
      // Checkpoints from before the hyperparameters were options used the preset's.
      const auto defaults = models::gan_hyperparameters::of<preset>();
      const nlohmann::json& was = loaded.run;
      if (was.value("seed", seed + 1) != seed || was.value("batch", 0) != batch_size ||
          was.value("lr_g", defaults.lr_g) != hyper.lr_g || was.value("lr_d", defaults.lr_d) != hyper.lr_d ||
          was.value("lambda", defaults.lambda) != hyper.lambda ||
          was.value("ema_decay", defaults.ema_decay) != hyper.ema_decay || was.value("flip", true) != lo.flip ||
          was.value("shift", true) != lo.shift)
        throw value_error("train", attngan::detail::cat("'", checkpoint.string(), "' was trained with ", was.dump(),
                                                        "; resume with the same --seed, --batch, --lr-g, --lr-d, "
                                                        "--lambda, --ema-decay, --no-flip and --centre-crop"));
      step = std::size_t(loaded.info.step);
      vocab = std::move(loaded.vocab);
      std::printf("resuming from %s at step %zu\n", checkpoint.c_str(), step);
    } else {
      vocab = load_damsm(damsm_file, trainer.text_encoder_network(), trainer.image_encoder_network());
    }
    if (vocab.words() != train.vocab().words())
      throw value_error("train", attngan::detail::cat("the DAMSM file's vocabulary (", vocab.size(),
                                                      " words) is not the dataset's (", train.vocab().size(),
                                                      "): pretrain on this dataset"));
    trainer.text_encoder_network().eval();
    trainer.image_encoder_network().eval();

    // Fixed sample captions: the first caption of `sheet` test images spread over the split.
    std::vector<std::string> sample_captions;
    std::vector<std::size_t> picks;
    for (int i = 0; i < sheet; ++i) picks.push_back(std::size_t(i) * test.size() / std::size_t(sheet));
    for (std::size_t i : picks) sample_captions.push_back(vocab.decode(test.caption(i, 0)));
    {
      std::ofstream caps(dir / "samples" / "captions.txt");
      for (const auto& c : sample_captions) caps << c << "\n";
    }
    const encoded_sentences fixed = encode_sentences(vocab, sample_captions, preset::words_num);
    generator sample_noise(seed + 7);
    const auto fixed_z = sample_noise.normal<T, B>(shape(index_t(sheet), preset::z_dim));
    const auto fixed_eps = sample_noise.normal<T, B>(shape(index_t(sheet), preset::cond_dim));

    if (resume) keep_metrics_until(dir / "metrics.jsonl", step);
    else fs::remove(dir / "metrics.jsonl");
    std::ofstream metrics(dir / "metrics.jsonl", std::ios::app);
    if (!metrics) throw io_error("train", attngan::detail::cat("cannot open '", (dir / "metrics.jsonl").string(), "'"));

    const std::size_t per_epoch = loader.batches_per_epoch();  // same data and batch: the epoch follows from the step
    const auto save = [&](std::size_t at_step) {
      save_training(checkpoint, trainer, vocab, std::int64_t(at_step), std::int64_t(at_step / per_epoch), run);
    };
    // Samples of the fixed captions, and the report rebuilt around them.
    const auto write_samples = [&](std::size_t at_step) {
      const auto outs = trainer.generate(fixed.text.captions, fixed.text.lengths, fixed_z.clone(), fixed_eps.clone(),
                                         sample_average);
      const auto& last = outs.images.back().value();
      std::vector<report::sample> samples(static_cast<std::size_t>(sheet));
      std::vector<data::image> imgs(static_cast<std::size_t>(sheet));
      for (std::size_t row = 0; row < fixed.order.size(); ++row) {
        const std::size_t i = fixed.order[row];
        imgs[i] = report::image_from_tensor(image_at(last, index_t(row)));
        samples[i] = report::sample{imgs[i], sample_captions[i]};
      }
      char name[64];
      std::snprintf(name, sizeof name, "step_%06zu.png", at_step);
      data::write_png(dir / "samples" / name, app::sheet(imgs, 4));

      report::html_report page("attngan training: " + out);
      page.add_paragraph(attngan::detail::cat(config_name, " model, ", train.size(), " training images, batch ",
                                              batch_size, ", seed ", seed, ", lr_g ", hyper.lr_g, ", lr_d ",
                                              hyper.lr_d, ", lambda ", hyper.lambda, lo.flip ? "" : ", no flip",
                                              lo.shift ? "" : ", centre crop",
                                              "; step ", at_step, " of ",
                                              steps, "."));
      const auto curves = report::read_metrics_jsonl(dir / "metrics.jsonl", {"g_total", "d0", "d1", "w_loss0",
                                                                             "w_loss1", "s_loss0", "s_loss1", "kl"});
      page.add_loss_curves("losses", curves);
      page.add_sample_sheet(attngan::detail::cat("samples at step ", at_step, " (",
                                                 sample_average ? attngan::detail::cat("running average of G, decay ",
                                                                                       hyper.ema_decay)
                                                                : std::string("raw G"),
                                                 ", eval mode, fixed noise; test captions)"),
                            samples);
      page.add_heading("attention maps");
      for (std::size_t i = 0; i < std::min<std::size_t>(4, sample_captions.size()); ++i) {
        const std::size_t row = fixed.rows[i];
        add_attention_figure(page, outs, index_t(row), sample_captions[i], vocab, fixed.text.captions,
                             fixed.text.lengths[row]);
      }
      page.write(dir / "report.html");
    };

    std::printf("AttnGAN training (%s): %zu training images, batch %d, %zu steps per epoch, %d steps -> %s\n"
                "  lr_g %g, lr_d %g, lambda %g, average decay %g%s%s; samples from the %s\n",
                config_name, train.size(), batch_size, per_epoch, steps, out.c_str(), hyper.lr_g, hyper.lr_d,
                hyper.lambda, hyper.ema_decay, lo.flip ? "" : ", no random flip", lo.shift ? "" : ", centre crop",
                sample_average ? "running average of G" : "raw G");
    progress bar("step", std::size_t(steps), step);
    while (step < std::size_t(steps) && !stop_requested()) {
      const std::size_t epoch = step / per_epoch;
      loader.start_epoch(std::uint64_t(epoch));
      // A resumed run skips the batches of this epoch it had already trained on.
      for (std::size_t done = epoch * per_epoch; done < step; ++done)
        if (!loader.next()) break;
      while (step < std::size_t(steps) && !stop_requested()) {
        auto b = loader.next();
        if (!b) break;
        const text_batch t = text_of(*b);
        const auto l = trainer.step(on_backend(b->images), t.captions, t.lengths, t.class_ids);
        ++step;
        metrics << metrics_of(step, epoch, l, bar.seconds()).dump() << "\n";
        metrics.flush();
        bar.update(step, attngan::detail::cat("epoch ", epoch + 1, "  G ", l.g_total, "  D ", l.d.back().total));
        if (step % std::size_t(sample_every) == 0) write_samples(step);
        if (step % std::size_t(save_every) == 0) save(step);
      }
    }
    save(step);
    write_samples(step);
    std::printf("%s after %zu steps (%.1f s), saved %s\n", stop_requested() ? "stopped" : "done", step, bar.seconds(),
                checkpoint.c_str());
    return stop_requested() ? 130 : 0;
  } catch (const attngan::error& e) {
    std::fprintf(stderr, "05_train_attngan: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "05_train_attngan: unexpected error: %s\n", e.what());
    return 2;
  }
}
