#include "cli/commands.hpp"

#include <chrono>
#include <cstdlib>
#include <cmath>
#include <iomanip>
#include <string>
#include <vector>

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <random>

#include "backend/registry.hpp"
#include "cli/args.hpp"
#include "hbglm/backend.hpp"
#include "hbglm/error.hpp"
#include "hbglm/fit.hpp"
#include "hbglm/simulate.hpp"
#include "hbglm/problem.hpp"
#include "hbglm/summary.hpp"

namespace hbglm::cli {
namespace {

const char* const usage =
    "hbglm: Bayesian hierarchical GLMs (multilevel models) with NUTS\n"
    "\n"
    "usage: hbglm <command> [options]\n"
    "\n"
    "commands:\n"
    "  sample   fit a model with NUTS; write CmdStan CSV files and print a brms-like summary\n"
    "  summary  summarise CmdStan CSV files (R-hat, bulk and tail ESS as the R package posterior)\n"
    "  simulate write a simulated data set (the election-shaped benchmark model or a small\n"
    "           varying-slope model) as CSV, with the formula to fit it\n"
    "  check    build the model from data and formula; print its parameters, priors and the\n"
    "           log density and gradient at one point\n"
    "  info     version, compiled backends, devices found\n"
    "\n"
    "`hbglm <command> --help` describes a command's options.\n";

const char* const check_usage =
    "usage: hbglm check --data FILE.csv --formula 'y ~ x + (1 + x | g)' [options]\n"
    "\n"
    "  --data FILE       CSV with a header line (required)\n"
    "  --formula TEXT    lme4/brms formula (required)\n"
    "  --family NAME     gaussian (default), bernoulli, binomial, poisson\n"
    "  --prior TEXT      a prior, e.g. 'b ~ normal(0, 1)'; repeatable\n"
    "  --centered WHICH  auto (default), none, all, or grouping factors (state,dem): the\n"
    "                    group-level terms sampled in the centered form (see sample --help)\n"
    "  --backend NAME    cpu (default) or cuda\n";

problem_spec spec_from(const args& a) {
  problem_spec spec;
  spec.data_path = a.get("data");
  spec.formula = a.get("formula");
  spec.family = a.get("family", "gaussian");
  spec.priors = a.all("prior");
  spec.centered = a.get("centered", "auto");
  if (spec.data_path.empty()) throw option_error("--data FILE.csv is required");
  if (spec.formula.empty()) throw option_error("--formula is required");
  return spec;
}

int command_check(int argc, char** argv, std::ostream& out) {
  const args a(argc, argv, 2, {"data", "formula", "family", "prior", "centered", "backend"},
               {"help"});
  if (a.has("help")) {
    out << check_usage;
    return 0;
  }
  const problem p = load_problem(spec_from(a));
  const design& d = *p.design_ptr;
  const model& m = *p.model_ptr;
  out << "formula: " << d.formula_text << "\nfamily:  " << to_string(d.family) << "\n";
  out << "data:    " << d.n_obs << " observations used of " << p.n_table_rows << " rows\n";
  for (const auto& msg : d.messages) out << "note:    " << msg << "\n";
  for (const auto& msg : m.warnings()) out << msg << "\n";
  out << "population-level coefficients (" << d.n_coefs() << "):";
  for (const auto& c : d.coef_names) out << " " << c;
  out << "\n";
  for (std::size_t t = 0; t < d.terms.size(); ++t) {
    const random_block& block = d.terms[t];
    out << "group-level term on " << block.group << ": " << block.n_levels
        << " levels, coefficients";
    for (const auto& c : block.coef_names) out << " " << c;
    const term_parameters& tp = m.terms()[t];
    // rows_per_level: the data's information per level in rows (model.hpp), what --centered
    // auto reads.
    out << (block.correlated ? " (correlated)" : "") << "; ";
    if (tp.n_centered == 0 || tp.n_centered == tp.k) {
      out << (tp.centered() ? "centered" : "non-centered");
    } else {  // the term's leading coefficients (term_parameters::n_centered)
      std::string centered, rest;
      for (std::size_t c = 0; c < tp.k; ++c) {
        std::string& list = c < tp.n_centered ? centered : rest;
        list += (list.empty() ? "" : " ") + block.coef_names[c];
      }
      out << "centered " << centered << ", non-centered " << rest;
    }
    out << " (data per level ~ "
        << std::setprecision(3) << tp.rows_per_level << " rows";
    if (tp.coefficient_signal_to_noise.size() > 1) {
      out << ", levels' spread over noise ~";
      for (std::size_t c = 0; c < tp.k; ++c) {
        out << (c == 0 ? " " : ", ") << block.coef_names[c] << " " << std::setprecision(3)
            << tp.coefficient_signal_to_noise[c];
      }
    } else if (!std::isnan(tp.signal_to_noise)) {
      out << ", levels' spread over noise ~ " << std::setprecision(3) << tp.signal_to_noise;
    }
    out << ")";
    // The population-level coefficients its levels are centered on (term_parameters::mean_of).
    std::string means;
    for (const std::ptrdiff_t b : tp.mean_of) {
      if (b < 0) continue;
      means += (means.empty() ? "" : ", ") + m.scalars()[static_cast<std::size_t>(b)].name;
    }
    if (!means.empty()) out << ", around " << means;
    // Level-constant slopes whose effect q's entries include (term_parameters::absorbed).
    for (const auto& slope : tp.absorbed) {
      out << ", with " << d.terms[slope.term].coef_names[0] << "'s slope";
    }
    for (const auto& coefficient : tp.absorbed_coefficients) {
      out << ", with " << m.scalars()[coefficient.coefficient].name;
    }
    if (tp.absorbed_into >= 0) out << ", absorbed by the centered intercept";
    out << "\n";
  }
  out << "parameters: " << m.dim() << " unconstrained (" << m.n_globals()
      << " global, " << m.dim() - m.n_globals() << " group-level)\n";
  out << "priors:\n";
  for (const auto& line : m.prior_summary()) out << "  " << line << "\n";

  const backend_kind kind = parse_backend_kind(a.get("backend", "cpu"));
  auto backend = detail::make_backend(kind, p.model_ptr);
  auto q = backend->make_vector();
  auto grad = backend->make_vector();
  const auto start = std::chrono::steady_clock::now();
  const double lp = backend->log_density_grad(*q, *grad);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> g(m.dim());
  backend->copy_to_host(*grad, g.data());
  double norm = 0.0;
  for (double v : g) norm += v * v;
  out << std::setprecision(10) << "at q = 0 (" << to_string(kind) << " backend): log density "
      << lp << ", gradient norm " << std::sqrt(norm) << ", one evaluation "
      << std::setprecision(3) << seconds * 1e3 << " ms\n";
  return 0;
}

const char* const sample_usage =
    "usage: hbglm sample --data FILE.csv --formula 'y ~ x + (1 + x | g)' [options]\n"
    "\n"
    "model:\n"
    "  --data FILE              CSV with a header line (required)\n"
    "  --formula TEXT           lme4/brms formula (required)\n"
    "  --family NAME            gaussian (default), bernoulli, binomial, poisson\n"
    "  --prior TEXT             a prior, e.g. 'b ~ normal(0, 1)', 'sd[g] ~ exponential(1)';\n"
    "                           repeatable, later ones win\n"
    "  --centered WHICH         which group-level terms are sampled in the centered form\n"
    "                           (u ~ normal(0, sd)) rather than brms's non-centered one\n"
    "                           (u = sd z): auto (default: the terms whose median level\n"
    "                           has the information of 100 rows about each coefficient,\n"
    "                           given the factor's other coefficients, and whose levels\n"
    "                           differ by more than that leaves uncertain; `hbglm check`\n"
    "                           shows it), none (brms), all, or grouping factors separated by\n"
    "                           commas (state,dem). The posterior is the same; the sds of\n"
    "                           data-rich groups mix better centered, data-poor ones\n"
    "                           non-centered\n"
    "sampler (Stan's defaults):\n"
    "  --chains N               4\n"
    "  --chain-id N             1: the first chain's id; chains N, N+1, ... write\n"
    "                           PREFIX_<id>.csv and draw their own random numbers, so\n"
    "                           --chains 2 and then --chains 2 --chain-id 3 (same seed)\n"
    "                           write the files of one --chains 4 run (CmdStan's id)\n"
    "  --threads N              chains run at once; default min(chains, cores), fewer\n"
    "                           when the available memory holds fewer (a note says so)\n"
    "  --threads-per-chain N    threads sharing each chain's gradient on the cpu backend\n"
    "                           (models of 8,192 rows or more); default cores / chains run\n"
    "                           at once. The draws do not depend on it\n"
    "  --warmup N               1000 warmup iterations per chain\n"
    "  --samples N              1000 draws per chain after warmup\n"
    "  --thin N                 1: keep every N-th draw\n"
    "  --seed N                 random seed; the same seed gives identical files (default: from\n"
    "                           the clock, printed in the files)\n"
    "  --adapt-delta X          0.8: target acceptance rate; raise to 0.95-0.99 on divergences\n"
    "  --stepsize X             1: the initial step size, where Stan's heuristic starts\n"
    "  --no-adapt               no adaptation: every transition uses --stepsize and the unit\n"
    "                           metric (CmdStan's adapt engaged=0)\n"
    "  --max-depth N            10: maximum tree depth\n"
    "  --metric NAME            diag (default), dense, dense_diag (dense over the global\n"
    "                           parameters, diagonal over the group-level effects)\n"
    "  --metric-init WHICH      data (default: warmup starts from variances guessed from\n"
    "                           the data, as from a CmdStan metric file; half the warmup\n"
    "                           gradients on the election model) or unit (Stan's start)\n"
    "  --init-from WHICH        data (default: each chain starts at a rough fit from the\n"
    "                           data, least squares and per-level estimates, plus\n"
    "                           uniform(-R, R) guessed posterior sds) or random (Stan's\n"
    "                           uniform(-R, R) on the unconstrained scale)\n"
    "  --init R                 2: the radius of the random initial values; 0 starts at the\n"
    "                           guess itself (--init-from random: at 0, Stan's init=0)\n"
    "  --backend NAME           cpu (default), cuda, or auto (cuda when a device is present\n"
    "                           and there are at least 50,000 observations)\n"
    "output:\n"
    "  --output-dir DIR         . : files DIR/PREFIX_1.csv ... one per chain\n"
    "  --output-prefix PREFIX   hbglm\n"
    "  --save-group-effects M   all (every draw), summary (per-level mean and sd in\n"
    "                           PREFIX_N_group_effects.csv), none; default: all up to 2000\n"
    "                           group-effect columns, else summary\n"
    "  --sig-figs N             6 significant digits in the draws\n"
    "  --save-warmup            also write the warmup iterations, before the draws (CmdStan's\n"
    "                           save_warmup=1); summaries leave them out\n"
    "  --progress S             a progress line per chain on stderr every S seconds (0: none);\n"
    "                           default 3 on a terminal, 60 into a file or pipe\n"
    "  --quiet                  no progress lines and no summary\n";

const char* const summary_usage =
    "usage: hbglm summary FILE.csv [FILE.csv ...] [--format table|csv] [--max-depth N]\n"
    "\n"
    "  Reads CmdStan CSV files (one per chain; hbglm's or CmdStan's) and prints the brms-like\n"
    "  table (Estimate, Est.Error, 95% interval, Rhat, Bulk_ESS, Tail_ESS) with warnings, or with\n"
    "  --format csv every variable with the columns of posterior::summarise_draws():\n"
    "  variable,mean,median,sd,mad,q5,q95,rhat,ess_bulk,ess_tail,mcse_mean.\n"
    "  --max-depth N   the tree depth that counts as saturated (default: from the files, or 10)\n";

std::atomic<bool> interrupt_requested{false};

extern "C" void on_interrupt(int) { interrupt_requested.store(true); }

void print_summary(const std::vector<std::string>& files, const std::string& format,
                   int max_depth, std::ostream& out) {
  const named_draws draws = read_chains(files);
  if (draws.find("lp__") == named_draws::npos) {
    throw data_error(files.front() + ": no lp__ column, so not the output of a sampler (hbglm "
                     "sample and CmdStan write one CSV file per chain, starting lp__,accept_stat__,"
                     "...)");
  }
  for (const auto& note : draws.notes) out << "note: " << note << "\n";
  const std::vector<draws_summary> rows = summarise_draws(draws);
  if (format == "csv") {
    write_summary_csv(out, rows);
    return;
  }
  print_brms_summary(out, draws, rows);
  if (max_depth < 0) {
    auto it = draws.config.find("max_depth");
    max_depth = it == draws.config.end() ? 10 : std::atoi(it->second.c_str());
  }
  const auto warnings = diagnostic_warnings(diagnose_sampler(draws, max_depth), rows);
  if (!warnings.empty()) out << "\n";
  for (const auto& w : warnings) out << w << "\n";
}

int command_sample(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const args a(argc, argv, 2,
               {"data", "formula", "family", "prior", "centered", "chains", "chain-id", "threads",
                "threads-per-chain", "warmup", "samples", "thin", "seed", "adapt-delta",
                "stepsize", "max-depth", "metric", "metric-init", "init", "init-from", "backend",
                "output-dir", "output-prefix", "save-group-effects", "sig-figs", "progress"},
               {"help", "quiet", "no-adapt", "save-warmup"});
  if (a.has("help")) {
    out << sample_usage;
    return 0;
  }
  if (!a.positional().empty()) {
    throw option_error("unexpected argument '" + a.positional().front() +
                       "' (options start with --)");
  }
  fit_options o;
  nuts_options& n = o.nuts;
  o.chains = static_cast<int>(a.get_int("chains", 4, 1, 1024));
  o.first_chain_id = static_cast<int>(a.get_int("chain-id", 1, 1, max_chain_id));
  o.threads = static_cast<int>(a.get_int("threads", 0, 0, 1024));
  o.threads_per_chain = static_cast<int>(a.get_int("threads-per-chain", 0, 0, 1024));
  n.num_warmup = static_cast<int>(a.get_int("warmup", n.num_warmup, 0, 100000000));
  n.num_samples = static_cast<int>(a.get_int("samples", n.num_samples, 0, 100000000));
  n.thin = static_cast<int>(a.get_int("thin", n.thin, 1, 100000000));
  if (a.has("seed")) {
    n.seed = static_cast<std::uint64_t>(a.get_int("seed", 0, 0, 4294967295LL));
  } else {
    n.seed = std::random_device{}() & 0x7fffffffu;
  }
  n.delta = a.get_real("adapt-delta", n.delta, 0.1, 0.9999999);
  n.stepsize = a.get_real("stepsize", n.stepsize, 1e-15, 1e7);
  n.adapt_engaged = !a.has("no-adapt");
  n.max_depth = static_cast<int>(a.get_int("max-depth", n.max_depth, 1, 30));
  n.metric = parse_metric_kind(a.get("metric", "diag"));
  const std::string metric_init = a.get("metric-init", "data");
  if (metric_init != "data" && metric_init != "unit") {
    throw option_error("--metric-init must be data or unit, not '" + metric_init + "'");
  }
  o.initial_metric_from_data = metric_init == "data";
  n.init_radius = a.get_real("init", n.init_radius, 0.0, 1e6);
  const std::string init_from = a.get("init-from", "data");
  if (init_from != "data" && init_from != "random") {
    throw option_error("--init-from must be data or random, not '" + init_from + "'");
  }
  o.initial_values_from_data = init_from == "data";
  const std::string backend_name = a.get("backend", "cpu");
  o.output_dir = a.get("output-dir", ".");
  o.output_prefix = a.get("output-prefix", "hbglm");
  o.save_group_effects = parse_group_effects_output(a.get("save-group-effects", "auto"));
  o.sig_figs = static_cast<int>(a.get_int("sig-figs", 6, 1, 18));
  o.save_warmup = a.has("save-warmup");
  const bool quiet = a.has("quiet");
  // Progress goes to stderr: every 3 s on a terminal; every minute into a file or pipe, so that a
  // long run's log (nohup, a cluster job) shows how far it got without filling up.
  const double default_progress = ::isatty(STDERR_FILENO) == 1 ? 3.0 : 60.0;
  const double progress = a.get_real("progress", default_progress, 0.0, 1e6);
  if (progress > 0.0 && progress < 0.1) {  // lines faster than anyone reads
    throw option_error("--progress must be 0 (no progress lines) or at least 0.1 seconds, not " +
                       a.get("progress", ""));
  }
  o.progress_seconds = quiet ? 0.0 : progress;
  for (int i = 0; i < argc; ++i) o.command_line += (i ? " " : "") + std::string(argv[i]);
  const problem_spec spec = spec_from(a);
  o.data_path = spec.data_path;

  if (backend_name != "auto") o.backend = parse_backend_kind(backend_name);
  const problem p = load_problem(spec);
  for (const auto& msg : p.design_ptr->messages) err << "note: " << msg << "\n";
  for (const auto& msg : p.model_ptr->warnings()) err << msg << "\n";
  if (backend_name == "auto") {
    std::string why;
    o.backend = choose_backend(p, &why);
    err << "backend: " << why << "\n";
  }
  interrupt_requested.store(false);
  o.stop = &interrupt_requested;
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  const fit_result result = run_fit(p, o, err);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);

