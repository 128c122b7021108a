// Warnings for models the data cannot identify (issue 5, numerical edge cases): constant and
// collinear predictor columns, and separation under a flat prior in the logit families.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hbglm/table.hpp"
#include "support/model_fixtures.hpp"

namespace hbglm {
namespace {

bool any_contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines) {
    if (l.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST(ModelWarnings, ConstantPredictorColumn) {
  const table t = read_csv_text("y,x,c\n1.2,1,5\n0.3,2,5\n2.2,3,5\n1.9,4,5\n", "c.csv");
  const auto m = test::make_model(t, "y ~ x + c", family::gaussian);
  ASSERT_EQ(m->warnings().size(), 1u);
  EXPECT_TRUE(any_contains(m->warnings(), "predictor column 'c' is constant"));
}

TEST(ModelWarnings, CollinearPredictors) {
  // z = 2x - 1 exactly.
  const table t =
      read_csv_text("y,x,z,w\n1.2,1,1,0.3\n0.3,2,3,-1\n2.2,3,5,2\n1.9,4,7,0.1\n0.5,5,9,4\n", "k.csv");
  const auto m = test::make_model(t, "y ~ x + z + w", family::gaussian);
  EXPECT_TRUE(any_contains(m->warnings(), "collinear predictors"));
  // Strongly correlated but not collinear: no warning.
  const table u = read_csv_text(
      "y,x,z\n1.2,1,1.001\n0.3,2,2\n2.2,3,3.002\n1.9,4,3.999\n0.5,5,5\n", "u.csv");
  EXPECT_TRUE(test::make_model(u, "y ~ x + z", family::gaussian)->warnings().empty());
}

TEST(ModelWarnings, CompleteSeparationWithFlatPrior) {
  // Every success has x > 2, every failure x <= 2.
  const table t = read_csv_text("y,x,g\n0,1,a\n0,2,b\n1,3,a\n1,4,b\n0,1.5,a\n1,3.5,b\n", "s.csv");
  const auto flat = test::make_model(t, "y ~ x", family::bernoulli);
  EXPECT_TRUE(any_contains(flat->warnings(), "'x' separates the outcomes"));
  // A proper prior makes the posterior proper: no warning.
  const auto proper = test::make_model(t, "y ~ x", family::bernoulli, {"b ~ normal(0, 2.5)"});
  EXPECT_TRUE(proper->warnings().empty());
  // The same data as gaussian: separation means nothing there.
  EXPECT_TRUE(test::make_model(t, "y ~ x", family::gaussian)->warnings().empty());
}

TEST(ModelWarnings, QuasiSeparationOfAFactorLevel) {
  // Level c has only successes: b_fc goes to +infinity under a flat prior.
  const table t =
      read_csv_text("y,f\n0,a\n1,a\n0,b\n1,b\n1,c\n1,c\n0,a\n1,b\n", "q.csv");
  const auto m = test::make_model(t, "y ~ f", family::bernoulli);
  EXPECT_TRUE(any_contains(m->warnings(), "'fc' separates the outcomes"));
  EXPECT_FALSE(any_contains(m->warnings(), "'fb' separates"));
}

TEST(ModelWarnings, OrdinaryModelsHaveNone) {
  const table data = test::random_table(200, 5, 4, 3);
  for (const auto& [fam, formula] :
       std::vector<std::pair<family, std::string>>{
           {family::gaussian, "y_gaussian ~ x1 + x2 + f + (1 | g1)"},
           {family::bernoulli, "y_bernoulli ~ x1 + x2 + f + (1 | g1)"},
           {family::binomial, "y_binomial | trials(n_trials) ~ x1 + f + (1 | g2)"},
           {family::poisson, "y_poisson ~ x1 * f + (1 | g1)"}}) {
    EXPECT_TRUE(test::make_model(data, formula, fam)->warnings().empty()) << formula;
  }
}

TEST(ModelWarnings, OneObservationPerLevel) {
  const table t = read_csv_text(
      "y,yb,n,x,id,g\n1.2,1,3,1,r1,a\n0.3,0,2,2,r2,a\n2.2,1,4,3,r3,b\n1.9,0,5,4,r4,b\n"
      "0.5,1,2,5,r5,c\n",
      "o.csv");
  // gaussian with sigma: sd_id and sigma are confounded.
  const auto gauss = test::make_model(t, "y ~ x + (1 | id)", family::gaussian);
  EXPECT_TRUE(any_contains(gauss->warnings(), "every level of 'id' has exactly one observation"));
  EXPECT_TRUE(any_contains(gauss->warnings(), "sd_id__Intercept and sigma are identified only"));
  EXPECT_TRUE(any_contains(test::make_model(t, "yb ~ x + (1 | id)", family::bernoulli)->warnings(),
                           "sd_id__Intercept is not identified by bernoulli data"));
  // Levels with more than one observation, known se, or an overdispersion term: no warning.
  EXPECT_TRUE(test::make_model(t, "y ~ x + (1 | g)", family::gaussian)->warnings().empty());
  EXPECT_TRUE(
      test::make_model(t, "y | se(n) ~ x + (1 | id)", family::gaussian)->warnings().empty());
  EXPECT_TRUE(test::make_model(t, "n ~ x + (1 | id)", family::poisson)->warnings().empty());
}

TEST(ModelWarnings, SlopeOnACovariateConstantWithinLevelsBesideAnIntercept) {
  // c takes one value per level of g (a level-level predictor); x varies within levels.
  const table t = read_csv_text(
      "y,g,c,x\n1.2,a,0.5,1\n0.3,a,0.5,2\n2.2,b,1.5,3\n1.9,b,1.5,1\n0.5,c,-1,2\n0.7,c,-1,5\n",
      "l.csv");
  const std::string expected = "'c' is constant within each level of 'g'";
  for (const char* formula : {"y ~ 1 + (1 | g) + (0 + c | g)", "y ~ 1 + (1 + c | g)",
                              "y ~ 1 + (1 + c || g)"}) {
    const auto m = test::make_model(t, formula, family::gaussian);
    EXPECT_TRUE(any_contains(m->warnings(), expected)) << formula;
    EXPECT_TRUE(any_contains(m->warnings(), "sd_g__c")) << formula;
  }
  // A slope on a covariate that varies within levels, or no varying intercept on the factor
  // (then the slope is a level effect scaled by c, nothing to confuse it with): no warning.
  EXPECT_TRUE(test::make_model(t, "y ~ 1 + (1 + x | g)", family::gaussian)->warnings().empty());
  EXPECT_TRUE(test::make_model(t, "y ~ 1 + (0 + c | g)", family::gaussian)->warnings().empty());
  // The intercept on another factor does not count.
  const table two = read_csv_text(
      "y,g,h,c\n1.2,a,p,0.5\n0.3,a,q,0.5\n2.2,b,p,1.5\n1.9,b,q,1.5\n0.5,c,p,-1\n0.7,c,q,-1\n",
      "h.csv");
  EXPECT_TRUE(
      test::make_model(two, "y ~ 1 + (1 | h) + (0 + c | g)", family::gaussian)->warnings().empty());
}

}  // namespace
}  // namespace hbglm
