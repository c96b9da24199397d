// 04_pretrain_damsm — trains the DAMSM text and image encoders (spec §10.6)
// on a dataset in the CUB layout and writes them, with the vocabulary, to one
// safetensors file that 05_train_attngan, 06_generate and 07_evaluate read.
//
//   04_pretrain_damsm --data data/birds --out runs/demo/damsm.safetensors --epochs 30
//
// As the original: the whole text encoder is trained, Adam (0.5, 0.999)
// re-created every epoch with lr 0.002 decayed by 0.98 per epoch, the text
// encoder's gradient norm clipped at 0.25, loss w0 + w1 + s0 + s1 with class
// masking. The original freezes its ImageNet Inception trunk and trains only
// the two projections; the small image encoder here starts from random
// weights, so by default all of it learns. --attribute-pretrain first gives
// that trunk a head start on the synthetic birds' part colours, after which
// --freeze-trunk trains only the projections, as the original;
// --attribute-head local|both has the head start name each part's colour also
// from that part's attention over the local grid, the features that the word
// loss and G's word attention read (the demo's: both).
// The file is written after every epoch (atomically) and when Ctrl-C stops
// the run.
#include "attngan_app.hpp"

#include <attngan/data/synthetic_birds.hpp>
#include <attngan/models/attngan/damsm.hpp>

#include <CLI/CLI.hpp>

#include <map>

using namespace app;

namespace {

/// --attribute-pretrain: `epochs` passes of models::trunk_attribute_pretrainer
/// over the loader's batches, labels read from <data>/synthetic_birds.txt.
void pretrain_trunk(const std::string& data_dir, const data::cub_dataset& train, data::batch_loader& loader,
                    image_network& image, generator& rng, int epochs, models::attribute_head head) {
  std::map<std::string, data::bird_attributes> truth;
  try {
    for (auto& r : data::read_synthetic_attributes(data_dir)) truth.emplace(r.key, r.attributes);
  } catch (const io_error& e) {
    throw value_error("pretrain", attngan::detail::cat("--attribute-pretrain needs the part colours of the synthetic "
                                                       "birds (03_make_synthetic_birds writes them): ",
                                                       e.what()));
  }
  constexpr int parts = data::part_count, colours = 9;
  models::trunk_attribute_pretrainer<image_encoder_spec, parts, colours, T, B> pre(image, rng, head);
  const std::size_t per_epoch = loader.batches_per_epoch();
  std::printf("image trunk head start: %d epochs naming %d part colours of %zu training images (%s)\n", epochs, parts,
              train.size(),
              head == models::attribute_head::pooled  ? "from the pooled trunk vector"
              : head == models::attribute_head::local ? "from the local grid"
                                                      : "from the pooled vector and the local grid");
  progress bar("step", per_epoch * std::size_t(epochs));
  std::size_t step = 0;
  for (int epoch = 0; epoch < epochs && !stop_requested(); ++epoch) {
    // Epochs numbered after the DAMSM's, so the two phases see different orders.
    loader.start_epoch(std::uint64_t(1000000 + epoch));
    double right = 0;
    std::size_t n = 0;
    while (auto b = loader.next()) {
      std::vector<index_t> labels;
      labels.reserve(b->size() * parts);
      for (const auto& key : b->keys) {
        const auto it = truth.find(key);
        if (it == truth.end())
          throw value_error("pretrain", attngan::detail::cat("image '", key, "' is not in ", data_dir, "/",
                                                             data::synthetic_attributes_file));
        for (int p = 0; p < parts; ++p) labels.push_back(index_t(it->second.colours.c[std::size_t(p)]));
      }
      const auto r = pre.step(on_backend(b->images.front()), labels);
      // the local head's where it has one: that is the one the crown needs
      right += head == models::attribute_head::pooled ? r.accuracy : r.local_accuracy;
      ++n;
      ++step;
      char share[32];
      std::snprintf(share, sizeof share, "%.1f %%", 100.0 * right / double(n));
      bar.update(step, attngan::detail::cat("epoch ", epoch + 1, "  loss ", r.loss, "  parts right ", share));
      if (stop_requested()) break;
    }
  }
  std::printf("head start done (%.1f s)\n", bar.seconds());
}

}  // namespace

// Built alone this is main(); examples/programs.cpp builds the four programs
// in one translation unit (one instantiation of the model) under other names.
#ifndef ATTNGAN_PROGRAM_MAIN
#define ATTNGAN_PROGRAM_MAIN main
#endif

