#!/usr/bin/env bash
# cmake/run.sh — the one script behind the README's set-up commands.
#
#   bash cmake/run.sh demo     install what is missing, build, run the examples
#   bash cmake/run.sh test     install what is missing, build, run every test
#   bash cmake/run.sh --help
#
# Steps: (1) check the Debian packages attngan needs and install the missing
# ones (as root: apt-get; otherwise print the sudo line and stop), (2) configure
# into build/ (Release, Ninja when available), (3) build with one job per core,
# (4) run ctest or the example programs.
#
# Environment:
#   ATTNGAN_BUILD_DIR   build folder (default: <repo>/build)
#   ATTNGAN_JOBS        parallel jobs for build and ctest (default: nproc)
#   ATTNGAN_PROGRAMS_BACKEND  cpu, cuda or thrust_host: where programs 04-07
#                       run (default: cuda when nvidia-smi lists a GPU and
#                       nvcc is installed, else cpu)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${ATTNGAN_BUILD_DIR:-$ROOT/build}"
JOBS="${ATTNGAN_JOBS:-$(nproc 2>/dev/null || echo 2)}"

# Debian packages: toolchain + every library attngan, its tests, examples and
# benchmarks use (design decision 10). Nothing else is downloaded.
REQUIRED_PACKAGES=(g++ cmake ninja-build libeigen3-dev doctest-dev libbenchmark-dev
                   libstb-dev nlohmann-json3-dev libcli11-dev)
MIN_CMAKE_VERSION=3.25

# What `demo` runs, in order: one entry per step, "<program> [args...]", where
# <program> is an executable target built from examples/ (found under
# $BUILD_DIR/examples/). Arguments are split on spaces (no quoting), @ROOT@
# stands for the repository; steps run in $BUILD_DIR. The demo: synthetic
# birds (800 images, 20 classes, 5 held out), DAMSM pretraining (the image
# trunk first taught the part colours for 40 epochs, from its pooled vector
# and from each part's attention over the local grid, then frozen), the small AttnGAN
# (32x32 -> 64x64; learning rates 0.001, five times the original's: in a short
# run they score higher; no random flip: the synthetic birds all face right;
# every training image cropped at its centre instead of a random offset;
# a 0.99 running average of G, which images and scores come from: after
# 1,400-1,800 steps it ranks 6-15 points above the raw G; see
# bench/RESULTS.md), images from example sentences, evaluation on the
# held-out classes' captions (all ten of each test image, each through its
# own generated image: ten times the scored images of one caption each, so
# about a third of the noise in each part's figure).
# ATTNGAN_DEMO_STEPS overrides the GAN steps.
DEMO_GAN_STEPS="${ATTNGAN_DEMO_STEPS:-2500}"
DEMO_STEPS=("03_make_synthetic_birds --out demo/birds --classes 20 --images-per-class 40 --size 128 --colour-mixing 1 --overwrite"
            "04_pretrain_damsm --data demo/birds --out demo/run/damsm.safetensors --epochs 60 --lr-decay 1 --dropout 0 --attribute-pretrain 40 --attribute-head both --freeze-trunk"
            "05_train_attngan --data demo/birds --damsm demo/run/damsm.safetensors --out demo/run --steps $DEMO_GAN_STEPS --lr-g 1e-3 --lr-d 1e-3 --no-flip --centre-crop --ema-decay 0.99 --sample-average"
            "06_generate --checkpoint demo/run/checkpoint.safetensors --file @ROOT@/examples/demo_sentences.txt --out demo/generated --average"
            "07_evaluate --data demo/birds --checkpoint demo/run/checkpoint.safetensors --json demo/run/evaluation.json --average --captions-per-image 10")

usage() {
  cat <<'EOF'
usage: bash cmake/run.sh <command>

commands:
  demo     check/install the Debian packages, build the example programs into
           build/ and run them (synthetic birds data, training, generation)
  test     check/install the Debian packages, build everything into build/ and
           run all tests with ctest (doctest suites, must-not-compile checks,
           find_package/add_subdirectory consumer checks)
  --help   this text

environment:
  ATTNGAN_BUILD_DIR   build folder (default: build/ in the repository)
  ATTNGAN_JOBS        parallel jobs (default: number of cores, from nproc)
  ATTNGAN_PROGRAMS_BACKEND
                      cpu, cuda or thrust_host: where the programs train and
                      generate (default: cuda when nvidia-smi lists a GPU and
                      nvcc is installed, else cpu)

Packages checked: g++ cmake ninja-build libeigen3-dev doctest-dev
libbenchmark-dev libstb-dev nlohmann-json3-dev libcli11-dev. Run as root to
have missing ones installed with apt-get; otherwise the sudo command is printed.
EOF
}

heading() { printf '\n==> %s\n' "$*"; }

