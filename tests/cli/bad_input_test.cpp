// Bad input through the real binary (issue 5, item 3): a table of malformed CSV files, formulas,
// priors, options, data that does not fit the family, and `hbglm summary` misuse. Each case runs
// the hbglm executable and checks that it
//   - is not killed by a signal and exits 1 (bad input) or 2 (bad usage): never 0, never 3
//     ("internal error"), never a sanitizer's exit code;
//   - prints every expected substring: the message says what and where (file:line:column, the
//     formula or prior with a caret under the column, the term, the option);
//   - prints a short message of printable text (a 1 MB field or binary junk must not end up in it);
//   - for `sample`: leaves no draws behind. Everything is validated before the output directory is
//     created, so the directory must not even exist afterwards; the cases whose error can only come
//     after it was created say so (`output_dir_created`); no case may leave a CSV file.
// Cases about the model (data, formula, prior, family) run through both `sample` and `check`,
// which must print the same message.
//
// Fixtures are generated into a temporary directory by the test (exact bytes: BOM, CR, NUL, a
// 1 MB field), so no editor or git setting can alter them.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace hbglm {
namespace {

namespace fs = std::filesystem;

const std::string cli = HBGLM_CLI_PATH;

/// The longest output a failing command may print: a message, or the usage text.
constexpr std::size_t k_max_output_bytes = 4096;
/// A command that has not finished after this long is killed and reported (sanitized builds are
/// several times slower than Release, and a case that wrongly starts sampling runs a tiny model).
constexpr auto k_command_timeout = std::chrono::seconds(120);

struct command_result {
  int exit_code = -1;  ///< -1 when killed by a signal
  int signal = 0;      ///< the signal that killed it, or 0
  bool timed_out = false;
  std::string output;  ///< stdout and stderr together
};

/// Runs hbglm with @p args (no shell: arguments are passed verbatim, binary-safe paths included).
command_result run_cli(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(cli.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  pid_t pid = 0;
  const int spawn_error = ::posix_spawn(&pid, cli.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  command_result r;
  if (spawn_error != 0) {
    r.output = "posix_spawn failed: " + std::to_string(spawn_error);
    return r;
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + k_command_timeout;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  std::ifstream in(log, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  r.output = text.str();
  return r;
}

/// What a command may leave in its output directory.
enum class outputs {
  none,                    ///< the output directory is not even created
  output_dir_created,      ///< the (empty) directory may be created; no CSV file in it
};

enum class command { model, sample, summary, other };

struct bad_case {
  std::string name;                   ///< test name: letters, digits, underscores
  command cmd;                        ///< model: `sample` and `check`; sample: `sample` only
  std::vector<std::string> args;      ///< after the subcommand; {dir} {out} are substituted
  std::vector<std::string> messages;  ///< each must appear in the output; {dir} {out} substituted
  outputs left = outputs::none;
  std::string out_dir = "{out}";  ///< the output directory the case writes to
};

/// gtest prints parameters with this; the name is enough.
void PrintTo(const bad_case& c, std::ostream* os) { *os << c.name; }

const std::vector<std::string> k_sample_defaults = {
    "--quiet", "--warmup", "150", "--samples", "10", "--chains", "2", "--seed", "1"};

// ---------------------------------------------------------------------------------------------
// Fixture files.

std::string megabyte(char c) { return std::string(std::size_t{1} << 20, c); }

/// A string literal's bytes, embedded NULs included (without the terminating one).
template <std::size_t N>
std::string bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

/// Binary junk: an ELF-like header (a NUL at byte 8) and then bytes from a fixed-seed mt19937,
/// whose output sequence the C++ standard specifies, so the file is the same everywhere.
std::string binary_junk() {
  std::string s = bytes(
      "\x7f"
      "ELF\x02\x01\x01\x00");
  std::mt19937 gen(20240601u);
  for (int i = 0; i < 4096; ++i) s += static_cast<char>(gen() & 0xFFu);
  return s;
}

const std::map<std::string, std::string>& fixture_files() {
  static const std::map<std::string, std::string> files = [] {
    std::map<std::string, std::string> f;
    f["good.csv"] = "y,x,g\n1.5,0.1,a\n2.5,0.7,a\n0.3,1.2,b\n1.1,0.4,b\n2.0,0.9,c\n0.8,0.2,c\n";
    // UTF-8 byte order marks (Excel writes them): these must be read, not rejected.
    f["bom.csv"] = "\xEF\xBB\xBFy,x,g\n1.5,0.1,a\n2.5,0.7,a\n0.3,1.2,b\n1.1,0.4,b\n";
    f["bom_quoted.csv"] =
        "\xEF\xBB\xBF\"y\",\"x\",\"g\"\n1.5,0.1,\"a\"\n2.5,0.7,\"a\"\n"
        "0.3,1.2,\"b\"\n1.1,0.4,\"b\"\n";
    f["bom_crlf.csv"] = "\xEF\xBB\xBFy,x,g\r\n1.5,0.1,a\r\n2.5,0.7,a\r\n0.3,1.2,b\r\n1.1,0.4,b\r\n";
    // Malformed CSV.
    f["ragged_short.csv"] = "y,x,g\n1.5,0.1,a\n2.5,0.7\n0.3,1.2,b\n";
    f["ragged_long.csv"] = "y,x,g\n1.5,0.1,a\n2.5,0.7,a,extra\n0.3,1.2,b\n";
    f["unterminated.csv"] = "y,x,g\n1.5,0.1,\"a\n2.5,0.7,a\n0.3,1.2,b\n";
    f["quote_then_text.csv"] = "y,x,g\n1.5,0.1,\"a\"b\n0.3,1.2,b\n";
    f["junk.bin"] = binary_junk();
    f["image.png"] = bytes("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR") + std::string(64, '\0');
    f["data.csv.gz"] = bytes("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03") + "junk";
    f["utf16.csv"] = bytes(
        "\xFF\xFEy\x00,\x00x\x00\n\x00"
        "1\x00,\x00"
        "2\x00\n\x00");
    f["empty.csv"] = "";
    f["bom_only.csv"] = "\xEF\xBB\xBF";
    f["header_only.csv"] = "y,x,g\n";
    f["duplicate_columns.csv"] = "y,x,x\n1,2,3\n4,5,6\n";
    f["empty_name.csv"] = "y,,g\n1,2,a\n3,4,b\n";
    f["blank_line.csv"] = "y,x,g\n1,2,a\n\n3,4,b\n";
    f["cr_only.csv"] = "y,x,g\r1,2,a\r3,4,b\r";
    f["text_in_numbers.csv"] = "y,x,g\n1,abc,a\n3,4,b\n5,6,b\n";
    f["overflow.csv"] = "y,x,g\n1,0.1,a\n2,1e999,a\n3,1.2,b\n4,0.5,b\n";
    f["megabyte_field.csv"] = "y,x,g\n1,2,a\n2," + megabyte('x') + ",a\n3,4,b\n4,5,b\n";
    f["megabyte_name.csv"] = "y," + megabyte('n') + ",g\n1,2,a\n2,3,a\n3,4,b\n4,5,b\n";
    f["megabyte_level.csv"] = "y,x,g\n1,2,a\n2,3," + megabyte('q') + "\n3,4,b\n4,5,b\n";
    f["all_missing.csv"] = "y,x,g\n1,NA,a\n2,,b\n";
    // Data that does not fit the family.
    f["bern.csv"] = "y,x,g\n1,0.1,a\n0,0.7,a\n0,1.2,b\n1,0.4,b\n1,0.9,c\n0,0.2,c\n";
    f["bern_two.csv"] = "y,x,g\n1,0.1,a\n0,0.7,a\n2,1.2,b\n1,0.4,b\n";
    f["bern_three_labels.csv"] = "y,x,g\nyes,0.1,a\nno,0.7,a\nmaybe,1.2,b\nno,0.4,b\n";
    f["pois_negative.csv"] = "y,x,g\n1,0.1,a\n0,0.7,a\n-1,1.2,b\n1,0.4,b\n";
    f["pois_fraction.csv"] = "y,x,g\n1,0.1,a\n0.5,0.7,a\n1,1.2,b\n1,0.4,b\n";
    f["binomial.csv"] = "s,n,x,g\n1,3,0.1,a\n4,3,0.7,a\n1,2,1.2,b\n1,5,0.4,b\n";
    f["binomial_cbind.csv"] = "s,f,x,g\n1,3,0.1,a\n4,-1,0.7,a\n1,2,1.2,b\n1,5,0.4,b\n";
    f["se_zero.csv"] = "y,s,x,g\n1.2,0.5,0.1,a\n0.3,0,0.7,a\n1,1,1.2,b\n1,1,0.4,b\n";
    f["se_counts.csv"] = "y,s,x,g\n1,0.5,0.1,a\n0,1,0.7,a\n1,1,1.2,b\n1,1,0.4,b\n";
    f["one_level.csv"] = "y,x,g\n1,0.1,a\n2,0.7,a\n3,1.2,a\n4,0.4,a\n";
    f["text_response.csv"] = "y,x,g\n1,0.1,a\n2,0.2,b\nx,0.3,b\n4,0.4,c\n";
    // Draw files for `hbglm summary`.
    f["draws_a.csv"] = "lp__,b_x\n-1,0.1\n-2,0.2\n-1.5,0.3\n";
    f["draws_b.csv"] = "lp__,b_z\n-1,0.1\n-2,0.2\n-1.5,0.3\n";
    f["draws_header_only.csv"] = "lp__,b_x\n";
    f["numbers.csv"] = "y,x\n1,2\n3,4\n5,7\n2,2\n";
    return f;
  }();
  return files;
}

class BadInput : public ::testing::TestWithParam<bad_case> {
 public:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("hbglm_bad_input_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "out");
    for (const auto& [name, bytes] : fixture_files()) {
      std::ofstream(dir_ / name, std::ios::binary) << bytes;
    }
    // An output directory in which chain 2's file name is taken by a directory.
    fs::create_directories(dir_ / "collide" / "hbglm_2.csv");
    fs::create_directories(dir_ / "a_directory");
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static fs::path dir_;

 protected:
  std::string substitute(std::string s, const std::string& out) const {
    for (const auto& [key, value] :
         {std::pair<std::string, std::string>{"{dir}", dir_.string()}, {"{out}", out}}) {
      for (std::size_t at = s.find(key); at != std::string::npos; at = s.find(key, at)) {
        s.replace(at, key.size(), value);
        at += value.size();
      }
    }
    return s;
  }
};

fs::path BadInput::dir_;

/// Draw rows (not comments, not the header) in a CmdStan CSV file.
std::size_t count_draw_rows(const fs::path& file) {
  std::ifstream in(file);
  std::size_t n = 0;
  bool header_seen = false;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (!header_seen) {
      header_seen = true;
      continue;
    }
    ++n;
  }
  return n;
}

/// The output with non-printable bytes shown as \xNN, cut short, for failure messages.
std::string shown(const std::string& output) {
  std::string s;
  for (std::size_t i = 0; i < output.size() && i < 2000; ++i) {
    const auto c = static_cast<unsigned char>(output[i]);
    if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f)) {
      s += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      s += hex;
    }
  }
  if (output.size() > 2000) s += "... (" + std::to_string(output.size()) + " bytes in all)";
  return s;
}

/// The checks every failing command must pass.
void expect_clean_failure(const command_result& r, const std::vector<std::string>& messages,
                          const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_FALSE(r.timed_out) << "did not finish in time";
  EXPECT_EQ(r.signal, 0) << "CRASH: killed by signal " << r.signal << "\n" << shown(r.output);
  EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 2)
      << "exit code " << r.exit_code << " (expected 1 for bad input or 2 for bad usage; "
      << "0 = accepted, 3 = internal error, 86 = sanitizer report)\n"
      << shown(r.output);
  EXPECT_EQ(r.output.find("internal error"), std::string::npos) << shown(r.output);
  for (const auto& m : messages) {
    EXPECT_NE(r.output.find(m), std::string::npos)
        << "expected: " << shown(m) << "\n     got: " << shown(r.output);
  }
  EXPECT_LE(r.output.size(), k_max_output_bytes)
      << "the message is " << r.output.size() << " bytes long:\n"
      << shown(r.output);
  std::size_t n_control = 0;
  for (char ch : r.output) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) ++n_control;
  }
  EXPECT_EQ(n_control, 0u) << "the message holds control bytes (binary junk?):\n"
                           << shown(r.output);
}

