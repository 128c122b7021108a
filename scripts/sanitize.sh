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
# Every AddressSanitizer and LeakSanitizer report, from a test executable or from an hbglm process
# that a test started, is written to build/asan/sanitizer_logs/ and printed at the end: a child
# process whose report would otherwise be swallowed by the test that ran it still fails the script.
# UndefinedBehaviorSanitizer reports ignore log_path in the combined ASan+UBSan runtime (GCC 12), so
# they go to the process's stderr: the script also searches ctest's log of every test's output for
# them. Every sanitizer error exits with code 86, so a test that expects hbglm to exit 1 (bad input)
# or 0 cannot mistake a child's sanitizer error for a clean run; only a test that accepts any
# non-zero exit code (cli_sample_test's BadOptionsFailWithAClearMessage) could miss a UBSan report
# from its child.
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
cat >"$probe_dir/leak.cpp" <<'EOF'
#include <cstdlib>
int main() {
  void* volatile p = std::malloc(77);
  p = nullptr;
  return 0;
}
EOF
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
asan_options=(
  "detect_leaks=$detect_leaks"
  exitcode=86
  check_initialization_order=1
  strict_init_order=1
  detect_stack_use_after_return=1
  "log_path=$log_dir/asan"
)
ubsan_options=(halt_on_error=1 print_stacktrace=1 exitcode=86 "log_path=$log_dir/ubsan")
ASAN_OPTIONS=$(IFS=:; echo "${asan_options[*]}")
UBSAN_OPTIONS=$(IFS=:; echo "${ubsan_options[*]}")
export ASAN_OPTIONS UBSAN_OPTIONS
echo "sanitize: ASAN_OPTIONS=$ASAN_OPTIONS"
echo "sanitize: UBSAN_OPTIONS=$UBSAN_OPTIONS"

rm -f "$build_dir"/Testing/Temporary/LastTest*.log
start=$(date +%s)
set +e
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" "$@"
ctest_rc=$?
set -e
echo "sanitize: ctest finished in $(($(date +%s) - start)) s with exit code $ctest_rc"

shopt -s nullglob
found=0
reports=("$log_dir"/*)
if ((${#reports[@]})); then
  echo "sanitize: ${#reports[@]} sanitizer report(s) in $log_dir:"
  for r in "${reports[@]}"; do
    echo "===== $r"
    cat "$r"
  done
  found=1
fi
pattern='runtime error:|ERROR: (Address|Leak)Sanitizer'
pattern+='|SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer'
test_logs=("$build_dir"/Testing/Temporary/LastTest*.log)
if ((${#test_logs[@]})) && grep -Eq "$pattern" "${test_logs[@]}"; then
  echo "sanitize: sanitizer output in the tests' output (${test_logs[*]}):"
  grep -En -B2 -A20 "$pattern" "${test_logs[@]}" | head -400
  found=1
fi
if ((found)); then
  exit 1
fi
echo "sanitize: no sanitizer reports"
exit "$ctest_rc"
