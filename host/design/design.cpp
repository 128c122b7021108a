// The design builder: lme4's lFormula and R's model.matrix, for the parts of the syntax that
// formula.hpp parses. Works column by column so that 10 million rows stay affordable: each
// column of X and of a term's covariates is computed straight into its place in the design from
// the table's columns (no per-variable or per-column copies of n values), and a table handed
// over as an rvalue has its columns released as soon as no later step reads them.

#include "hbglm/design.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <unordered_map>

#include "hbglm/error.hpp"

namespace hbglm {

std::string to_string(family f) {
  switch (f) {
    case family::gaussian: return "gaussian";
    case family::bernoulli: return "bernoulli";
    case family::binomial: return "binomial";
    case family::poisson: return "poisson";
  }
  return "?";
}

family parse_family(const std::string& text) {
  static const std::pair<const char*, family> known[] = {
      {"gaussian", family::gaussian},          {"gaussian(identity)", family::gaussian},
      {"normal", family::gaussian},            {"bernoulli", family::bernoulli},
      {"bernoulli(logit)", family::bernoulli}, {"binomial", family::binomial},
      {"binomial(logit)", family::binomial},   {"poisson", family::poisson},
      {"poisson(log)", family::poisson}};
  for (const auto& [name, value] : known) {
    if (text == name) return value;
  }
  throw option_error("unknown family '" + text +
                     "': use gaussian, bernoulli, binomial or poisson (their canonical links: "
                     "identity, logit, logit, log)");
}

namespace {

/// A label for a numeric level, as R prints it: integers without a decimal point.
std::string number_label(double x) {
  if (x == 0.0) x = 0.0;  // -0 is the level 0, labelled "0"
  char buffer[64];
  if (x == std::floor(x) && std::fabs(x) < 1e15) {
    std::snprintf(buffer, sizeof buffer, "%.0f", x);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.15g", x);
  }
  return buffer;
}

/// brms's renaming of coefficient names: parentheses and spaces are dropped ("factor(x)2" →
/// "factorx2"), so that every name is one token in a prior statement and a CSV header.
std::string brms_name(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c != '(' && c != ')' && c != ' ' && c != ',') out += c;
  }
  return out;
}

/// Reads the data for a formula, row subset by row subset. Knows which rows are kept (no missing
/// value in any used column) and how to report a position in the file.
class data_view {
 public:
  explicit data_view(const table& t) : table_(t) {}

  const column& require(const std::string& name, const std::string& role) const {
    const column* c = table_.find(name);
    if (c == nullptr) {
      throw data_error(table_.source + ": the formula uses " + role + " '" + name +
                       "', which is not a column of the data; the columns are: " +
                       table_.column_list());
    }
    return *c;
  }

  std::size_t column_number(const column& c) const {
    return static_cast<std::size_t>(&c - table_.columns.data()) + 1;
  }

  /// "file:line:col" of a table row and column.
  std::string where(std::size_t row, const column& c) const {
    return table_.source + ":" + std::to_string(table_.line_of_row[row]) + ":" +
           std::to_string(column_number(c));
  }

  const table& data() const { return table_; }

 private:
  const table& table_;
};

/// Checks that a column can be used as a number over the kept rows: numeric, and finite where
/// kept. Throws data_error naming the first offending cell.
void check_numeric(const data_view& view, const column& c, const std::string& role,
                   const std::vector<std::size_t>& rows) {
  if (!c.is_numeric) {
    if (!c.first_non_numeric.empty()) {
      throw data_error(c.first_non_numeric + ": non-numeric value in column '" + c.name +
                       "', which the formula uses as " + role +
                       " (numbers only; write NA or leave the cell empty for a missing value)");
    }
    const std::size_t row = rows.empty() ? 0 : rows.front();
    throw data_error(view.where(row, c) + ": column '" + c.name + "' holds text (e.g. '" +
                     (rows.empty() ? std::string() : c.strings[row]) +
                     "'), but the formula uses it as " + role + ", which must be numeric");
  }
  for (std::size_t row : rows) {
    if (!std::isfinite(c.numbers[row])) {
      throw data_error(view.where(row, c) + ": non-finite value in column '" + c.name + "'");
    }
  }
}

