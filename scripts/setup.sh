#!/usr/bin/env bash
# Installs the Debian packages hbglm needs to build and test, if any is missing. The CUDA toolkit
# is not a Debian package here: when nvcc is on PATH (or in /usr/local/cuda/bin) the CUDA backend
# is built too; without it the CPU build is complete on its own.
set -euo pipefail

# clang and its compiler-rt: the libFuzzer smoke test (fuzz/CTestSmoke.cmake) and scripts/fuzz.sh.
packages=(cmake ninja-build g++ libeigen3-dev libgtest-dev python3 clang libclang-rt-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
