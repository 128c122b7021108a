/** @file libFuzzer target: parse_formula on arbitrary text.
 *
 *  Checks, for every formula the parser accepts: the response is named; every term has at least
 *  one variable, none twice, and no two terms of a part are the same set of variables; terms are
 *  ordered by degree; every random term has a coefficient and at least one grouping factor, none
 *  twice; trials/cbind/se are not combined. Then a round trip: the parsed formula written back in
 *  canonical form (every name backquoted) parses to the same formula. */

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_common.hpp"
#include "hbglm/formula.hpp"

namespace {

using hbglm::formula;
using hbglm::formula_rhs;
using hbglm::formula_term;
using hbglm::formula_variable;
using hbglm::random_term;

using variable_set = std::set<std::pair<std::string, bool>>;

variable_set as_set(const formula_term& t) {
  variable_set s;
  for (const formula_variable& v : t.variables) s.emplace(v.name, v.as_factor);
  return s;
}

void check_rhs(const formula_rhs& rhs, const std::string& where) {
  std::set<variable_set> seen;
  std::size_t degree = 0;
  for (const formula_term& t : rhs.terms) {
    HBGLM_FUZZ_CHECK(!t.variables.empty(), where + ": an empty term is stored");
    for (const formula_variable& v : t.variables) {
      HBGLM_FUZZ_CHECK(!v.name.empty(), where + ": a variable with an empty name");
    }
    const variable_set s = as_set(t);
    HBGLM_FUZZ_CHECK(s.size() == t.variables.size(),
                     where + ": a variable twice in term '" + t.label() + "'");
    HBGLM_FUZZ_CHECK(seen.insert(s).second, where + ": term '" + t.label() + "' twice");
    HBGLM_FUZZ_CHECK(t.variables.size() >= degree, where + ": terms not ordered by degree");
    degree = t.variables.size();
    HBGLM_FUZZ_CHECK(!t.label().empty(), where + ": empty label");
  }
}

void check_formula(const formula& f, const std::string& text) {
  HBGLM_FUZZ_CHECK(f.text == text, "text is not the input");
  HBGLM_FUZZ_CHECK(!f.response.empty(), "no response");
  HBGLM_FUZZ_CHECK(f.trials.empty() || f.failures.empty(), "trials() and cbind() together");
  HBGLM_FUZZ_CHECK(f.se.empty() || (f.trials.empty() && f.failures.empty()),
                   "se() with binomial trials");
  HBGLM_FUZZ_CHECK(!f.intercept_as_coef || f.fixed.intercept, "0 + Intercept without intercept");
  for (const std::string& o : f.offsets) HBGLM_FUZZ_CHECK(!o.empty(), "empty offset name");
  HBGLM_FUZZ_CHECK(std::set<std::string>(f.offsets.begin(), f.offsets.end()).size() ==
                       f.offsets.size(),
                   "an offset twice");
  check_rhs(f.fixed, "fixed part");
  for (const random_term& r : f.random) {
    const std::string where = "random term on '" + r.group_label() + "'";
    HBGLM_FUZZ_CHECK(!r.group_factors.empty(), "a random term without a grouping factor");
    std::set<std::string> groups;
    for (const std::string& g : r.group_factors) {
      HBGLM_FUZZ_CHECK(!g.empty(), where + ": empty grouping factor name");
      HBGLM_FUZZ_CHECK(groups.insert(g).second, where + ": grouping factor twice");
    }
    HBGLM_FUZZ_CHECK(r.lhs.intercept || !r.lhs.terms.empty(), where + ": no coefficient");
    check_rhs(r.lhs, where);
  }
}

std::string quoted(const std::string& name) { return "`" + name + "`"; }

std::string write_variable(const formula_variable& v) {
  return v.as_factor ? "factor(" + quoted(v.name) + ")" : quoted(v.name);
}

std::string write_rhs(const formula_rhs& rhs, bool intercept_as_coef) {
  std::string out;
  if (intercept_as_coef) {
    out = "0 + Intercept";
  } else {
    out = rhs.intercept ? "1" : "0";
  }
  for (const formula_term& t : rhs.terms) {
    out += " + ";
    for (std::size_t i = 0; i < t.variables.size(); ++i) {
      if (i > 0) out += ":";
      out += write_variable(t.variables[i]);
    }
  }
  return out;
}

/** The formula in canonical form: what the parser built, spelled out again. */
std::string write_formula(const formula& f) {
  std::string out;
  if (!f.failures.empty()) {
    out = "cbind(" + quoted(f.response) + ", " + quoted(f.failures) + ")";
  } else {
    out = quoted(f.response);
    if (!f.trials.empty()) out += " | trials(" + quoted(f.trials) + ")";
    if (!f.se.empty()) out += " | se(" + quoted(f.se) + ")";
  }
  out += " ~ " + write_rhs(f.fixed, f.intercept_as_coef);
  for (const std::string& o : f.offsets) out += " + offset(" + quoted(o) + ")";
  for (const random_term& r : f.random) {
    out += " + (" + write_rhs(r.lhs, false) + (r.correlated ? " | " : " || ");
    for (std::size_t i = 0; i < r.group_factors.size(); ++i) {
      if (i > 0) out += ":";
      out += quoted(r.group_factors[i]);
    }
    out += ")";
  }
  return out;
}

/** Terms compare as sets of variables: the order inside an interaction follows first appearance
 *  in the text, which the canonical form may change (`a:b + b` becomes `b + a:b`). */
bool same_rhs(const formula_rhs& a, const formula_rhs& b) {
  if (a.intercept != b.intercept || a.terms.size() != b.terms.size()) return false;
  for (std::size_t i = 0; i < a.terms.size(); ++i) {
    if (as_set(a.terms[i]) != as_set(b.terms[i])) return false;
  }
  return true;
}

void check_round_trip(const formula& f) {
  // A name holding a backquote cannot be backquoted; the tokenizer never produces one.
  const std::string text = write_formula(f);
  formula g;
  try {
    g = hbglm::parse_formula(text);
  } catch (const hbglm::error& e) {
    hbglm::fuzz::fail(__FILE__, __LINE__,
                      "canonical form '" + text + "' does not parse: " + e.what());
  }
  const std::string context = " (canonical form: " + text + ")";
  HBGLM_FUZZ_CHECK(g.response == f.response && g.trials == f.trials &&
                       g.failures == f.failures && g.se == f.se,
                   "round trip changes the response" + context);
  HBGLM_FUZZ_CHECK(g.offsets == f.offsets, "round trip changes the offsets" + context);
  HBGLM_FUZZ_CHECK(g.intercept_as_coef == f.intercept_as_coef,
                   "round trip changes 0 + Intercept" + context);
  HBGLM_FUZZ_CHECK(same_rhs(g.fixed, f.fixed), "round trip changes the fixed part" + context);
  HBGLM_FUZZ_CHECK(g.random.size() == f.random.size(),
                   "round trip changes the number of random terms" + context);
  for (std::size_t i = 0; i < f.random.size(); ++i) {
    HBGLM_FUZZ_CHECK(g.random[i].group_factors == f.random[i].group_factors &&
                         g.random[i].correlated == f.random[i].correlated &&
                         same_rhs(g.random[i].lhs, f.random[i].lhs),
                     "round trip changes random term " + std::to_string(i) + context);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  return hbglm::fuzz::run_one([&] {
    const formula f = hbglm::parse_formula(text);
    check_formula(f, text);
    check_round_trip(f);
  });
}
