#!/usr/bin/env bash
# The enforcement library's benchmarks, written into RESULTS.md beside this script: the local
# check and the view's memory (Google Benchmark, sender_bench), then withdrawal -> suppression
# latency and the bootstrap of a million subjects over a real local broker and consentd
# (enforce_bench; both started here on free ports with temporary data and stopped after).
#   tools/bench/sender/run.sh [--count 2000] [--subjects 1000000]
set -euo pipefail
cd "$(dirname "$0")/../../.."
count=2000
subjects=1000000
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count="$2"; shift 2 ;;
    --subjects) subjects="$2"; shift 2 ;;
    *) echo "usage: $0 [--count N] [--subjects N]" >&2; exit 2 ;;
  esac
done
tools/bootstrap.sh
tools/build.sh
tools/kafka/kafka.sh fetch
BUILD_DIR="${ASSENT_BUILD_DIR:-build}"

machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB"
stamp="$(date -u +%Y-%m-%dT%H:%MZ); commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)')"

# 1. Local check and view memory.
micro_cmd=("$BUILD_DIR/bin/sender_bench" --benchmark_repetitions=3
           --benchmark_report_aggregates_only=true --benchmark_min_time=0.2)
micro="$("${micro_cmd[@]}" --benchmark_filter=-ViewMemory 2>/dev/null | grep -E '_median' || true)"
memory="$("$BUILD_DIR/bin/sender_bench" --benchmark_filter=ViewMemory 2>/dev/null | grep BM_ || true)"

# 2. Over Kafka.
work="$(mktemp -d)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_stack() {
  kport="$(free_port)"; cport="$(free_port)"
  rm -rf "$work/kafka" "$work/consentd" "$work/port"
  tools/kafka/kafka.sh start --dir "$work/kafka" --port "$kport" --controller-port "$cport" --owner-pid $$ >/dev/null
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/secret"
  "$BUILD_DIR/bin/consentd" --insecure --listen 127.0.0.1:0 --data-dir "$work/consentd" --port-file "$work/port" \
    --kafka-brokers "127.0.0.1:$kport" --contact-key-secret-file "$work/secret" \
    --metrics-listen "" --log-level warn 2>"$work/consentd.log" &
  consentd_pid=$!
  for _ in $(seq 300); do [ -s "$work/port" ] && break; sleep 0.1; done
  [ -s "$work/port" ] || { cat "$work/consentd.log"; exit 1; }
}
stop_stack() {
  [ -n "${consentd_pid:-}" ] && kill "$consentd_pid" 2>/dev/null && wait "$consentd_pid" 2>/dev/null || true
  consentd_pid=""
  tools/kafka/kafka.sh stop --dir "$work/kafka" >/dev/null 2>&1 || true
}
trap 'stop_stack; rm -rf "$work"' EXIT

start_stack
withdrawal="$("$BUILD_DIR/bin/enforce_bench" withdrawal --consentd "$(head -1 "$work/port")" \
  --brokers "127.0.0.1:$kport" --secret-file "$work/secret" --count "$count" 2>"$work/w.log")" \
  || { cat "$work/w.log"; exit 1; }
stop_stack
start_stack
bootstrap="$("$BUILD_DIR/bin/enforce_bench" bootstrap --brokers "127.0.0.1:$kport" \
  --subjects "$subjects" 2>"$work/b.log")" || { cat "$work/b.log"; exit 1; }
stop_stack

{
  echo "# Enforcement library: local check, memory, and over a real broker"
  echo
  echo "Command: \`tools/bench/sender/run.sh --count $count --subjects $subjects\` (regenerates this"
  echo "file). Sources: \`tools/bench/sender/sender_bench.cc\` (Google Benchmark) and"
  echo "\`enforce_bench.cc\`. Machine: $machine; $stamp. Broker, consentd and the benchmarks share"
  echo "the machine's cores."
  echo
  echo "## Local check (CPU) and view memory"
  echo
  echo "\`${micro_cmd[*]} --benchmark_filter=-ViewMemory\`, medians of 3, then"
  echo "\`sender_bench --benchmark_filter=ViewMemory\` (one run in a fresh process). \`BM_LocalCheck\` is \`enforce::CheckInView\` (catalog"
  echo "lookup, view lookup under the shard's shared lock, parse of the target's stored bytes into a"
  echo "reused per-thread message, the rule), for a subject or a contact point with its linked subject,"
  echo "in a view of 1,000 or 1,000,000 subjects (+ as many contact points) checked in random order."
  echo "\`BM_DecideOnly\` is the baseline: the rule alone on the same state already parsed."
  echo "\`BM_ViewMemory\` builds a view of 1,000,000 subjects (3 decisions each) and reports the"
  echo "resident memory it added per subject."
  echo
  echo '```'
  echo "$micro"
  echo "$memory"
  echo '```'
  echo
  echo "## Withdrawal acknowledged -> a sender suppresses that recipient"
  echo
  echo "$count subjects hold a grant; for each in turn a withdrawal is recorded over gRPC and the"
  echo "library's \`Check\` is polled (every 20 us) until it says DENY. Baseline from the same"
  echo "writes: the change event's arrival at a bare consumer of the changes topic."
  echo
  echo "$withdrawal"
  echo
  echo "## Bootstrap of $subjects subjects from the state topic"
  echo
  echo "The state topic is filled directly with $subjects subject states (3 decisions with"
  echo "evidence each, as consentd publishes them), then a fresh library starts and is timed to"
  echo "caught up; resident memory is the process's growth over that (view + librdkafka's buffers)."
  echo "Baseline: a bare consumer reading the same records from the beginning to the end."
  echo
  echo "$bootstrap"
  echo
  cat tools/bench/sender/ANALYSIS.md
} > tools/bench/sender/RESULTS.md
cat tools/bench/sender/RESULTS.md