/// The values of a column used as a number, over the kept rows.
std::vector<double> numeric_values(const data_view& view, const column& c, const std::string& role,
                                   const std::vector<std::size_t>& rows) {
  check_numeric(view, c, role, rows);
  std::vector<double> out(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) out[i] = c.numbers[rows[i]];
  return out;
}

/// A factor over the kept rows: level labels in R's sort order and a 0-based code per row.
struct factor_codes {
  std::vector<std::string> labels;
  std::vector<std::int32_t> codes;
};

factor_codes make_factor(const column& c, const std::vector<std::size_t>& rows) {
  factor_codes f;
  f.codes.resize(rows.size());
  if (c.is_numeric) {
    std::vector<double> levels;
    levels.reserve(64);
    for (std::size_t r : rows) levels.push_back(c.numbers[r]);
    std::sort(levels.begin(), levels.end());
    levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
    for (double v : levels) f.labels.push_back(number_label(v));
    for (std::size_t i = 0; i < rows.size(); ++i) {
      f.codes[i] = static_cast<std::int32_t>(
          std::lower_bound(levels.begin(), levels.end(), c.numbers[rows[i]]) - levels.begin());
    }
    return f;
  }
  // Text: byte-wise order (std::string's operator<, i.e. the C locale's collation).
  std::unordered_map<std::string, std::int32_t> first_code;
  std::vector<std::string> seen;
  std::vector<std::int32_t> provisional(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string& s = c.strings[rows[i]];
    auto [it, inserted] = first_code.emplace(s, static_cast<std::int32_t>(seen.size()));
    if (inserted) seen.push_back(s);
    provisional[i] = it->second;
  }
  std::vector<std::int32_t> order(seen.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
    return seen[static_cast<std::size_t>(a)] < seen[static_cast<std::size_t>(b)];
  });
  std::vector<std::int32_t> rank(seen.size());
  for (std::size_t k = 0; k < order.size(); ++k) {
    rank[static_cast<std::size_t>(order[k])] = static_cast<std::int32_t>(k);
    f.labels.push_back(seen[static_cast<std::size_t>(order[k])]);
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    f.codes[i] = rank[static_cast<std::size_t>(provisional[i])];
  }
  return f;
}

/// A variable of a term, resolved against the data: a checked numeric column or factor codes.
struct resolved_variable {
  std::string name;         ///< as it appears in coefficient names
  std::string column_name;  ///< the table column it comes from
  bool is_factor = false;
  const column* numeric = nullptr;  ///< numeric: the table's column, read through the kept rows
  factor_codes factor;              ///< factor
};

/// One column of a model matrix, described rather than computed: the row-wise product of its
/// factors, each a numeric variable (level -1) or the indicator of one level of a factor. No
/// factors: the intercept's ones. Filled straight into X or a term's covariates (fill_column).
struct matrix_column {
  std::string name;
  std::vector<std::pair<const resolved_variable*, std::int32_t>> factors;
};

class design_builder {
 public:
  /// @p owned: the same table when the builder may release its columns as it goes (the caller
  /// gave it up), else nullptr.
  design_builder(const table& data, table* owned, const formula& f, family fam)
      : view_(data), owned_(owned), formula_(f), family_(fam) {}

  design build() {
    collect_rows();
    design d;
    d.family = family_;
    d.formula_text = formula_.text;
    d.response_name = formula_.response;
    d.n_obs = rows_.size();
    d.n_dropped = view_.data().n_rows() - rows_.size();
    if (d.n_dropped > 0) {
      d.messages.push_back(std::to_string(d.n_dropped) + " of " +
                           std::to_string(view_.data().n_rows()) +
                           " rows dropped: missing values in columns the formula uses");
    }
    if (rows_.empty()) {
      throw data_error(view_.data().source +
                       ": no rows left: every row has a missing value in a column the formula "
                       "uses");
    }
    build_response(d);
    build_fixed(d);
    release_columns_except(random_term_columns());
    build_random(d);
    release_columns_except({});
    if (owned_ != nullptr) std::vector<std::size_t>().swap(owned_->line_of_row);
    build_z(d);
    if (d.n_dropped > 0) d.row_of_obs = std::move(rows_);
    std::vector<std::size_t>().swap(rows_);
    return d;
  }

