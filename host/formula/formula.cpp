/** @file Parser for lme4/brms model formulas. A hand-written tokenizer and recursive-descent
 *  parser; the right-hand side is evaluated with the term algebra of R's terms.formula
 *  (src/library/stats/src/model.c: CrossTerms, InteractTerms, NestTerms, PowerTerms,
 *  DeleteTerms), and random terms are expanded like lme4's findbars/expandSlash. */

#include "hbglm/formula.hpp"

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "hbglm/error.hpp"

namespace hbglm {

std::string formula_term::label() const {
  std::string out;
  for (std::size_t i = 0; i < variables.size(); ++i) {
    if (i > 0) out += ':';
    const formula_variable& v = variables[i];
    out += v.as_factor ? "factor(" + v.name + ")" : v.name;
  }
  return out;
}

std::string random_term::group_label() const {
  std::string out;
  for (std::size_t i = 0; i < group_factors.size(); ++i) {
    if (i > 0) out += ':';
    out += group_factors[i];
  }
  return out;
}

namespace {

/** Throws formula_error: the problem, the formula, and a caret under byte offset `pos`.
 *  Whitespace other than spaces is shown as a space so that the formula stays on one line and
 *  the caret lines up; the column counts UTF-8 code points, not bytes, for the same reason. */
[[noreturn]] void fail_at(const std::string& text, const std::string& problem, std::size_t pos) {
  std::string shown = text;
  for (char& c : shown) {
    if (c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') c = ' ';
  }
  std::size_t column = 0;
  for (std::size_t i = 0; i < pos && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++column;
  }
  throw formula_error(problem + "\n" + shown + "\n" + std::string(column, ' ') + "^");
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_name_start(char c) { return is_letter(c) || c == '.' || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

enum class token_kind {
  name,
  number,
  tilde,
  plus,
  minus,
  star,
  slash,
  colon,
  hat,
  lparen,
  rparen,
  bar,
  double_bar,
  comma,
  equals,
  end
};

struct token {
  token_kind kind;
  std::string text;     // the name (without backquotes), the digits, or the operator
  std::size_t pos;      // byte offset in the formula, for the caret
  bool quoted = false;  // a backquoted name is never a keyword or a function
};

std::string describe(const token& t) {
  if (t.kind == token_kind::end) return "end of formula";
  if (t.kind == token_kind::name && t.quoted) return "'`" + t.text + "`'";
  return "'" + t.text + "'";
}

std::vector<token> tokenize(const std::string& text) {
  std::vector<token> out;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const std::size_t start = i;
    if (is_space(c)) {
      ++i;
      continue;
    }
    if (c == '`') {
      const std::size_t close = text.find('`', i + 1);
      if (close == std::string::npos) fail_at(text, "unterminated backquoted name", start);
      if (close == i + 1) fail_at(text, "empty backquoted name", start);
      out.push_back({token_kind::name, text.substr(i + 1, close - i - 1), start, true});
      i = close + 1;
      continue;
    }
    // ".5" is a number in R, not a name.
    if (is_digit(c) || (c == '.' && i + 1 < text.size() && is_digit(text[i + 1]))) {
      while (i < text.size() && (is_digit(text[i]) || text[i] == '.')) ++i;
      if (i < text.size() && is_name_char(text[i])) {
        fail_at(text, "a name cannot start with a digit", start);
      }
      out.push_back({token_kind::number, text.substr(start, i - start), start});
      continue;
    }
    if (is_name_start(c)) {
      while (i < text.size() && is_name_char(text[i])) ++i;
      out.push_back({token_kind::name, text.substr(start, i - start), start});
      continue;
    }
    if (c == '|' && i + 1 < text.size() && text[i + 1] == '|') {
      out.push_back({token_kind::double_bar, "||", start});
      i += 2;
      continue;
    }
    token_kind kind = token_kind::end;
    switch (c) {
      case '~':
        kind = token_kind::tilde;
        break;
      case '+':
        kind = token_kind::plus;
        break;
      case '-':
        kind = token_kind::minus;
        break;
      case '*':
        kind = token_kind::star;
        break;
      case '/':
        kind = token_kind::slash;
        break;
      case ':':
        kind = token_kind::colon;
        break;
      case '^':
        kind = token_kind::hat;
        break;
      case '(':
        kind = token_kind::lparen;
        break;
      case ')':
        kind = token_kind::rparen;
        break;
      case '|':
        kind = token_kind::bar;
        break;
      case ',':
        kind = token_kind::comma;
        break;
      case '=':
        kind = token_kind::equals;
        break;
      default: {
        // Show a whole UTF-8 sequence, not its first byte.
        std::size_t len = 1;
        while (start + len < text.size() &&
               (static_cast<unsigned char>(text[start + len]) & 0xC0) == 0x80) {
          ++len;
        }
        fail_at(text, "unexpected character '" + text.substr(start, len) + "'", start);
      }
    }
    out.push_back({kind, std::string(1, c), start});
    ++i;
  }
  out.push_back({token_kind::end, "", text.size()});
  return out;
}

/** Reports the unmatched parenthesis itself, before parsing, so that the caret points at it
 *  rather than at wherever the parser first notices something is missing. */
void check_parentheses(const std::string& text, const std::vector<token>& tokens) {
  std::vector<std::size_t> open;
  for (const token& t : tokens) {
    if (t.kind == token_kind::lparen) {
      open.push_back(t.pos);
    } else if (t.kind == token_kind::rparen) {
      if (open.empty()) {
        fail_at(text, "unbalanced parenthesis: this ')' has no matching '('", t.pos);
      }
      open.pop_back();
    }
  }
  if (!open.empty()) fail_at(text, "unbalanced parenthesis: this '(' is never closed", open.back());
}

bool is_known_function(const std::string& name) {
  return name == "factor" || name == "offset" || name == "cbind" || name == "trials" ||
         name == "se";
}

// ---- term algebra (R's model.c) -----------------------------------------------------------

/** `a:b` and `b:a` are one term: compare the variables as sets. */
bool same_term(const formula_term& a, const formula_term& b) {
  if (a.variables.size() != b.variables.size()) return false;
  for (const formula_variable& v : a.variables) {
    if (std::find(b.variables.begin(), b.variables.end(), v) == b.variables.end()) return false;
  }
  return true;
}

/** The interaction of two terms: a's variables, then b's that a lacks (so x:x is x). */
formula_term merge_terms(const formula_term& a, const formula_term& b) {
  formula_term out = a;
  for (const formula_variable& v : b.variables) {
    if (std::find(out.variables.begin(), out.variables.end(), v) == out.variables.end()) {
      out.variables.push_back(v);
    }
  }
  return out;
}

/** Appends t unless an equal term is already there: the first spelling wins. */
void add_term(std::vector<formula_term>& terms, const formula_term& t) {
  for (const formula_term& u : terms) {
    if (same_term(u, t)) return;
  }
  terms.push_back(t);
}

using term_list = std::vector<formula_term>;

term_list interact(const term_list& a, const term_list& b) {
  term_list out;
  for (const formula_term& x : a) {
    for (const formula_term& y : b) add_term(out, merge_terms(x, y));
  }
  return out;
}

/// A formula that expands to more terms than this is refused before it is expanded: the
/// expansion of `(a + ... + l)^12` or a 20-way `a*b*...` has 2^k terms and would take minutes (and
/// a model with more than a few hundred population-level terms is not what anyone meant).
constexpr std::size_t max_expanded_terms = 1024;

/// Parentheses nested deeper than this are refused: the parser recurses once per level.
constexpr int max_nesting = 64;

/** a*b = a + b + a:b */
term_list cross(const term_list& a, const term_list& b) {
  term_list out = a;
  for (const formula_term& t : b) add_term(out, t);
  for (const formula_term& t : interact(a, b)) add_term(out, t);
  return out;
}

/** a/b = a + (all variables of a):b */
term_list nest(const term_list& a, const term_list& b) {
  formula_term all;
  for (const formula_term& t : a) all = merge_terms(all, t);
  term_list out = a;
  for (const formula_term& t : b) add_term(out, merge_terms(all, t));
  return out;
}

std::size_t count_variables(const term_list& terms) {
  formula_term all;
  for (const formula_term& t : terms) all = merge_terms(all, t);
  return all.variables.size();
}

enum class intercept_spec { unset, on, off };

/** What a piece of the right-hand side evaluates to. Everything other than `terms` must be
 *  absent from the operands of `:`, `*`, `/` and `^`; the positions are for those errors. */
struct rhs_value {
  term_list terms;  // deduplicated, in the order first written
  intercept_spec intercept = intercept_spec::unset;
  std::size_t intercept_pos = 0;    // the 0 or 1 that set `intercept`
  std::vector<random_term> random;  // in the order written
  std::size_t random_pos = 0;       // '(' of the first random term
  std::vector<std::string> offsets;
  std::size_t offset_pos = 0;
  bool intercept_coef = false;  // brms `Intercept`
  std::size_t intercept_coef_pos = 0;
};

/** Orders terms by degree, stably, as terms.formula does with keep.order = FALSE, and the
 *  variables inside each term by R's variable order, @p order (first appearance in the formula
 *  the terms come from): in `y ~ h + f:h` the interaction is h:f, which fixes the column names
 *  (brms's `b_hhi:fb`) and which variable varies fastest. */
formula_rhs finish_rhs(const rhs_value& v, const std::vector<formula_variable>& order) {
  formula_rhs out;
  out.intercept = v.intercept != intercept_spec::off;
  out.terms = v.terms;
  auto position = [&](const formula_variable& var) {
    return std::find(order.begin(), order.end(), var) - order.begin();
  };
  for (formula_term& t : out.terms) {
    std::stable_sort(t.variables.begin(), t.variables.end(),
                     [&](const formula_variable& a, const formula_variable& b) {
                       return position(a) < position(b);
                     });
  }
  std::stable_sort(out.terms.begin(), out.terms.end(),
                   [](const formula_term& a, const formula_term& b) {
                     return a.variables.size() < b.variables.size();
                   });
  return out;
}

// ---- parser ---------------------------------------------------------------------------------

class parser {
 public:
  /** @param[in] text the whole formula (for error messages)
   *  @param[in] tokens one side of the '~', ending with an `end` token */
  parser(const std::string& text, std::vector<token> tokens)
      : text_(text), tokens_(std::move(tokens)) {}

  /** Parses the left side of '~' into f's response, trials, failures and se. */
  void parse_response(formula& f);

  /** Parses the right side of '~' into f's fixed part, offsets and random terms. */
  void parse_rhs(formula& f);

 private:
  [[noreturn]] void fail(const std::string& problem, std::size_t pos) const {
    fail_at(text_, problem, pos);
  }
  const token& peek(std::size_t ahead = 0) const {
    return tokens_[std::min(next_idx_ + ahead, tokens_.size() - 1)];
  }
  const token& next() {
    const token& t = peek();
    if (next_idx_ < tokens_.size() - 1) ++next_idx_;
    return t;
  }

  rhs_value parse_sum();
  rhs_value parse_product(const token* op);
  rhs_value parse_interaction(const token* op);
  rhs_value parse_power(const token* op);
  rhs_value parse_primary(const token* op);
  rhs_value parse_function();
  rhs_value parse_group();
  rhs_value parse_random(const token& open, const rhs_value& lhs);
  [[noreturn]] void fail_missing_term(const token& t, const token* op) const;
  term_list plain_operand(const rhs_value& v, const token& op) const;

  const token& parse_column_argument(const std::string& function);
  const token& parse_single_argument(const std::string& function);
  void parse_cbind(formula& f);
  std::string parse_cbind_argument(const token& open, std::size_t& offending_pos,
                                   std::vector<const token*>& tokens);
  void parse_addition(formula& f, const token& bar);
  std::string parse_se_arguments();

  /** R's variable order for the variables used between token positions @p from and @p to:
   *  first appearance, skipping the left sides of random terms unless the range is inside one
   *  (lme4 builds the fixed part from the formula without its bars). */
  std::vector<formula_variable> variable_order(std::size_t from, std::size_t to) const;

  const std::string& text_;
  std::vector<token> tokens_;
  std::size_t next_idx_ = 0;
  std::vector<std::pair<std::size_t, formula_variable>> variable_uses_;  ///< (pos, variable)
  std::vector<std::pair<std::size_t, std::size_t>> random_lhs_spans_;    ///< ('(' pos, '|' pos)
  int nesting_ = 0;  ///< parentheses open around the current position

  /** Refuses an expansion that could make more than max_expanded_terms terms (an upper bound:
   *  duplicates are removed after), at the operator @p o. */
  void check_expansion(std::size_t bound, const token& o) const {
    if (bound > max_expanded_terms) {
      fail("this expands to more than " + std::to_string(max_expanded_terms) +
               " terms; write the interactions you need explicitly",
           o.pos);
    }
  }
};

std::vector<formula_variable> parser::variable_order(std::size_t from, std::size_t to) const {
  std::vector<formula_variable> order;
  for (const auto& [pos, var] : variable_uses_) {
    if (pos < from || pos >= to) continue;
    bool in_nested_random = false;
    for (const auto& [open, bar] : random_lhs_spans_) {
      if (pos > open && pos < bar && !(from > open && to <= bar)) in_nested_random = true;
    }
    if (!in_nested_random && std::find(order.begin(), order.end(), var) == order.end()) {
      order.push_back(var);
    }
  }
  return order;
}

void parser::fail_missing_term(const token& t, const token* op) const {
  const bool stops = t.kind == token_kind::end || t.kind == token_kind::rparen ||
                     t.kind == token_kind::bar || t.kind == token_kind::double_bar ||
                     t.kind == token_kind::comma;
  if (op != nullptr && stops) fail("'" + op->text + "' needs a term after it", op->pos);
  if (t.kind == token_kind::bar || t.kind == token_kind::double_bar) {
    fail("a random term needs coefficients before '" + t.text + "', e.g. (1 | g)", t.pos);
  }
  fail("unexpected " + describe(t), t.pos);
}

/** The operands of `:`, `*`, `/` and `^` are plain terms; an intercept, offset or random term
 *  inside an interaction has no meaning we support, so say so rather than guess. */
term_list parser::plain_operand(const rhs_value& v, const token& op) const {
  if (!v.random.empty()) {
    fail("a random term cannot be combined with '" + op.text + "'", op.pos);
  }
  if (!v.offsets.empty()) fail("offset() cannot be part of an interaction", v.offset_pos);
  if (v.intercept_coef) fail("'Intercept' cannot be part of an interaction", v.intercept_coef_pos);
  if (v.intercept != intercept_spec::unset) {
    fail("'" + std::string(v.intercept == intercept_spec::on ? "1" : "0") +
             "' (the intercept) cannot be part of an interaction",
         v.intercept_pos);
  }
  return v.terms;
}

rhs_value parser::parse_sum() {
  rhs_value acc;
  for (bool first = true;; first = false) {
    const token* op = nullptr;
    if (peek().kind == token_kind::plus || peek().kind == token_kind::minus) {
      op = &next();
    } else if (!first) {
      break;
    }
    rhs_value v = parse_product(op);
    if (op == nullptr || op->kind == token_kind::plus) {
      for (const formula_term& t : v.terms) add_term(acc.terms, t);
      // The last 0 or 1 written wins, as in R (`0 + 1 + x` has an intercept).
      if (v.intercept != intercept_spec::unset) {
        acc.intercept = v.intercept;
        acc.intercept_pos = v.intercept_pos;
      }
      if (acc.random.empty()) acc.random_pos = v.random_pos;
      acc.random.insert(acc.random.end(), v.random.begin(), v.random.end());
      if (acc.offsets.empty()) acc.offset_pos = v.offset_pos;
      for (const std::string& o : v.offsets) {
        if (std::find(acc.offsets.begin(), acc.offsets.end(), o) == acc.offsets.end()) {
          acc.offsets.push_back(o);
        }
      }
      if (v.intercept_coef && !acc.intercept_coef) {
        acc.intercept_coef = true;
        acc.intercept_coef_pos = v.intercept_coef_pos;
      }
      continue;
    }
    // `- term` deletes; `- 1` removes the intercept and `- 0` restores it (R's DeleteTerms).
    if (!v.random.empty()) fail("a random term cannot be removed with '-'", op->pos);
    if (!v.offsets.empty()) fail("offset() cannot be removed with '-'", op->pos);
    if (v.intercept_coef) fail("'Intercept' cannot be removed with '-'", op->pos);
    for (const formula_term& t : v.terms) {
      acc.terms.erase(std::remove_if(acc.terms.begin(), acc.terms.end(),
                                     [&](const formula_term& u) { return same_term(u, t); }),
                      acc.terms.end());
    }
    if (v.intercept != intercept_spec::unset) {
      acc.intercept = v.intercept == intercept_spec::on ? intercept_spec::off : intercept_spec::on;
      acc.intercept_pos = v.intercept_pos;
    }
  }
  return acc;
}

rhs_value parser::parse_product(const token* op) {
  rhs_value left = parse_interaction(op);
  while (peek().kind == token_kind::star || peek().kind == token_kind::slash) {
    const token& o = next();
    const rhs_value right = parse_interaction(&o);
    const term_list a = plain_operand(left, o);
    const term_list b = plain_operand(right, o);
    check_expansion(a.size() + b.size() + a.size() * b.size(), o);
    left = rhs_value{};
    left.terms = o.kind == token_kind::star ? cross(a, b) : nest(a, b);
  }
  return left;
}

rhs_value parser::parse_interaction(const token* op) {
  rhs_value left = parse_power(op);
  while (peek().kind == token_kind::colon) {
    const token& o = next();
    const rhs_value right = parse_power(&o);
    const term_list a = plain_operand(left, o);
    const term_list b = plain_operand(right, o);
    check_expansion(a.size() * b.size(), o);
    left = rhs_value{};
    left.terms = interact(a, b);
  }
  return left;
}

rhs_value parser::parse_power(const token* op) {
  rhs_value base = parse_primary(op);
  if (peek().kind != token_kind::hat) return base;
  const token& o = next();
  const token& e = peek();
  const bool whole = e.kind == token_kind::number && e.text.find('.') == std::string::npos &&
                     e.text.find_first_not_of('0') != std::string::npos;
  if (!whole) fail("'^' needs a positive whole number after it", e.pos);
  next();
  const term_list a = plain_operand(base, o);
  // In a formula x^2 is x, which is never what was meant: a square needs its own column.
  if (a.size() == 1 && a[0].variables.size() == 1) {
    fail("'^' crosses terms in a formula, so '" + a[0].label() + "^" + e.text +
             "' would be just '" + a[0].label() + "'; put a squared column in the data instead",
         o.pos);
  }
  // Crossing more times than there are variables adds nothing, so the loop is bounded even
  // for a silly exponent.
  const std::size_t n = e.text.size() > 3 ? 999 : std::stoul(e.text);
  const std::size_t times = std::min(n, count_variables(a));
  term_list result = a;
  for (std::size_t i = 1; i < times; ++i) {
    check_expansion(result.size() + a.size() + result.size() * a.size(), o);
    result = cross(result, a);
  }
  rhs_value out;
  out.terms = std::move(result);
  return out;
}

rhs_value parser::parse_primary(const token* op) {
  const token& t = peek();
  rhs_value v;
  switch (t.kind) {
    case token_kind::number:
      next();
      if (t.text != "0" && t.text != "1") {
        fail("a number other than 0 or 1 (which set the intercept) cannot be a term", t.pos);
      }
      v.intercept = t.text == "1" ? intercept_spec::on : intercept_spec::off;
      v.intercept_pos = t.pos;
      return v;
    case token_kind::name:
      if (!t.quoted && peek(1).kind == token_kind::lparen) return parse_function();
      next();
      if (!t.quoted && t.text == "Intercept") {
        v.intercept_coef = true;
        v.intercept_coef_pos = t.pos;
        return v;
      }
      if (!t.quoted && t.text == ".") {
        fail("'.' (all other columns) is not supported; name the columns", t.pos);
      }
      v.terms.push_back(formula_term{{formula_variable{t.text, false}}});
      variable_uses_.emplace_back(t.pos, formula_variable{t.text, false});
      return v;
    case token_kind::lparen:
      return parse_group();
    default:
      fail_missing_term(t, op);
  }
}

rhs_value parser::parse_function() {
  const token& name = next();
  next();  // '('
  rhs_value v;
  if (name.text == "factor") {
    const token& arg = parse_single_argument("factor");
    v.terms.push_back(formula_term{{formula_variable{arg.text, true}}});
    variable_uses_.emplace_back(arg.pos, formula_variable{arg.text, true});
  } else if (name.text == "offset") {
    v.offsets.push_back(parse_single_argument("offset").text);
    v.offset_pos = name.pos;
  } else {
    fail("unknown function '" + name.text + "'", name.pos);
  }
  return v;
}

rhs_value parser::parse_group() {
  const token& open = next();
  if (++nesting_ > max_nesting) {
    fail("parentheses nested more than " + std::to_string(max_nesting) + " deep", open.pos);
  }
  struct leave_level {
    int& depth;
    ~leave_level() { --depth; }
  } leave{nesting_};
  if (peek().kind == token_kind::rparen) fail("empty parentheses", open.pos);
  rhs_value inner = parse_sum();
  const token& t = peek();
  if (t.kind == token_kind::bar || t.kind == token_kind::double_bar) {
    return parse_random(open, inner);
  }
  if (t.kind == token_kind::rparen) {
    // `(1 + x)` is a random term that lost its `| g`: a 0 or 1 has no business in a plain group.
    if (inner.intercept != intercept_spec::unset) {
      fail("a random term needs a grouping factor after '|'", t.pos);
    }
    next();
    return inner;
  }
  fail("unexpected " + describe(t) + "; expected an operator, '|' or ')'", t.pos);
}

rhs_value parser::parse_random(const token& open, const rhs_value& lhs) {
  const token& bar = next();
  if (!lhs.random.empty()) fail("random terms cannot be nested", lhs.random_pos);
  if (!lhs.offsets.empty()) {
    fail("offset() belongs in the population-level part, not in a random term", lhs.offset_pos);
  }
  if (lhs.intercept_coef) {
    fail("'Intercept' is only for the population-level part; write 1 in a random term",
         lhs.intercept_coef_pos);
  }
  random_term term;
  random_lhs_spans_.emplace_back(open.pos, bar.pos);
  term.lhs = finish_rhs(lhs, variable_order(open.pos + 1, bar.pos));
  term.correlated = bar.kind == token_kind::bar;
  if (!term.lhs.intercept && term.lhs.terms.empty()) {
    fail("a random term needs at least one coefficient before '" + bar.text + "'",
         lhs.intercept_pos);
  }

  // Grouping: names joined by ':' (one factor) and '/' (nesting: g1/g2 is g1 and g1:g2).
  std::vector<std::vector<const token*>> segments(1);
  const token* after = &bar;
  for (;;) {
    const token& g = peek();
    if (g.kind != token_kind::name) {
      if (after->kind == token_kind::bar || after->kind == token_kind::double_bar) {
        fail("a random term needs a grouping factor after '" + after->text + "'", g.pos);
      }
      fail("'" + after->text + "' needs a column name after it", after->pos);
    }
    if (!g.quoted && peek(1).kind == token_kind::lparen) {
      if (is_known_function(g.text)) fail("the grouping factor must be a column name", g.pos);
      fail("unknown function '" + g.text + "'", g.pos);
    }
    next();
    segments.back().push_back(&g);
    if (peek().kind == token_kind::colon) {
      after = &next();
    } else if (peek().kind == token_kind::slash) {
      after = &next();
      segments.emplace_back();
    } else {
      break;
    }
  }
  if (peek().kind != token_kind::rparen) {
    fail("unexpected " + describe(peek()) + " in the grouping factor; expected ':', '/' or ')'",
         peek().pos);
  }
  next();

  rhs_value out;
  out.random_pos = open.pos;
  std::vector<std::string> groups;
  for (const std::vector<const token*>& segment : segments) {
    for (const token* g : segment) {
      if (std::find(groups.begin(), groups.end(), g->text) != groups.end()) {
        fail("'" + g->text + "' appears twice in the grouping factor", g->pos);
      }
      groups.push_back(g->text);
    }
    term.group_factors = groups;
    out.random.push_back(term);
  }
  return out;
}

const token& parser::parse_column_argument(const std::string& function) {
  const token& arg = peek();
  if (arg.kind != token_kind::name) fail(function + "() needs a column name", arg.pos);
  if (!arg.quoted && peek(1).kind == token_kind::lparen) {
    if (is_known_function(arg.text)) fail(function + "() takes a single column name", arg.pos);
    fail("unknown function '" + arg.text + "'", arg.pos);
  }
  return next();
}

const token& parser::parse_single_argument(const std::string& function) {
  const token& arg = parse_column_argument(function);
  if (peek().kind != token_kind::rparen) {
    fail(function + "() takes a single column name", peek().pos);
  }
  next();
  return arg;
}

void parser::parse_rhs(formula& f) {
  const rhs_value v = parse_sum();
  const token& t = peek();
  if (t.kind == token_kind::bar || t.kind == token_kind::double_bar) {
    fail("'" + t.text + "' can only appear inside a parenthesised random term such as (1 " +
             t.text + " g)",
         t.pos);
  }
  if (t.kind == token_kind::name || t.kind == token_kind::number || t.kind == token_kind::lparen) {
    fail("unexpected " + describe(t) + "; is an operator such as '+' missing?", t.pos);
  }
  if (t.kind != token_kind::end) fail("unexpected " + describe(t), t.pos);

  f.fixed = finish_rhs(v, variable_order(0, std::string::npos));
  if (v.intercept_coef) {
    // brms: the intercept becomes an ordinary coefficient only once the implicit one is gone.
    if (v.intercept != intercept_spec::off) {
      fail("'Intercept' needs '0 +' before it: write 0 + Intercept + ...", v.intercept_coef_pos);
    }
    f.fixed.intercept = true;
    f.intercept_as_coef = true;
  }
  f.offsets = v.offsets;
  f.random = v.random;
}

void parser::parse_response(formula& f) {
  const token& t = peek();
  if (t.kind == token_kind::name && !t.quoted && peek(1).kind == token_kind::lparen) {
    if (t.text != "cbind") fail("unknown function '" + t.text + "'", t.pos);
    parse_cbind(f);
  } else if (t.kind == token_kind::name) {
    f.response = next().text;
  } else {
    fail("the response must be a column name", t.pos);
  }
  if (peek().kind == token_kind::bar) {
    const token& bar = next();
    parse_addition(f, bar);
    while (peek().kind == token_kind::plus) parse_addition(f, next());
  }
  const token& rest = peek();
  switch (rest.kind) {
    case token_kind::end:
      return;
    case token_kind::plus:
    case token_kind::minus:
    case token_kind::star:
    case token_kind::slash:
    case token_kind::colon:
    case token_kind::hat:
      fail("the response must be a single column (for binomial data write s | trials(n))",
           rest.pos);
    default:
      fail("unexpected " + describe(rest) + " in the response", rest.pos);
  }
}

void parser::parse_addition(formula& f, const token& op) {
  const token& t = peek();
  if (t.kind != token_kind::name || t.quoted || peek(1).kind != token_kind::lparen) {
    if (t.kind == token_kind::end) {
      fail("'" + op.text + "' needs trials(n) or se(s) after it", op.pos);
    }
    fail("expected trials(n) or se(s) after '" + op.text + "'", t.pos);
  }
  next();
  next();  // '('
  if (t.text == "trials") {
    if (!f.failures.empty()) {
      fail("duplicated response spec: cbind(s, f) already gives the number of trials", t.pos);
    }
    if (!f.trials.empty()) fail("duplicated response spec 'trials()'", t.pos);
    if (!f.se.empty()) fail("trials() and se() cannot be combined", t.pos);
    f.trials = parse_single_argument("trials").text;
  } else if (t.text == "se") {
    if (!f.se.empty()) fail("duplicated response spec 'se()'", t.pos);
    if (!f.trials.empty() || !f.failures.empty()) {
      fail("se() cannot be combined with binomial trials", t.pos);
    }
    f.se = parse_se_arguments();
  } else {
    fail("unsupported response addition '" + t.text + "()'; use trials() or se()", t.pos);
  }
}

std::string parser::parse_se_arguments() {
  const std::string column = parse_column_argument("se").text;
  if (peek().kind == token_kind::comma) {
    next();
    // brms's signature is se(se, sigma = FALSE); allow the argument named or by position.
    if (peek().kind == token_kind::name && !peek().quoted && peek(1).kind == token_kind::equals) {
      if (peek().text != "sigma") {
        fail("unknown argument '" + peek().text + "' of se()", peek().pos);
      }
      next();
      next();
    }
    const token& value = peek();
    const bool plain = value.kind == token_kind::name && !value.quoted;
    const bool is_true = plain && (value.text == "TRUE" || value.text == "T");
    const bool is_false = plain && (value.text == "FALSE" || value.text == "F");
    if (is_true) fail("se(..., sigma = TRUE) is not supported yet", value.pos);
    if (!is_false) fail("sigma in se() must be TRUE or FALSE", value.pos);
    next();
  }
  if (peek().kind != token_kind::rparen) {
    fail("se() takes a column name and optionally sigma = FALSE", peek().pos);
  }
  next();
  return column;
}

/** Reads one argument of cbind() up to its ',' or ')'. Returns the column name, or "" for an
 *  expression, in which case `offending_pos` is where the expression goes beyond a name. */
std::string parser::parse_cbind_argument(const token& open, std::size_t& offending_pos,
                                         std::vector<const token*>& tokens) {
  tokens.clear();
  int depth = 0;
  while (depth > 0 || (peek().kind != token_kind::comma && peek().kind != token_kind::rparen)) {
    if (peek().kind == token_kind::end) fail("unbalanced parenthesis", open.pos);
    if (peek().kind == token_kind::lparen) ++depth;
    if (peek().kind == token_kind::rparen) --depth;
    tokens.push_back(&next());
  }
  if (tokens.empty()) fail("cbind() needs two columns: cbind(successes, failures)", peek().pos);
  if (tokens.size() == 1 && tokens[0]->kind == token_kind::name) return tokens[0]->text;
  const bool starts_with_name = tokens.size() > 1 && tokens[0]->kind == token_kind::name &&
                                tokens[1]->kind != token_kind::lparen;
  offending_pos = starts_with_name ? tokens[1]->pos : tokens[0]->pos;
  return "";
}

void parser::parse_cbind(formula& f) {
  next();  // cbind
  const token& open = next();
  std::vector<const token*> first_tokens;
  std::vector<const token*> second_tokens;
  std::size_t first_bad = 0;
  std::size_t second_bad = 0;
  const std::string successes = parse_cbind_argument(open, first_bad, first_tokens);
  if (peek().kind != token_kind::comma) {
    fail("cbind() needs two columns: cbind(successes, failures)", peek().pos);
  }
  next();
  const std::string failures = parse_cbind_argument(open, second_bad, second_tokens);
  if (peek().kind != token_kind::rparen) {
    fail("cbind() takes exactly two columns: cbind(successes, failures)", peek().pos);
  }
  next();

  if (successes.empty() || failures.empty()) {
    const std::vector<const token*>& bad = successes.empty() ? first_tokens : second_tokens;
    const std::size_t begin = bad.front()->pos;
    const std::size_t end =
        bad.back()->pos + bad.back()->text.size() + (bad.back()->quoted ? 2 : 0);
    // The usual case is cbind(s, n - s): say exactly what to write instead.
    std::string suggestion = "s | trials(n)";
    if (!successes.empty()) {
      suggestion = successes + " | trials(n)";
      if (bad.size() == 3 && bad[0]->kind == token_kind::name &&
          bad[1]->kind == token_kind::minus && bad[2]->kind == token_kind::name &&
          bad[2]->text == successes) {
        suggestion = successes + " | trials(" + bad[0]->text + ")";
      }
    }
    fail("cbind() takes two column names, not the expression '" + text_.substr(begin, end - begin) +
             "'; write '" + suggestion + "' instead, with the number of trials in a column",
         successes.empty() ? first_bad : second_bad);
  }
  f.response = successes;
  f.failures = failures;
}

}  // namespace

formula parse_formula(const std::string& text) {
  const std::vector<token> tokens = tokenize(text);
  if (tokens.size() == 1) fail_at(text, "empty formula", 0);
  check_parentheses(text, tokens);

  std::size_t tilde = tokens.size();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].kind != token_kind::tilde) continue;
    if (tilde != tokens.size()) fail_at(text, "the formula has more than one '~'", tokens[i].pos);
    tilde = i;
  }
  if (tilde == tokens.size()) {
    // Point just past the last token, not at trailing whitespace.
    const token& last = tokens[tokens.size() - 2];
    fail_at(text, "the formula has no '~' (write response ~ terms)",
            last.pos + last.text.size() + (last.quoted ? 2 : 0));
  }
  if (tilde == 0) fail_at(text, "the formula has no response (nothing before '~')", tokens[0].pos);
  if (tilde + 2 == tokens.size()) {
    fail_at(text, "the formula has nothing after '~' (write 1 for an intercept-only model)",
            tokens[tilde].pos);
  }

  std::vector<token> lhs(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(tilde));
  lhs.push_back({token_kind::end, "", tokens[tilde].pos});
  std::vector<token> rhs(tokens.begin() + static_cast<std::ptrdiff_t>(tilde) + 1, tokens.end());

  formula f;
  f.text = text;
  parser(text, std::move(lhs)).parse_response(f);
  parser(text, std::move(rhs)).parse_rhs(f);
  return f;
}

}  // namespace hbglm
