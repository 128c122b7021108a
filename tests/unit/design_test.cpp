/** @file Tests of the design builder (host/design/design.cpp): X against R's model.matrix and the
 *  group-level design against lme4::lFormula (reference values made by
 *  tests/data/design/make_expected.R; R is not needed to run these tests), missing values, every
 *  bad-data message, and a large design that must stay sparse. */

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "hbglm/design.hpp"
#include "hbglm/error.hpp"
#include "hbglm/formula.hpp"
#include "hbglm/table.hpp"
#include "support/model_fixtures.hpp"

#ifndef HBGLM_TEST_DATA_DIR
#define HBGLM_TEST_DATA_DIR "tests/data"
#endif

namespace hbglm {
namespace {

// X against model.matrix. The data are read from the same decimal strings by R and C++, so the
// uncentered columns agree exactly; centering subtracts a mean and we add it back, which costs at
// most an ulp of max(|x|, |mean|) each way (values here are below 200, so ~1e-13 absolute).
// R's colMeans sums in long double and ours in double: 48 terms of size < 200 differ by at most
// ~48 ulps of the sum, far below 1e-12 relative to max(1, |mean|).
constexpr double x_tol = 1e-12;
constexpr double mean_tol = 1e-12;

std::string data_path(const std::string& file) {
  return std::string(HBGLM_TEST_DATA_DIR) + "/design/" + file;
}

::testing::AssertionResult contains(const std::string& message, const std::string& part) {
  if (message.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << message << "'\n    does not contain '" << part
                                       << "'";
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    if (ch == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  out.push_back(cur);
  return out;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i > 0 ? sep : "") + parts[i];
  return out;
}

/** brms's coefficient names from R's: "(Intercept)" → "Intercept", and '(' ')' ' ' ',' dropped
 *  ("factor(g1)7" → "factorg17"). On purpose, hbglm names coefficients as brms does, not as R. */
std::string brms_rename(const std::string& r_name) {
  std::string out;
  for (char ch : r_name) {
    if (ch != '(' && ch != ')' && ch != ' ' && ch != ',') out += ch;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reference values from R (see make_expected.R for the format).

struct r_term {
  std::string group;               ///< lme4's name: "g2", "g1:g2", "g2:g1" for g1/g2
  std::size_t k = 0, n_levels = 0;
  std::vector<std::string> cnms;   ///< "(Intercept)", "x", "fb"
  std::vector<std::string> levels; ///< "2:s1" for an interaction
  std::vector<std::int32_t> idx;   ///< 0-based level per kept row
  struct entry {
    std::size_t row, col;
    double value;
  };
  std::vector<entry> zt;  ///< stored entries of reTrms$Ztlist for this term
};

struct r_case {
  std::string name, formula, r_formula;
  std::size_t n = 0;
  std::vector<std::size_t> rows;
  std::vector<std::string> xnames;
  std::vector<double> x, colmeans;
  std::vector<r_term> terms;
};

std::vector<double> to_doubles(const std::vector<std::string>& f, std::size_t from) {
  std::vector<double> out;
  for (std::size_t i = from; i < f.size(); ++i) out.push_back(std::strtod(f[i].c_str(), nullptr));
  return out;
}

std::map<std::string, r_case> load_expected() {
  std::ifstream in(data_path("expected.txt"));
  EXPECT_TRUE(in.good()) << "cannot open " << data_path("expected.txt");
  std::map<std::string, r_case> cases;
  r_case cur;
  std::string line;
  while (std::getline(in, line)) {
    const std::vector<std::string> f = split(line, '\t');
    const std::string& key = f[0];
    const std::vector<std::string> rest(f.begin() + 1, f.end());
    if (key == "case") {
      cur = r_case{};
      cur.name = f.at(1);
    } else if (key == "formula") {
      cur.formula = f.at(1);
    } else if (key == "r_formula") {
      cur.r_formula = f.at(1);
    } else if (key == "n") {
      cur.n = std::stoul(f.at(1));
    } else if (key == "rows") {
      for (const auto& s : rest) cur.rows.push_back(std::stoul(s));
    } else if (key == "xnames") {
      cur.xnames = rest;
    } else if (key == "x") {
      cur.x = to_doubles(f, 1);
    } else if (key == "colmeans") {
      cur.colmeans = to_doubles(f, 1);
    } else if (key == "term") {
      r_term t;
      t.group = f.at(1);
      t.k = std::stoul(f.at(2));
      t.n_levels = std::stoul(f.at(3));
      cur.terms.push_back(t);
    } else if (key == "cnms") {
      cur.terms.back().cnms = rest;
    } else if (key == "levels") {
      cur.terms.back().levels = rest;
    } else if (key == "idx") {
      for (const auto& s : rest) cur.terms.back().idx.push_back(std::stoi(s));
    } else if (key == "zt") {
      const std::size_t nnz = std::stoul(f.at(1));
      EXPECT_EQ(f.size(), 2 + 3 * nnz);
      for (std::size_t e = 0; e < nnz; ++e) {
        cur.terms.back().zt.push_back({std::stoul(f[2 + 3 * e]), std::stoul(f[3 + 3 * e]),
                                       std::strtod(f[4 + 3 * e].c_str(), nullptr)});
      }
    } else if (key == "end") {
      cases[cur.name] = cur;
    }
  }
  return cases;
}

const std::map<std::string, r_case>& expected() {
  static const std::map<std::string, r_case> cases = load_expected();
  return cases;
}

const table& reference_data() {
  static const table t = read_csv(data_path("data.csv"));
  return t;
}

/** design::table_row for every observation. */
std::vector<std::size_t> table_rows(const design& d) {
  std::vector<std::size_t> rows(d.n_obs);
  for (std::size_t i = 0; i < d.n_obs; ++i) rows[i] = d.table_row(i);
  return rows;
}

/** A CSR matrix as a dense row-major matrix (small matrices only). */
std::vector<double> dense(const csr_matrix& m) {
  std::vector<double> out(m.n_rows * m.n_cols, 0.0);
  for (std::size_t r = 0; r < m.n_rows; ++r) {
    for (auto e = m.row_ptr[r]; e < m.row_ptr[r + 1]; ++e) {
      out[r * m.n_cols + static_cast<std::size_t>(m.col_idx[static_cast<std::size_t>(e)])] +=
          m.values[static_cast<std::size_t>(e)];
    }
  }
  return out;
}

/** CSR invariants: sizes, monotone row pointers, sorted in-range columns. */
void expect_valid_csr(const csr_matrix& m, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(m.row_ptr.size(), m.n_rows + 1);
  EXPECT_EQ(m.row_ptr.front(), 0);
  EXPECT_EQ(static_cast<std::size_t>(m.row_ptr.back()), m.n_nonzeros());
  ASSERT_EQ(m.col_idx.size(), m.values.size());
  for (std::size_t r = 0; r < m.n_rows; ++r) {
    ASSERT_LE(m.row_ptr[r], m.row_ptr[r + 1]);
    for (auto e = m.row_ptr[r]; e < m.row_ptr[r + 1]; ++e) {
      const auto c = m.col_idx[static_cast<std::size_t>(e)];
      ASSERT_GE(c, 0);
      ASSERT_LT(static_cast<std::size_t>(c), m.n_cols);
      if (e > m.row_ptr[r]) {
        EXPECT_LT(m.col_idx[static_cast<std::size_t>(e) - 1], c);
      }
    }
  }
}

/** The grouping factors of a group name: "g1:g2" → {"g1", "g2"}. */
std::vector<std::string> group_factors(const std::string& group) { return split(group, ':'); }

// ---------------------------------------------------------------------------------------------
// 1. Against R.

struct design_case {
  const char* name;
  const char* formula;
};

// The formulas are also in expected.txt (the test checks they agree), so that a reader sees here
// what is covered. The R formula differs only for `0 + Intercept` (brms syntax; R gets `1 + ...`).
const design_case design_cases[] = {
    {"numeric", "y ~ x + z"},
    {"treatment", "y ~ f"},
    {"no_intercept_dummies", "y ~ 0 + f"},
    {"no_intercept_dummies_then_numeric", "y ~ 0 + f + x"},
    {"mixed_case_levels", "y ~ e + x"},  // levels B C a b: byte-wise, not a B b C
    {"factor_times_numeric", "y ~ f * x"},
    {"numeric_colon_factor", "y ~ x + x:f"},
    {"factor_colon_factor_no_margins", "y ~ f:h"},
    {"factor_colon_factor_no_margins_no_intercept", "y ~ 0 + f:h"},
    {"factor_times_factor", "y ~ f * h"},
    {"factor_colon_factor_one_margin", "y ~ f + f:h"},
    // R's terms() orders a term's variables by their first appearance in the formula, so `f:h`
    // after `h` is the term h:f, coded with h varying fastest: hhi:fb hlo:fb hhi:fc hlo:fc.
    {"factor_colon_factor_margin_written_first", "y ~ h + f:h"},
    // The same rule: the columns are x:fb x:fc (the term is x:f).
    {"interaction_written_in_other_order", "y ~ x + f:x"},
    {"numeric_colon_numeric", "y ~ x:z"},
    {"three_way", "y ~ f * h * x"},
    {"two_factors_no_intercept", "y ~ 0 + f + h"},
    {"numeric_as_factor", "y ~ factor(g1) + x"},  // brms: "factor(g1)7" → "factorg17"
    {"intercept_as_coefficient", "y ~ 0 + Intercept + x + f"},
    {"missing_values_dropped", "y ~ x + m + (1 | g2)"},
    {"random_intercept_numeric_group", "y ~ x + (1 | g1)"},
    {"random_slope", "y ~ x + (1 + x | g2)"},
    {"random_factor_lhs", "y ~ x + (1 + f | g2)"},
    {"random_factor_lhs_no_intercept", "y ~ x + (0 + h | g1)"},
    {"random_interaction_group", "y ~ x + (1 | g1:g2)"},
    {"random_nested_group", "y ~ x + (1 | g1/g2)"},
    {"random_uncorrelated", "y ~ x + (x || g2)"},
    {"random_several_terms", "y ~ f + x + (1 + x | g3) + (1 | g2) + (1 | g1)"},
    {"random_factor_times_numeric_lhs", "y ~ 1 + (1 + f * z | g3)"},
};

void PrintTo(const design_case& c, std::ostream* os) { *os << c.formula; }

class design_vs_r : public ::testing::TestWithParam<design_case> {};

TEST_P(design_vs_r, population_level_matches_model_matrix) {
  const design_case& c = GetParam();
  ASSERT_TRUE(expected().count(c.name)) << "no case '" << c.name << "' in expected.txt";
  const r_case& r = expected().at(c.name);
  ASSERT_EQ(r.formula, c.formula) << "expected.txt is out of date: rerun make_expected.R";
  const formula f = parse_formula(c.formula);
  const design d = build_design(reference_data(), f, family::gaussian);

  ASSERT_EQ(d.n_obs, r.n);
  EXPECT_EQ(table_rows(d), r.rows);
  EXPECT_EQ(d.n_dropped, reference_data().n_rows() - r.n);
  EXPECT_EQ(d.y.size(), d.n_obs);
  EXPECT_EQ(d.formula_text, c.formula);
  EXPECT_EQ(d.response_name, "y");

  std::vector<std::string> names;
  for (const auto& n : r.xnames) names.push_back(brms_rename(n));
  ASSERT_EQ(d.coef_names, names);
  const std::size_t n = d.n_obs, p = names.size();
  ASSERT_EQ(d.X.size(), n * p);
  ASSERT_EQ(d.column_means.size(), p);
  ASSERT_EQ(r.x.size(), n * p);

  const bool r_intercept = !r.xnames.empty() && r.xnames[0] == "(Intercept)";
  EXPECT_EQ(d.has_intercept, r_intercept);
  // brms centers every non-intercept column when there is an intercept, except with
  // `0 + Intercept`, where the intercept is an ordinary coefficient.
  EXPECT_EQ(d.centered, r_intercept && !f.intercept_as_coef);
  for (std::size_t j = 0; j < p; ++j) {
    SCOPED_TRACE("column " + names[j]);
    const bool centered_column = d.centered && j > 0;
    if (centered_column) {
      EXPECT_NEAR(d.column_means[j], r.colmeans[j],
                  mean_tol * std::max(1.0, std::fabs(r.colmeans[j])));
    } else {
      EXPECT_EQ(d.column_means[j], 0.0);
    }
    for (std::size_t i = 0; i < n; ++i) {
      const double ours = d.X[j * n + i] + d.column_means[j];
      const double theirs = r.x[j * n + i];
      if (centered_column) {
        ASSERT_NEAR(ours, theirs, x_tol * std::max(1.0, std::fabs(theirs))) << "row " << i;
      } else {
        ASSERT_EQ(ours, theirs) << "row " << i;
      }
    }
  }
}

TEST_P(design_vs_r, group_level_matches_lme4) {
  const design_case& c = GetParam();
  ASSERT_TRUE(expected().count(c.name));
  const r_case& r = expected().at(c.name);
  const formula f = parse_formula(c.formula);
  const design d = build_design(reference_data(), f, family::gaussian);
  const std::size_t n = d.n_obs;
  ASSERT_EQ(n, r.n);

  // Blocks: consecutive u ranges in formula order; Σ J k = n_u = rows of lme4's Zt.
  // One block per parsed random term (g1/g2 is already two), with the same group.
  ASSERT_EQ(d.terms.size(), f.random.size());
  std::size_t offset = 0, per_row = 0, r_total = 0;
  for (std::size_t t = 0; t < d.terms.size(); ++t) {
    const random_block& b = d.terms[t];
    EXPECT_EQ(b.group, f.random[t].group_label());
    EXPECT_EQ(b.u_offset, offset) << b.group;
    EXPECT_EQ(b.level_labels.size(), b.n_levels);
    EXPECT_EQ(b.level_idx.size(), n);
    EXPECT_EQ(b.covariates.size(), n * b.n_coefs());
    EXPECT_EQ(b.correlated, f.random[t].correlated && b.n_coefs() > 1) << b.group;
    offset += b.n_levels * b.n_coefs();
    per_row += b.n_coefs();
  }
  for (const auto& t : r.terms) r_total += t.k * t.n_levels;
  EXPECT_EQ(d.n_u, offset);
  EXPECT_EQ(d.n_u, r_total);
  if (r.terms.empty()) {
    EXPECT_TRUE(d.terms.empty());
    EXPECT_EQ(d.Z.n_nonzeros(), 0u);
  }

  // Z: valid CSR, one entry per observation and coefficient; transpose(Z) = Zᵀ.
  expect_valid_csr(d.Z, "Z");
  const csr_matrix z_transposed = transpose(d.Z);
  expect_valid_csr(z_transposed, "transpose(Z)");
  ASSERT_EQ(d.Z.n_rows, n);
  ASSERT_EQ(d.Z.n_cols, d.n_u);
  ASSERT_EQ(z_transposed.n_rows, d.n_u);
  ASSERT_EQ(z_transposed.n_cols, n);
  EXPECT_EQ(d.Z.n_nonzeros(), n * per_row);
  const std::vector<double> z = dense(d.Z), zt = dense(z_transposed);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t u = 0; u < d.n_u; ++u) ASSERT_EQ(z[i * d.n_u + u], zt[u * n + i]);
  }
  // Z from the blocks: row i holds covariates[i k + c] at u_offset + level_idx[i] k + c.
  std::vector<double> from_blocks(n * d.n_u, 0.0);
  for (const auto& b : d.terms) {
    const std::size_t k = b.n_coefs();
    for (std::size_t i = 0; i < n; ++i) {
      const auto level = static_cast<std::size_t>(b.level_idx[i]);
      ASSERT_LT(level, b.n_levels);
      for (std::size_t cc = 0; cc < k; ++cc) {
        from_blocks[i * d.n_u + b.u_offset + level * k + cc] = b.covariates[i * k + cc];
      }
    }
  }
  EXPECT_EQ(z, from_blocks);

  // Z from lme4. Each lme4 term maps to one of our blocks: the same grouping factors and its
  // coefficients among the block's (`(x || g)` is one block of k = 2 here, two terms in lme4).
  // Rows of lme4's Zt are level-major within a term (row j k + c; make_expected.R checks this),
  // like our u[u_offset + j k + c]. Differences on purpose:
  //  - lme4 orders its terms by decreasing number of levels; ours stay in formula order;
  //  - `g1/g2` is lme4's group "g2:g1" with labels "s1:2"; brms's and ours is "g1:g2" with
  //    labels "2_s1" (an interaction's labels join the levels with '_', brms's rule), ordered
  //    with the first factor's level varying slowest;
  //  - coefficient names are brms's ("Intercept", not "(Intercept)").
  std::vector<double> from_r(n * d.n_u, 0.0);
  std::map<const random_block*, std::size_t> coefs_seen;
  for (const r_term& t : r.terms) {
    SCOPED_TRACE("lme4 term on " + t.group + " with " + join(t.cnms, ","));
    std::vector<std::string> r_factors = group_factors(t.group);
    std::set<std::string> r_set(r_factors.begin(), r_factors.end());
    const random_block* block = nullptr;
    for (const auto& b : d.terms) {
      const std::vector<std::string> ours = group_factors(b.group);
      if (std::set<std::string>(ours.begin(), ours.end()) != r_set) continue;
      if (std::find(b.coef_names.begin(), b.coef_names.end(), brms_rename(t.cnms[0])) ==
          b.coef_names.end()) {
        continue;
      }
      block = &b;
    }
    ASSERT_NE(block, nullptr) << "no block of ours matches";
    ASSERT_EQ(block->n_levels, t.n_levels);
    coefs_seen[block] += t.k;
    // Our group name keeps the factors in formula order.
    const std::vector<std::string> ours = group_factors(block->group);
    // lme4 level j → our level: reorder the parts of "s1:2" to our factor order, join with '_'.
    std::vector<std::size_t> level_map(t.n_levels);
    for (std::size_t j = 0; j < t.n_levels; ++j) {
      const std::vector<std::string> parts = split(t.levels[j], ':');
      ASSERT_EQ(parts.size(), r_factors.size());
      std::vector<std::string> reordered;
      for (const auto& factor : ours) {
        const auto at = std::find(r_factors.begin(), r_factors.end(), factor) - r_factors.begin();
        reordered.push_back(parts[static_cast<std::size_t>(at)]);
      }
      const std::string label = join(reordered, "_");
      const auto it = std::find(block->level_labels.begin(), block->level_labels.end(), label);
      ASSERT_NE(it, block->level_labels.end()) << "no level '" << label << "'";
      level_map[j] = static_cast<std::size_t>(it - block->level_labels.begin());
      if (r_factors == ours) {
        // Same factor order: the same sort order (numbers numerically, text byte-wise, the
        // first factor of an interaction varying slowest), so the same position.
        EXPECT_EQ(level_map[j], j) << label;
      }
    }
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(static_cast<std::size_t>(block->level_idx[i]),
                level_map[static_cast<std::size_t>(t.idx[i])])
          << "observation " << i;
    }
    std::vector<std::size_t> coef_map(t.k);
    for (std::size_t cc = 0; cc < t.k; ++cc) {
      const auto it = std::find(block->coef_names.begin(), block->coef_names.end(),
                                brms_rename(t.cnms[cc]));
      ASSERT_NE(it, block->coef_names.end()) << "no coefficient " << t.cnms[cc];
      coef_map[cc] = static_cast<std::size_t>(it - block->coef_names.begin());
    }
    const std::size_t k = block->n_coefs();
    for (const auto& e : t.zt) {
      const std::size_t j = level_map[e.row / t.k], cc = coef_map[e.row % t.k];
      from_r[e.col * d.n_u + block->u_offset + j * k + cc] = e.value;
    }
  }
  for (const auto& b : d.terms) {
    EXPECT_EQ(coefs_seen[&b], b.n_coefs()) << "lme4 terms do not cover block " << b.group;
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t u = 0; u < d.n_u; ++u) {
      ASSERT_EQ(z[i * d.n_u + u], from_r[i * d.n_u + u]) << "Z(" << i << ", " << u << ")";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(r, design_vs_r, ::testing::ValuesIn(design_cases),
                         [](const ::testing::TestParamInfo<design_case>& info) {
                           return std::string(info.param.name);
                         });

TEST(design_reference, every_case_in_expected_txt_is_tested) {
  std::set<std::string> ours;
  for (const auto& c : design_cases) ours.insert(c.name);
  for (const auto& [name, r] : expected()) EXPECT_TRUE(ours.count(name)) << name;
  EXPECT_GE(expected().size(), 15u);
}

// Our rules where lme4 differs, stated directly.
TEST(design_transpose, empty_rows_and_columns_and_row_order) {
  // 3 × 5 with an empty row (1) and empty columns (0, 3): rows of the transpose list the rows of
  // the matrix in increasing order (the order the CPU gradient's scatter sums in).
  csr_matrix m;
  m.n_rows = 3;
  m.n_cols = 5;
  m.row_ptr = {0, 2, 2, 5};
  m.col_idx = {1, 4, 1, 2, 4};
  m.values = {1.5, -2.0, 3.0, 0.25, 7.0};
  const csr_matrix t = transpose(m);
  expect_valid_csr(t, "transpose");
  EXPECT_EQ(t.n_rows, 5u);
  EXPECT_EQ(t.n_cols, 3u);
  EXPECT_EQ(t.row_ptr, (std::vector<std::int32_t>{0, 0, 2, 3, 3, 5}));
  EXPECT_EQ(t.col_idx, (std::vector<std::int32_t>{0, 2, 2, 0, 2}));
  EXPECT_EQ(t.values, (std::vector<double>{1.5, 3.0, 0.25, -2.0, 7.0}));
  const csr_matrix back = transpose(t);
  EXPECT_EQ(back.n_rows, m.n_rows);
  EXPECT_EQ(back.n_cols, m.n_cols);
  EXPECT_EQ(back.row_ptr, m.row_ptr);
  EXPECT_EQ(back.col_idx, m.col_idx);
  EXPECT_EQ(back.values, m.values);

  csr_matrix none;  // no rows, no columns
  none.row_ptr = {0};
  const csr_matrix t0 = transpose(none);
  EXPECT_EQ(t0.row_ptr, (std::vector<std::int32_t>{0}));
  EXPECT_EQ(t0.n_nonzeros(), 0u);
}

TEST(design_levels, interaction_group_is_brms_named_and_first_factor_slowest) {
  const design d = build_design(reference_data(), parse_formula("y ~ x + (1 | g1/g2)"),
                                family::gaussian);
  ASSERT_EQ(d.terms.size(), 2u);
  EXPECT_EQ(d.terms[0].group, "g1");
  EXPECT_EQ(d.terms[1].group, "g1:g2");  // lme4: "g2:g1"
  const auto& labels = d.terms[1].level_labels;
  ASSERT_FALSE(labels.empty());
  EXPECT_EQ(labels.front(), "2_s1");  // lme4: "s1:2"; g1 numerically first, then g2 byte-wise
  EXPECT_EQ(labels.back(), "100_s20");  // s20 > s2 > s11 > s10 > s1 byte-wise; no 100_s3
  // Sorted by (g1 as a number, g2 byte-wise).
  auto key = [](const std::string& l) {
    const auto parts = split(l, '_');
    return std::make_pair(std::stod(parts[0]), parts[1]);
  };
  for (std::size_t j = 1; j < labels.size(); ++j) {
    EXPECT_LT(key(labels[j - 1]), key(labels[j])) << labels[j - 1] << " " << labels[j];
  }
}

TEST(design_levels, numbers_sort_numerically_and_text_byte_wise) {
  table t = read_csv_text(
      "y,num,txt\n"
      "1,10,b\n2,-1.5,B\n3,2,a10\n4,0.25,a9\n5,10,_\n6,2,b\n",
      "levels.csv");
  const design d = build_design(t, parse_formula("y ~ (1 | num) + (1 | txt)"), family::gaussian);
  ASSERT_EQ(d.terms.size(), 2u);
  EXPECT_EQ(d.terms[0].level_labels, (std::vector<std::string>{"-1.5", "0.25", "2", "10"}));
  EXPECT_EQ(d.terms[0].level_idx, (std::vector<std::int32_t>{3, 0, 2, 1, 3, 2}));
  EXPECT_EQ(d.terms[1].level_labels, (std::vector<std::string>{"B", "_", "a10", "a9", "b"}));
  EXPECT_EQ(d.terms[1].level_idx, (std::vector<std::int32_t>{4, 0, 2, 3, 1, 4}));
}

TEST(design_levels, negative_zero_is_the_level_zero) {
  // R: levels(factor(c(-0, 0, 1))) is "0" "1"; -0 and 0 are one level either way.
  // A cell written "-0" must not give the label "-0".
  const table t = read_csv_text("y,g\n1,-0\n2,0\n3,1\n4,-0\n", "zero.csv");
  const design d = build_design(t, parse_formula("y ~ (1 | g)"), family::gaussian);
  ASSERT_EQ(d.terms.size(), 1u);
  EXPECT_EQ(d.terms[0].level_idx, (std::vector<std::int32_t>{0, 0, 1, 0}));
  EXPECT_EQ(d.terms[0].level_labels, (std::vector<std::string>{"0", "1"}));
}

TEST(design_families, responses_trials_se_and_offsets_are_read) {
  const table& t = reference_data();
  const design b = build_design(t, parse_formula("s | trials(n) ~ x + (1 | g2)"),
                                family::binomial);
  const column& s = *t.find("s");
  const column& n = *t.find("n");
  ASSERT_EQ(b.trials.size(), b.n_obs);
  for (std::size_t i = 0; i < b.n_obs; ++i) {
    EXPECT_EQ(b.y[i], s.numbers[i]);
    EXPECT_EQ(b.trials[i], n.numbers[i]);
  }
  // lme4's cbind(successes, failures): trials = s + f.
  table with_f = t;
  column failures = test::numeric_column("fails", {});
  for (std::size_t i = 0; i < t.n_rows(); ++i) {
    failures.numbers.push_back(n.numbers[i] - s.numbers[i]);
    failures.missing.push_back(0);
  }
  with_f.columns.push_back(failures);
  const design cb = build_design(with_f, parse_formula("cbind(s, fails) ~ x"), family::binomial);
  EXPECT_EQ(cb.trials, b.trials);

  const design p = build_design(t, parse_formula("cnt ~ x + offset(z) + offset(x)"),
                                family::poisson);
  ASSERT_EQ(p.offset.size(), p.n_obs);
  const column& x = *t.find("x");
  const column& z = *t.find("z");
  for (std::size_t i = 0; i < p.n_obs; ++i) EXPECT_EQ(p.offset[i], z.numbers[i] + x.numbers[i]);
  EXPECT_TRUE(p.trials.empty());
  EXPECT_TRUE(p.se.empty());

  const design g = build_design(t, parse_formula("y | se(n) ~ x"), family::gaussian);
  ASSERT_EQ(g.se.size(), g.n_obs);
  for (std::size_t i = 0; i < g.n_obs; ++i) EXPECT_EQ(g.se[i], n.numbers[i]);

  const design bern = build_design(t, parse_formula("yb ~ x"), family::bernoulli);
  EXPECT_EQ(bern.family, family::bernoulli);
}

TEST(design_families, two_level_text_response_is_bernoulli_with_a_note) {
  const table t = read_csv_text("y,x\nno,1\nyes,2\nno,3\nyes,4\n", "t.csv");
  const design d = build_design(t, parse_formula("y ~ x"), family::bernoulli);
  EXPECT_EQ(d.y, (std::vector<double>{0, 1, 0, 1}));
  ASSERT_FALSE(d.messages.empty());
  EXPECT_TRUE(contains(d.messages.back(), "'no' is 0 and 'yes' is 1"));
}

// ---------------------------------------------------------------------------------------------
// 2. Missing values.

TEST(design_missing, rows_with_missing_used_values_are_dropped_with_a_count) {
  // Line 3: y missing; line 5: x empty; line 7: the text factor empty; line 8: the grouping
  // factor NA. w is unused and its NA (line 4) drops nothing.
  const table t = read_csv_text(
      "y,x,f,g,w\n"
      "1.5,0.1,a,g1,1\n"
      "NA,0.2,b,g2,2\n"
      "2.5,0.3,a,g1,NA\n"
      "3.0,,b,g2,4\n"
      "3.5,0.5,b,g1,5\n"
      "4.0,0.6,,g2,6\n"
      "4.5,0.7,a,NA,7\n"
      "5.0,0.8,b,g2,8\n",
      "na.csv");
  const design d = build_design(t, parse_formula("y ~ x + f + (1 | g)"), family::gaussian);
  EXPECT_EQ(d.n_obs, 4u);
  EXPECT_EQ(d.n_dropped, 4u);
  EXPECT_EQ(d.row_of_obs, (std::vector<std::size_t>{0, 2, 4, 7}));
  EXPECT_EQ(table_rows(d), d.row_of_obs);
  EXPECT_EQ(d.y, (std::vector<double>{1.5, 2.5, 3.5, 5.0}));
  ASSERT_EQ(d.messages.size(), 1u);
  EXPECT_TRUE(contains(d.messages[0], "4 of 8 rows dropped"));
  EXPECT_TRUE(contains(d.messages[0], "missing"));
  EXPECT_EQ(d.Z.n_rows, 4u);
  EXPECT_EQ(d.terms.at(0).level_idx, (std::vector<std::int32_t>{0, 0, 0, 1}));
}

TEST(design_missing, missing_value_in_an_unused_column_drops_nothing) {
  const table t = read_csv_text("y,x,w\n1,0.1,NA\n2,0.2,\n3,0.4,1\n", "na.csv");
  const design d = build_design(t, parse_formula("y ~ x"), family::gaussian);
  EXPECT_EQ(d.n_obs, 3u);
  EXPECT_EQ(d.n_dropped, 0u);
  EXPECT_TRUE(d.messages.empty());
  // Nothing dropped: the identity map is not stored.
  EXPECT_TRUE(d.row_of_obs.empty());
  EXPECT_EQ(table_rows(d), (std::vector<std::size_t>{0, 1, 2}));
}

TEST(design_missing, missing_trials_se_and_offset_drop_rows_too) {
  const table t = read_csv_text("s,n,e,x\n1,2,0.1,1\n1,NA,0.1,2\n0,3,,3\n2,4,0.2,4\n", "na.csv");
  const design d = build_design(t, parse_formula("s | trials(n) ~ x + offset(e)"),
                                family::binomial);
  EXPECT_EQ(d.row_of_obs, (std::vector<std::size_t>{0, 3}));
  EXPECT_TRUE(contains(d.messages.at(0), "2 of 4 rows dropped"));
}

TEST(design_missing, nothing_left_is_an_error) {
  const table t = read_csv_text("y,x\nNA,1\n2,NA\n", "allna.csv");
  try {
    build_design(t, parse_formula("y ~ x"), family::gaussian);
    FAIL() << "no data_error";
  } catch (const data_error& e) {
    EXPECT_TRUE(contains(e.what(), "allna.csv"));
    EXPECT_TRUE(contains(e.what(), "no rows left"));
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Bad data: every message names the file, and line and column where there is one, and the
// column or term.

/** The message of the data_error that building the design throws. */
std::string design_error(const std::string& csv, const std::string& formula_text, family fam,
                         const std::string& source = "bad.csv") {
  const table t = read_csv_text(csv, source);
  try {
    build_design(t, parse_formula(formula_text), fam);
  } catch (const data_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no data_error for " << formula_text << " on\n" << csv;
  return "";
}

TEST(design_errors, bernoulli_response_not_zero_or_one) {
  const std::string m =
      design_error("x,y\n0.5,1\n0.1,0\n0.3,2\n", "y ~ x", family::bernoulli);
  EXPECT_TRUE(contains(m, "bad.csv:4:2"));  // line 4, column 2
  EXPECT_TRUE(contains(m, "bernoulli"));
  EXPECT_TRUE(contains(m, "'y'"));
  EXPECT_TRUE(contains(m, "0 or 1"));
  EXPECT_TRUE(contains(m, "it is 2"));
  // After dropped rows, the location is still the file's line (line 5, table row 3), not the
  // observation's (observation 1).
  const std::string later =
      design_error("x,y\nNA,1\n0.1,0\nNA,0\n0.3,0.5\n", "y ~ x", family::bernoulli);
  EXPECT_TRUE(contains(later, "bad.csv:5:2"));
  EXPECT_TRUE(contains(later, "0.5"));
  // A text response with three values.
  const std::string t = design_error("y,x\nno,1\nyes,2\nmaybe,3\n", "y ~ x", family::bernoulli);
  EXPECT_TRUE(contains(t, "bad.csv:"));
  EXPECT_TRUE(contains(t, "'y'"));
  EXPECT_TRUE(contains(t, "exactly two values"));
}

TEST(design_errors, poisson_response_negative_or_not_an_integer) {
  const std::string neg = design_error("y,x\n3,1\n-1,2\n", "y ~ x", family::poisson);
  EXPECT_TRUE(contains(neg, "bad.csv:3:1"));
  EXPECT_TRUE(contains(neg, "poisson"));
  EXPECT_TRUE(contains(neg, "'y'"));
  EXPECT_TRUE(contains(neg, "-1"));
  const std::string frac = design_error("y,x\n3,1\n2,2\n1.5,3\n", "y ~ x", family::poisson);
  EXPECT_TRUE(contains(frac, "bad.csv:4:1"));
  EXPECT_TRUE(contains(frac, "non-negative integer"));
  EXPECT_TRUE(contains(frac, "1.5"));
}

TEST(design_errors, binomial_successes_above_trials_and_bad_counts) {
  const std::string m =
      design_error("x,s,n\n1,2,5\n2,6,5\n", "s | trials(n) ~ x", family::binomial);
  EXPECT_TRUE(contains(m, "bad.csv:3:2"));
  EXPECT_TRUE(contains(m, "more successes than trials"));
  EXPECT_TRUE(contains(m, "6 successes out of 5 trials"));
  const std::string frac =
      design_error("x,s,n\n1,2,5\n2,1,2.5\n", "s | trials(n) ~ x", family::binomial);
  EXPECT_TRUE(contains(frac, "bad.csv:3:3"));
  EXPECT_TRUE(contains(frac, "'n'"));
  EXPECT_TRUE(contains(frac, "2.5"));
  const std::string neg = design_error("x,s,f\n1,2,5\n2,1,-1\n", "cbind(s, f) ~ x",
                                       family::binomial);
  EXPECT_TRUE(contains(neg, "bad.csv:3:3"));
  EXPECT_TRUE(contains(neg, "'f'"));
  const std::string no_trials = design_error("x,s\n1,2\n", "s ~ x", family::binomial);
  EXPECT_TRUE(contains(no_trials, "trials("));
}

TEST(design_errors, non_numeric_value_in_a_numeric_column) {
  // x is text because of 'abc' on line 4, but mostly numbers: the reader marks where.
  const std::string csv = "y,x\n1,0.5\n2,0.7\n3,abc\n4,0.1\n";
  const table t = read_csv_text(csv, "bad.csv");
  ASSERT_FALSE(t.find("x")->is_numeric);
  ASSERT_FALSE(t.find("x")->first_non_numeric.empty());
  const std::string m = design_error(csv, "y ~ x", family::gaussian);
  EXPECT_TRUE(contains(m, "bad.csv:4:2"));
  EXPECT_TRUE(contains(m, "'abc'"));
  EXPECT_TRUE(contains(m, "non-numeric value in column 'x'"));
  EXPECT_TRUE(contains(m, "predictor"));
  // The same in the response, in trials and in a random slope.
  const std::string y = design_error("y,x\n1,0.5\n2x,0.7\n3,0.2\n", "y ~ x", family::gaussian);
  EXPECT_TRUE(contains(y, "bad.csv:3:1"));
  EXPECT_TRUE(contains(y, "'2x'"));
  EXPECT_TRUE(contains(y, "response"));
  const std::string n =
      design_error("s,n,x\n1,2,1\n1,two,2\n1,3,4\n", "s | trials(n) ~ x", family::binomial);
  EXPECT_TRUE(contains(n, "bad.csv:3:2"));
  EXPECT_TRUE(contains(n, "trials"));
  const std::string slope =
      design_error("y,x,g\n1,0.5,a\n2,0.7,b\n3,?,a\n4,0.1,b\n", "y ~ (1 + x | g)",
                   family::gaussian);
  EXPECT_TRUE(contains(slope, "bad.csv:4:2"));
  EXPECT_TRUE(contains(slope, "'x'"));
}

TEST(design_errors, formula_variable_not_in_the_data_lists_the_columns) {
  const std::string m = design_error("y,x,g\n1,2,a\n2,3,b\n", "y ~ x + w + (1 | g)",
                                     family::gaussian);
  EXPECT_TRUE(contains(m, "bad.csv"));
  EXPECT_TRUE(contains(m, "'w'"));
  EXPECT_TRUE(contains(m, "not a column"));
  EXPECT_TRUE(contains(m, "y, x, g"));
  const std::string g = design_error("y,x\n1,2\n2,3\n", "y ~ x + (1 | grp)", family::gaussian);
  EXPECT_TRUE(contains(g, "grouping factor 'grp'"));
  EXPECT_TRUE(contains(g, "y, x"));
  const std::string r = design_error("y,x\n1,2\n2,3\n", "resp ~ x", family::gaussian);
  EXPECT_TRUE(contains(r, "response 'resp'"));
}

TEST(design_errors, grouping_factor_with_one_level) {
  // The row with the second level is dropped (missing x), leaving one level.
  const std::string m = design_error("y,x,g\n1,2,a\n2,3,a\n3,NA,b\n", "y ~ x + (1 | g)",
                                     family::gaussian, "one.csv");
  EXPECT_TRUE(contains(m, "grouping factor 'g'"));
  EXPECT_TRUE(contains(m, "only one level ('a')"));
  EXPECT_TRUE(contains(m, "| g)"));
  // Data errors name the file.
  EXPECT_TRUE(contains(m, "one.csv"));
}

TEST(design_errors, inf_and_nan_in_a_predictor) {
  // The CSV reader takes Inf and NaN for text; in a column of numbers it marks the first.
  for (const std::string bad : {"Inf", "NaN", "-inf"}) {
    SCOPED_TRACE(bad);
    const std::string m = design_error("y,x\n1,0.5\n2," + bad + "\n3,0.2\n4,0.3\n", "y ~ x",
                                       family::gaussian);
    EXPECT_TRUE(contains(m, "bad.csv:3:2"));
    EXPECT_TRUE(contains(m, "'" + bad + "'"));
    EXPECT_TRUE(contains(m, "non-numeric value in column 'x'"));
    EXPECT_TRUE(contains(m, "write NA or leave the cell empty"));
  }
  // A table made in memory can hold infinities and NaN that are not flagged missing.
  const table t = test::make_table(
      "mem.csv", {test::numeric_column("y", {1, 2, 3}),
                  test::numeric_column("x", {0.5, std::numeric_limits<double>::infinity(), 1})});
  try {
    build_design(t, parse_formula("y ~ x"), family::gaussian);
    ADD_FAILURE() << "no data_error";
  } catch (const data_error& e) {
    EXPECT_TRUE(contains(e.what(), "mem.csv:3:2"));
    EXPECT_TRUE(contains(e.what(), "non-finite value in column 'x'"));
  }
}

TEST(design_errors, empty_file) {
  try {
    read_csv_text("", "empty.csv");
    FAIL() << "no data_error";
  } catch (const data_error& e) {
    EXPECT_TRUE(contains(e.what(), "empty.csv"));
    EXPECT_TRUE(contains(e.what(), "empty"));
  }
}

TEST(design_errors, constant_response_is_a_warning_not_an_error) {
  const table t = read_csv_text("y,x\n1,0.5\n1,0.7\n1,0.2\n", "const.csv");
  design d;
  ASSERT_NO_THROW(d = build_design(t, parse_formula("y ~ x"), family::bernoulli));
  ASSERT_EQ(d.messages.size(), 1u);
  EXPECT_TRUE(contains(d.messages[0], "warning"));
  EXPECT_TRUE(contains(d.messages[0], "'y'"));
  EXPECT_TRUE(contains(d.messages[0], "constant"));
}

TEST(design_errors, se_not_positive) {
  for (const std::string bad : {"0", "-0.5"}) {
    SCOPED_TRACE(bad);
    const std::string m = design_error("y,x,s\n1,0.5,1\n2,0.7," + bad + "\n", "y | se(s) ~ x",
                                       family::gaussian);
    EXPECT_TRUE(contains(m, "bad.csv:3:3"));
    EXPECT_TRUE(contains(m, "se()"));
    EXPECT_TRUE(contains(m, "positive"));
  }
  const std::string fam = design_error("y,x,s\n1,0.5,1\n2,0.7,1\n", "y | se(s) ~ x",
                                       family::poisson);
  EXPECT_TRUE(contains(fam, "gaussian"));
}

TEST(design_errors, text_response_for_gaussian) {
  const std::string m = design_error("x,y\n1,\"high\"\n2,\"low\"\n", "y ~ x", family::gaussian);
  EXPECT_TRUE(contains(m, "bad.csv:2:2"));
  EXPECT_TRUE(contains(m, "column 'y' holds text"));
  EXPECT_TRUE(contains(m, "'high'"));
  EXPECT_TRUE(contains(m, "response"));
  EXPECT_TRUE(contains(m, "numeric"));
}

TEST(design_errors, single_level_factor_predictor_and_duplicate_group_coefficients) {
  // Terms that cannot be built are formula errors (R: "contrasts can be applied only to factors
  // with 2 or more levels"; brms: "Duplicated group-level effects are not allowed").
  const table t = read_csv_text("y,f,g,x\n1,a,u,1\n2,a,v,2\n3,a,u,3\n", "s.csv");
  try {
    build_design(t, parse_formula("y ~ f + x"), family::gaussian);
    ADD_FAILURE() << "no formula_error";
  } catch (const formula_error& e) {
    EXPECT_TRUE(contains(e.what(), "factor 'f'"));
    EXPECT_TRUE(contains(e.what(), "single level ('a')"));
  }
  try {
    build_design(t, parse_formula("y ~ x + (1 | g) + (1 + x | g)"), family::gaussian);
    ADD_FAILURE() << "no formula_error";
  } catch (const formula_error& e) {
    EXPECT_TRUE(contains(e.what(), "'Intercept' appears twice"));
    EXPECT_TRUE(contains(e.what(), "'g'"));
  }
  // Different coefficients on the same factor in two terms are fine (lme4's (x || g) expansion).
  EXPECT_NO_THROW(build_design(t, parse_formula("y ~ x + (1 | g) + (0 + x | g)"),
                               family::gaussian));
}

TEST(design_errors, trials_for_a_family_without_them) {
  const std::string m = design_error("s,n,x\n1,2,1\n0,2,2\n", "s | trials(n) ~ x",
                                     family::poisson);
  EXPECT_TRUE(contains(m, "binomial"));
}

// ---------------------------------------------------------------------------------------------
// 4. Size: a large design stays sparse.

template <typename T>
std::size_t bytes(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}

std::size_t bytes(const csr_matrix& m) {
  return bytes(m.row_ptr) + bytes(m.col_idx) + bytes(m.values);
}

std::size_t bytes_of_strings(const std::vector<std::string>& v) {
  std::size_t total = bytes(v);
  for (const auto& s : v) {
    if (s.capacity() > 15) total += s.capacity() + 1;  // beyond the small-string buffer
  }
  return total;
}

TEST(design_size, three_hundred_thousand_rows_and_a_hundred_thousand_groups) {
  const std::size_t n = 300000, n_g = 100000, n_h = 1000;
  std::vector<double> y(n), x(n), g(n);
  std::vector<std::string> h(n);
  std::uint64_t state = 12345;
  auto next = [&state] {  // a small LCG: the values do not matter, only the sizes
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) / 9007199254740992.0;
  };
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = next() - 0.5;
    y[i] = x[i] + next();
    g[i] = static_cast<double>(i % n_g);  // every level appears 3 times
    h[i] = "h" + std::to_string((i * 7919) % n_h);
  }
  const table t =
      test::make_table("big.csv", {test::numeric_column("y", y), test::numeric_column("x", x),
                                   test::numeric_column("g", g), test::text_column("h", h)});

  const auto start = std::chrono::steady_clock::now();
  const design d = build_design(t, parse_formula("y ~ x + (1 | g) + (1 + x | h)"),
                                family::gaussian);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  ASSERT_EQ(d.n_obs, n);
  ASSERT_EQ(d.terms.size(), 2u);
  EXPECT_EQ(d.terms[0].n_levels, n_g);
  EXPECT_EQ(d.terms[1].n_levels, n_h);
  const std::size_t sum_k = 1 + 2;
  EXPECT_EQ(d.n_u, n_g * 1 + n_h * 2);
  EXPECT_EQ(d.Z.n_rows, n);
  EXPECT_EQ(d.Z.n_cols, d.n_u);
  EXPECT_EQ(d.Z.row_ptr.size(), n + 1);
  EXPECT_EQ(d.Z.n_nonzeros(), n * sum_k);

  std::size_t held = bytes(d.y) + bytes(d.trials) + bytes(d.se) + bytes(d.offset) +
                     bytes_of_strings(d.coef_names) + bytes(d.X) + bytes(d.column_means) +
                     bytes(d.terms) + bytes(d.Z) + bytes(d.row_of_obs) +
                     bytes_of_strings(d.messages);
  for (const auto& b : d.terms) {
    held += bytes_of_strings(b.coef_names) + bytes_of_strings(b.level_labels) +
            bytes(b.level_idx) + bytes(b.covariates);
  }
  const std::size_t x_and_csr = bytes(d.X) + bytes(d.Z);
  const double dense_z = static_cast<double>(n) * static_cast<double>(d.n_u) * sizeof(double);
  std::cout << "design of " << n << " rows, n_u = " << d.n_u << ": built in " << seconds
            << " s; holds " << held / 1e6 << " MB (X + Z arrays " << x_and_csr / 1e6
            << " MB); a dense Z would take " << dense_z / 1e9 << " GB\n";
  EXPECT_LT(held, 3 * x_and_csr);
  EXPECT_LT(static_cast<double>(held) * 1000.0, dense_z);
}

}  // namespace
}  // namespace hbglm
