#include <cmath>
#include <string>

#include "hbglm/error.hpp"
#include "hbglm/sampler.hpp"

namespace hbglm {

std::string to_string(metric_kind kind) {
  switch (kind) {
    case metric_kind::diag:
      return "diag";
    case metric_kind::dense:
      return "dense";
    case metric_kind::dense_diag:
      return "dense_diag";
  }
  return "unknown";
}

metric_kind parse_metric_kind(const std::string& text) {
  if (text == "diag" || text == "diag_e") return metric_kind::diag;
  if (text == "dense" || text == "dense_e") return metric_kind::dense;
  if (text == "dense_diag") return metric_kind::dense_diag;
  throw option_error("unknown metric '" + text + "' (expected diag, dense or dense_diag)");
}

namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw option_error("invalid sampler option: " + what);
}

}  // namespace

void validate(const nuts_options& o) {
  require(o.max_depth > 0, "max_depth must be > 0");
  require(o.max_delta_h > 0, "max_delta_h must be > 0");
  require(std::isfinite(o.stepsize) && o.stepsize > 0, "stepsize must be finite and > 0");
  require(o.stepsize_jitter >= 0 && o.stepsize_jitter <= 1, "stepsize_jitter must be in [0, 1]");
  require(o.delta > 0 && o.delta < 1, "delta must be in (0, 1)");
  require(o.gamma > 0, "gamma must be > 0");
  require(o.kappa > 0, "kappa must be > 0");
  require(o.t0 > 0, "t0 must be > 0");
  require(o.init_buffer >= 0, "init_buffer must be >= 0");
  require(o.term_buffer >= 0, "term_buffer must be >= 0");
  require(o.window >= 0, "window must be >= 0");
  require(o.num_warmup >= 0, "num_warmup must be >= 0");
  require(o.num_samples >= 0, "num_samples must be >= 0");
  require(o.thin >= 1, "thin must be >= 1");
  require(std::isfinite(o.init_radius) && o.init_radius >= 0,
          "init_radius must be finite and >= 0");
}

}  // namespace hbglm
