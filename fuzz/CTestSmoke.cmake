# The libFuzzer smoke run as one CTest test (label `fuzz`): scripts/fuzz.sh --smoke builds the four
# targets with clang straight from their sources (about 35 s on two cores, then incremental) and
# runs each for 10 s from the committed seeds, two at a time. A finding fails the test and names
# the input. Without clang's libFuzzer runtime the script exits 77 and CTest reports a skip; it
# never installs anything from here (--no-install).
# Included from tests/CMakeLists.txt:  include(${PROJECT_SOURCE_DIR}/fuzz/CTestSmoke.cmake)
option(HBGLM_FUZZ_SMOKE "Run the libFuzzer smoke test (needs clang with libFuzzer)" ON)
if(HBGLM_FUZZ_SMOKE)
  find_program(HBGLM_BASH_PROGRAM bash)
  get_filename_component(hbglm_fuzz_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
  if(HBGLM_BASH_PROGRAM)
    add_test(NAME fuzz.smoke
      COMMAND ${HBGLM_BASH_PROGRAM} ${hbglm_fuzz_root}/scripts/fuzz.sh --smoke --no-install
              --build-dir ${CMAKE_CURRENT_BINARY_DIR}/fuzz)
    # PROCESSORS 2: the build and the runs use two cores, so ctest -j counts them.
    set_tests_properties(fuzz.smoke PROPERTIES LABELS "fuzz" SKIP_RETURN_CODE 77 TIMEOUT 300
      PROCESSORS 2)
  endif()
endif()
