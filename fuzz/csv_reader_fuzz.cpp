/** @file libFuzzer target: read_csv_text on arbitrary bytes.
 *
 *  Checks, for every table the reader accepts: the shape (every column has n_rows entries of the
 *  kind it says it holds, missing cells are NaN or "", names are non-blank and unique, rows start
 *  on increasing lines), and a round trip: the table written back as CSV (text quoted, numbers
 *  as the shortest text that reads back to the same double, missing as NA) reads back to the
 *  same names, types, missing flags, numbers (bit for bit) and strings. */

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>

#include "fuzz_common.hpp"
#include "hbglm/table.hpp"

namespace {

using hbglm::column;
using hbglm::table;

bool is_blank(const std::string& s) {
  return s.find_first_not_of(" \t") == std::string::npos;
}

bool same_bits(double a, double b) {
  // NaN payloads are not compared: a missing numeric cell is any NaN.
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::memcmp(&a, &b, sizeof a) == 0;
}

void check_shape(const table& t) {
  const std::size_t n = t.n_rows();
  HBGLM_FUZZ_CHECK(n >= 1, "an accepted table has at least one data row");
  HBGLM_FUZZ_CHECK(!t.columns.empty(), "an accepted table has a column");
  for (std::size_t r = 0; r < n; ++r) {
    HBGLM_FUZZ_CHECK(t.line_of_row[r] >= 2, "row " + std::to_string(r) + " starts on line 1");
    if (r > 0) {
      HBGLM_FUZZ_CHECK(t.line_of_row[r] > t.line_of_row[r - 1],
                       "row " + std::to_string(r) + " does not start after the row before");
    }
  }
  std::set<std::string> names;
  for (const column& c : t.columns) {
    HBGLM_FUZZ_CHECK(!is_blank(c.name), "blank column name accepted");
    HBGLM_FUZZ_CHECK(names.insert(c.name).second, "duplicate column name '" + c.name + "'");
    HBGLM_FUZZ_CHECK(c.missing.size() == n, "column '" + c.name + "': missing.size() != n_rows");
    HBGLM_FUZZ_CHECK(t.find(c.name) == &c, "find() does not return the column");
    if (c.is_numeric) {
      HBGLM_FUZZ_CHECK(c.numbers.size() == n, "numeric column '" + c.name + "' lacks rows");
      HBGLM_FUZZ_CHECK(c.strings.empty(), "numeric column '" + c.name + "' keeps strings");
      HBGLM_FUZZ_CHECK(c.first_non_numeric.empty(), "numeric column with first_non_numeric");
      for (std::size_t r = 0; r < n; ++r) {
        HBGLM_FUZZ_CHECK(c.missing[r] <= 1, "missing flag is not 0 or 1");
        HBGLM_FUZZ_CHECK(static_cast<bool>(c.missing[r]) == std::isnan(c.numbers[r]),
                         "column '" + c.name + "' row " + std::to_string(r) +
                             ": NaN if and only if missing");
      }
    } else {
      HBGLM_FUZZ_CHECK(c.strings.size() == n, "text column '" + c.name + "' lacks rows");
      HBGLM_FUZZ_CHECK(c.numbers.empty(), "text column '" + c.name + "' keeps numbers");
      HBGLM_FUZZ_CHECK(c.n_numeric_cells <= n, "more numeric cells than rows");
      for (std::size_t r = 0; r < n; ++r) {
        HBGLM_FUZZ_CHECK(c.missing[r] <= 1, "missing flag is not 0 or 1");
        if (c.missing[r]) {
          HBGLM_FUZZ_CHECK(c.strings[r].empty(), "missing text cell is not \"\"");
        } else {
          HBGLM_FUZZ_CHECK(!c.strings[r].empty() && c.strings[r] != "NA",
                           "a non-missing text cell is empty or NA");
        }
      }
    }
  }
}

void append_quoted(std::string& out, const std::string& s) {
  out += '"';
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
}

void append_number(std::string& out, double v) {
  if (std::isinf(v)) {  // the reader turns a literal too large for a double into +-inf
    out += v < 0 ? "-1e999" : "1e999";
    return;
  }
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

std::string write_back(const table& t) {
  std::string out;
  for (std::size_t j = 0; j < t.columns.size(); ++j) {
    if (j > 0) out += ',';
    append_quoted(out, t.columns[j].name);
  }
  out += "\r\n";  // CRLF on purpose: the round trip also covers it
  for (std::size_t r = 0; r < t.n_rows(); ++r) {
    for (std::size_t j = 0; j < t.columns.size(); ++j) {
      const column& c = t.columns[j];
      if (j > 0) out += ',';
      if (c.missing[r]) {
        out += "NA";
      } else if (c.is_numeric) {
        append_number(out, c.numbers[r]);
      } else {
        append_quoted(out, c.strings[r]);
      }
    }
    out += '\n';
  }
  return out;
}

void check_round_trip(const table& t) {
  const std::string text = write_back(t);
  table back;
  try {
    back = hbglm::read_csv_text(text, "round_trip.csv");
  } catch (const hbglm::error& e) {
    hbglm::fuzz::fail(__FILE__, __LINE__,
                      std::string("the table written back does not read: ") + e.what());
  }
  HBGLM_FUZZ_CHECK(back.n_rows() == t.n_rows(), "round trip changes the row count");
  HBGLM_FUZZ_CHECK(back.columns.size() == t.columns.size(), "round trip changes the columns");
  for (std::size_t j = 0; j < t.columns.size(); ++j) {
    const column& a = t.columns[j];
    const column& b = back.columns[j];
    HBGLM_FUZZ_CHECK(a.name == b.name, "round trip changes a name");
    // A column with only missing cells is numeric both ways; otherwise the type survives.
    HBGLM_FUZZ_CHECK(a.is_numeric == b.is_numeric, "round trip changes the type of '" + a.name + "'");
    HBGLM_FUZZ_CHECK(a.missing == b.missing, "round trip changes missing cells of '" + a.name + "'");
    if (a.is_numeric) {
      for (std::size_t r = 0; r < t.n_rows(); ++r) {
        HBGLM_FUZZ_CHECK(same_bits(a.numbers[r], b.numbers[r]),
                         "round trip changes a number in '" + a.name + "'");
      }
    } else {
      HBGLM_FUZZ_CHECK(a.strings == b.strings, "round trip changes text in '" + a.name + "'");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  return hbglm::fuzz::run_one([&] {
    const table t = hbglm::read_csv_text(text, "fuzz.csv");
    check_shape(t);
    (void)t.column_list();
    check_round_trip(t);
  });
}
