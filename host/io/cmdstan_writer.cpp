#include "io/cmdstan_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "hbglm/error.hpp"

namespace hbglm::detail {
namespace {

std::string json_string_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += '"';
    for (unsigned char c : items[i]) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c < 0x20) {
        char buffer[8];
        std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
        out += buffer;
      } else {
        out += static_cast<char>(c);
      }
    }
    out += '"';
  }
  return out + "]";
}

/// A comment line's value on one line (a formula or command with newlines stays one comment).
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

cmdstan_writer::cmdstan_writer(const std::string& path, const model& m,
                               const cmdstan_header& header, group_effects_output group_effects)
    : model_(m),
      path_(path),
      sig_figs_(header.options->sig_figs),
      save_warmup_(header.options->save_warmup),
      max_depth_(header.options->nuts.max_depth),
      write_group_effects_(group_effects == group_effects_output::all),
      summarize_group_effects_(group_effects == group_effects_output::summary),
      n_globals_out_(m.n_output_globals()),
      start_(std::chrono::steady_clock::now()) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw error("cannot write " + path + ": " + std::strerror(errno));
  }
  const fit_options& o = *header.options;
  const nuts_options& n = o.nuts;
  std::string h;
  auto kv = [&](const std::string& key, const std::string& value) {
    h += "# " + key + " = " + one_line(value) + "\n";
  };
  auto num = [](double x) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.10g", x);
    return std::string(buffer);
  };
  h += "# hbglm " HBGLM_VERSION "\n";
  if (!header.command_line.empty()) kv("command", header.command_line);
  kv("formula", header.formula);
  kv("family", header.family);
  kv("data", header.data_path);
  kv("backend", header.backend);
  kv("chain", std::to_string(header.chain));
  kv("chains", std::to_string(o.chains));
  kv("seed", std::to_string(n.seed));
  kv("num_warmup", std::to_string(n.num_warmup));
  kv("num_samples", std::to_string(n.num_samples));
  kv("thin", std::to_string(n.thin));
  kv("save_warmup", save_warmup_ ? "1" : "0");
  kv("adapt_engaged", n.adapt_engaged ? "1" : "0");
  kv("adapt_delta", num(n.delta));
  kv("stepsize", num(n.stepsize));
  kv("max_depth", std::to_string(n.max_depth));
  kv("metric", to_string(n.metric));
  kv("metric_init",
     o.initial_metric_from_data && n.adapt_engaged && n.num_warmup > 0 ? "data" : "unit");
  kv("stepsize_jitter", num(n.stepsize_jitter));
  kv("init", num(n.init_radius));
  kv("init_from", o.initial_values_from_data ? "data" : "random");
  kv("save_group_effects", write_group_effects_     ? "all"
                           : summarize_group_effects_ ? "summary"
                                                      : "none");
  // What the model samples differently from brms's form, each a list or "none".
  const auto listed = [](const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
    return out.empty() ? std::string("none") : out;
  };
  // The group-level terms sampled in the centered form, with their centered coefficients (all,
  // or the term's leading ones: term_parameters::n_centered), e.g. "state(Intercept),
  // dem(Intercept)" or "Subject(Intercept + Days)";
  // the population-level coefficients they are centered around (sampled as b + u:
  // term_parameters::mean_of), e.g. "Intercept, b_Days"; the level-constant slopes
  // (term_parameters::absorbed), e.g. "state(potus2016)", and population-level coefficients
  // (term_parameters::absorbed_coefficients), e.g. "state(b_x)", that centered terms absorb.
  std::vector<std::string> centered_terms, centered_around, absorbed_slopes,
      absorbed_coefficients;
  for (std::size_t t = 0; t < m.terms().size(); ++t) {
    const term_parameters& tp = m.terms()[t];
    const random_block& block = m.data().terms[t];
    if (tp.centered()) {
      std::string coefs;
      for (std::size_t c = 0; c < tp.n_centered; ++c) {
        coefs += (coefs.empty() ? "" : " + ") + block.coef_names[c];
      }
      centered_terms.push_back(block.group + "(" + coefs + ")");
    }
    for (const std::ptrdiff_t b : tp.mean_of) {
      if (b >= 0) centered_around.push_back(m.scalars()[static_cast<std::size_t>(b)].name);
    }
    if (tp.absorbed_into >= 0) {
      absorbed_slopes.push_back(block.group + "(" + block.coef_names[0] + ")");
    }
    for (const auto& coefficient : tp.absorbed_coefficients) {
      absorbed_coefficients.push_back(block.group + "(" +
                                      m.scalars()[coefficient.coefficient].name + ")");
    }
  }
  kv("centered_terms", listed(centered_terms));
  kv("centered_around", listed(centered_around));
  kv("absorbed_slopes", listed(absorbed_slopes));
  kv("absorbed_coefficients", listed(absorbed_coefficients));
  for (const auto& line : m.prior_summary()) h += "# prior: " + one_line(line) + "\n";
  // A note that already says "note: " keeps it; warnings and the rest get it here.
  for (const auto& note : header.notes) {
    h += (note.rfind("note: ", 0) == 0 ? "# " : "# note: ") + one_line(note) + "\n";
  }
  for (const auto& g : m.output_group_labels()) {
    h += "# levels." + g.name + " = " + json_string_array(g.levels) + "\n";
    h += "# coefs." + g.name + " = " + json_string_array(g.coefs) + "\n";
  }
  h += "lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__";
  for (const auto& name : m.output_names(write_group_effects_)) h += "," + name;
  h += "\n";
  write_line(h);
  out_.resize(m.output_names(true).size());
  if (summarize_group_effects_) {
    ge_mean_.assign(out_.size() - n_globals_out_, 0.0);
    ge_m2_.assign(out_.size() - n_globals_out_, 0.0);
  }
}

