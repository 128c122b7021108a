#include "mcmc/adapt/windowed_adaptation.hpp"

#include <sstream>
#include <utility>

namespace hbglm::mcmc {

windowed_adaptation::windowed_adaptation(std::string estimator_name)
    : estimator_name_(std::move(estimator_name)) {
  restart();
}

void windowed_adaptation::restart() {
  adapt_window_counter_ = 0;
  adapt_window_size_ = adapt_base_window_;
  // With everything 0 (no schedule set) this wraps to UINT_MAX, so no window ever ends: the same
  // unsigned arithmetic as Stan.
  adapt_next_window_ = adapt_init_buffer_ + adapt_window_size_ - 1;
}

// stan/mcmc/windowed_adaptation.hpp set_window_params.
std::string windowed_adaptation::set_window_params(unsigned int num_warmup,
                                                   unsigned int init_buffer,
                                                   unsigned int term_buffer,
                                                   unsigned int base_window) {
  if (num_warmup < 20) {
    return "WARNING: No " + estimator_name_ + " estimation is performed for num_warmup < 20";
  }

  if (init_buffer + base_window + term_buffer > num_warmup) {
    num_warmup_ = num_warmup;
    // The double-to-unsigned truncations are Stan's.
    adapt_init_buffer_ = static_cast<unsigned int>(0.15 * num_warmup);
    adapt_term_buffer_ = static_cast<unsigned int>(0.10 * num_warmup);
    adapt_base_window_ = num_warmup - (adapt_init_buffer_ + adapt_term_buffer_);
    // Stan's code at stan-dev/stan 9048555 returns here without restart(), which leaves the first
    // window end at its constructor value (UINT_MAX) so the metric is never adapted in this
    // branch (stan-dev/stan#3380). We restart, giving the one window 15%..90% that the message
    // announces and that shared/reference/stan_nuts.md §7.6 specifies.
    restart();
    std::ostringstream msg;
    msg << "WARNING: There aren't enough warmup iterations to fit the three stages of adaptation "
           "as currently configured. Reducing each adaptation stage to 15%/75%/10% of the given "
           "number of warmup iterations: init_buffer = "
        << adapt_init_buffer_ << ", adapt_window = " << adapt_base_window_
        << ", term_buffer = " << adapt_term_buffer_;
    return msg.str();
  }

  num_warmup_ = num_warmup;
  adapt_init_buffer_ = init_buffer;
  adapt_term_buffer_ = term_buffer;
  adapt_base_window_ = base_window;
  restart();
  return "";
}

bool windowed_adaptation::adaptation_window() const noexcept {
  return (adapt_window_counter_ >= adapt_init_buffer_) &&
         (adapt_window_counter_ < num_warmup_ - adapt_term_buffer_) &&
         (adapt_window_counter_ != num_warmup_);
}

bool windowed_adaptation::end_adaptation_window() const noexcept {
  return (adapt_window_counter_ == adapt_next_window_) && (adapt_window_counter_ != num_warmup_);
}

void windowed_adaptation::compute_next_window() noexcept {
  if (adapt_next_window_ == num_warmup_ - adapt_term_buffer_ - 1) return;

  adapt_window_size_ *= 2;
  adapt_next_window_ = adapt_window_counter_ + adapt_window_size_;

  if (adapt_next_window_ == num_warmup_ - adapt_term_buffer_ - 1) return;

  // Boundary of the window after the one just computed: if it would overtake the slow phase,
  // stretch the current window to the end of the slow phase.
  const unsigned int next_window_boundary = adapt_next_window_ + 2 * adapt_window_size_;
  if (next_window_boundary >= num_warmup_ - adapt_term_buffer_) {
    adapt_next_window_ = num_warmup_ - adapt_term_buffer_ - 1;
  }
}

warmup_schedule compute_warmup_schedule(unsigned int num_warmup, unsigned int init_buffer,
                                        unsigned int term_buffer, unsigned int base_window) {
  windowed_adaptation adaptation("metric");
  warmup_schedule schedule;
  schedule.warning = adaptation.set_window_params(num_warmup, init_buffer, term_buffer, base_window);
  schedule.init_buffer = adaptation.init_buffer();
  schedule.term_buffer = adaptation.term_buffer();
  schedule.base_window = adaptation.base_window();
  bool open = false;
  warmup_window current;
  // The same call order as metric_adaptation::learn_metric.
  for (unsigned int iteration = 0; iteration < num_warmup; ++iteration) {
    if (adaptation.adaptation_window() && !open) {
      open = true;
      current.first = iteration;
    }
    if (adaptation.end_adaptation_window()) {
      adaptation.compute_next_window();
      current.last = iteration;
      schedule.windows.push_back(current);
      open = false;
    }
    adaptation.advance();
  }
  return schedule;
}

}  // namespace hbglm::mcmc
