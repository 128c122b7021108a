#pragma once
/** @file One chain's CmdStan CSV file, written as the chain runs (ARCHITECTURE §7): the comment
 *  header, the column header, one row per post-warmup draw (and per warmup iteration before
 *  them with save_warmup), the adaptation comments after warmup
 *  and the elapsed times at the end. Each row goes to the file in one write() of a complete line,
 *  so a run killed at any moment leaves only complete rows. */

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "hbglm/fit.hpp"
#include "hbglm/model.hpp"
#include "hbglm/sampler.hpp"

namespace hbglm::detail {

/** Header facts for one chain's file. */
struct cmdstan_header {
  std::string command_line;
  std::string data_path;
  std::string formula;
  std::string family;
  std::string backend;
  std::uint32_t chain = 0;  ///< 1-based in the file
  const fit_options* options = nullptr;
  std::vector<std::string> notes;  ///< design messages, written as comments
};

/** A chain_callbacks that writes the chain's CmdStan CSV file. */
class cmdstan_writer final : public chain_callbacks {
 public:
  /** Opens (truncates) @p path and writes the header.
   *  @throws error "cannot write <path>: <reason>" */
  cmdstan_writer(const std::string& path, const model& m, const cmdstan_header& header,
                 group_effects_output group_effects);
  ~cmdstan_writer() override;
  cmdstan_writer(const cmdstan_writer&) = delete;
  cmdstan_writer& operator=(const cmdstan_writer&) = delete;

  void on_draw(const nuts_draw& draw) override;
  void on_adaptation_end(const adaptation_info& info) override;
  void on_message(const std::string& text) override;
  bool stop_requested() override;

  /** Writes the elapsed-time comments and, in summary mode, the group-effects file. */
  void finish(const std::string& group_effects_path);

  /** Flags that stop the chain after its current iteration when set: the user's interrupt
   *  (may be null) and the fit's own (another chain failed). */
  void set_stop_flags(const std::atomic<bool>* user, const std::atomic<bool>* fit) {
    user_stop_ = user;
    fit_stop_ = fit;
  }

  std::size_t n_draws_written() const { return n_written_; }
  std::size_t n_divergent() const { return n_divergent_; }
  std::size_t n_max_treedepth() const { return n_max_treedepth_; }
  std::size_t iterations_done() const { return iterations_done_.load(); }
  std::size_t divergent_so_far() const { return divergent_so_far_.load(); }
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  void write_line(const std::string& line);
  std::string format_number(double x) const;

  const model& model_;
  int fd_ = -1;
  std::string path_;
  int sig_figs_;
  bool save_warmup_;
  int max_depth_;
  bool write_group_effects_;
  bool summarize_group_effects_;
  std::size_t n_globals_out_;
  std::vector<double> out_;  ///< constrained values of one draw
  // Welford accumulators of the group effects (summary mode).
  std::vector<double> ge_mean_, ge_m2_;
  std::size_t ge_count_ = 0;
  std::size_t n_written_ = 0, n_divergent_ = 0, n_max_treedepth_ = 0;
  std::atomic<std::size_t> iterations_done_{0}, divergent_so_far_{0};
  const std::atomic<bool>* user_stop_ = nullptr;
  const std::atomic<bool>* fit_stop_ = nullptr;
  std::vector<std::string> messages_;
  std::chrono::steady_clock::time_point start_, sampling_start_;
  bool sampling_started_ = false;
};

}  // namespace hbglm::detail
