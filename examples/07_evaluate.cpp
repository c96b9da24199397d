// 07_evaluate — scores a trained AttnGAN on the test split's captions.
//
//   07_evaluate --data data/birds --checkpoint runs/demo/checkpoint.safetensors
//
// For every test image, one of its captions (chosen with --seed; with
// --captions-per-image K, K of its captions: that one and the K − 1 after it,
// each its own image) goes through the generator; the generated 64² images
// are scored by
//   * R-precision (paper §4.1): the DAMSM image code of each generated image
//     against its caption's sentence vector and 99 captions of other test
//     images, top-1 by cosine, mean ± std over 10 draws of the 99 (fixed
//     seed); the DAMSM encoders are the checkpoint's (those training used);
//   * part-colour accuracy (synthetic birds): the colour of each part the
//     caption names, read back from the generated bird, against the caption;
//   * with --inception FILE (Inception-v3 weights the user supplies, e.g.
//     torchvision's inception_v3 state_dict): Inception Score of the
//     generated images and FID against the real test images (the same
//     crops --real scores), both through that network.
// --part-swaps adds what the DAMSM encoders tell apart, part by part: how
// often the scored caption's sentence vector is closer (cosine) to its
// image's code than the same caption with that part's colour replaced by
// each other colour of its palette (50 %: blind to that part). With --real
// it measures the encoders themselves, the signal the GAN's DAMSM term gives
// each part.
// Results are printed and written as JSON (--json). --readings DIR shows
// what the part-colour reader did: every scored image enlarged 4x with the
// located bird frame and a ring at each part's sample point (green: the
// caption's colour was read, red: another, grey: the caption names no
// colour for that part), and readings.tsv with the frame, the caption's
// colours and the colours read.
#include "attngan_app.hpp"

#include <attngan/io/torch_import.hpp>
#include <attngan/models/attngan/evaluation.hpp>
#include <attngan/models/attngan/image_encoder.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numbers>

using namespace app;

