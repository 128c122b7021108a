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
#       at n = 300k, 1M, 3M, 10M (bernoulli; gaussian at 300k and 1M), against the bytes-read floor,
#       with the peak device memory against the data's size; as many sizes as the time allows;
#       at 3M and 10M also 4 chains at once at tree depth 10 (--deep-chains 4: the device peak of
#       the issue's "10M rows with 4 chains on one 80 GB GPU", about 15 s at 10M)
#   (e) peers, when `python3 -c 'import numpyro, jax'` works there (the image has both): on
#       election data made by the carried hbglm (`hbglm simulate`, n = 30000, gaussian; PEER_N and
#       PEER_FAMILY change them, PEER_WARMUP and PEER_SAMPLES the runs' length, PEER_CENTERED
#       hbglm's --centered), the
#       gradient bench at that n, bench/peers/numpyro_election.py --grad-only, an hbglm CUDA run
#       (`hbglm sample --backend cuda`, 4 chains, 300 warmup + 300 draws) and the same run in
#       NumPyro (4 chains vectorized on the GPU, float64); each under its own time limit; then
#       each run's estimates against the simulation's true values (compare.py --truth)
#   (f) with --real-data only: lme4's InstEval (73,421 rows) and VerbAgg (7,584) fitted by the
#       CUDA and then the CPU backend (bench/lme4_classics.py --no-lme4, 4 × (1000 + 1000); lmer's
#       times on the 2-core host are in bench/results/lme4_classics_cpu.txt), about 2 minutes
#   (d) a summary table (printed last), with the peers' per-gradient ms, wall s, min bulk ESS,
#       ESS/s
# Options after DIR: --quick (tests only, bench at 300k, no peers), --bench-only, --tests-only,
# --peers-only, --real-data (step f alone), --no-peers, --budget SEC (the whole script's time,
# default 360 s, so that a failed run can be rerun within the 15 device minutes; with the peers
# 150 s of it are kept for (e), and the bench stops at the sizes that fit).
# $OUT (at most 8 files come back): info.txt tests.txt bench.txt grad_eval_cuda.csv peers.txt
# numpyro_grad.csv numpyro_FAMILY_N.csv hbglm_cuda_FAMILY_N.csv; the last three are
# bench/results/ formats (bench/plot.py); --real-data writes real_data.txt and
# lme4_classics_{cuda,cpu}_device.csv (bench/results/ format too). Scratch (the data, chain files)
# goes to ${TMPDIR:-/tmp}/gpu_check_work.
# Exit status: 0 when the tests passed and the bench ran, 1 otherwise (the peers do not count).
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
peers=1
budget=360
while (($# > 0)); do
  case "$1" in
    --quick) mode=quick ;;
    --bench-only) mode=bench ;;
    --tests-only) mode=tests ;;
    --peers-only) mode=peers ;;
    --real-data) mode=real ;;
    --no-peers) peers=0 ;;
    --budget)
      [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "--budget needs seconds" >&2; exit 2; }
      budget=$2
      shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[[ "$mode" == quick || "$mode" == tests || "$mode" == real ]] && peers=0
[[ "$mode" == peers ]] && peers=1
# Peer run settings (step e); the variables are for trying the script on a small case, for
# longer runs split over two calls (PEER_WARMUP=1000 PEER_SAMPLES=1000 PEER_TOOLS=hbglm: 116 s on
# an H200; then PEER_TOOLS=numpyro: about 350-450 s by its 300 + 300 time), and for the issue's
# other sampling runs (PEER_N=300000, PEER_FAMILY=bernoulli).
peer_n=${PEER_N:-30000} peer_family=${PEER_FAMILY:-gaussian} peer_chains=${PEER_CHAINS:-4}
peer_warmup=${PEER_WARMUP:-300} peer_samples=${PEER_SAMPLES:-300}
peer_backend=${PEER_BACKEND:-cuda}
# hbglm sample --centered: auto (the default since the centered form; runs recorded before it
# sampled every term non-centered, which PEER_CENTERED=none repeats).
peer_centered=${PEER_CENTERED:-auto}
# A run too long for one device call can be split by chains (hbglm sample --chain-id): e.g.
# PEER_CHAINS=2 PEER_KEEP_CHAINS=1, then the same with PEER_CHAIN_ID=3; the chain files come back
# in $OUT, and `hbglm summary` of all four here is the 4-chain run's.
peer_chain_id=${PEER_CHAIN_ID:-1} peer_keep_chains=${PEER_KEEP_CHAINS:-0}
peer_tools=${PEER_TOOLS:-hbglm numpyro}
# The runs' time limits grow with their length: 150 s (hbglm) and 300 s (NumPyro) per 600
# iterations, and never past the budget.
peer_scale=$(((peer_warmup + peer_samples + 599) / 600))
peer_reserve=0
((peers)) && [[ "$mode" != peers ]] && peer_reserve=150
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
# The gpu-labelled tests run on the device here, never with the CPU stand-in of the CI runs.
unset HBGLM_GPU_TESTS_ON_CPU
mkdir -p "$logs"
start=$SECONDS
# Seconds left of the budget, less $1 kept for later steps.
left_after() { echo $((budget - (SECONDS - start) - ${1:-0})); }
# min($1, $2), at least $3
clamp() { local v=$(($1 < $2 ? $1 : $2)); echo $((v > $3 ? v : $3)); }

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

