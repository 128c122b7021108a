#!/usr/bin/env bash
# Peak host memory of `hbglm sample` (CPU backend) against the size of the data the model reads.
#
# For each n it simulates the election data (ARCHITECTURE §1, gaussian, seed 1) and runs
# `hbglm sample` under /usr/bin/time -v twice, reporting the maximum resident set size against
# the data's own size in binary: floor = n (8p + 8 + 4K) bytes, the X, y and group-index bytes a
# gradient reads (ARCHITECTURE §9; p = 48, K = 9 here: 428 B per row, as in bench/grad_eval).
#   short: 1 chain, 5 warmup and 5 sampling iterations at tree depth <= MAX_DEPTH_SHORT (4): the
#          peak of loading (CSV -> table -> design -> model) and of a shallow chain.
#   deep:  4 chains at once (--threads 4), each one transition at the default maximum depth 10
#          (--no-adapt --stepsize 1e-12: no U-turn in 1,023 leapfrog steps; the script checks
#          treedepth__ = 10): the worst case of a run, the design plus four chains at their
#          deepest, each keeping eta (a chunk of rows per thread, or none: glm_cpu_density) and
#          the sampler's 12 + 4·9 vectors of length dim
#          (host/mcmc/nuts.hpp) beside the adaptation's.
#
#   bench/memory.sh [HBGLM_BINARY] [N ...]     (defaults: build/cpu/hbglm, 100000 300000 1000000)
#   WORK=dir (default bench/out/memory)  DEEP=0 skips the deep runs (1M: about 5 min on 2 cores)
#
# Needs GNU time (/usr/bin/time, Debian package `time`). Prints a table; also writes
# $WORK/memory.csv.
set -euo pipefail
hbglm=${1:-build/cpu/hbglm}
shift || true
sizes=${*:-100000 300000 1000000}
work=${WORK:-bench/out/memory}
max_depth_short=${MAX_DEPTH_SHORT:-4}
deep=${DEEP:-1}
p=48
K=9
if [ ! -x /usr/bin/time ]; then
  echo "memory.sh: /usr/bin/time not found; install GNU time (apt-get install time)" >&2
  exit 2
fi
mkdir -p "$work"

# run_sample N DATA FORMULA LABEL ARGS...: prints "peak_bytes wall"
run_sample() {
  local n=$1 data=$2 formula=$3 label=$4
  shift 4
  local out="$work/out_${label}"
  rm -rf "$out"
  mkdir -p "$out"
  local cmd=("$hbglm" sample --data "$data" --family gaussian --formula "$formula" --seed 1
             --save-group-effects none --quiet --output-dir "$out" "$@")
  echo "# /usr/bin/time -v ${cmd[*]}" >&2
  if ! /usr/bin/time -v -o "$work/time_${label}.txt" "${cmd[@]}" > "$work/log_${label}.txt" 2>&1
  then
    echo "memory.sh: hbglm sample failed for n=$n ($label); see $work/log_${label}.txt" >&2
    exit 1
  fi
  local kb wall
  kb=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$work/time_${label}.txt")
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): *//p' "$work/time_${label}.txt")
  echo "$((kb * 1024)) $wall"
}

# deepest_tree LABEL: the smallest of the chains' largest treedepth__ in the run's files.
deepest_tree() {
  local out="$work/out_$1" min=99 f d
  for f in "$out"/hbglm_[0-9]*.csv; do
    d=$(grep -v '^#' "$f" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "treedepth__") c = i; next }
      { if ($c > m) m = $c } END { print m + 0 }')
    [ "$d" -lt "$min" ] && min=$d
  done
  echo "$min"
}

csv="$work/memory.csv"
echo "n,run,chains_at_once,tree_depth,floor_MB,csv_MB,peak_MB,peak_over_floor,wall" > "$csv"
table="$work/table.txt"
printf '%9s %6s %7s %6s %9s %8s %9s %10s %9s\n' n run chains depth floor_MB csv_MB peak_MB \
  peak/floor wall > "$table"
add_row() {  # N RUN CHAINS DEPTH FLOOR CSV_BYTES PEAK WALL
  local row
  row=$(awk -v n="$1" -v r="$2" -v c="$3" -v d="$4" -v f="$5" -v cb="$6" -v pk="$7" -v w="$8" \
    'BEGIN { printf "%d,%s,%d,%s,%.1f,%.1f,%.1f,%.2f,%s", n, r, c, d, f / 1e6, cb / 1e6, pk / 1e6,
             pk / f, w }')
  echo "$row" >> "$csv"
  echo "$row" | awk -F, '{ printf "%9s %6s %7s %6s %9s %8s %9s %10s %9s\n",
    $1, $2, $3, $4, $5, $6, $7, $8, $9 }' >> "$table"
}
for n in $sizes; do
  data="$work/election_${n}.csv"
  formula_file="$work/election_${n}.formula"
  if [ ! -f "$data" ] || [ ! -f "$formula_file" ]; then
    "$hbglm" simulate --model election --n "$n" --family gaussian --seed 1 --out "$data" |
      sed -n "s/.*--formula '\(.*\)'/\1/p" > "$formula_file"
  fi
  formula=$(cat "$formula_file")
  floor=$((n * (8 * p + 8 + 4 * K)))
  csv_bytes=$(stat -L -c %s "$data")
  # (The assignment, not `read <<< "$(...)"`, so that set -e stops on a failed run.)
  result=$(run_sample "$n" "$data" "$formula" "${n}_short" --chains 1 --warmup 5 --samples 5 \
    --max-depth "$max_depth_short")
  read -r peak wall <<< "$result"
  add_row "$n" short 1 "<=$max_depth_short" "$floor" "$csv_bytes" "$peak" "$wall"
  if [ "$deep" = 1 ]; then
    result=$(run_sample "$n" "$data" "$formula" "${n}_deep" --chains 4 --threads 4 --warmup 0 \
      --samples 1 --no-adapt --stepsize 1e-12)
    read -r peak wall <<< "$result"
    depth=$(deepest_tree "${n}_deep")
    if [ "$depth" != 10 ]; then
      echo "memory.sh: a deep run at n=$n stopped at tree depth $depth, not 10" >&2
      exit 1
    fi
    add_row "$n" deep 4 "$depth" "$floor" "$csv_bytes" "$peak" "$wall"
  fi
done
echo "# floor = n (8p + 8 + 4K) bytes, p = $p, K = $K; peak = maximum resident set size" \
  "(GNU time); MB = 1e6 bytes; csv written by hbglm simulate (17 significant digits)"
cat "$table"