 private:
  // Rows kept: those with no missing value in any column the formula uses.
  void collect_rows() {
    std::vector<const column*> used;
    auto use = [&](const std::string& name, const std::string& role) {
      if (!name.empty()) used.push_back(&view_.require(name, role));
    };
    use(formula_.response, "the response");
    use(formula_.trials, "trials");
    use(formula_.failures, "failures");
    use(formula_.se, "the known standard error");
    for (const auto& o : formula_.offsets) use(o, "an offset");
    auto use_rhs = [&](const formula_rhs& rhs) {
      for (const auto& t : rhs.terms) {
        for (const auto& v : t.variables) use(v.name, "the predictor");
      }
    };
    use_rhs(formula_.fixed);
    for (const auto& r : formula_.random) {
      use_rhs(r.lhs);
      for (const auto& g : r.group_factors) use(g, "the grouping factor");
    }
    const std::size_t n = view_.data().n_rows();
    rows_.reserve(n);
    for (std::size_t row = 0; row < n; ++row) {
      bool complete = true;
      for (const column* c : used) {
        if (c->missing[row]) {
          complete = false;
          break;
        }
      }
      if (complete) rows_.push_back(row);
    }
  }

  /// The columns that the group-level terms read: their left sides and grouping factors.
  std::set<std::string> random_term_columns() const {
    std::set<std::string> names;
    for (const auto& r : formula_.random) {
      for (const auto& t : r.lhs.terms) {
        for (const auto& v : t.variables) names.insert(v.name);
      }
      for (const auto& g : r.group_factors) names.insert(g);
    }
    return names;
  }

  /// When the builder owns the table: frees the cells of every column not in @p keep, and the
  /// resolved variables that came from them. The columns stay (with their names), so that a
  /// "not a column of the data" message still lists every column.
  void release_columns_except(const std::set<std::string>& keep) {
    if (owned_ == nullptr) return;
    for (auto it = resolved_.begin(); it != resolved_.end();) {
      it = keep.count(it->second.column_name) != 0 ? std::next(it) : resolved_.erase(it);
    }
    for (column& c : owned_->columns) {
      if (keep.count(c.name) != 0) continue;
      std::vector<double>().swap(c.numbers);
      std::vector<std::string>().swap(c.strings);
      std::vector<std::uint8_t>().swap(c.missing);
    }
  }

