#!/usr/bin/env bash
# The whole-model CPU benchmark, attngan and the oracle one after the other
# on the same machine (2 threads each), each under /usr/bin/time -v for its
# peak RSS:
#   attngan  build/bench/bench_model (train_iteration/2, generate/20), each
#            benchmark in its own process so each gets its own peak RSS
#   oracle   shared/reference/time_step.py 2 --device cpu --threads 2
#            --fast-init --infer-batch 20 (training iteration, then G
#            inference; its peak RSS covers both phases)
# usage: bench/run_model_bench.sh [BUILD_DIR] [REPETITIONS]
# The oracle is found in $ATTNGAN_REFERENCE_DIR (default ../shared/reference
# relative to the repository root).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$repo/build}"
reps="${2:-5}"
ref="${ATTNGAN_REFERENCE_DIR:-$repo/../shared/reference}"
export OMP_NUM_THREADS=2
cmake --build "$build" --target bench_model >/dev/null  # not in the default build
echo "# $(date -u) load: $(cut -d' ' -f1-3 /proc/loadavg)"
for filter in train_iteration generate; do
  echo "## attngan $filter"
  /usr/bin/time -v "$build/bench/bench_model" --benchmark_filter="$filter" \
    --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true 2>&1 |
    grep -E "_(median|mean|stddev) |Maximum resident|Elapsed"
done
echo "# $(date -u) load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "## oracle (PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'))"
/usr/bin/time -v /usr/bin/python3 "$ref/time_step.py" 2 --steps "$reps" --warmup 1 --device cpu --threads 2 \
  --fast-init --infer-batch 20 --infer-steps "$reps" 2>&1 | grep -E "^\[fp32\] (build|G inf)|Maximum resident|Elapsed"
echo "# $(date -u) load: $(cut -d' ' -f1-3 /proc/loadavg)"
