/** @file Tests of the CSV reader (host/io/csv_reader.cpp) and table look-ups (table.cpp). */

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "hbglm/error.hpp"
#include "hbglm/table.hpp"

namespace hbglm {
namespace {

/** A file in the temporary directory, removed when the test ends. */
class temp_file {
 public:
  /** Writes @p bytes verbatim (binary mode, so CRLF and NUL survive). */
  explicit temp_file(const std::string& bytes, const std::string& suffix = ".csv") {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    // A random part keeps concurrently running test processes from sharing a file.
    path_ =
        (std::filesystem::temp_directory_path() / ("hbglm_csv_" + std::string(info->name()) + "_" +
                                                   std::to_string(std::random_device{}()) + suffix))
            .string();
    std::ofstream out(path_, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  ~temp_file() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

table read(const std::string& text) { return read_csv_text(text, "d.csv"); }

/** The message of the data_error that reading @p text throws; fails the test if none is thrown. */
std::string error_of(const std::string& text) {
  try {
    read(text);
  } catch (const data_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no data_error for input: " << text;
  return "";
}

std::string file_error_of(const std::string& path) {
  try {
    read_csv(path);
  } catch (const data_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no data_error for file: " << path;
  return "";
}

::testing::AssertionResult contains(const std::string& message, const std::string& part) {
  if (message.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << message << "' does not contain '" << part << "'";
}

const column& col(const table& t, const std::string& name) {
  const column* c = t.find(name);
  if (c == nullptr) throw std::runtime_error("no column " + name);
  return *c;
}

// ---------------------------------------------------------------------------------------------
// Layout: header, rows, line ends, BOM, blank trailing lines.

TEST(CsvReader, ReadsNumericAndTextColumns) {
  const table t = read("y,x,g\n1,2.5,a\n0,-3e2,b\n");
  EXPECT_EQ(t.source, "d.csv");
  ASSERT_EQ(t.columns.size(), 3u);
  ASSERT_EQ(t.n_rows(), 2u);
  EXPECT_EQ(t.columns[0].name, "y");
  EXPECT_EQ(t.columns[1].name, "x");
  EXPECT_EQ(t.columns[2].name, "g");
  EXPECT_TRUE(t.columns[0].is_numeric);
  EXPECT_TRUE(t.columns[1].is_numeric);
  EXPECT_FALSE(t.columns[2].is_numeric);
  EXPECT_EQ(t.columns[0].numbers, (std::vector<double>{1.0, 0.0}));
  EXPECT_EQ(t.columns[1].numbers, (std::vector<double>{2.5, -300.0}));
  EXPECT_EQ(t.columns[2].strings, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(t.columns[2].numbers.empty());
  EXPECT_TRUE(t.columns[0].strings.empty());
  for (const column& c : t.columns) EXPECT_EQ(c.missing, (std::vector<std::uint8_t>{0, 0}));
  EXPECT_EQ(t.line_of_row, (std::vector<std::size_t>{2, 3}));
}

TEST(CsvReader, TrailingNewlineIsOptional) {
  const table t = read("a,b\n1,2\n3,4");
  ASSERT_EQ(t.n_rows(), 2u);
  EXPECT_EQ(t.columns[1].numbers, (std::vector<double>{2.0, 4.0}));
}

TEST(CsvReader, CrlfLineEnds) {
  const table t = read("a,b\r\n1,x\r\n2,y\r\n");
  ASSERT_EQ(t.n_rows(), 2u);
  EXPECT_EQ(t.columns[1].name, "b");
  EXPECT_EQ(t.columns[0].numbers, (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(t.columns[1].strings, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(t.line_of_row, (std::vector<std::size_t>{2, 3}));
}

TEST(CsvReader, CrlfWithoutFinalLineEnd) {
  const table t = read("a,b\r\n1,x\r\n2,y");
  EXPECT_EQ(t.columns[1].strings, (std::vector<std::string>{"x", "y"}));
}

TEST(CsvReader, SkipsUtf8ByteOrderMark) {
  const table t = read("\xEF\xBB\xBFid,x\n1,2\n");
  EXPECT_EQ(t.columns[0].name, "id");
  EXPECT_NE(t.find("id"), nullptr);
  EXPECT_EQ(t.line_of_row, (std::vector<std::size_t>{2}));
}

TEST(CsvReader, IgnoresBlankTrailingLine) {
  EXPECT_EQ(read("a,b\n1,2\n\n").n_rows(), 1u);
  EXPECT_EQ(read("a,b\r\n1,2\r\n\r\n").n_rows(), 1u);
  EXPECT_EQ(read("a,b\n1,2\n\n\n").n_rows(), 1u);
}

TEST(CsvReader, BlankLineInSingleColumnIsMissing) {
  // With one column, an empty line is an empty cell, not a malformed row.
  const table t = read("x\n1\n\n2\n");
  ASSERT_EQ(t.n_rows(), 3u);
  const column& x = t.columns[0];
  EXPECT_TRUE(x.is_numeric);
  EXPECT_EQ(x.missing, (std::vector<std::uint8_t>{0, 1, 0}));
  EXPECT_TRUE(std::isnan(x.numbers[1]));
  EXPECT_EQ(t.line_of_row, (std::vector<std::size_t>{2, 3, 4}));
}

TEST(CsvReader, TrailingCommaMakesEmptyLastField) {
  const table t = read("a,b,c\n1,2,\n3,4,5\n");
  const column& c = col(t, "c");
  EXPECT_TRUE(c.is_numeric);
  EXPECT_EQ(c.missing, (std::vector<std::uint8_t>{1, 0}));
  EXPECT_EQ(c.numbers[1], 5.0);
}

TEST(CsvReader, QuotedHeaderNames) {
  const table t = read("\"y\",\"dose, mg\",\"say \"\"hi\"\"\"\n1,2,3\n");
  EXPECT_EQ(t.column_list(), "y, dose, mg, say \"hi\"");
  EXPECT_NE(t.find("dose, mg"), nullptr);
}

// ---------------------------------------------------------------------------------------------
// Quoting.

TEST(CsvReader, QuotedFieldsHoldCommasAndEscapedQuotes) {
  const table t = read(
      "name,x\n"
      "\"Smith, J.\",1\n"
      "\"say \"\"hi\"\"\",2\n"
      "\"\"\"\",3\n"
      "plain,4\n");
  const column& name = col(t, "name");
  EXPECT_FALSE(name.is_numeric);
  EXPECT_EQ(name.strings, (std::vector<std::string>{"Smith, J.", "say \"hi\"", "\"", "plain"}));
  EXPECT_EQ(name.missing, (std::vector<std::uint8_t>{0, 0, 0, 0}));
  EXPECT_EQ(col(t, "x").numbers, (std::vector<double>{1, 2, 3, 4}));
}

TEST(CsvReader, QuotedNewlinesKeepLineNumbersRight) {
  const table t = read(
      "id,note\n"
      "1,\"line one\nline two\"\n"
      "2,\"a\r\nb\r\nc\"\n"
      "3,plain\n");
  EXPECT_EQ(t.line_of_row, (std::vector<std::size_t>{2, 4, 7}));
  EXPECT_EQ(col(t, "note").strings,
            (std::vector<std::string>{"line one\nline two", "a\r\nb\r\nc", "plain"}));
}

TEST(CsvReader, RowStartingInsideQuotedFieldIsNotSplit) {
  // The newline inside quotes must not start a row, even when what follows looks like one.
  const table t = read("a,b\n\"x\n9,9\",1\n");
  ASSERT_EQ(t.n_rows(), 1u);
  EXPECT_EQ(col(t, "a").strings, (std::vector<std::string>{"x\n9,9"}));
}

TEST(CsvReader, ErrorAfterQuotedNewlinesNamesTheRightLine) {
  const std::string message = error_of("id,note\n1,\"two\nlines\"\n2,ok\n3,too,many\n");
  EXPECT_TRUE(contains(message, "d.csv:5:3:"));
}

TEST(CsvReader, UnquotedQuoteCharacterIsKeptVerbatim) {
  // Not RFC 4180, but common (inches); the value is text, kept as written.
  const table t = read("h,x\n5\"10,1\n");
  EXPECT_EQ(col(t, "h").strings, (std::vector<std::string>{"5\"10"}));
}

// ---------------------------------------------------------------------------------------------
// Missing values.

TEST(CsvReader, EmptyAndNaAreMissingInNumericColumns) {
  const table t = read("x,y\n1,\nNA,2\n\"NA\",3\n\"\",4\n5,6\n");
  const column& x = col(t, "x");
  EXPECT_TRUE(x.is_numeric);
  EXPECT_EQ(x.missing, (std::vector<std::uint8_t>{0, 1, 1, 1, 0}));
  ASSERT_EQ(x.numbers.size(), 5u);
  EXPECT_EQ(x.numbers[0], 1.0);
  EXPECT_TRUE(std::isnan(x.numbers[1]));
  EXPECT_TRUE(std::isnan(x.numbers[2]));
  EXPECT_TRUE(std::isnan(x.numbers[3]));
  EXPECT_EQ(x.numbers[4], 5.0);
  EXPECT_EQ(x.n_numeric_cells, 2u);
  const column& y = col(t, "y");
  EXPECT_EQ(y.missing, (std::vector<std::uint8_t>{1, 0, 0, 0, 0}));
  EXPECT_TRUE(std::isnan(y.numbers[0]));
}

TEST(CsvReader, EmptyAndNaAreMissingInTextColumns) {
  const table t = read("g\na\n\"\"\nNA\n\"NA\"\nb\n");
  const column& g = col(t, "g");
  EXPECT_FALSE(g.is_numeric);
  EXPECT_EQ(g.strings, (std::vector<std::string>{"a", "", "", "", "b"}));
  EXPECT_EQ(g.missing, (std::vector<std::uint8_t>{0, 1, 1, 1, 0}));
}

TEST(CsvReader, MissingCellsBeforeTextConversionStayMissing) {
  const table t = read("g,x\n,1\nNA,2\n1.50,3\nabc,4\n");
  const column& g = col(t, "g");
  EXPECT_FALSE(g.is_numeric);
  EXPECT_EQ(g.strings, (std::vector<std::string>{"", "", "1.50", "abc"}));
  EXPECT_EQ(g.missing, (std::vector<std::uint8_t>{1, 1, 0, 0}));
}

TEST(CsvReader, AllMissingColumnIsNumeric) {
  const table t = read("a,b\n1,\n2,NA\n");
  const column& b = col(t, "b");
  EXPECT_TRUE(b.is_numeric);
  EXPECT_EQ(b.missing, (std::vector<std::uint8_t>{1, 1}));
  EXPECT_EQ(b.n_numeric_cells, 0u);
  EXPECT_TRUE(b.first_non_numeric.empty());
}

TEST(CsvReader, LowercaseNaAndSpacesAreNotMissing) {
  const table t = read("g\nna\n \n");
  EXPECT_EQ(col(t, "g").missing, (std::vector<std::uint8_t>{0, 0}));
  EXPECT_EQ(col(t, "g").strings, (std::vector<std::string>{"na", " "}));
}

// ---------------------------------------------------------------------------------------------
// Column typing.

TEST(CsvReader, QuotedNumbersAreLabels) {
  // R's write.csv quotes factors, so "1" in a herd column is a label, not a number.
  const table t = read("herd,y\n\"1\",0\n\"2\",1\n\"10\",1\n");
  const column& herd = col(t, "herd");
  EXPECT_FALSE(herd.is_numeric);
  EXPECT_EQ(herd.strings, (std::vector<std::string>{"1", "2", "10"}));
  EXPECT_TRUE(herd.first_non_numeric.empty());
  EXPECT_EQ(herd.n_numeric_cells, 0u);
}

TEST(CsvReader, LateQuotedCellKeepsEarlierCellsVerbatim) {
  // Earlier cells were read as numbers; as text they must be exactly what the file says.
  const table t = read("x,y\n1.50,1\n-0,2\n1e3,3\n\"7\",4\n8,5\n");
  const column& x = col(t, "x");
  EXPECT_FALSE(x.is_numeric);
  EXPECT_TRUE(x.numbers.empty());
  EXPECT_EQ(x.strings, (std::vector<std::string>{"1.50", "-0", "1e3", "7", "8"}));
  EXPECT_EQ(x.n_numeric_cells, 4u);
  // Every unquoted cell is a number: nothing to point at.
  EXPECT_TRUE(x.first_non_numeric.empty());
  EXPECT_TRUE(col(t, "y").is_numeric);
}

TEST(CsvReader, MostlyNumericColumnPointsAtFirstNonNumber) {
  const table t = read("y,x\n1,1.5\n2,2\n3,abc\n4,4\n5,def\n");
  const column& x = col(t, "x");
  EXPECT_FALSE(x.is_numeric);
  EXPECT_EQ(x.first_non_numeric, "d.csv:4:2: 'abc'");
  EXPECT_EQ(x.n_numeric_cells, 3u);
  EXPECT_EQ(x.strings, (std::vector<std::string>{"1.5", "2", "abc", "4", "def"}));
}

TEST(CsvReader, HalfNumbersCountsAsMostly) {
  const table t = read("x\n1\nabc\n");
  EXPECT_EQ(col(t, "x").first_non_numeric, "d.csv:3:1: 'abc'");
  EXPECT_EQ(col(t, "x").n_numeric_cells, 1u);
}

TEST(CsvReader, MostlyTextColumnDoesNotPointAtAnything) {
  const table t = read("g\na\nb\n1\n");
  const column& g = col(t, "g");
  EXPECT_FALSE(g.is_numeric);
  EXPECT_TRUE(g.first_non_numeric.empty());
  EXPECT_EQ(g.n_numeric_cells, 1u);
  EXPECT_EQ(g.strings, (std::vector<std::string>{"a", "b", "1"}));
}

TEST(CsvReader, QuotedCellsDoNotCountTowardsMostly) {
  // Unquoted cells: 1, 2, oops -> mostly numbers, though the quoted labels outnumber them.
  const table t = read("x\n\"a\"\n\"b\"\n\"c\"\n\"d\"\n1\n2\noops\n");
  const column& x = col(t, "x");
  EXPECT_EQ(x.first_non_numeric, "d.csv:8:1: 'oops'");
  EXPECT_EQ(x.n_numeric_cells, 2u);
}

TEST(CsvReader, FirstNonNumberLocationAfterQuotedNewline) {
  const table t = read("note,x\n\"a\nb\",1\nc,2\nd,x3\ne,4\n");
  EXPECT_EQ(col(t, "x").first_non_numeric, "d.csv:5:2: 'x3'");
}

TEST(CsvReader, LongFirstNonNumberIsShortened) {
  const std::string junk(500, 'z');
  const table t = read("x\n1\n2\n" + junk + "\n");
  const std::string& where = col(t, "x").first_non_numeric;
  EXPECT_TRUE(contains(where, "d.csv:4:1: 'zzzz"));
  EXPECT_LT(where.size(), 100u);
}

TEST(CsvReader, AcceptsNumberSpellings) {
  const table t = read("x\n+1\n-0.5\n.5\n5.\n1e5\n1E-3\n+2.5e+2\n007\n-.25\n");
  const column& x = col(t, "x");
  ASSERT_TRUE(x.is_numeric);
  EXPECT_EQ(x.numbers, (std::vector<double>{1.0, -0.5, 0.5, 5.0, 1e5, 1e-3, 250.0, 7.0, -0.25}));
  EXPECT_EQ(x.n_numeric_cells, 9u);
}

TEST(CsvReader, NumbersRoundCorrectly) {
  const table t = read("x\n0.1\n2.2250738585072014e-308\n1.7976931348623157e308\n");
  EXPECT_EQ(col(t, "x").numbers[0], 0.1);
  EXPECT_EQ(col(t, "x").numbers[1], std::numeric_limits<double>::min());
  EXPECT_EQ(col(t, "x").numbers[2], std::numeric_limits<double>::max());
}

TEST(CsvReader, RejectsNonNumberSpellings) {
  // Each is the only non-missing cell of its column, so the column must come out as text.
  const std::vector<std::string> not_numbers = {
      "Inf", "-Inf", "inf", "NaN", "nan", "1e",    "e5",    ".",   "-",     "+",    "0x10",
      " 1",  "1 ",   "1d5", "--1", "+-1", "1.2.3", "1e5.5", "1e+", "1_000", "TRUE", "\t2"};
  for (const std::string& s : not_numbers) {
    const table t = read("x\n" + s + "\n");
    EXPECT_FALSE(t.columns[0].is_numeric) << "'" << s << "'";
    EXPECT_EQ(t.columns[0].strings, (std::vector<std::string>{s})) << "'" << s << "'";
    EXPECT_EQ(t.columns[0].n_numeric_cells, 0u) << "'" << s << "'";
  }
}

TEST(CsvReader, NumbersOutOfDoubleRangeSaturate) {
  const table t = read("x\n1e999\n-1e999\n1e-999\n-1e-999\n1e-310\n0.0001e-330\n12345e-400\n");
  const column& x = col(t, "x");
  ASSERT_TRUE(x.is_numeric);
  EXPECT_EQ(x.numbers[0], std::numeric_limits<double>::infinity());
  EXPECT_EQ(x.numbers[1], -std::numeric_limits<double>::infinity());
  EXPECT_EQ(x.numbers[2], 0.0);
  EXPECT_EQ(x.numbers[3], 0.0);
  EXPECT_TRUE(std::signbit(x.numbers[3]));
  EXPECT_DOUBLE_EQ(x.numbers[4], 1e-310);
  EXPECT_EQ(x.numbers[5], 0.0);
  EXPECT_EQ(x.numbers[6], 0.0);
}

TEST(CsvReader, TextKeepsValuesVerbatim) {
  const table t = read("g\n  padded  \ncaf\xC3\xA9\n\"  quoted  \"\n");
  EXPECT_EQ(col(t, "g").strings,
            (std::vector<std::string>{"  padded  ", "caf\xC3\xA9", "  quoted  "}));
}

// ---------------------------------------------------------------------------------------------
// Files.

TEST(CsvReader, ReadsFileFromDisk) {
  const temp_file f("\xEF\xBB\xBFy,g\r\n1,\"a,b\"\r\n2,\"c\r\nd\"\r\n3,e\r\n");
  const table t = read_csv(f.path());
  EXPECT_EQ(t.source, f.path());
  EXPECT_EQ(t.column_list(), "y, g");
  EXPECT_EQ(col(t, "y").numbers, (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(col(t, "g").strings, (std::vector<std::string>{"a,b", "c\r\nd", "e"}));
  EXPECT_EQ(t.line_of_row, (std::vector<std::size_t>{2, 3, 5}));
}

TEST(CsvReader, FileErrorsNameTheFile) {
  const temp_file f("a,b\n1,2\n3\n");
  const std::string message = file_error_of(f.path());
  EXPECT_TRUE(contains(message, f.path() + ":3:2:"));
}

TEST(CsvReader, AcceptsFieldOverOneMegabyte) {
  // 2 MB of text with commas, quotes and newlines inside one quoted field.
  std::string big;
  big.reserve(2u << 20);
  while (big.size() < (2u << 20)) big += "abc, \"\"q\"\"\n";
  std::string expected;
  for (std::size_t i = 0; i < big.size(); ++i) {
    expected += big[i];
    if (big[i] == '"') ++i;
  }
  const std::size_t newlines = static_cast<std::size_t>(std::count(big.begin(), big.end(), '\n'));
  const temp_file f("id,text\n1,\"" + big + "\"\n2,short\n");
  const table t = read_csv(f.path());
  ASSERT_EQ(t.n_rows(), 2u);
  const column& text = col(t, "text");
  EXPECT_EQ(text.strings[0].size(), expected.size());
  EXPECT_TRUE(text.strings[0] == expected);
  EXPECT_EQ(text.strings[1], "short");
  EXPECT_EQ(t.line_of_row, (std::vector<std::size_t>{2, 3 + newlines}));
}

TEST(CsvReader, AcceptsUnquotedFieldOverOneMegabyte) {
  const std::string big(3u << 20, 'x');
  const temp_file f("a,b\n" + big + ",1\n");
  const table t = read_csv(f.path());
  EXPECT_EQ(col(t, "a").strings[0].size(), big.size());
  EXPECT_EQ(col(t, "b").numbers[0], 1.0);
}

TEST(CsvReader, ReadsManyRows) {
  // Enough rows to cross any internal block size; values checked exactly.
  constexpr std::size_t n = 200000;
  std::string text = "id,x,y,g,z\n";
  for (std::size_t i = 0; i < n; ++i) {
    text += std::to_string(i) + "," + std::to_string(i % 97) + ".25," +
            (i % 11 == 0 ? std::string("NA") : std::to_string(i % 2)) + ",\"g" +
            std::to_string(i % 13) + "\"," + (i == n - 1 ? "late" : "1e-2") + "\n";
  }
  const temp_file f(text);
  const table t = read_csv(f.path());
  ASSERT_EQ(t.n_rows(), n);
  const column& id = col(t, "id");
  const column& x = col(t, "x");
  const column& y = col(t, "y");
  const column& g = col(t, "g");
  const column& z = col(t, "z");
  ASSERT_TRUE(id.is_numeric && x.is_numeric && y.is_numeric);
  ASSERT_FALSE(g.is_numeric);
  ASSERT_FALSE(z.is_numeric);
  for (std::size_t i = 0; i < n; i += 997) {
    EXPECT_EQ(id.numbers[i], static_cast<double>(i));
    EXPECT_EQ(x.numbers[i], static_cast<double>(i % 97) + 0.25);
    EXPECT_EQ(y.missing[i], i % 11 == 0 ? 1 : 0);
    EXPECT_EQ(g.strings[i], "g" + std::to_string(i % 13));
    EXPECT_EQ(t.line_of_row[i], i + 2);
  }
  // z became text at its last row: every earlier cell is recovered as written.
  EXPECT_EQ(z.strings[0], "1e-2");
  EXPECT_EQ(z.strings[n - 2], "1e-2");
  EXPECT_EQ(z.strings[n - 1], "late");
  EXPECT_EQ(z.n_numeric_cells, n - 1);
  EXPECT_EQ(z.first_non_numeric, f.path() + ":" + std::to_string(n + 1) + ":5: 'late'");
}

// ---------------------------------------------------------------------------------------------
// Errors.

TEST(CsvReaderError, MissingFileNamesPath) {
  const std::string path = "/nonexistent_hbglm_dir/d.csv";
  const std::string message = file_error_of(path);
  EXPECT_TRUE(contains(message, path));
  EXPECT_TRUE(contains(message, "cannot open"));
  EXPECT_TRUE(contains(message, "No such file"));
}

TEST(CsvReaderError, DirectoryIsNotAFile) {
  const std::string dir = std::filesystem::temp_directory_path().string();
  const std::string message = file_error_of(dir);
  EXPECT_TRUE(contains(message, dir));
  EXPECT_TRUE(contains(message, "directory"));
}

TEST(CsvReaderError, EmptyFile) {
  const temp_file f("");
  const std::string message = file_error_of(f.path());
  EXPECT_TRUE(contains(message, f.path()));
  EXPECT_TRUE(contains(message, "empty"));
  EXPECT_TRUE(contains(error_of(""), "d.csv: the file is empty"));
  EXPECT_TRUE(contains(error_of("\xEF\xBB\xBF"), "empty"));
  EXPECT_TRUE(contains(error_of("\n\r\n\n"), "empty"));
}

TEST(CsvReaderError, HeaderOnly) {
  for (const char* text : {"a,b\n", "a,b", "a,b\r\n", "a,b\n\n"}) {
    const std::string message = error_of(text);
    EXPECT_TRUE(contains(message, "d.csv:1:"));
    EXPECT_TRUE(contains(message, "header line but no data rows"));
  }
}

TEST(CsvReaderError, BlankHeaderLine) {
  const std::string message = error_of("\na,b\n1,2\n");
  EXPECT_TRUE(contains(message, "d.csv:1:1:"));
  EXPECT_TRUE(contains(message, "header line is blank"));
}

TEST(CsvReaderError, EmptyColumnName) {
  std::string message = error_of("a,,c\n1,2,3\n");
  EXPECT_TRUE(contains(message, "d.csv:1:2:"));
  EXPECT_TRUE(contains(message, "column 2 has an empty name"));
  message = error_of("a,  ,c\n1,2,3\n");
  EXPECT_TRUE(contains(message, "column 2 has an empty name"));
}

TEST(CsvReaderError, EmptyFirstColumnNameMentionsRowNames) {
  // What R's write.csv writes by default.
  const std::string message = error_of("\"\",\"x\"\n\"1\",2\n");
  EXPECT_TRUE(contains(message, "d.csv:1:1:"));
  EXPECT_TRUE(contains(message, "row.names = FALSE"));
}

TEST(CsvReaderError, EmptyLastColumnNameMentionsTrailingComma) {
  const std::string message = error_of("a,b,\n1,2,3\n");
  EXPECT_TRUE(contains(message, "d.csv:1:3:"));
  EXPECT_TRUE(contains(message, "trailing comma"));
}

TEST(CsvReaderError, DuplicateColumnNames) {
  const std::string message = error_of("a,b,c,b\n1,2,3,4\n");
  EXPECT_TRUE(contains(message, "d.csv:1:4:"));
  EXPECT_TRUE(contains(message, "duplicate column name 'b'"));
  EXPECT_TRUE(contains(message, "columns 2 and 4"));
}

TEST(CsvReaderError, DuplicateQuotedAndUnquotedNames) {
  const std::string message = error_of("x,\"x\"\n1,2\n");
  EXPECT_TRUE(contains(message, "columns 1 and 2"));
}

TEST(CsvReaderError, TooFewFields) {
  const std::string message = error_of("a,b,c\n1,2,3\n4,5\n6,7,8\n");
  EXPECT_TRUE(contains(message, "d.csv:3:3:"));
  EXPECT_TRUE(contains(message, "expected 3"));
  EXPECT_TRUE(contains(message, "got 2"));
}

TEST(CsvReaderError, TooManyFields) {
  const std::string message = error_of("a,b\n1,2\n3,4\n5,6,7,8\n");
  EXPECT_TRUE(contains(message, "d.csv:4:3:"));
  EXPECT_TRUE(contains(message, "expected 2"));
  EXPECT_TRUE(contains(message, "got 4"));
}

TEST(CsvReaderError, WrongFieldCountOnLastLineWithoutNewline) {
  const std::string message = error_of("a,b\n1,2\n3");
  EXPECT_TRUE(contains(message, "d.csv:3:2:"));
  EXPECT_TRUE(contains(message, "got 1"));
}

TEST(CsvReaderError, BlankLineAmongRows) {
  const std::string message = error_of("a,b\n1,2\n\n3,4\n");
  EXPECT_TRUE(contains(message, "d.csv:3:1:"));
  EXPECT_TRUE(contains(message, "blank line"));
  EXPECT_TRUE(contains(message, "expected 2"));
}

TEST(CsvReaderError, UnterminatedQuote) {
  const std::string message = error_of("a,b\n1,2\n3,\"abc\n4,5\n6,7\n");
  EXPECT_TRUE(contains(message, "d.csv:3:2:"));
  EXPECT_TRUE(contains(message, "unterminated quoted field"));
  EXPECT_TRUE(contains(message, "character 3 of line 3"));
}

TEST(CsvReaderError, UnterminatedQuoteInHeader) {
  const std::string message = error_of("\"a,b\n1,2\n");
  EXPECT_TRUE(contains(message, "d.csv:1:1:"));
  EXPECT_TRUE(contains(message, "unterminated"));
}

TEST(CsvReaderError, TextAfterClosingQuote) {
  const std::string message = error_of("a,b\n1,\"he said \"hi\"\"\n");
  EXPECT_TRUE(contains(message, "d.csv:2:2:"));
  EXPECT_TRUE(contains(message, "unexpected 'h' after the closing quote"));
}

TEST(CsvReaderError, NulByte) {
  const std::string message = error_of(std::string("a,b\n1,2\n3,4\0x\n", 14));
  EXPECT_TRUE(contains(message, "d.csv:3:2:"));
  EXPECT_TRUE(contains(message, "NUL byte at character 4 of line 3"));
  EXPECT_TRUE(contains(message, "binary"));
}

TEST(CsvReaderError, NulByteInQuotedFieldAndHeader) {
  std::string message = error_of(std::string("a,b\n1,\"x\ny\0\"\n", 14));
  EXPECT_TRUE(contains(message, "d.csv:3:2:"));
  EXPECT_TRUE(contains(message, "NUL byte at character 2 of line 3"));
  message = error_of(std::string("a\0,b\n1,2\n", 9));
  EXPECT_TRUE(contains(message, "d.csv:1:1:"));
  EXPECT_TRUE(contains(message, "NUL"));
}

TEST(CsvReaderError, BinaryJunk) {
  // Arbitrary binary bytes that start like text: caught at the first NUL.
  std::string junk = "a,b\n1,2\n";
  std::mt19937 rng(7);
  for (int i = 0; i < 4096; ++i) junk += static_cast<char>(rng() % 256);
  junk[20] = '\0';
  const std::string message = error_of(junk);
  EXPECT_TRUE(contains(message, "d.csv:")) << message;
  EXPECT_TRUE(message.find("NUL") != std::string::npos ||
              message.find("unterminated") != std::string::npos ||
              message.find("carriage return") != std::string::npos ||
              message.find("fields") != std::string::npos)
      << message;
}

TEST(CsvReaderError, GzipFile) {
  const temp_file f(std::string("\x1F\x8B\x08\x00\x00\x00\x00\x00", 8), ".csv.gz");
  const std::string message = file_error_of(f.path());
  EXPECT_TRUE(contains(message, f.path() + ":1:1:"));
  EXPECT_TRUE(contains(message, "gzip"));
}

TEST(CsvReaderError, ZipFile) {
  const std::string message = error_of(std::string("PK\x03\x04\x14\x00", 6));
  EXPECT_TRUE(contains(message, "zip"));
}

TEST(CsvReaderError, Utf16File) {
  const std::string message =
      error_of(std::string("\xFF\xFE"
                           "a\0,\0b\0\n\0",
                           10));
  EXPECT_TRUE(contains(message, "UTF-16"));
}

TEST(CsvReaderError, BareCarriageReturn) {
  const std::string message = error_of("a,b\r1,2\r");
  EXPECT_TRUE(contains(message, "d.csv:1:2:"));
  EXPECT_TRUE(contains(message, "carriage return"));
}

// ---------------------------------------------------------------------------------------------
// Table look-ups.

TEST(Table, FindReturnsColumnOrNull) {
  const table t = read("alpha,beta\n1,2\n");
  ASSERT_NE(t.find("beta"), nullptr);
  EXPECT_EQ(t.find("beta")->numbers, (std::vector<double>{2.0}));
  EXPECT_EQ(t.find("gamma"), nullptr);
  EXPECT_EQ(t.find("Beta"), nullptr);
}

TEST(Table, ColumnListInFileOrder) {
  EXPECT_EQ(read("z,a,m\n1,2,3\n").column_list(), "z, a, m");
  EXPECT_EQ(table{}.column_list(), "");
}

}  // namespace
}  // namespace hbglm
