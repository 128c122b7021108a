#!/usr/bin/env bash
# Simulation-based calibration, the long run: builds hbglm_bench_sbc (cmake --preset cpu, Release),
# runs it over the 8 standard cases with all cores (replications in parallel threads), writes the
# ranks as CSV and the report as text, then draws one PNG of rank histograms per case and a table
# of chi-square p-values with scripts/sbc_plot.py. See docs/sbc/README.md.
#
# Usage: scripts/sbc.sh [--reps N] [--out DIR] [--png-dir DIR] [-- hbglm_bench_sbc options...]
#   --reps N      replications per case (default 1000)
#   --out DIR     ranks.csv, report.txt, p_values.txt (default build/sbc)
#   --png-dir DIR the PNGs (default docs/sbc)
#   after --, options for hbglm_bench_sbc (defaults here: --draws 99 --thin 10 --warmup 400
#                 --seed 1; later ones win), e.g. -- --cases poisson_slope --mismatch
# Environment: SBC_BUILD_DIR (default build/cpu), SBC_THREADS (default nproc), SBC_BINS (20).

set -euo pipefail
cd "$(dirname "$0")/.."

reps=1000
out_dir=build/sbc
png_dir=docs/sbc
extra=()
while (($#)); do
  case "$1" in
    --reps) reps="$2"; shift 2 ;;
    --out) out_dir="$2"; shift 2 ;;
    --png-dir) png_dir="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "sbc.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

scripts/setup.sh
build_dir="${SBC_BUILD_DIR:-build/cpu}"
threads="${SBC_THREADS:-$(nproc)}"
bins="${SBC_BINS:-20}"
cmake --preset cpu -B "$build_dir" -DHBGLM_BUILD_BENCH=ON >/dev/null
cmake --build "$build_dir" --target hbglm_bench_sbc -j "$threads"

mkdir -p "$out_dir"
start=$(date +%s)
"$build_dir/bench/hbglm_bench_sbc" --reps "$reps" --threads "$threads" --draws 99 --thin 10 \
  --warmup 400 --bins "$bins" --seed 1 --csv "$out_dir/ranks.csv" "${extra[@]}" |
  tee "$out_dir/report.txt"
echo "sbc.sh: $(($(date +%s) - start)) s for the runs on $threads threads" | tee -a "$out_dir/report.txt"

python3 scripts/sbc_plot.py "$out_dir/ranks.csv" --png-dir "$png_dir" --bins "$bins" \
  --table "$out_dir/p_values.txt"
