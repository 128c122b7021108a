#!/usr/bin/env bash
# The main job on a bundled example: installs what is missing, builds Release, and fits lme4's
# sleepstudy data (reaction times of 18 subjects over 10 days of sleep deprivation) with
# correlated varying intercepts and slopes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/common.sh

cmake --preset "$HBGLM_PRESET" >/dev/null
cmake --build "$HBGLM_BUILD_DIR" -j "$(nproc)" --target hbglm_cli

"$HBGLM_BUILD_DIR/hbglm" check --data data/sleepstudy.csv \
  --formula 'Reaction ~ Days + (Days | Subject)' --family gaussian
