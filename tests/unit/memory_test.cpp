/** @file Tests of the paths that keep the peak memory of a fit near the data's size
 *  (bench/memory.sh): the CSV reader on a mapped file, which hands back the pages it has passed,
 *  must give exactly the table that reading the text from memory gives; build_design on a table
 *  it may consume (build_design(table&&), which frees columns as it goes) must give exactly the
 *  design, and the same errors, as build_design on a table it only reads. */

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "hbglm/design.hpp"
#include "hbglm/error.hpp"
#include "hbglm/formula.hpp"
#include "hbglm/problem.hpp"
#include "hbglm/table.hpp"
#include "support/model_fixtures.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define HBGLM_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HBGLM_UNDER_ASAN 1
#endif
#endif

#ifndef HBGLM_TEST_DATA_DIR
#define HBGLM_TEST_DATA_DIR "tests/data"
#endif

namespace hbglm {
namespace {

/** A file in the temporary directory holding @p text, removed at the end of the scope. */
class temp_file {
 public:
  explicit temp_file(const std::string& text, const std::string& stem = "hbglm_memory_test") {
    path_ = (std::filesystem::temp_directory_path() /
             (stem + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++) + ".csv"))
                .string();
    std::ofstream out(path_, std::ios::binary);
    out << text;
  }
  ~temp_file() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  const std::string& path() const { return path_; }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::string path_;
};

/** Every field of two tables, exactly (NaN equal to NaN). */
void expect_same_table(const table& a, const table& b) {
  EXPECT_EQ(a.line_of_row, b.line_of_row);
  ASSERT_EQ(a.columns.size(), b.columns.size());
  for (std::size_t j = 0; j < a.columns.size(); ++j) {
    const column& x = a.columns[j];
    const column& y = b.columns[j];
    SCOPED_TRACE("column " + x.name);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.is_numeric, y.is_numeric);
    ASSERT_EQ(x.numbers.size(), y.numbers.size());
    for (std::size_t i = 0; i < x.numbers.size(); ++i) {
      if (std::isnan(x.numbers[i]) && std::isnan(y.numbers[i])) continue;
      ASSERT_EQ(x.numbers[i], y.numbers[i]) << "row " << i;
    }
    EXPECT_EQ(x.strings, y.strings);
    EXPECT_EQ(x.missing, y.missing);
    EXPECT_EQ(x.n_numeric_cells, y.n_numeric_cells);
  }
}

/** Every field of two designs, exactly. */
void expect_same_design(const design& a, const design& b) {
  EXPECT_EQ(a.family, b.family);
  EXPECT_EQ(a.formula_text, b.formula_text);
  EXPECT_EQ(a.response_name, b.response_name);
  EXPECT_EQ(a.n_obs, b.n_obs);
  EXPECT_EQ(a.y, b.y);
  EXPECT_EQ(a.trials, b.trials);
  EXPECT_EQ(a.se, b.se);
  EXPECT_EQ(a.offset, b.offset);
  EXPECT_EQ(a.coef_names, b.coef_names);
  EXPECT_EQ(a.X, b.X);
  EXPECT_EQ(a.column_means, b.column_means);
  EXPECT_EQ(a.has_intercept, b.has_intercept);
  EXPECT_EQ(a.centered, b.centered);
  ASSERT_EQ(a.terms.size(), b.terms.size());
  for (std::size_t t = 0; t < a.terms.size(); ++t) {
    SCOPED_TRACE("term " + std::to_string(t));
    EXPECT_EQ(a.terms[t].group, b.terms[t].group);
    EXPECT_EQ(a.terms[t].coef_names, b.terms[t].coef_names);
    EXPECT_EQ(a.terms[t].correlated, b.terms[t].correlated);
    EXPECT_EQ(a.terms[t].n_levels, b.terms[t].n_levels);
    EXPECT_EQ(a.terms[t].level_labels, b.terms[t].level_labels);
    EXPECT_EQ(a.terms[t].level_idx, b.terms[t].level_idx);
    EXPECT_EQ(a.terms[t].covariates, b.terms[t].covariates);
    EXPECT_EQ(a.terms[t].u_offset, b.terms[t].u_offset);
  }
  EXPECT_EQ(a.n_u, b.n_u);
  auto expect_same_csr = [](const csr_matrix& x, const csr_matrix& y) {
    EXPECT_EQ(x.n_rows, y.n_rows);
    EXPECT_EQ(x.n_cols, y.n_cols);
    EXPECT_EQ(x.row_ptr, y.row_ptr);
    EXPECT_EQ(x.col_idx, y.col_idx);
    EXPECT_EQ(x.values, y.values);
  };
  expect_same_csr(a.Z, b.Z);
  EXPECT_EQ(a.row_of_obs, b.row_of_obs);
  EXPECT_EQ(a.n_dropped, b.n_dropped);
  EXPECT_EQ(a.messages, b.messages);
}

