#pragma once
/** @file Shared by the libFuzzer targets: how an input's outcome is judged.
 *
 *  An hbglm::error (or a subclass) is the library rejecting bad input: expected, not a finding.
 *  Everything else is a finding and ends the run with abort(), so that libFuzzer saves the input:
 *  another exception type, a broken invariant (HBGLM_FUZZ_CHECK), a crash, a sanitizer report, a
 *  hang past -timeout. */

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>

#include "hbglm/error.hpp"

namespace hbglm::fuzz {

/** Prints what went wrong and where, then aborts (libFuzzer reports a deadly signal). */
[[noreturn]] inline void fail(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "\n==hbglm-fuzz== FINDING at %s:%d: %s\n", file, line, what.c_str());
  std::fflush(stderr);
  std::abort();
}

/** Runs @p body on one input: hbglm errors are fine, any other exception is a finding. */
template <class Body>
int run_one(Body&& body) {
  try {
    body();
  } catch (const hbglm::error&) {
    // Expected: the library said precisely why the input is bad.
  } catch (const std::exception& e) {
    fail(__FILE__, __LINE__,
         std::string("exception of type ") + typeid(e).name() + " (not hbglm::error): " + e.what());
  } catch (...) {
    fail(__FILE__, __LINE__, "exception that is not a std::exception");
  }
  return 0;
}

}  // namespace hbglm::fuzz

/// An invariant of a successful parse; a violation is a finding.
#define HBGLM_FUZZ_CHECK(cond, msg)                                                   \
  do {                                                                                \
    if (!(cond)) ::hbglm::fuzz::fail(__FILE__, __LINE__, std::string("invariant '" #cond \
                                                                     "' broken: ") +  \
                                                       (msg));                        \
  } while (0)
