/** @file Tests of parse_formula: a table of valid formulas, each compared with a canonical
 *  R-like rendering of what was parsed, and a table of invalid ones, each compared with the
 *  full error message including the caret line. */

#include "hbglm/formula.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "hbglm/error.hpp"

namespace {

using hbglm::formula;
using hbglm::formula_error;
using hbglm::formula_rhs;
using hbglm::parse_formula;

/** "1 + x + a:b", "0 + x" or "Intercept + x": the intercept, then the term labels in order. */
std::string render_rhs(const formula_rhs& rhs, bool intercept_as_coef) {
  std::string out = intercept_as_coef ? "Intercept" : (rhs.intercept ? "1" : "0");
  for (const hbglm::formula_term& t : rhs.terms) out += " + " + t.label();
  return out;
}

/** Renders every field of a parsed formula as one canonical, R-like line, so that a table row
 *  states the whole expected result: response part, fixed part, offsets, random terms. */
std::string render(const formula& f) {
  std::string out =
      f.failures.empty() ? f.response : "cbind(" + f.response + ", " + f.failures + ")";
  if (!f.trials.empty()) out += " | trials(" + f.trials + ")";
  if (!f.se.empty()) out += " | se(" + f.se + ")";
  out += " ~ " + render_rhs(f.fixed, f.intercept_as_coef);
  for (const std::string& o : f.offsets) out += " + offset(" + o + ")";
  for (const hbglm::random_term& r : f.random) {
    out +=
        " + (" + render_rhs(r.lhs, false) + (r.correlated ? " | " : " || ") + r.group_label() + ")";
  }
  return out;
}

struct valid_case {
  const char* text;
  const char* expected;  // render() of the parsed formula
};

// clang-format off
const valid_case valid_cases[] = {
    // Intercept handling.
    {"y ~ x",                         "y ~ 1 + x"},
    {"y ~ 1",                         "y ~ 1"},
    {"y ~ 0",                         "y ~ 0"},
    {"y ~ 0 + x",                     "y ~ 0 + x"},
    {"y ~ x - 1",                     "y ~ 0 + x"},
    {"y ~ x + 0",                     "y ~ 0 + x"},
    {"y ~ -1 + x",                    "y ~ 0 + x"},
    {"y ~ 1 + x - 1",                 "y ~ 0 + x"},
    {"y ~ 0 + 1 + x",                 "y ~ 1 + x"},
    {"y ~ x - 1 - 0",                 "y ~ 1 + x"},
    {"y ~ 1 + x - x",                 "y ~ 1"},
    // brms's intercept as an ordinary coefficient.
    {"y ~ 0 + Intercept",             "y ~ Intercept"},
    {"y ~ 0 + Intercept + x1 + x2 + x1:x2 + (1 | plate)",
     "y ~ Intercept + x1 + x2 + x1:x2 + (1 | plate)"},
    {"y ~ Intercept + x - 1",         "y ~ Intercept + x"},
    // Expansion and ordering as R's terms().
    {"kid_score ~ 1 + mom_hs * mom_iq", "kid_score ~ 1 + mom_hs + mom_iq + mom_hs:mom_iq"},
    {"y ~ a:b + c",                   "y ~ 1 + c + a:b"},
    {"y ~ a:b:c + a",                 "y ~ 1 + a + a:b:c"},
    {"y ~ a*b*c",                     "y ~ 1 + a + b + c + a:b + a:c + b:c + a:b:c"},
    {"y ~ (a + b + c)^2",             "y ~ 1 + a + b + c + a:b + a:c + b:c"},
    {"y ~ (a + b)^5",                 "y ~ 1 + a + b + a:b"},
    {"y ~ a/b",                       "y ~ 1 + a + a:b"},
    {"y ~ (a + b)/c",                 "y ~ 1 + a + b + a:b:c"},
    {"y ~ (a + b):c",                 "y ~ 1 + a:c + b:c"},
    {"y ~ a*b - a",                   "y ~ 1 + b + a:b"},
    {"y ~ a*b - b:a",                 "y ~ 1 + a + b"},
    // R's variable order (first appearance) orders the variables inside a term.
    {"y ~ h + f:h",                   "y ~ 1 + h + h:f"},
    {"y ~ x + f:x",                   "y ~ 1 + x + x:f"},
    {"y ~ b:a + a",                   "y ~ 1 + a + b:a"},
    // ... and the fixed part ignores variables inside random terms (lme4's nobars) ...
    {"y ~ (x | g) + z + x:z",         "y ~ 1 + z + z:x + (1 + x | g)"},
    // ... while a random term's left side has its own order.
    {"y ~ b + (a + b:a | g)",         "y ~ 1 + b + (1 + a + a:b | g)"},
    {"y ~ x + x",                     "y ~ 1 + x"},
    {"y ~ a:b + b:a",                 "y ~ 1 + a:b"},
    {"y ~ b:a + a",                   "y ~ 1 + a + b:a"},
    {"y ~ x:x",                       "y ~ 1 + x"},
    {"y ~ factor(x) + z",             "y ~ 1 + factor(x) + z"},
    {"y ~ factor(x) * z",             "y ~ 1 + factor(x) + z + factor(x):z"},
    {"y ~ x + factor(x)",             "y ~ 1 + x + factor(x)"},
    {"y ~ .x + x_1 + x.2 + _u",       "y ~ 1 + .x + x_1 + x.2 + _u"},
    // Offsets.
    {"y ~ offset(log_n) + x",         "y ~ 1 + x + offset(log_n)"},
    {"y ~ x + offset(a) + offset(b) + offset(a)", "y ~ 1 + x + offset(a) + offset(b)"},
    // Random terms.
    {"y ~ x + (1 + x | g)",           "y ~ 1 + x + (1 + x | g)"},
    {"y ~ x + (x | g)",               "y ~ 1 + x + (1 + x | g)"},
    {"y ~ 1 + (1 | g1/g2)",           "y ~ 1 + (1 | g1) + (1 | g1:g2)"},
    {"y ~ x + (1 + x || g)",          "y ~ 1 + x + (1 + x || g)"},
    {"y ~ (0 + x | g)",               "y ~ 1 + (0 + x | g)"},
    {"y ~ (-1 + x | g)",              "y ~ 1 + (0 + x | g)"},
    {"y ~ (x - 1 | g)",               "y ~ 1 + (0 + x | g)"},
    {"y ~ x + (1 | g1:g2)",           "y ~ 1 + x + (1 | g1:g2)"},
    {"y ~ (1 | g) + (0 + x | g)",     "y ~ 1 + (1 | g) + (0 + x | g)"},
    {"y ~ (1 | g1/g2/g3)",            "y ~ 1 + (1 | g1) + (1 | g1:g2) + (1 | g1:g2:g3)"},
    {"y ~ (1 + x || g1/g2)",          "y ~ 1 + (1 + x || g1) + (1 + x || g1:g2)"},
    {"y ~ (1 | a:b/c)",               "y ~ 1 + (1 | a:b) + (1 | a:b:c)"},
    {"y ~ (1 + x*z | g)",             "y ~ 1 + (1 + x + z + x:z | g)"},
    {"y ~ (1 | g1) + x + (1 | g2)",   "y ~ 1 + x + (1 | g1) + (1 | g2)"},
    {"y ~ 0 + (1 | g)",               "y ~ 0 + (1 | g)"},
    {"y ~ x + ((1 | g))",             "y ~ 1 + x + (1 | g)"},
    {"y ~ a*b + (1 | g) - a:b",       "y ~ 1 + a + b + (1 | g)"},
    {"y ~ x + offset(o) + (1 + x | g)", "y ~ 1 + x + offset(o) + (1 + x | g)"},
    // Response forms.
    {"n_germ | trials(n_seeds) ~ 0 + Intercept + seed * extract + (1 | plate)",
     "n_germ | trials(n_seeds) ~ Intercept + seed + extract + seed:extract + (1 | plate)"},
    {"s | trials(n) ~ x",             "s | trials(n) ~ 1 + x"},
    {"y | se(sigma) ~ 1 + (1 | school)", "y | se(sigma) ~ 1 + (1 | school)"},
    {"y | se(s, sigma = FALSE) ~ x",  "y | se(s) ~ 1 + x"},
    {"y | se(s, F) ~ x",              "y | se(s) ~ 1 + x"},
    {"cbind(incidence, failures) ~ period + (1 | herd)",
     "cbind(incidence, failures) ~ 1 + period + (1 | herd)"},
    // Whitespace and backquoted names.
    {"  y~x+( 1|g )  ",               "y ~ 1 + x + (1 | g)"},
    {"y\n  ~ x +\t(1 | g)\r\n",       "y ~ 1 + x + (1 | g)"},
    {"`my y` ~ `a b` + `Intercept` + (1 | `grp 1`)",
     "my y ~ 1 + a b + Intercept + (1 | grp 1)"},
};
// clang-format on

// Readable parameter names in failure messages instead of byte dumps.
void PrintTo(const valid_case& c, std::ostream* os) { *os << '"' << c.text << '"'; }

class formula_valid_test : public ::testing::TestWithParam<valid_case> {};

TEST_P(formula_valid_test, parses_to_expected_terms) {
  const valid_case& c = GetParam();
  formula f;
  try {
    f = parse_formula(c.text);
  } catch (const formula_error& e) {
    FAIL() << "unexpected error for \"" << c.text << "\":\n" << e.what();
  }
  EXPECT_EQ(render(f), c.expected) << "formula: " << c.text;
  EXPECT_EQ(f.text, c.text);
  // brms's Intercept is still an intercept, only not centered.
  if (f.intercept_as_coef) {
    EXPECT_TRUE(f.fixed.intercept);
  }
}

INSTANTIATE_TEST_SUITE_P(table, formula_valid_test, ::testing::ValuesIn(valid_cases));

struct invalid_case {
  const char* text;
  const char* caret;    // the caret line, written under `text` so that it lines up in the source
  const char* problem;  // the first line of the message
};

// clang-format off
const invalid_case invalid_cases[] = {
    {"",
     "^",                         "empty formula"},
    {"   ",
     "^",                         "empty formula"},
    {"y x",
     "   ^",                      "the formula has no '~' (write response ~ terms)"},
    {"y ~ x ~ z",
     "      ^",                   "the formula has more than one '~'"},
    {"~ x",
     "^",                         "the formula has no response (nothing before '~')"},
    {"y ~  ",
     "  ^",                       "the formula has nothing after '~' (write 1 for an intercept-only model)"},
    {"y ~ x +",
     "      ^",                   "'+' needs a term after it"},
    {"y ~ a *",
     "      ^",                   "'*' needs a term after it"},
    {"y ~ (x + (1 | g)",
     "    ^",                     "unbalanced parenthesis: this '(' is never closed"},
    {"y ~ x + z)",
     "         ^",                "unbalanced parenthesis: this ')' has no matching '('"},
    {"y ~ x $ z",
     "      ^",                   "unexpected character '$'"},
    {"y ~ x z",
     "      ^",                   "unexpected 'z'; is an operator such as '+' missing?"},
    {"y ~ log(x)",
     "    ^",                     "unknown function 'log'"},
    {"y ~ poly(x, 2)",
     "    ^",                     "unknown function 'poly'"},
    {"y ~ x + I(x^2)",
     "        ^",                 "unknown function 'I'"},
    {"y ~ offset(log(n))",
     "           ^",              "unknown function 'log'"},
    {"log(y) ~ x",
     "^",                         "unknown function 'log'"},
    {"y ~ 2 + x",
     "    ^",                     "a number other than 0 or 1 (which set the intercept) cannot be a term"},
    {"y ~ x^2",
     "     ^",                    "'^' crosses terms in a formula, so 'x^2' would be just 'x'; put a squared column in the data instead"},
    {"y ~ (a + b)^0",
     "            ^",            "'^' needs a positive whole number after it"},
    {"y ~ x + ()",
     "        ^",                 "empty parentheses"},
    {"y ~ .",
     "    ^",                     "'.' (all other columns) is not supported; name the columns"},
    {"y ~ `a",
     "    ^",                     "unterminated backquoted name"},
    {"y ~ 2x",
     "    ^",                     "a name cannot start with a digit"},
    // Random terms.
    {"y ~ x + (1 | )",
     "             ^",            "a random term needs a grouping factor after '|'"},
    {"y ~ x + (1 + x)",
     "              ^",           "a random term needs a grouping factor after '|'"},
    {"y ~ x + (1 + x g)",
     "               ^",          "unexpected 'g'; expected an operator, '|' or ')'"},
    {"y ~ ( | g)",
     "      ^",                   "a random term needs coefficients before '|', e.g. (1 | g)"},
    {"y ~ (0 | g)",
     "     ^",                    "a random term needs at least one coefficient before '|'"},
    {"y ~ (1 + x - 1 - x || g)",
     "             ^",             "a random term needs at least one coefficient before '||'"},
    {"y ~ x | g",
     "      ^",                   "'|' can only appear inside a parenthesised random term such as (1 | g)"},
    {"y ~ ((1 | g) | h)",
     "     ^",                    "random terms cannot be nested"},
    {"y ~ a:(1 | g)",
     "     ^",                    "a random term cannot be combined with ':'"},
    {"y ~ (1 | g) * x",
     "            ^",             "a random term cannot be combined with '*'"},
    {"y ~ x - (1 | g)",
     "      ^",                   "a random term cannot be removed with '-'"},
    {"y ~ (1 | g1/)",
     "           ^",              "'/' needs a column name after it"},
    {"y ~ (1 | g + h)",
     "           ^",              "unexpected '+' in the grouping factor; expected ':', '/' or ')'"},
    {"y ~ (1 | g/g)",
     "           ^",              "'g' appears twice in the grouping factor"},
    {"y ~ (1 + offset(o) | g)",
     "         ^",                "offset() belongs in the population-level part, not in a random term"},
    {"y ~ (0 + Intercept | g)",
     "         ^",                "'Intercept' is only for the population-level part; write 1 in a random term"},
    {"y ~ Intercept + x",
     "    ^",                     "'Intercept' needs '0 +' before it: write 0 + Intercept + ..."},
    {"y ~ offset(z):x",
     "    ^",                     "offset() cannot be part of an interaction"},
    {"y ~ 1:x",
     "    ^",                     "'1' (the intercept) cannot be part of an interaction"},
    {"y ~ x:(z + 0)",
     "            ^",             "a random term needs a grouping factor after '|'"},
    {"y ~ factor()",
     "           ^",              "factor() needs a column name"},
    {"y ~ factor(a, b)",
     "            ^",             "factor() takes a single column name"},
    // Response forms.
    {"y + z ~ x",
     "  ^",                       "the response must be a single column (for binomial data write s | trials(n))"},
    {"n | trials() ~ x",
     "           ^",              "trials() needs a column name"},
    {"n | trials(10) ~ x",
     "           ^",              "trials() needs a column name"},
    {"y | trials(n) + trials(m) ~ x",
     "                ^",         "duplicated response spec 'trials()'"},
    {"cbind(s, f) | trials(n) ~ x",
     "              ^",           "duplicated response spec: cbind(s, f) already gives the number of trials"},
    {"y | trials(n) + se(s) ~ x",
     "                ^",         "se() cannot be combined with binomial trials"},
    {"y | weights(w) ~ x",
     "    ^",                     "unsupported response addition 'weights()'; use trials() or se()"},
    {"y | ~ x",
     "  ^",                       "'|' needs trials(n) or se(s) after it"},
    {"y | se(s, sigma = TRUE) ~ x",
     "                  ^",       "se(..., sigma = TRUE) is not supported yet"},
    {"y | se(s, sigma = 2) ~ x",
     "                  ^",       "sigma in se() must be TRUE or FALSE"},
    {"y | se(s, mu = FALSE) ~ x",
     "          ^",               "unknown argument 'mu' of se()"},
    {"cbind(incidence, size - incidence) ~ period + (1 | herd)",
     "                      ^",   "cbind() takes two column names, not the expression 'size - incidence'; write 'incidence | trials(size)' instead, with the number of trials in a column"},
    {"cbind(s, log(f)) ~ x",
     "         ^",                "cbind() takes two column names, not the expression 'log(f)'; write 's | trials(n)' instead, with the number of trials in a column"},
    {"cbind(s) ~ x",
     "       ^",                  "cbind() needs two columns: cbind(successes, failures)"},
    {"cbind(s, f, g) ~ x",
     "          ^",               "cbind() takes exactly two columns: cbind(successes, failures)"},
};
// clang-format on

void PrintTo(const invalid_case& c, std::ostream* os) { *os << '"' << c.text << '"'; }

class formula_invalid_test : public ::testing::TestWithParam<invalid_case> {};

TEST_P(formula_invalid_test, reports_problem_and_caret) {
  const invalid_case& c = GetParam();
  try {
    parse_formula(c.text);
    FAIL() << "no error for \"" << c.text << "\"";
  } catch (const formula_error& e) {
    EXPECT_EQ(std::string(e.what()), std::string(c.problem) + "\n" + c.text + "\n" + c.caret);
  }
}

INSTANTIATE_TEST_SUITE_P(table, formula_invalid_test, ::testing::ValuesIn(invalid_cases));

// ---- fields the rendering does not show directly -------------------------------------------

TEST(formula, random_terms_carry_group_factors_and_flags) {
  const formula f = parse_formula("y ~ x + (1 + x || g1:g2/g3)");
  ASSERT_EQ(f.random.size(), 2U);
  EXPECT_EQ(f.random[0].group_factors, (std::vector<std::string>{"g1", "g2"}));
  EXPECT_EQ(f.random[1].group_factors, (std::vector<std::string>{"g1", "g2", "g3"}));
  for (const hbglm::random_term& r : f.random) {
    EXPECT_FALSE(r.correlated);
    EXPECT_TRUE(r.lhs.intercept);
    ASSERT_EQ(r.lhs.terms.size(), 1U);
    EXPECT_EQ(r.lhs.terms[0].variables[0].name, "x");
  }
  EXPECT_EQ(f.random[1].group_label(), "g1:g2:g3");
}

TEST(formula, factor_variables_are_flagged) {
  const formula f = parse_formula("y ~ factor(cyl):wt");
  ASSERT_EQ(f.fixed.terms.size(), 1U);
  const std::vector<hbglm::formula_variable>& v = f.fixed.terms[0].variables;
  ASSERT_EQ(v.size(), 2U);
  EXPECT_EQ(v[0].name, "cyl");
  EXPECT_TRUE(v[0].as_factor);
  EXPECT_EQ(v[1].name, "wt");
  EXPECT_FALSE(v[1].as_factor);
  EXPECT_EQ(f.fixed.terms[0].label(), "factor(cyl):wt");
}

TEST(formula, intercept_as_coef_keeps_intercept_flag) {
  const formula f = parse_formula("y ~ 0 + Intercept + x");
  EXPECT_TRUE(f.intercept_as_coef);
  EXPECT_TRUE(f.fixed.intercept);
  ASSERT_EQ(f.fixed.terms.size(), 1U);
  EXPECT_EQ(f.fixed.terms[0].label(), "x");  // Intercept is not a variable
}

TEST(formula, plain_response_has_no_extras) {
  const formula f = parse_formula("y ~ x");
  EXPECT_EQ(f.response, "y");
  EXPECT_TRUE(f.trials.empty());
  EXPECT_TRUE(f.failures.empty());
  EXPECT_TRUE(f.se.empty());
  EXPECT_TRUE(f.offsets.empty());
  EXPECT_TRUE(f.random.empty());
  EXPECT_FALSE(f.intercept_as_coef);
}

TEST(formula, cbind_sets_response_and_failures) {
  const formula f = parse_formula("cbind(s, `n fail`) ~ 1");
  EXPECT_EQ(f.response, "s");
  EXPECT_EQ(f.failures, "n fail");
  EXPECT_TRUE(f.trials.empty());
}

TEST(formula, error_is_an_hbglm_error) { EXPECT_THROW(parse_formula("y ~ log(x)"), hbglm::error); }

// The caret counts characters, not bytes, and the formula is shown on one line.
TEST(formula, caret_lines_up_after_utf8_and_line_breaks) {
  try {
    parse_formula("`\xC3\xA9t\xC3\xA9` ~ x $");
    FAIL();
  } catch (const formula_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "unexpected character '$'\n`\xC3\xA9t\xC3\xA9` ~ x $\n          ^");
  }
  try {
    parse_formula("y ~ x +\n\tz $");
    FAIL();
  } catch (const formula_error& e) {
    EXPECT_EQ(std::string(e.what()), "unexpected character '$'\ny ~ x +  z $\n           ^");
  }
  try {
    parse_formula("y ~ \xC3\xA9");
    FAIL();
  } catch (const formula_error& e) {
    EXPECT_EQ(std::string(e.what()), "unexpected character '\xC3\xA9'\ny ~ \xC3\xA9\n    ^");
  }
}

