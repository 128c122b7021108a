/** @file Parsing of `--prior` statements and the univariate prior densities with their
 *  truncation constants. The parser is a hand-written scanner over the trimmed statement so that
 *  every error can point a caret at the offending character. */

#include "hbglm/prior.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "hbglm/error.hpp"

namespace hbglm {

namespace {

constexpr double k_pi = 3.14159265358979323846264338327950288;
constexpr double k_log_pi = 1.14472988584940017414342735135305871;
constexpr double k_log_sqrt_2pi = 0.918938533204672741780329736405617640;
constexpr double k_log_2 = 0.693147180559945309417232121458176568;
constexpr double k_inf = std::numeric_limits<double>::infinity();

/** What the parser and text() know about one distribution name. */
struct family_info {
  prior_family family;
  const char* name;
  std::size_t n_args;
  const char* arg_names;  ///< for "takes 2 arguments (mu, sigma)"
};

constexpr family_info k_families[] = {
    {prior_family::flat, "flat", 0, ""},
    {prior_family::normal, "normal", 2, "mu, sigma"},
    {prior_family::student_t, "student_t", 3, "nu, mu, sigma"},
    {prior_family::cauchy, "cauchy", 2, "mu, sigma"},
    {prior_family::exponential, "exponential", 1, "rate"},
    {prior_family::gamma, "gamma", 2, "shape, rate"},
    {prior_family::lognormal, "lognormal", 2, "mu, sigma"},
    {prior_family::uniform, "uniform", 2, "lower, upper"},
    {prior_family::lkj, "lkj", 1, "eta"},
    {prior_family::constant, "constant", 1, "value"},
};

const family_info& info_of(prior_family f) {
  for (const family_info& info : k_families) {
    if (info.family == f) return info;
  }
  throw std::logic_error("prior: unknown prior_family value");
}

std::string valid_family_list() {
  std::string out;
  for (const family_info& info : k_families) {
    if (!out.empty()) out += ", ";
    out += info.name;
  }
  return out;
}

/** Which arguments must be strictly positive (scales, rates, shapes, degrees of freedom, eta). */
bool arg_must_be_positive(prior_family f, std::size_t arg_idx) {
  switch (f) {
    case prior_family::normal:
    case prior_family::cauchy:
    case prior_family::lognormal:
      return arg_idx == 1;
    case prior_family::student_t:
      return arg_idx == 0 || arg_idx == 2;
    case prior_family::exponential:
    case prior_family::gamma:
    case prior_family::lkj:
      return true;
    case prior_family::flat:
    case prior_family::uniform:
    case prior_family::constant:
      return false;
  }
  return false;
}

/** %g rendering (6 significant digits, so 10 prints as "10", not "1e+01"), widened to the fewest
 *  digits that read back as the same double: "0.1" stays "0.1" rather than %.17g's
 *  "0.10000000000000001", yet no argument is silently rounded in messages.
 *  to_chars/from_chars rather than snprintf/strtod: they ignore the locale's decimal comma. */
std::string format_number(double v) {
  char buf[64];
  std::to_chars_result written{};
  for (int precision = 6; precision <= 17; ++precision) {
    written = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, precision);
    double back = 0.0;
    std::from_chars(buf, written.ptr, back);
    if (back == v) break;
  }
  return std::string(buf, written.ptr);
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) { return is_alpha(c) || is_digit(c) || c == '_' || c == '.'; }

/** Scanner over the trimmed statement; every error carries the caret position. */
class prior_parser {
 public:
  explicit prior_parser(std::string text) : text_(std::move(text)) {}

  prior_spec parse() {
    prior_spec spec;
    spec.text = text_;
    if (text_.empty()) fail("empty prior statement", 0);

    parse_class(spec);
    skip_space();
    if (peek() != '~') {
      fail(at_end() ? "expected '~' and a distribution after the class"
                    : "expected '~' between the class and the distribution",
           pos_);
    }
    ++pos_;
    skip_space();
    const std::size_t dist_pos = pos_;
    parse_distribution(spec.dist);
    skip_space();
    if (!at_end()) fail("unexpected text after the prior", pos_);
    check_class_fits_distribution(spec, dist_pos);
    return spec;
  }