  void build_response(design& d) {
    const column& yc = view_.require(formula_.response, "the response");
    const std::string term = "response '" + formula_.response + "'";
    if (family_ == family::bernoulli && !yc.is_numeric && yc.first_non_numeric.empty()) {
      // A two-level text response, as glmer accepts a factor: the first level is failure.
      factor_codes f = make_factor(yc, rows_);
      if (f.labels.size() != 2) {
        throw data_error(view_.where(rows_.front(), yc) + ": the bernoulli " + term +
                         " must be 0/1 or a text column with exactly two values; it has " +
                         std::to_string(f.labels.size()));
      }
      d.y.resize(rows_.size());
      for (std::size_t i = 0; i < rows_.size(); ++i) d.y[i] = f.codes[i];
      d.messages.push_back("bernoulli response '" + formula_.response + "': '" + f.labels[0] +
                           "' is 0 and '" + f.labels[1] + "' is 1");
    } else {
      d.y = numeric_values(view_, yc, "the response", rows_);
    }
    auto fail = [&](std::size_t i, const column& c, const std::string& what) {
      std::ostringstream msg;
      msg.precision(17);
      msg << view_.where(rows_[i], c) << ": " << what;
      throw data_error(msg.str());
    };
    switch (family_) {
      case family::gaussian:
        break;
      case family::bernoulli:
        for (std::size_t i = 0; i < d.n_obs; ++i) {
          if (d.y[i] != 0.0 && d.y[i] != 1.0) {
            std::ostringstream v;
            v << d.y[i];
            fail(i, yc, "the bernoulli " + term + " must be 0 or 1, but it is " + v.str());
          }
        }
        break;
      case family::poisson:
        for (std::size_t i = 0; i < d.n_obs; ++i) {
          if (d.y[i] < 0.0 || d.y[i] != std::floor(d.y[i])) {
            std::ostringstream v;
            v << d.y[i];
            fail(i, yc, "the poisson " + term + " must be a count (a non-negative integer), but "
                            "it is " + v.str());
          }
        }
        break;
      case family::binomial: {
        if (formula_.trials.empty() && formula_.failures.empty()) {
          throw data_error("the binomial family needs the number of trials: write 's | trials(n) "
                           "~ ...' (brms) or 'cbind(s, f) ~ ...' (lme4)");
        }
        std::vector<double> other;
        const column* oc;
        if (!formula_.trials.empty()) {
          oc = &view_.require(formula_.trials, "trials");
          other = numeric_values(view_, *oc, "trials", rows_);
        } else {
          oc = &view_.require(formula_.failures, "failures");
          other = numeric_values(view_, *oc, "failures", rows_);
        }
        d.trials.resize(d.n_obs);
        for (std::size_t i = 0; i < d.n_obs; ++i) {
          const double s = d.y[i];
          if (s < 0.0 || s != std::floor(s)) {
            std::ostringstream v;
            v << s;
            fail(i, yc, "the binomial successes '" + formula_.response +
                            "' must be a non-negative integer, but it is " + v.str());
          }
          const double o = other[i];
          if (o < 0.0 || o != std::floor(o)) {
            std::ostringstream v;
            v << o;
            fail(i, *oc, "'" + oc->name + "' must be a non-negative integer, but it is " + v.str());
          }
          d.trials[i] = formula_.trials.empty() ? s + o : o;
          if (s > d.trials[i]) {
            std::ostringstream v;
            v << s << " successes out of " << d.trials[i] << " trials";
            fail(i, yc, "more successes than trials: " + v.str());
          }
        }
        break;
      }
    }
    if (family_ != family::binomial && (!formula_.trials.empty() || !formula_.failures.empty())) {
      throw data_error("trials() and cbind() belong to the binomial family, not " +
                       to_string(family_));
    }
    if (!formula_.se.empty()) {
      if (family_ != family::gaussian) {
        throw data_error("se() (a known standard error) belongs to the gaussian family, not " +
                         to_string(family_));
      }
      const column& sc = view_.require(formula_.se, "the known standard error");
      d.se = numeric_values(view_, sc, "the known standard error", rows_);
      for (std::size_t i = 0; i < d.n_obs; ++i) {
        if (!(d.se[i] > 0.0)) fail(i, sc, "the standard error in se() must be positive");
      }
    }
    if (!formula_.offsets.empty()) {
      d.offset.assign(d.n_obs, 0.0);
      for (const auto& name : formula_.offsets) {
        const column& oc = view_.require(name, "an offset");
        const std::vector<double> v = numeric_values(view_, oc, "an offset", rows_);
        for (std::size_t i = 0; i < d.n_obs; ++i) d.offset[i] += v[i];
      }
    }
    const auto [lo, hi] = std::minmax_element(d.y.begin(), d.y.end());
    if (*lo == *hi) {
      std::ostringstream v;
      v << *lo;
      d.messages.push_back("warning: the response '" + formula_.response +
                           "' is constant (every value is " + v.str() +
                           "); the model can be fitted, but the data say little");
    }
  }

  const resolved_variable& resolve(const formula_variable& v) {
    const std::string key = (v.as_factor ? "factor:" : "") + v.name;
    auto it = resolved_.find(key);
    if (it != resolved_.end()) return it->second;
    const column& c = view_.require(v.name, "the predictor");
    resolved_variable r;
    r.name = v.as_factor ? "factor(" + v.name + ")" : v.name;
    r.column_name = v.name;
    if (v.as_factor || (!c.is_numeric && c.first_non_numeric.empty())) {
      r.is_factor = true;
      r.factor = make_factor(c, rows_);
    } else {
      check_numeric(view_, c, "the predictor '" + v.name + "'", rows_);
      r.numeric = &c;
    }
    return resolved_.emplace(key, std::move(r)).first->second;
  }

