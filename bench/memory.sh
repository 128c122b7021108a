#!/usr/bin/env bash
# Peak host memory of `hbglm sample` (CPU backend) against the size of the data the model reads.
#
# For each n it simulates the election data (ARCHITECTURE §1, gaussian, seed 1), runs a short
# `hbglm sample` under /usr/bin/time -v (CSV -> table -> design -> model -> CPU backend -> a few
# NUTS iterations) and reports the maximum resident set size against the data's own size in
# binary: floor = n (8p + 8 + 4K) bytes, the X, y and group-index bytes a gradient reads
# (ARCHITECTURE §9; p = 48, K = 9 here: 428 B per row, as in bench/grad_eval). At the largest n
# it also runs 4 chains (chains share the design and the model, so the extra peak should be the
# chains' own vectors: eta and r per observation, and the sampler's vectors of length dim,
# of which a chain's sampler keeps 19 plus 6 per tree level reached (host/mcmc/nuts.hpp);
# 4ch_extra = 4-chain peak - 1-chain peak).
#
#   bench/memory.sh [HBGLM_BINARY] [N ...]     (defaults: build/cpu/hbglm, 100000 300000 1000000)
#   WORK=dir (default bench/out/memory)  CHAINS4=0 skips the 4-chain line
#   MAX_DEPTH=4: caps the tree depth so that the early warmup iterations of a 1M-row run stay
#   short. The data's part of the peak does not depend on it; the chains' part does (6 vectors
#   of length dim per level).
#
# Needs GNU time (/usr/bin/time, Debian package `time`). Prints a table; also writes
# $WORK/memory.csv.
set -euo pipefail
hbglm=${1:-build/cpu/hbglm}
shift || true
sizes=${*:-100000 300000 1000000}
work=${WORK:-bench/out/memory}
max_depth=${MAX_DEPTH:-4}
chains4=${CHAINS4:-1}
p=48
K=9
if [ ! -x /usr/bin/time ]; then
  echo "memory.sh: /usr/bin/time not found; install GNU time (apt-get install time)" >&2
  exit 2
fi
mkdir -p "$work"

# run_sample N DATA FORMULA CHAINS LABEL: prints "peak_MB wall_s"
run_sample() {
  local n=$1 data=$2 formula=$3 chains=$4 label=$5
  local out="$work/out_${label}"
  mkdir -p "$out"
  local cmd=("$hbglm" sample --data "$data" --family gaussian --formula "$formula"
             --chains "$chains" --warmup 5 --samples 5 --max-depth "$max_depth" --seed 1
             --save-group-effects none --quiet --output-dir "$out")
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

csv="$work/memory.csv"
echo "n,chains,floor_MB,csv_MB,peak_MB,peak_over_floor,peak_over_csv,extra_over_1_chain_MB,wall" \
  > "$csv"
table="$work/table.txt"
printf '%9s %6s %9s %8s %9s %10s %8s %13s %9s\n' n chains floor_MB csv_MB peak_MB peak/floor \
  peak/csv 4ch_extra_MB wall > "$table"
last_n=""
last_peak=0
for n in $sizes; do
  data="$work/election_${n}.csv"
  formula_file="$work/election_${n}.formula"
  if [ ! -f "$data" ] || [ ! -f "$formula_file" ]; then
    "$hbglm" simulate --model election --n "$n" --family gaussian --seed 1 --out "$data" |
      sed -n "s/.*--formula '\(.*\)'/\1/p" > "$formula_file"
  fi
  formula=$(cat "$formula_file")
  floor=$((n * (8 * p + 8 + 4 * K)))
  csv_bytes=$(stat -c %s "$data")
  result=$(run_sample "$n" "$data" "$formula" 1 "${n}_1")
  read -r peak wall <<< "$result"
  row=$(awk -v n="$n" -v f="$floor" -v c="$csv_bytes" -v pk="$peak" -v w="$wall" 'BEGIN {
    printf "%d,1,%.1f,%.1f,%.1f,%.2f,%.2f,,%s", n, f / 1e6, c / 1e6, pk / 1e6, pk / f, pk / c, w }')
  echo "$row" >> "$csv"
  echo "$row" | awk -F, '{ printf "%9s %6s %9s %8s %9s %10s %8s %13s %9s\n",
    $1, $2, $3, $4, $5, $6, $7, "", $9 }' >> "$table"
  last_n=$n
  last_peak=$peak
  last_data=$data
  last_formula=$formula
done
if [ "$chains4" = 1 ] && [ -n "$last_n" ]; then
  n=$last_n
  floor=$((n * (8 * p + 8 + 4 * K)))
  csv_bytes=$(stat -c %s "$last_data")
  result=$(run_sample "$n" "$last_data" "$last_formula" 4 "${n}_4")
  read -r peak wall <<< "$result"
  row=$(awk -v n="$n" -v f="$floor" -v c="$csv_bytes" -v pk="$peak" -v p1="$last_peak" \
    -v w="$wall" 'BEGIN {
    printf "%d,4,%.1f,%.1f,%.1f,%.2f,%.2f,%.1f,%s", n, f / 1e6, c / 1e6, pk / 1e6, pk / f, pk / c,
      (pk - p1) / 1e6, w }')
  echo "$row" >> "$csv"
  echo "$row" | awk -F, '{ printf "%9s %6s %9s %8s %9s %10s %8s %13s %9s\n",
    $1, $2, $3, $4, $5, $6, $7, $8, $9 }' >> "$table"
fi
echo "# floor = n (8p + 8 + 4K) bytes, p = $p, K = $K; peak = maximum resident set size" \
  "(GNU time); MB = 1e6 bytes; csv written by hbglm simulate (17 significant digits);" \
  "max depth $max_depth; 4 chains run min(4, $(nproc) cores) at a time"
cat "$table"
