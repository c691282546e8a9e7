#!/usr/bin/env bash
# Coverage-guided fuzzing with cargo-fuzz (libFuzzer) on the stable toolchain
# (no sanitizer: `-s none`). See docs/fuzzing.md.
#
#   scripts/fuzz.sh <target> [seconds] [libFuzzer flags...]   fuzz one target (default 300 s)
#   scripts/fuzz.sh cmin <target>           add the new finds that bring coverage to the committed corpus
#   scripts/fuzz.sh tmin <target> <crash>   minimise a crash into tests/fuzz/regressions/<target>/
#   scripts/fuzz.sh run <target> <file>...  run inputs once (prints a panic with its stack trace)
#
# Targets: manifest, bundle, engine, search. One fuzzer process, niced, so
# the machine stays usable. New inputs go to $FUZZ_WORK/corpus/<target>,
# crashes to $FUZZ_WORK/artifacts/<target> (default tests/fuzz/work, not committed).
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_DIR=tests/fuzz
CARGO_FUZZ_VERSION=0.13.2
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/$FUZZ_DIR/target}
FUZZ_WORK=${FUZZ_WORK:-$PWD/$FUZZ_DIR/work}
TARGETS="manifest bundle engine search"

usage() { sed -n '5,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

check_target() {
  case " $TARGETS " in *" $1 "*) ;; *) echo "unknown target '$1' (one of: $TARGETS)"; exit 2 ;; esac
}

install_cargo_fuzz() {
  if ! cargo fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
  fi
}

# Builds the target (release, coverage-instrumented, edgerec with overflow
# checks and debug assertions) and prints its binary's path.
build() {
  install_cargo_fuzz >&2
  nice -n 10 cargo fuzz build -s none --fuzz-dir "$FUZZ_DIR" "$1" >&2
  echo "$CARGO_TARGET_DIR/$(rustc -vV | sed -n 's/^host: //p')/release/$1"
}

# Bundles are framed files of a few KB to 60 KB; calls are short text.
max_len() { if [ "$1" = search ]; then echo 4096; else echo 65536; fi; }

libfuzzer_flags() {
  echo "-max_len=$(max_len "$1") -timeout=10 -rss_limit_mb=2048 -print_final_stats=1"
}

fuzz() {
  local target=$1 seconds=${2:-300} binary
  shift $(($# < 2 ? $# : 2))
  binary=$(build "$target")
  mkdir -p "$FUZZ_WORK/corpus/$target" "$FUZZ_WORK/artifacts/$target"
  # New inputs are written to the first folder only; the committed corpus is read.
  # shellcheck disable=SC2046
  nice -n 19 "$binary" "$FUZZ_WORK/corpus/$target" "$FUZZ_DIR/corpus/$target" \
    $(libfuzzer_flags "$target") -max_total_time="$seconds" \
    -artifact_prefix="$FUZZ_WORK/artifacts/$target/" "$@"
}

cmin() {
  local target=$1 binary
  binary=$(build "$target")
  # Merge: only inputs that add coverage to what the committed corpus has.
  # shellcheck disable=SC2046
  nice -n 19 "$binary" -merge=1 "$FUZZ_DIR/corpus/$target" "$FUZZ_WORK/corpus/$target" \
    $(libfuzzer_flags "$target")
}

tmin() {
  local target=$1 crash=$2 binary out
  binary=$(build "$target")
  out="$FUZZ_DIR/regressions/$target/$(basename "$crash")"
  mkdir -p "$(dirname "$out")"
  nice -n 19 "$binary" -minimize_crash=1 -runs=20000 -exact_artifact_path="$out" "$crash"
  echo "minimised: $out"
}

run_inputs() {
  local target=$1 binary
  shift
  binary=$(build "$target")
  RUST_BACKTRACE=1 "$binary" "$@"
}

[ $# -ge 1 ] || usage
case $1 in
  cmin) [ $# = 2 ] || usage; check_target "$2"; cmin "$2" ;;
  tmin) [ $# = 3 ] || usage; check_target "$2"; tmin "$2" "$3" ;;
  run) [ $# -ge 3 ] || usage; check_target "$2"; run_inputs "${@:2}" ;;
  -h|--help) usage ;;
  *) check_target "$1"; fuzz "$@" ;;
esac
