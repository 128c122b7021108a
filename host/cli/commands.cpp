#include "cli/commands.hpp"

#include <chrono>
#include <cmath>
#include <iomanip>
#include <string>
#include <vector>

#include "backend/registry.hpp"
#include "cli/args.hpp"
#include "hbglm/backend.hpp"
#include "hbglm/error.hpp"
#include "hbglm/problem.hpp"

namespace hbglm::cli {
namespace {

const char* const usage =
    "hbglm: Bayesian hierarchical GLMs (multilevel models) with NUTS\n"
    "\n"
    "usage: hbglm <command> [options]\n"
    "\n"
    "commands:\n"
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
    "  --backend NAME    cpu (default) or cuda\n";

problem_spec spec_from(const args& a) {
  problem_spec spec;
  spec.data_path = a.get("data");
  spec.formula = a.get("formula");
  spec.family = a.get("family", "gaussian");
  spec.priors = a.all("prior");
  if (spec.data_path.empty()) throw option_error("--data FILE.csv is required");
  if (spec.formula.empty()) throw option_error("--formula is required");
  return spec;
}

int command_check(int argc, char** argv, std::ostream& out) {
  const args a(argc, argv, 2, {"data", "formula", "family", "prior", "backend"}, {"help"});
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
  out << "population-level coefficients (" << d.n_coefs() << "):";
  for (const auto& c : d.coef_names) out << " " << c;
  out << "\n";
  for (const auto& t : d.terms) {
    out << "group-level term on " << t.group << ": " << t.n_levels << " levels, coefficients";
    for (const auto& c : t.coef_names) out << " " << c;
    out << (t.correlated ? " (correlated)" : "") << "\n";
  }
  out << "parameters: " << m.dim() << " unconstrained (" << m.n_globals()
      << " global, " << m.dim() - m.n_globals() << " group-level z)\n";
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
  err << "unknown command '" << command << "'\n\n" << usage;
  return 2;
}

}  // namespace hbglm::cli
