// Which group-level terms take the centered form (`--centered`): the option's parsing, the
// automatic choice from the observations per level, and the errors. The centered density itself
// is checked by hand in tests/reference/log_density_test.cpp and against finite differences in
// gradient_test.cpp; its posterior by tests/statistical/sbc_test.cpp.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "hbglm/error.hpp"
#include "hbglm/model.hpp"
#include "support/model_fixtures.hpp"

namespace hbglm {
namespace {

TEST(Centering, ParsesTheFourForms) {
  EXPECT_EQ(parse_centering("auto").how, centering::mode::automatic);
  EXPECT_EQ(parse_centering("none").how, centering::mode::none);
  EXPECT_EQ(parse_centering("all").how, centering::mode::all);
  const centering listed = parse_centering("state, dem ,g1:g2");
  EXPECT_EQ(listed.how, centering::mode::listed);
  EXPECT_EQ(listed.groups, (std::vector<std::string>{"state", "dem", "g1:g2"}));
  EXPECT_EQ(parse_centering("state").groups, std::vector<std::string>{"state"});
}

TEST(Centering, RejectsAnEmptyName) {
  for (const char* text : {"", "state,", ",state", "state,,dem", " "}) {
    try {
      parse_centering(text);
      ADD_FAILURE() << "'" << text << "' was accepted";
    } catch (const option_error& e) {
      EXPECT_NE(std::string(e.what()).find("empty name"), std::string::npos) << e.what();
    }
  }
}

/// 1,200 rows: factor `big` with 4 levels of 300 rows, factor `small` with 600 levels of 2 rows,
/// a covariate x ~ normal(0, 1); big's levels have their own intercepts and slopes.
table rich_and_poor_table() {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  const std::size_t n = 1200;
  std::vector<double> y(n), x(n), big(n), small(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = normal(rng);
    big[i] = static_cast<double>(i % 4);
    small[i] = static_cast<double>(i / 2);
    // big's levels differ in intercept (0, 0.3, 0.6, 0.9) and in the slope on x (0.5 to 1.1):
    // both far more than 300 rows per level leave uncertain, so the automatic choice centers
    // both terms on big.
    y[i] = (0.5 + 0.2 * big[i]) * x[i] + 0.3 * big[i] + normal(rng);
  }
  return test::make_table("rich_and_poor",
                          {test::numeric_column("y", y), test::numeric_column("x", x),
                           test::numeric_column("big", big), test::numeric_column("small", small)});
}

const char* const rich_and_poor_formula = "y ~ x + (1 | big) + (1 | small) + (0 + x | big)";

/// The information each level of `big` has about its intercept and about the slope on x, each
/// given the other, in average rows, written out from the 2 × 2 Gram matrix of (1, x) over the
/// level's n_j rows: Schur complements n_j - (Σx)²/Σx² and (Σx² - (Σx)²/n_j) / mean(x²); the
/// median over the 4 levels (the mean of the middle two).
struct big_information {
  double intercept = 0.0, slope = 0.0;
};

big_information information_by_hand(const table& t) {
  const auto& x = t.find("x")->numbers;
  std::vector<double> n(4, 0.0), sx(4, 0.0), sxx(4, 0.0);
  double total_xx = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t j = i % 4;
    n[j] += 1.0;
    sx[j] += x[i];
    sxx[j] += x[i] * x[i];
    total_xx += x[i] * x[i];
  }
  const double mean_xx = total_xx / static_cast<double>(x.size());
  std::vector<double> intercept(4), slope(4);
  for (std::size_t j = 0; j < 4; ++j) {
    intercept[j] = n[j] - sx[j] * sx[j] / sxx[j];
    slope[j] = (sxx[j] - sx[j] * sx[j] / n[j]) / mean_xx;
  }
  auto median4 = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return 0.5 * (v[1] + v[2]);
  };
  return {median4(intercept), median4(slope)};
}

