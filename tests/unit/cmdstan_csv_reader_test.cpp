// Reading CmdStan-format CSV files (include/hbglm/cmdstan_csv.hpp) and putting chains together
// (combine_chains / read_chains in include/hbglm/summary.hpp).

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "hbglm/cmdstan_csv.hpp"
#include "hbglm/error.hpp"
#include "hbglm/summary.hpp"

namespace hbglm {
namespace {

// A file as CmdStan 2.3x writes it (comments abridged), with hbglm's levels/coefs lines.
const char* const cmdstan_file =
    "# stan_version_major = 2\n"
    "# model = hbglm_model\n"
    "# method = sample (Default)\n"
    "#   sample\n"
    "#     num_samples = 3\n"
    "#     adapt\n"
    "#       delta = 0.95\n"
    "#     algorithm = hmc (Default)\n"
    "#       hmc\n"
    "#         engine = nuts (Default)\n"
    "#           nuts\n"
    "#             max_depth = 10 (Default)\n"
    "# levels.r_county = [\"AITKIN\", \"LAC QUI PARLE\"]\n"
    "# coefs.r_county = [\"Intercept\", \"floor\"]\n"
    "lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,b_Intercept,"
    "r_county.1.1,r_county.2.1,r_county.1.2,r_county.2.2\n"
    "# Adaptation terminated\n"
    "# Step size = 0.787244\n"
    "# Diagonal elements of inverse mass matrix:\n"
    "# 0.47, 0.82, 1, 1.5e-2, 2\n"
    "-7.1,0.95,0.787244,2,3,0,7.5,1.5,0.1,0.2,0.3,0.4\n"
    "-6.9,0.99,0.787244,3,7,1,7.2,1.25,-0.1,-0.2,-0.3,-0.4\n"
    "-7.3,0.71,0.787244,2,3,0,8.0,1.75,1e-3,2E+1,nan,-inf\n"
    "# \n"
    "#  Elapsed Time: 0.013 seconds (Warm-up)\n"
    "#                0.011 seconds (Sampling)\n"
    "#                0.024 seconds (Total)\n"
    "# \n";

TEST(read_cmdstan_csv, a_cmdstan_file) {
  const cmdstan_csv f = read_cmdstan_csv_text(cmdstan_file, "chain1.csv");
  EXPECT_EQ(f.source, "chain1.csv");
  ASSERT_EQ(f.names.size(), 12u);
  EXPECT_EQ(f.names[0], "lp__");
  EXPECT_EQ(f.names[11], "r_county.2.2");
  ASSERT_EQ(f.columns.size(), 12u);
  EXPECT_EQ(f.n_draws(), 3u);
  EXPECT_EQ(f.columns[0], (std::vector<double>{-7.1, -6.9, -7.3}));
  EXPECT_EQ(f.columns[f.find("b_Intercept")], (std::vector<double>{1.5, 1.25, 1.75}));
  EXPECT_EQ(f.columns[f.find("divergent__")], (std::vector<double>{0, 1, 0}));
  EXPECT_EQ(f.columns[8][2], 1e-3);
  EXPECT_EQ(f.columns[9][2], 20.0);
  EXPECT_TRUE(std::isnan(f.columns[10][2]));
  EXPECT_EQ(f.columns[11][2], -std::numeric_limits<double>::infinity());
  EXPECT_EQ(f.find("nope"), cmdstan_csv::npos);

  EXPECT_EQ(f.levels.at("r_county"), (std::vector<std::string>{"AITKIN", "LAC QUI PARLE"}));
  EXPECT_EQ(f.coefs.at("r_county"), (std::vector<std::string>{"Intercept", "floor"}));

  EXPECT_TRUE(f.adaptation.present);
  EXPECT_EQ(f.adaptation.step_size, 0.787244);
  EXPECT_FALSE(f.adaptation.dense);
  EXPECT_EQ(f.adaptation.n_inv_metric_rows, 1u);
  EXPECT_EQ(f.adaptation.inv_metric, (std::vector<double>{0.47, 0.82, 1, 0.015, 2}));
  EXPECT_EQ(f.n_warmup_draws, 0u);

  EXPECT_EQ(f.config.at("max_depth"), "10");  // " (Default)" removed
  EXPECT_EQ(f.config.at("delta"), "0.95");
  EXPECT_EQ(f.config.at("model"), "hbglm_model");
  EXPECT_EQ(f.config.at("method"), "sample");
  EXPECT_EQ(f.config.count("Elapsed Time"), 0u);
  EXPECT_FALSE(f.truncated);
  EXPECT_TRUE(f.truncation_note.empty());
}

TEST(read_cmdstan_csv, dense_inverse_metric) {
  const cmdstan_csv f = read_cmdstan_csv_text(
      "a,b\n"
      "# Adaptation terminated\n"
      "# Step size = 0.5\n"
      "# Elements of inverse mass matrix:\n"
      "# 1.1, 0.2\n"
      "# 0.2, 0.9\n"
      "1,2\n",
      "d.csv");
  EXPECT_TRUE(f.adaptation.dense);
  EXPECT_EQ(f.adaptation.n_inv_metric_rows, 2u);
  EXPECT_EQ(f.adaptation.inv_metric, (std::vector<double>{1.1, 0.2, 0.2, 0.9}));
  EXPECT_EQ(f.adaptation.step_size, 0.5);
  EXPECT_EQ(f.n_draws(), 1u);
}

TEST(read_cmdstan_csv, dense_metric_ends_at_a_text_comment) {
  const cmdstan_csv f = read_cmdstan_csv_text(
      "a\n# Elements of inverse mass matrix:\n# 2\n# max_depth = 12\n3\n", "d.csv");
  EXPECT_EQ(f.adaptation.inv_metric, (std::vector<double>{2}));
  EXPECT_EQ(f.config.at("max_depth"), "12");
  EXPECT_FALSE(f.adaptation.present);  // no "Adaptation terminated" line
}

TEST(read_cmdstan_csv, warmup_draws_before_adaptation_terminated_are_not_draws) {
  // CmdStan with save_warmup = 1: warmup rows, then the adaptation comments, then the draws.
  const cmdstan_csv f = read_cmdstan_csv_text(
      "a,b\n1,1\n2,2\n3,3\n# Adaptation terminated\n# Step size = 1\n"
      "# Diagonal elements of inverse mass matrix:\n# 1, 1\n4,4\n5,5\n",
      "w.csv");
  EXPECT_EQ(f.n_warmup_draws, 3u);
  EXPECT_EQ(f.columns[0], (std::vector<double>{4, 5}));
  EXPECT_EQ(f.columns[1], (std::vector<double>{4, 5}));
}

TEST(read_cmdstan_csv, saved_warmup_without_adaptation_is_counted_from_the_header) {
  // save_warmup = 1 without adaptation (adapt engaged = 0): no "Adaptation terminated" line, so the
  // header says how many rows are warmup: every thin-th of num_warmup, ceil(5 / 2) = 3 here.
  const cmdstan_csv f = read_cmdstan_csv_text(
      "# num_warmup = 5\n# thin = 2\n# save_warmup = 1\na\n1\n2\n3\n4\n5\n", "w.csv");
  EXPECT_EQ(f.n_warmup_draws, 3u);
  EXPECT_EQ(f.columns[0], (std::vector<double>{4, 5}));
  // A run stopped during warmup keeps fewer rows than that: all of them are warmup.
  const cmdstan_csv stopped = read_cmdstan_csv_text(
      "# num_warmup = 1000 (Default)\n# save_warmup = true\na\n1\n2\n", "s.csv");
  EXPECT_EQ(stopped.n_warmup_draws, 2u);
  EXPECT_EQ(stopped.n_draws(), 0u);
  // Without save_warmup every row is a draw, whatever num_warmup says.
  const cmdstan_csv unsaved =
      read_cmdstan_csv_text("# num_warmup = 5\n# save_warmup = 0\na\n1\n2\n", "u.csv");
  EXPECT_EQ(unsaved.n_warmup_draws, 0u);
  EXPECT_EQ(unsaved.n_draws(), 2u);
}

TEST(read_cmdstan_csv, truncated_last_row_is_dropped_and_reported) {
  const cmdstan_csv f = read_cmdstan_csv_text("# c\na,b,c\n1,2,3\n4,5,6\n7,8", "killed.csv");
  EXPECT_EQ(f.n_draws(), 2u);
  EXPECT_EQ(f.columns[2], (std::vector<double>{3, 6}));
  EXPECT_TRUE(f.truncated);
  EXPECT_EQ(f.truncation_note,
            "killed.csv:5: incomplete last row (no newline at the end of the file) ignored");
}

TEST(read_cmdstan_csv, last_row_without_newline_is_dropped_even_with_all_fields) {
  // "7,8,9" may have been "7,8,9.25" when the run was killed: CmdStan ends every row with '\n'.
  const cmdstan_csv f = read_cmdstan_csv_text("a,b,c\n1,2,3\n7,8,9", "k.csv");
  EXPECT_EQ(f.n_draws(), 1u);
  EXPECT_TRUE(f.truncated);
  // a truncated field that is not even a number is no error either
  const cmdstan_csv g = read_cmdstan_csv_text("a,b\n1,2\n3,1.5e", "k.csv");
  EXPECT_EQ(g.n_draws(), 1u);
  EXPECT_TRUE(g.truncated);
}

TEST(read_cmdstan_csv, comment_or_blank_line_without_newline_is_not_truncation) {
  const cmdstan_csv f = read_cmdstan_csv_text("a\n1\n#  Elapsed Time: 0.01 sec", "t.csv");
  EXPECT_EQ(f.n_draws(), 1u);
  EXPECT_FALSE(f.truncated);
  const cmdstan_csv g = read_cmdstan_csv_text("a\n1\n2\n", "t.csv");
  EXPECT_EQ(g.n_draws(), 2u);
  EXPECT_FALSE(g.truncated);
}

TEST(read_cmdstan_csv, crlf_bom_spaces_and_blank_lines) {
  const cmdstan_csv f =
      read_cmdstan_csv_text("\xEF\xBB\xBF# x = 1\r\n a , b \r\n\r\n 1 , +2 \r\n3,4\r\n", "w.csv");
  EXPECT_EQ(f.names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(f.columns[0], (std::vector<double>{1, 3}));
  EXPECT_EQ(f.columns[1], (std::vector<double>{2, 4}));
  EXPECT_EQ(f.config.at("x"), "1");
}

TEST(read_cmdstan_csv, header_only_has_no_draws) {
  const cmdstan_csv f = read_cmdstan_csv_text("# killed during warmup\nlp__,b_x\n", "h.csv");
  EXPECT_EQ(f.names.size(), 2u);
  EXPECT_EQ(f.n_draws(), 0u);
  EXPECT_EQ(f.columns.size(), 2u);
}

// Runs read_cmdstan_csv_text and returns the data_error message ("" when none).
std::string error_of(const std::string& text) {
  try {
    read_cmdstan_csv_text(text, "bad.csv");
  } catch (const data_error& e) {
    return e.what();
  }
  return "";
}

TEST(read_cmdstan_csv, errors_name_file_and_line) {
  EXPECT_EQ(error_of(""), "bad.csv: the file is empty");
  EXPECT_EQ(error_of("# only\n#comments\n\n"),
            "bad.csv:3: no header line (the file holds only comments or blank lines)");
  EXPECT_EQ(error_of("a,b,a\n"), "bad.csv:1: duplicate column name 'a'");
  EXPECT_EQ(error_of("a,,b\n"), "bad.csv:1: empty column name (column 2) in the header");
  EXPECT_EQ(error_of("a,b\n1,2\n1,2,3\n4,5\n"),
            "bad.csv:3: expected 2 fields as in the header, found 3");
  EXPECT_EQ(error_of("a,b\n1\n"), "bad.csv:2: expected 2 fields as in the header, found 1");
  EXPECT_EQ(error_of("a,b\n# c\n1,abc\n"), "bad.csv:3: column 'b': 'abc' is not a number");
  EXPECT_EQ(error_of("a,b\n1,\n"), "bad.csv:2: column 'b': '' is not a number");
  EXPECT_EQ(error_of("a,b\n1,2x\n"), "bad.csv:2: column 'b': '2x' is not a number");
  EXPECT_EQ(error_of("# Step size = fast\na\n"),
            "bad.csv:1: cannot read the step size from '# Step size = fast'");
  EXPECT_EQ(error_of("a\n# Diagonal elements of inverse mass matrix:\n# 1, x\n"),
            "bad.csv:3: expected the diagonal of the inverse metric (numbers separated by "
            "commas)");
  EXPECT_EQ(error_of("a\n# Elements of inverse mass matrix:\n# 1, 2\n# 3\n"),
            "bad.csv:4: inverse metric rows of different lengths");
  const std::string json = error_of("# levels.r_g = [\"a\", \"b\"\na\n");
  EXPECT_EQ(json.rfind("bad.csv:1: levels.r_g: not a JSON array of strings", 0), 0u) << json;
  EXPECT_EQ(error_of("# coefs. = [\"a\"]\na\n"), "bad.csv:1: 'coefs.' names no group");
}

TEST(read_cmdstan_csv, from_a_file_and_a_missing_file) {
  const std::string path = ::testing::TempDir() + "hbglm_cmdstan_reader_test.csv";
  {
    std::ofstream out(path, std::ios::binary);
    out << cmdstan_file;
  }
  const cmdstan_csv f = read_cmdstan_csv(path);
  EXPECT_EQ(f.source, path);
  EXPECT_EQ(f.n_draws(), 3u);
  std::remove(path.c_str());
  try {
    read_cmdstan_csv(path);
    FAIL() << "no exception";
  } catch (const data_error& e) {
    EXPECT_EQ(std::string(e.what()), path + ": cannot open the file");
  }
}

TEST(parse_json_string_array, strings_escapes_and_numbers) {
  EXPECT_EQ(parse_json_string_array("[]"), std::vector<std::string>{});
  EXPECT_EQ(parse_json_string_array("  [ ]  "), std::vector<std::string>{});
  EXPECT_EQ(parse_json_string_array("[\"AK\",\"AL\"]"), (std::vector<std::string>{"AK", "AL"}));
  EXPECT_EQ(parse_json_string_array(R"([ "a, b" , "q\"uote", "back\\slash", "s\/l" ])"),
            (std::vector<std::string>{"a, b", "q\"uote", "back\\slash", "s/l"}));
  EXPECT_EQ(parse_json_string_array(R"(["tab\there", "nl\n", "\b\f\r"])"),
            (std::vector<std::string>{"tab\there", "nl\n", "\b\f\r"}));
  EXPECT_EQ(parse_json_string_array(R"(["\u00e9t\u00E9", "\u20ac", "\ud83d\ude00"])"),
            (std::vector<std::string>{"\xC3\xA9t\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"}));
  EXPECT_EQ(parse_json_string_array("[\"caf\xC3\xA9\"]"),
            (std::vector<std::string>{"caf\xC3\xA9"}));  // raw UTF-8 passes through
  EXPECT_EQ(parse_json_string_array("[1, 2.5, -3e2]"),
            (std::vector<std::string>{"1", "2.5", "-3e2"}));
}

TEST(parse_json_string_array, malformed) {
  for (const char* bad :
       {"", "[", "]", "[\"a\"", "[\"a\",]", "[\"a\" \"b\"]", "[\"a\"] x", "{\"a\": 1}",
        "[\"bad \\x escape\"]", "[\"\\u12G4\"]", "[\"\\ud83d\"]", "[\"\\ude00\"]", "[true]",
        "[\"unterminated]", "[\"ctrl\x01\"]", "[abc]"}) {
    EXPECT_THROW(parse_json_string_array(bad), data_error) << bad;
  }
}

// ---------------------------------------------------------------------------------------------
// combine_chains / read_chains

cmdstan_csv chain(const std::string& source, const std::string& body) {
  return read_cmdstan_csv_text(body, source);
}

TEST(combine_chains, columns_chains_and_display_names) {
  const std::string header =
      "# levels.r_g = [\"x y\", \"z\"]\n# coefs.r_g = [\"Intercept\"]\n# max_depth = 12\n"
      "lp__,b_a,r_g.1.1,r_g.2.1\n";
  const named_draws d = combine_chains({chain("c1.csv", header + "1,2,3,4\n5,6,7,8\n"),
                                        chain("c2.csv", header + "9,10,11,12\n13,14,15,16\n")});
  EXPECT_EQ(d.n_chains(), 2u);
  EXPECT_EQ(d.n_draws_per_chain(), 2u);
  EXPECT_EQ(d.sources, (std::vector<std::string>{"c1.csv", "c2.csv"}));
  EXPECT_EQ(d.names, (std::vector<std::string>{"lp__", "b_a", "r_g.1.1", "r_g.2.1"}));
  EXPECT_EQ(d.variables,
            (std::vector<std::string>{"lp__", "b_a", "r_g[x y,Intercept]", "r_g[z,Intercept]"}));
  EXPECT_EQ(d.draws[1][0], (std::vector<double>{2, 6}));
  EXPECT_EQ(d.draws[1][1], (std::vector<double>{10, 14}));
  EXPECT_EQ(d.find("r_g.2.1"), 3u);
  EXPECT_EQ(d.find("r_g[z,Intercept]"), named_draws::npos);
  EXPECT_EQ(d.config.at("max_depth"), "12");
  EXPECT_EQ(d.levels.at("r_g").size(), 2u);
  EXPECT_TRUE(d.notes.empty());
}

TEST(combine_chains, unequal_lengths_are_cut_to_the_shortest_with_a_note) {
  const named_draws d = combine_chains({chain("c1.csv", "a\n1\n2\n3\n"),
                                        chain("c2.csv", "a\n4\n5\n6\n7"),  // truncated row
                                        chain("c3.csv", "a\n8\n9\n10\n11\n")});
  EXPECT_EQ(d.n_draws_per_chain(), 3u);
  EXPECT_EQ(d.draws[0][2], (std::vector<double>{8, 9, 10}));
  ASSERT_EQ(d.notes.size(), 2u);
  EXPECT_EQ(d.notes[0],
            "c2.csv:5: incomplete last row (no newline at the end of the file) ignored");
  EXPECT_EQ(d.notes[1],
            "chains have different numbers of draws (3, 3, 4); each was cut to its first 3 draws");
}

TEST(combine_chains, chains_without_draws_are_left_out) {
  const named_draws d =
      combine_chains({chain("c1.csv", "a\n1\n2\n"), chain("c2.csv", "# warmup only\na\n")});
  EXPECT_EQ(d.n_chains(), 1u);
  EXPECT_EQ(d.sources, (std::vector<std::string>{"c1.csv"}));
  ASSERT_EQ(d.notes.size(), 1u);
  EXPECT_EQ(d.notes[0], "c2.csv: no draws; chain left out");
  EXPECT_THROW(combine_chains({chain("c2.csv", "a\n")}), data_error);
}

TEST(combine_chains, errors) {
  EXPECT_THROW(combine_chains({}), data_error);
  try {
    combine_chains({chain("c1.csv", "a,b\n1,2\n"), chain("c2.csv", "a,c\n1,2\n")});
    FAIL() << "no exception";
  } catch (const data_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "c2.csv: its columns differ from those of c1.csv (column 2 is 'c' there 'b'); all "
              "chains must come from the same model");
  }
  try {
    combine_chains({chain("c1.csv", "a,b\n1,2\n"), chain("c2.csv", "a\n1\n")});
    FAIL() << "no exception";
  } catch (const data_error& e) {
    EXPECT_NE(std::string(e.what()).find("column 2 is (none) there 'b'"), std::string::npos)
        << e.what();
  }
}

TEST(read_chains, reads_files_and_summarises) {
  std::vector<std::string> paths;
  for (int c = 0; c < 2; ++c) {
    const std::string path =
        ::testing::TempDir() + "hbglm_read_chains_test_" + std::to_string(c) + ".csv";
    std::ofstream out(path, std::ios::binary);
    out << "# levels.r_g = [\"a\"]\n# coefs.r_g = [\"Intercept\"]\n"
        << "lp__,divergent__,b_x,r_g.1.1\n";
    for (int i = 0; i < 50; ++i) {
      out << -i << "," << (i == 3 && c == 1) << "," << std::sin(i * 2.3 + c) << ","
          << std::cos(i * 1.7 + c) << "\n";
    }
    paths.push_back(path);
  }
  const named_draws d = read_chains(paths);
  for (const auto& p : paths) std::remove(p.c_str());
  EXPECT_EQ(d.n_chains(), 2u);
  EXPECT_EQ(d.n_draws_per_chain(), 50u);
  const auto rows = summarise_draws(d, 1);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2].variable, "r_g[a,Intercept]");
  EXPECT_EQ(diagnose_sampler(d, 10).n_divergent, 1u);
  EXPECT_THROW(read_chains({::testing::TempDir() + "hbglm_no_such_file.csv"}), data_error);
}

}  // namespace
}  // namespace hbglm
