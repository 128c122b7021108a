#pragma once
/** @file Per-group math shared by both backends, for one level j of a term with k coefficients.
 *  L is the k×k lower Cholesky factor of the correlation matrix, row-major (the identity for an
 *  uncorrelated term); D = diag(sd). Cost O(k²) per level. Two forms (ARCHITECTURE §4):
 *    non-centered: q holds z_j ~ N(0, I) and u_j = D L z_j;
 *    centered:     q holds m + u_j, u_j ~ N(0, D L Lᵀ D), where m (k values) is the population-
 *                  level coefficient of the same name, or 0 (model.hpp, term_parameters::mean_of);
 *  or the first n_centered coefficients centered and the rest non-centered (group_level_forward).
 *  Non-centered suits levels with few observations (the prior dominates, z and sd are nearly
 *  independent); centered suits levels with many (the data fix u_j, and in the non-centered form
 *  z_j = u_j / sd then moves with sd along a narrow curved ridge that NUTS crosses in tiny
 *  steps). Both write the level's prior as -z·z/2 with z = (DL)⁻¹u: the centered coefficients'
 *  -Σ log sd_a - Σ log L_aa per level is the same for every level, and the model adds it once per
 *  term (model::globals_forward). */

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

/** Largest k of a term with centered coefficients: its passes keep k-vectors in local memory
 *  (model.cpp refuses a centered term with more coefficients). */
constexpr int max_centered_k = 16;

/** The level's z (k values) when its first n_centered coefficients are centered: z_C =
 *  L_CC⁻¹ D_C⁻¹ (q_C - mean_C) by forward substitution, z_N = q_N: what both passes of a level
 *  with centered coefficients read. */
HBGLM_HOST_DEVICE inline void level_z(int k, int n_centered, const double* sd,
                                      const double* chol, const double* mean,
                                      const double* q_level, double* z) {
  for (int a = 0; a < k; ++a) {
    if (a < n_centered) {
      double s = (q_level[a] - mean[a]) / sd[a];
      for (int b = 0; b < a; ++b) s -= chol[a * k + b] * z[b];
      z[a] = s / chol[a * k + a];
    } else {
      z[a] = q_level[a];
    }
  }
}

/** u_j from the level's entries in q. The first n_centered coefficients are centered (q holds
 *  mean + u), the rest non-centered (q holds z): u_C = q_C - mean_C, and with z_C = (D_C L_CC)⁻¹
 *  u_C, u_N = D_N (L_NC z_C + L_NN z_N). n_centered is 0 (non-centered, u = D L z), k (centered)
 *  or between (a correlated term whose intercept is data-rich while its slopes hardly vary:
 *  centering only the leading block keeps the joint prior, because L is lower triangular, so u_C
 *  depends on z_C alone). Precondition (0 < n_centered < k): k <= max_centered_k. */
HBGLM_HOST_DEVICE inline void group_level_forward(int k, int n_centered, const double* sd,
                                                  const double* chol, const double* mean,
                                                  const double* q_level, double* u) {
  if (n_centered == 0) {
    group_effect_forward(k, sd, chol, q_level, u);
    return;
  }
  for (int a = 0; a < n_centered; ++a) u[a] = q_level[a] - mean[a];
  if (n_centered == k) return;
  double z[max_centered_k];
  level_z(k, n_centered, sd, chol, mean, q_level, z);
  for (int a = n_centered; a < k; ++a) {
    double lz = 0.0;
    for (int b = 0; b <= a; ++b) lz += chol[a * k + b] * z[b];
    u[a] = sd[a] * lz;
  }
}

/** Backward pass of one level with its prior, given g_u = ∂lp/∂u (from the data):
 *  writes g_q = ∂lp/∂q_level, accumulates ∂/∂sd into g_sd and ∂/∂L into g_chol (lower part;
 *  null for an uncorrelated term) as group_effect_backward does, and returns z·z, the level's
 *  prior being -z·z/2 (+ the per-term constants, see the file comment).
 *  With C the n_centered leading coefficients and N the rest: u_C = q_C - mean_C, w = D_C⁻¹u_C,
 *  z_C = L_CC⁻¹w, z_N = q_N, and v = L_CCᵀ⁻¹(z_C - L_NCᵀ D_N g_u,N) (minus the gradient in w of
 *  the prior and of u_N's part of the data term, which read u_C through z_C):
 *    a in C: g_q[a] = g_u[a] - v[a] / sd[a];  g_sd[a] += v[a] w[a] / sd[a];
 *            g_chol[a][b] += v[a] z[b] (b ≤ a);  g_mean[a] -= g_q[a] (u moves against the mean);
 *    a in N: g_q[a] = Σ_{c≥a} L[c][a] sd[c] g_u[c] - z[a];  g_sd[a] += g_u[a] (L z)[a];
 *            g_chol[a][b] += sd[a] g_u[a] z[b] (b ≤ a), as in the non-centered form.
 *  mean and g_mean (k values) are read at C only. Precondition (n_centered > 0):
 *  k <= max_centered_k. */
HBGLM_HOST_DEVICE inline double group_level_backward(int k, int n_centered, const double* sd,
                                                     const double* chol, const double* mean,
                                                     const double* q_level, const double* g_u,
                                                     double* g_q, double* g_sd, double* g_chol,
                                                     double* g_mean) {
  double zz = 0.0;
  if (n_centered == 0) {
    group_effect_backward(k, sd, chol, q_level, g_u, g_q, g_sd, g_chol);
    for (int c = 0; c < k; ++c) {
      zz += q_level[c] * q_level[c];
      g_q[c] -= q_level[c];  // z ~ N(0, 1): d(-z²/2)/dz
    }
    return zz;
  }
  const int m = n_centered;
  double z[max_centered_k], v[max_centered_k];
  level_z(k, m, sd, chol, mean, q_level, z);
  for (int a = 0; a < k; ++a) zz += z[a] * z[a];
  for (int a = m - 1; a >= 0; --a) {  // back substitution: L_CCᵀ v = z_C - L_NCᵀ D_N g_u,N
    double s = z[a];
    for (int c = a + 1; c < m; ++c) s -= chol[c * k + a] * v[c];
    for (int c = m; c < k; ++c) s -= chol[c * k + a] * sd[c] * g_u[c];
    v[a] = s / chol[a * k + a];
  }
  for (int a = 0; a < m; ++a) {
    g_q[a] = g_u[a] - v[a] / sd[a];
    g_mean[a] -= g_q[a];
    g_sd[a] += v[a] * (q_level[a] - mean[a]) / (sd[a] * sd[a]);
    if (g_chol != nullptr) {
      for (int b = 0; b <= a; ++b) g_chol[a * k + b] += v[a] * z[b];
    }
  }
  for (int b = m; b < k; ++b) g_q[b] = -z[b];  // z_N ~ N(0, 1)
  for (int a = m; a < k; ++a) {  // u_N = D_N (L z)_N, as group_effect_backward
    const double w = sd[a] * g_u[a];
    double lz = 0.0;
    for (int b = 0; b <= a; ++b) {
      lz += chol[a * k + b] * z[b];
      if (b >= m) g_q[b] += chol[a * k + b] * w;
      if (g_chol != nullptr) g_chol[a * k + b] += w * z[b];
    }
    g_sd[a] += g_u[a] * lz;
  }
  return zz;
}

}  // namespace hbglm::kernels
