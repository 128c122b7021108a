/** @file CSV reader: RFC 4180 text to a table of typed columns (see hbglm/table.hpp).
 *
 *  One pass over the text held in memory. Fields are views into the buffer, so a numeric cell
 *  costs a number parse and no allocation. Every column starts out numeric; the first cell that
 *  makes it text (a quoted value or a non-number) re-reads the rows before it once to recover
 *  their strings verbatim, so numeric columns never keep their cells' text.
 *
 *  A regular file is mapped into memory rather than copied, and the pages the reader has passed
 *  are handed back as it goes (madvise MADV_DONTNEED), so the file's text never sits in memory
 *  whole beside the table: a CSV written with 17 significant digits is about twice the size of
 *  the numbers it holds (bench/memory.sh). */

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#if __has_include(<sys/mman.h>) && __has_include(<sys/stat.h>) && __has_include(<unistd.h>)
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define HBGLM_CSV_CAN_MAP 1
#else
#define HBGLM_CSV_CAN_MAP 0
#endif

#include "hbglm/error.hpp"
#include "hbglm/table.hpp"

namespace hbglm {
namespace {

/// Longest cell value quoted in a message; a 1 MB field would drown the message.
constexpr std::size_t k_max_quoted_value = 40;

/// How far the reader gets past the last page it handed back before it hands back more: small
/// beside the table of any file worth mapping, large enough that the madvise calls cost nothing.
constexpr std::size_t k_release_block = std::size_t{4} << 20;

/** Hands the pages wholly inside [from, to) of a read-only file mapping back to the system: they
 *  leave the resident set, and a later read of them maps them again from the page cache (the
 *  mapping is private and never written, so its content cannot change). Must only be called on
 *  a file mapping: on anonymous memory MADV_DONTNEED would zero the pages. */
void release_mapped_pages(const char* from, const char* to) {
#if HBGLM_CSV_CAN_MAP
  static const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const std::uintptr_t first = (reinterpret_cast<std::uintptr_t>(from) + page - 1) / page * page;
  const std::uintptr_t last = reinterpret_cast<std::uintptr_t>(to) / page * page;
  // Only a hint: if it fails, the pages simply stay resident.
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
#else
  (void)from;
  (void)to;
#endif
}

/** Releases what a sequential reader of a mapping has passed, a block at a time. Does nothing
 *  for text that is not a file mapping. */
class page_releaser {
 public:
  page_releaser(const char* start, bool mapped) : released_(start), mapped_(mapped) {}
  /// Called with the reader's position; releases the pages before it every k_release_block bytes.
  void passed(const char* pos) {
    if (mapped_ && static_cast<std::size_t>(pos - released_) >= k_release_block) {
      release_mapped_pages(released_, pos);
      released_ = pos;
    }
  }
  /// Releases everything before @p pos.
  void finish(const char* pos) {
    if (mapped_ && pos > released_) release_mapped_pages(released_, pos);
    released_ = pos;
  }

 private:
  const char* released_;
  bool mapped_;
};

/// One field of a record, viewing the input buffer.
struct field_ref {
  std::string_view raw;  ///< the text; for a quoted field, between the quotes, "" not undone
  bool quoted = false;
  bool has_escaped_quote = false;  ///< raw holds "" pairs that stand for one quote
  std::size_t line = 0;            ///< line where the field starts
};

/// "source:line:col: ", the prefix of every located message; col is the 1-based field number.
std::string location(const std::string& source, std::size_t line, std::size_t col) {
  return source + ":" + std::to_string(line) + ":" + std::to_string(col) + ": ";
}

/// The value in single quotes for a message, cut short when long.
std::string quote_value(std::string_view value) {
  if (value.size() <= k_max_quoted_value) return "'" + std::string(value) + "'";
  return "'" + std::string(value.substr(0, k_max_quoted_value)) + "...' (" +
         std::to_string(value.size()) + " bytes)";
}

/// The field's value: quoted fields have their "" pairs turned back into single quotes.
std::string field_value(const field_ref& f) {
  if (!f.has_escaped_quote) return std::string(f.raw);
  std::string value;
  value.reserve(f.raw.size());
  for (std::size_t i = 0; i < f.raw.size(); ++i) {
    value += f.raw[i];
    if (f.raw[i] == '"') ++i;  // the tokenizer guarantees that the pair's second quote follows
  }
  return value;
}

/// Empty cells and NA (quoted or not, as R writes it) are missing.
bool is_missing(const field_ref& f) { return f.raw.empty() || f.raw == "NA"; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// Only spaces and tabs (or nothing): a name that cannot be told apart from no name.
bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; });
}

