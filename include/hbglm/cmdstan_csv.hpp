#pragma once
/** @file Reading CmdStan-format CSV files (one file per chain), as hbglm and CmdStan write them:
 *  `#` comment lines, one header line, then one numeric row per draw. Used by `hbglm summary`. */

#include <cstddef>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace hbglm {

/** What the adaptation comments of a CmdStan file say (written after warmup):
 *  @code
 *  # Adaptation terminated
 *  # Step size = 0.787
 *  # Diagonal elements of inverse mass matrix:      (or "# Elements of inverse mass matrix:")
 *  # 0.47, 0.82                                     (one line per row when dense)
 *  @endcode */
struct cmdstan_adaptation {
  bool present = false;  ///< an "# Adaptation terminated" line was seen
  double step_size = std::numeric_limits<double>::quiet_NaN();  ///< NaN when absent
  bool dense = false;                 ///< the inverse metric is a full matrix
  std::vector<double> inv_metric;     ///< diagonal elements, or the dense matrix row by row
  std::size_t n_inv_metric_rows = 0;  ///< 1 for a diagonal metric, the dimension when dense
};

/** One CmdStan CSV file (one chain). */
struct cmdstan_csv {
  std::string source;                        ///< file name, for messages
  std::vector<std::string> names;            ///< column names in file order
  std::vector<std::vector<double>> columns;  ///< columns[j][i]: draw i of column names[j]
  /// Labels of group-effect arrays from `# levels.r_g = ["a", "b"]`, keyed by "r_g".
  std::map<std::string, std::vector<std::string>> levels;
  /// Labels of group-effect coefficients from `# coefs.r_g = ["Intercept", "x"]`, keyed by "r_g".
  std::map<std::string, std::vector<std::string>> coefs;
  /// Every other `# key = value` comment line (first occurrence wins; CmdStan's " (Default)" suffix
  /// removed), e.g. config["max_depth"] == "10", config["adapt_delta"] == "0.8".
  std::map<std::string, std::string> config;
  cmdstan_adaptation adaptation;
  /// Rows before "# Adaptation terminated" (warmup draws saved with save_warmup); not in columns.
  std::size_t n_warmup_draws = 0;
  /// True when the last row had no newline (a run killed while writing it) and was dropped.
  bool truncated = false;
  /// "file:line: ..." describing the dropped row when truncated; empty otherwise.
  std::string truncation_note;

  /** Number of (post-warmup) draws, i.e. rows kept. */
  std::size_t n_draws() const { return columns.empty() ? 0 : columns.front().size(); }
  /** Index of the column called @p name, or npos when there is none. */
  std::size_t find(const std::string& name) const;
  /** Returned by find when the column does not exist. */
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
};

/** Reads one CmdStan CSV file.
 *  Comment lines (first non-blank character '#') may appear anywhere; the first other non-blank
 *  line is the header; every later non-comment line is a row of numbers (nan, inf and -inf
 *  accepted, as CmdStan writes them). LF or CRLF line ends. A last row without a final newline
 *  is treated as cut off by a killed run: it is dropped and reported in truncated /
 *  truncation_note, since CmdStan ends every row with a newline and even a row with the right
 *  number of fields may have lost digits of its last number.
 *  @param[in] path the file
 *  @return the parsed file
 *  @throws data_error "file:line: message" for an unreadable or empty file, no header line, an
 *          empty or duplicate column name, a row with the wrong number of fields, a field that
 *          is not a number, or a malformed levels/coefs/adaptation comment. */
cmdstan_csv read_cmdstan_csv(const std::string& path);

/** As read_cmdstan_csv, from text in memory; @p source names it in messages.
 *  @param[in] text the file contents
 *  @param[in] source the name used in messages
 *  @return the parsed file
 *  @throws data_error as read_cmdstan_csv */
cmdstan_csv read_cmdstan_csv_text(const std::string& text, const std::string& source);

/** Parses a one-line JSON array of strings, e.g. `["AK", "A \"b\"", "\u00e9"]` (escapes
 *  \" \\ \/ \b \f \n \r \t \uXXXX, surrogate pairs included, are decoded to UTF-8).
 *  @param[in] text the array text
 *  @return the strings
 *  @throws data_error (without a location; callers add it) when @p text is not such an array */
std::vector<std::string> parse_json_string_array(const std::string& text);

}  // namespace hbglm
