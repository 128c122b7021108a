#include "cli/args.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "hbglm/error.hpp"

namespace hbglm::cli {

args::args(int argc, char** argv, int first, const std::set<std::string>& valued,
           const std::set<std::string>& flags) {
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || a == "--") {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    const auto eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (flags.count(name)) {
      if (inline_value) throw option_error("option --" + name + " takes no value");
      values_[name].push_back("true");
    } else if (valued.count(name)) {
      if (!inline_value) {
        if (i + 1 >= argc) throw option_error("option --" + name + " needs a value");
        value = argv[++i];
      }
      values_[name].push_back(value);
    } else {
      std::string known;
      for (const auto& v : valued) known += " --" + v;
      for (const auto& f : flags) known += " --" + f;
      throw option_error("unknown option --" + name + "; the options are:" + known);
    }
  }
}

std::string args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second.back();
}

std::vector<std::string> args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

long long args::get_int(const std::string& name, long long fallback, long long lo,
                        long long hi) const {
  if (!has(name)) return fallback;
  const std::string text = get(name);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE) {
    throw option_error("--" + name + " must be an integer, not '" + text + "'");
  }
  if (v < lo || v > hi) {
    throw option_error("--" + name + " must be between " + std::to_string(lo) + " and " +
                       std::to_string(hi) + ", not " + text);
  }
  return v;
}

double args::get_real(const std::string& name, double fallback, double lo, double hi) const {
  if (!has(name)) return fallback;
  const std::string text = get(name);
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v)) {
    throw option_error("--" + name + " must be a number, not '" + text + "'");
  }
  if (v < lo || v > hi) {
    char range[96];
    std::snprintf(range, sizeof range, "[%g, %g]", lo, hi);
    throw option_error("--" + name + " must be in " + range + ", not " + text);
  }
  return v;
}

}  // namespace hbglm::cli
