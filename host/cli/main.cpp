// The hbglm command line: a thin client of the library (as cmdstan is of Stan).

#include <exception>
#include <iostream>

#include "cli/commands.hpp"
#include "hbglm/error.hpp"

int main(int argc, char** argv) {
  try {
    return hbglm::cli::run(argc, argv, std::cout, std::cerr);
  } catch (const hbglm::option_error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;  // bad usage
  } catch (const hbglm::error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n";
    return 3;
  }
}
