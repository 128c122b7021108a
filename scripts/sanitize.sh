#!/usr/bin/env bash
# The whole CPU test suite under AddressSanitizer + UndefinedBehaviorSanitizer: builds the `asan`
# preset (RelWithDebInfo, -fsanitize=address,undefined, CUDA off) in build/asan and runs every test
# through ctest, the CLI tests and the external validation cases included (they run the
# instrumented hbglm binary). Arguments go to ctest unchanged, e.g.
#
#     scripts/sanitize.sh                  # default: every test (unit, reference, backend, slow
#                                          # statistical, cli, validation; gpu tests skip)
#     scripts/sanitize.sh -LE validation   # all but the external validation cases (the slowest)
#     scripts/sanitize.sh -R 'Cli|BadInput'
#
# Every sanitizer report, from a test executable or from an hbglm process that a test started, is
# written to build/asan/sanitizer_logs/ and printed at the end: a child process whose report would
# otherwise be swallowed by the test that ran it still fails the script. Sanitizer errors exit with
# code 86, so a test that expects hbglm to exit 1 (bad input) cannot mistake one for a clean error.
# LeakSanitizer is used when it works on this machine (it needs ptrace-like access that some
# containers deny); the script says which.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

build_dir=build/asan
log_dir="$PWD/$build_dir/sanitizer_logs"

cmake --preset asan >/dev/null
cmake --build "$build_dir" -j "$(nproc)"

# Does LeakSanitizer work here? A program that leaks must be reported as leaking.
detect_leaks=0
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf '#include <cstdlib>\nint main() { void* volatile p = std::malloc(77); p = nullptr; return 0; }\n' \
  >"$probe_dir/leak.cpp"
if c++ -fsanitize=address -g "$probe_dir/leak.cpp" -o "$probe_dir/leak" 2>/dev/null; then
  if ASAN_OPTIONS=detect_leaks=1 "$probe_dir/leak" >"$probe_dir/out" 2>&1; then
    :
  elif grep -q "detected memory leaks" "$probe_dir/out"; then
    detect_leaks=1
  fi
fi
if ((detect_leaks)); then
  echo "sanitize: LeakSanitizer works here: detect_leaks=1"
else
  echo "sanitize: LeakSanitizer does not work on this machine; leak checking is OFF:"
  sed 's/^/  | /' "$probe_dir/out" 2>/dev/null | head -5 || true
fi

rm -rf "$log_dir"
mkdir -p "$log_dir"
export ASAN_OPTIONS="detect_leaks=$detect_leaks:exitcode=86:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1:log_path=$log_dir/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=86:log_path=$log_dir/ubsan"
echo "sanitize: ASAN_OPTIONS=$ASAN_OPTIONS"
echo "sanitize: UBSAN_OPTIONS=$UBSAN_OPTIONS"

start=$(date +%s)
set +e
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" "$@"
ctest_rc=$?
set -e
echo "sanitize: ctest finished in $(($(date +%s) - start)) s with exit code $ctest_rc"

shopt -s nullglob
reports=("$log_dir"/*)
if ((${#reports[@]})); then
  echo "sanitize: ${#reports[@]} sanitizer report(s) in $log_dir:"
  for r in "${reports[@]}"; do
    echo "===== $r"
    cat "$r"
  done
  exit 1
fi
echo "sanitize: no sanitizer reports"
exit "$ctest_rc"
