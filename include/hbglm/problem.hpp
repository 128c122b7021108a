#pragma once
/** @file From files and strings to a model: the first steps of every fit (ARCHITECTURE §2). */

#include <memory>
#include <string>
#include <vector>

#include "hbglm/design.hpp"
#include "hbglm/formula.hpp"
#include "hbglm/model.hpp"
#include "hbglm/table.hpp"

namespace hbglm {

/** What the user asked for. */
struct problem_spec {
  std::string data_path;            ///< CSV file
  std::string formula;              ///< e.g. "y ~ x + (1 + x | g)"
  std::string family = "gaussian";  ///< gaussian, bernoulli, binomial, poisson
  std::vector<std::string> priors;  ///< `--prior` statements, in order
  std::string centered = "auto";    ///< `--centered`: auto, none, all, or groups (parse_centering)
};

/** A model ready to sample, with what it was built from. The design's per-term level_idx and
 *  covariates are released (release_term_rows): Z holds them. */
struct problem {
  formula parsed_formula;
  std::shared_ptr<const design> design_ptr;
  std::shared_ptr<const model> model_ptr;
  std::size_t n_table_rows = 0;
};

/** Reads the data, parses the formula and priors, builds the design and the model.
 *  @throws data_error, formula_error, prior_error, option_error with what and where. */
problem load_problem(const problem_spec& spec);

/** As load_problem, from a table already in memory. */
problem make_problem(const table& data, const problem_spec& spec);

/** As make_problem, for a table the caller gives up: its columns are freed while the design is
 *  built (build_design(table&&)), so the peak memory is about the design's, not the table's
 *  plus the design's. The table is left empty. */
problem make_problem(table&& data, const problem_spec& spec);

}  // namespace hbglm
