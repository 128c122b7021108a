#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds (Release, warnings as errors), and runs
# every test through ctest. Tests labelled `gpu` skip visibly when there is no CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/common.sh

cmake --preset "$HBGLM_PRESET" -DHBGLM_WARNINGS_AS_ERRORS=ON >/dev/null
cmake --build "$HBGLM_BUILD_DIR" -j "$(nproc)"
ctest --test-dir "$HBGLM_BUILD_DIR" --output-on-failure -j "$(nproc)" "$@"
