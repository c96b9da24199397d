#!/usr/bin/env bash
# The whole-model CPU benchmark, attngan and the oracle one after the other
# on the same machine (2 threads each), each under /usr/bin/time -v for its
# peak RSS.
#   bird  attngan  build/bench/bench_model (train_iteration/2, generate/20),
#                  each benchmark in its own process so each gets its own
#                  peak RSS
#         oracle   shared/reference/time_step.py 2 --device cpu --threads 2
#                  --fast-init --infer-batch 20 (training iteration, then G
#                  inference; its peak RSS covers both phases)
#   demo  the demo's model (small preset 32² → 64², batch 32), one training
#         iteration: bench_model's demo_iteration/32 (10 iterations per
#         repetition) and bench/oracle_demo_step.py (the oracle given the
#         32² first stage and D_NET32 of attngan's small preset), alternated
#         REPETITIONS times so that both see the same drift of the machine.
# usage: bench/run_model_bench.sh [BUILD_DIR] [REPETITIONS] [bird|demo|all]
#        (defaults: build, 5, all)
# The oracle is found in $ATTNGAN_REFERENCE_DIR (default ../shared/reference
# relative to the repository root).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$repo/build}"
reps="${2:-5}"
which="${3:-all}"
case "$which" in
  bird|demo|all) ;;
  *) echo "usage: $0 [BUILD_DIR] [REPETITIONS] [bird|demo|all]" >&2; exit 2 ;;
esac
ref="${ATTNGAN_REFERENCE_DIR:-$repo/../shared/reference}"
export ATTNGAN_REFERENCE_DIR="$ref"
export OMP_NUM_THREADS=2
cmake --build "$build" --target bench_model >/dev/null  # not in the default build
load() { echo "# $(date -u) load: $(cut -d' ' -f1-3 /proc/loadavg)"; }
torch_version="$(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"

if [[ "$which" != demo ]]; then
  load
  for filter in train_iteration generate; do
    echo "## attngan $filter"
    /usr/bin/time -v "$build/bench/bench_model" --benchmark_filter="$filter" \
      --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true 2>&1 |
      grep -E "_(median|mean|stddev) |Maximum resident|Elapsed"
  done
  load
  echo "## oracle (PyTorch $torch_version)"
  /usr/bin/time -v /usr/bin/python3 "$ref/time_step.py" 2 --steps "$reps" --warmup 1 --device cpu --threads 2 \
    --fast-init --infer-batch 20 --infer-steps "$reps" 2>&1 | grep -E "^\[fp32\] (build|G inf)|Maximum resident|Elapsed"
  load
fi

if [[ "$which" != bird ]]; then
  for ((r = 1; r <= reps; ++r)); do
    load
    echo "## round $r: attngan demo_iteration/32"
    /usr/bin/time -v "$build/bench/bench_model" --benchmark_filter=demo_iteration 2>&1 |
      grep -E "^demo_iteration|Maximum resident"
    echo "## round $r: oracle demo iteration (PyTorch $torch_version)"
    /usr/bin/time -v /usr/bin/python3 "$repo/bench/oracle_demo_step.py" --steps 10 --warmup 2 --threads 2 2>&1 |
      grep -E "^oracle demo|Maximum resident"
  done
  load
fi
