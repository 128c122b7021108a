#pragma once
/** @file Per-group math of the non-centered parameterization, shared by both backends:
 *  u_j = diag(sd) L z_j for one level j of a term with k coefficients, and its backward pass.
 *  L is the k×k lower Cholesky factor of the correlation matrix, row-major (the identity for an
 *  uncorrelated term). Cost O(k²) per level. */

#include <cstddef>

#include "host_device.cuh"

namespace hbglm::kernels {

/** u[a] = sd[a] · Σ_{b≤a} L[a][b] z[b]. */
HBGLM_HOST_DEVICE inline void group_effect_forward(int k, const double* sd, const double* chol,
                                                   const double* z, double* u) {
  for (int a = 0; a < k; ++a) {
    double lz = 0.0;
    for (int b = 0; b <= a; ++b) lz += chol[a * k + b] * z[b];
    u[a] = sd[a] * lz;
  }
}

/** Backward pass of group_effect_forward given g_u = ∂lp/∂u for this level:
 *  g_z[b] = Σ_{a≥b} L[a][b] sd[a] g_u[a] (written, not accumulated);
 *  g_sd[a] += g_u[a] (L z)[a];  g_chol[a][b] += sd[a] g_u[a] z[b] for b ≤ a (accumulated over
 *  levels by the caller, in a fixed order so the sum is deterministic). g_chol may be null for
 *  an uncorrelated term. */
HBGLM_HOST_DEVICE inline void group_effect_backward(int k, const double* sd, const double* chol,
                                                    const double* z, const double* g_u,
                                                    double* g_z, double* g_sd, double* g_chol) {
  for (int b = 0; b < k; ++b) g_z[b] = 0.0;
  for (int a = 0; a < k; ++a) {
    const double w = sd[a] * g_u[a];
    double lz = 0.0;
    for (int b = 0; b <= a; ++b) {
      lz += chol[a * k + b] * z[b];
      g_z[b] += chol[a * k + b] * w;
      if (g_chol != nullptr) g_chol[a * k + b] += w * z[b];
    }
    g_sd[a] += g_u[a] * lz;
  }
}

}  // namespace hbglm::kernels