TEST(Centering, AutomaticCentersTheTermsWhoseLevelsHaveManyRows) {
  const auto m = test::make_model(rich_and_poor_table(), rich_and_poor_formula,
                                  family::gaussian);
  ASSERT_EQ(m->terms().size(), 3u);
  // small: 2 rows per level, exactly. big: each coefficient given the other (by hand); the
  // library adds a ridge of 1e-9 of the mean diagonal (about 300) to the Gram matrices, hence
  // the 1e-6 relative tolerance.
  const big_information expected = information_by_hand(rich_and_poor_table());
  EXPECT_NEAR(m->terms()[0].rows_per_level, expected.intercept, 1e-6 * expected.intercept);
  EXPECT_LT(expected.intercept, 300.0);  // x's level means are not exactly 0
  EXPECT_DOUBLE_EQ(m->terms()[1].rows_per_level, 2.0);
  EXPECT_NEAR(m->terms()[2].rows_per_level, expected.slope, 1e-6 * expected.slope);
  EXPECT_GT(expected.slope, centering::automatic_threshold);
  EXPECT_TRUE(m->terms()[0].centered());
  EXPECT_FALSE(m->terms()[1].centered());
  EXPECT_TRUE(m->terms()[2].centered());
  const auto names = m->unconstrained_names();
  EXPECT_EQ(names[m->terms()[0].z_q_index], "Intercept+r_big[0,Intercept]");
  EXPECT_EQ(names[m->terms()[1].z_q_index], "z_small[0,Intercept]");
}

TEST(Centering, ManyRowsPerLevelButLevelsThatHardlyDifferStayNonCentered) {
  // 8 levels of 300 rows. The automatic choice also asks how far apart the levels are against
  // how well their rows fix them (term_parameters::signal_to_noise); for an intercept alone, by
  // hand: (variance of the level means - mean of s²/n_j) / median of s²/n_j, with s² the pooled
  // within-level variance. Level effects of sd 0.02 against a noise of 1 (s²/n_j = 1/300):
  // about 0.1, the prior outweighs 300 rows, non-centered; of sd 0.5: about 75, centered.
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(0.0, 1.0);
  const std::size_t n = 2400, n_levels = 8;
  for (const double effect_sd : {0.02, 0.5}) {
    std::vector<double> y(n), g(n);
    for (std::size_t i = 0; i < n; ++i) {
      g[i] = static_cast<double>(i % n_levels);
      const double level_effect = effect_sd * (static_cast<double>(i % n_levels) - 3.5) / 2.449;
      y[i] = 1.0 + level_effect + normal(rng);
    }
    const table t =
        test::make_table("levels", {test::numeric_column("y", y), test::numeric_column("g", g)});

    std::vector<double> sum(n_levels, 0.0), sum_sq(n_levels, 0.0), count(n_levels, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      const auto j = static_cast<std::size_t>(g[i]);
      sum[j] += y[i];
      sum_sq[j] += y[i] * y[i];
      count[j] += 1.0;
    }
    double within = 0.0, mean_of_means = 0.0;
    for (std::size_t j = 0; j < n_levels; ++j) {
      within += sum_sq[j] - sum[j] * sum[j] / count[j];
      mean_of_means += sum[j] / count[j] / static_cast<double>(n_levels);
    }
    const double s2 = within / static_cast<double>(n - n_levels);
    double spread = 0.0;
    for (std::size_t j = 0; j < n_levels; ++j) {
      spread += std::pow(sum[j] / count[j] - mean_of_means, 2) / static_cast<double>(n_levels - 1);
    }
    const double noise = s2 / 300.0;  // every level has 300 rows
    const double expected = std::max(0.0, spread - noise) / noise;

    const auto m = test::make_model(t, "y ~ 1 + (1 | g)", family::gaussian);
    EXPECT_DOUBLE_EQ(m->terms()[0].rows_per_level, 300.0);
    EXPECT_NEAR(m->terms()[0].signal_to_noise, expected, 1e-6 * std::max(1.0, expected))
        << effect_sd;
    EXPECT_EQ(m->terms()[0].centered(), effect_sd > 0.1) << m->terms()[0].signal_to_noise;
    if (effect_sd < 0.1) {
      EXPECT_LT(expected, centering::automatic_signal_to_noise);
    } else {
      EXPECT_GT(expected, 10 * centering::automatic_signal_to_noise);
    }
  }
}