 private:
  [[noreturn]] void fail(const std::string& problem, std::size_t caret_pos) const {
    throw prior_error(problem + "\n" + text_ + "\n" + std::string(caret_pos, ' ') + "^");
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  void skip_space() {
    while (!at_end() && is_space(text_[pos_])) ++pos_;
  }

  std::string read_identifier() {
    const std::size_t start = pos_;
    if (!at_end() && (is_alpha(peek()) || peek() == '_' || peek() == '.')) {
      while (!at_end() && is_ident_char(peek())) ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }

  void parse_class(prior_spec& spec) {
    static const char* const k_valid = "b, Intercept, sd, cor, sigma";
    const std::size_t class_pos = pos_;
    const std::string name = read_identifier();
    if (name.empty()) {
      fail(std::string("expected a parameter class (one of ") + k_valid + ")", class_pos);
    }
    if (name == "b") {
      spec.target = prior_class::b;
    } else if (name == "Intercept") {
      spec.target = prior_class::intercept;
    } else if (name == "sd") {
      spec.target = prior_class::sd;
    } else if (name == "cor") {
      spec.target = prior_class::cor;
    } else if (name == "sigma") {
      spec.target = prior_class::sigma;
    } else {
      fail("unknown prior class '" + name + "'; valid classes: " + k_valid, class_pos);
    }

    skip_space();
    if (peek() != '[') return;
    const std::size_t bracket_pos = pos_;
    if (spec.target == prior_class::intercept || spec.target == prior_class::sigma) {
      fail(name + " takes no selector", bracket_pos);
    }
    ++pos_;
    std::vector<std::string> entries;
    std::vector<std::size_t> comma_positions;
    for (;;) {
      entries.push_back(read_selector_name());
      skip_space();
      if (peek() == ',') {
        comma_positions.push_back(pos_);
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        break;
      }
      fail("expected ',' or ']' in the selector", pos_);
    }

    // Entries beyond what the class allows point at the comma that introduced them.
    std::size_t max_entries = 1;
    const char* usage = "b[coef]";
    if (spec.target == prior_class::sd) {
      max_entries = 2;
      usage = "sd[group] or sd[group,coef]";
    } else if (spec.target == prior_class::cor) {
      usage = "cor[group]";
    }
    if (entries.size() > max_entries) {
      fail("too many selector entries; write " + std::string(usage),
           comma_positions[max_entries - 1]);
    }
    if (spec.target == prior_class::b) {
      spec.coef = entries[0];
    } else {
      spec.group = entries[0];
      if (entries.size() == 2) spec.coef = entries[1];
    }
  }

  /** A group or coefficient name: parts of [A-Za-z0-9._] joined by ':' (interactions such as
   *  x1:x2, nested groups such as g1:g2); blanks around ':' are dropped. */
  std::string read_selector_name() {
    std::string name;
    for (;;) {
      skip_space();
      const std::size_t part_pos = pos_;
      while (!at_end() && is_ident_char(peek())) ++pos_;
      if (pos_ == part_pos) fail("expected a name in the selector", part_pos);
      name += text_.substr(part_pos, pos_ - part_pos);
      skip_space();
      if (peek() != ':') return name;
      name += ':';
      ++pos_;
    }
  }

  /** A number in C/R syntax: optional sign, digits with an optional point, optional exponent.
   *  inf, nan and hex are rejected so every prior argument is a finite literal. */
  double read_number() {
    const std::size_t start = pos_;
    bool negative = false;
    if (peek() == '+' || peek() == '-') {
      negative = peek() == '-';
      ++pos_;
      skip_space();
    }
    const std::size_t body = pos_;
    std::size_t n_digits = 0;
    while (is_digit(peek())) {
      ++pos_;
      ++n_digits;
    }
    if (peek() == '.') {
      ++pos_;
      while (is_digit(peek())) {
        ++pos_;
        ++n_digits;
      }
    }
    if (n_digits == 0) fail("expected a number", start);
    if (peek() == 'e' || peek() == 'E') {
      std::size_t p = pos_ + 1;
      if (p < text_.size() && (text_[p] == '+' || text_[p] == '-')) ++p;
      if (p >= text_.size() || !is_digit(text_[p])) fail("malformed exponent in number", pos_);
      while (p < text_.size() && is_digit(text_[p])) ++p;
      pos_ = p;
    }
    // from_chars does not accept a leading '+', and is locale-independent unlike strtod.
    std::string digits = text_.substr(body, pos_ - body);
    if (digits[0] == '.') digits.insert(0, "0");
    double value = 0.0;
    const auto result = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    // Overflow and underflow alike: a literal that is not the double it appears to be is an error.
    if (result.ec == std::errc::result_out_of_range) {
      fail("number out of range for a double", start);
    }
    if (result.ec != std::errc() || result.ptr != digits.data() + digits.size()) {
      fail("expected a number", start);
    }
    if (is_alpha(peek()) || peek() == '_' || peek() == '.') fail("expected a number", start);
    return negative ? -value : value;
  }

  void parse_distribution(prior_distribution& dist) {
    const std::size_t name_pos = pos_;
    const std::string name = read_identifier();
    if (name.empty()) {
      fail("expected a distribution (one of " + valid_family_list() + ")", name_pos);
    }
    const family_info* info = nullptr;
    for (const family_info& candidate : k_families) {
      if (name == candidate.name) info = &candidate;
    }
    if (info == nullptr) {
      fail("unknown distribution '" + name + "'; valid distributions: " + valid_family_list(),
           name_pos);
    }
    dist.family = info->family;
    dist.args.clear();

    skip_space();
    if (peek() != '(') {
      if (info->n_args == 0) return;  // bare "flat"
      fail("expected '(' and " + std::to_string(info->n_args) + " argument" +
               (info->n_args == 1 ? "" : "s") + " (" + info->arg_names + ") after '" + name + "'",
           pos_);
    }
    ++pos_;
    std::vector<std::size_t> arg_positions;
    skip_space();
    if (peek() != ')') {
      for (;;) {
        skip_space();
        arg_positions.push_back(pos_);
        dist.args.push_back(read_number());
        skip_space();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        if (peek() == ')') break;
        fail("expected ',' or ')' after an argument", pos_);
      }
    }
    const std::size_t close_pos = pos_;
    ++pos_;

    if (dist.args.size() != info->n_args) {
      std::string expected = info->n_args == 0
                                 ? std::string("no arguments")
                                 : std::to_string(info->n_args) +
                                       (info->n_args == 1 ? " argument (" : " arguments (") +
                                       info->arg_names + ")";
      // Too many: point at the first surplus argument; too few: at the ')' where one is missing.
      const std::size_t caret =
          dist.args.size() > info->n_args ? arg_positions[info->n_args] : close_pos;
      fail(name + " takes " + expected + ", got " + std::to_string(dist.args.size()), caret);
    }

    for (std::size_t arg_idx = 0; arg_idx < dist.args.size(); ++arg_idx) {
      if (arg_must_be_positive(info->family, arg_idx) && !(dist.args[arg_idx] > 0.0)) {
        const std::string arg_names = info->arg_names;
        // arg_names is "a, b, c": pick the arg_idx-th entry for the message.
        std::size_t begin = 0;
        for (std::size_t k = 0; k < arg_idx; ++k) begin = arg_names.find(", ", begin) + 2;
        const std::size_t end = arg_names.find(',', begin);
        fail(name + ": " + arg_names.substr(begin, end - begin) + " must be positive",
             arg_positions[arg_idx]);
      }
    }
    if (info->family == prior_family::uniform && !(dist.args[0] < dist.args[1])) {
      fail("uniform: lower must be less than upper", arg_positions[0]);
    }
  }

  void check_class_fits_distribution(const prior_spec& spec, std::size_t dist_pos) const {
    const bool is_cor = spec.target == prior_class::cor;
    const bool is_lkj = spec.dist.family == prior_family::lkj;
    if (is_lkj && !is_cor) fail("lkj applies only to the class cor", dist_pos);
    if (is_cor && !is_lkj) {
      fail("the class cor takes only lkj(eta), a prior on correlation matrices", dist_pos);
    }
  }

  std::string text_;
  std::size_t pos_ = 0;
};

std::string trim(const std::string& s) {
  std::size_t begin = 0;
  std::size_t end = s.size();
  while (begin < end && is_space(s[begin])) ++begin;
  while (end > begin && is_space(s[end - 1])) --end;
  return s.substr(begin, end - begin);
}

// ---- special functions for the truncation constants ----

/** log Phi(z), the standard normal log CDF. erfc keeps full relative precision in the lower tail
 *  down to z = -37 (erfc(26.2) ~ 1e-300, still a normal double); below that the asymptotic series
 *  log phi(z) - log(-z) + log(1 - 1/z^2 + 3/z^4 - ...) is used, whose truncation error after the
 *  z^-10 term is below 11!!/37^12 < 2e-15. */
double log_normal_cdf(double z) {
  if (std::isnan(z)) return z;
  if (z > 0.0) return std::log1p(-0.5 * std::erfc(z / std::sqrt(2.0)));
  if (z > -37.0) return std::log(0.5 * std::erfc(-z / std::sqrt(2.0)));
  const double inv_z2 = 1.0 / (z * z);
  const double series =
      1.0 - inv_z2 * (1.0 - 3.0 * inv_z2 *
                                (1.0 - 5.0 * inv_z2 * (1.0 - 7.0 * inv_z2 * (1.0 - 9.0 * inv_z2))));
  return -0.5 * z * z - k_log_sqrt_2pi - std::log(-z) + std::log(series);
}

/** Continued fraction of the incomplete beta function, evaluated by the modified Lentz method
 *  (the scheme of Numerical Recipes §6.4, betacf). Converges quickly for x < x0 = (a+1)/(a+b+2);
 *  the iteration count grows like sqrt(max(a, b)).
 *  Near x0 the fraction is ill-conditioned: a change dx in x moves its value by a relative
 *  dx/(x0 - x), and the steps 1 + aa * d cancel to the same degree. For the t CDF with nu = 2a in
 *  the millions, x0 - x is ~1e-6 near |t| = sqrt(3), which turned rounding of x in double into
 *  errors of 1e-10. So the fraction runs in long double (64-bit mantissa on x86-64; where long
 *  double is double the error returns to ~nu * 1e-16), and callers pass x and y = 1 - x each
 *  computed directly rather than one as 1 minus the other. */
long double beta_continued_fraction(long double a, long double b, long double x, long double y) {
  constexpr int k_max_iterations = 1000000;
  const long double k_eps = 4 * std::numeric_limits<long double>::epsilon();
  const long double k_tiny = 1e-300L;  // keeps Lentz's denominators away from zero
  const long double qab = a + b;
  const long double qap = a + 1;
  const long double qam = a - 1;
  long double c = 1;
  // 1 - (a + b) x / (a + 1), rewritten with y = 1 - x so that x near 1 does not cancel.
  long double d = ((1 - b) + qab * y) / qap;
  if (std::fabs(d) < k_tiny) d = k_tiny;
  d = 1 / d;
  long double h = d;
  for (int m = 1; m <= k_max_iterations; ++m) {
    const long double m2 = 2.0L * m;
    // even step: d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m))
    long double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < k_tiny) d = k_tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < k_tiny) c = k_tiny;
    d = 1 / d;
    h *= d * c;
    // odd step: d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < k_tiny) d = k_tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < k_tiny) c = k_tiny;
    d = 1 / d;
    const long double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < k_eps) return h;
  }
  throw std::runtime_error("incomplete beta continued fraction did not converge");
}

