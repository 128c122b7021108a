/** @file Tests of the simulated data sets (simulate.hpp): determinism in the seed, the columns
 *  and their ranges, the respondent structure, the documented linear predictor, and that the
 *  design of election_formula has the coefficients and terms R's rules give. */

#include "hbglm/simulate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "hbglm/error.hpp"
#include "hbglm/problem.hpp"
#include "kernels/glm_family.cuh"
#include "kernels/rng.cuh"

namespace {

using hbglm::election_effects;
using hbglm::election_options;
using hbglm::election_sizes;
using hbglm::election_truth;
using hbglm::family;
using hbglm::table;

table election(std::size_t n, std::uint64_t seed, family f, election_effects* effects = nullptr) {
  election_options o;
  o.n_obs = n;
  o.seed = seed;
  o.response_family = f;
  return hbglm::simulate_election(o, effects);
}

const std::vector<double>& values(const table& t, const std::string& name) {
  const hbglm::column* c = t.find(name);
  if (c == nullptr) throw std::runtime_error("no column " + name);
  return c->numbers;
}

/// Bitwise equality of two numeric columns (== would call NaN unequal and -0 equal to 0).
bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

std::vector<std::string> election_columns() {
  std::vector<std::string> names = {"y",   "respondent", "state",    "dem", "rep",      "educ",
                                    "inc", "relig",      "nonwhite", "age", "potus2016"};
  for (int k = 1; k <= 40; ++k) names.push_back("V" + std::to_string(k));
  return names;
}

TEST(SimulateElection, SameSeedGivesIdenticalTables) {
  for (family f : {family::gaussian, family::bernoulli}) {
    const table a = election(1000, 7, f), b = election(1000, 7, f);
    ASSERT_EQ(a.columns.size(), b.columns.size());
    for (std::size_t c = 0; c < a.columns.size(); ++c) {
      EXPECT_EQ(a.columns[c].name, b.columns[c].name);
      EXPECT_TRUE(same_bits(a.columns[c].numbers, b.columns[c].numbers)) << a.columns[c].name;
    }
    EXPECT_EQ(a.source, b.source);
  }
}

TEST(SimulateElection, OtherSeedGivesOtherTable) {
  const table a = election(1000, 7, family::gaussian), b = election(1000, 8, family::gaussian);
  for (const std::string name : {"y", "V1", "V40", "educ", "state", "dem"}) {
    EXPECT_FALSE(same_bits(values(a, name), values(b, name))) << name;
  }
}

TEST(SimulateElection, FamiliesShareThePredictors) {
  const table g = election(999, 3, family::gaussian), b = election(999, 3, family::bernoulli);
  for (std::size_t c = 1; c < g.columns.size(); ++c) {
    EXPECT_TRUE(same_bits(g.columns[c].numbers, b.columns[c].numbers)) << g.columns[c].name;
  }
}

TEST(SimulateElection, PrefixIsIndependentOfSize) {
  // Counter-based: row i does not depend on how many rows follow it.
  const table small = election(1000, 5, family::bernoulli),
              large = election(3001, 5, family::bernoulli);
  for (std::size_t c = 0; c < small.columns.size(); ++c) {
    const auto& s = small.columns[c].numbers;
    const auto& l = large.columns[c].numbers;
    EXPECT_EQ(std::memcmp(s.data(), l.data(), s.size() * sizeof(double)), 0)
        << small.columns[c].name;
  }
}

TEST(SimulateElection, ThreadsDoNotChangeTheData) {
  // 20,000 respondents: two ranges of at least 10,000, so n_threads = 4 runs two threads.
  election_options o;
  o.n_obs = 60000;
  o.seed = 12;
  o.n_threads = 1;
  const table one = hbglm::simulate_election(o);
  o.n_threads = 4;
  const table several = hbglm::simulate_election(o);
  for (std::size_t c = 0; c < one.columns.size(); ++c) {
    EXPECT_TRUE(same_bits(one.columns[c].numbers, several.columns[c].numbers))
        << one.columns[c].name;
  }
}

TEST(SimulateElection, ColumnsArePresentNumericAndComplete) {
  const std::size_t n = 1234;
  const table t = election(n, 1, family::gaussian);
  ASSERT_EQ(t.n_rows(), n);
  std::vector<std::string> names;
  for (const auto& c : t.columns) {
    names.push_back(c.name);
    EXPECT_TRUE(c.is_numeric) << c.name;
    ASSERT_EQ(c.numbers.size(), n) << c.name;
    ASSERT_EQ(c.missing.size(), n) << c.name;
    EXPECT_TRUE(std::none_of(c.missing.begin(), c.missing.end(), [](auto m) { return m != 0; }));
    EXPECT_TRUE(std::all_of(c.numbers.begin(), c.numbers.end(), [](double v) {
      return std::isfinite(v);
    })) << c.name;
  }
  EXPECT_EQ(names, election_columns());
  EXPECT_EQ(t.line_of_row.front(), 2u);
  EXPECT_EQ(t.line_of_row.back(), n + 1);
  EXPECT_NE(t.source.find("simulate_election"), std::string::npos);
}

TEST(SimulateElection, RespondentsAnswerThreeQuestions) {
  for (std::size_t n : {3000u, 1000u, 1001u}) {
    const table t = election(n, 2, family::gaussian);
    const auto& r = values(t, "respondent");
    const std::size_t n_respondents = (n + 2) / 3;  // 1000, 334, 334
    EXPECT_EQ(std::set<double>(r.begin(), r.end()).size(), n_respondents) << n;
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(r[i], static_cast<double>(i / 3 + 1));
      if (i % 3 == 0) continue;
      // Respondent-level columns are the same for the respondent's three rows.
      for (const std::string name :
           {"state", "educ", "inc", "relig", "nonwhite", "age", "potus2016"}) {
        ASSERT_EQ(values(t, name)[i], values(t, name)[i - 1]) << name << " row " << i;
      }
    }
  }
}