/// The value of a number too large or too small for a double: ±infinity or ±0, as strtod gives.
/// Decided from the decimal exponent of the leading significant digit; std::strtod is avoided
/// because it follows the C locale's decimal point. @p s has passed the syntax check.
double out_of_range_value(std::string_view s) {
  std::size_t i = 0;
  const bool negative = s[0] == '-';
  if (s[0] == '+' || s[0] == '-') ++i;
  // order: one more than the power of ten of the leading significant digit, before the exponent.
  long long order = 0;
  bool seen_significant = false;
  for (; i < s.size() && is_digit(s[i]); ++i) {
    if (s[i] != '0') seen_significant = true;
    if (seen_significant) ++order;
  }
  if (i < s.size() && s[i] == '.') {
    for (++i; i < s.size() && is_digit(s[i]); ++i) {
      if (seen_significant) continue;
      if (s[i] == '0') {
        --order;
      } else {
        seen_significant = true;
      }
    }
  }
  long long exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    const bool negative_exponent = s[i] == '-';
    if (s[i] == '+' || s[i] == '-') ++i;
    // Saturates far beyond any double's range, so that a 30-digit exponent cannot overflow.
    for (; i < s.size(); ++i) exponent = std::min(exponent * 10 + (s[i] - '0'), 1000000000LL);
    if (negative_exponent) exponent = -exponent;
  }
  const double magnitude = order + exponent > 0 ? std::numeric_limits<double>::infinity() : 0.0;
  return negative ? -magnitude : magnitude;
}

/** Parses an unquoted cell as a number: an optional sign, digits with an optional decimal point,
 *  an optional exponent, and nothing else. Inf, NaN, hexadecimal and surrounding spaces are not
 *  numbers here (a column holding them is text). */
bool parse_number(std::string_view s, double& value) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  bool has_digits = false;
  for (; i < n && is_digit(s[i]); ++i) has_digits = true;
  if (i < n && s[i] == '.') {
    for (++i; i < n && is_digit(s[i]); ++i) has_digits = true;
  }
  if (!has_digits) return false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (i == n || !is_digit(s[i])) return false;
    while (i < n && is_digit(s[i])) ++i;
  }
  if (i != n) return false;
  // from_chars rejects a leading '+'; it is locale-independent and rounds correctly.
  const char* first = s.data() + (s[0] == '+' ? 1 : 0);
  const auto [ptr, ec] = std::from_chars(first, s.data() + n, value);
  if (ec == std::errc::result_out_of_range) {
    value = out_of_range_value(s);
    return true;
  }
  return ec == std::errc() && ptr == s.data() + n;
}

/// Bytes that end an unquoted field (or are errors in one), as a table for the hot loop.
struct stop_bytes {
  bool stop[256] = {};
  stop_bytes() {
    for (unsigned char c : {',', '\n', '\r', '\0'}) stop[c] = true;
  }
};
const stop_bytes k_stop_bytes;

/** Splits text into records of fields. Keeps the line number, so that rows after a quoted field
 *  holding newlines are still located right. Throws data_error for malformed text. */
class csv_tokenizer {
 public:
  /** Starts at @p pos, which is the start of line @p line. */
  csv_tokenizer(const char* pos, const char* end, std::size_t line, const std::string& source)
      : pos_(pos), end_(end), line_start_(pos), line_(line), source_(source) {}