/** lgamma(x) without writing the global signgam as std::lgamma does (chains evaluate their
 *  priors at once on several threads; glibc's lgamma_r). */
double log_gamma(double x) {
  int sign = 0;
  return ::lgamma_r(x, &sign);
}

/** Stirling-series remainder lgamma(x) - ((x - 1/2) log x - x + log sqrt(2 pi)) for x >= 15;
 *  the first omitted term, 691/(360360 x^11), is below 3e-16 there. */
double log_gamma_stirling_remainder(double x) {
  const double inv_x = 1.0 / x;
  const double inv_x2 = inv_x * inv_x;
  return inv_x * (1.0 / 12.0 -
                  inv_x2 * (1.0 / 360.0 -
                            inv_x2 * (1.0 / 1260.0 - inv_x2 * (1.0 / 1680.0 - inv_x2 / 1188.0))));
}

/** lgamma(a + b) - lgamma(a) for a >= 0 and small b. Subtracting two lgamma values loses about
 *  eps * lgamma(a) absolutely (1e-7 at a = 5e7), so for a >= 15 the leading Stirling terms are
 *  combined analytically as (a - 1/2) log1p(b/a) + b log(a + b) - b, which has no cancellation. */
double log_gamma_ratio(double a, double b) {
  if (a < 15.0) return log_gamma(a + b) - log_gamma(a);
  return (a - 0.5) * std::log1p(b / a) + b * std::log(a + b) - b +
         log_gamma_stirling_remainder(a + b) - log_gamma_stirling_remainder(a);
}

