// hbglm_bench_sbc: the long run of simulation-based calibration (tests/statistical/sbc.hpp).
// For each case, --reps replications on --threads threads; writes the ranks as CSV (--csv FILE)
// and prints per case the divergences and per quantity the chi-square test of uniformity with
// Bonferroni and Holm corrections over all quantities of all cases. scripts/sbc.sh runs it and
// scripts/sbc_plot.py draws the rank histograms; docs/sbc/README.md has the results.
//
// The harness is tests/statistical/sbc.cpp, compiled into this executable by the #include below
// (the bench target has the repository root on its include path); the CI test
// tests/statistical/sbc_test.cpp includes the same file.
//
// Usage: hbglm_bench_sbc [--reps N] [--first-rep K] [--cases a,b,...] [--draws L] [--thin T]
//                        [--warmup W] [--adapt-delta D] [--metric diag|dense|dense_diag]
//                        [--seed S] [--threads N] [--bins B] [--csv FILE] [--mismatch]
// --mismatch adds "bernoulli_intercept_sd_mismatch": sd simulated from normal(0, 2), fitted with
// normal(0, 1) (the classic SBC failure; it should be flagged). Its tests are corrected as a
// family of their own, so that it does not change the corrections of the 8 standard cases.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/statistical/sbc.cpp"

namespace {

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "hbglm_bench_sbc: " << why
            << "\nusage: hbglm_bench_sbc [--reps N] [--first-rep K] [--cases a,b,...] [--draws L]"
               " [--thin T] [--warmup W] [--adapt-delta D] [--metric diag|dense|dense_diag]"
               " [--seed S] [--threads N] [--bins B] [--csv FILE] [--mismatch]\n";
  std::exit(2);
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  std::string item;
  while (std::getline(s, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hbglm;
  sbc::run_options options;
  options.n_reps = 1000;
  std::size_t n_bins = 20;
  std::string csv_path;
  std::vector<std::string> case_names;
  bool mismatch = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--reps") options.n_reps = std::stoul(value());
      else if (a == "--first-rep") options.first_rep = std::stoul(value());
      else if (a == "--cases") case_names = split(value());
      else if (a == "--draws") options.n_draws = std::stoul(value());
      else if (a == "--thin") options.thin = std::stoi(value());
      else if (a == "--warmup") options.warmup = std::stoi(value());
      else if (a == "--adapt-delta") options.adapt_delta = std::stod(value());
      else if (a == "--metric") options.metric = parse_metric_kind(value());
      else if (a == "--seed") options.seed = std::stoull(value());
      else if (a == "--threads") options.n_threads = static_cast<unsigned>(std::stoul(value()));
      else if (a == "--bins") n_bins = std::stoul(value());
      else if (a == "--csv") csv_path = value();
      else if (a == "--mismatch") mismatch = true;
      else if (a == "--help" || a == "-h") usage("help");
      else usage("unknown option " + a);
    } catch (const std::logic_error&) {
      usage("bad value for " + a);
    }
  }
  if (options.thin < 1 || options.n_draws < 1 || options.n_reps < 1) usage("bad sizes");
  if ((options.n_draws + 1) % n_bins != 0) usage("--draws + 1 must be a multiple of --bins");

  // Case ids are positions in the standard list (8 for the mismatch case), so a case's
  // replications are the same whichever cases run together.
  std::vector<sbc::case_spec> all = sbc::standard_cases();
  {
    sbc::case_spec m = all[2];
    m.name = "bernoulli_intercept_sd_mismatch";
    m.sim_prior.sd = 2.0;
    all.push_back(m);
  }
  std::vector<std::size_t> chosen;
  if (case_names.empty()) {
    for (std::size_t k = 0; k < 8; ++k) chosen.push_back(k);
    if (mismatch) chosen.push_back(8);
  } else {
    for (const auto& name : case_names) {
      std::size_t k = 0;
      while (k < all.size() && all[k].name != name) ++k;
      if (k == all.size()) usage("unknown case " + name);
      chosen.push_back(k);
    }
  }

  std::printf("SBC: %zu replications per case (ids %zu..%zu), L = %zu draws (thin %d, %d "
              "sampling iterations), warmup %d, adapt_delta %.3g, metric %s, seed %llu, %zu bins\n",
              options.n_reps, options.first_rep, options.first_rep + options.n_reps - 1,
              options.n_draws, options.thin, static_cast<int>(options.n_draws) * options.thin,
              options.warmup, options.adapt_delta, to_string(options.metric).c_str(),
              static_cast<unsigned long long>(options.seed), n_bins);
  std::fflush(stdout);
  std::vector<sbc::case_result> results;
  for (std::size_t k : chosen) {
    const sbc::case_spec& c = all[k];
    std::printf("case %s: %s, priors:", c.name.c_str(), c.formula().c_str());
    for (const auto& p : sbc::prior_statements(c.fit_prior, c.fam, c.varying_slope)) {
      std::printf(" '%s'", p.c_str());
    }
    std::printf("\n");
    std::fflush(stdout);
    sbc::run_options o = options;
    o.progress = [&](std::size_t done, std::size_t total) {
      if (done % 50 == 0 || done == total) {
        std::fprintf(stderr, "  %s: %zu/%zu\n", c.name.c_str(), done, total);
      }
    };
    results.push_back(sbc::run_case(c, k, o));
    std::printf("  %.1f s\n", results.back().seconds);
    std::fflush(stdout);
    if (!csv_path.empty()) {  // rewritten after each case, so a killed run keeps what it has
      std::ofstream out(csv_path);
      sbc::write_ranks_csv(out, results, true);
    }
  }
  // Bonferroni and Holm over the standard cases together; the mismatch case on its own.
  std::vector<sbc::case_result> standard, demo;
  for (auto& r : results) (r.case_id < 8 ? standard : demo).push_back(r);
  auto tests = sbc::test_uniformity(standard, n_bins);
  const auto demo_tests = sbc::test_uniformity(demo, n_bins);
  tests.insert(tests.end(), demo_tests.begin(), demo_tests.end());
  std::printf("\n");
  std::ostringstream report;
  sbc::print_report(report, results, tests);
  std::printf("%s", report.str().c_str());
  double min_p = 1.0;
  std::size_t n_standard = tests.size() - demo_tests.size();
  for (std::size_t i = 0; i < n_standard; ++i) min_p = std::min(min_p, tests[i].p_bonferroni);
  std::printf("\nsmallest Bonferroni-corrected p-value over the %zu tests of the standard cases: "
              "%.3g (%s at 0.001)\n",
              n_standard, min_p, min_p < 0.001 ? "FLAGGED" : "not flagged");
  return 0;
}
