#pragma once
/** @file A small command-line option parser: `--name value`, `--name=value`, repeatable options,
 *  flags, and positional arguments; errors say which option and why. */

#include <map>
#include <set>
#include <string>
#include <vector>

namespace hbglm::cli {

/** Parsed options of one subcommand. */
class args {
 public:
  /** @param[in] valued options that take a value; @param[in] flags options that do not.
   *  @throws option_error for an unknown option or a missing value. */
  args(int argc, char** argv, int first, const std::set<std::string>& valued,
       const std::set<std::string>& flags);

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  /** The last value given for @p name, or @p fallback. */
  std::string get(const std::string& name, const std::string& fallback = "") const;
  /** Every value given for @p name, in order. */
  std::vector<std::string> all(const std::string& name) const;
  /** The value as an integer in [lo, hi]. @throws option_error naming the option. */
  long long get_int(const std::string& name, long long fallback, long long lo, long long hi) const;
  /** The value as a finite real in [lo, hi]. @throws option_error naming the option. */
  double get_real(const std::string& name, double fallback, double lo, double hi) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

}  // namespace hbglm::cli