csv_header="n,family,p,K,dim,setup_s,cpu_ms,cuda_ms,leapfrog_ms,floor_MB,floor_us,cuda_over_floor"
csv_header+=",cuda_GB_per_s,cpu_over_cuda,lp_rel_diff,grad_max_rel_diff,data_MB,device_peak_MB"
csv_header+=",device_peak_over_floor,note"
# The bench's table rows (19 numeric columns, then a free-text note) as CSV.
table_to_csv() {
  echo "$csv_header"
  awk '$1 ~ /^[0-9]+$/ {
         line = $1; for (i = 2; i <= 19 && i <= NF; ++i) line = line "," $i
         note = ""; for (i = 20; i <= NF; ++i) note = note (i > 20 ? " " : "") $i
         gsub(/,/, ";", note); print line "," note}' "$1"
}

# Step (e). Prints its log; its last line is what the summary shows when it stops early.
run_peers() {
  local work="${TMPDIR:-/tmp}/gpu_check_work" limit
  local data="$work/election_${peer_n}_${peer_family}.csv"
  local script="$here/bench/peers/numpyro_election.py"
  if [[ " $peer_tools " == *" numpyro "* ]] && ! python3 -c 'import numpyro, jax' 2>/dev/null; then
    echo "skipped: python3 cannot import numpyro and jax here"
    return
  fi
  if (($(left_after 0) < 120)); then
    echo "skipped: $(left_after 0) s left of the $budget s budget"
    return
  fi
  rm -rf "$work"
  mkdir -p "$work"
  local formula
  formula=$("$cli" simulate --model election --n "$peer_n" --family "$peer_family" --seed 1 \
    --out "$data" --truth "$work/truth.csv" | sed -n "s/.*--formula '\(.*\)'/\1/p")
  if [[ -z "$formula" ]]; then
    echo "failed: hbglm simulate"
    return
  fi
  [[ " $peer_tools " == *" numpyro "* ]] &&
    python3 -c 'import jax, numpyro; print("jax", jax.__version__, "numpyro", numpyro.__version__, jax.devices())'

  local hb_grad=nan
  if [[ " $peer_tools " == *" hbglm "* ]]; then
    echo "--- hbglm gradient at n = $peer_n (hbglm_bench_grad_eval_cuda --csv --family $peer_family)"
    timeout 60 "$bench" --csv --family "$peer_family" "$peer_n" >"$work/grad_peer_n.csv"
    cat "$work/grad_peer_n.csv"
    [[ -s "$logs/grad_eval_cuda.csv" ]] || echo "$csv_header" >"$logs/grad_eval_cuda.csv"
    tail -n +2 "$work/grad_peer_n.csv" >>"$logs/grad_eval_cuda.csv"
    hb_grad=$(awk -F, 'NR > 1 && $1 ~ /^[0-9]+$/ {print $8; exit}' "$work/grad_peer_n.csv")
  fi

  if [[ " $peer_tools " == *" numpyro "* ]]; then
    echo "--- numpyro_election.py --grad-only"
    limit=$(clamp 120 "$(left_after 150)" 30)
    PYTHONUNBUFFERED=1 timeout "$limit" python3 "$script" "$data" --family "$peer_family" \
      --chains "$peer_chains" --seed 1 --grad-only --grad-out "$logs/numpyro_grad.csv"
    echo "numpyro grad-only: exit $? (limit $limit s)"
  fi

  [[ " $peer_tools " == *" hbglm "* ]] && peer_hbglm "$work" "$data" "$formula" "$hb_grad"
  [[ " $peer_tools " == *" numpyro "* ]] && peer_numpyro "$data" "$script"
  peer_against_truth "$work/truth.csv"
  return 0
}