/** log(upper - lower) for lower < upper, also where the difference overflows
 *  (uniform(-1e308, 1e308)): then as log 2 + log(upper/2 - lower/2). */
double log_width(double lower, double upper) {
  const double width = upper - lower;
  if (std::isfinite(width)) return std::log(width);
  return k_log_2 + std::log(0.5 * upper - 0.5 * lower);
}

/** log(1 / B(a, b)) = lgamma(a + b) - lgamma(a) - lgamma(b), for b small or a small. */
double log_inverse_beta(double a, double b) {
  const double big = std::max(a, b);
  const double small = std::min(a, b);
  return log_gamma_ratio(big, small) - log_gamma(small);
}

/** log I_x(a, b), the log regularized incomplete beta function, for b small (the t CDF uses
 *  b = 1/2; the prefactor is accurate when max(a, b) is large and min(a, b) is not).
 *  y = 1 - x and the logs of x and y are passed separately so callers can form them without
 *  cancellation: a log x with a = 5e7 must not inherit the rounding of x = 1 - 1e-9.
 *  The continued fraction is evaluated on the side where it converges (NR's symmetry
 *  I_x(a,b) = 1 - I_y(b,a)); on the direct side the result stays accurate in log space even when
 *  I underflows. */
double log_inc_beta(double a, double b, long double x, long double y, double log_x, double log_y) {
  if (x <= 0.0) return -k_inf;
  if (y <= 0.0) return 0.0;
  const double log_front = log_inverse_beta(a, b) + a * log_x + b * log_y;
  // x < (a + 1)/(a + b + 2), tested as y > (b + 1)/(a + b + 2): for huge a the first form rounds
  // both sides to 1 and picks the side whose fraction needs ~a*y iterations.
  if (y > (b + 1.0) / (a + b + 2.0)) {
    return log_front + static_cast<double>(std::log(beta_continued_fraction(a, b, x, y))) -
           std::log(a);
  }
  return std::log1p(-std::exp(log_front) *
                    static_cast<double>(beta_continued_fraction(b, a, y, x)) / b);
}