TEST(SimulateElection, ValuesAreInTheirDocumentedRanges) {
  const std::size_t n = 3000;
  const table t = election(n, 11, family::gaussian);
  auto levels = [&](const std::string& name) {
    const auto& v = values(t, name);
    return std::set<double>(v.begin(), v.end());
  };
  auto codes = [](std::size_t k) {
    std::set<double> s;
    for (std::size_t j = 1; j <= k; ++j) s.insert(static_cast<double>(j));
    return s;
  };
  EXPECT_EQ(levels("state"), codes(election_sizes::n_states));
  EXPECT_EQ(levels("dem"), codes(election_sizes::n_dem));
  EXPECT_EQ(levels("rep"), codes(election_sizes::n_rep));
  EXPECT_EQ(levels("educ"), (std::set<double>{-1.0, -0.5, 0.0, 0.5, 1.0}));
  EXPECT_EQ(levels("inc"), (std::set<double>{-1.0, -0.5, 0.0, 0.5, 1.0}));
  EXPECT_EQ(levels("relig"), (std::set<double>{-0.75, -0.25, 0.25, 0.75}));
  EXPECT_EQ(levels("nonwhite"), (std::set<double>{0.0, 1.0}));
  EXPECT_LE(levels("potus2016").size(), election_sizes::n_states);
  const auto age = levels("age");
  EXPECT_GE(*age.begin(), (18.0 - 50.0) / 20.0);
  EXPECT_LE(*age.rbegin(), (90.0 - 50.0) / 20.0);

  // Proportions and moments, with bounds of about 5 standard errors.
  const auto& nw = values(t, "nonwhite");
  double share = 0.0;
  for (std::size_t i = 0; i < n; i += 3) share += nw[i];
  share /= 1000.0;
  EXPECT_NEAR(share, 0.3, 5.0 * std::sqrt(0.3 * 0.7 / 1000.0));
  for (int k = 1; k <= 40; ++k) {
    const auto& v = values(t, "V" + std::to_string(k));
    double m = 0.0, s2 = 0.0;
    for (double x : v) m += x;
    m /= static_cast<double>(n);
    for (double x : v) s2 += (x - m) * (x - m);
    s2 /= static_cast<double>(n - 1);
    EXPECT_NEAR(m, 0.0, 5.0 / std::sqrt(static_cast<double>(n))) << k;
    EXPECT_NEAR(s2, 1.0, 5.0 * std::sqrt(2.0 / static_cast<double>(n))) << k;
  }
}

