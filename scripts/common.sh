# Shared by the scripts: pick the build preset. CUDA is built when nvcc exists (building needs no
# GPU); HBGLM_PRESET overrides (cpu or cuda).
if [ -z "${HBGLM_PRESET:-}" ]; then
  if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
    HBGLM_PRESET=cuda
    export PATH="$PATH:/usr/local/cuda/bin"
  else
    HBGLM_PRESET=cpu
  fi
fi
HBGLM_BUILD_DIR="build/$HBGLM_PRESET"