int ATTNGAN_PROGRAM_MAIN(int argc, char** argv) {
  CLI::App cli{"Pretrains the DAMSM text and image encoders of the small AttnGAN on a CUB-layout dataset."};
  std::string data_dir, out = "runs/damsm.safetensors";
  int epochs = 30, batch_size = 32, workers = 1;
  std::uint64_t seed = 0;
  models::damsm_options damsm;
  // The original freezes its ImageNet Inception trunk; this small encoder
  // starts from random weights, so all of it learns.
  damsm.train_image_trunk = true;
  double dropout = 0.5;
  cli.add_option("--data", data_dir, "Dataset folder in the CUB layout (e.g. from 03_make_synthetic_birds)")->required();
  cli.add_option("--out", out, "File to write the encoders to")->capture_default_str();
  cli.add_option("--epochs", epochs, "Passes over the training split")->check(CLI::Range(1, 100000))->capture_default_str();
  cli.add_option("--batch", batch_size, "Batch size (the original uses 48)")->check(CLI::Range(2, 4096))->capture_default_str();
  cli.add_option("--workers", workers, "Threads decoding images ahead of training")->check(CLI::Range(0, 64))->capture_default_str();
  cli.add_option("--seed", seed, "Seed of the initial weights, shuffling and dropout")->capture_default_str();
  cli.add_option("--lr", damsm.lr, "Adam's learning rate (TRAIN.ENCODER_LR)")->check(CLI::PositiveNumber)->capture_default_str();
  cli.add_option("--lr-decay", damsm.lr_decay, "Learning-rate factor after each epoch, down to a tenth")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  bool keep_adam = false;
  cli.add_flag("--keep-adam", keep_adam,
               "One Adam for the whole run (the original makes a fresh one, moments reset, every epoch)");
  cli.add_option("--dropout", dropout, "Dropout on the text encoder's word embeddings")
      ->check(CLI::Range(0.0, 0.95))
      ->capture_default_str();
  int attribute_epochs = 0;
  cli.add_option("--attribute-pretrain", attribute_epochs,
                 "First teach the image trunk, for this many epochs, to name each part's colour (from the synthetic "
                 "birds' synthetic_birds.txt): a head start for its random weights; 0: off")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  const std::map<std::string, models::attribute_head> attribute_heads{{"pooled", models::attribute_head::pooled},
                                                                       {"local", models::attribute_head::local},
                                                                       {"both", models::attribute_head::both}};
  std::string attribute_head = "pooled";
  cli.add_option("--attribute-head", attribute_head,
                 "What the head start names the colours from: 'pooled' (the trunk's pooled vector), 'local' (each "
                 "part attends over the local grid that the word attention reads), or 'both' (the two losses added)")
      ->check(CLI::IsMember(attribute_heads))
      ->capture_default_str();
  bool freeze_trunk = false;
  cli.add_flag("--freeze-trunk", freeze_trunk,
               "DAMSM then trains only the image encoder's two projections, as the original does with its "
               "pretrained Inception (default: the whole image encoder learns)");
  bool no_flip = false;
  cli.add_flag("--no-flip", no_flip, no_flip_help);
  CLI11_PARSE(cli, argc, argv);
  damsm.adam_per_epoch = !keep_adam;
  damsm.train_image_trunk = !freeze_trunk;

  try {
    announce_device();
    install_stop_handler();
    const auto out_folder = ensure_writable_folder(fs::absolute(out).parent_path());
    const auto train = data::cub_dataset::open(data_dir, data::split::train);
    data::loader_options lo;
    lo.batch_size = batch_size;
    lo.words_num = preset::words_num;
    lo.base_size = damsm_size;
    lo.branches = 1;
    lo.workers = workers;
    lo.seed = seed;
    lo.flip = !no_flip;
    data::batch_loader loader(train, lo);
    if (int(train.vocab().size()) > preset::n_words)
      throw value_error("pretrain", attngan::detail::cat("the vocabulary has ", train.vocab().size(),
                                                         " words, the model's embedding holds ", preset::n_words));

    generator rng(seed);
    text_network text(rng);
    image_network image(rng);
    text->dropout = dropout;
    text.train();
    image.train();
    const std::size_t per_epoch = loader.batches_per_epoch();
    if (attribute_epochs > 0)
      pretrain_trunk(data_dir, train, loader, image, rng, attribute_epochs, attribute_heads.at(attribute_head));
    if (stop_requested()) {
      std::printf("stopped during the trunk's head start; nothing written\n");
      return 130;
    }
    models::damsm_trainer<text_encoder_spec, image_encoder_spec, T, B> trainer(text, image, damsm);
    generator dropout_rng(seed + 1);

    std::printf("DAMSM pretraining: %zu training images, %zu words, batch %d, %zu steps per epoch, %d epochs -> %s\n",
                train.size(), train.vocab().size(), batch_size, per_epoch, epochs, out.c_str());
    progress bar("step", per_epoch * std::size_t(epochs));
    std::size_t step = 0;
    int epoch = 0;
    double last_loss = 0;
    for (; epoch < epochs && !stop_requested(); ++epoch) {
      loader.start_epoch(std::uint64_t(epoch));
      double sum = 0;
      std::size_t n = 0;
      while (auto b = loader.next()) {
        const text_batch t = text_of(*b);
        const auto l = trainer.step(on_backend(b->images.front()), t.captions, t.lengths, t.class_ids, dropout_rng);
        sum += l.total();
        ++n;
        ++step;
        bar.update(step, attngan::detail::cat("epoch ", epoch + 1, "  loss ", l.total()));
        if (stop_requested()) break;
      }
      last_loss = n ? sum / double(n) : 0.0;
      trainer.end_epoch();
      save_damsm(out, text, image, train.vocab(),
                 nlohmann::json{{"epochs", epoch + 1}, {"steps", step}, {"mean_loss_last_epoch", last_loss}, {"seed", seed}, {"flip", lo.flip},
                                {"attribute_pretrain_epochs", attribute_epochs}, {"attribute_head", attribute_head},
                                {"trunk_trained", !freeze_trunk}});
    }
    std::printf("%s after %d epochs (%zu steps, %.1f s): mean loss of the last epoch %.4f, saved %s\n",
                stop_requested() ? "stopped" : "done", epoch, step, bar.seconds(), last_loss, out.c_str());
    return stop_requested() ? 130 : 0;
  } catch (const attngan::error& e) {
    std::fprintf(stderr, "04_pretrain_damsm: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "04_pretrain_damsm: unexpected error: %s\n", e.what());
    return 2;
  }
}