  if (result.interrupted) {
    err << "interrupted: " << result.n_draws_written << " draws written to";
    for (const auto& f : result.files) err << " " << f;
    err << " (every row in them is a complete draw)\n";
    return 130;
  }
  if (!quiet) {
    out << "Sampled " << o.chains << (o.chains == 1 ? " chain in " : " chains in ") << std::fixed
        << std::setprecision(1) << result.seconds << " s (" << std::setprecision(0)
        << static_cast<double>(result.n_gradients) / result.seconds
        << " gradients per second), " << result.chains_at_once << " at a time on "
        << result.threads_per_chain << (result.threads_per_chain == 1 ? " thread" : " threads")
        << " each, seed " << n.seed << std::defaultfloat << "; draws in";
    for (const auto& f : result.files) out << " " << f;
    out << "\n\n";
    print_summary(result.files, "table", n.max_depth, out);
  }
  return 0;
}

int command_summary(int argc, char** argv, std::ostream& out) {
  const args a(argc, argv, 2, {"format", "max-depth"}, {"help"});
  if (a.has("help")) {
    out << summary_usage;
    return 0;
  }
  if (a.positional().empty()) throw option_error("hbglm summary needs at least one CSV file");
  const std::string format = a.get("format", "table");
  if (format != "table" && format != "csv") {
    throw option_error("--format must be table or csv, not '" + format + "'");
  }
  const int max_depth = a.has("max-depth") ? static_cast<int>(a.get_int("max-depth", 10, 1, 30))
                                            : -1;  // from the files
  print_summary(a.positional(), format, max_depth, out);
  return 0;
}

const char* const simulate_usage =
    "usage: hbglm simulate --model election|varying_slope --n N --out FILE.csv [options]\n"
    "\n"
    "  --model NAME     election (ARCHITECTURE §1: 34 states, n/3 respondents, 150 + 119\n"
    "                   candidates, 48 coefficients, 9 group-level terms) or varying_slope\n"
    "                   (y ~ x + (1 + x | g))\n"
    "  --n N            rows (1,000 to 10,000,000 for election)\n"
    "  --family NAME    gaussian (default) or bernoulli\n"
    "  --groups J       varying_slope only: groups (default 40)\n"
    "  --seed N         default 1; the same seed gives the same file\n"
    "  --out FILE       where to write the CSV (required)\n"
    "  --truth FILE     also write the true parameters under hbglm's names (parameter, value,\n"
    "                   realized: a group-level sd's or correlation's value among the effects\n"
    "                   this data set drew), for bench/peers/compare.py --truth\n"
    "The true parameter values are documented in include/hbglm/simulate.hpp.\n";

/// The true parameters as a table (parameter, value, realized; realized NA where not defined),
/// for write_csv.
table true_parameter_table(const std::vector<true_parameter>& parameters, std::string source) {
  table t;
  t.source = std::move(source);
  t.columns.resize(3);
  t.columns[0].name = "parameter";
  t.columns[1].name = "value";
  t.columns[2].name = "realized";
  t.columns[0].is_numeric = false;
  for (const true_parameter& p : parameters) {
    t.columns[0].strings.push_back(p.name);
    t.columns[1].numbers.push_back(p.value);
    t.columns[2].numbers.push_back(p.realized);
    t.columns[0].missing.push_back(0);
    t.columns[1].missing.push_back(0);
    t.columns[2].missing.push_back(std::isnan(p.realized) ? 1 : 0);
    t.line_of_row.push_back(t.line_of_row.size() + 2);
  }
  return t;
}

int command_simulate(int argc, char** argv, std::ostream& out) {
  const args a(argc, argv, 2, {"model", "n", "family", "groups", "seed", "out", "truth"},
               {"help"});
  if (a.has("help")) {
    out << simulate_usage;
    return 0;
  }
  const std::string model_name = a.get("model", "election");
  const std::string path = a.get("out");
  if (path.empty()) throw option_error("--out FILE.csv is required");
  const family fam = parse_family(a.get("family", "gaussian"));
  if (fam != family::gaussian && fam != family::bernoulli) {
    throw option_error("hbglm simulate makes gaussian or bernoulli responses");
  }
  const auto seed = static_cast<std::uint64_t>(a.get_int("seed", 1, 0, 4294967295LL));
  const std::string truth_path = a.get("truth");
  table t;
  std::string formula_text;
  std::vector<true_parameter> truth;
  if (model_name == "election") {
    election_options o;
    o.n_obs = static_cast<std::size_t>(a.get_int("n", 30000, 1000, 10000000));
    o.seed = seed;
    o.response_family = fam;
    election_effects drawn;
    t = simulate_election(o, &drawn);
    truth = election_true_parameters(fam, drawn);
    formula_text = election_formula;
  } else if (model_name == "varying_slope") {
    varying_slope_options o;
    o.n_obs = static_cast<std::size_t>(a.get_int("n", 2000, 2, 100000000));
    o.n_groups = static_cast<std::size_t>(a.get_int("groups", 40, 2, 100000000));
    o.seed = seed;
    o.response_family = fam;
    varying_slope_effects drawn;
    t = simulate_varying_slope(o, &drawn);
    truth = varying_slope_true_parameters(fam, drawn);
    formula_text = varying_slope_formula;
  } else {
    throw option_error("--model must be election or varying_slope, not '" + model_name + "'");
  }
  write_csv(t, path);
  out << "wrote " << t.n_rows() << " rows to " << path << "; fit it with\n  hbglm sample --data "
      << path << " --family " << to_string(fam) << " --formula '" << formula_text << "'\n";
  if (!truth_path.empty()) {
    write_csv(true_parameter_table(truth, t.source), truth_path);
    out << "wrote the " << truth.size() << " true parameters to " << truth_path << "\n";
  }
  return 0;
}

int command_info(std::ostream& out) {
  out << "hbglm " << HBGLM_VERSION << "\n";
  for (backend_kind kind : {backend_kind::cpu, backend_kind::cuda}) {
    out << "backend " << to_string(kind) << ": "
        << (backend_compiled(kind) ? "compiled" : "not compiled");
    const std::string reason = backend_unavailable_reason(kind);
    out << (reason.empty() ? ", available" : ", unavailable: " + reason) << "\n";
    for (const auto& dev : backend_devices(kind)) out << "  " << dev << "\n";
  }
  return 0;
}

}  // namespace

int run(int argc, char** argv, std::ostream& out, std::ostream& err) {
  if (argc < 2) {
    err << usage;
    return 2;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    out << usage;
    return 0;
  }
  if (command == "--version") return command_info(out);
  if (command == "info") return command_info(out);
  if (command == "check") return command_check(argc, argv, out);
  if (command == "sample") return command_sample(argc, argv, out, err);
  if (command == "summary") return command_summary(argc, argv, out);
  if (command == "simulate") return command_simulate(argc, argv, out);
  err << "unknown command '" << command << "'\n\n" << usage;
  return 2;
}

}  // namespace hbglm::cli
