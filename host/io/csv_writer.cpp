#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "hbglm/error.hpp"
#include "hbglm/table.hpp"

namespace hbglm {

void write_csv(const table& t, const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "w"), &std::fclose);
  if (!file) throw error("cannot write " + path + ": " + std::strerror(errno));
  std::string line;
  auto quoted = [&line](const std::string& s) {
    line += '"';
    for (char c : s) {
      if (c == '"') line += '"';
      line += c;
    }
    line += '"';
  };
  for (std::size_t j = 0; j < t.columns.size(); ++j) {
    if (j) line += ',';
    line += t.columns[j].name;
  }
  line += '\n';
  char number[32];
  for (std::size_t i = 0; i < t.n_rows(); ++i) {
    for (std::size_t j = 0; j < t.columns.size(); ++j) {
      const column& c = t.columns[j];
      if (j) line += ',';
      if (c.missing[i]) {
        line += "NA";
      } else if (c.is_numeric) {
        std::snprintf(number, sizeof number, "%.17g", c.numbers[i]);
        line += number;
      } else {
        quoted(c.strings[i]);
      }
    }
    line += '\n';
    if (line.size() > (1u << 20)) {
      if (std::fwrite(line.data(), 1, line.size(), file.get()) != line.size()) {
        throw error("cannot write " + path + ": " + std::strerror(errno));
      }
      line.clear();
    }
  }
  if (std::fwrite(line.data(), 1, line.size(), file.get()) != line.size() ||
      std::fflush(file.get()) != 0) {
    throw error("cannot write " + path + ": " + std::strerror(errno));
  }
}

}  // namespace hbglm
