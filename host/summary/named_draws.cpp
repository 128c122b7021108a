// Chain files put together (named_draws), display names of group effects, summaries of every
// variable, and the CSV summary writer.

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cmath>
#include <exception>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "hbglm/cmdstan_csv.hpp"
#include "hbglm/error.hpp"
#include "hbglm/summary.hpp"

namespace hbglm {

namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

// The label with 1-based index @p idx_text, or the index itself when there is no such label.
std::string label(const std::map<std::string, std::vector<std::string>>& labels,
                  const std::string& group, const std::string& idx_text) {
  const auto it = labels.find(group);
  if (it == labels.end() || idx_text.size() > 9) return idx_text;
  const unsigned long idx = std::stoul(idx_text);
  if (idx < 1 || idx > it->second.size()) return idx_text;
  return it->second[idx - 1];
}

named_draws combine(std::vector<cmdstan_csv>&& chains) {
  if (chains.empty()) throw data_error("no chain files given");
  named_draws d;
  const cmdstan_csv& first = chains.front();
  for (const cmdstan_csv& c : chains) {
    if (c.names != first.names) {
      std::size_t j = 0;
      while (j < c.names.size() && j < first.names.size() && c.names[j] == first.names[j]) ++j;
      const std::string a = j < c.names.size() ? "'" + c.names[j] + "'" : "(none)";
      const std::string b = j < first.names.size() ? "'" + first.names[j] + "'" : "(none)";
      throw data_error(c.source + ": its columns differ from those of " + first.source +
                       " (column " + std::to_string(j + 1) + " is " + a + " there " + b +
                       "); all chains must come from the same model");
    }
    if (c.truncated) d.notes.push_back(c.truncation_note);
  }
  d.names = first.names;
  d.levels = first.levels;
  d.coefs = first.coefs;
  d.config = first.config;

  // A chain without draws (killed during warmup) is left out rather than emptying every chain.
  std::vector<cmdstan_csv*> kept;
  for (cmdstan_csv& c : chains) {
    if (c.n_draws() == 0) {
      d.notes.push_back(c.source + ": no draws; chain left out");
    } else {
      kept.push_back(&c);
    }
  }
  if (kept.empty()) throw data_error(first.source + ": no draws in any chain file");

  // posterior needs chains of equal length: cut all to the shortest (a killed run).
  std::size_t n_min = kept.front()->n_draws();
  std::size_t n_max = n_min;
  for (const cmdstan_csv* c : kept) {
    n_min = std::min(n_min, c->n_draws());
    n_max = std::max(n_max, c->n_draws());
  }
  if (n_min != n_max) {
    std::string counts;
    for (const cmdstan_csv* c : kept) {
      counts += (counts.empty() ? "" : ", ") + std::to_string(c->n_draws());
    }
    d.notes.push_back("chains have different numbers of draws (" + counts +
                      "); each was cut to its first " + std::to_string(n_min) + " draws");
  }

  d.variables.reserve(d.names.size());
  for (const std::string& name : d.names)
    d.variables.push_back(display_name(name, d.levels, d.coefs));
  d.draws.assign(d.names.size(), std::vector<std::vector<double>>(kept.size()));
  for (std::size_t c = 0; c < kept.size(); ++c) {
    d.sources.push_back(kept[c]->source);
    for (std::size_t j = 0; j < d.names.size(); ++j) {
      std::vector<double>& col = kept[c]->columns[j];
      col.resize(n_min);
      d.draws[j][c] = std::move(col);
    }
  }
  return d;
}

// Shortest decimal that reads back to the same double; NA / Inf as R writes them.
std::string format_number(double v) {
  if (std::isnan(v)) return "NA";
  if (std::isinf(v)) return v > 0 ? "Inf" : "-Inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// RFC 4180: quote a field only when it holds a comma, quote or line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::size_t named_draws::n_draws_per_chain() const {
  return draws.empty() || draws.front().empty() ? 0 : draws.front().front().size();
}

std::size_t named_draws::find(const std::string& name) const {
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? npos : static_cast<std::size_t>(it - names.begin());
}

std::string display_name(const std::string& column,
                         const std::map<std::string, std::vector<std::string>>& levels,
                         const std::map<std::string, std::vector<std::string>>& coefs) {
  if (column.compare(0, 2, "r_") != 0) return column;
  // Read from the right: the group name itself may contain dots (a data column "age.group").
  const std::size_t last = column.rfind('.');
  if (last == std::string::npos || last < 3) return column;
  const std::size_t middle = column.rfind('.', last - 1);
  if (middle == std::string::npos || middle < 3) return column;
  const std::string group = column.substr(0, middle);
  const std::string level_idx = column.substr(middle + 1, last - middle - 1);
  const std::string coef_idx = column.substr(last + 1);
  if (!all_digits(level_idx) || !all_digits(coef_idx)) return column;
  return group + "[" + label(levels, group, level_idx) + "," + label(coefs, group, coef_idx) + "]";
}

bool is_sampler_column(const std::string& name) {
  return name != "lp__" && name.size() > 2 && name.compare(name.size() - 2, 2, "__") == 0;
}

named_draws combine_chains(const std::vector<cmdstan_csv>& chains) {
  std::vector<cmdstan_csv> copy = chains;
  return combine(std::move(copy));
}

named_draws read_chains(const std::vector<std::string>& paths) {
  std::vector<cmdstan_csv> chains;
  chains.reserve(paths.size());
  for (const std::string& p : paths) chains.push_back(read_cmdstan_csv(p));
  return combine(std::move(chains));
}

std::vector<draws_summary> summarise_draws(const named_draws& d, std::size_t n_threads) {
  std::vector<std::size_t> columns;
  for (std::size_t j = 0; j < d.names.size(); ++j) {
    if (!is_sampler_column(d.names[j])) columns.push_back(j);
  }
  std::vector<draws_summary> rows(columns.size());
  if (n_threads == 0) n_threads = std::max(1u, std::thread::hardware_concurrency());
  n_threads = std::min(n_threads, std::max<std::size_t>(1, columns.size()));

  // Variables are independent: workers take the next one from a shared counter. Each row is
  // computed by one thread alone, so the results do not depend on the number of threads.
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  const auto work = [&] {
    try {
      for (std::size_t k = next++; k < columns.size(); k = next++) {
        const std::size_t j = columns[k];
        rows[k] = summarise_draws(d.variables[j], d.draws[j]);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = columns.size();
    }
  };
  if (n_threads <= 1) {
    work();
  } else {
    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < n_threads; ++t) workers.emplace_back(work);
    for (std::thread& w : workers) w.join();
  }
  if (failure) std::rethrow_exception(failure);
  return rows;
}

void write_summary_csv(std::ostream& out, const std::vector<draws_summary>& rows) {
  out << "variable,mean,median,sd,mad,q5,q95,rhat,ess_bulk,ess_tail,mcse_mean\n";
  for (const draws_summary& s : rows) {
    out << csv_field(s.variable);
    for (double v : {s.mean, s.median, s.sd, s.mad, s.q5, s.q95, s.rhat, s.ess_bulk, s.ess_tail,
                     s.mcse_mean}) {
      out << ',' << format_number(v);
    }
    out << '\n';
  }
}

}  // namespace hbglm
