#!/usr/bin/env bash
# The one script a GPU session runs on the device machine: the CUDA backend's tests and a
# gradient benchmark, with a short table at the end. Well under 10 minutes on an H100/H200.
#
# The device machine has the CUDA driver and toolkit libraries but no Eigen, GoogleTest or network,
# so the binaries are built HERE (no GPU needed) for sm_90 with the static CUDA runtime, and their
# folder travels with the working tree (at most 64 MiB):
#
#   here:   bash bench/gpu_check.sh --build            # -> build/gpu-check (binaries only, ~10 MB)
#   device: run(carry: ["build/gpu-check"], command: "bash bench/gpu_check.sh build/gpu-check",
#               timeout_s: 600)
#
# --build configures the gpu-check preset (CUDA_ARCHITECTURES 90-real) into build/gpu-check-full,
# builds hbglm_cli, hbglm_tests_gpu and hbglm_bench_grad_eval_cuda, and copies the three binaries
# into build/gpu-check with the build tree's layout (hbglm, tests/, bench/). A full build folder of
# that preset works too (bash bench/gpu_check.sh build/gpu-check-full) but is too big to carry.
#
# On the device it runs, each step under a time limit, and writes logs to $OUT when set:
#   (a) hbglm info
#   (b) the gpu-labelled tests: tests/hbglm_tests_gpu --gtest_brief=1
#   (c) bench/hbglm_bench_grad_eval_cuda: CPU vs CUDA log density + gradient of the election model
#       at n = 300k, 1M, 3M, 10M (bernoulli; gaussian at 300k and 1M), against the bytes-read floor
#   (d) a summary table
# Options after DIR: --quick (tests only, bench at 300k), --bench-only, --tests-only.
# Exit status: 0 when the tests passed and the bench ran, 1 otherwise.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

build_carry() {
  # HBGLM_GPU_CHECK_BUILD overrides the full build folder (e.g. to keep it outside the repo).
  local out="${1:-build/gpu-check}" full="${HBGLM_GPU_CHECK_BUILD:-build/gpu-check-full}"
  cd "$here" || exit 1
  if [[ -f "$out/CMakeCache.txt" ]]; then
    echo "error: $out is a CMake build folder; pass another output folder" >&2
    exit 1
  fi
  cmake --preset gpu-check -B "$full" -DHBGLM_BUILD_BENCH=ON -DHBGLM_BUILD_TESTS=ON || exit 1
  cmake --build "$full" -j "$(nproc)" --target hbglm_cli hbglm_tests_gpu \
    hbglm_bench_grad_eval_cuda || exit 1
  rm -rf "$out"
  mkdir -p "$out/tests" "$out/bench"
  cp "$full/hbglm" "$out/hbglm"
  cp "$full/tests/hbglm_tests_gpu" "$out/tests/"
  cp "$full/bench/hbglm_bench_grad_eval_cuda" "$out/bench/"
  {
    echo "built $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n) from $here"
    grep -E '^CMAKE_CUDA_ARCHITECTURES|^CMAKE_BUILD_TYPE' "$full/CMakeCache.txt"
  } >"$out/BUILD_INFO"
  local kib
  kib=$(du -sk "$out" | cut -f1)
  echo "carry folder $out: $((kib / 1024)) MiB (limit 64 MiB with the working tree)"
  if ((kib > 60 * 1024)); then
    echo "error: $out is too big to carry" >&2
    exit 1
  fi
  echo "device: run(carry: [\"$out\"], command: \"bash bench/gpu_check.sh $out\", timeout_s: 600)"
}

if [[ "${1:-}" == "--build" ]]; then
  build_carry "${2:-}"
  exit 0
fi

dir="${1:-build/gpu-check}"
shift || true
mode=full
for arg in "$@"; do
  case "$arg" in
    --quick) mode=quick ;;
    --bench-only) mode=bench ;;
    --tests-only) mode=tests ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done
