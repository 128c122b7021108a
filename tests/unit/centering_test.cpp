// Which group-level terms take the centered form (`--centered`): the option's parsing, the
// automatic choice from the observations per level, and the errors. The centered density itself
// is checked by hand in tests/reference/log_density_test.cpp and against finite differences in
// gradient_test.cpp; its posterior by tests/statistical/sbc_test.cpp.

#include <gtest/gtest.h>

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
  EXPECT_EQ(to_string(listed), "state,dem,g1:g2");
  for (const char* text : {"auto", "none", "all", "state"}) {
    EXPECT_EQ(to_string(parse_centering(text)), text);
  }
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
/// a covariate x ~ normal(0, 1).
table rich_and_poor_table() {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  const std::size_t n = 1200;
  std::vector<double> y(n), x(n), big(n), small(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = normal(rng);
    big[i] = static_cast<double>(i % 4);
    small[i] = static_cast<double>(i / 2);
    y[i] = 0.5 * x[i] + 0.3 * big[i] + normal(rng);
  }
  table t;
  t.source = "rich_and_poor";
  t.columns = {test::numeric_column("y", y), test::numeric_column("x", x),
               test::numeric_column("big", big), test::numeric_column("small", small)};
  for (std::size_t i = 0; i < n; ++i) t.line_of_row.push_back(i + 2);
  return t;
}

const char* const rich_and_poor_formula = "y ~ x + (1 | big) + (1 | small) + (0 + x | big)";

TEST(Centering, AutomaticCentersTheTermsWhoseLevelsHaveManyRows) {
  const auto m = test::make_model(rich_and_poor_table(), rich_and_poor_formula,
                                  family::gaussian);
  ASSERT_EQ(m->terms().size(), 3u);
  // Intercepts: the rows per level; on big a little less, given the slope on x there (x's
  // level means are not exactly 0).
  EXPECT_NEAR(m->terms()[0].rows_per_level, 300.0, 5.0);
  EXPECT_LT(m->terms()[0].rows_per_level, 300.0);
  EXPECT_DOUBLE_EQ(m->terms()[1].rows_per_level, 2.0);
  // The slope: Σ x² over a level's rows over the mean of x², about 300 (x is standard normal).
  EXPECT_NEAR(m->terms()[2].rows_per_level, 300.0, 30.0);
  EXPECT_TRUE(m->terms()[0].centered);
  EXPECT_FALSE(m->terms()[1].centered);
  EXPECT_TRUE(m->terms()[2].centered);
  const auto names = m->unconstrained_names();
  EXPECT_EQ(names[m->terms()[0].z_q_index], "r_big[0,Intercept]");
  EXPECT_EQ(names[m->terms()[1].z_q_index], "z_small[0,Intercept]");
}

TEST(Centering, ACovariateConstantWithinLevelsIsConfoundedWithTheIntercept) {
  // c depends on the level of big only: (0 + c | big) and (1 | big) are identified only
  // together, so neither is data-rich although each level has 300 rows; the slope on x is.
  table t = rich_and_poor_table();
  std::vector<double> c(t.n_rows());
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = 1.0 + 0.5 * static_cast<double>(i % 4);
  t.columns.push_back(test::numeric_column("c", c));
  const auto m = test::make_model(t, "y ~ x + (1 | big) + (0 + c | big) + (0 + x | big)",
                                  family::gaussian);
  ASSERT_EQ(m->terms().size(), 3u);
  EXPECT_LT(m->terms()[0].rows_per_level, 1e-3);
  EXPECT_LT(m->terms()[1].rows_per_level, 1e-3);
  EXPECT_NEAR(m->terms()[2].rows_per_level, 300.0, 30.0);
  EXPECT_FALSE(m->terms()[0].centered);
  EXPECT_FALSE(m->terms()[1].centered);
  EXPECT_TRUE(m->terms()[2].centered);
  // In one correlated term the same: (1 + c | big) is not centered, (1 + x | big) is.
  const auto joint = test::make_model(t, "y ~ x + (1 + c | big)", family::gaussian);
  EXPECT_FALSE(joint->terms()[0].centered);
  const auto rich = test::make_model(t, "y ~ x + (1 + x | big)", family::gaussian);
  EXPECT_TRUE(rich->terms()[0].centered);
  EXPECT_NEAR(rich->terms()[0].rows_per_level, 300.0, 30.0);
}

TEST(Centering, NoneAllAndListedOverrideTheAutomaticChoice) {
  const table t = rich_and_poor_table();
  auto centered_flags = [&](const std::string& option) {
    const auto m = test::make_model(t, rich_and_poor_formula, family::gaussian, {}, option);
    std::vector<bool> flags;
    for (const auto& term : m->terms()) flags.push_back(term.centered);
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
