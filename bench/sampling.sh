#!/usr/bin/env bash
# Full NUTS runs on the election-shaped model (ARCHITECTURE §1): for each n, family and metric,
# wall time, gradients per second, min bulk ESS over the saved parameters (globals; the group
# effects are kept as per-level summaries at this size), min bulk ESS per second, max R-hat and
# divergences. Prints a table last.
#
#   bench/sampling.sh [HBGLM_BINARY] [N ...]        (defaults: build/cpu/hbglm, 30000)
#   METRICS="diag dense_diag" FAMILIES="gaussian bernoulli" CHAINS=4 WARMUP=1000 SAMPLES=1000
#   ADAPT_DELTA=0.95 (default: hbglm's 0.8) passes --adapt-delta and adds _ad95 to the file names
set -euo pipefail
hbglm=${1:-build/cpu/hbglm}
shift || true
sizes=${*:-30000}
metrics=${METRICS:-"diag dense_diag"}
families=${FAMILIES:-"gaussian bernoulli"}
chains=${CHAINS:-4}
warmup=${WARMUP:-1000}
samples=${SAMPLES:-1000}
adapt_delta=${ADAPT_DELTA:-}
adapt_args=()
adapt_suffix=""
if [ -n "$adapt_delta" ]; then
  adapt_args=(--adapt-delta "$adapt_delta")
  adapt_suffix="_ad$(echo "$adapt_delta" | sed 's/^0*\.//')"
fi
work=${WORK:-bench/out/sampling}
mkdir -p "$work"
formula=$("$hbglm" simulate --model election --n 1000 --out "$work/probe.csv" | sed -n "s/.*--formula '\(.*\)'/\1/p")

table="$work/table.txt"
printf '%-8s %-9s %-10s %8s %10s %11s %9s %12s %7s %5s\n' n family metric wall_s grads/s \
  min_bulk_ess ess_per_s max_rhat div chains > "$table"
for n in $sizes; do
  for family in $families; do
    data="$work/election_${n}_${family}.csv"
    [ -f "$data" ] || "$hbglm" simulate --model election --n "$n" --family "$family" --seed 1 \
      --out "$data" > /dev/null
    for metric in $metrics; do
      prefix="election_${n}_${family}_${metric}${adapt_suffix}"
      cmd=("$hbglm" sample --data "$data" --family "$family" --formula "$formula"
           --metric "$metric" --chains "$chains" --warmup "$warmup" --samples "$samples"
           ${adapt_args[@]+"${adapt_args[@]}"} --seed 1 --output-dir "$work"
           --output-prefix "$prefix")
      echo "# ${cmd[*]}" >&2
      "${cmd[@]}" > "$work/$prefix.log" 2>&1
      line=$(grep '^Sampled' "$work/$prefix.log")
      wall=$(echo "$line" | sed -n 's/.* in \([0-9.]*\) s .*/\1/p')
      gps=$(echo "$line" | sed -n 's/.*(\([0-9]*\) gradients per second).*/\1/p')
      files=()
      for ((c = 1; c <= chains; ++c)); do files+=("$work/${prefix}_$c.csv"); done
      "$hbglm" summary --format csv "${files[@]}" > "$work/$prefix.summary.csv"
      read -r min_ess max_rhat < <(python3 - "$work/$prefix.summary.csv" <<'PY'
import csv, math, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["variable"] != "lp__"]
ess = [float(r["ess_bulk"]) for r in rows if r["ess_bulk"] not in ("NA", "")]
rhat = [float(r["rhat"]) for r in rows if r["rhat"] not in ("NA", "")]
# A run too short or stuck to estimate them gives NA rather than a traceback.
print(f"{min(ess):.0f}" if ess else "NA", f"{max(rhat):.3f}" if rhat else "NA")
PY
)
      div=$(cat "${files[@]}" | awk -F, '/^[-0-9]/ {d += $6} END {print d + 0}')
      ess_per_s=NA
      [ "$min_ess" = NA ] || ess_per_s=$(python3 -c "print(f'{$min_ess / $wall:.1f}')")
      printf '%-8s %-9s %-10s %8s %10s %11s %9s %12s %7s %5s\n' "$n" "$family" "$metric" \
        "$wall" "$gps" "$min_ess" "$ess_per_s" "$max_rhat" "$div" "$chains" >> "$table"
    done
  done
done
cat "$table"