# Each peer run's estimates against the values the data were simulated from (compare.py --truth:
# posterior mean within 3 posterior sd; lme4 has no fit at most of these sizes): TRUTH.
peer_against_truth() {
  local truth=$1 run
  for run in "$logs/hbglm_${peer_backend}_${peer_family}_${peer_n}.csv" \
             "$logs/numpyro_${peer_family}_${peer_n}.csv"; do
    [[ -s "$run" && -s "$truth" ]] || continue
    echo "--- $(basename "$run") against the truth (bench/peers/compare.py --truth)"
    python3 "$here/bench/peers/compare.py" --hbglm "$run" --truth "$truth" |
      awk '/^(sd_|sigma|b_Intercept)/ || /comparisons pass/'
  done
}

# The hbglm run of step (e): WORK DATA FORMULA GRAD_MS.
peer_hbglm() {
  local work=$1 data=$2 formula=$3 hb_grad=$4 limit
  echo "--- hbglm sample --backend $peer_backend (${peer_chains} chains, $peer_warmup + $peer_samples, --centered $peer_centered)"
  local numpyro_reserve=0
  [[ " $peer_tools " == *" numpyro "* ]] && numpyro_reserve=90
  limit=$(clamp $((150 * peer_scale)) "$(left_after "$numpyro_reserve")" 30)
  timeout "$limit" "$cli" sample --backend "$peer_backend" --data "$data" --family "$peer_family" \
    --formula "$formula" --chains "$peer_chains" --warmup "$peer_warmup" \
    --samples "$peer_samples" --seed 1 --chain-id "$peer_chain_id" --centered "$peer_centered" \
    --output-dir "$work" --output-prefix hbglm_cuda >"$work/hbglm_cuda.log" 2>&1
  local hb_rc=$?
  head -60 "$work/hbglm_cuda.log"
  echo "hbglm $peer_backend run: exit $hb_rc (limit $limit s)"
  if ((hb_rc == 0)); then
    local files=()
    for ((c = peer_chain_id; c < peer_chain_id + peer_chains; ++c)); do
      files+=("$work/hbglm_cuda_$c.csv")
      # A part of a split run: its chain files come back, to be summarized with the other part's.
      ((peer_keep_chains)) && cp "$work/hbglm_cuda_$c.csv" "$logs/"
    done
    "$cli" summary --format csv "${files[@]}" >"$work/hbglm_cuda_summary.csv"
    python3 "$here/bench/plot.py" convert-hbglm --summary "$work/hbglm_cuda_summary.csv" \
      --log "$work/hbglm_cuda.log" --tool "hbglm $peer_backend ${peer_warmup}+${peer_samples}" \
      --family "$peer_family" \
      --n "$peer_n" --out "$logs/hbglm_${peer_backend}_${peer_family}_${peer_n}.csv"
    python3 - "$logs/hbglm_${peer_backend}_${peer_family}_${peer_n}.csv" "${hb_grad:-nan}" \
      "$peer_backend" "${files[@]}" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
ess = [(float(r["ess_bulk"]), r["parameter"]) for r in rows if r["ess_bulk"] not in ("NA", "")]
rhat = max(float(r["rhat"]) for r in rows if r["rhat"] not in ("NA", ""))
seconds = float(rows[0]["seconds"])
leapfrog = divergent = 0
for path in sys.argv[4:]:
    names = None
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        if names is None:
            names = line.strip().split(",")
            i_lf, i_div = names.index("n_leapfrog__"), names.index("divergent__")
            continue
        v = line.split(",")
        leapfrog += int(float(v[i_lf]))
        divergent += int(float(v[i_div]))
e, p = min(ess)
print(f"RESULT tool=hbglm_{sys.argv[3]} grad_ms={sys.argv[2]} wall_s={seconds:.1f} compile_s=0 "
      f"seconds={seconds:.1f} min_ess_bulk={e:.0f} min_ess_param={p} ess_per_s={e / seconds:.4g} "
      f"max_rhat={rhat:.3f} divergent={divergent} sampling_gradients={leapfrog} "
      f"ess_per_1000_grad={1000 * e / max(1, leapfrog):.4g}")
PY
  fi
}

