#pragma once
/** @file A data table read from CSV: typed columns with missing values. */

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hbglm {

/** One column of a table. A column is numeric when every non-missing cell is an unquoted number
 *  (quoted cells are text, as R's write.csv quotes strings and factors); otherwise it is text and
 *  its cells are kept as strings. Missing cells (empty, or NA) are NaN (numeric) or flagged. */
struct column {
  std::string name;
  bool is_numeric = true;
  std::vector<double> numbers;          ///< numeric cells; NaN where missing (numeric columns)
  std::vector<std::string> strings;     ///< text cells; "" where missing (text columns)
  std::vector<std::uint8_t> missing;    ///< 1 where the cell is missing (both kinds)
  /// For a text column whose unquoted cells are mostly numbers (a typo in a numeric column):
  /// where the first non-numeric cell is, so that using it as a number gives a precise error.
  /// Empty when the column has no such cell.
  std::string first_non_numeric;        ///< e.g. "d.csv:57:3: 'abc'"
  std::size_t n_numeric_cells = 0;      ///< unquoted cells that parse as numbers (text columns)
};

/** A table: named columns of equal length, in file order. */
struct table {
  std::string source;                   ///< file name, for error messages
  std::vector<column> columns;
  std::vector<std::size_t> line_of_row; ///< 1-based line in the file where each row starts
  std::size_t n_rows() const { return line_of_row.size(); }
  /// The column with this name, or nullptr.
  const column* find(const std::string& name) const;
  /// The column names, comma-separated, for "column not found" messages.
  std::string column_list() const;
};

/** Reads a CSV file: a header line, then one row per line; RFC 4180 quoting ("" escapes a
 *  quote, quoted fields may hold commas and newlines), LF or CRLF line ends, an optional UTF-8
 *  byte-order mark. Empty cells and NA are missing.
 *  @param[in] path the file
 *  @return the table
 *  @throws data_error naming file, line and column for anything malformed: a missing or empty file,
 *          a header only, duplicate or empty column names, a row with the wrong number of fields,
 *          an unterminated quote, a NUL byte. */
table read_csv(const std::string& path);

/** As read_csv, from text in memory; @p source names it in error messages. */
table read_csv_text(const std::string& text, const std::string& source);

/** Writes a table as CSV that read_csv reads back to the same table: numbers with 17
 *  significant digits (exact round trip), text quoted, missing cells as NA.
 *  @throws error "cannot write <path>: <reason>" */
void write_csv(const table& t, const std::string& path);

}  // namespace hbglm
