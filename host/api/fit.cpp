#include "hbglm/fit.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iomanip>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
#include <thread>

#include "api/chain_memory.hpp"
#include "backend/cpu/glm_cpu_density.hpp"
#include "backend/registry.hpp"
#include "hbglm/error.hpp"
#include "io/cmdstan_writer.hpp"
#include "mcmc/run_chain.hpp"

namespace hbglm {

group_effects_output parse_group_effects_output(const std::string& text) {
  if (text == "all") return group_effects_output::all;
  if (text == "summary") return group_effects_output::summary;
  if (text == "none") return group_effects_output::none;
  if (text == "auto") return group_effects_output::automatic;
  throw option_error("--save-group-effects must be all, summary, none or auto, not '" + text +
                     "'");
}

namespace {

/// Group-effect columns above which `automatic` keeps per-level summaries instead of draws:
/// 2,000 columns × 4,000 draws is already ~80 MB of CSV.
constexpr std::size_t max_automatic_group_effect_columns = 2000;

/// Above this dimension a dense metric is refused: its estimate and Cholesky factor cost
/// dim² memory and dim³ time per window, which is hours at 10,000.
constexpr std::size_t max_dense_metric_dim = 2000;

std::string chain_file(const fit_options& o, int chain, const char* suffix) {
  return (std::filesystem::path(o.output_dir) /
          (o.output_prefix + "_" + std::to_string(chain) + suffix))
      .string();
}

/// Throws if @p path cannot be written: a directory in its place, a file without write
/// permission, or a folder that does not exist or cannot be written. Every output file is
/// checked before any is opened, because opening truncates: one bad name among the chains must
/// not leave the others' earlier results replaced by bare headers.
void check_writable(const std::string& path) {
  namespace fs = std::filesystem;
  auto fail = [&](int code) { throw error("cannot write " + path + ": " + std::strerror(code)); };
  std::error_code ec;
  const fs::path file(path);
  const fs::file_status status = fs::status(file, ec);
  if (fs::exists(status)) {
    if (fs::is_directory(status)) fail(EISDIR);
    if (::access(path.c_str(), W_OK) != 0) fail(errno);
    return;
  }
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec)) fail(fs::exists(dir, ec) ? ENOTDIR : ENOENT);
  if (::access(dir.c_str(), W_OK) != 0) fail(errno);
}

/// Prints one line per chain every fit_options::progress_seconds while chains run.
class progress_monitor {
 public:
  progress_monitor(const std::vector<std::unique_ptr<detail::cmdstan_writer>>& writers,
                   const nuts_options& nuts, int first_chain_id, double interval_seconds,
                   std::ostream& out)
      : writers_(writers),
        nuts_(nuts),
        first_chain_id_(first_chain_id),
        // At most 10^6 s: a larger double would overflow the clock's integer nanoseconds.
        interval_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(std::min(interval_seconds, 1e6)))),
        out_(out),
        thread_([this] { loop(); }) {}
  ~progress_monitor() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void loop() {
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, interval_, [this] { return done_; })) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const std::size_t per_chain =
          static_cast<std::size_t>((nuts_.num_warmup + nuts_.num_samples) / nuts_.thin);
      for (std::size_t c = 0; c < writers_.size(); ++c) {
        const std::size_t done = writers_[c]->iterations_done();
        const bool warmup = done < static_cast<std::size_t>(nuts_.num_warmup / nuts_.thin);
        out_ << "chain " << first_chain_id_ + static_cast<int>(c) << ": iteration " << done
             << "/" << per_chain << " ("
             << (warmup ? "warmup" : "sampling") << "), " << std::fixed << std::setprecision(0)
             << elapsed << " s, " << writers_[c]->divergent_so_far() << " divergent\n"
             << std::defaultfloat;
      }
      out_.flush();
    }
  }

  const std::vector<std::unique_ptr<detail::cmdstan_writer>>& writers_;
  const nuts_options& nuts_;
  const int first_chain_id_;
  const std::chrono::steady_clock::duration interval_;
  std::ostream& out_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

backend_kind choose_backend(const problem& p, std::string* why) {
  constexpr std::size_t min_gpu_observations = 50000;
  const std::size_t n = p.design_ptr->n_obs;
  const std::string reason = backend_unavailable_reason(backend_kind::cuda);
  backend_kind kind = backend_kind::cpu;
  std::string text;
  if (!reason.empty()) {
    text = "cpu (CUDA unavailable: " + reason + ")";
  } else if (n < min_gpu_observations) {
    text = "cpu (" + std::to_string(n) + " observations: too few for the GPU to gain; it is used "
           "from " + std::to_string(min_gpu_observations) + ")";
  } else {
    kind = backend_kind::cuda;
    text = "cuda (" + std::to_string(n) + " observations)";
  }
  if (why != nullptr) *why = text;
  return kind;
}