namespace {

/// --readings: the scored images with the reader's frame and probes, and a table.
void write_readings(const fs::path& dir, const std::vector<data::image>& images, const std::vector<data::frame>& frames,
                    const std::vector<models::part_targets>& targets, const std::vector<std::string>& captions) {
  const auto folder = ensure_writable_folder(dir);
  constexpr int zoom = 4;
  const fs::path table = dir / "readings.tsv";
  const fs::path tmp = dir / "readings.tsv.tmp";
  std::ofstream tsv(tmp);
  tsv << "image\tcaption\tframe_x\tframe_y\tframe_w\tframe_h\tmirrored";
  for (int p = 0; p < data::part_count; ++p) tsv << "\t" << data::part_name(data::part(p)) << " (named/read)";
  tsv << "\n";
  for (std::size_t i = 0; i < images.size(); ++i) {
    const data::image& img = images[i];
    const data::frame& f = frames[i];
    const data::part_colours read = data::read_part_colours(img, f);
    data::image big(img.width * zoom, img.height * zoom);
    for (int y = 0; y < big.height; ++y)
      for (int x = 0; x < big.width; ++x) std::copy_n(img.pixel(x / zoom, y / zoom), 3, big.pixel(x, y));
    const auto put = [&](double x, double y, std::array<std::uint8_t, 3> rgb) {
      const int ix = int(std::floor(x)), iy = int(std::floor(y));
      if (ix >= 0 && iy >= 0 && ix < big.width && iy < big.height) std::copy_n(rgb.data(), 3, big.pixel(ix, iy));
    };
    // The frame, in magenta.
    for (double t = 0; t <= 1.0; t += 0.5 / (zoom * std::max(f.w, f.h))) {
      for (double yy : {f.y, f.y + f.h}) put(zoom * (f.x + t * f.w), zoom * yy, {255, 0, 255});
      for (double xx : {f.x, f.x + f.w}) put(zoom * xx, zoom * (f.y + t * f.h), {255, 0, 255});
    }
    tsv << i << "\t" << captions[i] << "\t" << f.x << "\t" << f.y << "\t" << f.w << "\t" << f.h << "\t"
        << (f.mirrored ? 1 : 0);
    for (int p = 0; p < data::part_count; ++p) {
      const auto& target = targets[i][std::size_t(p)];
      const data::colour got = read.c[std::size_t(p)];
      const std::array<std::uint8_t, 3> ring = !target ? std::array<std::uint8_t, 3>{160, 160, 160}
                                               : *target == got ? std::array<std::uint8_t, 3>{0, 230, 0}
                                                                : std::array<std::uint8_t, 3>{255, 0, 0};
      const auto& pt = data::pose::sample_points[std::size_t(p)];
      const auto at = data::bird_to_pixel(f, pt[0], pt[1]);
      for (int k = 0; k < 24; ++k) {  // a ring of radius 1.5 source pixels
        const double a = 2 * std::numbers::pi * k / 24;
        put(zoom * (at[0] + 1.5 * std::cos(a)), zoom * (at[1] + 1.5 * std::sin(a)), ring);
      }
      tsv << "\t" << (target ? std::string(data::colour_name(*target)) : std::string("-")) << "/"
          << data::colour_name(got);
    }
    tsv << "\n";
    char name[32];
    std::snprintf(name, sizeof name, "%03zu.png", i);
    data::write_png(dir / name, big);
  }
  tsv.close();
  if (!tsv) throw io_error("evaluate", attngan::detail::cat("cannot write '", tmp.string(), "'"));
  fs::rename(tmp, table);
}

using inception_network = nn::network<models::inception_v3<1000>, T, B>;

/// Inception-v3 weights from a PyTorch file (torchvision's state_dict; its
/// auxiliary classifier, AuxLogits.*, is dropped) or a safetensors file with
/// the same names.
void load_inception(inception_network& net, const fs::path& file) {
  const auto ext = file.extension().string();
  if (ext == ".pth" || ext == ".pt" || ext == ".bin") {
    io::torch_state_dict sd = io::load_torch_state_dict(file);
    std::erase_if(sd.tensors, [](const io::torch_tensor& t) { return t.name.rfind("AuxLogits.", 0) == 0; });
    io::load_into(net, sd);
  } else {
    io::load_state(file, net);
  }
}

/// Real test images at the generator's final size, through the seeded
/// training crop (as --real scores them).
std::vector<T> real_test_pixels(const data::cub_dataset& test, std::uint64_t seed, std::size_t per_image,
                                const char* label) {
  data::loader_options lo;
  lo.base_size = preset::base_size;
  lo.branches = stages;
  lo.seed = seed;
  std::vector<T> pixels(test.size() * per_image);
  progress bar(label, test.size());
  for (std::size_t i = 0; i < test.size(); ++i) {
    generator image_rng = data::item_generator(lo, 0, i);
    const auto per_stage =
        data::train_transform(test.load_image(i), test.box(i), preset::base_size, stages, image_rng);
    std::copy_n(per_stage.back().data(), per_image, pixels.begin() + std::ptrdiff_t(i * per_image));
    bar.update(i + 1);
  }
  return pixels;
}

}  // namespace

// Built alone this is main(); examples/programs.cpp builds the four programs
// in one translation unit (one instantiation of the model) under other names.
#ifndef ATTNGAN_PROGRAM_MAIN
#define ATTNGAN_PROGRAM_MAIN main
#endif