  /// Writes column @p mc of a model matrix at out[0], out[stride], ... (one value per kept row).
  /// The product is taken left to right, as model.matrix forms interaction columns, so the
  /// values are the same doubles as when each product column was built in full and copied.
  void fill_column(const matrix_column& mc, double* out, std::size_t stride) const {
    const std::size_t n = rows_.size();
    bool first = true;
    for (const auto& [var, level] : mc.factors) {
      if (level < 0) {
        const double* x = var->numeric->numbers.data();
        for (std::size_t i = 0; i < n; ++i) {
          const double v = x[rows_[i]];
          out[i * stride] = first ? v : out[i * stride] * v;
        }
      } else {
        const std::int32_t* codes = var->factor.codes.data();
        for (std::size_t i = 0; i < n; ++i) {
          const double v = codes[i] == level ? 1.0 : 0.0;
          out[i * stride] = first ? v : out[i * stride] * v;
        }
      }
      first = false;
    }
    if (first) {
      for (std::size_t i = 0; i < n; ++i) out[i * stride] = 1.0;
    }
  }

  /// R's model.matrix for one right-hand side: which factors get contrasts and which get
  /// indicator columns follows R's TermCode (a factor in term T is coded by contrasts when T
  /// without it is empty or an earlier term) and modelmatrix (without an intercept, the first
  /// factor of the first term that has one gets indicators).
  std::vector<matrix_column> model_matrix(const formula_rhs& rhs, bool intercept_column,
                                          const std::string& intercept_name) {
    std::vector<matrix_column> out;
    if (intercept_column) out.push_back({intercept_name, {}});
    bool indicators_given = rhs.intercept;
    for (std::size_t ti = 0; ti < rhs.terms.size(); ++ti) {
      const formula_term& term = rhs.terms[ti];
      // The columns of a term are the products of its variables' columns; the first variable
      // varies fastest, as in R.
      std::vector<matrix_column> columns{matrix_column{}};
      for (std::size_t vi = 0; vi < term.variables.size(); ++vi) {
        const resolved_variable& var = resolve(term.variables[vi]);
        std::vector<matrix_column> var_columns;
        if (!var.is_factor) {
          var_columns.push_back({var.name, {{&var, -1}}});
        } else {
          bool contrasts = margin_present(rhs, ti, vi);
          if (!indicators_given) {
            contrasts = false;
            indicators_given = true;
          }
          const auto& labels = var.factor.labels;
          if (labels.size() < 2 && contrasts) {
            throw formula_error("factor '" + term.variables[vi].name +
                                "' has a single level ('" + (labels.empty() ? "" : labels[0]) +
                                "') in the data used, so it cannot be a predictor");
          }
          for (std::size_t level = contrasts ? 1 : 0; level < labels.size(); ++level) {
            var_columns.push_back(
                {var.name + labels[level], {{&var, static_cast<std::int32_t>(level)}}});
          }
        }
        std::vector<matrix_column> next;
        next.reserve(columns.size() * var_columns.size());
        for (const matrix_column& b : var_columns) {
          for (const matrix_column& a : columns) {
            matrix_column product;
            product.name = a.name.empty() ? b.name : a.name + ":" + b.name;
            product.factors = a.factors;
            product.factors.push_back(b.factors.front());
            next.push_back(std::move(product));
          }
        }
        columns = std::move(next);
      }
      for (matrix_column& c : columns) {
        c.name = brms_name(c.name);
        out.push_back(std::move(c));
      }
    }
    return out;
  }

  /// Whether term ti without its variable vi is empty or equal to an earlier term.
  static bool margin_present(const formula_rhs& rhs, std::size_t ti, std::size_t vi) {
    std::vector<formula_variable> margin = rhs.terms[ti].variables;
    margin.erase(margin.begin() + static_cast<std::ptrdiff_t>(vi));
    if (margin.empty()) return true;
    auto as_set = [](const std::vector<formula_variable>& vars) {
      std::set<std::pair<std::string, bool>> s;
      for (const auto& v : vars) s.emplace(v.name, v.as_factor);
      return s;
    };
    const auto target = as_set(margin);
    for (std::size_t tj = 0; tj < ti; ++tj) {
      if (as_set(rhs.terms[tj].variables) == target) return true;
    }
    return false;
  }