cmdstan_writer::~cmdstan_writer() {
  if (fd_ >= 0) ::close(fd_);
}

void cmdstan_writer::write_line(const std::string& text) {
  // One write() per complete line (or header block): a kill between writes leaves whole rows.
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t w = ::write(fd_, text.data() + done, text.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw error("cannot write " + path_ + ": " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(w);
  }
}

std::string cmdstan_writer::format_number(double x) const {
  char buffer[40];
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  std::snprintf(buffer, sizeof buffer, "%.*g", sig_figs_, x);
  return buffer;
}

void cmdstan_writer::on_draw(const nuts_draw& draw) {
  iterations_done_.fetch_add(1);
  if (draw.divergent) divergent_so_far_.fetch_add(1);
  if (draw.warmup && !save_warmup_) return;  // CmdStan's save_warmup = 0
  if (!draw.warmup && !sampling_started_) {
    sampling_started_ = true;
    sampling_start_ = std::chrono::steady_clock::now();
  }
  const bool need_group_effects =
      write_group_effects_ || (summarize_group_effects_ && !draw.warmup);
  model_.write_constrained(draw.q.data(), out_.data(), need_group_effects);
  std::string line;
  line.reserve(16 * (8 + out_.size()));
  line += format_number(draw.lp);
  line += "," + format_number(draw.accept_stat);
  line += "," + format_number(draw.stepsize);
  line += "," + std::to_string(draw.treedepth);
  line += "," + std::to_string(draw.n_leapfrog);
  line += draw.divergent ? ",1" : ",0";
  line += "," + format_number(draw.energy);
  const std::size_t n_columns = write_group_effects_ ? out_.size() : n_globals_out_;
  for (std::size_t j = 0; j < n_columns; ++j) {
    line += ',';
    line += format_number(out_[j]);
  }
  line += '\n';
  write_line(line);
  if (draw.warmup) return;  // a saved warmup row: not a posterior draw, so not counted below
  ++n_written_;
  if (draw.divergent) ++n_divergent_;
  if (draw.treedepth >= max_depth_) ++n_max_treedepth_;
  if (summarize_group_effects_) {
    ++ge_count_;
    for (std::size_t j = 0; j < ge_mean_.size(); ++j) {
      const double x = out_[n_globals_out_ + j];
      const double delta = x - ge_mean_[j];
      ge_mean_[j] += delta / static_cast<double>(ge_count_);
      ge_m2_[j] += delta * (x - ge_mean_[j]);
    }
  }
}

void cmdstan_writer::on_adaptation_end(const adaptation_info& info) {
  if (!sampling_started_) {
    sampling_started_ = true;
    sampling_start_ = std::chrono::steady_clock::now();
  }
  std::string text = "# Adaptation terminated\n# Step size = " + format_number(info.stepsize) +
                     "\n";
  char buffer[40];
  auto fmt = [&](double x) {
    std::snprintf(buffer, sizeof buffer, "%.6g", x);
    return std::string(buffer);
  };
  if (info.n_dense == 0) {
    text += "# Diagonal elements of inverse mass matrix:\n# ";
    for (std::size_t i = 0; i < info.diag.size(); ++i) text += (i ? ", " : "") + fmt(info.diag[i]);
    text += "\n";
  } else {
    // CmdStan's dense form, one matrix row per line; for dense_diag the dense block comes first
    // and the diagonal part follows on its own line.
    text += "# Elements of inverse mass matrix:\n";
    for (std::size_t r = 0; r < info.n_dense; ++r) {
      text += "# ";
      for (std::size_t c = 0; c < info.n_dense; ++c) {
        text += (c ? ", " : "") + fmt(info.dense[c * info.n_dense + r]);
      }
      text += "\n";
    }
    if (!info.diag.empty()) {
      text += "# Diagonal elements of inverse mass matrix (group-level z):\n# ";
      for (std::size_t i = 0; i < info.diag.size(); ++i) {
        text += (i ? ", " : "") + fmt(info.diag[i]);
      }
      text += "\n";
    }
  }
  write_line(text);
}

void cmdstan_writer::on_message(const std::string& text) { messages_.push_back(text); }

bool cmdstan_writer::stop_requested() {
  return (user_stop_ != nullptr && user_stop_->load()) || (fit_stop_ != nullptr && fit_stop_->load());
}

void cmdstan_writer::finish(const std::string& group_effects_path) {
  const auto now = std::chrono::steady_clock::now();
  const auto begin_sampling = sampling_started_ ? sampling_start_ : now;
  const double warmup = std::chrono::duration<double>(begin_sampling - start_).count();
  const double sampling = std::chrono::duration<double>(now - begin_sampling).count();
  char buffer[256];
  std::snprintf(buffer, sizeof buffer,
                "#\n#  Elapsed Time: %.3f seconds (Warm-up)\n#                %.3f seconds "
                "(Sampling)\n#                %.3f seconds (Total)\n#\n",
                warmup, sampling, warmup + sampling);
  write_line(buffer);
  if (summarize_group_effects_ && !group_effects_path.empty()) {
    const int fd = ::open(group_effects_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                          0644);
    if (fd < 0) throw error("cannot write " + group_effects_path + ": " + std::strerror(errno));
    // n_draws on every line: a run stopped early says so in the file itself, and a run stopped
    // before its first draw gives nan rather than a mean of 0.
    std::string text = "variable,mean,sd,n_draws\n";
    const auto names = model_.output_names(true);
    const std::string n_draws = std::to_string(ge_count_);
    for (std::size_t j = 0; j < ge_mean_.size(); ++j) {
      const double mean = ge_count_ > 0 ? ge_mean_[j] : NAN;
      const double var = ge_count_ > 1 ? ge_m2_[j] / static_cast<double>(ge_count_ - 1) : NAN;
      text += names[n_globals_out_ + j] + "," + format_number(mean) + "," +
              format_number(std::sqrt(var)) + "," + n_draws + "\n";
    }
    const ssize_t w = ::write(fd, text.data(), text.size());
    ::close(fd);
    if (w != static_cast<ssize_t>(text.size())) {
      throw error("cannot write " + group_effects_path + ": short write");
    }
  }
}

}  // namespace hbglm::detail