TEST(Centering, AFlatSlopeLeavesAClearInterceptCenteredInItsTerm) {
  // 10 levels of 150 rows whose intercepts differ (sd about 1) and whose slopes on x do not:
  // automatic centering takes (1 + x | g)'s intercept alone (n_centered 1), which keeps the
  // correlated prior, and centers the intercept term of the split form (1 | g) + (0 + x | g).
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  const std::size_t n = 1500;
  std::vector<double> y(n), x(n), g(n), level_intercept(10);
  for (double& a : level_intercept) a = normal(rng);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = normal(rng);
    g[i] = static_cast<double>(i % 10);
    y[i] = level_intercept[i % 10] + 0.5 * x[i] + normal(rng);
  }
  const table t = test::make_table("flat_slope", {test::numeric_column("y", y),
                                                  test::numeric_column("x", x),
                                                  test::numeric_column("g", g)});
  const auto joint = test::make_model(t, "y ~ x + (1 + x | g)", family::gaussian);
  const term_parameters& term = joint->terms()[0];
  ASSERT_EQ(term.coefficient_signal_to_noise.size(), 2u);
  EXPECT_GT(term.coefficient_signal_to_noise[0], centering::automatic_signal_to_noise);
  EXPECT_LT(term.coefficient_signal_to_noise[1], centering::automatic_signal_to_noise);
  EXPECT_EQ(term.n_centered, 1u);
  // Centered on the Intercept, not on b_x; the slope's entries stay z.
  EXPECT_EQ(term.mean_of, (std::vector<std::ptrdiff_t>{0}));
  const auto names = joint->unconstrained_names();
  EXPECT_EQ(names[term.z_q_index], "Intercept+r_g[0,Intercept]");
  EXPECT_EQ(names[term.z_q_index + 1], "z_g[0,x]");
  const auto split = test::make_model(t, "y ~ x + (1 | g) + (0 + x | g)", family::gaussian);
  EXPECT_TRUE(split->terms()[0].centered());
  EXPECT_FALSE(split->terms()[1].centered());
  // Listed: "g" centers the whole term, "g:Intercept" through the Intercept, "g:x" through x.
  const auto centered_count = [&](const std::string& option) {
    return test::make_model(t, "y ~ x + (1 + x | g)", family::gaussian, {}, option)
        ->terms()[0]
        .n_centered;
  };
  EXPECT_EQ(centered_count("g"), 2u);
  EXPECT_EQ(centered_count("g:Intercept"), 1u);
  EXPECT_EQ(centered_count("g:x"), 2u);
  EXPECT_EQ(centered_count("none"), 0u);
  EXPECT_EQ(centered_count("all"), 2u);
  // A listed coefficient the factor's terms lack is an error that names what they have.
  try {
    test::make_model(t, "y ~ x + (1 + x | g)", family::gaussian, {}, "g:w");
    FAIL() << "no error";
  } catch (const option_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'g:w'"), std::string::npos) << what;
    EXPECT_NE(what.find("Intercept, x"), std::string::npos) << what;
  }
}

TEST(Centering, InitialInverseMetricFollowsTheData) {
  // model::initial_inv_metric by hand on rich_and_poor_table (gaussian: φ = var(y)).
  const table t = rich_and_poor_table();
  const auto& y = t.find("y")->numbers;
  const auto& x = t.find("x")->numbers;
  const double n = static_cast<double>(y.size());
  double mean = 0.0, phi = 0.0;
  for (double v : y) mean += v / n;
  for (double v : y) phi += (v - mean) * (v - mean) / (n - 1.0);

  // Non-centered: coefficients φ/n, log sigma 1/(2n), log sds 1/(2J), z's 1.
  const auto none = test::make_model(t, rich_and_poor_formula, family::gaussian, {}, "none");
  const auto names = none->unconstrained_names();
  const auto v = none->initial_inv_metric();
  ASSERT_EQ(v.size(), none->dim());
  auto at = [&](const std::vector<double>& values, const std::vector<std::string>& labels,
                const std::string& name) {
    const auto it = std::find(labels.begin(), labels.end(), name);
    EXPECT_NE(it, labels.end()) << name;
    return it == labels.end() ? -1.0 : values[static_cast<std::size_t>(it - labels.begin())];
  };
  EXPECT_NEAR(at(v, names, "Intercept"), phi / n, 1e-12);
  EXPECT_NEAR(at(v, names, "b_x"), phi / n, 1e-12);
  EXPECT_NEAR(at(v, names, "log(sigma)"), 1.0 / (2.0 * n), 1e-15);
  EXPECT_NEAR(at(v, names, "log(sd_big__Intercept)"), 1.0 / 8.0, 1e-15);
  EXPECT_NEAR(at(v, names, "log(sd_small__Intercept)"), 1.0 / 1200.0, 1e-15);
  EXPECT_EQ(at(v, names, "z_big[2,Intercept]"), 1.0);
  EXPECT_EQ(at(v, names, "z_small[7,Intercept]"), 1.0);

  // big centered (auto): its levels φ/Σx² over their rows (300 rows: φ/300 for the intercept);
  // the Intercept (at x = 0, as b_x is a mean too) is their mean: (1 + spread over noise) φ /
  // (rows per level · J).
  const auto centered = test::make_model(t, rich_and_poor_formula, family::gaussian);
  ASSERT_TRUE(centered->terms()[0].centered());
  ASSERT_TRUE(centered->terms()[2].centered());
  const auto c_names = centered->unconstrained_names();
  const auto c = centered->initial_inv_metric();
  EXPECT_NEAR(at(c, c_names, "Intercept+r_big[1,Intercept]"), phi / 300.0, 1e-12);
  double xx_level3 = 0.0;
  for (std::size_t i = 3; i < x.size(); i += 4) xx_level3 += x[i] * x[i];
  EXPECT_NEAR(at(c, c_names, "b_x+r_big[3,x]"), phi / xx_level3, 1e-12);
  const term_parameters& big = centered->terms()[0];
  EXPECT_NEAR(at(c, c_names, "Intercept(x at 0)"),
              (1.0 + big.signal_to_noise) * phi / (big.rows_per_level * 4.0), 1e-12);
  EXPECT_EQ(c.size(), centered->dim());
}

