#!/usr/bin/env bash
# Installs what the peer benchmarks need (R, lme4, rstanarm, posterior, jsonlite) from Debian's
# packages, skipping those already installed. Run as root. Never called from CI.
#
#   bench/peers/setup.sh
set -euo pipefail
packages=(r-base-core r-cran-lme4 r-cran-rstanarm r-cran-posterior r-cran-jsonlite)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "all installed: ${packages[*]}"
  exit 0
fi
echo "installing: ${missing[*]}"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
