#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (-fsanitize=fuzzer,address,undefined -g -O1),
# straight from the few host/*.cpp sources each needs (no CMake, no Eigen), and runs each of them.
#
#   scripts/fuzz.sh 600            600 s per target (two targets at a time on two or more cores)
#   scripts/fuzz.sh --smoke        the CI check: 10 s per target from the committed seeds only,
#                                  with libFuzzer's -seed=1 so that every machine tries the same
#                                  inputs in the same order (a finding in CI reproduces here)
#   scripts/fuzz.sh --build-only   build, run nothing
# Options: --targets csv_reader,formula,prior,design   --jobs N   --build-dir DIR
#          --no-install (never apt-get; exit 77 when clang's fuzzer runtime is missing)
#          --keep-going  fuzz on after a finding (libFuzzer -fork=1 -ignore_crashes/timeouts/ooms);
#                        each finding's input is still saved and counted in the report
#          -- ARGS...    passed to every libFuzzer run (e.g. -- -seed=1)
#
# Outputs go to the build folder (default build/fuzz): binaries, the growing corpus of each target
# (corpus/<target>; --smoke uses a throw-away one), logs (logs/<target>.log) and the inputs that
# found something (artifacts/<target>/; keep an unfixed one in fuzz/crashes/<target>/, a fixed one as
# fuzz/corpus/<target>/regression-*).
# The committed seeds in fuzz/corpus/<target>/ are only read.
#
# Exit status: 0 nothing found, 1 a finding (the log and the input are named), 2 bad usage or a
# build failure, 77 no usable clang/libFuzzer (CTest reports a skip).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

all_targets=(csv_reader formula prior design)
seconds=""
smoke=0
build_only=0
install=1
keep_going=0
jobs=""
build_dir="$root/build/fuzz"
targets_arg=""
extra_args=()

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit "${1:-2}"
}

while (($#)); do
  case "$1" in
    --smoke) smoke=1 ;;
    --build-only) build_only=1 ;;
    --no-install) install=0 ;;
    --keep-going) keep_going=1 ;;
    --targets) targets_arg=$2; shift ;;
    --targets=*) targets_arg=${1#*=} ;;
    --jobs) jobs=$2; shift ;;
    --jobs=*) jobs=${1#*=} ;;
    --build-dir) build_dir=$2; shift ;;
    --build-dir=*) build_dir=${1#*=} ;;
    -h|--help) usage 0 ;;
    --) shift; extra_args=("$@"); break ;;
    *)
      if [[ "$1" =~ ^[0-9]+$ ]]; then seconds=$1; else echo "fuzz: unknown argument '$1'" >&2; usage; fi ;;
  esac
  shift
done
if ((smoke)); then seconds=${seconds:-10}; fi
if [ -z "$seconds" ] && ((!build_only)); then
  echo "fuzz: give the seconds per target, --smoke or --build-only" >&2
  usage
fi
targets=("${all_targets[@]}")
if [ -n "$targets_arg" ]; then IFS=, read -r -a targets <<<"$targets_arg"; fi
for t in "${targets[@]}"; do
  [ -f "fuzz/${t}_fuzz.cpp" ] || { echo "fuzz: no target '$t' (fuzz/${t}_fuzz.cpp)" >&2; exit 2; }
done
n_cores=$(nproc 2>/dev/null || echo 1)
if [ -z "$jobs" ]; then jobs=$((n_cores >= 2 ? 2 : 1)); fi
mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd)

# ---- toolchain ------------------------------------------------------------------------------
cxx=${HBGLM_FUZZ_CXX:-clang++}
sanitizers=address,undefined

toolchain_works() {
  command -v "$cxx" >/dev/null 2>&1 || return 1
  local dir
  dir=$(mktemp -d)
  printf '%s\n' '#include <cstddef>' '#include <cstdint>' \
    'extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }' \
    >"$dir/probe.cpp"
  local ok=0
  "$cxx" -fsanitize=fuzzer,$sanitizers "$dir/probe.cpp" -o "$dir/probe" >/dev/null 2>&1 &&
    "$dir/probe" -runs=1 >/dev/null 2>&1 || ok=1
  rm -rf "$dir"
  return $ok
}