TEST(Centering, ACovariateConstantWithinLevelsIsAbsorbedByACenteredIntercept) {
  // c depends on the level of big only: (0 + c | big) and (1 | big) are identified only
  // together. The intercept, alone in its term, absorbs the slope (q holds the level's whole
  // effect, term_parameters::absorbed), so its information is judged without c: x given 1, as
  // in the model without c, and it is centered; the slope's own is about 0, so it is not.
  table t = rich_and_poor_table();
  std::vector<double> c(t.n_rows());
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = 1.0 + 0.5 * static_cast<double>(i % 4);
  t.columns.push_back(test::numeric_column("c", c));
  const auto m = test::make_model(t, "y ~ x + (1 | big) + (0 + c | big) + (0 + x | big)",
                                  family::gaussian);
  ASSERT_EQ(m->terms().size(), 3u);
  const big_information expected = information_by_hand(t);
  EXPECT_NEAR(m->terms()[0].rows_per_level, expected.intercept, 1e-6 * expected.intercept);
  EXPECT_EQ(m->terms()[1].rows_per_level, 0.0);
  EXPECT_NEAR(m->terms()[2].rows_per_level, expected.slope, 1e-6 * expected.slope);
  EXPECT_TRUE(m->terms()[0].centered());
  EXPECT_FALSE(m->terms()[1].centered());
  EXPECT_TRUE(m->terms()[2].centered());
  ASSERT_EQ(m->terms()[0].absorbed.size(), 1u);
  EXPECT_EQ(m->terms()[0].absorbed[0].term, 1u);
  EXPECT_EQ(m->terms()[0].absorbed[0].level_values, (std::vector<double>{1.0, 1.5, 2.0, 2.5}));
  EXPECT_EQ(m->terms()[1].absorbed_into, 0);
  EXPECT_EQ(m->terms()[2].absorbed_into, -1);  // x varies within levels
  EXPECT_EQ(m->unconstrained_names()[m->terms()[0].z_q_index + 2],
            "Intercept+r_big[2,Intercept]+c*r_big[2,c]");
  // Non-centered (--centered none) nothing is absorbed, and a term with both coefficients
  // (1 + c | big) absorbs nothing either: it stays confounded and non-centered.
  const auto none = test::make_model(t, "y ~ x + (1 | big) + (0 + c | big)", family::gaussian,
                                     {}, "none");
  EXPECT_TRUE(none->terms()[0].absorbed.empty());
  EXPECT_EQ(none->terms()[1].absorbed_into, -1);
  const auto joint = test::make_model(t, "y ~ x + (1 + c | big)", family::gaussian);
  EXPECT_FALSE(joint->terms()[0].centered());
  EXPECT_LT(joint->terms()[0].rows_per_level, 1e-3);
  EXPECT_TRUE(joint->terms()[0].absorbed.empty());
  const auto rich = test::make_model(t, "y ~ x + (1 + x | big)", family::gaussian);
  EXPECT_TRUE(rich->terms()[0].centered());
  EXPECT_NEAR(rich->terms()[0].rows_per_level, std::min(expected.intercept, expected.slope),
              1e-6 * expected.intercept);
}