/** log F(t), t = mu/sigma, for Student's t with nu degrees of freedom (location 0, scale 1),
 *  from P(|T| > |t|) = I_{nu/(nu+t^2)}(nu/2, 1/2). mu and sigma come separately because t may
 *  overflow where log|t| does not (sigma = 1e-300), and a t tail is heavy enough for that to
 *  matter. Degrees of freedom below 1e-100 and the far tail (nu/t^2 < 1e-20) have their own
 *  expansions below.
 *  The continued fraction loses accuracy as nu grows (about 1e-12 relative near |t| = sqrt(3) at
 *  nu = 1e7, more in the tails beyond nu = 1e9, measured against 80-digit series), so for
 *  nu > 1e6 and t^4 <= 2.56e-4 nu (t^2 <= 16 at nu = 1e6) the Fisher expansion
 *  F(t) = Phi(t) - phi(t) [(t^3 + t)/(4 nu) + (3t^7 - 7t^5 - 5t^3 - 3t)/(96 nu^2)] + O(nu^-3)
 *  is used instead. Its terms shrink like (t^4/nu)^k; the first omitted one is about
 *  (3/384) t^12/nu^3 relative, which that bound keeps below 1e-13 in log F.
 *  Measured against 80-digit series for nu in [0.3, 1e20] and |t| <= 1000: relative error in
 *  log F below 3e-13 everywhere, below 1e-14 for nu <= 1e3. */