  void build_fixed(design& d) {
    const bool intercept = formula_.fixed.intercept;
    const std::vector<matrix_column> m = model_matrix(formula_.fixed, intercept, "Intercept");
    if (formula_.intercept_as_coef && !intercept) {
      throw formula_error("'Intercept' as a coefficient needs '0 + Intercept' without '- 1'");
    }
    d.has_intercept = intercept;
    d.centered = intercept && !formula_.intercept_as_coef;
    const std::size_t n = d.n_obs, p = m.size();
    d.coef_names.reserve(p);
    std::set<std::string> seen;
    for (const matrix_column& c : m) {
      if (!seen.insert(c.name).second) {
        throw formula_error("two population-level coefficients are both named '" + c.name + "'");
      }
      d.coef_names.push_back(c.name);
    }
    d.X.resize(n * p);
    d.column_means.assign(p, 0.0);
    for (std::size_t j = 0; j < p; ++j) {
      double* col = d.X.data() + j * n;
      fill_column(m[j], col, 1);
      if (d.centered && j > 0) {
        // brms centers the predictors so that the sampler sees a nearly uncorrelated intercept;
        // b_Intercept is reported on the original scale (model::write_constrained).
        const double mean = std::accumulate(col, col + n, 0.0) / static_cast<double>(n);
        d.column_means[j] = mean;
        for (std::size_t i = 0; i < n; ++i) col[i] -= mean;
      }
    }
  }

  void build_random(design& d) {
    std::size_t u_offset = 0;
    std::map<std::string, std::set<std::string>> coefs_of_group;
    for (const random_term& rt : formula_.random) {
      random_block block;
      block.group = rt.group_label();
      const std::string term_text = "(" + std::string(rt.correlated ? "... | " : "... || ") +
                                    block.group + ")";
      // The grouping factor: one column, or the observed combinations of several (g1:g2).
      std::vector<factor_codes> parts;
      for (const auto& g : rt.group_factors) {
        parts.push_back(make_factor(view_.require(g, "the grouping factor"), rows_));
      }
      if (parts.size() == 1) {
        block.level_labels = std::move(parts[0].labels);
        block.level_idx = std::move(parts[0].codes);
      } else {
        std::map<std::vector<std::int32_t>, std::int32_t> combos;
        std::vector<std::int32_t> key(parts.size());
        for (std::size_t i = 0; i < rows_.size(); ++i) {
          for (std::size_t k = 0; k < parts.size(); ++k) key[k] = parts[k].codes[i];
          combos.emplace(key, 0);
        }
        std::int32_t next = 0;
        for (auto& [k, code] : combos) {
          code = next++;
          std::string label;
          for (std::size_t part = 0; part < parts.size(); ++part) {
            if (part > 0) label += "_";
            label += parts[part].labels[static_cast<std::size_t>(k[part])];
          }
          block.level_labels.push_back(label);
        }
        block.level_idx.resize(rows_.size());
        for (std::size_t i = 0; i < rows_.size(); ++i) {
          for (std::size_t k = 0; k < parts.size(); ++k) key[k] = parts[k].codes[i];
          block.level_idx[i] = combos[key];
        }
      }
      block.n_levels = block.level_labels.size();
      if (block.n_levels < 2) {
        throw data_error(view_.data().source + ": grouping factor '" + block.group + "' in " +
                         term_text + " has " +
                         (block.n_levels == 1 ? "only one level ('" + block.level_labels[0] + "')"
                                              : std::string("no levels")) +
                         ": a group-level standard deviation needs at least two groups; drop the "
                         "term or use the factor as a population-level predictor");
      }
      const std::vector<matrix_column> m = model_matrix(rt.lhs, rt.lhs.intercept, "Intercept");
      if (m.empty()) {
        throw formula_error("the group-level term on '" + block.group + "' has no coefficients");
      }
      for (const matrix_column& c : m) {
        if (!coefs_of_group[block.group].insert(c.name).second) {
          throw formula_error("coefficient '" + c.name +
                              "' appears twice in group-level terms on '" + block.group + "'");
        }
        block.coef_names.push_back(c.name);
      }
      block.correlated = rt.correlated && m.size() > 1;
      const std::size_t k = m.size(), n = rows_.size();
      block.covariates.resize(n * k);
      for (std::size_t c = 0; c < k; ++c) fill_column(m[c], block.covariates.data() + c, k);
      block.u_offset = u_offset;
      u_offset += block.n_levels * k;
      d.terms.push_back(std::move(block));
    }
    d.n_u = u_offset;
    if (d.n_u > static_cast<std::size_t>(INT32_MAX)) {
      throw data_error("too many group-level coefficients for 32-bit sparse indices");
    }
  }