/** Builds the design both ways: from the table read-only, and from a copy handed over. */
void expect_owned_table_gives_same_design(const table& t, const std::string& formula_text,
                                          family fam) {
  SCOPED_TRACE(formula_text);
  const formula f = parse_formula(formula_text);
  const design from_const = build_design(t, f, fam);
  table copy = t;
  const design from_owned = build_design(std::move(copy), f, fam);
  expect_same_design(from_const, from_owned);
}

/** The message of the error build_design throws, or "" (both ways must agree). */
template <typename Table>
std::string error_of(Table&& t, const std::string& formula_text, family fam) {
  try {
    build_design(std::forward<Table>(t), parse_formula(formula_text), fam);
  } catch (const error& e) {
    return e.what();
  }
  return "";
}

/** The peak resident set of this process (VmHWM) in bytes, or -1 where /proc is not there. */
double peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) * 1024.0;
  }
  return -1.0;
}

/** Resets VmHWM to the current resident set (Linux 4.0+); false where that is not possible. */
bool reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  if (!clear) return false;
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

// ---------------------------------------------------------------------------------------------
// CSV reader on a mapped file.

/** Text of several release blocks (4 MB): numbers, missing cells, a quoted field with newlines,
 *  and a column that turns into text on its last row, so that its earlier cells are re-read
 *  from pages the reader has already handed back. */
std::string large_csv(std::size_t n_rows) {
  std::ostringstream out;
  out.precision(17);
  out << "id,x,y,label,late\n";
  for (std::size_t i = 0; i < n_rows; ++i) {
    out << i << "," << std::sin(static_cast<double>(i)) * 1e3 << ",";
    if (i % 7 == 0) {
      out << "NA";
    } else {
      out << std::cos(static_cast<double>(i));
    }
    out << ",";
    if (i % 100000 == 50000) {
      out << "\"two\nlines, and a \"\"quote\"\"\"";
    } else {
      out << "\"g" << i % 37 << "\"";
    }
    out << "," << (i + 1 == n_rows ? std::string("late") : std::to_string(i % 5) + ".5e-1") << "\n";
  }
  return out.str();
}

TEST(MappedCsv, SameTableAsTextInMemory) {
  const std::string text = large_csv(300000);
  ASSERT_GT(text.size(), std::size_t{12} << 20);  // three release blocks at least
  const temp_file f(text);
  const table mapped = read_csv(f.path());
  const table in_memory = read_csv_text(text, f.path());
  ASSERT_EQ(mapped.n_rows(), 300000u);
  expect_same_table(mapped, in_memory);
  const column* late = mapped.find("late");
  ASSERT_NE(late, nullptr);
  ASSERT_FALSE(late->is_numeric);
  EXPECT_EQ(late->strings[0], "0.5e-1");
  EXPECT_EQ(late->strings[299998], "3.5e-1");
  EXPECT_EQ(late->strings[299999], "late");
}

TEST(MappedCsv, ErrorsAfterManyBlocksNameTheLine) {
  std::string text = large_csv(200000);
  text += "1,2,3\n";  // a short row at the end
  const temp_file f(text);
  const std::size_t line = 1 + 200000 + 2 + 1;  // header, rows, two quoted newlines, this row
  try {
    read_csv(f.path());
    ADD_FAILURE() << "no data_error";
  } catch (const data_error& e) {
    EXPECT_NE(std::string(e.what()).find(f.path() + ":" + std::to_string(line) + ":4:"),
              std::string::npos)
        << e.what();
  }
}

