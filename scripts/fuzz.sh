#!/usr/bin/env bash
# Builds aimon's libFuzzer targets (Tests/Fuzz) with AddressSanitizer and runs each of them.
#   ./scripts/fuzz.sh [SECONDS] [TARGET...]    default: 60 s each, every target
# Targets: FuzzNative (the native parser, checked against the mapped one), FuzzPresets (every preset
# and a custom mapping), FuzzFold (records of any value through the fold and the commit script's
# arguments), FuzzText (error messages, checkpoints, alert states, times, key names). Each input also
# goes through the value domains, the fold and the commit (Tests/Fuzz/Sources/FuzzSupport).
# The seed corpus is Tests/Fuzz/Corpus/<target>; what the run finds goes to $FUZZ_WORK (default
# /tmp/aimon-fuzz). A crash leaves its input there and makes the script exit 1: add it to
# Tests/AimonCoreTests/FuzzRegressionTests.swift once fixed. Set FUZZ_PARALLEL=2 to run two targets
# at once (one per core). FUZZ_RUNS=N runs N inputs per target from a fixed seed instead of SECONDS,
# the same each time (.ci/run does, to keep the targets building and their seeds passing).
set -euo pipefail
cd "$(dirname "$0")/../Tests/Fuzz"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzNative FuzzPresets FuzzFold FuzzText)
work="${FUZZ_WORK:-/tmp/aimon-fuzz}"
mkdir -p "$work"
parallel="${FUZZ_PARALLEL:-1}"

echo "== building the fuzz targets (release, -sanitize=fuzzer,address)"
# lld: ld.gold cannot link libFuzzer's runtime into a Swift executable (PLATFORM.md).
# The targets themselves are always compiled again (seconds): SwiftPM can keep a target built against
# an older layout of an AimonCore struct (a stored property added), which ASan then reports as a
# stack-buffer-overflow at start.
bin="$(swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld --show-bin-path)"
rm -rf "$bin"/Fuzz*.build
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld >"$work.build.log" 2>&1 \
  || { tail -30 "$work.build.log"; exit 1; }

run() {
  local target="$1" name
  name="$(echo "${target#Fuzz}" | tr '[:upper:]' '[:lower:]')"
  mkdir -p "$work/$name"
  # The Swift runtime's own crash handler would report inside the sanitizer's; libFuzzer reports.
  local budget=(-max_total_time="$seconds")
  [ -z "${FUZZ_RUNS:-}" ] || budget=(-runs="$FUZZ_RUNS" -seed=1)
  if SWIFT_BACKTRACE=enable=no "$bin/$target" "$work/$name" "Corpus/$name" "${budget[@]}" -max_len=4096 \
       -print_final_stats=1 -artifact_prefix="$work/$name-" >"$work/$name.log" 2>&1; then
    echo "$target: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/$name.log" | grep -o '[0-9]*$') executions, no crash" \
      "($(grep -o 'cov: [0-9]*' "$work/$name.log" | tail -1))"
  else
    echo "$target: FAILED; input and report in $work ($work/$name.log):"
    grep -E 'ERROR|Precondition|Fatal error|SUMMARY' "$work/$name.log" | head -5
    return 1
  fi
}

status=0
if [ "$parallel" -gt 1 ]; then
  pids=()
  for t in "${targets[@]}"; do
    run "$t" & pids+=($!)
    if [ ${#pids[@]} -ge "$parallel" ]; then wait "${pids[0]}" || status=1; pids=("${pids[@]:1}"); fi
  done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
else
  for t in "${targets[@]}"; do run "$t" || status=1; done
fi
exit $status