install_toolchain() {
  local sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  local pkgs=()
  if ! command -v "$cxx" >/dev/null 2>&1; then pkgs+=(clang); fi
  echo "fuzz: clang's libFuzzer runtime is missing; installing it with apt-get" >&2
  $sudo_cmd apt-get update -qq || return 1
  if ((${#pkgs[@]})); then
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${pkgs[@]}" >/dev/null || return 1
  fi
  # The runtime is libclang-rt-N-dev since LLVM 14 (before: libclang-common-N-dev).
  local major
  major=$("$cxx" --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n 1)
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "libclang-rt-$major-dev" \
    >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "libclang-common-$major-dev" \
      >/dev/null
}

if ! toolchain_works; then
  if ((install)) && command -v apt-get >/dev/null 2>&1; then install_toolchain || true; fi
  if ! toolchain_works; then
    echo "fuzz: skipped: '$cxx -fsanitize=fuzzer,$sanitizers' does not build and run a fuzz target" \
      "(install clang and libclang-rt-<version>-dev)" >&2
    exit 77
  fi
fi

# ---- build ----------------------------------------------------------------------------------
# The library sources each target needs; nothing else is compiled.
sources_of() {
  case "$1" in
    csv_reader) echo "host/io/csv_reader.cpp host/io/table.cpp" ;;
    formula) echo "host/formula/formula.cpp" ;;
    prior) echo "host/model/prior.cpp" ;;
    design) echo "host/design/design.cpp host/formula/formula.cpp host/io/csv_reader.cpp host/io/table.cpp" ;;
  esac
}
max_len_of() {
  case "$1" in
    csv_reader) echo 8192 ;;
    formula) echo 2048 ;;
    prior) echo 512 ;;
    design) echo 8192 ;;
  esac
}

cxxflags=(-std=c++17 -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all
  -Wall -Wextra -Wpedantic -I"$root/include" -I"$root/host" -I"$root/fuzz")
