/** @file libFuzzer target: parse_prior on arbitrary text.
 *
 *  Checks, for every statement the parser accepts: the argument count and constraints the grammar
 *  promises; that parsing spec.text again gives the same spec; that the statement rebuilt from the
 *  spec with prior_distribution::text() parses to the same spec, arguments bit for bit; and that
 *  the densities the model will evaluate (prior_log_density, prior_log_mass_above_zero) throw
 *  nothing but hbglm errors and give no NaN for the accepted arguments. */

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_common.hpp"
#include "hbglm/prior.hpp"

namespace {

using hbglm::prior_class;
using hbglm::prior_distribution;
using hbglm::prior_family;
using hbglm::prior_spec;

std::size_t n_args_of(prior_family f) {
  switch (f) {
    case prior_family::flat:
      return 0;
    case prior_family::exponential:
    case prior_family::lkj:
    case prior_family::constant:
      return 1;
    case prior_family::student_t:
      return 3;
    default:
      return 2;
  }
}

const char* class_name(prior_class c) {
  switch (c) {
    case prior_class::b:
      return "b";
    case prior_class::intercept:
      return "Intercept";
    case prior_class::sd:
      return "sd";
    case prior_class::cor:
      return "cor";
    case prior_class::sigma:
      return "sigma";
  }
  return "?";
}

bool same_spec(const prior_spec& a, const prior_spec& b) {
  if (a.target != b.target || a.group != b.group || a.coef != b.coef) return false;
  if (a.dist.family != b.dist.family || a.dist.args.size() != b.dist.args.size()) return false;
  for (std::size_t i = 0; i < a.dist.args.size(); ++i) {
    if (std::memcmp(&a.dist.args[i], &b.dist.args[i], sizeof(double)) != 0) return false;
  }
  return true;
}

void check_spec(const prior_spec& s) {
  const prior_distribution& d = s.dist;
  HBGLM_FUZZ_CHECK(d.args.size() == n_args_of(d.family), "wrong argument count accepted");
  for (double a : d.args) HBGLM_FUZZ_CHECK(std::isfinite(a), "non-finite argument accepted");
  HBGLM_FUZZ_CHECK((s.target == prior_class::cor) == (d.family == prior_family::lkj),
                   "lkj and cor go together");
  if (s.target == prior_class::intercept || s.target == prior_class::sigma) {
    HBGLM_FUZZ_CHECK(s.group.empty() && s.coef.empty(), "selector on Intercept or sigma");
  }
  if (s.target == prior_class::b) HBGLM_FUZZ_CHECK(s.group.empty(), "b with a group");
  if (s.target == prior_class::cor) HBGLM_FUZZ_CHECK(s.coef.empty(), "cor with a coefficient");
  if (!s.coef.empty() && s.target == prior_class::sd) {
    HBGLM_FUZZ_CHECK(!s.group.empty(), "sd[,coef] without a group");
  }
  if (d.family == prior_family::uniform) {
    HBGLM_FUZZ_CHECK(d.args[0] < d.args[1], "uniform with lower >= upper accepted");
  }
}

std::string rebuild(const prior_spec& s) {
  std::string out = class_name(s.target);
  if (!s.group.empty() || !s.coef.empty()) {
    out += "[";
    if (s.target == prior_class::b) {
      out += s.coef;
    } else {
      out += s.group;
      if (!s.coef.empty()) out += "," + s.coef;
    }
    out += "]";
  }
  return out + " ~ " + s.dist.text();
}

void check_reparse(const prior_spec& s, const std::string& text, const char* what) {
  prior_spec again;
  try {
    again = hbglm::parse_prior(text);
  } catch (const hbglm::error& e) {
    hbglm::fuzz::fail(__FILE__, __LINE__,
                      std::string(what) + " '" + text + "' does not parse: " + e.what());
  }
  HBGLM_FUZZ_CHECK(same_spec(s, again), std::string(what) + " '" + text + "' parses differently");
}

void check_densities(const prior_distribution& d) {
  if (d.family == prior_family::lkj) return;  // not univariate; both functions say so
  static const double xs[] = {-1e300, -2.5, -1.0, -1e-300, 0.0, 1e-300, 0.5, 1.0, 3.0, 1e300};
  for (double x : xs) {
    double grad = 0.0;
    const double lp = hbglm::prior_log_density(d, x, &grad);
    HBGLM_FUZZ_CHECK(!(lp > 0.0 && std::isinf(lp)), "log density +inf at x = " + std::to_string(x) +
                                                        " for " + d.text());
  }
  try {
    const double log_mass = hbglm::prior_log_mass_above_zero(d);
    HBGLM_FUZZ_CHECK(!std::isnan(log_mass), "NaN log mass above zero for " + d.text());
    HBGLM_FUZZ_CHECK(log_mass <= 1e-12, "log mass above zero > 0 for " + d.text());
  } catch (const hbglm::prior_error&) {
    // uniform with no mass above zero: documented, an hbglm error.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  return hbglm::fuzz::run_one([&] {
    const prior_spec s = hbglm::parse_prior(text);
    check_spec(s);
    (void)s.dist.text();
    check_reparse(s, s.text, "spec.text");
    check_reparse(s, rebuild(s), "the statement rebuilt with dist.text()");
    check_densities(s.dist);
  });
}
