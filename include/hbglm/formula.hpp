#pragma once
/** @file Model formulas in the lme4/brms syntax, parsed into terms. The parser knows nothing of the
 *  data; the design builder (design.hpp) decides which variables are factors. */

#include <string>
#include <vector>

namespace hbglm {

/** A variable in a term: a column name, or `factor(col)` which forces factor coding. */
struct formula_variable {
  std::string name;          ///< the column name
  bool as_factor = false;    ///< written as factor(name)
  bool operator==(const formula_variable& o) const {
    return name == o.name && as_factor == o.as_factor;
  }
};

/** One model term: the product (interaction, `a:b`) of its variables. Variables are kept in the
 *  order they are written; an empty term is never stored (the intercept is a flag). */
struct formula_term {
  std::vector<formula_variable> variables;
  /// R's label: variable names (factor(x) written as such) joined by ":".
  std::string label() const;
  bool operator==(const formula_term& o) const { return variables == o.variables; }
};

/** The right-hand side of a model (fixed part, or the left side of a `(… | g)` term) after R's
 *  terms() expansion: `a*b` → a + b + a:b, duplicates removed, `- term` removed, terms ordered
 *  by degree (main effects, then two-way interactions, …) and within a degree as written. */
struct formula_rhs {
  bool intercept = true;          ///< `1` (or implicit); false after `0 +`, `- 1`, `+ 0`
  std::vector<formula_term> terms;
};

/** A random (group-level) term `(lhs | g)` or `(lhs || g)` after expansion: `(x | g1/g2)` becomes
 *  two terms on g1 and on g1:g2. */
struct random_term {
  formula_rhs lhs;                          ///< its coefficients
  std::vector<std::string> group_factors;   ///< `g1:g2` → {"g1","g2"}; one name usually
  bool correlated = true;                   ///< false for `||`
  std::string group_label() const;          ///< names joined by ":" (brms's group name)
};

/** A parsed model formula. */
struct formula {
  std::string text;                   ///< as the user wrote it
  std::string response;               ///< column of y (successes for binomial)
  std::string trials;                 ///< brms `y | trials(n)`: column of n; empty if absent
  std::string failures;               ///< lme4 `cbind(s, f)`: column of f; empty if absent
  std::string se;                     ///< brms `y | se(s)`: column of the known sd; empty if absent
  std::vector<std::string> offsets;   ///< `offset(z)` terms, summed
  formula_rhs fixed;                  ///< the population-level part
  bool intercept_as_coef = false;     ///< brms `0 + Intercept`: an ordinary, uncentered coefficient
  std::vector<random_term> random;    ///< group-level terms, in the order written
};

/** Parses a formula.
 *  @param[in] text e.g. "y ~ x + (1 + x | g)", "s | trials(n) ~ 0 + Intercept + x + (1 | g1/g2)"
 *  @return the parsed, expanded formula
 *  @throws formula_error with the formula on one line and a caret under the offending character
 *          on the next, e.g. "unbalanced parenthesis", "unknown function 'log'", "a random term
 *          needs a grouping factor after '|'", "the formula has no response (nothing before '~')". */
formula parse_formula(const std::string& text);

}  // namespace hbglm