obj_dir="$build_dir/obj"
bin_dir="$build_dir/bin"
mkdir -p "$obj_dir" "$bin_dir"
headers=("$root"/include/hbglm/*.hpp "$root"/fuzz/*.hpp "$0")

# Compiles when the object is older than its source, a header or this script.
needs_build() {
  local src=$1 obj=$2 h
  [ -f "$obj" ] || return 0
  [ "$src" -nt "$obj" ] && return 0
  for h in "${headers[@]}"; do [ "$h" -nt "$obj" ] && return 0; done
  return 1
}

# Every source once, the slowest first so that two compilers stay busy to the end.
by_cost=(host/design/design.cpp host/formula/formula.cpp host/io/csv_reader.cpp
  fuzz/design_fuzz.cpp fuzz/formula_fuzz.cpp fuzz/csv_reader_fuzz.cpp fuzz/prior_fuzz.cpp
  host/model/prior.cpp host/io/table.cpp)
declare -A objects=()
for t in "${targets[@]}"; do
  for src in $(sources_of "$t") "fuzz/${t}_fuzz.cpp"; do
    objects[$src]="$obj_dir/$(echo "$src" | tr '/' '_' | sed 's/\.cpp$/.o/')"
  done
done
compile_list=()
for src in "${by_cost[@]}" "${!objects[@]}"; do
  obj=${objects[$src]:-}
  [ -n "$obj" ] || continue
  case " ${compile_list[*]} " in *" $src "*) continue ;; esac
  if needs_build "$root/$src" "$obj"; then compile_list+=("$src" "$obj"); fi
done

now_ms() { echo $(($(date +%s%N) / 1000000)); }
build_start=$(now_ms)
if ((${#compile_list[@]})); then
  echo "fuzz: compiling $((${#compile_list[@]} / 2)) source(s) with" \
    "$("$cxx" --version | head -n 1), $jobs at a time"
  # Library sources get coverage instrumentation too (fuzzer-no-link); main comes at the link.
  # shellcheck disable=SC2016  # the inner script expands its own arguments
  printf '%s\n' "${compile_list[@]}" |
    xargs -n 2 -P "$jobs" bash -c '
      n=$#; src=${@:n-1:1}; obj=${@:n:1}
      "${@:1:n-2}" -c "$src" -o "$obj.tmp" && mv "$obj.tmp" "$obj" ||
        { echo "fuzz: failed: $src" >&2; exit 255; }
    ' bash-compile "$cxx" "${cxxflags[@]}" -fsanitize=fuzzer-no-link,$sanitizers ||
    { echo "fuzz: build failed" >&2; exit 2; }
fi
for t in "${targets[@]}"; do
  objs=()
  for src in $(sources_of "$t") "fuzz/${t}_fuzz.cpp"; do objs+=("${objects[$src]}"); done
  bin="$bin_dir/${t}_fuzz"
  relink=0
  [ -f "$bin" ] || relink=1
  for o in "${objs[@]}"; do [ "$o" -nt "$bin" ] && relink=1; done
  if ((relink)); then
    "$cxx" -fsanitize=fuzzer,$sanitizers "${objs[@]}" -o "$bin" ||
      { echo "fuzz: link failed: $t" >&2; exit 2; }
  fi
done
build_ms=$(($(now_ms) - build_start))
printf 'fuzz: build %d.%01d s\n' $((build_ms / 1000)) $((build_ms % 1000 / 100))
((build_only)) && exit 0

# ---- run ------------------------------------------------------------------------------------
# -timeout: one input taking longer is a hang (a finding); -rss_limit_mb: so is a runaway
# allocation. New inputs go to the first corpus folder only, so the committed seeds stay as they
# are. -fork is not used, so that the counts below are libFuzzer's own.
log_dir="$build_dir/logs"
mkdir -p "$log_dir"
scratch=""
if ((smoke)); then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
fi

run_target() {
  local t=$1
  local corpus="$build_dir/corpus/$t"
  ((smoke)) && corpus="$scratch/corpus/$t"
  local artifacts="$build_dir/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  local dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  local mode=()
  ((keep_going)) && mode=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  ((smoke)) && mode+=(-seed=1)
  local start end rc=0
  start=$(now_ms)
  "$bin_dir/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len="$(max_len_of "$t")" -print_final_stats=1 -artifact_prefix="$artifacts/" \
    ${mode[@]+"${mode[@]}"} ${dict[@]+"${dict[@]}"} ${extra_args[@]+"${extra_args[@]}"} "$corpus" "fuzz/corpus/$t" >"$log_dir/$t.log" 2>&1 || rc=$?
  end=$(now_ms)
  echo "$rc $((end - start))" >"$log_dir/$t.result"
}

run_start=$(now_ms)
running=0
for t in "${targets[@]}"; do
  if ((running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$t" &
  running=$((running + 1))
done
wait || true
run_ms=$(($(now_ms) - run_start))

# ---- report ---------------------------------------------------------------------------------
status=0
printf '\n%-11s %12s %9s %10s %8s  %s\n' target executions wall_s exec_per_s corpus result
for t in "${targets[@]}"; do
  read -r rc ms <"$log_dir/$t.result"
  log="$log_dir/$t.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ -z "$execs" ]; then  # killed before the final stats: the last status line
    execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#' || true)
  fi
  execs=${execs:-0}
  corpus_size=$(grep -o 'corp: [0-9]*' "$log" | tail -n 1 | sed 's/corp: //' || true)
  result=ok
  # -fork mode keeps going and exits 0; it counts what its jobs found.
  found=$(grep -o 'oom/timeout/crash: [0-9/]*' "$log" | tail -n 1 | sed 's/.*: //' || true)
  if [ -n "$found" ] && [ "$found" != "0/0/0" ]; then
    status=1
    result="FINDINGS (oom/timeout/crash: $found) inputs: $build_dir/artifacts/$t/ log: $log"
  elif [ "$rc" -ne 0 ] && ((keep_going)); then  # a job's finding that the counts missed
    result="FINDINGS (exit $rc) inputs: $build_dir/artifacts/$t/ log: $log"
    status=1
  fi
  if [ "$rc" -ne 0 ] && [ "$result" = ok ]; then
    status=1
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1 || true)
    kind=$(grep -m 1 -o 'ERROR: [A-Za-z]*: [a-z-]*\|FINDING at [^ ]*\|ERROR: libFuzzer: [a-z-]*' "$log" ||
      true)
    result="FINDING (exit $rc${kind:+: $kind}) input: ${artifact:-?} log: $log"
  fi
  per_s=$((ms > 0 ? execs * 1000 / ms : 0))
  printf '%-11s %12s %9s %10s %8s  %s\n' "$t" "$execs" "$((ms / 1000)).$((ms % 1000 / 100))" \
    "$per_s" "${corpus_size:-?}" "$result"
done
printf 'fuzz: build %d.%01d s, runs %d.%01d s (%s s per target, %s at a time)\n' \
  $((build_ms / 1000)) $((build_ms % 1000 / 100)) $((run_ms / 1000)) $((run_ms % 1000 / 100)) \
  "$seconds" "$jobs"
if ((status)); then
  echo "fuzz: FINDINGS above; reproduce with build/fuzz/bin/<target>_fuzz <input>," \
    "keep the input under fuzz/crashes/<target>/ (fuzz/corpus/<target>/regression-* once fixed)"
fi
exit $status