TEST(Centering, CenteredTermsAreCenteredOnThePopulationCoefficientOfTheSameName) {
  const table t = rich_and_poor_table();
  using means = std::vector<std::ptrdiff_t>;
  // auto: (1 | big) and (0 + x | big) centered, on the Intercept (column 0) and on b_x (1).
  const auto m = test::make_model(t, rich_and_poor_formula, family::gaussian);
  EXPECT_EQ(m->terms()[0].mean_of, means{0});
  EXPECT_EQ(m->terms()[1].mean_of, means{});  // non-centered
  EXPECT_EQ(m->terms()[2].mean_of, means{1});
  // q's Intercept is then the intercept at x = 0 (x's mean is not exactly 0).
  EXPECT_EQ(m->unconstrained_names()[0], "Intercept(x at 0)");
  EXPECT_EQ(m->unconstrained_names()[m->terms()[2].z_q_index], "b_x+r_big[0,x]");
  // all: the Intercept goes to one term only, the one with fewer levels (big's 4, not 600).
  const auto all = test::make_model(t, rich_and_poor_formula, family::gaussian, {}, "all");
  EXPECT_EQ(all->terms()[0].mean_of, means{0});
  EXPECT_EQ(all->terms()[1].mean_of, means{-1});
  // Only small centered: big's 4 levels still decide the Intercept, so small is not centered on
  // it (its 600 levels would all have to move with it).
  const auto small = test::make_model(t, rich_and_poor_formula, family::gaussian, {}, "small");
  EXPECT_EQ(small->terms()[1].mean_of, means{-1});
  EXPECT_EQ(small->unconstrained_names()[small->terms()[1].z_q_index], "r_small[0,Intercept]");
  // A constant b is no parameter to center on; a bounded Intercept keeps x's mean in it.
  const auto fixed_b = test::make_model(t, rich_and_poor_formula, family::gaussian,
                                        {"b[x] ~ constant(0.5)"});
  EXPECT_EQ(fixed_b->terms()[2].mean_of, means{-1});
  EXPECT_EQ(fixed_b->unconstrained_names()[0], "Intercept");
  const auto bounded = test::make_model(t, rich_and_poor_formula, family::gaussian,
                                        {"Intercept ~ uniform(-5, 5)"});
  EXPECT_EQ(bounded->terms()[0].mean_of, means{-1});
  EXPECT_EQ(bounded->terms()[2].mean_of, means{-1});
  // Without a population-level x, the slope has nothing to be centered on.
  const auto no_x = test::make_model(t, "y ~ 1 + (0 + x | big)", family::gaussian);
  ASSERT_TRUE(no_x->terms()[0].centered());
  EXPECT_EQ(no_x->terms()[0].mean_of, means{-1});
}

TEST(Centering, NoneAllAndListedOverrideTheAutomaticChoice) {
  const table t = rich_and_poor_table();
  auto centered_flags = [&](const std::string& option) {
    const auto m = test::make_model(t, rich_and_poor_formula, family::gaussian, {}, option);
    std::vector<bool> flags;
    for (const auto& term : m->terms()) flags.push_back(term.centered());
    return flags;
  };
  EXPECT_EQ(centered_flags("none"), (std::vector<bool>{false, false, false}));
  EXPECT_EQ(centered_flags("all"), (std::vector<bool>{true, true, true}));
  EXPECT_EQ(centered_flags("small"), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(centered_flags("small,big"), (std::vector<bool>{true, true, true}));
}

TEST(Centering, AGroupTheFormulaDoesNotHaveIsAnError) {
  try {
    test::make_model(rich_and_poor_table(), rich_and_poor_formula, family::gaussian, {},
                     "big,state");
    FAIL() << "no error";
  } catch (const option_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'state'"), std::string::npos) << what;
    EXPECT_NE(what.find("big"), std::string::npos) << what;
    EXPECT_NE(what.find("small"), std::string::npos) << what;
  }
}

TEST(Centering, TheSameModelCenteredHasTheSameLayoutOfQ) {
  // Only the meaning of the group entries changes: positions and sizes stay.
  const table t = rich_and_poor_table();
  const auto a = test::make_model(t, rich_and_poor_formula, family::gaussian, {}, "none");
  const auto b = test::make_model(t, rich_and_poor_formula, family::gaussian, {}, "all");
  EXPECT_EQ(a->dim(), b->dim());
  EXPECT_EQ(a->n_globals(), b->n_globals());
  for (std::size_t i = 0; i < a->terms().size(); ++i) {
    EXPECT_EQ(a->terms()[i].z_q_index, b->terms()[i].z_q_index);
  }
  EXPECT_EQ(a->output_names(), b->output_names());
}

}  // namespace
}  // namespace hbglm