# The NumPyro run of step (e): DATA SCRIPT.
peer_numpyro() {
  local data=$1 script=$2 limit
  echo "--- numpyro_election.py (${peer_chains} chains vectorized, $peer_warmup + $peer_samples)"
  limit=$(clamp $((300 * peer_scale)) "$(left_after 5)" 30)
  PYTHONUNBUFFERED=1 timeout "$limit" python3 "$script" "$data" --family "$peer_family" \
    --chains "$peer_chains" --warmup "$peer_warmup" --samples "$peer_samples" --seed 1 \
    --skip-grad --out "$logs/numpyro_${peer_family}_${peer_n}.csv" \
    --tool-label "numpyro ${peer_warmup}+${peer_samples}"
  local np_rc=$?
  echo "numpyro run: exit $np_rc (limit $limit s$( ((np_rc == 124)) && echo ', timed out'))"
}

echo "=== (a) hbglm info"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
"$cli" info | tee "$logs/info.txt"
device=$(awk '/^backend cuda/ {on = 1; next} /^backend / {on = 0} on && /^  / {sub(/^ +/, ""); print; exit}' \
  "$logs/info.txt")
cuda_status=$(grep '^backend cuda' "$logs/info.txt" | sed 's/^backend cuda: //')

tests_rc=-1 tests_line="not run"
if [[ "$mode" != bench && "$mode" != peers && "$mode" != real ]]; then
  echo
  echo "=== (b) gpu-labelled tests: hbglm_tests_gpu --gtest_brief=1"
  limit=$(clamp 420 "$(left_after $((peer_reserve + 60)))" 60)
  timeout "$limit" "$tests" --gtest_brief=1 2>&1 | tee "$logs/tests.txt"
  tests_rc=${PIPESTATUS[0]}
  passed=$(grep -o '\[  PASSED  \] [0-9]* test' "$logs/tests.txt" | grep -o '[0-9]*' | tail -1)
  failed=$(grep -o '\[  FAILED  \] [0-9]* test' "$logs/tests.txt" | grep -o '[0-9]*' | tail -1)
  skipped=$(grep -o '\[  SKIPPED \] [0-9]* test' "$logs/tests.txt" | grep -o '[0-9]*' | tail -1)
  tests_line="passed ${passed:-0}, failed ${failed:-0}, skipped ${skipped:-0}, exit ${tests_rc}"
  ((tests_rc == 124)) && tests_line="$tests_line (timed out)"
fi

bench_rc=-1
if [[ "$mode" != tests && "$mode" != peers && "$mode" != real ]]; then
  echo
  echo "=== (c) gradient benchmark: hbglm_bench_grad_eval_cuda"
  left=$(left_after "$peer_reserve")
  if [[ "$mode" == quick ]]; then
    timeout 120 "$bench" --family both 300000 2>&1 | tee "$logs/bench.txt"
    bench_rc=${PIPESTATUS[0]}
  else
    timeout $((left > 60 ? left : 60)) "$bench" --family both --time-budget $((left / 3)) \
      300000 1000000 2>&1 | tee "$logs/bench.txt"
    bench_rc=${PIPESTATUS[0]}
    left=$(left_after "$peer_reserve")
    if ((left > 90)); then
      # 90 s kept for the deep chains (about 20 s at 10M on an H200) and the 10M set-up.
      timeout "$left" "$bench" --family bernoulli --time-budget $((left - 90)) \
        --deep-chains 4 3000000 10000000 2>&1 | grep -v '^#\|^ *n ' | tee -a "$logs/bench.txt"
      rc=${PIPESTATUS[0]}
      ((rc != 0)) && bench_rc=$rc
    else
      echo "3M and 10M skipped: $left s left" | tee -a "$logs/bench.txt"
    fi
  fi
  # The table as CSV, in the columns of hbglm_bench_grad_eval_cuda --csv (bench/plot.py reads it).
  table_to_csv "$logs/bench.txt" >"$logs/grad_eval_cuda.csv"
fi