TEST(MappedCsv, PipeIsReadWithoutMapping) {
  // A FIFO cannot be mapped: the reader falls back to reading the bytes.
  const std::string path =
      (std::filesystem::temp_directory_path() / ("hbglm_memory_fifo_" + std::to_string(::getpid())))
          .string();
  std::filesystem::remove(path);
  if (::mkfifo(path.c_str(), 0600) != 0) GTEST_SKIP() << "mkfifo not available";
  const std::string text = large_csv(20000);
  std::thread writer([&] {
    std::ofstream out(path, std::ios::binary);
    out << text;
  });
  table from_pipe;
  try {
    from_pipe = read_csv(path);
  } catch (...) {
    writer.join();
    std::filesystem::remove(path);
    throw;
  }
  writer.join();
  std::filesystem::remove(path);
  expect_same_table(from_pipe, read_csv_text(text, path));
}

TEST(MappedCsv, FileTextIsNotHeldBesideTheTable) {
  // 100,000 rows × 20 numbers with 17 significant digits: about 39 MB of text for an 18 MB
  // table (8 bytes per number and 1 per missing flag). Holding the text whole would add it to
  // the peak; handing the pages back keeps the peak near the table's size.
  constexpr std::size_t n_rows = 100000, n_cols = 20;
  std::string text;
  {
    std::ostringstream out;
    out.precision(17);
    for (std::size_t j = 0; j < n_cols; ++j) out << (j > 0 ? "," : "") << "v" << j;
    out << "\n";
    for (std::size_t i = 0; i < n_rows; ++i) {
      for (std::size_t j = 0; j < n_cols; ++j) {
        out << (j > 0 ? "," : "") << std::sin(static_cast<double>(i * n_cols + j) + 0.5);
      }
      out << "\n";
    }
    text = out.str();
  }
  const temp_file f(text);
  const double text_bytes = static_cast<double>(text.size());
  std::string().swap(text);
#ifdef HBGLM_UNDER_ASAN
  GTEST_SKIP() << "AddressSanitizer's shadow memory and quarantine make the resident set "
                  "meaningless here";
#endif
  if (peak_rss_bytes() < 0.0 || !reset_peak_rss()) GTEST_SKIP() << "no /proc/self peak RSS";
  const double before = peak_rss_bytes();
  const table t = read_csv(f.path());
  const double grown = peak_rss_bytes() - before;
  const double table_bytes = static_cast<double>(n_rows * (n_cols * 9 + 8));
  ASSERT_EQ(t.n_rows(), n_rows);
  // The text is about 2.2 times the table; a reader that held it would grow by ~3.2 tables.
  EXPECT_LT(grown, table_bytes + 0.25 * text_bytes)
      << "peak grew by " << grown / 1e6 << " MB reading " << text_bytes / 1e6
      << " MB of text into a " << table_bytes / 1e6 << " MB table";
}

// ---------------------------------------------------------------------------------------------
// build_design on a table it may consume.

const table& reference_data() {
  static const table t = read_csv(std::string(HBGLM_TEST_DATA_DIR) + "/design/data.csv");
  return t;
}

TEST(OwnedTableDesign, SameDesignForEveryReferenceFormula) {
  // The formulas of design_test's R reference cases (tests/data/design/expected.txt), plus
  // terms whose columns are shared between the population and group-level parts (a column
  // must outlive the part that frees the others), and missing values (m).
  for (const char* text : {"y ~ x + z",
                           "y ~ f",
                           "y ~ 0 + f",
                           "y ~ 0 + f + x",
                           "y ~ e + x",
                           "y ~ f * x",
                           "y ~ x + x:f",
                           "y ~ f:h",
                           "y ~ 0 + f:h",
                           "y ~ f * h",
                           "y ~ f + f:h",
                           "y ~ h + f:h",
                           "y ~ x + f:x",
                           "y ~ x:z",
                           "y ~ f * h * x",
                           "y ~ 0 + f + h",
                           "y ~ factor(g1) + x",
                           "y ~ 0 + Intercept + x + f",
                           "y ~ x + m + (1 | g2)",
                           "y ~ x + (1 | g1)",
                           "y ~ x + (1 + x | g2)",
                           "y ~ x + (1 + f | g2)",
                           "y ~ x + (0 + h | g1)",
                           "y ~ x + (1 | g1:g2)",
                           "y ~ x + (1 | g1/g2)",
                           "y ~ x + (x || g2)",
                           "y ~ f + x + (1 + x | g3) + (1 | g2) + (1 | g1)",
                           "y ~ 1 + (1 + f * z | g3)",
                           "y ~ f * x + m + (1 + f:x | g1) + (0 + m | g3) + (1 | f)",
                           "y ~ x + (1 + factor(g1) | g3)"}) {
    expect_owned_table_gives_same_design(reference_data(), text, family::gaussian);
  }
  expect_owned_table_gives_same_design(reference_data(), "yb ~ x + f + (1 | g2)",
                                       family::bernoulli);
  expect_owned_table_gives_same_design(reference_data(), "cnt ~ x + offset(z) + (1 + x | g3)",
                                       family::poisson);
  expect_owned_table_gives_same_design(reference_data(), "s | trials(n) ~ x + m + (1 | g3)",
                                       family::binomial);
}

