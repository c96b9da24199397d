#!/usr/bin/env bash
# The GPU checks, run on a machine with an NVIDIA GPU from a build folder
# made on another machine (the GPU machine needs no compiler, doctest or
# Google Benchmark; it needs the CUDA runtime and cuBLAS, and PyTorch with
# CUDA for the side-by-side numbers):
#
#   # on the build machine (nvcc, no GPU needed):
#   cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
#         -DATTNGAN_NATIVE_ARCH=OFF -DCMAKE_CUDA_ARCHITECTURES=90
#   ninja -C build-gpu test_parity_cuda bench_cuda_ops
#   # optional, the programs on the GPU (configure with -DATTNGAN_BUILD_EXAMPLES=ON
#   # -DATTNGAN_PROGRAMS_BACKEND=cuda; nvcc takes about 4.5 min on 2 cores):
#   ninja -C build-gpu 03_make_synthetic_birds 04_pretrain_damsm 05_train_attngan 07_evaluate
#   bash bench/gpu/run_gpu_checks.sh --stage build-gpu   # copies libbenchmark beside them
#   # (to copy less than the whole folder, the script needs only these: for sm_90
#   # alone, tests/backend/parity/test_parity_cuda ~8 MB, bench/bench_cuda_ops
#   # ~3.5 MB, lib/, examples/03_make_synthetic_birds, and 04, 05 and 07 at
#   # ~10 MB each)
#   # on the GPU machine, from the repository root:
#   bash bench/gpu/run_gpu_checks.sh build-gpu results.txt
#
# It runs, in order, each under a time limit: the CUDA-vs-CPU parity tests of
# every primitive and layer (tests/backend/parity), the CUDA benchmarks at
# AttnGAN's shapes, and PyTorch eager on the same shapes
# (bench/gpu/torch_ops.py), then, when the build has them, the programs on the
# GPU (synthetic birds, a short DAMSM and GAN run with their rates, the
# evaluation), and writes everything to one results file. The
# exit status is the parity tests' (0 passed, 1 failed, 77 no GPU).
set -u

if [ "${1:-}" = "--stage" ]; then
  build=${2:?usage: run_gpu_checks.sh --stage BUILD_DIR}
  mkdir -p "$build/lib"
  # Google Benchmark's shared library, under the name the binary asks for
  # (Debian: libbenchmark.so.1debian); the GPU machine has none.
  lib=$(ldd "$build/bench/bench_cuda_ops" | awk '/libbenchmark/{print $3; exit}')
  [ -n "$lib" ] && cp -L "$lib" "$build/lib/"
  ls -la "$build/lib" "$build/tests/backend/parity/test_parity_cuda" "$build/bench/bench_cuda_ops"
  exit 0
fi

build=${1:-build-gpu}
out=${2:-gpu_results.txt}
here=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH="/usr/local/cuda/lib64:$build/lib:${LD_LIBRARY_PATH:-}"

{
  echo "# attngan GPU checks"
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit: ${ATTNGAN_COMMIT:-$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)} (set ATTNGAN_COMMIT where the checkout has no .git)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  echo
  echo "## parity: cuda vs cpu (tests/backend/parity)"
} > "$out"

timeout 240 "$build/tests/backend/parity/test_parity_cuda" >> "$out" 2>&1
parity=$?
echo "parity exit status: $parity" >> "$out"

echo >> "$out"; echo "## attngan cuda benchmarks (median of 5)" >> "$out"
timeout 240 "$build/bench/bench_cuda_ops" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_min_time=0.2 >> "$out" 2>&1
echo "bench exit status: $?" >> "$out"

echo >> "$out"; echo "## PyTorch eager, same shapes (median of 5)" >> "$out"
PYTHONUNBUFFERED=1 timeout 240 python3 "$here/torch_ops.py" --repetitions 5 >> "$out" 2>&1
echo "torch exit status: $?" >> "$out"

programs="$build/examples"
if [ -x "$programs/05_train_attngan" ]; then
  work=$(mktemp -d)
  # Each program's own lines, its progress bar reduced to the last update.
  summary() { tr '\r' '\n' | grep -v '^ *$' | awk '/^[a-z][a-z ]* [0-9]+\/[0-9]+  /{last=$0; next} {print} END{if (last) print "last progress: " last}'; }
  {
    echo; echo "## the programs on the GPU (small configuration, demo options, short runs)"
    timeout 60 "$programs/03_make_synthetic_birds" --out "$work/birds" --classes 20 --images-per-class 40 --size 128 \
      --colour-mixing 1 2>&1 | tail -n 2
    timeout 150 "$programs/04_pretrain_damsm" --data "$work/birds" --out "$work/run/damsm.safetensors" --epochs 10 \
      --lr-decay 1 --dropout 0 --attribute-pretrain 5 --freeze-trunk 2>&1 | summary
    timeout 200 "$programs/05_train_attngan" --data "$work/birds" --damsm "$work/run/damsm.safetensors" --out "$work/run" \
      --steps 300 --lr-g 1e-3 --lr-d 1e-3 --no-flip --ema-decay 0.99 --sample-average 2>&1 | summary
    timeout 120 "$programs/07_evaluate" --data "$work/birds" --checkpoint "$work/run/checkpoint.safetensors" --average \
      2>&1 | summary
  } >> "$out" 2>&1
  rm -rf "$work"
fi

cat "$out"
exit $parity