double log_student_t_cdf(double mu, double sigma, double nu) {
  if (std::isnan(mu) || std::isnan(sigma) || std::isnan(nu)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (mu == 0.0) return -k_log_2;
  const double t = mu / sigma;  // may overflow; log|t| below does not
  const double log_abs_t = std::log(std::fabs(mu)) - std::log(sigma);
  const double t2 = t * t;
  // log x = log(nu / (nu + t^2)) through s = |t|/sqrt(nu), so that neither t, t^2 nor t^2/nu
  // has to be finite: once s^2 > 1e300, log1p(1/s^2) is below 1e-300 and dropped.
  const double s = std::fabs(t) / std::sqrt(nu);
  const double t2_over_nu = t2 / nu;
  const double log_x = s >= 1e150                   ? std::log(nu) - 2.0 * log_abs_t
                       : std::isfinite(t2_over_nu) ? -std::log1p(t2_over_nu)
                                                   : -std::log1p(s * s);
  if (nu < 1e-100) {
    // As nu -> 0 the mass leaves every bounded interval: P(|T| > |t|) = 1 - nu atanh(sqrt(y)) +
    // O((nu log)^2), y = t^2/(nu + t^2) (from 1/B(a, 1/2) = a + O(a^2) and
    // int_x^1 u^-1 (1 - u)^-1/2 du = 2 atanh(sqrt(1 - x))). Here the relative error is below
    // 1e-190, while the continued fraction's prefactor breaks down once nu/2 nears underflow.
    // atanh(sqrt(y)) = log(1 + sqrt(y)) - log(x)/2 keeps y near 1 from cancelling.
    const double inv_s = 1.0 / s;
    const double y = 1.0 / (1.0 + inv_s * inv_s);
    const double inner_mass = nu * (std::log1p(std::sqrt(y)) - 0.5 * log_x);  // P(|T| <= |t|)
    return -k_log_2 + std::log1p(t < 0.0 ? -inner_mass : inner_mass);
  }
  if (log_x < -46.0) {
    // Far tail, x < 1e-20: the leading term of the incomplete beta series,
    // I_x(a, b) = x^a / (a B(a, b)) (1 + O(x)), here exact to double precision, and the only form
    // that stays finite in log space when t^2 overflows (F = 1/(pi |t|) for nu = 1 is far from
    // zero in log space even at |t| = 1e300).
    const double a = 0.5 * nu;
    const double log_two_tails = a * log_x - std::log(a) + log_inverse_beta(a, 0.5);
    if (t < 0.0) return log_two_tails - k_log_2;
    return std::log1p(-0.5 * std::exp(log_two_tails));
  }
  // Beyond nu = 1e30 even long double cannot hold x = nu/(nu + t^2) apart from 1 where it
  // matters; the normal CDF is then within a relative max(t^2, t^4)/nu of the t CDF.
  if (nu > 1e30) return log_normal_cdf(t);
  if (nu > 1e6 && t2 * t2 <= 2.56e-4 * nu) {
    const double log_cdf = log_normal_cdf(t);
    const double log_pdf = -0.5 * t2 - k_log_sqrt_2pi;
    const double g1 = (t2 * t + t) / 4.0;
    const double g2 = t * (((3.0 * t2 - 7.0) * t2 - 5.0) * t2 - 3.0) / 96.0;
    const double correction = (g1 + g2 / nu) / nu;
    return log_cdf + std::log1p(-std::exp(log_pdf - log_cdf) * correction);
  }
  const long double t2_long = static_cast<long double>(t) * t;
  const long double x = nu / (nu + t2_long);
  const long double y = t2_long / (nu + t2_long);
  const double log_y = std::log(t2) - std::log(nu + t2);
  const double log_two_tails = log_inc_beta(0.5 * nu, 0.5, x, y, log_x, log_y);  // P(|T| > |t|)
  if (t < 0.0) return log_two_tails - k_log_2;
  return std::log1p(-0.5 * std::exp(log_two_tails));
}

}  // namespace