TEST_P(BadInput, FailsCleanly) {
  const bad_case& c = GetParam();
  const std::string out = (dir_ / "out" / c.name).string();
  const fs::path log = dir_ / (c.name + ".log");
  std::vector<std::string> args;
  for (const auto& a : c.args) args.push_back(substitute(a, out));
  std::vector<std::string> messages;
  for (const auto& m : c.messages) messages.push_back(substitute(m, out));

  switch (c.cmd) {
    case command::model:
    case command::sample: {
      std::vector<std::string> sample_args = {"sample"};
      sample_args.insert(sample_args.end(), k_sample_defaults.begin(), k_sample_defaults.end());
      sample_args.insert(sample_args.end(), {"--output-dir", out});
      sample_args.insert(sample_args.end(), args.begin(), args.end());
      const command_result r = run_cli(sample_args, log);
      expect_clean_failure(r, messages, "hbglm sample");
      EXPECT_EQ(r.output.find("Sampled "), std::string::npos) << "reported success";
      const fs::path out_dir = substitute(c.out_dir, out);
      if (c.left == outputs::none && c.out_dir == "{out}") {
        EXPECT_FALSE(fs::exists(out_dir))
            << "the output directory was created although the input was rejected";
      }
      if (fs::is_directory(out_dir)) {
        for (const auto& entry : fs::directory_iterator(out_dir)) {
          if (entry.path().extension() != ".csv" || !entry.is_regular_file()) continue;
          ADD_FAILURE() << "PARTIAL OUTPUT: " << entry.path() << " was left behind ("
                        << count_draw_rows(entry.path()) << " draw rows)";
        }
      }
      if (c.cmd == command::model) {
        std::vector<std::string> check_args = {"check"};
        check_args.insert(check_args.end(), args.begin(), args.end());
        expect_clean_failure(run_cli(check_args, log), messages, "hbglm check");
      }
      break;
    }
    case command::summary: {
      std::vector<std::string> summary_args = {"summary"};
      summary_args.insert(summary_args.end(), args.begin(), args.end());
      expect_clean_failure(run_cli(summary_args, log), messages, "hbglm summary");
      break;
    }
    case command::other:
      expect_clean_failure(run_cli(args, log), messages, "hbglm");
      break;
  }
  fs::remove(log);
}

