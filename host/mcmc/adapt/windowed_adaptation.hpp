#pragma once
/** @file Stan's warmup schedule for metric estimation (stan/mcmc/windowed_adaptation.hpp): a fast
 *  initial buffer, slow windows that double in size, and a fast terminal buffer. */

#include <string>
#include <vector>

namespace hbglm::mcmc {

/** The window bookkeeping shared by the metric estimators. One counter advances per warmup
 *  iteration; draws are collected while adaptation_window() holds, and the metric is updated
 *  when end_adaptation_window() holds. */
class windowed_adaptation {
 public:
  /** @param[in] estimator_name "variance", "covariance" or "metric", used in warnings. */
  explicit windowed_adaptation(std::string estimator_name);

  /** Resets the counter to 0 and the next window end to init_buffer + base_window - 1. */
  void restart();

  /** Sets the schedule, with Stan's fallbacks: no metric estimation below 20 warmup iterations,
   *  and 15% / 75% / 10% buffers when init_buffer + window + term_buffer > num_warmup.
   *  @return the warning to show the user, or "" when the schedule is used as given */
  std::string set_window_params(unsigned int num_warmup, unsigned int init_buffer,
                                unsigned int term_buffer, unsigned int base_window);

  /** Whether the current iteration's draw goes into the estimator: init ≤ counter < W - term. */
  bool adaptation_window() const noexcept;
  /** Whether the current iteration closes a window (counter == next window end). */
  bool end_adaptation_window() const noexcept;
  /** After a window closed: double the window, stretching it to the end of the slow phase when
   *  the window after it would not fit. */
  void compute_next_window() noexcept;
  /** Moves to the next warmup iteration. */
  void advance() noexcept { ++adapt_window_counter_; }

  unsigned int num_warmup() const noexcept { return num_warmup_; }
  unsigned int init_buffer() const noexcept { return adapt_init_buffer_; }
  unsigned int term_buffer() const noexcept { return adapt_term_buffer_; }
  unsigned int base_window() const noexcept { return adapt_base_window_; }
  unsigned int counter() const noexcept { return adapt_window_counter_; }

 protected:
  std::string estimator_name_;
  unsigned int num_warmup_ = 0;
  unsigned int adapt_init_buffer_ = 0;
  unsigned int adapt_term_buffer_ = 0;
  unsigned int adapt_base_window_ = 0;
  unsigned int adapt_window_counter_ = 0;
  unsigned int adapt_next_window_ = 0;
  unsigned int adapt_window_size_ = 0;
};

/** One slow window: the 0-based warmup iterations first..last, both included. */
struct warmup_window {
  unsigned int first = 0;
  unsigned int last = 0;
};

/** The schedule windowed_adaptation produces for a warmup length (for tests, docs, `hbglm info`). */
struct warmup_schedule {
  unsigned int init_buffer = 0;        ///< after the fallbacks
  unsigned int term_buffer = 0;        ///< after the fallbacks
  unsigned int base_window = 0;        ///< after the fallbacks
  std::vector<warmup_window> windows;  ///< empty when the metric is not adapted
  std::string warning;                 ///< set_window_params' warning, or ""
};

/** Runs windowed_adaptation over @p num_warmup iterations and records its windows. */
warmup_schedule compute_warmup_schedule(unsigned int num_warmup, unsigned int init_buffer,
                                        unsigned int term_buffer, unsigned int base_window);

}  // namespace hbglm::mcmc
