#pragma once
/** @file The CLI's subcommands. */

#include <ostream>

namespace hbglm::cli {

/** Runs `hbglm <command> ...`; returns the exit code (0 ok, 1 bad input, 2 bad usage). */
int run(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace hbglm::cli