TEST(formula_term, label_joins_variables) {
  hbglm::formula_term t;
  EXPECT_EQ(t.label(), "");
  t.variables = {{"a", false}, {"b", true}, {"c", false}};
  EXPECT_EQ(t.label(), "a:factor(b):c");
}

TEST(random_term, group_label_joins_factors) {
  hbglm::random_term r;
  r.group_factors = {"school"};
  EXPECT_EQ(r.group_label(), "school");
  r.group_factors = {"school", "class"};
  EXPECT_EQ(r.group_label(), "school:class");
}

}  // namespace

// Inputs the fuzzer found (fuzz/crashes/formula): expansions that grow as 2^k and deep nesting
// are refused at once with a clear message, not after minutes or with a stack overflow.
TEST(formula_limits, exponential_expansions_are_refused_quickly) {
  for (const std::string text :
       {"y ~ (a+b+c+d+e+f+g+h+i+j+k+l)^12", "y ~ a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t"}) {
    try {
      hbglm::parse_formula(text);
      FAIL() << "no formula_error for " << text;
    } catch (const hbglm::formula_error& e) {
      EXPECT_NE(std::string(e.what()).find("expands to more than 1024 terms"), std::string::npos)
          << e.what();
    }
  }
  // Ten-way crossing (1023 terms) is still allowed.
  EXPECT_EQ(hbglm::parse_formula("y ~ a*b*c*d*e*f*g*h*i*j").fixed.terms.size(), 1023u);
}

TEST(formula_limits, deep_nesting_is_refused) {
  const std::string deep = "y ~ " + std::string(3000, '(') + "x" + std::string(3000, ')');
  try {
    hbglm::parse_formula(deep);
    FAIL() << "no formula_error";
  } catch (const hbglm::formula_error& e) {
    EXPECT_NE(std::string(e.what()).find("nested more than 64 deep"), std::string::npos);
  }
  const std::string ok = "y ~ " + std::string(60, '(') + "x" + std::string(60, ')');
  EXPECT_EQ(hbglm::parse_formula(ok).fixed.terms.size(), 1u);
}