std::string case_name(const ::testing::TestParamInfo<bad_case>& info) { return info.param.name; }

// The data, formula and family every model case starts from; later options win.
std::vector<std::string> model(const std::string& file, const std::string& formula,
                               std::vector<std::string> more = {}) {
  std::vector<std::string> a = {"--data", "{dir}/" + file, "--formula", formula};
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

const std::string k_formula = "y ~ x + (1 | g)";

// ---------------------------------------------------------------------------------------------
// Malformed CSV.

// clang-format off
const std::vector<bad_case> csv_cases = {
    {"ragged_row_too_few_fields", command::model, model("ragged_short.csv", k_formula),
     {"{dir}/ragged_short.csv:3:3: wrong number of fields in the row: expected 3 (as in the "
      "header line), got 2"}},
    {"ragged_row_too_many_fields", command::model, model("ragged_long.csv", k_formula),
     {"{dir}/ragged_long.csv:3:4: wrong number of fields in the row: expected 3 (as in the "
      "header line), got 4"}},
    {"unterminated_quote", command::model, model("unterminated.csv", k_formula),
     {"{dir}/unterminated.csv:2:3: unterminated quoted field: the quote opened at character 9 "
      "of line 2 is never closed"}},
    {"text_after_closing_quote", command::model, model("quote_then_text.csv", k_formula),
     {"{dir}/quote_then_text.csv:2:3: unexpected 'b' after the closing quote of field 3"}},
    {"binary_junk", command::model, model("junk.bin", k_formula),
     {"{dir}/junk.bin:1:1: NUL byte at character 8 of line 1: this looks like a binary file"}},
    {"binary_png_image", command::model, model("image.png", k_formula),
     {"{dir}/image.png:3:1: NUL byte at character 1 of line 3: this looks like a binary file"}},
    {"gzip_compressed", command::model, model("data.csv.gz", k_formula),
     {"{dir}/data.csv.gz:1:1: the file is gzip-compressed; decompress it first"}},
    {"utf16_text", command::model, model("utf16.csv", k_formula),
     {"{dir}/utf16.csv:1:1: the file is UTF-16 text; save it as UTF-8"}},
    {"empty_file", command::model, model("empty.csv", k_formula),
     {"{dir}/empty.csv: the file is empty"}},
    {"byte_order_mark_only", command::model, model("bom_only.csv", k_formula),
     {"{dir}/bom_only.csv: the file is empty"}},
    {"header_only", command::model, model("header_only.csv", k_formula),
     {"{dir}/header_only.csv:1: the file has a header line but no data rows"}},
    {"duplicate_column_names", command::model, model("duplicate_columns.csv", "y ~ x"),
     {"{dir}/duplicate_columns.csv:1:3: duplicate column name 'x': columns 2 and 3 are both "
      "named 'x'"}},
    {"empty_column_name", command::model, model("empty_name.csv", k_formula),
     {"{dir}/empty_name.csv:1:2: column 2 has an empty name"}},
    {"blank_line_among_rows", command::model, model("blank_line.csv", k_formula),
     {"{dir}/blank_line.csv:3:1: blank line among the data rows: expected 3 fields"}},
    {"old_mac_line_ends", command::model, model("cr_only.csv", k_formula),
     {"{dir}/cr_only.csv:1:3: carriage return not followed by a line feed"}},
    {"text_in_numeric_column", command::model, model("text_in_numbers.csv", k_formula),
     {"{dir}/text_in_numbers.csv:2:2: 'abc': non-numeric value in column 'x', which the formula "
      "uses as the predictor 'x'"}},
    {"number_overflows_double", command::model, model("overflow.csv", k_formula),
     {"{dir}/overflow.csv:3:2: non-finite value in column 'x'"}},
    {"megabyte_field", command::model, model("megabyte_field.csv", k_formula),
     {"{dir}/megabyte_field.csv:3:2: '" + std::string(40, 'x') +
      "...' (1048576 bytes): non-numeric value in column 'x'"}},
    // A 1 MB column name is cut short in "the columns are: ...", as the reader cuts cell values.
    {"megabyte_column_name_in_column_list", command::model,
     model("megabyte_name.csv", "y ~ z + (1 | g)"),
     {"{dir}/megabyte_name.csv: the formula uses the predictor 'z', which is not a column of the "
      "data; the columns are: y, "}},
    {"data_is_a_directory", command::model, model("a_directory", k_formula),
     {"{dir}/a_directory: is a directory, not a CSV file"}},
    {"data_file_missing", command::model, model("no_such_file.csv", k_formula),
     {"{dir}/no_such_file.csv: cannot open the file: No such file or directory"}},
    {"every_row_has_a_missing_value", command::model, model("all_missing.csv", k_formula),
     {"{dir}/all_missing.csv: no rows left: every row has a missing value in a column the "
      "formula uses"}},
};
// clang-format on

// ---------------------------------------------------------------------------------------------
// Malformed formulas, and formula columns that the CSV does not have.

// clang-format off
const std::vector<bad_case> formula_cases = {
    {"unclosed_parenthesis", command::model, model("good.csv", "y ~ x + (1 | g"),
     {"unbalanced parenthesis: this '(' is never closed\ny ~ x + (1 | g\n        ^"}},
    {"unopened_parenthesis", command::model, model("good.csv", "y ~ x + 1 | g)"),
     {"unbalanced parenthesis: this ')' has no matching '('\ny ~ x + 1 | g)\n             ^"}},
    {"unknown_function", command::model, model("good.csv", "y ~ log(x) + (1 | g)"),
     {"unknown function 'log'\ny ~ log(x) + (1 | g)\n    ^"}},
    {"unknown_function_as_grouping_factor", command::model,
     model("good.csv", "y ~ x + (1 | foo(g))"),
     {"unknown function 'foo'\ny ~ x + (1 | foo(g))\n             ^"}},
    {"random_term_without_grouping_factor", command::model, model("good.csv", "y ~ x + (1 | )"),
     {"a random term needs a grouping factor after '|'\ny ~ x + (1 | )\n             ^"}},
    {"uncorrelated_random_term_without_grouping_factor", command::model,
     model("good.csv", "y ~ x + (x || )"),
     {"a random term needs a grouping factor after '||'\ny ~ x + (x || )\n              ^"}},
    {"random_term_without_coefficients", command::model, model("good.csv", "y ~ x + (| g)"),
     {"a random term needs coefficients before '|', e.g. (1 | g)\ny ~ x + (| g)\n         ^"}},
    {"two_bars_in_random_term", command::model, model("good.csv", "y ~ x + (1 | g | h)"),
     {"unexpected '|' in the grouping factor; expected ':', '/' or ')'"}},
    {"response_missing", command::model, model("good.csv", "~ x + (1 | g)"),
     {"the formula has no response (nothing before '~')\n~ x + (1 | g)\n^"}},
    {"no_tilde", command::model, model("good.csv", "y x"),
     {"the formula has no '~' (write response ~ terms)"}},
    {"nothing_after_tilde", command::model, model("good.csv", "y ~ "),
     {"the formula has nothing after '~' (write 1 for an intercept-only model)"}},
    {"two_tildes", command::model, model("good.csv", "y ~ x ~ g"),
     {"the formula has more than one '~'\ny ~ x ~ g\n      ^"}},
    {"dangling_plus", command::model, model("good.csv", "y ~ x +"),
     {"'+' needs a term after it\ny ~ x +\n      ^"}},
    {"empty_formula", command::model, model("good.csv", ""), {"--formula is required"}},
    {"predictor_not_in_csv", command::model, model("good.csv", "y ~ z + (1 | g)"),
     {"{dir}/good.csv: the formula uses the predictor 'z', which is not a column of the data; "
      "the columns are: y, x, g"}},
    {"grouping_factor_not_in_csv", command::model, model("good.csv", "y ~ x + (1 | h)"),
     {"{dir}/good.csv: the formula uses the grouping factor 'h', which is not a column of the "
      "data; the columns are: y, x, g"}},
    {"response_not_in_csv", command::model, model("good.csv", "w ~ x + (1 | g)"),
     {"{dir}/good.csv: the formula uses the response 'w', which is not a column of the data; "
      "the columns are: y, x, g"}},
    {"same_random_coefficient_twice", command::model,
     model("good.csv", "y ~ x + (1 | g) + (1 | g)"),
     {"coefficient 'Intercept' appears twice in group-level terms on 'g'"}},
};
// clang-format on

// ---------------------------------------------------------------------------------------------
// Malformed priors, and priors on classes the model does not have.

std::vector<std::string> with_prior(const std::string& prior, const std::string& file = "good.csv",
                                    const std::string& formula = k_formula,
                                    std::vector<std::string> more = {}) {
  more.insert(more.end(), {"--prior", prior});
  return model(file, formula, more);
}

// clang-format off
const std::vector<bad_case> prior_cases = {
    {"prior_unclosed_parenthesis", command::model, with_prior("b ~ normal(0, 1"),
     {"expected ',' or ')' after an argument\nb ~ normal(0, 1\n               ^"}},
    {"prior_without_tilde", command::model, with_prior("b normal(0, 1)"),
     {"expected '~' between the class and the distribution\nb normal(0, 1)\n  ^"}},
    {"prior_unknown_distribution", command::model, with_prior("b ~ norml(0, 1)"),
     {"unknown distribution 'norml'; valid distributions: flat, normal,"}},
    {"prior_negative_scale", command::model, with_prior("b ~ normal(0, -1)"),
     {"normal: sigma must be positive\nb ~ normal(0, -1)\n              ^"}},
    {"prior_zero_rate", command::model, with_prior("sd ~ exponential(0)"),
     {"exponential: rate must be positive\nsd ~ exponential(0)\n                 ^"}},
    {"prior_negative_degrees_of_freedom", command::model, with_prior("b ~ student_t(-3, 0, 1)"),
     {"student_t: nu must be positive"}},
    {"prior_wrong_argument_count", command::model, with_prior("b ~ normal(0)"),
     {"normal takes 2 arguments (mu, sigma), got 1"}},
    {"prior_trailing_text", command::model, with_prior("b ~ normal(0, 1) x"),
     {"unexpected text after the prior\nb ~ normal(0, 1) x\n                 ^"}},
    {"prior_empty", command::model, with_prior(""), {"empty prior statement"}},
    {"prior_unknown_class", command::model, with_prior("beta ~ normal(0, 1)"),
     {"unknown prior class 'beta'; valid classes: b, Intercept, sd, cor, sigma"}},
    {"prior_uniform_bounds_reversed", command::model, with_prior("b ~ uniform(1, 0)"),
     {"uniform: lower must be less than upper"}},
    {"prior_no_mass_above_zero_on_sd", command::model, with_prior("sd ~ uniform(-2, -1)"),
     {"uniform(-2, -1) has no mass above zero, so it cannot be a prior on a positive parameter"}},
    {"prior_mass_above_zero_underflows_on_sd", command::model,
     with_prior("sd ~ normal(-1e200, 1)"),
     {"sd_g__Intercept ~ normal(-1e+200, 1): the prior's mass above zero is too small to "
      "represent (log P(X > 0) = -inf), so it cannot be a prior on a standard deviation"}},
    {"prior_lkj_on_b", command::model, with_prior("b ~ lkj(2)"),
     {"lkj applies only to the class cor"}},
    {"prior_normal_on_cor", command::model,
     with_prior("cor ~ normal(0, 1)", "good.csv", "y ~ x + (1 + x | g)"),
     {"the class cor takes only lkj(eta), a prior on correlation matrices"}},
    {"prior_sigma_on_bernoulli", command::model,
     with_prior("sigma ~ normal(0, 1)", "bern.csv", k_formula, {"--family", "bernoulli"}),
     {"prior 'sigma ~ normal(0, 1)': the model has no sigma (only gaussian models without se() "
      "have one)"}},
    {"prior_sigma_with_known_se", command::model,
     with_prior("sigma ~ normal(0, 1)", "se_counts.csv", "y | se(s) ~ x + (1 | g)"),
     {"prior 'sigma ~ normal(0, 1)': the model has no sigma"}},
    {"prior_cor_without_correlations", command::model, with_prior("cor ~ lkj(2)"),
     {"prior 'cor ~ lkj(2)': the model has no correlated group-level terms"}},
    {"prior_cor_on_uncorrelated_term", command::model,
     with_prior("cor[g] ~ lkj(2)", "good.csv", "y ~ x + (1 + x || g)"),
     {"prior 'cor[g] ~ lkj(2)': the model has no correlated group-level terms"}},
    {"prior_cor_on_unknown_group", command::model,
     with_prior("cor[h] ~ lkj(2)", "good.csv", "y ~ x + (1 + x | g)"),
     {"prior 'cor[h] ~ lkj(2)': the model has no correlated term on 'h'; it has: g"}},
    {"prior_b_on_nonexistent_coefficient", command::model,
     with_prior("b[nonexistent] ~ normal(0, 1)"),
     {"prior 'b[nonexistent] ~ normal(0, 1)': no coefficient matches; the model has: b_x"}},
    {"prior_sd_on_nonexistent_group", command::model, with_prior("sd[h] ~ normal(0, 1)"),
     {"prior 'sd[h] ~ normal(0, 1)': no standard deviation matches; the model has: "
      "sd_g__Intercept"}},
    {"prior_sd_on_nonexistent_coefficient", command::model, with_prior("sd[g,x] ~ normal(0, 1)"),
     {"prior 'sd[g,x] ~ normal(0, 1)': no standard deviation matches; the model has: "
      "sd_g__Intercept"}},
    {"prior_sd_without_group_terms", command::model,
     with_prior("sd ~ normal(0, 1)", "good.csv", "y ~ x"),
     {"prior 'sd ~ normal(0, 1)': the model has no group-level terms (class sd)"}},
    {"prior_intercept_without_intercept", command::model,
     with_prior("Intercept ~ normal(0, 1)", "good.csv", "y ~ 0 + x"),
     {"prior 'Intercept ~ normal(0, 1)': the model has no intercept"}},
    // The list of coefficients in "the model has: ..." cuts a 1 MB factor level short.
    {"prior_b_unmatched_with_megabyte_level", command::model,
     with_prior("b[zz] ~ normal(0, 1)", "megabyte_level.csv", "y ~ x + g"),
     {"prior 'b[zz] ~ normal(0, 1)': no coefficient matches; the model has: b_x"}},
};
// clang-format on

// ---------------------------------------------------------------------------------------------
// Bad options. tests/cli/cli_sample_test.cpp already covers --chains 0, --chains two,
// --adapt-delta 1.5, --metric full, --family gamma, --backend tpu, --output-dir under /proc,
// --bogus, a missing --data, a missing data file and an unknown command; these extend them.

std::vector<std::string> good_model(std::vector<std::string> more) {
  return model("good.csv", k_formula, std::move(more));
}

// clang-format off
const std::vector<bad_case> option_cases = {
    {"warmup_not_a_number", command::sample, good_model({"--warmup", "abc"}),
     {"--warmup must be an integer, not 'abc'"}},
    {"warmup_in_scientific_notation", command::sample, good_model({"--warmup", "1e3"}),
     {"--warmup must be an integer, not '1e3'"}},
    {"zero_chains_inline", command::sample, good_model({"--chains=0"}),
     {"--chains must be between 1 and 1024, not 0"}},
    {"chains_empty_value", command::sample, good_model({"--chains", ""}),
     {"--chains must be an integer, not ''"}},
    {"negative_seed", command::sample, good_model({"--seed", "-1"}),
     {"--seed must be between 0 and 4294967295, not -1"}},
    {"seed_overflows", command::sample, good_model({"--seed", "99999999999999999999999"}),
     {"--seed must be an integer, not '99999999999999999999999'"}},
    {"adapt_delta_nan", command::sample, good_model({"--adapt-delta", "nan"}),
     {"--adapt-delta must be a number, not 'nan'"}},
    {"adapt_delta_trailing_junk", command::sample, good_model({"--adapt-delta", "0.9x"}),
     {"--adapt-delta must be a number, not '0.9x'"}},
    {"zero_thin", command::sample, good_model({"--thin", "0"}),
     {"--thin must be between 1 and 100000000, not 0"}},
    {"negative_threads", command::sample, good_model({"--threads", "-2"}),
     {"--threads must be between 0 and 1024, not -2"}},
    {"too_many_threads_per_chain", command::sample, good_model({"--threads-per-chain", "2000"}),
     {"--threads-per-chain must be between 0 and 1024, not 2000"}},
    {"negative_init", command::sample, good_model({"--init", "-1"}), {"--init must be in ["}},
    {"max_depth_too_large", command::sample, good_model({"--max-depth", "31"}),
     {"--max-depth must be between 1 and 30, not 31"}},
    {"sig_figs_too_large", command::sample, good_model({"--sig-figs", "19"}),
     {"--sig-figs must be between 1 and 18, not 19"}},
    {"negative_progress", command::sample, good_model({"--progress", "-1"}),
     {"--progress must be in ["}},
    {"progress_too_often", command::sample, good_model({"--progress", "0.01"}),
     {"--progress must be 0 (no progress lines) or at least 0.1 seconds, not 0.01"}},
    {"unknown_group_effects_mode", command::sample, good_model({"--save-group-effects", "some"}),
     {"--save-group-effects must be all, summary, none or auto, not 'some'"}},
    {"empty_metric", command::sample, good_model({"--metric="}),
     {"unknown metric '' (expected diag, dense or dense_diag)"}},
    {"unknown_family", command::sample, good_model({"--family", "weibull"}),
     {"unknown family 'weibull': use gaussian, bernoulli, binomial or poisson"}},
    {"misspelt_option_lists_the_options", command::sample, good_model({"--warmpu", "10"}),
     {"unknown option --warmpu; the options are:", "--warmup"}},
    {"missing_value_at_the_end", command::sample, good_model({"--seed"}),
     {"option --seed needs a value"}},
    {"flag_given_a_value", command::sample, good_model({"--quiet=yes"}),
     {"option --quiet takes no value"}},
    {"centered_unknown_group", command::model, good_model({"--centered", "state"}),
     {"--centered names 'state', which is not a grouping factor of the formula; its grouping "
      "factors are g"}},
    {"centered_empty_name", command::sample, good_model({"--centered", "g,"}),
     {"--centered 'g,': expected auto, none, all, or grouping factors separated by commas"}},
    {"positional_argument", command::sample, good_model({"extra.csv"}),
     {"unexpected argument 'extra.csv' (options start with --)"}},
    {"output_dir_is_a_file", command::sample, good_model({"--output-dir", "{dir}/good.csv"}),
     {"cannot create output directory {dir}/good.csv: Not a directory"},
     outputs::none, "{dir}/good.csv"},
    {"output_dir_below_a_file", command::sample,
     good_model({"--output-dir", "{dir}/good.csv/sub"}),
     {"cannot create output directory {dir}/good.csv/sub: Not a directory"}},
    // The directory is created before the chain files are opened: it stays, empty.
    {"output_prefix_into_missing_folder", command::sample,
     good_model({"--output-prefix", "missing_folder/run"}),
     {"cannot write {out}/missing_folder/run_1.csv: No such file or directory"},
     outputs::output_dir_created},
    // Chain 2's file cannot be created: every chain's file is checked before any is opened
    // (opening truncates), so chain 1's is not created either.
    {"chain_file_name_taken_by_a_directory", command::sample,
     good_model({"--output-dir", "{dir}/collide"}),
     {"cannot write {dir}/collide/hbglm_2.csv: Is a directory"},
     outputs::output_dir_created, "{dir}/collide"},
    {"no_arguments", command::other, {}, {"usage: hbglm <command> [options]"}},
    {"help_given_a_value", command::other, {"sample", "--help=1"},
     {"option --help takes no value"}},
    {"simulate_unknown_model", command::other,
     {"simulate", "--model", "foo", "--out", "{out}.csv"},
     {"--model must be election or varying_slope, not 'foo'"}},
    {"simulate_without_out", command::other, {"simulate", "--model", "varying_slope"},
     {"--out FILE.csv is required"}},
    {"simulate_truth_into_missing_folder", command::other,
     {"simulate", "--model", "varying_slope", "--out", "{dir}/sim.csv", "--truth",
      "{dir}/missing/truth.csv"},
     {"cannot write {dir}/missing/truth.csv: No such file or directory"}},
};
// clang-format on

// ---------------------------------------------------------------------------------------------
// Data that does not fit the family; a grouping factor with one level.

// clang-format off
const std::vector<bad_case> family_cases = {
    {"bernoulli_response_two", command::model,
     model("bern_two.csv", k_formula, {"--family", "bernoulli"}),
     {"{dir}/bern_two.csv:4:1: the bernoulli response 'y' must be 0 or 1, but it is 2"}},
    {"bernoulli_three_labels", command::model,
     model("bern_three_labels.csv", k_formula, {"--family", "bernoulli"}),
     {"{dir}/bern_three_labels.csv:2:1: the bernoulli response 'y' must be 0/1 or a text "
      "column with exactly two values; it has 3"}},
    {"poisson_negative_count", command::model,
     model("pois_negative.csv", k_formula, {"--family", "poisson"}),
     {"{dir}/pois_negative.csv:4:1: the poisson response 'y' must be a count (a non-negative "
      "integer), but it is -1"}},
    {"poisson_fractional_count", command::model,
     model("pois_fraction.csv", k_formula, {"--family", "poisson"}),
     {"{dir}/pois_fraction.csv:3:1: the poisson response 'y' must be a count (a non-negative "
      "integer), but it is 0.5"}},
    {"binomial_successes_exceed_trials", command::model,
     model("binomial.csv", "s | trials(n) ~ x + (1 | g)", {"--family", "binomial"}),
     {"{dir}/binomial.csv:3:1: more successes than trials: 4 successes out of 3 trials"}},
    {"binomial_negative_failures", command::model,
     model("binomial_cbind.csv", "cbind(s, f) ~ x + (1 | g)", {"--family", "binomial"}),
     {"{dir}/binomial_cbind.csv:3:2: 'f' must be a non-negative integer, but it is -1"}},
    {"binomial_without_trials", command::model,
     model("binomial.csv", "s ~ x + (1 | g)", {"--family", "binomial"}),
     {"the binomial family needs the number of trials: write 's | trials(n) ~ ...' (brms) or "
      "'cbind(s, f) ~ ...' (lme4)"}},
    {"trials_with_gaussian", command::model, model("binomial.csv", "s | trials(n) ~ x + (1 | g)"),
     {"trials() and cbind() belong to the binomial family, not gaussian"}},
    {"gaussian_known_se_zero", command::model, model("se_zero.csv", "y | se(s) ~ x + (1 | g)"),
     {"{dir}/se_zero.csv:3:2: the standard error in se() must be positive"}},
    {"known_se_with_poisson", command::model,
     model("se_counts.csv", "y | se(s) ~ x + (1 | g)", {"--family", "poisson"}),
     {"se() (a known standard error) belongs to the gaussian family, not poisson"}},
    {"gaussian_text_response", command::model, model("text_response.csv", k_formula),
     {"{dir}/text_response.csv:4:1: 'x': non-numeric value in column 'y', which the formula "
      "uses as the response"}},
    {"grouping_factor_with_one_level", command::model, model("one_level.csv", k_formula),
     {"{dir}/one_level.csv: grouping factor 'g' in (... | g) has only one level ('a'): a "
      "group-level standard deviation needs at least two groups"}},
};
// clang-format on

// ---------------------------------------------------------------------------------------------
// `hbglm summary` on files that are not draws.

// clang-format off
const std::vector<bad_case> summary_cases = {
    {"summary_missing_file", command::summary, {"{dir}/no_such_draws.csv"},
     {"{dir}/no_such_draws.csv: cannot open the file"}},
    {"summary_no_files", command::summary, {}, {"hbglm summary needs at least one CSV file"}},
    {"summary_empty_file", command::summary, {"{dir}/empty.csv"},
     {"{dir}/empty.csv: the file is empty"}},
    {"summary_header_only", command::summary, {"{dir}/draws_header_only.csv"},
     {"{dir}/draws_header_only.csv: no draws in any chain file"}},
    {"summary_files_with_different_headers", command::summary,
     {"{dir}/draws_a.csv", "{dir}/draws_b.csv"},
     {"{dir}/draws_b.csv: its columns differ from those of {dir}/draws_a.csv (column 2 is "
      "'b_z' there 'b_x'); all chains must come from the same model"}},
    {"summary_of_the_data_file", command::summary, {"{dir}/good.csv"},
     {"{dir}/good.csv:2: column 'g': 'a' is not a number"}},
    {"summary_unknown_format", command::summary, {"{dir}/draws_a.csv", "--format", "xml"},
     {"--format must be table or csv, not 'xml'"}},
    // A binary file is named as such, not read as CSV with its bytes echoed in the message.
    {"summary_of_a_binary_file", command::summary, {"{dir}/image.png"},
     {"{dir}/image.png", "binary"}},
    // A numeric CSV that is not sampler output (no lp__) is refused, not summarised as if it were
    // a complete result.
    {"summary_of_numeric_non_draws_file", command::summary, {"{dir}/numbers.csv"},
     {"{dir}/numbers.csv", "lp__"}},
    // A directory is named as such (as read_csv does).
    {"summary_of_a_directory", command::summary, {"{dir}/a_directory"},
     {"{dir}/a_directory: is a directory"}},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Csv, BadInput, ::testing::ValuesIn(csv_cases), case_name);
INSTANTIATE_TEST_SUITE_P(Formula, BadInput, ::testing::ValuesIn(formula_cases), case_name);
INSTANTIATE_TEST_SUITE_P(Prior, BadInput, ::testing::ValuesIn(prior_cases), case_name);
INSTANTIATE_TEST_SUITE_P(Option, BadInput, ::testing::ValuesIn(option_cases), case_name);
INSTANTIATE_TEST_SUITE_P(Family, BadInput, ::testing::ValuesIn(family_cases), case_name);
INSTANTIATE_TEST_SUITE_P(Summary, BadInput, ::testing::ValuesIn(summary_cases), case_name);

// ---------------------------------------------------------------------------------------------
// A UTF-8 byte order mark is not bad input: the first column keeps its name.

class ByteOrderMark : public BadInput {};

TEST_F(ByteOrderMark, IsReadNotRejected) {
  for (const char* file : {"bom.csv", "bom_quoted.csv", "bom_crlf.csv"}) {
    const auto r = run_cli({"check", "--data", (dir_ / file).string(), "--formula", k_formula},
                           dir_ / "bom.log");
    EXPECT_EQ(r.exit_code, 0) << file << "\n" << shown(r.output);
    EXPECT_NE(r.output.find("4 observations used of 4 rows"), std::string::npos) << file << "\n"
                                                                                 << shown(r.output);
  }
  const fs::path out = dir_ / "out" / "bom_sample";
  std::vector<std::string> args = {"sample",    "--data",  (dir_ / "bom.csv").string(),
                                   "--formula", k_formula, "--output-dir",
                                   out.string()};
  args.insert(args.end(), k_sample_defaults.begin(), k_sample_defaults.end());
  const auto r = run_cli(args, dir_ / "bom.log");
  EXPECT_EQ(r.exit_code, 0) << shown(r.output);
  EXPECT_EQ(count_draw_rows(out / "hbglm_1.csv"), 10u);
  fs::remove(dir_ / "bom.log");
}

}  // namespace
}  // namespace hbglm
