// The brms-like printed summary: brms's print.brmssummary layout (brms/R/summary.R, versions
// 2.x before 2.20 renamed the sections) with its print_format number formatting.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "hbglm/summary.hpp"

namespace hbglm {

namespace {

// brms's print_format: sprintf("%.2f") for every column but the ESS ones ("%.0f"); R's sprintf
// prints NA for NA (posterior's NA is NaN here) and Inf / -Inf for infinities.
std::string format_cell(double v, bool integer) {
  if (std::isnan(v)) return "NA";
  if (std::isinf(v)) return v > 0 ? "Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, integer ? "%.0f" : "%.2f", v);
  return buf;
}

// Width in characters: UTF-8 continuation bytes do not count (labels may be non-ASCII).
std::size_t display_width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string pad_left(const std::string& s, std::size_t width) {
  const std::size_t w = display_width(s);
  return w >= width ? s : std::string(width - w, ' ') + s;
}

std::string pad_right(const std::string& s, std::size_t width) {
  const std::size_t w = display_width(s);
  return w >= width ? s : s + std::string(width - w, ' ');
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

struct group_block {
  std::string name;
  std::vector<std::string> sd_coefs;
  std::vector<std::pair<std::string, std::string>> sd_rows;   // (row name, variable)
  std::vector<std::pair<std::string, std::string>> cor_rows;  // (row name, variable)
};

// cor_g__c1__c2 -> (c1, c2). A coefficient name may itself contain "__", so prefer the split
// whose halves are both coefficients of the group (from its sd_ columns); else the first "__".
std::pair<std::string, std::string> split_cor(const std::string& rest,
                                              const std::vector<std::string>& coefs) {
  const auto known = [&](const std::string& c) {
    return std::find(coefs.begin(), coefs.end(), c) != coefs.end();
  };
  for (std::size_t p = rest.find("__"); p != std::string::npos; p = rest.find("__", p + 1)) {
    if (known(rest.substr(0, p)) && known(rest.substr(p + 2))) {
      return {rest.substr(0, p), rest.substr(p + 2)};
    }
  }
  const std::size_t p = rest.find("__");
  if (p == std::string::npos) return {rest, ""};
  return {rest.substr(0, p), rest.substr(p + 2)};
}

// Number of levels of group g: the levels comment line, else the largest level index of the
// r_g.i.k columns, else 0 (unknown).
std::size_t n_levels(const named_draws& d, const std::string& group) {
  const std::string key = "r_" + group;
  const auto it = d.levels.find(key);
  if (it != d.levels.end()) return it->second.size();
  std::size_t n = 0;
  for (const std::string& name : d.names) {
    if (!starts_with(name, key + ".")) continue;
    const std::string rest = name.substr(key.size() + 1);
    const std::size_t dot = rest.find('.');
    if (dot == std::string::npos || dot == 0 || dot > 9) continue;
    const std::string idx = rest.substr(0, dot);
    if (!std::all_of(idx.begin(), idx.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    if (rest.find('.', dot + 1) != std::string::npos) continue;
    n = std::max<std::size_t>(n, std::stoul(idx));
  }
  return n;
}

}  // namespace

std::string format_brms_table(const std::vector<std::string>& row_names,
                              const std::vector<draws_summary>& rows) {
  static const char* const headers[] = {"Estimate", "Est.Error", "l-95% CI", "u-95% CI",
                                        "Rhat",     "Bulk_ESS",  "Tail_ESS"};
  constexpr std::size_t n_cols = 7;
  std::vector<std::vector<std::string>> cells(rows.size());
  std::size_t name_width = 0;
  std::size_t widths[n_cols];
  for (std::size_t j = 0; j < n_cols; ++j) widths[j] = display_width(headers[j]);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const draws_summary& s = rows[i];
    const double values[n_cols] = {s.mean, s.sd, s.q2_5, s.q97_5, s.rhat, s.ess_bulk, s.ess_tail};
    for (std::size_t j = 0; j < n_cols; ++j) {
      cells[i].push_back(format_cell(values[j], j >= 5));
      widths[j] = std::max(widths[j], display_width(cells[i][j]));
    }
    if (i < row_names.size()) name_width = std::max(name_width, display_width(row_names[i]));
  }
  // print(quote = FALSE, right = TRUE) of a character matrix: row names left-aligned, every
  // column right-aligned to its widest entry, one space between columns.
  std::string out = std::string(name_width, ' ');
  for (std::size_t j = 0; j < n_cols; ++j) out += " " + pad_left(headers[j], widths[j]);
  out += "\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out += pad_right(i < row_names.size() ? row_names[i] : "", name_width);
    for (std::size_t j = 0; j < n_cols; ++j) out += " " + pad_left(cells[i][j], widths[j]);
    out += "\n";
  }
  return out;
}

void print_brms_summary(std::ostream& out, const named_draws& d,
                        const std::vector<draws_summary>& rows) {
  std::map<std::string, const draws_summary*> by_variable;
  for (const draws_summary& s : rows) by_variable.emplace(s.variable, &s);

  // Group blocks in order of first appearance, sd rows before cor rows as brms lists them.
  std::vector<group_block> groups;
  const auto group_of = [&](const std::string& g) -> group_block& {
    for (group_block& b : groups) {
      if (b.name == g) return b;
    }
    groups.push_back(group_block{g, {}, {}, {}});
    return groups.back();
  };
  std::vector<std::pair<std::string, std::string>> fixed, family;
  static const char* const family_pars[] = {"sigma", "shape", "phi", "nu"};
  for (const std::string& name : d.names) {
    if (starts_with(name, "sd_")) {
      const std::size_t p = name.find("__", 3);
      if (p == std::string::npos) continue;
      group_block& b = group_of(name.substr(3, p - 3));
      const std::string coef = name.substr(p + 2);
      b.sd_coefs.push_back(coef);
      b.sd_rows.emplace_back("sd(" + coef + ")", name);
    } else if (starts_with(name, "b_")) {
      fixed.emplace_back(name.substr(2), name);
    } else if (std::find(std::begin(family_pars), std::end(family_pars), name) !=
               std::end(family_pars)) {
      family.emplace_back(name, name);
    }
  }
  for (const std::string& name : d.names) {
    if (!starts_with(name, "cor_")) continue;
    const std::size_t p = name.find("__", 4);
    if (p == std::string::npos) continue;
    group_block& b = group_of(name.substr(4, p - 4));
    const auto [c1, c2] = split_cor(name.substr(p + 2), b.sd_coefs);
    b.cor_rows.emplace_back("cor(" + c1 + "," + c2 + ")", name);
  }

  const auto print_table = [&](const std::vector<std::pair<std::string, std::string>>& entries) {
    std::vector<std::string> names;
    std::vector<draws_summary> table_rows;
    for (const auto& [row_name, variable] : entries) {
      const auto it = by_variable.find(variable);
      if (it == by_variable.end()) continue;
      names.push_back(row_name);
      table_rows.push_back(*it->second);
    }
    out << format_brms_table(names, table_rows);
  };

  const std::size_t n_chains = d.n_chains();
  const std::size_t n_draws = d.n_draws_per_chain();
  out << "  Draws: " << n_chains << (n_chains == 1 ? " chain" : " chains") << ", each with "
      << n_draws << " post-warmup draws; total post-warmup draws = " << n_chains * n_draws
      << "\n\n";

  if (!groups.empty()) {
    out << "Group-Level Effects:\n";
    for (const group_block& b : groups) {
      out << "~" << b.name;
      const std::size_t n = n_levels(d, b.name);
      if (n > 0) out << " (Number of levels: " << n << ")";
      out << "\n";
      std::vector<std::pair<std::string, std::string>> entries = b.sd_rows;
      entries.insert(entries.end(), b.cor_rows.begin(), b.cor_rows.end());
      print_table(entries);
      out << "\n";
    }
  }
  if (!fixed.empty()) {
    out << "Population-Level Effects:\n";
    print_table(fixed);
    out << "\n";
  }
  if (!family.empty()) {
    out << "Family Specific Parameters:\n";
    print_table(family);
    out << "\n";
  }
  out << "Draws were sampled using NUTS. For each parameter, Bulk_ESS\n"
         "and Tail_ESS are effective sample size measures, and Rhat is the potential\n"
         "scale reduction factor on split chains (at convergence, Rhat = 1).\n";
}

}  // namespace hbglm