TEST(SimulateElection, NoiseColumnsAreTheDocumentedNormals) {
  const std::uint64_t seed = 0x123456789abcdefULL;
  const table t = election(1000, seed, family::gaussian);
  for (std::size_t i : {0u, 1u, 500u, 999u}) {
    for (std::size_t k = 0; k < 40; ++k) {
      EXPECT_EQ(values(t, "V" + std::to_string(k + 1))[i],
                hbglm::rng::standard_normal(seed, hbglm::rng::stream::simulate, 0x10007u, i, k))
          << "row " << i << " V" << k + 1;
    }
  }
}

/// The linear predictor of simulate.hpp's election_truth comment, from the table and effects.
std::vector<double> election_eta(const table& t, const election_effects& e) {
  using truth = election_truth;
  const auto& state = values(t, "state");
  const auto& respondent = values(t, "respondent");
  const auto& dem = values(t, "dem");
  const auto& rep = values(t, "rep");
  const auto& educ = values(t, "educ");
  const auto& inc = values(t, "inc");
  const auto& relig = values(t, "relig");
  const auto& nonwhite = values(t, "nonwhite");
  const auto& age = values(t, "age");
  const auto& potus2016 = values(t, "potus2016");
  std::vector<const std::vector<double>*> v;
  for (int k = 1; k <= 40; ++k) v.push_back(&values(t, "V" + std::to_string(k)));
  auto code = [](double c) { return static_cast<std::size_t>(c) - 1; };
  std::vector<double> eta(t.n_rows());
  for (std::size_t i = 0; i < eta.size(); ++i) {
    const std::size_t s = code(state[i]);
    double x = truth::intercept + truth::b_educ * educ[i] + truth::b_nonwhite * nonwhite[i] +
               truth::b_inc * inc[i] + truth::b_relig * relig[i] +
               truth::b_educ_nonwhite * educ[i] * nonwhite[i] +
               truth::b_nonwhite_inc * nonwhite[i] * inc[i] +
               truth::b_nonwhite_relig * nonwhite[i] * relig[i];
    for (std::size_t k = 0; k < 40; ++k) x += truth::b_v[k] * (*v[k])[i];
    x += e.state_intercept[s] + e.respondent[code(respondent[i])] + e.dem[code(dem[i])] +
         e.rep[code(rep[i])] + e.state_age[s] * age[i] + e.state_educ[s] * educ[i] +
         e.state_inc[s] * inc[i] + e.state_relig[s] * relig[i] +
         e.state_potus2016[s] * potus2016[i];
    eta[i] = x;
  }
  return eta;
}

TEST(SimulateElection, GaussianResponseFollowsTheDocumentedModel) {
  const std::size_t n = 6000;
  election_effects e;
  const table t = election(n, 4, family::gaussian, &e);
  ASSERT_EQ(e.respondent.size(), n / 3);
  ASSERT_EQ(e.state_intercept.size(), election_sizes::n_states);
  ASSERT_EQ(e.dem.size(), election_sizes::n_dem);
  ASSERT_EQ(e.rep.size(), election_sizes::n_rep);
  const std::vector<double> eta = election_eta(t, e);
  const auto& y = values(t, "y");
  double m = 0.0, s2 = 0.0;
  for (std::size_t i = 0; i < n; ++i) m += y[i] - eta[i];
  m /= static_cast<double>(n);
  for (std::size_t i = 0; i < n; ++i) s2 += (y[i] - eta[i] - m) * (y[i] - eta[i] - m);
  const double sd = std::sqrt(s2 / static_cast<double>(n - 1));
  // Residuals are the N(0, sigma²) noise: 5 standard errors.
  EXPECT_NEAR(m, 0.0, 5.0 * election_truth::sigma / std::sqrt(static_cast<double>(n)));
  EXPECT_NEAR(sd, election_truth::sigma,
              5.0 * election_truth::sigma / std::sqrt(2.0 * static_cast<double>(n)));
  // The 2000 respondent effects have the documented sd (root mean square; 5 standard errors).
  const double n_r = static_cast<double>(e.respondent.size());
  double r2 = 0.0;
  for (double u : e.respondent) r2 += u * u;
  EXPECT_NEAR(std::sqrt(r2 / n_r), election_truth::sd_respondent,
              5.0 * election_truth::sd_respondent / std::sqrt(2.0 * n_r));
}