  /** Reads the record at the current position into @p fields (cleared first); a record always
   *  has at least one field. The caller checks position() < end first. */
  void read_record(std::vector<field_ref>& fields) {
    fields.clear();
    for (;;) {
      field_ref f;
      f.line = line_;
      const std::size_t col = fields.size() + 1;
      if (pos_ < end_ && *pos_ == '"') {
        read_quoted(f, col);
      } else {
        const char* start = pos_;
        while (pos_ < end_ && !k_stop_bytes.stop[static_cast<unsigned char>(*pos_)]) ++pos_;
        f.raw = std::string_view(start, static_cast<std::size_t>(pos_ - start));
      }
      fields.push_back(f);
      if (pos_ == end_) return;
      switch (*pos_) {
        case ',':
          ++pos_;
          continue;
        case '\n':
          ++pos_;
          start_line();
          return;
        case '\r':
          if (pos_ + 1 == end_) {
            pos_ = end_;
            return;
          }
          if (pos_[1] == '\n') {
            pos_ += 2;
            start_line();
            return;
          }
          throw data_error(location(source_, line_, col) +
                           "carriage return not followed by a line feed at character " +
                           std::to_string(char_in_line(line_start_, pos_)) + " of line " +
                           std::to_string(line_) +
                           " (old Mac line ends?); convert the file to LF or CRLF line ends");
        case '\0':
          fail_nul(col);
        default:
          // Only a quoted field can stop on any other byte: its closing quote was followed by text.
          throw data_error(location(source_, line_, col) + "unexpected " +
                           quote_value(std::string_view(pos_, 1)) +
                           " after the closing quote of field " + std::to_string(col) +
                           "; a quote inside a quoted value must be doubled "
                           "(\"\"), and only a comma or a line end may follow the closing quote");
      }
    }
  }

  /** Where the next record starts. */
  const char* position() const { return pos_; }

  /** The line where the next record starts. */
  std::size_t line() const { return line_; }

 private:
  /// Reads a quoted field; on return pos_ is just past the closing quote.
  void read_quoted(field_ref& f, std::size_t col) {
    // Kept to locate an unterminated quote; counting its character now would slow every field.
    const std::size_t open_line = line_;
    const char* open_pos = pos_;
    const char* open_line_start = line_start_;
    f.quoted = true;
    ++pos_;
    const char* start = pos_;
    for (;;) {
      while (pos_ < end_ && *pos_ != '"' && *pos_ != '\n' && *pos_ != '\0') ++pos_;
      if (pos_ == end_) {
        throw data_error(location(source_, open_line, col) +
                         "unterminated quoted field: the quote opened at character " +
                         std::to_string(char_in_line(open_line_start, open_pos)) + " of line " +
                         std::to_string(open_line) +
                         " is never closed; add the closing quote (a quote inside a quoted value "
                         "is written as two quotes, \"\")");
      }
      if (*pos_ == '\n') {
        ++pos_;
        start_line();
      } else if (*pos_ == '\0') {
        fail_nul(col);
      } else if (pos_ + 1 < end_ && pos_[1] == '"') {
        f.has_escaped_quote = true;
        pos_ += 2;
      } else {
        f.raw = std::string_view(start, static_cast<std::size_t>(pos_ - start));
        ++pos_;
        return;
      }
    }
  }

  [[noreturn]] void fail_nul(std::size_t col) const {
    throw data_error(location(source_, line_, col) + "NUL byte at character " +
                     std::to_string(char_in_line(line_start_, pos_)) + " of line " +
                     std::to_string(line_) +
                     ": this looks like a binary file (or UTF-16 text), not a CSV file; save the "
                     "data as CSV text in UTF-8");
  }

  void start_line() {
    ++line_;
    line_start_ = pos_;
  }

  /// 1-based character position of @p p in the line starting at @p line_start, counting a UTF-8
  /// sequence as one character. Only called on the error path, so the scan back to the line start
  /// costs nothing in a read.
  static std::size_t char_in_line(const char* line_start, const char* p) {
    std::size_t n = 1;
    for (const char* q = line_start; q < p; ++q) {
      if ((static_cast<unsigned char>(*q) & 0xC0) != 0x80) ++n;
    }
    return n;
  }

  const char* pos_;
  const char* end_;
  const char* line_start_;
  std::size_t line_;
  const std::string& source_;
};

/// A column being filled, with the counts that decide its type at the end.
struct column_builder {
  column col;
  std::size_t n_unquoted_values = 0;  ///< unquoted non-missing cells
};

