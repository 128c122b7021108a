#pragma once
/** @file Random tables and models for tests: numeric predictors, a text factor, two grouping
 *  factors (one numeric, one text) and responses for every family. */

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "hbglm/design.hpp"
#include "hbglm/formula.hpp"
#include "hbglm/model.hpp"
#include "hbglm/prior.hpp"
#include "hbglm/table.hpp"

namespace hbglm::test {

inline column numeric_column(const std::string& name, std::vector<double> v) {
  column c;
  c.name = name;
  c.is_numeric = true;
  c.missing.assign(v.size(), 0);
  c.numbers = std::move(v);
  return c;
}

inline column text_column(const std::string& name, std::vector<std::string> v) {
  column c;
  c.name = name;
  c.is_numeric = false;
  c.missing.assign(v.size(), 0);
  c.strings = std::move(v);
  return c;
}

/** A table of @p columns (all of one length) named @p source, its rows on lines 2, 3, ... as a
 *  CSV file with a header would have them. */
inline table make_table(const std::string& source, std::vector<column> columns) {
  table t;
  t.source = source;
  t.columns = std::move(columns);
  const std::size_t n = t.columns.empty() ? 0 : t.columns[0].missing.size();
  for (std::size_t i = 0; i < n; ++i) t.line_of_row.push_back(i + 2);
  return t;
}

/** A table of n rows: y_gaussian, y_bernoulli, y_binomial, n_trials, y_poisson, se, x1, x2,
 *  expo (an offset), f (text factor a/b/c), g1 (numeric, n_g1 levels), g2 (text, n_g2 levels). */
inline table random_table(std::size_t n, std::size_t n_g1, std::size_t n_g2, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<std::size_t> g1_dist(0, n_g1 - 1), g2_dist(0, n_g2 - 1),
      f_dist(0, 2), trials_dist(1, 12);
  std::vector<double> x1(n), x2(n), expo(n), g1(n), yg(n), yb(n), ybin(n), trials(n), ypois(n),
      se(n);
  std::vector<std::string> f(n), g2(n);
  for (std::size_t i = 0; i < n; ++i) {
    x1[i] = normal(rng);
    x2[i] = 0.5 * normal(rng) + 1.0;
    expo[i] = 0.3 * normal(rng);
    f[i] = std::string(1, static_cast<char>('a' + f_dist(rng)));
    // Every level appears at least once: the first rows cycle through the levels.
    g1[i] = static_cast<double>(10 + (i < n_g1 ? i : g1_dist(rng)) * 3);
    g2[i] = "lvl" + std::to_string(i < n_g2 ? i : g2_dist(rng));
    const double eta = 0.3 + 0.5 * x1[i] - 0.2 * x2[i] + 0.4 * normal(rng);
    yg[i] = eta + normal(rng);
    const double prob = 1.0 / (1.0 + std::exp(-eta));
    yb[i] = std::bernoulli_distribution(prob)(rng) ? 1.0 : 0.0;
    trials[i] = static_cast<double>(trials_dist(rng));
    ybin[i] = static_cast<double>(
        std::binomial_distribution<int>(static_cast<int>(trials[i]), prob)(rng));
    ypois[i] = static_cast<double>(std::poisson_distribution<int>(std::exp(eta))(rng));
    se[i] = 0.5 + std::fabs(normal(rng));
  }
  table t;
  t.source = "random.csv";
  t.columns = {numeric_column("y_gaussian", yg), numeric_column("y_bernoulli", yb),
               numeric_column("y_binomial", ybin), numeric_column("n_trials", trials),
               numeric_column("y_poisson", ypois), numeric_column("se", se),
               numeric_column("x1", x1), numeric_column("x2", x2), numeric_column("expo", expo),
               text_column("f", f), numeric_column("g1", g1), text_column("g2", g2)};
  for (std::size_t i = 0; i < n; ++i) t.line_of_row.push_back(i + 2);
  return t;
}

/** The response part of a formula for each family, on random_table's columns. */
inline std::string response_for(family fam) {
  switch (fam) {
    case family::gaussian: return "y_gaussian";
    case family::bernoulli: return "y_bernoulli";
    case family::binomial: return "y_binomial | trials(n_trials)";
    case family::poisson: return "y_poisson";
  }
  return "";
}

/** Design + model from a table, a formula text, a family, prior statements and the choice of
 *  centered terms (`--centered`: auto, none, all, or grouping factors). */
inline std::shared_ptr<const model> make_model(const table& t, const std::string& formula_text,
                                               family fam,
                                               const std::vector<std::string>& priors = {},
                                               const std::string& centered = "auto") {
  auto d = std::make_shared<design>(build_design(t, parse_formula(formula_text), fam));
  std::vector<prior_spec> specs;
  for (const auto& p : priors) specs.push_back(parse_prior(p));
  return std::make_shared<const model>(d, specs, parse_centering(centered));
}

}  // namespace hbglm::test