fit_result run_fit(const problem& p, const fit_options& options, std::ostream& log) {
  validate(options.nuts);
  if (options.chains < 1) throw option_error("--chains must be at least 1");
  if (options.first_chain_id < 1 || options.first_chain_id > max_chain_id - options.chains + 1) {
    throw option_error("--chain-id must be between 1 and " +
                       std::to_string(max_chain_id - options.chains + 1) + " with " +
                       std::to_string(options.chains) + " chains (ids up to " +
                       std::to_string(max_chain_id) + ")");
  }
  // Chain ids are 1-based, as CmdStan's: they key the chain's random numbers and name its files.
  auto chain_id = [&](int index) { return options.first_chain_id + index; };
  if (options.threads < 0) throw option_error("--threads must be 0 (automatic) or more");
  if (options.threads_per_chain < 0) {
    throw option_error("--threads-per-chain must be 0 (automatic) or more");
  }
  if (options.sig_figs < 1 || options.sig_figs > 18) {
    throw option_error("--sig-figs must be between 1 and 18");
  }
  const model& m = *p.model_ptr;
  if (!backend_available(options.backend)) {
    throw backend_error(backend_unavailable_reason(options.backend));
  }

  group_effects_output ge = options.save_group_effects;
  const std::size_t n_ge_columns = m.output_names(true).size() - m.n_output_globals();
  if (ge == group_effects_output::automatic) {
    ge = n_ge_columns <= max_automatic_group_effect_columns ? group_effects_output::all
                                                            : group_effects_output::summary;
  }
  if (n_ge_columns == 0) ge = group_effects_output::none;

  std::error_code ec;
  std::filesystem::create_directories(options.output_dir, ec);
  if (ec) throw error("cannot create output directory " + options.output_dir + ": " + ec.message());

  if (options.nuts.metric == metric_kind::dense && m.dim() > max_dense_metric_dim) {
    throw option_error(
        "--metric dense with " + std::to_string(m.dim()) + " parameters needs a " +
        std::to_string(m.dim()) + "² inverse metric (" +
        std::to_string(m.dim() * m.dim() * 8 / (1024 * 1024)) +
        " MiB per chain) and O(dim³) work at every metric update; use --metric dense_diag (dense "
        "over the " + std::to_string(m.n_globals()) + " global parameters, diagonal over the "
        "group-level effects)");
  }

  // Check every file, then open them all before sampling, so an unwritable directory fails at
  // once and before any earlier output is truncated.
  for (int c = 0; c < options.chains; ++c) {
    check_writable(chain_file(options, chain_id(c), ".csv"));
    if (ge == group_effects_output::summary) {
      check_writable(chain_file(options, chain_id(c), "_group_effects.csv"));
    }
  }
  fit_result result;
  std::atomic<bool> chain_failed{false};  // one chain's error stops the others
  std::vector<std::unique_ptr<detail::cmdstan_writer>> writers;
  for (int c = 0; c < options.chains; ++c) {
    detail::cmdstan_header header;
    header.command_line = options.command_line;
    header.data_path = options.data_path;
    header.formula = p.design_ptr->formula_text;
    header.family = to_string(p.design_ptr->family);
    header.backend = to_string(options.backend);
    header.chain = static_cast<std::uint32_t>(chain_id(c));
    header.options = &options;
    header.notes = p.design_ptr->messages;
    header.notes.insert(header.notes.end(), m.warnings().begin(), m.warnings().end());
    result.files.push_back(chain_file(options, chain_id(c), ".csv"));
    writers.push_back(std::make_unique<detail::cmdstan_writer>(result.files.back(), m, header, ge));
    writers.back()->set_stop_flags(options.stop, &chain_failed);
    if (ge == group_effects_output::summary) {
      result.group_effect_files.push_back(chain_file(options, chain_id(c), "_group_effects.csv"));
    }
  }

  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  int n_threads = std::min(options.chains,
                           options.threads > 0 ? options.threads : static_cast<int>(hardware));
  // The cores left beside the chains share each chain's gradient (same draws whatever the
  // number); counted from the chains at once before the memory check below, which lowers those
  // because memory is short: a chain's threads each hold a vector of n_u as well.
  int threads_per_chain = options.threads_per_chain > 0
                              ? options.threads_per_chain
                              : std::max(1, static_cast<int>(hardware) / std::max(n_threads, 1));
  // No more threads than chunks of rows to share (1 below 8,192 rows), none on the GPU's host.
  if (options.backend != backend_kind::cpu || !detail::chunk_threads_available()) {
    threads_per_chain = 1;
  } else if (threads_per_chain > 1) {
    threads_per_chain = static_cast<int>(std::min(static_cast<std::size_t>(threads_per_chain),
                                                  detail::plan_row_chunks(*p.design_ptr).size()));
  }
  if (options.threads == 0 && options.backend == backend_kind::cpu) {
    // Automatic: no more chains at once than the available memory holds at the deepest trees
    // (a 10M-row model's chains take about 2 GB each at depth 10), rather than run out of it.
    const std::size_t n_dense = options.nuts.metric == metric_kind::dense        ? m.dim()
                                : options.nuts.metric == metric_kind::dense_diag ? m.n_globals()
                                                                                 : 0;
    const std::size_t per_chain = detail::cpu_chain_bytes(
        p.design_ptr->n_obs, m.dim(), options.nuts.max_depth, n_dense, threads_per_chain);
    const std::optional<std::size_t> available = detail::available_memory_bytes();
    const int fitting =
        detail::automatic_chains_at_once(options.chains, hardware, per_chain, available);
    if (fitting < n_threads) {
      log << "note: running " << fitting << (fitting == 1 ? " chain" : " chains")
          << " at a time, not " << n_threads << ": each can hold "
          << detail::format_bytes(per_chain) << " at tree depth " << options.nuts.max_depth
          << " and " << detail::format_bytes(*available)
          << " of memory is available (--threads N sets the number)\n";
      n_threads = fitting;
    }
  }
  if (threads_per_chain > 1 &&
      static_cast<unsigned>(n_threads) * static_cast<unsigned>(threads_per_chain) > hardware) {
    // A chain's threads meet at barriers once or twice a gradient: a thread that waits for a
    // core holds back the others, which spin meanwhile (3 threads on 2 cores: twice the time).
    const int fits = std::max(1, static_cast<int>(hardware) / std::max(n_threads, 1));
    log << "note: " << n_threads << (n_threads == 1 ? " chain" : " chains") << " at a time with "
        << threads_per_chain << " threads each take " << n_threads * threads_per_chain
        << " threads, more than the " << hardware << " cores: a chain's threads wait for each "
        << "other at every gradient, so this runs slower than with --threads-per-chain " << fits
        << " (the draws are the same)\n";
  }
  std::vector<std::exception_ptr> failures(static_cast<std::size_t>(options.chains));
  std::vector<std::size_t> evaluations(static_cast<std::size_t>(options.chains), 0);
  std::vector<mcmc::chain_result> chain_results(static_cast<std::size_t>(options.chains));
  std::atomic<int> next_chain{0};
  // One pass over the data for every chain's starting metric.
  const std::vector<double> initial_inv_metric =
      options.initial_metric_from_data ? m.initial_inv_metric() : std::vector<double>{};
  model::initial_value_guess initial_values;
  if (options.initial_values_from_data) {
    initial_values = m.initial_values_from_data();
  } else {
    initial_values.center = m.init_centers();
  }
  const auto start = std::chrono::steady_clock::now();
  {
    std::unique_ptr<progress_monitor> monitor;
    if (options.progress_seconds > 0.0) {
      monitor = std::make_unique<progress_monitor>(writers, options.nuts, options.first_chain_id,
                                                   options.progress_seconds, log);
    }
    auto worker = [&] {
      for (int c = next_chain++; c < options.chains; c = next_chain++) {
        const auto idx = static_cast<std::size_t>(c);
        try {
          auto backend = detail::make_backend(options.backend, p.model_ptr, threads_per_chain);
          mcmc::chain_setup setup;
          setup.n_dense_globals = m.n_globals();
          setup.init_centers = initial_values.center;
          setup.init_scales = initial_values.scale;
          setup.initial_inv_metric = initial_inv_metric;
          chain_results[idx] = mcmc::run_chain(*backend, options.nuts,
                                               static_cast<std::uint32_t>(chain_id(c)),
                                               *writers[idx], setup);
          evaluations[idx] = backend->n_evaluations();
          writers[idx]->finish(ge == group_effects_output::summary
                                   ? result.group_effect_files[idx]
                                   : std::string());
        } catch (...) {
          failures[idx] = std::current_exception();
          chain_failed.store(true);
        }
      }
    };
    std::vector<std::thread> threads;
    for (int t = 1; t < n_threads; ++t) threads.emplace_back(worker);
    worker();
    for (auto& t : threads) t.join();
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.chains_at_once = n_threads;
  result.threads_per_chain = threads_per_chain;
  for (std::size_t c = 0; c < writers.size(); ++c) {
    for (const auto& msg : writers[c]->messages()) {
      log << "chain " << chain_id(static_cast<int>(c)) << ": " << msg << "\n";
    }
  }
  for (const auto& f : failures) {
    if (f) std::rethrow_exception(f);
  }
  for (std::size_t c = 0; c < writers.size(); ++c) {
    result.n_draws_written += writers[c]->n_draws_written();
    result.n_divergent += writers[c]->n_divergent();
    result.n_max_treedepth += writers[c]->n_max_treedepth();
    result.interrupted |= chain_results[c].interrupted;
    result.n_gradients += evaluations[c];
  }
  return result;
}

}  // namespace hbglm