TEST(OwnedTableDesign, SameDesignOnARandomTable) {
  const table t = test::random_table(3000, 40, 25, 7);
  expect_owned_table_gives_same_design(
      t, "y_gaussian ~ x1 * f + x2 + (1 + x1 | g1) + (1 | g2) + (0 + x2 | g1:g2)",
      family::gaussian);
  expect_owned_table_gives_same_design(t, "y_gaussian | se(se) ~ x1 + (1 | g2)", family::gaussian);
  expect_owned_table_gives_same_design(t, "y_binomial | trials(n_trials) ~ x1 + (1 + x2 || g1)",
                                       family::binomial);
}

TEST(OwnedTableDesign, SameErrorsAsReadOnly) {
  // Errors raised after the population-level part (when the owned path has freed the columns
  // that only it used) must still name the file, line, column and the table's columns.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"y,x,g\n1,0.5,a\n2,0.7,b\n3,?,a\n4,0.1,b\n", "y ~ (1 + x | g)"},
      {"y,x,z,g\n1,0.5,1,a\n2,0.7,2,b\n3,0.1,x3,a\n4,0.1,4,b\n", "y ~ x + (0 + z | g)"},
      {"y,x,g\n1,2,a\n2,3,b\n", "y ~ x + (1 | grp)"},
      {"y,x,g\n1,2,a\n2,3,a\n3,NA,b\n", "y ~ x + (1 | g)"},
      {"y,x,g\n1,2,a\n2,3,b\n", "y ~ x + (0 | g)"},
      {"y,x,g\n1,2,a\n2,3,b\n3,4,a\n", "y ~ x + (1 | g) + (1 | g)"},
      {"y,x,g\n1,inf,a\n2,3,b\n", "y ~ x + (1 | g)"},
  };
  for (const auto& [csv, formula_text] : cases) {
    SCOPED_TRACE(formula_text);
    const table t = read_csv_text(csv, "bad.csv");
    const std::string read_only = error_of(t, formula_text, family::gaussian);
    EXPECT_FALSE(read_only.empty());
    table copy = t;
    EXPECT_EQ(error_of(std::move(copy), formula_text, family::gaussian), read_only);
  }
}

TEST(OwnedTableDesign, MakeProblemOnAnOwnedTable) {
  const table t = test::random_table(500, 10, 8, 3);
  problem_spec spec;
  spec.formula = "y_gaussian ~ x1 + f + (1 + x1 | g1) + (1 | g2)";
  const problem read_only = make_problem(t, spec);
  table copy = t;
  const problem owned = make_problem(std::move(copy), spec);
  EXPECT_EQ(owned.n_table_rows, t.n_rows());
  expect_same_design(*read_only.design_ptr, *owned.design_ptr);
  EXPECT_EQ(owned.model_ptr->dim(), read_only.model_ptr->dim());
  // The per-term copies of what Z holds are released; Z itself is the one build_design makes.
  const design full = build_design(t, read_only.parsed_formula, family::gaussian);
  for (const problem* p : {&read_only, &owned}) {
    for (const random_block& block : p->design_ptr->terms) {
      EXPECT_TRUE(block.level_idx.empty()) << block.group;
      EXPECT_TRUE(block.covariates.empty()) << block.group;
    }
    EXPECT_EQ(p->design_ptr->Z.col_idx, full.Z.col_idx);
    EXPECT_EQ(p->design_ptr->Z.values, full.Z.values);
  }
  ASSERT_FALSE(full.terms.empty());
  EXPECT_EQ(full.terms[0].level_idx.size(), t.n_rows());
}

}  // namespace
}  // namespace hbglm
