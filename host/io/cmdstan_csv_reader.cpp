// Reader of CmdStan-format CSV files (one per chain); see include/hbglm/cmdstan_csv.hpp. The
// layout is CmdStan's (stan/services/util/mcmc_writer.hpp): a `#` comment header, the column
// header, the adaptation comments, one row per draw, and the timing comments at the end. The
// levels/coefs comment lines are hbglm's (shared/ARCHITECTURE.md section 4).

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <istream>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "hbglm/cmdstan_csv.hpp"
#include "hbglm/error.hpp"

namespace hbglm {

namespace {

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// One number as CmdStan writes it ("1.5e-03", "-inf", "nan"); from_chars is locale-independent
// and correctly rounded. A leading '+' (which from_chars refuses) is accepted too.
bool parse_number(const char* begin, const char* end, double& out) {
  while (begin < end && std::isspace(static_cast<unsigned char>(*begin))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(end[-1]))) --end;
  if (begin < end && *begin == '+') ++begin;
  if (begin == end) return false;
  const auto result = std::from_chars(begin, end, out);
  return result.ec == std::errc() && result.ptr == end;
}

// "1.2, 3.4, 5" -> numbers; false when any field is not a number.
bool parse_number_list(const std::string& s, std::vector<double>& out) {
  out.clear();
  const std::string t = trim(s);
  if (t.empty()) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = t.find(',', start);
    const std::size_t stop = comma == std::string::npos ? t.size() : comma;
    double v = 0;
    if (!parse_number(t.data() + start, t.data() + stop, v)) return false;
    out.push_back(v);
    if (comma == std::string::npos) return true;
    start = comma + 1;
  }
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class json_array_parser {
 public:
  explicit json_array_parser(const std::string& text) : s_(text) {}

  std::vector<std::string> parse() {
    std::vector<std::string> out;
    skip_space();
    expect('[');
    skip_space();
    if (peek() == ']') {
      ++pos_;
    } else {
      while (true) {
        skip_space();
        out.push_back(peek() == '"' ? parse_string() : parse_number_literal());
        skip_space();
        const char c = next();
        if (c == ']') break;
        if (c != ',') fail("expected ',' or ']'");
      }
    }
    skip_space();
    if (pos_ != s_.size()) fail("unexpected text after ']'");
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw data_error("not a JSON array of strings (" + what + " at character " +
                     std::to_string(pos_ + 1) + ")");
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  char next() {
    if (pos_ >= s_.size()) fail("unexpected end");
    return s_[pos_++];
  }
  void expect(char c) {
    if (next() != c) fail(std::string("expected '") + c + "'");
  }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  std::uint32_t hex4() {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = next();
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<std::uint32_t>(c - 'A' + 10);
      else
        fail("bad \\u escape");
    }
    return v;
  }
  std::string parse_string() {
    expect('"');
    std::string out;
    while (true) {
      const char c = next();
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      const char e = next();
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          std::uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a UTF-16 surrogate pair
            if (next() != '\\' || next() != 'u') fail("unpaired surrogate");
            const std::uint32_t low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("unpaired surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          fail("bad escape");
      }
    }
  }
  // Numeric labels written unquoted (e.g. [1, 2, 3]) are kept as their text.
  std::string parse_number_literal() {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != ',' && s_[pos_] != ']' &&
           !std::isspace(static_cast<unsigned char>(s_[pos_]))) {
      ++pos_;
    }
    double v = 0;
    if (start == pos_ || !parse_number(s_.data() + start, s_.data() + pos_, v)) {
      pos_ = start;
      fail("expected a string");
    }
    return s_.substr(start, pos_ - start);
  }

  const std::string& s_;
  std::size_t pos_ = 0;
};

class reader {
 public:
  reader(std::istream& in, std::string source) : in_(in) { out_.source = std::move(source); }