/** Reads CSV text from [begin, end) into a table. The text must outlive the reader. When
 *  @p mapped, [begin, end) is a read-only file mapping whose pages the reader hands back once
 *  it has passed them (see release_mapped_pages). */
class csv_reader {
 public:
  csv_reader(const char* begin, const char* end, const std::string& source, bool mapped = false)
      : begin_(begin), end_(end), source_(source), mapped_(mapped) {}

  table read() {
    check_not_binary();
    static constexpr std::string_view bom = "\xEF\xBB\xBF";
    if (static_cast<std::size_t>(end_ - begin_) >= bom.size() &&
        std::string_view(begin_, bom.size()) == bom) {
      begin_ += bom.size();
    }
    // Blank lines at the end are not rows: data stops where the last line with content ends.
    const char* content_end = end_;
    while (content_end > begin_ && (content_end[-1] == '\n' || content_end[-1] == '\r')) {
      --content_end;
    }
    if (content_end == begin_) {
      throw data_error(source_ +
                       ": the file is empty; expected a header line with the column "
                       "names, then one row per line");
    }

    csv_tokenizer tokenizer(begin_, end_, 1, source_);
    std::vector<field_ref> fields;
    tokenizer.read_record(fields);
    read_header(fields);
    if (tokenizer.position() >= content_end) {
      throw data_error(source_ +
                       ":1: the file has a header line but no data rows; add the data "
                       "below the header line");
    }

    data_begin_ = tokenizer.position();
    data_line_ = tokenizer.line();
    // Newlines bound the row count from above (quoted newlines only over-count), so one
    // reservation saves the copies of growing ten-million-element vectors.
    row_capacity_ = count_newlines(data_begin_, content_end) + 1;
    table result;
    result.source = source_;
    result.line_of_row.reserve(row_capacity_);
    for (column_builder& b : builders_) {
      b.col.numbers.reserve(row_capacity_);
      b.col.missing.reserve(row_capacity_);
    }

    const std::size_t n_columns = builders_.size();
    page_releaser releaser(begin_, mapped_);
    while (tokenizer.position() < content_end) {
      const std::size_t row_line = tokenizer.line();
      tokenizer.read_record(fields);
      if (fields.size() != n_columns) fail_field_count(fields, row_line);
      const std::size_t row_idx = result.line_of_row.size();
      for (std::size_t j = 0; j < n_columns; ++j) add_cell(j, fields[j], row_idx);
      result.line_of_row.push_back(row_line);
      releaser.passed(tokenizer.position());
    }
    releaser.finish(end_);

    result.columns.reserve(n_columns);
    for (column_builder& b : builders_) result.columns.push_back(finish(b));
    return result;
  }

 private:
  /// Newlines in [first, last), counted a block at a time so that a mapping's pages are handed
  /// back behind the count.
  std::size_t count_newlines(const char* first, const char* last) const {
    std::size_t count = 0;
    page_releaser releaser(first, mapped_);
    while (first < last) {
      const char* block_end =
          first + std::min<std::size_t>(k_release_block, static_cast<std::size_t>(last - first));
      count += static_cast<std::size_t>(std::count(first, block_end, '\n'));
      first = block_end;
      releaser.passed(first);
    }
    releaser.finish(last);
    return count;
  }

  /// Files that are not text at all get a message naming what they look like.
  void check_not_binary() const {
    const std::string_view head(begin_, std::min<std::size_t>(4, end_ - begin_));
    const auto starts_with = [&head](std::string_view magic) {
      return head.substr(0, magic.size()) == magic;
    };
    std::string what;
    if (starts_with("\x1F\x8B")) {
      what = "is gzip-compressed; decompress it first (e.g. with gunzip)";
    } else if (starts_with(std::string_view("PK\x03\x04", 4))) {
      what = "is a zip archive (an .xlsx workbook?); export or extract the data as CSV";
    } else if (starts_with("\xFF\xFE") || starts_with("\xFE\xFF")) {
      what = "is UTF-16 text; save it as UTF-8";
    } else {
      return;
    }
    throw data_error(source_ + ":1:1: the file " + what);
  }