std::string prior_distribution::text() const {
  const family_info& info = info_of(family);
  if (family == prior_family::flat && args.empty()) return info.name;
  std::string out = info.name;
  out += '(';
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i > 0) out += ", ";
    out += format_number(args[i]);
  }
  out += ')';
  return out;
}

prior_spec parse_prior(const std::string& text) { return prior_parser(trim(text)).parse(); }

double prior_log_density(const prior_distribution& d, double x, double* d_dx) {
  double grad = 0.0;
  double lp = 0.0;
  const auto& a = d.args;
  const auto need = [&](std::size_t n) {
    if (a.size() != n) {
      throw std::invalid_argument("prior_log_density: " + std::string(info_of(d.family).name) +
                                  " needs " + std::to_string(n) + " arguments");
    }
  };
  if (d.family == prior_family::lkj) {
    throw std::logic_error(
        "prior_log_density: lkj is a prior on correlation matrices, not a "
        "univariate density");
  }
  if (std::isnan(x)) {
    // NaN propagates so the caller's non-finite check turns it into a rejection.
    if (d_dx != nullptr) *d_dx = x;
    return x;
  }
  if (std::isinf(x)) {
    if (d_dx != nullptr) *d_dx = 0.0;
    return -k_inf;
  }
  switch (d.family) {
    case prior_family::flat:
    case prior_family::constant:
      break;
    case prior_family::normal: {
      need(2);
      const double z = (x - a[0]) / a[1];
      lp = -k_log_sqrt_2pi - std::log(a[1]) - 0.5 * z * z;
      grad = -z / a[1];
      break;
    }
    case prior_family::student_t: {
      need(3);
      const double nu = a[0];
      const double sigma = a[2];
      const double z = (x - a[1]) / sigma;
      // log(1 + z^2/nu); once z^2/nu overflows (nu near zero, or |z| beyond 1e154) it is
      // log(nu + z^2) - log(nu), with log(nu + z^2) = 2 log|z| + log1p(nu/z^2) so that z^2 itself
      // never has to be formed.
      const double z2_over_nu = z * z / nu;
      const double abs_z = std::fabs(z);
      const double log_kernel =
          std::isinf(z2_over_nu)
              ? 2.0 * std::log(abs_z) + std::log1p(nu / abs_z / abs_z) - std::log(nu)
              : std::log1p(z2_over_nu);
      // log_gamma_ratio rather than two lgamma calls keeps large nu accurate.
      lp = log_gamma_ratio(0.5 * nu, 0.5) - 0.5 * (std::log(nu) + k_log_pi) - std::log(sigma) -
           0.5 * (nu + 1.0) * log_kernel;
      grad = -(nu + 1.0) * z / (sigma * (nu + z * z));
      break;
    }
    case prior_family::cauchy: {
      need(2);
      const double z = (x - a[0]) / a[1];
      lp = -k_log_pi - std::log(a[1]) - std::log1p(z * z);
      grad = -2.0 * z / (a[1] * (1.0 + z * z));
      break;
    }
    case prior_family::exponential:
      need(1);
      if (x < 0.0) {
        lp = -k_inf;
      } else {
        lp = std::log(a[0]) - a[0] * x;
        grad = -a[0];
      }
      break;
    case prior_family::gamma:
      need(2);
      if (x <= 0.0) {
        lp = -k_inf;
      } else {
        lp = a[0] * std::log(a[1]) - log_gamma(a[0]) + (a[0] - 1.0) * std::log(x) - a[1] * x;
        grad = (a[0] - 1.0) / x - a[1];
      }
      break;
    case prior_family::lognormal:
      need(2);
      if (x <= 0.0) {
        lp = -k_inf;
      } else {
        const double z = (std::log(x) - a[0]) / a[1];
        lp = -k_log_sqrt_2pi - std::log(a[1]) - std::log(x) - 0.5 * z * z;
        grad = -(1.0 + z / a[1]) / x;
      }
      break;
    case prior_family::uniform:
      need(2);
      lp = (x < a[0] || x > a[1]) ? -k_inf : -log_width(a[0], a[1]);
      break;
    case prior_family::lkj:
      break;  // handled above
  }
  if (d_dx != nullptr) *d_dx = grad;
  return lp;
}