peers_line="not run"
if ((peers)); then
  echo
  echo "=== (e) peers: NumPyro and hbglm CUDA on election data, n = $peer_n $peer_family"
  run_peers 2>&1 | tee "$logs/peers.txt"
  peers_line=$(tail -1 "$logs/peers.txt")
fi

if [[ "$mode" == real ]]; then
  echo
  echo "=== (f) real data: lme4's InstEval and VerbAgg, CUDA then CPU backend"
  for backend in cuda cpu; do
    limit=$(clamp 240 "$(left_after 0)" 30)
    timeout "$limit" python3 "$here/bench/lme4_classics.py" --hbglm "$cli" --backend "$backend" \
      --no-lme4 --out "${TMPDIR:-/tmp}/gpu_check_real_$backend" \
      --csv "$logs/lme4_classics_${backend}_device.csv" InstEval VerbAgg
    echo "exit $? (limit $limit s)"
  done 2>&1 | tee "$logs/real_data.txt"
fi

echo
echo "=== (d) summary ($((SECONDS - start)) s)"
printf '%-10s %s\n' "device" "${device:-none}"
printf '%-10s %s\n' "cuda" "${cuda_status:-unknown}"
printf '%-10s %s\n' "tests" "$tests_line"
if ((bench_rc >= 0)); then
  printf '%-10s exit %s; per gradient (ms):\n' "bench" "$bench_rc"
  awk '$1 ~ /^[0-9]+$/ {
         note = ""; for (i = 20; i <= NF; ++i) note = note " " $i
         printf "  n=%-9s %-9s cpu %9s  cuda %8s  leapfrog %8s  x_floor %6s  cpu/cuda %7s  lp_rel %s  dev_MB %s (x%s floor)%s\n",
                $1, $2, $7, $8, $9, $12, $14, $15, $18, $19, note}' "$logs/bench.txt"
  grep '^deep-chains' "$logs/bench.txt" | sed 's/^/  /'
fi
if ((peers)); then
  printf '%-10s election n=%s %s, %s chains x (%s warmup + %s draws); seconds without\n' \
    "peers" "$peer_n" "$peer_family" "$peer_chains" "$peer_warmup" "$peer_samples"
  printf '%-10s compilation (numpyro: JAX tracing + XLA compiling measured and taken out)\n' ""
  if grep -q '^RESULT' "$logs/peers.txt" 2>/dev/null; then
    printf '  %-11s %9s %9s %8s %8s %8s %9s %8s %5s %9s %8s\n' tool grad_ms wall_s compile_s \
      seconds min_ess ess_per_s max_rhat div grads ess/1kgr
    # numpyro prints two RESULT lines (--grad-only, then the run): merge them, later keys win.
    awk '/^RESULT / {
           delete kv; for (i = 2; i <= NF; ++i) { split($i, a, "="); kv[a[1]] = a[2] }
           t = kv["tool"]; tools[t] = 1
           for (k in kv) val[t, k] = kv[k] }
         END {
           for (t in tools) {
             printf "  %-11s %9s %9s %8s %8s %8s %9s %8s %5s %9s %8s\n", t,
               g(t, "grad_ms"), g(t, "wall_s"), g(t, "compile_s"), g(t, "seconds"),
               g(t, "min_ess_bulk"), g(t, "ess_per_s"), g(t, "max_rhat"), g(t, "divergent"),
               g(t, "sampling_gradients"), g(t, "ess_per_1000_grad") } }
         function g(t, k) { return ((t, k) in val) ? val[t, k] : "-" }' "$logs/peers.txt"
    grep -h 'grad_batch_ms=' "$logs/peers.txt" | sed -n 's/.*\(grad_batch_ms=[^ ]*\).*/  numpyro \1 (all chains under vmap)/p' | head -1
  else
    printf '  %s\n' "$peers_line"
  fi
fi
if [[ "$mode" == real ]]; then
  printf '%-10s\n' "real data"
  grep -E '^(hbglm backend|case|InstEval|VerbAgg|exit)' "$logs/real_data.txt" | sed 's/^/  /'
fi
[[ "$mode" == peers || "$mode" == bench || "$mode" == real || "$tests_rc" == 0 ]] &&
  [[ "$mode" == peers || "$mode" == tests || "$mode" == real || "$bench_rc" == 0 ]]
exit $?
