#!/usr/bin/env bash
# Builds the fuzz harnesses (tests/fuzz) as libFuzzer binaries with clang-14, ASan and UBSan into
# build-fuzz/ (or $ASSENT_FUZZ_BUILD_DIR) and runs them over their committed corpora.
#
#   tools/fuzz.sh build            configure and build the harnesses only
#   tools/fuzz.sh smoke [SECONDS]  build, then run each harness over its corpus for 20,000
#                                  executions from seed $ASSENT_FUZZ_SEED (default 1), at most
#                                  SECONDS (default 5) (CI: tools/test.sh); fails on any crash or
#                                  property failure
#   tools/fuzz.sh long [SECONDS] [HARNESS...]
#                                  build, then run each harness (all, or those named) one at a
#                                  time for up to 10 million executions or SECONDS (default 1200),
#                                  new inputs into build-fuzz/corpus/<name>/ (the committed corpus
#                                  is only read), crashes into build-fuzz/crashes/<name>/; prints a
#                                  table of executions, exec/s, new corpus units and crashes.
#
# A crash reproduces with: build-fuzz/fuzz/<name>_fuzz <crash file>; once fixed, add the file to
# tests/fuzz/corpus/<name>/ as a regression seed (the regular build replays it as a unit test).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${ASSENT_FUZZ_BUILD_DIR:-build-fuzz}"
CORPUS=tests/fuzz/corpus
mode="${1:-smoke}"
shift || true

harnesses() {
  for d in "$CORPUS"/*/; do basename "$d"; done
}

build() {
  # -O1 and line tables only: the build is most of a smoke run's time, and libFuzzer's reports
  # need function names and lines, not full debug information.
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_CXX_FLAGS_RELEASE="-O1 -gline-tables-only" \
    -DASSENT_FUZZ=ON >/dev/null
  cmake --build "$BUILD_DIR" -j "${ASSENT_FUZZ_JOBS:-2}" --target fuzzers
}

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

case "$mode" in
  build)
    build
    ;;
  smoke)
    seconds="${1:-5}"
    build
    failed=()
    for name in $(harnesses); do
      work="$BUILD_DIR/smoke/$name"
      rm -rf "$work" && mkdir -p "$work/corpus"
      echo "-- $name (${seconds}s)"
      # New units go to a scratch directory; the committed corpus is only read.
      # A fixed seed and number of runs make CI's smoke run the same inputs every time (the time
      # limit only caps a slow machine); long runs explore with fresh seeds.
      if ! "$BUILD_DIR/fuzz/${name}_fuzz" -seed="${ASSENT_FUZZ_SEED:-1}" -runs=20000 \
        -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$work/" -print_final_stats=1 \
        "$work/corpus" "$CORPUS/$name" >"$work/log" 2>&1; then
        tail -n 40 "$work/log" >&2
        failed+=("$name")
      else
        grep -E '^stat::number_of_executed_units' "$work/log" | sed 's/^/   /'
      fi
    done
    if [ ${#failed[@]} -gt 0 ]; then
      echo "fuzz smoke: failed: ${failed[*]} (logs and crash files in $BUILD_DIR/smoke/)" >&2
      exit 1
    fi
    echo "fuzz smoke: $(harnesses | wc -w) harnesses ran ${seconds}s each without a failure"
    ;;
  long)
    seconds="${1:-1200}"
    shift || true
    names=("$@")
    if [ ${#names[@]} -eq 0 ]; then mapfile -t names < <(harnesses); fi
    build
    results="$BUILD_DIR/long-results.tsv"
    printf 'harness\texecutions\texec/s\tseconds\tnew_units\toom/timeout/crash\tfiles\n' >"$results"
    for name in "${names[@]}"; do
      corpus="$BUILD_DIR/corpus/$name"
      crashes="$BUILD_DIR/crashes/$name"
      log="$BUILD_DIR/long-$name.log"
      mkdir -p "$corpus" "$crashes"
      before=$(find "$corpus" -type f | wc -l)
      echo "-- $name: up to 10000000 runs or ${seconds}s ($(date -u +%H:%M:%SZ))"
      # -fork=1 keeps going after a crash (one worker process, restarted), so one bug does not
      # end the run; -ignore_crashes and -ignore_timeouts record them and go on.
      "$BUILD_DIR/fuzz/${name}_fuzz" -runs=10000000 -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" \
        -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        "$corpus" "$CORPUS/$name" >"$log" 2>&1 || true
      # Fork mode's progress lines: "#<executions>: cov: .. exec/s <rate of the current job>
      # oom/timeout/crash: a/b/c time: <seconds>s ..."; the last one has the totals.
      last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
      execs=$(sed -nE 's/^#([0-9]+):.*/\1/p' <<<"$last")
      elapsed=$(sed -nE 's/.* time: ([0-9]+)s.*/\1/p' <<<"$last")
      failures=$(sed -nE 's#.*oom/timeout/crash: ([0-9/]+).*#\1#p' <<<"$last")
      rate=$((${execs:-0} / (${elapsed:-0} > 0 ? ${elapsed:-1} : 1)))
      after=$(find "$corpus" -type f | wc -l)
      ncrash=$(find "$crashes" -type f | wc -l)
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${execs:-0}" "$rate" "${elapsed:-0}" \
        "$((after - before))" "${failures:-?}" "$ncrash" >>"$results"
    done
    column -t -s $'\t' "$results"
    ;;
  *)
    echo "usage: tools/fuzz.sh build | smoke [SECONDS] | long [SECONDS] [HARNESS...]" >&2
    exit 2
    ;;
esac