  void read_header(const std::vector<field_ref>& fields) {
    if (fields.size() == 1 && fields[0].raw.empty() && !fields[0].quoted) {
      throw data_error(location(source_, 1, 1) +
                       "the header line is blank; the first line must hold the column names");
    }
    std::unordered_map<std::string, std::size_t> col_of_name;
    builders_.resize(fields.size());
    for (std::size_t j = 0; j < fields.size(); ++j) {
      const std::size_t col = j + 1;
      std::string name = field_value(fields[j]);
      if (is_blank(name)) {
        std::string hint;
        if (j == 0) {
          hint =
              " (R's write.csv writes an unnamed first column of row names unless "
              "row.names = FALSE)";
        } else if (col == fields.size()) {
          hint = " (a trailing comma at the end of the header line?)";
        }
        throw data_error(location(source_, fields[j].line, col) + "column " + std::to_string(col) +
                         " has an empty name; give every column a name in the header line" + hint);
      }
      const auto [it, inserted] = col_of_name.emplace(name, col);
      if (!inserted) {
        throw data_error(location(source_, fields[j].line, col) + "duplicate column name " +
                         quote_value(name) + ": columns " + std::to_string(it->second) + " and " +
                         std::to_string(col) + " are both named " + quote_value(name) +
                         "; rename one of them");
      }
      builders_[j].col.name = std::move(name);
    }
  }

  [[noreturn]] void fail_field_count(const std::vector<field_ref>& fields,
                                     std::size_t row_line) const {
    const std::size_t expected = builders_.size();
    const std::size_t got = fields.size();
    if (got == 1 && fields[0].raw.empty() && !fields[0].quoted) {
      throw data_error(location(source_, row_line, 1) +
                       "blank line among the data rows: expected " + std::to_string(expected) +
                       " fields (as in the header line); remove the line or fill it in");
    }
    // The column points at the first extra field, or at the first one that is missing.
    const std::size_t col = got > expected ? expected + 1 : got + 1;
    throw data_error(location(source_, row_line, col) +
                     "wrong number of fields in the row: expected " + std::to_string(expected) +
                     " (as in the header line), got " + std::to_string(got) +
                     "; check for a missing or extra comma, and quote values that contain commas");
  }

  void add_cell(std::size_t j, const field_ref& f, std::size_t row_idx) {
    column_builder& b = builders_[j];
    column& c = b.col;
    if (is_missing(f)) {
      c.missing.push_back(1);
      if (c.is_numeric) {
        c.numbers.push_back(std::numeric_limits<double>::quiet_NaN());
      } else {
        c.strings.emplace_back();
      }
      return;
    }
    c.missing.push_back(0);
    if (!f.quoted) {
      ++b.n_unquoted_values;
      double value = 0.0;
      if (parse_number(f.raw, value)) {
        ++c.n_numeric_cells;
        if (c.is_numeric) {
          c.numbers.push_back(value);
        } else {
          c.strings.emplace_back(f.raw);
        }
        return;
      }
      if (c.first_non_numeric.empty()) {
        c.first_non_numeric = location(source_, f.line, j + 1) + quote_value(f.raw);
      }
    }
    if (c.is_numeric) make_text(j, row_idx);
    c.strings.push_back(field_value(f));
  }

  /// Turns column @p j into a text column, re-reading the first @p n_rows rows for their strings.
  /// Those rows have been read once already, so the tokenizer cannot fail on them.
  void make_text(std::size_t j, std::size_t n_rows) {
    column& c = builders_[j].col;
    c.is_numeric = false;
    std::vector<double>().swap(c.numbers);
    c.strings.reserve(row_capacity_);
    csv_tokenizer tokenizer(data_begin_, end_, data_line_, source_);
    std::vector<field_ref> fields;
    page_releaser releaser(data_begin_, mapped_);
    for (std::size_t r = 0; r < n_rows; ++r) {
      tokenizer.read_record(fields);
      const field_ref& f = fields[j];
      if (is_missing(f)) {
        c.strings.emplace_back();
      } else {
        c.strings.push_back(field_value(f));
      }
      releaser.passed(tokenizer.position());
    }
    releaser.finish(tokenizer.position());
  }

