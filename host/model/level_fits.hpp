#pragma once
/** @file Least squares within each level of a group-level term: what the automatic centering
 *  choice (model.cpp, level_signal_to_noise) and the initial values (initial_values.cpp) both
 *  fit, one on the response, the other on working residuals with IRLS weights. */

#include <cstddef>
#include <vector>

#include "hbglm/design.hpp"

namespace hbglm::detail {

/** Where term @p t's entries start within a row of Z, which holds in every row the k entries of
 *  each term in formula order (design.cpp, build_z). */
std::size_t first_entry_in_row(const design& d, std::size_t t);

/** Per level j of a term with k coefficients, the weighted least-squares fit of a response r on
 *  the term's columns z over the level's rows: G_j = Σ w z zᵀ, b_j = Σ w z r; where the level has
 *  more rows than coefficients, β_j = G_j⁻¹ b_j (with a ridge of 1e-9 of G_j's mean diagonal) and
 *  the diagonal of G_j⁻¹. */
struct level_fits {
  std::size_t k = 0;
  std::vector<double> gram;      ///< J k², G_j row-major
  std::vector<double> cross;     ///< J k, b_j
  std::vector<bool> determined;  ///< J: more rows than coefficients, and G_j solvable
  std::vector<double> estimate;  ///< J k, β_j (0 where not determined)
  std::vector<double> inverse_diagonal;  ///< J k, (G_j⁻¹)_cc (0 where not determined)
  double rss = 0.0;              ///< Σ over determined levels of Σ w r² - β_jᵀ b_j
  double dof = 0.0;              ///< Σ over determined levels of rows - k
  std::size_t n_determined = 0;
};

/** The fits of term @p t's levels to @p response (n_obs values) with @p weight (n_obs values, or
 *  null for 1). One pass over the rows, then a k × k solve per level. */
level_fits fit_levels(const design& d, std::size_t t, const double* response,
                      const double* weight = nullptr);

}  // namespace hbglm::detail
