#pragma once
/** @file Lists of names inside error messages ("the columns are: a, b, ..."), kept readable
 *  whatever the data: long names are cut short and long lists end with a count. */

#include <string>
#include <vector>

namespace hbglm::detail {

/** @p names joined by ", ", each cut to 40 characters (with "...") and at most 50 of them
 *  (then "... and N more"). */
inline std::string message_list(const std::vector<std::string>& names) {
  constexpr std::size_t max_name = 40, max_items = 50;
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < max_items; ++i) {
    if (i) out += ", ";
    out += names[i].size() > max_name ? names[i].substr(0, max_name) + "..." : names[i];
  }
  if (names.size() > max_items) {
    out += ", ... and " + std::to_string(names.size() - max_items) + " more";
  }
  return out;
}

}  // namespace hbglm::detail
