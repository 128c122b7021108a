#pragma once
/** @file The group-effect passes of the log density on the device (ARCHITECTURE §4): per level,
 *  u_t[j] = diag(sd_t) L_t z_t[j] (q holds u_t[j] itself for centered coefficients) forward and
 *  its chain rule backward (kernels/group_effects.cuh, the same functions the CPU backend runs),
 *  and the fixed-order reduction of the per-level contributions to ∂/∂sd, ∂/∂L and Σ z². Host
 *  code includes this header without CUDA: streams are passed as void* (a cudaStream_t), pointers
 *  are device pointers. */

#include <cstddef>
#include <cstdint>

namespace hbglm::kernels {

/** One group-level term as the kernels see it (a plain struct, uploaded once per model).
 *  Levels of all terms are numbered globally: term t owns levels [level_begin, level_begin +
 *  n_levels). Offsets are in elements. */
struct group_term_desc {
  std::int64_t n_levels = 0;     ///< J_t
  std::int64_t level_begin = 0;  ///< first global level of the term (prefix sum of J)
  /// z_t[j][c] (u_t[j][c] when centered) is q[z_index + j k + c] (model::terms()[t].z_q_index)
  std::int64_t z_index = 0;
  std::int64_t u_offset = 0;     ///< u_t[j][c] is u[u_offset + j k + c] (design.terms[t].u_offset)
  std::int64_t sd_offset = 0;    ///< sd_t[c] is params[sd_offset + c]
  std::int64_t chol_offset = 0;  ///< L_t[a][b] is params[chol_offset + a k + b] (row-major)
  /// centered: what level j's entries of q are centered on, params[mean_offset + c]
  /// (global_values::level_means)
  std::int64_t mean_offset = 0;
  std::int64_t scratch_offset = 0;  ///< the term's n_levels × n_cols block of the scratch array
  std::int32_t k = 0;               ///< coefficients per level
  std::int32_t correlated = 0;      ///< 1: the scratch rows hold ∂/∂L as well
  /** Columns of a scratch row: [Σ_c z_c², ∂/∂sd (k), ∂/∂L (k², row-major; correlated only),
   *  ∂/∂ level means (k; n_centered > 0 only, 0 beyond n_centered), x_aj ∂/∂ level mean for
   *  each absorbed coefficient]. */
  std::int32_t n_cols = 0;
  /// q holds mean + u itself for the first n_centered coefficients, z for the rest
  /// (model::terms()[t].n_centered)
  std::int32_t n_centered = 0;
  /// A centered term that absorbs level-constant slopes (term_parameters::absorbed; k = 1) or
  /// coefficients (absorbed_coefficients; its coefficient 0 the Intercept): its Intercept's
  /// level j mean is params[mean_offset] + Σ x_sj u_s[j] + Σ x_aj b_a over its n_absorbed
  /// slopes and coefficients, absorbed[absorbed_begin ...]. 0 otherwise.
  std::int32_t n_absorbed = 0;
  std::int32_t absorbed_begin = 0;
};

/** What a centered term's Intercept absorbs: a slope (term_parameters::absorbed), a k = 1 term
 *  on the same factor whose covariate takes one value per level, or a population-level
 *  coefficient whose column does (term_parameters::absorbed_coefficients). */
struct absorbed_desc {
  std::int64_t u_offset = 0;       ///< a slope's u_s[j] is u[u_offset + j]
  std::int64_t values_offset = 0;  ///< x_sj is absorbed_values[values_offset + j]
  /// A coefficient: b_a is params[coefficient], and the backward pass writes x_aj ∂/∂mean into
  /// column scratch_column of the level's scratch row (summed over levels into ∂/∂b_a). -1 for
  /// a slope.
  std::int64_t coefficient = -1;
  std::int32_t scratch_column = 0;
};

/** A strided column of the scratch array summed by launch_segment_sums:
 *  Σ_{i < count} data[offset + i stride], written to out[out_index]. */
struct segment_desc {
  std::int64_t offset = 0;
  std::int64_t stride = 1;
  std::int64_t count = 0;
  std::int64_t out_index = 0;
};

/** Blocks per segment in the first stage of launch_segment_sums. Fixed, so the summation order
 *  (and the bits of the sums) depends only on the sizes. */
constexpr int segment_chunks = 32;

/** u = diag(sd) L z for every level of every term (q less the level's mean when centered).
 *  Two launches: the terms that absorb nothing, then those that do (their Intercept's level
 *  means read the absorbed slopes' u and coefficients, group_term_desc::n_absorbed); absorbed and
 *  absorbed_values may be null when no term absorbs.
 *  Thread mapping: grid-stride over the n_levels_total global levels, one level per thread per
 *  step; the thread finds its term by a linear scan of @p terms (a few terms). Each thread reads
 *  its level's k z values and writes its k u values (no sharing, so no races).
 *  Layout: see group_term_desc. Deterministic (no reductions). Errors: none signalled; NaN in z
 *  or in the parameters propagates into u.
 *  @param terms device array of n_terms descriptors
 *  @param params device array: sd and L as the descriptors index them
 *  @param q device, the parameter vector (z read at z_index)
 *  @param u device, Σ J_t k_t outputs
 *  @param stream a cudaStream_t */
void launch_group_forward(const group_term_desc* terms, int n_terms, std::int64_t n_levels_total,
                          const double* params, const absorbed_desc* absorbed,
                          const double* absorbed_values, const double* q, double* u,
                          void* stream);

/** The backward pass per level, given g_u = ∂ log p / ∂u (= Zᵀr). Two launches: first the terms
 *  that absorb, each of whose levels adds x_sj ∂lp/∂(its Intercept's mean) to the absorbed slopes'
 *  g_u[j] (each slope level has one absorbing level: no races) and writes x_aj ∂lp/∂(that mean)
 *  into an absorbed coefficient's scratch column, then the others. group_level_backward of
 *  kernels/group_effects.cuh writes ∂lp/∂q for the level's entries (non-centered:
 *  Lᵀ diag(sd) g_u[j] - z, the second term from z's N(0, 1) prior) to grad[z_index + j k + c],
 *  and the level's scratch row is set to [z·z, its ∂/∂sd (k), its ∂/∂L (k², correlated only),
 *  ∂lp/∂ its level means (k, centered terms only), x_aj ∂lp/∂mean_0 for each absorbed
 *  coefficient a (one column each)], with z = (diag(sd) L)⁻¹u for a centered term
 *  (group_term_desc::n_cols; cuda_model_data.cpp lays the columns out).
 *  Thread mapping: as launch_group_forward, one level per thread; each thread writes only its own
 *  g_z entries and scratch row. Deterministic. Errors: NaN/inf propagate into the outputs.
 *  @param scratch device, Σ_t J_t n_cols_t doubles (overwritten) */
void launch_group_backward(const group_term_desc* terms, int n_terms,
                           std::int64_t n_levels_total, const double* params,
                           const absorbed_desc* absorbed, const double* absorbed_values,
                           const double* u, const double* q, double* g_u, double* grad,
                           double* scratch, void* stream);

/** Sums strided columns in a fixed order: two stages, no atomics.
 *  Stage 1: grid (segment_chunks, n_segments) of reduce_block_size threads; block (b, s) adds the
 *  elements i ≡ b·blockDim + t (mod segment_chunks·blockDim) of segment s per thread t, then
 *  reduces the block with cub::BlockReduce and writes partials[s·segment_chunks + b].
 *  Stage 2: one block per segment adds its segment_chunks partials (cub::BlockReduce) into
 *  out[out_index]. The order depends only on the segment sizes: bitwise reproducible.
 *  Preconditions: n_segments ≤ 65535; partials holds n_segments·segment_chunks doubles.
 *  Errors: NaN/inf propagate into the sums. */
void launch_segment_sums(const segment_desc* segments, int n_segments, const double* data,
                         double* partials, double* out, void* stream);

}  // namespace hbglm::kernels
