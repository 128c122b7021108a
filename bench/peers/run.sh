#!/usr/bin/env bash
# The election model (ARCHITECTURE §1) through the peers: simulates the data (seed 1) with
# hbglm, fits it with lme4 (lme4_election.R) and times one rstanarm gradient
# (rstanarm_election.R), then prints where the outputs are and how to compare an hbglm run.
# Needs R with lme4 and rstanarm (bench/peers/setup.sh). Run from the repository root.
#
#   bench/peers/run.sh [N] [FAMILY]         (defaults: 30000, both gaussian and bernoulli)
#   HBGLM=build/cpu/hbglm WORK=bench/out/peers NAGQ=1 FULL=0 bench/peers/run.sh 30000 gaussian
#
# NAGQ=0 fits glmer with nAGQ = 0 (faster, less accurate) instead of the Laplace approximation.
# FULL=1 also runs rstanarm in full (4 chains, 1000 + 1000, 2 cores): hours at n = 30,000.
# SKIP_LME4=1 or SKIP_RSTANARM=1 leave one out.
#
# Outputs, in $WORK: election_<N>_<FAMILY>.csv (data), lme4_<N>_<FAMILY>.csv and .log,
# rstanarm_grad_<N>_<FAMILY>.csv and .log (FULL=1: rstanarm_<N>_<FAMILY>.csv, the posterior).
set -euo pipefail
n=${1:-30000}
families=${2:-"gaussian bernoulli"}
hbglm=${HBGLM:-build/cpu/hbglm}
work=${WORK:-bench/out/peers}
nagq=${NAGQ:-1}
here=$(dirname "$0")
mkdir -p "$work"

for family in $families; do
  data="$work/election_${n}_${family}.csv"
  [ -f "$data" ] || "$hbglm" simulate --model election --n "$n" --family "$family" --seed 1 \
    --out "$data" > /dev/null
  if [ "${SKIP_LME4:-0}" != 1 ]; then
    echo "# Rscript $here/lme4_election.R $data $family $work/lme4_${n}_${family}.csv --nagq $nagq" >&2
    Rscript "$here/lme4_election.R" "$data" "$family" "$work/lme4_${n}_${family}.csv" \
      --nagq "$nagq" > "$work/lme4_${n}_${family}.log" 2>&1
    grep '^fit:' "$work/lme4_${n}_${family}.log"
  fi
  if [ "${SKIP_RSTANARM:-0}" != 1 ]; then
    echo "# Rscript $here/rstanarm_election.R $data $family $work/rstanarm_grad_${n}_${family}.csv" >&2
    Rscript "$here/rstanarm_election.R" "$data" "$family" \
      "$work/rstanarm_grad_${n}_${family}.csv" > "$work/rstanarm_grad_${n}_${family}.log" 2>&1
    grep -E '^(model built|grad_log_prob)' "$work/rstanarm_grad_${n}_${family}.log"
    if [ "${FULL:-0}" = 1 ]; then
      echo "# Rscript $here/rstanarm_election.R $data $family $work/rstanarm_${n}_${family}.csv --full" >&2
      Rscript "$here/rstanarm_election.R" "$data" "$family" "$work/rstanarm_${n}_${family}.csv" \
        --full > "$work/rstanarm_${n}_${family}.log" 2>&1
      grep '^full run' "$work/rstanarm_${n}_${family}.log"
    fi
  fi
done

cat <<EOF

Outputs are in $work:
$(ls -1 "$work" | sed 's/^/  /')

To compare with hbglm, fit the same data (bench/sampling.sh does exactly this, writing
bench/out/sampling/election_<N>_<FAMILY>_<METRIC>_<chain>.csv and a .summary.csv; its data file
is the same, seed 1):
  FAMILIES=<FAMILY> METRICS=diag bench/sampling.sh $hbglm $n
or by hand:
  $hbglm sample --data $work/election_${n}_<FAMILY>.csv --family <FAMILY> \\
    --formula "\$($hbglm simulate --model election --n 1000 --out /tmp/probe.csv | sed -n "s/.*--formula '\\(.*\\)'/\\1/p")" \\
    --chains 4 --warmup 1000 --samples 1000 --seed 1 --output-dir $work --output-prefix hbglm_${n}_<FAMILY>
then
  python3 $here/compare.py --hbglm bench/out/sampling/election_${n}_<FAMILY>_diag.summary.csv \\
    --lme4 $work/lme4_${n}_<FAMILY>.csv [--rstanarm $work/rstanarm_${n}_<FAMILY>.csv]
(--hbglm also takes the chain CSV files themselves.)
EOF
