/** @file Look-ups on a table read from CSV. */

#include "hbglm/table.hpp"

namespace hbglm {

const column* table::find(const std::string& name) const {
  // A linear scan: tables have few columns, and keeping file order matters more than lookup speed.
  for (const column& c : columns) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string table::column_list() const {
  std::string list;
  for (const column& c : columns) {
    if (!list.empty()) list += ", ";
    list += c.name;
  }
  return list;
}

}  // namespace hbglm
