/** @file Look-ups on a table read from CSV. */

#include "hbglm/table.hpp"
#include "io/message_list.hpp"

namespace hbglm {

const column* table::find(const std::string& name) const {
  // A linear scan: tables have few columns, and keeping file order matters more than lookup speed.
  for (const column& c : columns) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string table::column_list() const {
  std::vector<std::string> names;
  names.reserve(columns.size());
  for (const column& c : columns) names.push_back(c.name);
  return detail::message_list(names);
}

}  // namespace hbglm
