#pragma once
/** @file Exception types of the hbglm library. Every error a user can cause is one of these,
 *  with a message that says what went wrong and where (file, line, column, term). */

#include <stdexcept>
#include <string>

namespace hbglm {

/** Base class of every hbglm error. */
class error : public std::runtime_error {
 public:
  explicit error(const std::string& what) : std::runtime_error(what) {}
};

/** Bad input data: unreadable CSV, a value that does not fit the family, a missing column. */
class data_error : public error {
 public:
  using error::error;
};

/** A formula that does not parse or names something that cannot be built. */
class formula_error : public error {
 public:
  using error::error;
};

/** A prior that does not parse or does not apply to the model. */
class prior_error : public error {
 public:
  using error::error;
};

/** A backend that cannot be created ("CUDA support was not compiled in", "no CUDA device found"). */
class backend_error : public error {
 public:
  using error::error;
};

/** Bad options (command line or library), e.g. zero chains. */
class option_error : public error {
 public:
  using error::error;
};

}  // namespace hbglm