  // Z (n × n_u) as CSR. Row i holds, term by term, k_t entries at
  // u_offset_t + level_t(i) k_t + c; columns are sorted because u_offset grows with t.
  static void build_z(design& d) {
    const std::size_t n = d.n_obs;
    std::size_t per_row = 0;
    for (const auto& t : d.terms) per_row += t.n_coefs();
    if (n * per_row > static_cast<std::size_t>(INT32_MAX)) {
      throw data_error("the group-level design has more than 2^31 non-zeros");
    }
    csr_matrix& z = d.Z;
    z.n_rows = n;
    z.n_cols = d.n_u;
    z.row_ptr.resize(n + 1);
    z.col_idx.resize(n * per_row);
    z.values.resize(n * per_row);
    std::size_t nz = 0;
    for (std::size_t i = 0; i < n; ++i) {
      z.row_ptr[i] = static_cast<std::int32_t>(nz);
      for (const auto& t : d.terms) {
        const std::size_t k = t.n_coefs();
        for (std::size_t c = 0; c < k; ++c) {
          z.col_idx[nz] = static_cast<std::int32_t>(
              t.u_offset + static_cast<std::size_t>(t.level_idx[i]) * k + c);
          z.values[nz] = t.covariates[i * k + c];
          ++nz;
        }
      }
    }
    z.row_ptr[n] = static_cast<std::int32_t>(nz);
  }

  data_view view_;
  table* owned_;  ///< the table when its columns may be released, else nullptr
  const formula& formula_;
  family family_;
  std::vector<std::size_t> rows_;
  std::map<std::string, resolved_variable> resolved_;
};

}  // namespace

design build_design(const table& data, const formula& f, family fam) {
  return design_builder(data, nullptr, f, fam).build();
}

design build_design(table&& data, const formula& f, family fam) {
  table owned = std::move(data);
  return design_builder(owned, &owned, f, fam).build();
}

csr_matrix transpose(const csr_matrix& m) {
  csr_matrix t;
  t.n_rows = m.n_cols;
  t.n_cols = m.n_rows;
  t.row_ptr.assign(m.n_cols + 1, 0);
  for (std::int32_t col : m.col_idx) ++t.row_ptr[static_cast<std::size_t>(col) + 1];
  for (std::size_t r = 0; r < m.n_cols; ++r) t.row_ptr[r + 1] += t.row_ptr[r];
  t.col_idx.resize(m.col_idx.size());
  t.values.resize(m.values.size());
  std::vector<std::int32_t> fill(t.row_ptr.begin(), t.row_ptr.end() - 1);
  for (std::size_t i = 0; i < m.n_rows; ++i) {
    for (std::int32_t e = m.row_ptr[i]; e < m.row_ptr[i + 1]; ++e) {
      const auto slot = static_cast<std::size_t>(fill[static_cast<std::size_t>(m.col_idx[e])]++);
      t.col_idx[slot] = static_cast<std::int32_t>(i);
      t.values[slot] = m.values[static_cast<std::size_t>(e)];
    }
  }
  return t;
}

void release_term_rows(design& d) {
  for (random_block& t : d.terms) {
    std::vector<std::int32_t>().swap(t.level_idx);
    std::vector<double>().swap(t.covariates);
  }
}

}  // namespace hbglm