TEST(SimulateElection, BernoulliResponseIsZeroOneWithTheModelsMean) {
  const std::size_t n = 6000;
  election_effects e;
  const table t = election(n, 9, family::bernoulli, &e);
  const auto& y = values(t, "y");
  EXPECT_TRUE(std::all_of(y.begin(), y.end(), [](double v) { return v == 0.0 || v == 1.0; }));
  const std::vector<double> eta = election_eta(t, e);
  double resid = 0.0, var = 0.0, ones = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double p = hbglm::kernels::inv_logit(eta[i]);
    resid += y[i] - p;
    var += p * (1.0 - p);
    ones += y[i];
  }
  EXPECT_GT(ones, 0.2 * static_cast<double>(n));
  EXPECT_LT(ones, 0.8 * static_cast<double>(n));
  EXPECT_NEAR(resid, 0.0, 5.0 * std::sqrt(var));  // Σ (y - p) has variance Σ p(1 - p)
}

TEST(SimulateElection, DesignHasRsCoefficientsAndTerms) {
  // R's model.matrix for the fixed part: (Intercept), the main effects in order of first
  // appearance (nonwhite once), V1..V40, then the three interactions: 1 + 4 + 40 + 3 = 48.
  const std::size_t n = 3000;
  for (family f : {family::gaussian, family::bernoulli}) {
    hbglm::problem_spec spec;
    spec.formula = hbglm::election_formula;
    spec.family = hbglm::to_string(f);
    const hbglm::problem p = hbglm::make_problem(election(n, 1, f), spec);
    const hbglm::design& d = *p.design_ptr;
    ASSERT_EQ(d.n_obs, n);
    EXPECT_EQ(d.n_coefs(), election_sizes::n_fixed);
    ASSERT_GE(d.coef_names.size(), 48u);
    std::vector<std::string> main_effects(d.coef_names.begin(), d.coef_names.begin() + 45);
    std::vector<std::string> expected = {"Intercept", "educ", "nonwhite", "inc", "relig"};
    for (int k = 1; k <= 40; ++k) expected.push_back("V" + std::to_string(k));
    EXPECT_EQ(main_effects, expected);
    EXPECT_EQ(d.coef_names[45], "educ:nonwhite");
    // Which variable comes first in the other two interactions is checked (against R) by
    // InteractionNamesFollowR below.

    // Terms in formula order; each k = 1, so K = 9 non-zeros per row of Z.
    const std::vector<std::pair<std::string, std::string>> terms = {
        {"state", "Intercept"}, {"respondent", "Intercept"},
        {"dem", "Intercept"},   {"rep", "Intercept"},
        {"state", "age"},       {"state", "educ"},
        {"state", "inc"},       {"state", "relig"},
        {"state", "potus2016"}};
    ASSERT_EQ(d.terms.size(), election_sizes::n_terms);
    std::size_t n_u = 0;
    for (std::size_t t = 0; t < terms.size(); ++t) {
      EXPECT_EQ(d.terms[t].group, terms[t].first);
      EXPECT_EQ(d.terms[t].coef_names, std::vector<std::string>{terms[t].second});
      const std::size_t levels = terms[t].first == "state"        ? election_sizes::n_states
                                 : terms[t].first == "respondent" ? n / 3
                                 : terms[t].first == "dem"        ? election_sizes::n_dem
                                                                  : election_sizes::n_rep;
      EXPECT_EQ(d.terms[t].n_levels, levels) << terms[t].first;
      n_u += levels;
    }
    EXPECT_EQ(d.n_u, n_u);
    EXPECT_EQ(d.Z.n_nonzeros(), n * election_sizes::n_terms);
    // Unconstrained dimension: 48 coefficients, 9 sds, sigma (gaussian), the z's.
    EXPECT_EQ(p.model_ptr->dim(), election_sizes::n_fixed + election_sizes::n_terms +
                                      (f == family::gaussian ? 1u : 0u) + n_u);
  }
}