check_packages() {
  heading "Checking Debian packages"
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "dpkg-query not found (not a Debian/Ubuntu system?): skipping the check."
    echo "attngan needs: ${REQUIRED_PACKAGES[*]} (or their equivalents)."
    return 0
  fi
  local missing=() pkg status
  for pkg in "${REQUIRED_PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]} == 0)); then
    echo "all present: ${REQUIRED_PACKAGES[*]}"
    return 0
  fi
  echo "missing: ${missing[*]}"
  if [[ "$(id -u)" -eq 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
  else
    echo
    echo "Install them first (needs root), then run this script again:"
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}"
    exit 1
  fi
}

check_cmake_version() {
  local have
  have="$(cmake --version | sed -n 's/^cmake version \([0-9][0-9.]*\).*/\1/p')"
  if [[ -z "$have" ]] || [[ "$(printf '%s\n%s\n' "$MIN_CMAKE_VERSION" "$have" | sort -V | head -n1)" != "$MIN_CMAKE_VERSION" ]]; then
    echo "attngan needs CMake >= $MIN_CMAKE_VERSION; found '${have:-none}'." >&2
    echo "Debian 12 (bookworm) and Ubuntu 24.04 ship a recent enough cmake." >&2
    exit 1
  fi
}

DEFAULT_NVCC=/usr/local/cuda/bin/nvcc  # where CMake's CUDA set-up looks too (cmake/attngan_cuda.cmake)

have_nvcc() {
  [[ -n "${CUDACXX:-}" ]] || command -v nvcc >/dev/null 2>&1 || [[ -x "$DEFAULT_NVCC" ]]
}

have_gpu() {
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU '
}

# Where programs 04-07 train and generate: the GPU when this machine has one
# and nvcc is installed (the CUDA toolkit is not a Debian package this script
# installs), else the CPU. ATTNGAN_PROGRAMS_BACKEND (cpu, cuda, thrust_host)
# overrides the choice.
programs_backend() {
  if [[ -n "${ATTNGAN_PROGRAMS_BACKEND:-}" ]]; then
    echo "$ATTNGAN_PROGRAMS_BACKEND"
  elif have_gpu && have_nvcc; then
    echo cuda
  else
    echo cpu
  fi
}

configure() {
  heading "Configuring into $BUILD_DIR"
  check_cmake_version
  local backend
  backend="$(programs_backend)"
  if [[ "$backend" == cuda && -z "${ATTNGAN_PROGRAMS_BACKEND:-}" ]]; then
    echo "GPU found ($(nvidia-smi -L 2>/dev/null | head -n1)): the programs train and generate on it"
  elif [[ "$backend" == cpu ]] && have_gpu && ! have_nvcc; then
    echo "A GPU is present but nvcc is not: the programs run on the CPU (install the CUDA toolkit to use the GPU)"
  fi
  local args=(-S "$ROOT" -B "$BUILD_DIR" -DATTNGAN_BUILD_TESTS=ON -DATTNGAN_BUILD_EXAMPLES=ON
              "-DATTNGAN_PROGRAMS_BACKEND=$backend")
  if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
    # First configure: choose generator and build type. Later runs keep
    # whatever the folder was configured with.
    if command -v ninja >/dev/null 2>&1; then
      args+=(-G Ninja)
    fi
    args+=(-DCMAKE_BUILD_TYPE=Release)
    # On a GPU machine, device code for that GPU only (CMake's "native").
    # Without a GPU the CUDA targets are only compiled, never run: PTX for
    # one virtual architecture checks that they compile at half the cost of
    # machine code for 80 and 90 (bench/RESULTS.md, "Build").
    if [[ "$backend" == cuda ]] && have_gpu; then
      args+=(-DCMAKE_CUDA_ARCHITECTURES=native)
    elif ! have_gpu && have_nvcc; then
      echo "No GPU: the CUDA targets are compiled as PTX for compute_90 only (a compile check)"
      args+=(-DCMAKE_CUDA_ARCHITECTURES=90-virtual)
    fi
  fi
  cmake "${args[@]}"
}

build() {
  heading "Building ($JOBS jobs)${*:+: $*}"
  if (($# > 0)); then
    cmake --build "$BUILD_DIR" -j "$JOBS" --target "$@"
  else
    cmake --build "$BUILD_DIR" -j "$JOBS"
  fi
}

run_tests() {
  configure
  build
  heading "Running tests"
  local rc=0
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$JOBS" || rc=$?
  if ((rc == 0)); then
    heading "All tests passed (${SECONDS}s)"
  else
    heading "Tests FAILED (ctest exit status $rc)"
  fi
  return "$rc"
}

run_demo() {
  configure
  if ((${#DEMO_STEPS[@]} == 0)); then
    heading "No example programs yet"
    echo "examples/ has no demo programs yet; nothing to run. Try: bash cmake/run.sh test"
    return 0
  fi
  local targets=() step words
  for step in "${DEMO_STEPS[@]}"; do
    read -r -a words <<<"$step"
    targets+=("${words[0]}")
  done
  build "${targets[@]}"
  cd "$BUILD_DIR"
  for step in "${DEMO_STEPS[@]}"; do
    read -r -a words <<<"${step//@ROOT@/$ROOT}"
    heading "Running ${words[*]}"
    "$BUILD_DIR/examples/${words[0]}" "${words[@]:1}"
  done
  heading "Demo finished (${SECONDS}s)"
  echo "report:    $BUILD_DIR/demo/run/report.html"
  echo "generated: $BUILD_DIR/demo/generated/generated.html"
  echo "scores:    $BUILD_DIR/demo/run/evaluation.json"
}

main() {
  if (($# != 1)); then
    usage >&2
    exit 2
  fi
  case "$1" in
    -h|--help|help) usage ;;
    test) check_packages; run_tests ;;
    demo) check_packages; run_demo ;;
    *) echo "unknown command: $1" >&2; usage >&2; exit 2 ;;
  esac
}

# Sourced (tests/programs/test_run_script.sh), it only defines the functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
