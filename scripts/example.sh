#!/usr/bin/env bash
# The main job on bundled examples: installs what is missing, builds Release, then fits
#  1. lme4's sleepstudy (reaction times of 18 subjects over 10 days of sleep deprivation):
#     gaussian, correlated varying intercepts and slopes;
#  2. lme4's cbpp (contagious bovine pleuropneumonia in 15 herds over 4 periods): binomial with
#     trials, varying intercept.
# Draws go to out/example/ (CmdStan CSV, one file per chain); the summary is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/common.sh

cmake --preset "$HBGLM_PRESET" >/dev/null
cmake --build "$HBGLM_BUILD_DIR" -j "$(nproc)" --target hbglm_cli
hbglm="$HBGLM_BUILD_DIR/hbglm"

echo "== sleepstudy: Reaction ~ Days + (Days | Subject), gaussian"
"$hbglm" sample --data data/sleepstudy.csv --formula 'Reaction ~ Days + (Days | Subject)' \
  --family gaussian --seed 1 --output-dir out/example --output-prefix sleepstudy

echo
echo "== cbpp: incidence | trials(size) ~ period + (1 | herd), binomial"
"$hbglm" sample --data data/cbpp.csv --formula 'incidence | trials(size) ~ period + (1 | herd)' \
  --family binomial --seed 1 --output-dir out/example --output-prefix cbpp