// R orders the variables of an interaction as they first appear in the formula ("variables
// within an interaction term in the formula are re-ordered by the ordering of the 'variables'
// attribute", ?terms.formula), so inc*nonwhite after educ*nonwhite gives `nonwhite:inc`, and
// brms names the coefficient b_nonwhite:inc.
TEST(SimulateElection, InteractionNamesFollowR) {
  hbglm::problem_spec spec;
  spec.formula = hbglm::election_formula;
  const hbglm::problem p = hbglm::make_problem(election(1000, 1, family::gaussian), spec);
  const auto& names = p.design_ptr->coef_names;
  ASSERT_EQ(names.size(), 48u);
  EXPECT_EQ(names[45], "educ:nonwhite");
  EXPECT_EQ(names[46], "nonwhite:inc");
  EXPECT_EQ(names[47], "nonwhite:relig");
}

TEST(SimulateElection, RejectsBadOptions) {
  election_options o;
  o.n_obs = 0;
  EXPECT_THROW(hbglm::simulate_election(o), hbglm::option_error);
  o.n_obs = 1000;
  o.response_family = family::poisson;
  EXPECT_THROW(hbglm::simulate_election(o), hbglm::option_error);
  o.response_family = family::gaussian;
  o.n_obs = 100'000'001;
  EXPECT_THROW(hbglm::simulate_election(o), hbglm::option_error);
}

TEST(SimulateVaryingSlope, DeterministicColumnsAndDesign) {
  hbglm::varying_slope_options o;
  o.n_obs = 500;
  o.n_groups = 20;
  o.seed = 42;
  hbglm::varying_slope_effects e;
  const table a = hbglm::simulate_varying_slope(o, &e);
  const table b = hbglm::simulate_varying_slope(o);
  ASSERT_EQ(a.columns.size(), 3u);
  EXPECT_EQ(a.columns[0].name, "y");
  EXPECT_EQ(a.columns[1].name, "g");
  EXPECT_EQ(a.columns[2].name, "x");
  for (std::size_t c = 0; c < 3; ++c) {
    EXPECT_TRUE(same_bits(a.columns[c].numbers, b.columns[c].numbers));
  }
  const auto& g = values(a, "g");
  EXPECT_EQ(std::set<double>(g.begin(), g.end()).size(), 20u);
  EXPECT_EQ(*std::max_element(g.begin(), g.end()), 20.0);
  ASSERT_EQ(e.u.size(), 40u);

  // The documented model: residuals y - eta are the unit-normal noise.
  using truth = hbglm::varying_slope_truth;
  const auto& x = values(a, "x");
  const auto& y = values(a, "y");
  double m = 0.0;
  for (std::size_t i = 0; i < o.n_obs; ++i) {
    const auto j = static_cast<std::size_t>(g[i]) - 1;
    m += y[i] - (truth::intercept + truth::b_x * x[i] + e.u[2 * j] + e.u[2 * j + 1] * x[i]);
  }
  EXPECT_NEAR(m / 500.0, 0.0, 5.0 / std::sqrt(500.0));

  hbglm::problem_spec spec;
  spec.formula = hbglm::varying_slope_formula;
  const hbglm::problem p = hbglm::make_problem(a, spec);
  EXPECT_EQ(p.design_ptr->coef_names, (std::vector<std::string>{"Intercept", "x"}));
  ASSERT_EQ(p.design_ptr->terms.size(), 1u);
  EXPECT_EQ(p.design_ptr->terms[0].coef_names, (std::vector<std::string>{"Intercept", "x"}));
  EXPECT_TRUE(p.design_ptr->terms[0].correlated);
  EXPECT_EQ(p.design_ptr->terms[0].n_levels, 20u);
  // 2 coefficients, 2 sds, 1 correlation, sigma, 20 × 2 z.
  EXPECT_EQ(p.model_ptr->dim(), 2u + 2u + 1u + 1u + 40u);
}

TEST(SimulateVaryingSlope, BernoulliIsZeroOneAndBadOptionsThrow) {
  hbglm::varying_slope_options o;
  o.response_family = family::bernoulli;
  const table t = hbglm::simulate_varying_slope(o);
  const auto& y = values(t, "y");
  EXPECT_TRUE(std::all_of(y.begin(), y.end(), [](double v) { return v == 0.0 || v == 1.0; }));
  EXPECT_GT(std::count(y.begin(), y.end(), 1.0), 0);
  EXPECT_GT(std::count(y.begin(), y.end(), 0.0), 0);
  o.n_groups = 1;
  EXPECT_THROW(hbglm::simulate_varying_slope(o), hbglm::option_error);
  o.n_groups = 10;
  o.n_obs = 0;
  EXPECT_THROW(hbglm::simulate_varying_slope(o), hbglm::option_error);
}