  cmdstan_csv read() {
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(in_, line)) {
      ++line_no;
      // getline stops at end of file without a newline: then eof() is set.
      const bool had_newline = !in_.eof();
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line_no == 1 && starts_with(line, "\xEF\xBB\xBF")) line.erase(0, 3);  // UTF-8 BOM
      handle_line(line, line_no, had_newline);
    }
    if (in_.bad()) throw data_error(out_.source + ": read error");
    if (line_no == 0) throw data_error(out_.source + ": the file is empty");
    if (!header_seen_) {
      throw data_error(out_.source + ":" + std::to_string(line_no) +
                       ": no header line (the file holds only comments or blank lines)");
    }
    drop_saved_warmup_without_adaptation();
    return std::move(out_);
  }

 private:
  /// Warmup rows saved by a run without adaptation (save_warmup = 1 with adapt engaged = 0, or a
  /// run stopped during warmup) have no "# Adaptation terminated" line after them; the header
  /// says how many there are: every thin-th of num_warmup iterations, ceil(num_warmup / thin).
  void drop_saved_warmup_without_adaptation() {
    if (out_.adaptation.present) return;
    const auto saved = out_.config.find("save_warmup");
    // CmdStan writes 0/1 (recent versions false/true).
    if (saved == out_.config.end() || (saved->second != "1" && saved->second != "true")) return;
    const auto warmup = out_.config.find("num_warmup");
    const auto thin = out_.config.find("thin");
    const long long num_warmup = warmup == out_.config.end() ? 0 : std::atoll(warmup->second.c_str());
    const long long n_thin = thin == out_.config.end() ? 1 : std::atoll(thin->second.c_str());
    if (num_warmup <= 0 || n_thin <= 0) return;
    const std::size_t n_warmup_rows =
        std::min(out_.n_draws(), static_cast<std::size_t>((num_warmup + n_thin - 1) / n_thin));
    out_.n_warmup_draws = n_warmup_rows;
    for (auto& col : out_.columns) {
      col.erase(col.begin(), col.begin() + static_cast<std::ptrdiff_t>(n_warmup_rows));
    }
  }

  [[noreturn]] void fail(std::size_t line_no, const std::string& what) const {
    throw data_error(out_.source + ":" + std::to_string(line_no) + ": " + what);
  }

  void handle_line(const std::string& line, std::size_t line_no, bool had_newline) {
    const std::string t = trim(line);
    if (t.empty()) return;
    if (t[0] == '#') {
      handle_comment(trim(t.substr(1)), line_no);
      return;
    }
    metric_state_ = metric_state::none;
    if (!header_seen_) {
      handle_header(line, line_no);
      return;
    }
    handle_row(line, line_no, had_newline);
  }

  void handle_header(const std::string& line, std::size_t line_no) {
    header_seen_ = true;
    std::set<std::string> seen;
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = line.find(',', start);
      std::string name =
          trim(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (name.empty()) {
        fail(line_no, "empty column name (column " + std::to_string(out_.names.size() + 1) +
                          ") in the header");
      }
      if (!seen.insert(name).second) fail(line_no, "duplicate column name '" + name + "'");
      out_.names.push_back(std::move(name));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    out_.columns.assign(out_.names.size(), {});
  }

  void handle_row(const std::string& line, std::size_t line_no, bool had_newline) {
    if (!had_newline) {
      // CmdStan ends every row with '\n': a row without one was cut off by a killed run, and even
      // with all its fields its last number may have lost digits.
      out_.truncated = true;
      out_.truncation_note = out_.source + ":" + std::to_string(line_no) +
                             ": incomplete last row (no newline at the end of the file) ignored";
      return;
    }
    const std::size_t n_col = out_.names.size();
    row_.clear();
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = line.find(',', start);
      const std::size_t stop = comma == std::string::npos ? line.size() : comma;
      if (row_.size() < n_col) {
        double v = 0;
        if (!parse_number(line.data() + start, line.data() + stop, v)) {
          fail(line_no, "column '" + out_.names[row_.size()] + "': '" +
                            trim(line.substr(start, stop - start)) + "' is not a number");
        }
        row_.push_back(v);
      } else {
        row_.push_back(0);  // counted only, for the message below
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (row_.size() != n_col) {
      fail(line_no, "expected " + std::to_string(n_col) + " fields as in the header, found " +
                        std::to_string(row_.size()));
    }
    for (std::size_t j = 0; j < n_col; ++j) out_.columns[j].push_back(row_[j]);
  }

  void handle_comment(const std::string& c, std::size_t line_no) {
    std::vector<double> numbers;
    if (metric_state_ == metric_state::diagonal) {
      metric_state_ = metric_state::none;
      if (!parse_number_list(c, numbers)) {
        fail(line_no, "expected the diagonal of the inverse metric (numbers separated by commas)");
      }
      out_.adaptation.inv_metric = numbers;
      out_.adaptation.n_inv_metric_rows = 1;
      return;
    }
    if (metric_state_ == metric_state::dense) {
      if (parse_number_list(c, numbers)) {
        if (out_.adaptation.n_inv_metric_rows > 0 &&
            numbers.size() * out_.adaptation.n_inv_metric_rows !=
                out_.adaptation.inv_metric.size()) {
          fail(line_no, "inverse metric rows of different lengths");
        }
        out_.adaptation.inv_metric.insert(out_.adaptation.inv_metric.end(), numbers.begin(),
                                          numbers.end());
        ++out_.adaptation.n_inv_metric_rows;
        return;
      }
      metric_state_ = metric_state::none;  // the matrix ended; this is an ordinary comment
    }
    if (c == "Adaptation terminated") {
      if (!out_.adaptation.present) {
        out_.adaptation.present = true;
        // Rows before this line are warmup draws (CmdStan's save_warmup): not posterior draws.
        out_.n_warmup_draws = out_.n_draws();
        for (auto& col : out_.columns) col.clear();
      }
      return;
    }
    if (starts_with(c, "Step size")) {
      const std::size_t eq = c.find('=');
      double v = 0;
      if (eq == std::string::npos || !parse_number(c.data() + eq + 1, c.data() + c.size(), v)) {
        fail(line_no, "cannot read the step size from '# " + c + "'");
      }
      out_.adaptation.step_size = v;
      return;
    }
    if (starts_with(c, "Diagonal elements of inverse mass matrix")) {
      metric_state_ = metric_state::diagonal;
      out_.adaptation.dense = false;
      out_.adaptation.inv_metric.clear();
      return;
    }
    if (starts_with(c, "Elements of inverse mass matrix")) {
      metric_state_ = metric_state::dense;
      out_.adaptation.dense = true;
      out_.adaptation.inv_metric.clear();
      out_.adaptation.n_inv_metric_rows = 0;
      return;
    }
    const std::size_t eq = c.find('=');
    if (eq == std::string::npos) return;
    const std::string key = trim(c.substr(0, eq));
    const std::string value = trim(c.substr(eq + 1));
    if (starts_with(key, "levels.") || starts_with(key, "coefs.")) {
      const bool is_levels = starts_with(key, "levels.");
      const std::string group = key.substr(is_levels ? 7 : 6);
      if (group.empty()) fail(line_no, "'" + key + "' names no group");
      try {
        (is_levels ? out_.levels : out_.coefs)[group] = parse_json_string_array(value);
      } catch (const data_error& e) {
        fail(line_no, key + ": " + e.what());
      }
      return;
    }
    if (key.empty() || key.find_first_of(" \t") != std::string::npos) return;
    std::string v = value;
    const std::string default_suffix = "(Default)";
    if (v.size() >= default_suffix.size() &&
        v.compare(v.size() - default_suffix.size(), default_suffix.size(), default_suffix) == 0) {
      v = trim(v.substr(0, v.size() - default_suffix.size()));
    }
    out_.config.emplace(key, v);
  }

  enum class metric_state { none, diagonal, dense };

  std::istream& in_;
  cmdstan_csv out_;
  bool header_seen_ = false;
  metric_state metric_state_ = metric_state::none;
  std::vector<double> row_;
};

}  // namespace

std::size_t cmdstan_csv::find(const std::string& name) const {
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? npos : static_cast<std::size_t>(it - names.begin());
}

std::vector<std::string> parse_json_string_array(const std::string& text) {
  return json_array_parser(text).parse();
}

cmdstan_csv read_cmdstan_csv(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw data_error(path + ": is a directory, not a CmdStan CSV file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw data_error(path + ": cannot open the file");
  // A binary file (an image, a compressed file) would otherwise be read as CSV and its bytes
  // echoed in the message: look at the first 4 KB for bytes that no text file has.
  char head[4096];
  in.read(head, sizeof head);
  const std::streamsize n = in.gcount();
  for (std::streamsize i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(head[i]);
    if (c == 0 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f')) {
      throw data_error(path + ": binary data at byte " + std::to_string(i + 1) +
                       ": not a CmdStan CSV file");
    }
  }
  in.clear();
  in.seekg(0);
  return reader(in, path).read();
}

cmdstan_csv read_cmdstan_csv_text(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  return reader(in, source).read();
}

}  // namespace hbglm