cd "$here" || exit 1
[[ "$dir" = /* ]] || dir="$here/$dir"
cli="$dir/hbglm" tests="$dir/tests/hbglm_tests_gpu" bench="$dir/bench/hbglm_bench_grad_eval_cuda"
for f in "$cli" "$tests" "$bench"; do
  if [[ ! -x "$f" ]]; then
    echo "error: $f is missing: build the carry folder first (bash bench/gpu_check.sh --build)" >&2
    exit 1
  fi
done
logs="${OUT:-/tmp/gpu_check}"
mkdir -p "$logs"
start=$SECONDS

# The binaries link libcublas.so.13 and libcusparse.so.12 dynamically (the static CUDA runtime is
# inside them). Find the toolkit's libraries when the loader does not.
if ldd "$tests" | grep -q "not found"; then
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13*/lib64 \
           /usr/lib/x86_64-linux-gnu; do
    [[ -e "$d/libcublas.so.13" ]] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  done
  if ldd "$tests" | grep -q "not found"; then
    # pip's nvidia-* wheels (the image's PyTorch brings them)
    for lib in $(find / -xdev \( -name 'libcublas.so.13' -o -name 'libcusparse.so.12' -o \
                 -name 'libcublasLt.so.13' -o -name 'libnvJitLink.so.13' \) 2>/dev/null); do
      export LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    done
  fi
fi
if ldd "$tests" | grep "not found"; then
  echo "error: CUDA libraries not found (see above)" >&2
  exit 1
fi

echo "=== (a) hbglm info"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
"$cli" info | tee "$logs/info.txt"
device=$(awk '/^backend cuda/ {on = 1; next} /^backend / {on = 0} on && /^  / {sub(/^ +/, ""); print; exit}' \
  "$logs/info.txt")
cuda_status=$(grep '^backend cuda' "$logs/info.txt" | sed 's/^backend cuda: //')

tests_rc=-1 tests_line="not run"
if [[ "$mode" != bench ]]; then
  echo
  echo "=== (b) gpu-labelled tests: hbglm_tests_gpu --gtest_brief=1"
  timeout 420 "$tests" --gtest_brief=1 2>&1 | tee "$logs/tests.txt"
  tests_rc=${PIPESTATUS[0]}
  passed=$(grep -o '\[  PASSED  \] [0-9]* test' "$logs/tests.txt" | grep -o '[0-9]*' | tail -1)
  failed=$(grep -o '\[  FAILED  \] [0-9]* test' "$logs/tests.txt" | grep -o '[0-9]*' | tail -1)
  skipped=$(grep -o '\[  SKIPPED \] [0-9]* test' "$logs/tests.txt" | grep -o '[0-9]*' | tail -1)
  tests_line="passed ${passed:-0}, failed ${failed:-0}, skipped ${skipped:-0}, exit ${tests_rc}"
  ((tests_rc == 124)) && tests_line="$tests_line (timed out)"
fi

bench_rc=-1
if [[ "$mode" != tests ]]; then
  echo
  echo "=== (c) gradient benchmark: hbglm_bench_grad_eval_cuda"
  left=$((540 - (SECONDS - start)))
  if [[ "$mode" == quick ]]; then
    timeout 120 "$bench" --family both 300000 2>&1 | tee "$logs/bench.txt"
    bench_rc=${PIPESTATUS[0]}
  else
    timeout $((left > 60 ? left : 60)) "$bench" --family both --time-budget $((left / 3)) \
      300000 1000000 2>&1 | tee "$logs/bench.txt"
    bench_rc=${PIPESTATUS[0]}
    left=$((540 - (SECONDS - start)))
    if ((left > 90)); then
      timeout "$left" "$bench" --family bernoulli --time-budget $((left - 60)) \
        3000000 10000000 2>&1 | grep -v '^#\|^ *n ' | tee -a "$logs/bench.txt"
      rc=${PIPESTATUS[0]}
      ((rc != 0)) && bench_rc=$rc
    else
      echo "3M and 10M skipped: $left s left" | tee -a "$logs/bench.txt"
    fi
  fi
fi

echo
echo "=== (d) summary ($((SECONDS - start)) s)"
printf '%-10s %s\n' "device" "${device:-none}"
printf '%-10s %s\n' "cuda" "${cuda_status:-unknown}"
printf '%-10s %s\n' "tests" "$tests_line"
if ((bench_rc >= 0)); then
  printf '%-10s exit %s; per gradient (ms):\n' "bench" "$bench_rc"
  awk '$1 ~ /^[0-9]+$/ {
         note = ""; for (i = 17; i <= NF; ++i) note = note " " $i
         printf "  n=%-9s %-9s cpu %9s  cuda %8s  leapfrog %8s  x_floor %6s  cpu/cuda %7s  lp_rel %s%s\n",
                $1, $2, $7, $8, $9, $12, $14, $15, note}' "$logs/bench.txt"
fi
[[ "$mode" == bench || "$tests_rc" == 0 ]] && [[ "$mode" == tests || "$bench_rc" == 0 ]]
exit $?