double prior_log_mass_above_zero(const prior_distribution& d) {
  const auto& a = d.args;
  switch (d.family) {
    case prior_family::flat:
    case prior_family::constant:
    case prior_family::exponential:
    case prior_family::gamma:
    case prior_family::lognormal:
      return 0.0;
    case prior_family::normal:
      // P(X > 0) = Phi(mu / sigma).
      return log_normal_cdf(a.at(0) / a.at(1));
    case prior_family::cauchy: {
      // 0.5 + atan(z)/pi cancels for z << 0; there it equals atan(-1/z)/pi, and for z > 0 it is
      // 1 - atan(1/z)/pi, which log1p keeps accurate.
      const double z = a.at(0) / a.at(1);
      if (z == 0.0) return -k_log_2;
      // Beyond |z| = 1e150, atan(1/|z|) = 1/|z| to double precision, and log|z| is taken from
      // mu and sigma because z itself may have overflowed.
      if (z < -1e150) return -k_log_pi - (std::log(-a.at(0)) - std::log(a.at(1)));
      if (z < 0.0) return std::log(std::atan(-1.0 / z) / k_pi);
      return std::log1p(-std::atan(1.0 / z) / k_pi);
    }
    case prior_family::student_t:
      // P(X > 0) = P(T > -mu/sigma) = F_nu(mu/sigma) by symmetry.
      return log_student_t_cdf(a.at(1), a.at(2), a.at(0));
    case prior_family::uniform: {
      const double lower = a.at(0);
      const double upper = a.at(1);
      if (upper <= 0.0) {
        throw prior_error("uniform(" + format_number(lower) + ", " + format_number(upper) +
                          ") has no mass above zero, so it cannot be a prior on a positive "
                          "parameter (sd or sigma)");
      }
      // A difference of logs, so that the ratio cannot underflow; upper - max(lower, 0) cannot
      // overflow (both terms have the same sign or one is zero).
      return std::log(upper - std::max(lower, 0.0)) - log_width(lower, upper);
    }
    case prior_family::lkj:
      throw std::logic_error("prior_log_mass_above_zero: lkj is not a univariate distribution");
  }
  return 0.0;
}

}  // namespace hbglm