int ATTNGAN_PROGRAM_MAIN(int argc, char** argv) {
  CLI::App cli{"Scores a trained small AttnGAN on held-out captions: R-precision, part-colour accuracy and, with Inception weights, IS and FID."};
  std::string data_dir, checkpoint, json_out;
  std::uint64_t seed = 100;
  int batch_size = 50;
  int candidates = 100;
  int per_image_captions = 1;
  bool average = false, real = false;
  std::string inception_file, readings_dir;
  int inception_splits = 10;
  cli.add_option("--data", data_dir, "Dataset folder in the CUB layout (its test split is used)")->required();
  cli.add_option("--checkpoint", checkpoint, "checkpoint.safetensors from 05_train_attngan")->required();
  cli.add_option("--json", json_out, "Also write the results to this file");
  cli.add_option("--seed", seed, "Seed of the caption choice, the noise and the R-precision draws")->capture_default_str();
  cli.add_option("--candidates", candidates,
                 "R-precision: the true caption plus this many minus one of other images (the paper: 100)")
      ->check(CLI::Range(2, 100000))
      ->capture_default_str();
  cli.add_option("--captions-per-image", per_image_captions,
                 "Captions scored per test image, each through its own generated image (1: one drawn with --seed, "
                 "as the paper; more: that one and the next ones, for scores with less noise)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cli.add_option("--batch", batch_size, "Images generated at once")->check(CLI::Range(1, 4096))->capture_default_str();
  auto* average_flag = cli.add_flag("--average", average, "Use the running average of G (default: G itself)");
  cli.add_flag("--real", real,
               "Score the real test images (through the training crop, seeded) instead of generated ones: "
               "the ceiling of both scores for these DAMSM encoders")
      ->excludes(average_flag);
  cli.add_option("--inception", inception_file,
                 "Inception-v3 weights (torchvision's inception_v3 state_dict as .pth, or safetensors with its names): "
                 "also report the Inception Score and the FID against the real test images")
      ->check(CLI::ExistingFile);
  cli.add_option("--inception-splits", inception_splits, "Inception Score: splits of the images (the paper: 10)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  bool part_swaps = false;
  cli.add_flag("--part-swaps", part_swaps,
               "Also score, per part, how often the DAMSM encoders prefer each scored caption to the same caption "
               "with that part's colour replaced by each other colour of its palette (50 %: blind to it); with "
               "--real, what the encoders can tell apart, the ceiling of the signal the GAN trains on");
  cli.add_option("--readings", readings_dir,
                 "Write every scored image (4x) with the part-colour reader's frame and sample points, and "
                 "readings.tsv with the colours named and read, to this folder");
  CLI11_PARSE(cli, argc, argv);

  try {
    announce_device();
    const auto readings_folder =  // fail before the long work
        readings_dir.empty() ? created_folders{} : ensure_writable_folder(readings_dir);
    generator rng(seed);
    gan_trainer trainer(rng, false);
    const auto loaded = load_training(checkpoint, trainer);
    const auto test = data::cub_dataset::open(data_dir, data::split::test, data::cub_options{.vocab = loaded.vocab});
    const std::size_t images = test.size();
    if (per_image_captions > test.captions_per_image())
      throw value_error("evaluate", attngan::detail::cat("--captions-per-image ", per_image_captions, " exceeds the ",
                                                         test.captions_per_image(), " captions of each image in ",
                                                         data_dir));
    const auto per = std::size_t(per_image_captions);
    const std::size_t n = images * per;  // scored captions, each with its own image
    const std::size_t inception_count = real ? images : n;  // --real: Inception sees each real image once
    std::printf("evaluating %s (step %lld, %s) on %zu caption(s) of each of %zu test images of %s\n",
                checkpoint.c_str(), static_cast<long long>(loaded.info.step),
                real ? "the real images" : average ? "averaged G" : "raw G", per, images, data_dir.c_str());

    // `per` captions of each test image (entry i·per + r: image i), and every
    // test caption as the R-precision pool. The first of an image's captions
    // is the one drawn when per = 1, so that figure stays comparable.
    data::philox_stream pick(seed, 11, 0);
    std::vector<std::string> captions(n);
    std::vector<std::int64_t> ids(n);
    std::vector<std::string> pool;
    std::vector<std::int64_t> pool_ids;
    for (std::size_t i = 0; i < images; ++i) {
      const int k = pick.below(test.captions_per_image());
      for (std::size_t r = 0; r < per; ++r) {
        captions[i * per + r] = loaded.vocab.decode(test.caption(i, (k + int(r)) % test.captions_per_image()));
        ids[i * per + r] = std::int64_t(i);
      }
      for (int c = 0; c < test.captions_per_image(); ++c) {
        pool.push_back(loaded.vocab.decode(test.caption(i, c)));
        pool_ids.push_back(std::int64_t(i));
      }
    }

    // The images scored, in caption order: the real ones, or generated batch by batch.
    std::vector<T> pixels, real_once;  // real_once: each real test image once (--real)
    const index_t side = preset::base_size << (stages - 1);
    const std::size_t per_image = std::size_t(3 * side * side);
    // Fail on bad Inception weights or splits before the long work.
    std::optional<inception_network> inception;
    if (!inception_file.empty()) {
      if (std::size_t(inception_splits) > inception_count)
        throw value_error("evaluate", attngan::detail::cat("--inception-splits ", inception_splits, " exceeds the ",
                                                           inception_count, " scored images"));
      generator unused(0);
      inception.emplace(unused);
      load_inception(*inception, inception_file);
      inception->eval();
    }
    pixels.resize(n * per_image);
    if (real) {
      real_once = real_test_pixels(test, seed, per_image, "loaded");
      for (std::size_t j = 0; j < n; ++j)  // each image once per scored caption
        std::copy_n(real_once.begin() + std::ptrdiff_t((j / per) * per_image), per_image,
                    pixels.begin() + std::ptrdiff_t(j * per_image));
    } else {
      progress bar("generated", n);
      for (std::size_t start = 0; start < n; start += std::size_t(batch_size)) {
        const std::size_t count = std::min(std::size_t(batch_size), n - start);
        const std::vector<std::string> chunk(captions.begin() + std::ptrdiff_t(start),
                                             captions.begin() + std::ptrdiff_t(start + count));
        const encoded_sentences e = encode_sentences(loaded.vocab, chunk, preset::words_num);
        const auto out = trainer.generate(e.text.captions, e.text.lengths, std::nullopt, std::nullopt, average);
        const std::vector<T> v = out.images.back().value().to_vector();
        for (std::size_t row = 0; row < count; ++row) {
          const std::size_t i = start + e.order[row];
          std::copy_n(v.begin() + std::ptrdiff_t(row * per_image), per_image,
                      pixels.begin() + std::ptrdiff_t(i * per_image));
        }
        bar.update(start + count);
      }
    }
    const auto scored = tensor<T, B>::from_host(shape(index_t(n), 3, side, side), pixels);

    // R-precision with the checkpoint's DAMSM encoders.
    const encoded_sentences truth = encode_sentences(loaded.vocab, captions, preset::words_num);
    const encoded_sentences all = encode_sentences(loaded.vocab, pool, preset::words_num);
    std::vector<std::int64_t> truth_ids(n), all_ids(pool.size());
    for (std::size_t row = 0; row < n; ++row) truth_ids[row] = ids[truth.order[row]];
    for (std::size_t row = 0; row < pool.size(); ++row) all_ids[row] = pool_ids[all.order[row]];
    // Image codes in caption order need the images in the sentence order of `truth`.
    std::vector<T> reordered(pixels.size());
    for (std::size_t row = 0; row < n; ++row)
      std::copy_n(pixels.begin() + std::ptrdiff_t(truth.order[row] * per_image), per_image,
                  reordered.begin() + std::ptrdiff_t(row * per_image));
    const auto images_in_truth_order = tensor<T, B>::from_host(shape(index_t(n), 3, side, side), reordered);
    trainer.text_encoder_network().eval();
    trainer.image_encoder_network().eval();
    models::r_precision_options ro;
    ro.seed = seed;
    ro.candidates = candidates;
    // Image codes and sentence vectors once, for R-precision and --part-swaps
    // (batches of 50, as models::damsm_r_precision).
    const auto& image_encoder = trainer.image_encoder_network().module();
    const auto& text_encoder = trainer.text_encoder_network().module();
    const auto codes = models::damsm_image_codes(image_encoder, images_in_truth_order, 50);
    const auto true_sent = models::damsm_sentence_vectors<T>(text_encoder, truth.text.captions, truth.text.lengths, 50);
    const auto rp = models::r_precision(
        codes, true_sent, truth_ids,
        models::damsm_sentence_vectors<T>(text_encoder, all.text.captions, all.text.lengths, 50), all_ids, ro);

    // --part-swaps: the true caption against each one-colour change of it, by DAMSM cosine.
    std::optional<models::part_swap_result> swaps;
    if (part_swaps) {
      std::vector<std::string> swapped;
      std::vector<std::size_t> image_row;  // per swap: the row of its caption (and image) in truth order
      std::vector<data::part> swapped_part;
      for (std::size_t i = 0; i < n; ++i)
        for (auto& sw : models::part_swaps(captions[i])) {
          swapped.push_back(std::move(sw.caption));
          image_row.push_back(truth.rows[i]);
          swapped_part.push_back(sw.part);
        }
      if (swapped.empty())
        throw value_error("evaluate", "--part-swaps: no scored caption names a part's colour");
      std::printf("part swaps: %zu captions with one part's colour changed ...\n", swapped.size());
      const encoded_sentences es = encode_sentences(loaded.vocab, swapped, preset::words_num);
      // The swaps' sentence vectors come in es's row order: their image rows and parts in that order too.
      std::vector<std::size_t> row_image(swapped.size());
      std::vector<data::part> row_part(swapped.size());
      for (std::size_t row = 0; row < swapped.size(); ++row) {
        row_image[row] = image_row[es.order[row]];
        row_part[row] = swapped_part[es.order[row]];
      }
      swaps = models::part_swap_preference(
          models::detail::to_host_matrix(codes, "evaluate", "image codes"),
          models::detail::to_host_matrix(true_sent, "evaluate", "sentence vectors"),
          models::detail::to_host_matrix(
              models::damsm_sentence_vectors<T>(text_encoder, es.text.captions, es.text.lengths, 50), "evaluate",
              "swapped sentence vectors"),
          row_image, row_part);
    }

    // Part colours named by each caption, read from its image.
    std::vector<models::part_targets> targets(n);
    for (std::size_t i = 0; i < n; ++i) targets[i] = models::caption_part_colours(captions[i]);
    const data::pipeline_sizes sizes(preset::base_size, stages);
    const std::vector<data::image> scored_images = models::images_from_tensor(scored);
    const std::vector<data::frame> frames =
        models::locate_birds(scored_images, models::expected_bird_frame(sizes, stages - 1));
    const auto pc = models::part_colour_accuracy(std::span<const data::image>(scored_images), targets,
                                                 std::span<const data::frame>(frames));
    if (!readings_dir.empty()) write_readings(readings_dir, scored_images, frames, targets, captions);

    // Inception Score and FID through the user's Inception-v3.
    std::optional<models::inception_result> is_fid;
    if (inception) {
      const auto reference =
          tensor<T, B>::from_host(shape(index_t(images), 3, side, side),
                                  real ? real_once : real_test_pixels(test, seed, per_image, "real images"));
      std::printf("Inception-v3 on %zu %s and %zu real images ...\n", inception_count,
                  real ? "real" : "generated", images);
      is_fid = models::inception_scores(inception->module(), real ? reference : scored, reference, inception_splits);
    }

    std::printf("R-precision (top-1 of %d, %zu images, 10 repeats): %.2f ± %.2f %% (chance %.3g %%)\n", candidates, n,
                rp.mean, rp.std, 100.0 / candidates);
    std::printf("part-colour accuracy over %lld images: mean %.1f %% (chance %.1f %%), every named part right %.1f %%\n",
                static_cast<long long>(pc.images), 100 * pc.mean, 100 * pc.mean_chance, 100 * pc.all_named);
    nlohmann::json parts;
    for (int p = 0; p < data::part_count; ++p) {
      const auto name = std::string(data::part_name(data::part(p)));
      std::printf("  %-6s %5.1f %% of %lld (chance %.1f %%)\n", name.c_str(), 100 * pc.accuracy[std::size_t(p)],
                  static_cast<long long>(pc.scored[std::size_t(p)]), 100 * pc.chance[std::size_t(p)]);
      parts[name] = {{"accuracy", pc.accuracy[std::size_t(p)]}, {"scored", pc.scored[std::size_t(p)]},
                     {"chance", pc.chance[std::size_t(p)]}};
    }
    nlohmann::json swap_parts;
    if (swaps) {
      std::printf("DAMSM prefers the true caption to a one-colour change of it: mean %.1f %% (blind: 50 %%)\n",
                  100 * swaps->mean);
      for (int p = 0; p < data::part_count; ++p) {
        const auto name = std::string(data::part_name(data::part(p)));
        if (swaps->swaps[std::size_t(p)] == 0) continue;
        std::printf("  %-6s %5.1f %% of %lld swaps\n", name.c_str(), 100 * swaps->preferred[std::size_t(p)],
                    static_cast<long long>(swaps->swaps[std::size_t(p)]));
        swap_parts[name] = {{"preferred", swaps->preferred[std::size_t(p)]}, {"swaps", swaps->swaps[std::size_t(p)]}};
      }
    }
    if (is_fid) {
      std::printf("Inception Score: %.3f ± %.3f (%d splits); FID against the real test images: %.3f (%lld and %lld "
                  "images; below 2,048 images FID is biased high: compare only at equal counts)\n",
                  is_fid->inception_score.mean, is_fid->inception_score.std, is_fid->splits, is_fid->fid,
                  static_cast<long long>(is_fid->generated), static_cast<long long>(is_fid->real));
    }
    if (!json_out.empty()) {
      nlohmann::json j{{"checkpoint", checkpoint},
                             {"step", loaded.info.step},
                             {"generator", real ? "real images" : average ? "average" : "raw"},
                             {"test_images", images},
                             {"captions_per_image", per},
                             {"scored_images", n},
                             {"seed", seed},
                             {"r_precision", {{"candidates", candidates}, {"mean", rp.mean}, {"std", rp.std}, {"per_repeat", rp.per_repeat}}},
                             {"part_colour", {{"mean", pc.mean}, {"chance", pc.mean_chance},
                                              {"all_named", pc.all_named}, {"parts", parts}}}};
      if (swaps) j["part_swaps"] = {{"mean", swaps->mean}, {"parts", swap_parts}};
      if (is_fid)
        j["inception"] = {{"weights", inception_file},
                          {"inception_score", {{"mean", is_fid->inception_score.mean},
                                               {"std", is_fid->inception_score.std},
                                               {"splits", is_fid->splits}}},
                          {"fid", is_fid->fid},
                          {"images", is_fid->generated},
                          {"real_images", is_fid->real}};
      const fs::path tmp = json_out + ".tmp";
      {
        std::ofstream f(tmp);
        f << j.dump(2) << "\n";
        if (!f) throw io_error("evaluate", attngan::detail::cat("cannot write '", tmp.string(), "'"));
      }
      fs::rename(tmp, json_out);
    }
    return 0;
  } catch (const attngan::error& e) {
    std::fprintf(stderr, "07_evaluate: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "07_evaluate: unexpected error: %s\n", e.what());
    return 2;
  }
}
