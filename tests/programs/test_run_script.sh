#!/usr/bin/env bash
# cmake/run.sh's choice of where programs 04-07 run: cuda when nvidia-smi
# lists a GPU and nvcc is installed, cpu otherwise, and what
# ATTNGAN_PROGRAMS_BACKEND says when it is set. nvidia-smi and nvcc are
# stand-in scripts, so the test runs on any machine.
#   usage: test_run_script.sh <repository> <scratch dir>
set -uo pipefail
repo="$1"
scratch="$2"
rm -rf "$scratch" && mkdir -p "$scratch/gpu" "$scratch/nogpu" "$scratch/nvcc"

fails=0
expect() {  # expect <what> <wanted> <got>
  if [[ "$2" == "$3" ]]; then
    echo "ok:   $1 -> $3"
  else
    echo "FAIL: $1 -> $3 (wanted $2)"
    fails=$((fails + 1))
  fi
}

printf '#!/bin/sh\necho "GPU 0: NVIDIA H200 (UUID: GPU-0)"\n' >"$scratch/gpu/nvidia-smi"
printf '#!/bin/sh\necho "No devices were found"\nexit 6\n' >"$scratch/nogpu/nvidia-smi"
printf '#!/bin/sh\nexit 0\n' >"$scratch/nvcc/nvcc"
chmod +x "$scratch"/*/*

# shellcheck source=../../cmake/run.sh
source "$repo/cmake/run.sh"
set +e
DEFAULT_NVCC="$scratch/none/nvcc"  # not there: nvcc only where a case puts it
unset CUDACXX ATTNGAN_PROGRAMS_BACKEND
base_path="/usr/bin:/bin"

expect "GPU listed, nvcc on PATH" cuda "$(PATH="$scratch/gpu:$scratch/nvcc:$base_path" programs_backend)"
expect "GPU listed, nvcc in CUDACXX" cuda "$(PATH="$scratch/gpu:$base_path" CUDACXX="$scratch/nvcc/nvcc" programs_backend)"
expect "GPU listed, no nvcc" cpu "$(PATH="$scratch/gpu:$base_path" programs_backend)"
expect "nvidia-smi finds no GPU, nvcc present" cpu "$(PATH="$scratch/nogpu:$scratch/nvcc:$base_path" programs_backend)"
expect "no nvidia-smi, nvcc present" cpu "$(PATH="$scratch/nvcc:$base_path" programs_backend)"
expect "override on a GPU machine" cpu \
  "$(PATH="$scratch/gpu:$scratch/nvcc:$base_path" ATTNGAN_PROGRAMS_BACKEND=cpu programs_backend)"
expect "override without a GPU" thrust_host "$(PATH="$base_path" ATTNGAN_PROGRAMS_BACKEND=thrust_host programs_backend)"

if ((fails > 0)); then
  echo "$fails case(s) failed"
  exit 1
fi
echo "all cases passed"
