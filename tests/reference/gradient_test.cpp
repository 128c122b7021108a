// The analytic gradient of the CPU backend against finite differences, for every family × every
// kind of group-level term × correlated/uncorrelated × every prior distribution, on random small
// models at random parameter values (issue 2).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/glm_cpu_density.hpp"
#include "support/model_cases.hpp"
#include "support/model_fixtures.hpp"
#include "support/tolerance.hpp"

namespace hbglm {
namespace {

using test::family_case;
using test::family_cases;
using test::fixed_parts;
using test::random_parts;

/// Prior sets, each exercising some distributions; filtered per model to the classes it has.
struct prior_set {
  std::vector<std::string> b, intercept, sd, sigma, cor;
};

std::vector<prior_set> prior_sets() {
  return {
      {{}, {}, {}, {}, {}},  // brms defaults
      {{"b ~ normal(0, 1)"}, {"Intercept ~ normal(1, 5)"}, {"sd ~ normal(0.5, 1)"},
       {"sigma ~ normal(0, 2)"}, {"cor ~ lkj(2)"}},
      {{"b ~ student_t(4, 0.5, 2)"}, {"Intercept ~ student_t(3, -1, 2.5)"},
       {"sd ~ student_t(5, 1, 2)"}, {"sigma ~ student_t(3, 0, 1)"}, {"cor ~ lkj(0.5)"}},
      {{"b ~ cauchy(0, 2)"}, {"Intercept ~ cauchy(1, 3)"}, {"sd ~ cauchy(0, 1)"},
       {"sigma ~ cauchy(1, 2)"}, {"cor ~ lkj(1)"}},
      {{"b ~ flat"}, {"Intercept ~ flat"}, {"sd ~ exponential(2)"}, {"sigma ~ exponential(1)"},
       {"cor ~ lkj(3)"}},
      {{"b ~ normal(0, 3)"}, {}, {"sd ~ gamma(2, 1.5)"}, {"sigma ~ gamma(3, 2)"}, {}},
      {{}, {}, {"sd ~ lognormal(0, 1)"}, {"sigma ~ lognormal(0.5, 0.7)"}, {}},
      {{"b ~ uniform(-4, 5)"}, {"Intercept ~ uniform(-10, 10)"}, {"sd ~ uniform(0, 6)"},
       {"sigma ~ uniform(0.1, 7)"}, {}},
      {{"b ~ normal(0, 2)", "b[x1] ~ constant(0.3)"}, {}, {"sd ~ flat"}, {"sigma ~ flat"}, {}},
  };
}

/// The prior statements of @p set that apply to @p m (its classes and coefficients).
std::vector<std::string> applicable(const prior_set& set, const model& m) {
  bool has_b = false, has_intercept = false, has_sd = false, has_cor = false, has_x1 = false;
  for (const auto& p : m.scalars()) {
    has_b |= p.cls == prior_class::b;
    has_intercept |= p.cls == prior_class::intercept;
    has_sd |= p.cls == prior_class::sd;
    has_x1 |= p.name == "b_x1";
  }
  for (const auto& t : m.terms()) has_cor |= t.correlated;
  std::vector<std::string> out;
  for (const auto& s : set.b) {
    if (has_b && (s.find("b[x1]") == std::string::npos || has_x1)) out.push_back(s);
  }
  if (has_intercept) out.insert(out.end(), set.intercept.begin(), set.intercept.end());
  if (has_sd) out.insert(out.end(), set.sd.begin(), set.sd.end());
  if (m.has_sigma()) out.insert(out.end(), set.sigma.begin(), set.sigma.end());
  if (has_cor) out.insert(out.end(), set.cor.begin(), set.cor.end());
  return out;
}

/// Central differences with one Richardson step: (4 D(h/2) - D(h)) / 3, error O(h⁴).
double finite_difference(const detail::glm_cpu_density& density, std::vector<double> q,
                         std::size_t i, double h) {
  std::vector<double> scratch(q.size());
  auto f = [&](double delta) {
    std::vector<double> x = q;
    x[i] += delta;
    return density.log_density_grad(x.data(), scratch.data());
  };
  const double d_h = (f(h) - f(-h)) / (2 * h);
  const double d_half = (f(h / 2) - f(-h / 2)) / h;
  return (4 * d_half - d_h) / 3;
}

/// Checks the gradient at two random points, uniform(-radius, radius) in each coordinate;
/// returns the number of components checked.
std::size_t check_gradient(const std::shared_ptr<const model>& m, std::uint64_t seed,
                           const std::string& label, double radius = 1.2) {
  detail::glm_cpu_density density(m);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> init(-radius, radius);
  std::size_t checked = 0;
  for (int point = 0; point < 2; ++point) {
    std::vector<double> q(m->dim()), grad(m->dim());
    for (double& v : q) v = init(rng);
    const double lp = density.log_density_grad(q.data(), grad.data());
    EXPECT_TRUE(std::isfinite(lp)) << label;
    if (!std::isfinite(lp)) return checked;
    const auto names = m->unconstrained_names();
    for (std::size_t i = 0; i < q.size(); ++i) {
      const double fd = finite_difference(density, q, i, 1e-3);
      const double scale = std::max({1.0, std::fabs(grad[i]), std::fabs(fd)});
      EXPECT_LT(std::fabs(grad[i] - fd) / scale, test::gradient_rel)
          << label << "\n  parameter " << names[i] << ": analytic " << grad[i] << ", numeric "
          << fd;
      ++checked;
    }
  }
  return checked;
}

TEST(Gradient, MatchesFiniteDifferencesForEveryFamilyTermAndPrior) {
  const table data = test::random_table(40, 5, 4, 7);
  const auto sets = prior_sets();
  std::size_t n_models = 0, n_checked = 0;
  std::uint64_t seed = 100;
  for (const auto& fc : family_cases()) {
    for (std::size_t r = 0; r < random_parts.size(); ++r) {
      const std::string& fixed = fixed_parts[(r + n_models) % fixed_parts.size()];
      const std::string formula = fc.response + " ~ " + fixed + " + " + random_parts[r];
      const auto base = test::make_model(data, formula, fc.fam);
      for (std::size_t s = 0; s < sets.size(); ++s) {
        const auto priors = applicable(sets[s], *base);
        std::string label = to_string(fc.fam) + ": " + formula + "; priors:";
        for (const auto& p : priors) label += " [" + p + "]";
        const auto m = test::make_model(data, formula, fc.fam, priors);
        n_checked += check_gradient(m, seed++, label);
        ++n_models;
        if (HasFailure()) return;
      }
    }
  }
  EXPECT_EQ(n_models, family_cases().size() * random_parts.size() * sets.size());
  RecordProperty("models", static_cast<int>(n_models));
  RecordProperty("components", static_cast<int>(n_checked));
}

// Rows of Z longer than the observation pass's compile-time lengths (1 to 10 entries) take its
// run-time loop: 5 + 5 + 1 = 11 entries per row here, non-centered and centered.
TEST(Gradient, RowsOfZLongerThanTheFixedLengthsMatchFiniteDifferences) {
  const table data = test::random_table(40, 5, 4, 7);
  const std::string random = "(1 + x1 + x2 + f || g1) + (1 + x1 + x2 + f | g2) + (1 | g1:g2)";
  std::uint64_t seed = 900;
  for (const auto& fc : family_cases()) {
    for (const std::string centered : {"none", "all"}) {
      const std::string formula = fc.response + " ~ x1 + " + random;
      const auto m = test::make_model(data, formula, fc.fam, {}, centered);
      ASSERT_EQ(m->data().Z.n_nonzeros(), 11u * m->data().n_obs) << formula;
      check_gradient(m, seed++, to_string(fc.fam) + ": " + formula + ", centered " + centered);
      if (HasFailure()) return;
    }
  }
}

TEST(Gradient, CenteredTermsMatchFiniteDifferences) {
  // Every term kind in the centered form (q holds b + u where the population level has the
  // coefficient, u otherwise), with the default priors and with prior sets that exercise sd
  // priors, lkj shapes, a constant sd (its log det term then a constant), a bounded Intercept
  // and b (no covariate is then taken out of the Intercept) and a constant b[x1] (not a mean).
  const table data = test::random_table(40, 5, 4, 17);
  const auto sets = prior_sets();
  const std::vector<std::size_t> set_indices = {0, 2, 5, 7, 8};
  std::size_t n_models = 0, n_with_covariate_means = 0;
  std::uint64_t seed = 900;
  for (const auto& fc : family_cases()) {
    for (std::size_t r = 0; r < random_parts.size(); ++r) {
      // Alternately more population-level coefficients, so that x2 and f's columns are means too.
      const std::string fixed = r % 2 == 0 ? "x1" : "x1 + x2 + f";
      const std::string formula = fc.response + " ~ " + fixed + " + " + random_parts[r];
      const auto base = test::make_model(data, formula, fc.fam, {}, "all");
      for (std::size_t s : set_indices) {
        auto priors = applicable(sets[s], *base);
        const bool has_g1 = std::any_of(base->data().terms.begin(), base->data().terms.end(),
                                        [](const random_block& b) { return b.group == "g1"; });
        if (s == 5 && has_g1) priors.push_back("sd[g1] ~ constant(0.7)");
        std::string label = to_string(fc.fam) + ", centered: " + formula + "; priors:";
        for (const auto& p : priors) label += " [" + p + "]";
        const auto m = test::make_model(data, formula, fc.fam, priors, "all");
        bool covariate_mean = false;
        for (const auto& t : m->terms()) {
          ASSERT_TRUE(t.centered()) << label;
          for (const auto b : t.mean_of) covariate_mean |= b > 0;
        }
        n_with_covariate_means += covariate_mean ? 1 : 0;
        check_gradient(m, seed++, label);
        ++n_models;
        if (HasFailure()) return;
      }
    }
  }
  EXPECT_EQ(n_models, family_cases().size() * random_parts.size() * set_indices.size());
  EXPECT_GT(n_with_covariate_means, n_models / 4);  // the shift of the Intercept is exercised
}

TEST(Gradient, PartlyCenteredTermsMatchFiniteDifferences) {
  // A term's leading coefficients centered and the rest non-centered (term_parameters::n_centered
  // between 0 and k): u_C = q_C - mean, z_C = (D_C L_CC)⁻¹u_C, u_N = D_N (L_NC z_C + L_NN z_N),
  // whose gradient in sd, L and q_C runs through z_C (kernels/group_effects.cuh). Correlated k = 2
  // and 3 (through the Intercept and through x1, centered around b_x1), uncorrelated, and a
  // factor slope; with the lkj shapes and sd priors of the prior sets.
  const table data = test::random_table(40, 5, 4, 29);
  const auto sets = prior_sets();
  struct partial_case {
    std::string random, centered;
    std::size_t n_centered;
  };
  const std::vector<partial_case> cases = {{"(1 + x1 | g1)", "g1:Intercept", 1},
                                           {"(1 + x1 + x2 | g2)", "g2:Intercept", 1},
                                           {"(1 + x1 + x2 | g2)", "g2:x1", 2},
                                           {"(1 + x1 || g1)", "g1:Intercept", 1},
                                           {"(1 + f | g2) + (1 | g1)", "g2:Intercept,g1", 1}};
  std::uint64_t seed = 1700;
  std::size_t n_models = 0;
  for (const auto& fc : family_cases()) {
    for (const partial_case& c : cases) {
      const std::string formula = fc.response + " ~ x1 + x2 + " + c.random;
      const auto base = test::make_model(data, formula, fc.fam, {}, c.centered);
      for (std::size_t set : {0, 1, 2}) {
        const auto m = test::make_model(data, formula, fc.fam, applicable(sets[set], *base),
                                        c.centered);
        const std::string label = to_string(fc.fam) + ", " + c.centered + ": " + formula;
        const term_parameters& term = m->terms()[0];
        ASSERT_EQ(term.n_centered, c.n_centered) << label;
        ASSERT_LT(term.n_centered, term.k) << label;
        ASSERT_EQ(term.mean_of.size(), c.n_centered) << label;
        // Through x1: centered around b_x1 as well as the Intercept.
        if (c.n_centered == 2) {
          EXPECT_EQ(term.mean_of[1], 1) << label;
        }
        check_gradient(m, seed++, label);
        ++n_models;
        if (HasFailure()) return;
      }
    }
  }
  EXPECT_EQ(n_models, family_cases().size() * cases.size() * 3);
}

TEST(Gradient, AbsorbedLevelConstantSlopesMatchFiniteDifferences) {
  // w1 and w2 take one value per level of g1 (level-level covariates), so a centered (1 | g1)
  // absorbs their slopes (term_parameters::absorbed): its level mean reads their u, and their
  // gradient gets the mean's. "g1" and "all" center the slopes too (w1's around b_w1 where the
  // population level has w1); the automatic choice, on gaussian data whose g1 levels differ
  // (200 rows per level), centers the intercept and leaves the slopes non-centered.
  table data = test::random_table(1000, 5, 4, 23);
  const std::vector<double>& g1 = data.find("g1")->numbers;
  std::vector<double> w1(g1.size()), w2(g1.size()), y_levels(g1.size());
  const std::vector<double>& y = data.find("y_gaussian")->numbers;
  for (std::size_t i = 0; i < g1.size(); ++i) {
    w1[i] = 0.1 * g1[i] - 1.5;
    w2[i] = std::cos(g1[i]);
    y_levels[i] = y[i] + 2.0 * std::sin(g1[i]);  // level effects of sd about 1.4
  }
  data.columns.push_back(test::numeric_column("w1", w1));
  data.columns.push_back(test::numeric_column("w2", w2));
  data.columns.push_back(test::numeric_column("y_levels", y_levels));
  // The last two absorb population-level coefficients on w1 and w2 as well
  // (term_parameters::absorbed_coefficients), except b_w1 where (0 + w1 | g1) is centered around
  // it ("g1", "all"); the last absorbs no slope.
  const std::vector<std::string> parts = {
      "x1 + (1 | g1) + (0 + w1 | g1)",
      "x2 + w1 + (1 | g1) + (0 + w1 | g1) + (0 + w2 | g1) + (0 + x1 | g1)",
      "x2 + (1 | g1) + (0 + w1 | g1) + (1 + x1 | g2)",
      "x2 + w1 + w2 + (1 | g1) + (0 + w1 | g1) + (1 + x1 | g2)",
      "x1 + w2 + x1:w2 + (1 | g1) + (1 | g2)"};
  const auto sets = prior_sets();
  std::uint64_t seed = 1300;
  std::size_t n_models = 0, n_with_coefficients = 0;
  auto check = [&](const std::string& formula, family fam, const std::string& centered,
                   std::size_t set) {
    const auto base = test::make_model(data, formula, fam, {}, centered);
    const auto m = test::make_model(data, formula, fam, applicable(sets[set], *base), centered);
    const std::string label = to_string(fam) + ", " + centered + ": " + formula;
    EXPECT_TRUE(m->terms()[0].centered()) << label;
    EXPECT_TRUE(m->terms()[0].absorbs()) << label;
    if (!m->terms()[0].absorbs()) return;
    if (!m->terms()[0].absorbed.empty()) {
      const auto& slope = m->terms()[m->terms()[0].absorbed[0].term];
      EXPECT_EQ(slope.centered(), centered != "auto") << label;
    }
    n_with_coefficients += m->terms()[0].absorbed_coefficients.empty() ? 0 : 1;
    check_gradient(m, seed++, label);
    ++n_models;
  };
  for (const auto& fc : family_cases()) {
    for (const auto& part : parts) {
      for (const char* centered : {"g1", "all"}) {
        for (std::size_t set : {0, 2}) {
          check(fc.response + " ~ " + part, fc.fam, centered, set);
          if (HasFailure()) return;
        }
      }
    }
  }
  for (const auto& part : parts) {
    for (std::size_t set : {0, 2}) {
      check("y_levels ~ " + part, family::gaussian, "auto", set);
      if (HasFailure()) return;
    }
  }
  // A centered term with more than the Intercept absorbs coefficients too (its coefficient 0's
  // level mean): b_w1 and b_w2 into (1 + x1 | g1), correlated and centered around the Intercept
  // and b_x1, beside a centered (1 | g2); and with its Intercept alone centered ("g1:Intercept",
  // term_parameters::n_centered 1: the x1 slope non-centered).
  for (const auto& fc : family_cases()) {
    for (const char* centered : {"g1", "all", "g1:Intercept"}) {
      for (std::size_t set : {0, 2}) {
        check(fc.response + " ~ x1 + w1 + w2 + (1 + x1 | g1) + (1 | g2)", fc.fam, centered,
              set);
        if (HasFailure()) return;
      }
    }
  }
  EXPECT_EQ(n_models, (family_cases().size() * 4 + 2) * parts.size() + family_cases().size() * 6);
  // Parts 2 (auto only), 4 (b_w2 always, b_w1 in auto) and 5, and the correlated term.
  EXPECT_EQ(n_with_coefficients,
            2 + 2 * (family_cases().size() * 4 + 2) + family_cases().size() * 6);
}

// The models the CUDA backend is compared on (test::centered_term_cases, absorbed_slope_cases),
// here against finite differences on the CPU: every device comparison is then of a model that
// builds, holds what its test says, and whose CPU gradient is right, checked in every run
// rather than in the few minutes of a device session. At points within 0.6 rather than 1.2:
// at 1.2 the poisson model with (1 + x2 | g1) (178 rows a level, x2 about 1) has gradients of
// 1e3 to 1e6 whose central differences are rounding noise in the fourth digit (1231.08, a
// number of few significant bits, against the analytic 1229.87), everywhere else within 1e-6.
TEST(Gradient, ModelsOfTheDeviceComparisonsMatchFiniteDifferences) {
  constexpr double radius = 0.6;
  std::uint64_t seed = 1900;
  const table centered_data = test::centered_term_table();
  std::size_t n_centered_models = 0;
  for (const test::model_case& c : test::centered_term_cases()) {
    const auto m = test::make_model(centered_data, c.formula, c.fam, {}, c.centered);
    const std::string label = to_string(c.fam) + ", " + c.centered + ": " + c.formula;
    const auto& terms = m->terms();
    ASSERT_TRUE(std::any_of(terms.begin(), terms.end(), [](const auto& t) {
      return t.centered();
    })) << label;
    check_gradient(m, seed++, label, radius);
    if (HasFailure()) return;
    ++n_centered_models;
  }
  // Per family: the 10 term kinds with `all`; "g2" for the 3 on g2 alone; through the Intercept
  // the 5 on g1 and the 2 on g2 that have one.
  EXPECT_EQ(n_centered_models, family_cases().size() * (10 + 3 + 5 + 2));

  const table absorbed_data = test::absorbed_slope_table();
  std::size_t n_absorbing = 0, n_partly = 0, n_noncentered_slopes = 0, n_with_coefficients = 0;
  const auto cases = test::absorbed_slope_cases();
  for (const test::model_case& c : cases) {
    const auto m = test::make_model(absorbed_data, c.formula, c.fam, {}, c.centered);
    const std::string label = to_string(c.fam) + ", " + c.centered + ": " + c.formula;
    const term_parameters& g1 = m->terms()[0];
    ASSERT_EQ(g1.absorbs(), test::absorbs_on_g1(c)) << label;
    if (g1.absorbs()) {
      ++n_absorbing;
      n_partly += g1.n_centered < g1.k ? 1 : 0;
      n_with_coefficients += g1.absorbed_coefficients.empty() ? 0 : 1;
      for (const auto& slope : g1.absorbed) {
        // Slopes centered with their factor ("g1", "all"), else non-centered.
        const bool centered = m->terms()[slope.term].centered();
        ASSERT_EQ(centered, c.centered == "g1" || c.centered == "all") << label;
        n_noncentered_slopes += centered ? 0 : 1;
      }
    }
    check_gradient(m, seed++, label, radius);
    if (HasFailure()) return;
  }
  const std::size_t n_families = family_cases().size();
  // 4 parts × 3 g1 choices per family and 3 auto models; the g2 ones (parts 2-4) absorb nothing.
  EXPECT_EQ(cases.size(), n_families * (4 * 3 + 3) + 3);
  EXPECT_EQ(n_absorbing, n_families * 4 * 3 + 3);
  // (1 + x2 | g1) through its Intercept alone.
  EXPECT_EQ(n_partly, n_families);
  // Non-centered absorbed slopes, in g1:Intercept and auto alike: w1 (part 1), w1 and w2 (part
  // 2; x1 is not level-constant), w1 (part 3).
  EXPECT_EQ(n_noncentered_slopes, (n_families + 1) * 4);
  // Models that absorb coefficients: b_w1 where its slope is non-centered (part 2 in
  // g1:Intercept and auto), b_w2 and b_w2:w1 always (part 3), b_w1 and b_w2 in part 4.
  EXPECT_EQ(n_with_coefficients, n_families * (1 + 3 + 3) + 2);
}

TEST(Gradient, FixedEffectsOnlyModelsMatchFiniteDifferences) {
  const table data = test::random_table(30, 3, 3, 11);
  std::uint64_t seed = 5;
  for (const auto& fc : family_cases()) {
    for (const auto& fixed : fixed_parts) {
      const std::string formula = fc.response + " ~ " + fixed;
      check_gradient(test::make_model(data, formula, fc.fam), seed++, formula);
    }
  }
}

}  // namespace
}  // namespace hbglm