// The true parameters carry the names a fit reports (so compare.py --truth can match them), in
// its order, with the documented values, and each group-level sd's realized value is the root
// mean square of the effects the data set drew.
TEST(SimulateElection, TrueParametersAreNamedAsTheFitReportsThem) {
  using truth = election_truth;
  for (family f : {family::gaussian, family::bernoulli}) {
    election_effects e;
    const table t = election(3000, 5, f, &e);
    hbglm::problem_spec spec;
    spec.formula = hbglm::election_formula;
    spec.family = hbglm::to_string(f);
    const hbglm::problem p = hbglm::make_problem(t, spec);
    const std::vector<hbglm::true_parameter> parameters = hbglm::election_true_parameters(f, e);
    std::vector<std::string> names;
    for (const auto& q : parameters) names.push_back(q.name);
    EXPECT_EQ(names, p.model_ptr->output_names(false)) << hbglm::to_string(f);

    ASSERT_EQ(parameters.size(), 57u + (f == family::gaussian ? 1u : 0u));
    EXPECT_EQ(parameters[0].value, truth::intercept);
    EXPECT_EQ(parameters[6].value, truth::b_v[1]);  // b_V2
    EXPECT_EQ(parameters[47].value, truth::b_nonwhite_relig);
    EXPECT_TRUE(std::isnan(parameters[47].realized));
    const hbglm::true_parameter& sd_dem = parameters[50];
    ASSERT_EQ(sd_dem.name, "sd_dem__Intercept");
    EXPECT_EQ(sd_dem.value, truth::sd_dem);
    double squares = 0.0;
    for (double u : e.dem) squares += u * u;
    EXPECT_DOUBLE_EQ(sd_dem.realized, std::sqrt(squares / static_cast<double>(e.dem.size())));
    EXPECT_EQ(parameters[56].name, "sd_state__potus2016");
    EXPECT_EQ(parameters[56].value, truth::sd_state_potus2016);
  }
}

TEST(SimulateVaryingSlope, TrueParametersAreNamedAsTheFitReportsThem) {
  hbglm::varying_slope_options o;
  o.n_obs = 400;
  o.n_groups = 30;
  hbglm::varying_slope_effects e;
  const table t = hbglm::simulate_varying_slope(o, &e);
  hbglm::problem_spec spec;
  spec.formula = hbglm::varying_slope_formula;
  const hbglm::problem p = hbglm::make_problem(t, spec);
  const std::vector<hbglm::true_parameter> parameters =
      hbglm::varying_slope_true_parameters(family::gaussian, e);
  std::vector<std::string> names;
  for (const auto& q : parameters) names.push_back(q.name);
  EXPECT_EQ(names, p.model_ptr->output_names(false));
  ASSERT_EQ(names.size(), 6u);
  // The realized correlation, by its definition about the known means 0.
  double s01 = 0.0, s00 = 0.0, s11 = 0.0;
  for (std::size_t g = 0; g < 30; ++g) {
    s01 += e.u[2 * g] * e.u[2 * g + 1];
    s00 += e.u[2 * g] * e.u[2 * g];
    s11 += e.u[2 * g + 1] * e.u[2 * g + 1];
  }
  EXPECT_EQ(parameters[4].value, hbglm::varying_slope_truth::cor_g_intercept_x);
  // The library forms them in another order (cross / (n rms rms), rms = sqrt(s / n)): a few
  // roundings of numbers below 1 apart, so 1e-14 (about 50 units in the last place) leaves room.
  EXPECT_NEAR(parameters[4].realized, s01 / std::sqrt(s00 * s11), 1e-14);
  EXPECT_NEAR(parameters[3].realized, std::sqrt(s11 / 30.0), 1e-14);
  EXPECT_EQ(hbglm::varying_slope_true_parameters(family::bernoulli, e).size(), 5u);
}

}  // namespace
