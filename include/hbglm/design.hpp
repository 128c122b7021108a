#pragma once
/** @file The design: the numbers a backend needs to evaluate the model, built from a table and a
 *  formula (lme4's lFormula / model.matrix). X is dense and column-major; Z is sparse (CSR), never
 *  dense at any size. */

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "hbglm/formula.hpp"
#include "hbglm/table.hpp"

namespace hbglm {

/** Response distribution with its (canonical, fixed) link. */
enum class family { gaussian, bernoulli, binomial, poisson };

/** "gaussian", "bernoulli", "binomial", "poisson". */
std::string to_string(family f);

/** Parses a family name (also "gaussian(identity)", "binomial(logit)", ...).
 *  @throws option_error naming the families that exist. */
family parse_family(const std::string& text);

/** A sparse matrix in compressed sparse row form (0-based, columns sorted within a row). */
struct csr_matrix {
  std::size_t n_rows = 0;
  std::size_t n_cols = 0;
  std::vector<std::int32_t> row_ptr;  ///< n_rows + 1 offsets into col_idx/values
  std::vector<std::int32_t> col_idx;
  std::vector<double> values;
  std::size_t n_nonzeros() const { return values.size(); }
};

/** One group-level term after expansion: `(1 + x | g)` has k = 2 coefficients on factor g. */
struct random_block {
  std::string group;                    ///< brms group name: "state", "g1:g2"
  std::vector<std::string> coef_names;  ///< "Intercept", "x", "fB", "x:z"
  bool correlated = true;               ///< false for `||` (or k = 1)
  std::size_t n_levels = 0;             ///< J
  std::vector<std::string> level_labels;  ///< J labels; "a_b" for an interaction g1:g2 (brms)
  /// Per observation, 0-based level; empty after release_term_rows (Z holds the same).
  std::vector<std::int32_t> level_idx;
  /// Per observation k values (row-major n × k); empty after release_term_rows.
  std::vector<double> covariates;
  std::size_t u_offset = 0;             ///< first entry in u; u[u_offset + j*k + c]
  std::size_t n_coefs() const { return coef_names.size(); }
};

/** Everything the model and the backends read. Rows with a missing value in a used column are
 *  dropped (lme4's na.action = na.omit); `table_row` maps back to the table. */
struct design {
  hbglm::family family = hbglm::family::gaussian;
  std::string formula_text;
  std::string response_name;
  std::size_t n_obs = 0;

  std::vector<double> y;       ///< response (successes for binomial)
  std::vector<double> trials;  ///< binomial trials; empty otherwise
  std::vector<double> se;      ///< gaussian known sd per observation (`| se(s)`); empty otherwise
  std::vector<double> offset;  ///< summed offsets; empty when the formula has none

  /// Population-level coefficients in model.matrix order. "Intercept" first when present.
  std::vector<std::string> coef_names;
  std::vector<double> X;             ///< n_obs × p, column-major; centered columns when `centered`
  std::vector<double> column_means;  ///< what was subtracted from each column (0 if not centered)
  bool has_intercept = false;        ///< column 0 is the intercept
  bool centered = false;             ///< brms centering: Intercept prior is on the centered one
  std::size_t n_coefs() const { return coef_names.size(); }

  std::vector<random_block> terms;   ///< in formula order
  std::size_t n_u = 0;               ///< Σ J_t k_t
  /// n_obs × n_u. Zᵀ is not kept (it would add 108 B per row to the election model's 504): the
  /// CPU backend forms Zᵀr by scattering along Z's rows, and the CUDA backend uploads
  /// transpose(Z).
  csr_matrix Z;

  /// Table row of each observation; empty when no row was dropped (observation i is row i):
  /// 8 B per row that the identity does not need. Read it through table_row.
  std::vector<std::size_t> row_of_obs;
  std::size_t n_dropped = 0;            ///< rows dropped for missing values
  std::vector<std::string> messages;    ///< notes and warnings for the user (dropped rows, ...)

  /** The table row (0-based) observation @p i came from. */
  std::size_t table_row(std::size_t i) const { return row_of_obs.empty() ? i : row_of_obs[i]; }
};

/** @p m transposed, as its own CSR: row c lists the rows of @p m with an entry in column c, in
 *  increasing order (a counting sort: deterministic, so a gather along a row of the transpose
 *  sums in the order a scatter along the rows of @p m does). */
csr_matrix transpose(const csr_matrix& m);

/** Builds the design (model.matrix for the fixed part and for each group-level term's left side,
 *  treatment contrasts with the first sorted level as reference, R's rules for interactions).
 *  @throws data_error for data that do not fit the formula or family, naming file, line, column
 *          and term; formula_error for terms that cannot be built. */
design build_design(const table& data, const formula& f, family fam);

/** As build_design, for a table the caller gives up: its columns are freed as soon as no later
 *  step reads them (those that only the response and the population-level terms use once X is
 *  filled, the rest before Z is built), so that the table and the whole design are
 *  never held at once. Same design, same errors. The table is left empty.
 *  @param[in,out] data the table, moved from */
design build_design(table&& data, const formula& f, family fam);

/** Frees each term's per-observation level_idx and covariates. Z holds the same numbers and is
 *  all that the model and the backends read, so make_problem drops these copies: 4 + 8k bytes
 *  per row and term, 108 B per row of the election model's design, which keeps 504 without them
 *  (bench/README.md, memory.sh). */
void release_term_rows(design& d);

}  // namespace hbglm
