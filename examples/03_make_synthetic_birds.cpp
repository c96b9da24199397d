// 03_make_synthetic_birds — write a synthetic birds dataset in the CUB layout.
//
// Shows: the deterministic synthetic-birds generator (data/synthetic_birds.hpp)
// writing the layout the original AttnGAN reads (spec §2.1: CUB_200_2011/
// images.txt, bounding_boxes.txt, images/, text/ with ten captions per image,
// train/ and test/ split lists as text and protocol-2 pickles, class ids),
// then reading one image back through the training pipeline of §10.1 and
// checking that its part colours can be read from the 64x64 stage image.
//
//   03_make_synthetic_birds --out data/birds --classes 10 --images-per-class 10
//
// The same options always give the same files, byte for byte.
#include <attngan/data/synthetic_birds.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

using namespace attngan;
using namespace attngan::data;

int main(int argc, char** argv) {
  CLI::App app{"Writes a deterministic synthetic birds dataset in the CUB-200-2011 layout AttnGAN reads."};
  std::string out;
  synthetic_birds_options opt;
  opt.classes = 10;
  opt.images_per_class = 10;
  opt.image_size = 256;
  app.add_option("--out", out, "Folder to create (must be empty or missing)")->required();
  app.add_option("--classes", opt.classes, "Number of bird classes (CUB: 200)")
      ->check(CLI::Range(2, 999))
      ->capture_default_str();
  app.add_option("--images-per-class", opt.images_per_class, "Images per class (CUB: about 60)")
      ->check(CLI::Range(1, 9999))
      ->capture_default_str();
  app.add_option("--size", opt.image_size, "Image width and height in pixels")
      ->check(CLI::Range(32, 4096))
      ->capture_default_str();
  app.add_option("--seed", opt.seed, "Seed: the same seed gives the same dataset")->capture_default_str();
  app.add_option("--test-classes", opt.test_classes,
                 "Classes held out for the test split (default: a quarter of the classes, as CUB's 50 of 200)");
  app.add_option("--jpeg-quality", opt.jpeg_quality, "JPEG quality (above 90 keeps full colour resolution)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--colour-mixing", opt.colour_mixing,
                 "Probability that a part of an image draws its own colour instead of its class's (0: one part "
                 "of a quarter of the images changes)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_flag("--overwrite", opt.overwrite, "Allow writing into a folder that is not empty");
  CLI11_PARSE(app, argc, argv);

  try {
    const std::size_t total = std::size_t(opt.classes) * std::size_t(opt.images_per_class);
    std::printf("writing %zu images (%d classes x %d, %d px, seed %llu) to %s\n", total, opt.classes,
                opt.images_per_class, opt.image_size, static_cast<unsigned long long>(opt.seed), out.c_str());
    const auto start = std::chrono::steady_clock::now();
    auto last_report = start;
    const auto report = [&](std::size_t done, std::size_t all) {
      const auto now = std::chrono::steady_clock::now();
      if (done != all && now - last_report < std::chrono::milliseconds(250)) return;
      last_report = now;
      const double seconds = std::chrono::duration<double>(now - start).count();
      const double rate = seconds > 0 ? double(done) / seconds : 0.0;
      const double eta = rate > 0 ? double(all - done) / rate : 0.0;
      std::printf("\r  %zu / %zu images, %.0f images/s, ETA %.1f s   ", done, all, rate, eta);
      if (done == all) std::printf("\n");
      std::fflush(stdout);
    };
    const synthetic_dataset ds = write_synthetic_birds(out, opt, report);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    int test_classes = 0;
    for (const auto& k : ds.classes) test_classes += k.test;
    std::printf("done in %.2f s: %zu classes (%d held out for test), %zu images, %zu captions\n", seconds,
                ds.classes.size(), test_classes, ds.birds.size(), ds.birds.size() * 10);

    // One bird through the §10.1 pipeline: bbox crop, Scale(304), random
    // 256 crop and flip, stages 64/128/256; read its colours at 64x64.
    const synthetic_bird& bird = ds.birds.front();
    const image img = read_image(std::filesystem::path(out) / "CUB_200_2011" / "images" / (bird.key + ".jpg"));
    generator rng(opt.seed);
    transform_record rec;
    const auto stages = train_images(img, bird.box, pipeline_sizes(64, 3), rng, &rec);
    const frame f = map_to_stage(rec, frame_of(bird.box), stages[0].width);
    const part_colours read = read_part_colours(stages[0], f);
    const auto visible = parts_in_view(stages[0], f);
    std::printf("first image: %s\n  caption: \"%s\"\n  read from its 64x64 stage image%s:", bird.key.c_str(),
                bird.captions.front().c_str(), rec.flipped ? " (flipped)" : "");
    for (int p = 0; p < part_count; ++p) {
      const part pp = part(p);
      std::printf(" %s=%s%s", std::string(part_name(pp)).c_str(),
                  visible[std::size_t(p)] ? std::string(colour_name(read[pp])).c_str() : "(out of view)",
                  visible[std::size_t(p)] && read[pp] != bird.attributes.colours[pp] ? "(!)" : "");
    }
    std::printf("\n");
    return 0;
  } catch (const attngan::error& e) {
    std::fprintf(stderr, "03_make_synthetic_birds: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "03_make_synthetic_birds: unexpected error: %s\n", e.what());
    return 2;
  }
}