  /// Settles what a text column reports about its numbers: first_non_numeric is kept only when
  /// the unquoted values are mostly numbers, i.e. the column looks numeric with a typo in it.
  static column finish(column_builder& b) {
    column& c = b.col;
    const bool mostly_numbers = 2 * c.n_numeric_cells >= b.n_unquoted_values;
    if (c.is_numeric || !mostly_numbers) c.first_non_numeric.clear();
    return std::move(c);
  }

  const char* begin_;
  const char* end_;
  const std::string& source_;
  bool mapped_;
  std::vector<column_builder> builders_;
  const char* data_begin_ = nullptr;  ///< start of the first data row
  std::size_t data_line_ = 0;         ///< its line
  std::size_t row_capacity_ = 0;      ///< an upper bound on the number of rows
};

struct file_closer {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

/// The file opened for reading; data_error naming the path when it cannot be.
std::unique_ptr<std::FILE, file_closer> open_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw data_error(path + ": is a directory, not a CSV file; check the path");
  }
  errno = 0;
  std::unique_ptr<std::FILE, file_closer> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    const int err = errno;
    throw data_error(path + ": cannot open the file: " +
                     (err != 0 ? std::string(std::strerror(err)) : std::string("unknown error")) +
                     "; check the path and that the file is readable");
  }
  return file;
}

/// The rest of an open file as bytes. Reads in large blocks, and also works where the size is
/// not known in advance (a pipe).
std::string read_all(std::FILE* file, const std::string& path) {
  std::error_code ec;
  const std::uintmax_t size_hint = std::filesystem::file_size(path, ec);
  constexpr std::size_t block = std::size_t{1} << 20;
  std::string bytes;
  // One more byte than the size, so that the read which finds the end needs no reallocation.
  bytes.resize(ec ? block : static_cast<std::size_t>(size_hint) + 1);
  std::size_t used = 0;
  for (;;) {
    if (used == bytes.size()) bytes.resize(bytes.size() * 2);
    const std::size_t got = std::fread(&bytes[used], 1, bytes.size() - used, file);
    used += got;
    if (got == 0) break;
  }
  if (std::ferror(file)) {
    const int err = errno;
    throw data_error(path + ": error while reading the file: " +
                     (err != 0 ? std::string(std::strerror(err)) : std::string("unknown error")));
  }
  bytes.resize(used);
  return bytes;
}

/** The bytes of a file: a read-only private mapping of a regular file, so that the reader can
 *  hand pages back as it passes them; a copy in memory for anything that cannot be mapped (a
 *  pipe, an empty file, a system without mmap). As with any mapped reader (R's data.table::fread,
 *  Arrow), a file truncated by another process while it is being read ends the process with
 *  SIGBUS. */
class file_text {
 public:
  explicit file_text(const std::string& path) {
    const auto file = open_file(path);
#if HBGLM_CSV_CAN_MAP
    struct stat info {};
    if (fstat(fileno(file.get()), &info) == 0 && S_ISREG(info.st_mode) && info.st_size > 0) {
      const auto size = static_cast<std::size_t>(info.st_size);
      void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fileno(file.get()), 0);
      if (map != MAP_FAILED) {
        // Read once from front to back: read ahead, and drop pages soon after use.
        madvise(map, size, MADV_SEQUENTIAL);
        map_ = map;
        map_size_ = size;
        return;
      }
    }
#endif
    copy_ = read_all(file.get(), path);
  }
  ~file_text() {
#if HBGLM_CSV_CAN_MAP
    if (map_ != nullptr) munmap(map_, map_size_);
#endif
  }
  file_text(const file_text&) = delete;
  file_text& operator=(const file_text&) = delete;

  const char* begin() const {
    return map_ != nullptr ? static_cast<const char*>(map_) : copy_.data();
  }
  const char* end() const { return begin() + (map_ != nullptr ? map_size_ : copy_.size()); }
  bool mapped() const { return map_ != nullptr; }

 private:
  void* map_ = nullptr;
  std::size_t map_size_ = 0;
  std::string copy_;
};

}  // namespace

table read_csv(const std::string& path) {
  const file_text text(path);
  return csv_reader(text.begin(), text.end(), path, text.mapped()).read();
}

table read_csv_text(const std::string& text, const std::string& source) {
  return csv_reader(text.data(), text.data() + text.size(), source).read();
}

}  // namespace hbglm
