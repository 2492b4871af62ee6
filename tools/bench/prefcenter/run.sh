#!/usr/bin/env bash
# Measures the preference center (build/bin/prefcenter) against baselines measured in the same run
# and writes tools/bench/prefcenter/RESULTS.md. Starts consentd (temporary data, a fresh link
# keyring) and prefcenter (plain HTTP on a free port, rate limits raised out of the way, one HTTP
# worker thread per caller, GET/POST /__bench/static on), seeds the catalog and 1,000 "page
# subjects" with three writes of history each, then runs, each round alternating which side goes
# first:
#   (d) GET /__bench/static   vs (e) GET /p/{token} of a page subject     N callers
#   (f) GET /__bench/static   vs (g) GET /p/{token}, 1 caller, pinned: page render latency
#   (a) POST /__bench/static  vs (b) one-click POST /u/{token}            N callers
#   (c) the same withdrawals straight to consentd's RecordDecisions (gRPC, N callers)
# Reads run before writes, so that the flushes and compactions the writes cause do not fall on
# them. prefcenter's resident memory (VmRSS) is sampled every second throughout.
#   tools/bench/prefcenter/run.sh [--duration 10s] [--warmup 2s] [--rounds 3] [--callers 16]
#                                 [--output FILE] [--smoke] [--soak 10m]
# --soak D: afterwards, pages and one-clicks alternately (N callers) for D; reports whether
# prefcenter's RSS stays flat. --rounds 0 --soak D runs the soak alone.
# --smoke: one ~1 s round of each (and a 2 s soak) into a temporary file, printed; fails if any
# request failed. The test suite runs it to check that the harness works (its figures mean
# nothing).
set -euo pipefail
cd "$(dirname "$0")/../../.."
command_line="tools/bench/prefcenter/run.sh${*:+ $*}"
duration=10s warmup=2s rounds=3 callers=16 output=tools/bench/prefcenter/RESULTS.md smoke=0 soak=""
usage() {
  echo "usage: $0 [--duration 10s] [--warmup 2s] [--rounds 3] [--callers 16] [--output FILE]" \
    "[--smoke] [--soak 10m]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --callers) callers="$2"; shift 2 ;;
    --output) output="$2"; shift 2 ;;
    --soak) soak="$2"; shift 2 ;;
    --smoke) smoke=1; duration=1s warmup=500ms rounds=1 soak=2s; shift ;;
    *) usage ;;
  esac
done
# The commit measured is the one built now (others may commit while the run goes on). The
# results file itself is being rewritten, so it does not count as a change.
commit="$(git rev-parse --short HEAD)"
[ -z "$(git status --porcelain -- . ':!tools/bench/prefcenter/RESULTS.md')" ] ||
  commit="$commit (with uncommitted changes)"
build_dir="${ASSENT_BUILD_DIR:-build}"
if [ -f "$build_dir/build.ninja" ]; then
  cmake --build "$build_dir" --target prefcenter_load prefcenter consentd -j "$(nproc)" >/dev/null
else
  tools/build.sh
fi
bin="$build_dir/bin"

work="$(mktemp -d)"
[ "$smoke" = 1 ] && output="$work/RESULTS.md"
cleanup() {
  for pid in ${sampler_pid:-} ${prefcenter_pid:-} ${consentd_pid:-}; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
wait_port() {  # FILE LOG
  for _ in $(seq 300); do [ -s "$1" ] && break; sleep 0.1; done
  [ -s "$1" ] || { cat "$2" >&2; exit 1; }
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_before="$(loadavg)"

# A fresh link keyring, given to both services.
(umask 077; printf 'keys:\n  - id: bench\n    secret: "%s"\n' "$(openssl rand -base64 32)" \
  >"$work/keyring.yaml")
"$bin/consentd" --insecure --listen 127.0.0.1:0 --data-dir "$work/data" --port-file "$work/consentd.port" \
  --metrics-listen '' --log-level warn --links-keyring-file "$work/keyring.yaml" \
  2>"$work/consentd.log" &
consentd_pid=$!
wait_port "$work/consentd.port" "$work/consentd.log"
consentd_addr="$(head -1 "$work/consentd.port")"
seed="$("$bin/prefcenter_load" seed --consentd "$consentd_addr" --page-subjects 1000)"
echo "seed: $seed" >&2

# httplib serves a connection on one worker thread for as long as it stays open, so the server
# gets a thread per caller (its default is 8): fewer would queue callers behind others'
# keep-alive connections and measure that instead.
"$bin/prefcenter" --listen 127.0.0.1:0 --consentd "$consentd_addr" --metrics-listen '' \
  --port-file "$work/prefcenter.port" --log-level warn --link-keyring-file "$work/keyring.yaml" \
  --bench-static-route true --threads "$callers" \
  --limits-client-rate 1000000 --limits-client-burst 1000000 \
  --limits-link-rate 1000000 --limits-link-burst 1000000 2>"$work/prefcenter.log" &
prefcenter_pid=$!
wait_port "$work/prefcenter.port" "$work/prefcenter.log"
prefcenter_addr="$(head -1 "$work/prefcenter.port")"

# prefcenter's VmRSS (KiB) every second: "<unix seconds> <kib>".
(
  while rss="$(awk '/^VmRSS:/ {print $2}' "/proc/$prefcenter_pid/status" 2>/dev/null)" &&
    [ -n "$rss" ]; do
    echo "$(date +%s.%N) $rss"
    sleep 1
  done
) >"$work/rss.txt" &
sampler_pid=$!

runs="$work/runs.jsonl"
: >"$runs"
cpus="$(nproc)"
run() {  # LABEL ROUND CALLERS PIN(0|1) prefcenter_load-run-args...
  local label="$1" round="$2" n="$3" pin="$4" target="$prefcenter_addr" start line
  shift 4
  [ "$label" = c ] && target="$consentd_addr"
  # Latency runs (pin=1) put the load generator on CPU 0 and both services, every thread, on
  # CPU 1, so the tail is the services' and not the three fighting for a core; throughput runs
  # share all cores (see RESULTS.md).
  local taskset=()
  if [ "$pin" = 1 ] && [ "$cpus" -ge 2 ]; then
    taskset -apc 1 "$prefcenter_pid" >/dev/null
    taskset -apc 1 "$consentd_pid" >/dev/null
    taskset=(taskset -c 0)
  fi
  start="$(date +%s.%N)"
  line="$("${taskset[@]}" "$bin/prefcenter_load" run --target "$target" --callers "$n" \
    --keyring "$work/keyring.yaml" --pid "prefcenter=$prefcenter_pid" \
    --pid "consentd=$consentd_pid" "$@")"
  if [ ${#taskset[@]} -gt 0 ]; then
    taskset -apc "0-$((cpus - 1))" "$prefcenter_pid" >/dev/null
    taskset -apc "0-$((cpus - 1))" "$consentd_pid" >/dev/null
  fi
  line="{\"label\":\"$label\",\"round\":$round,\"start\":$start,\"end\":$(date +%s.%N),${line#\{}"
  echo "$line" >&2
  echo "$line" >>"$runs"
}
timing=(--duration "$duration" --warmup "$warmup")
for round in $(seq "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then order=(d e); else order=(e d); fi
  for x in "${order[@]}"; do
    case "$x" in
      d) run d "$round" "$callers" 0 --scenario static-get "${timing[@]}" ;;
      e) run e "$round" "$callers" 0 --scenario page "${timing[@]}" ;;
    esac
  done
done
for round in $(seq "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then order=(f g); else order=(g f); fi
  for x in "${order[@]}"; do
    case "$x" in
      f) run f "$round" 1 1 --scenario static-get "${timing[@]}" ;;
      g) run g "$round" 1 1 --scenario page "${timing[@]}" ;;
    esac
  done
done
for round in $(seq "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then order=(a b c); else order=(c b a); fi
  for x in "${order[@]}"; do
    case "$x" in
      a) run a "$round" "$callers" 0 --scenario static-post "${timing[@]}" ;;
      b) run b "$round" "$callers" 0 --scenario one-click --subject-prefix "oc-$round-" \
           "${timing[@]}" ;;
      c) run c "$round" "$callers" 0 --scenario direct --subject-prefix "dc-$round-" \
           "${timing[@]}" ;;
    esac
  done
done
if [ -n "$soak" ]; then
  run s 1 "$callers" 0 --scenario mix --subject-prefix soak- --duration "$soak" --warmup 0s
fi
sleep 1.5  # one more RSS sample after the last run
load_after="$(loadavg)"

python3 tools/bench/prefcenter/report.py --runs "$runs" --rss "$work/rss.txt" \
  --command "$command_line" --commit "$commit" --seed "$seed" --callers "$callers" \
  --load-before "$load_before" --load-after "$load_after" >"$output"
cat "$output"
if [ "$smoke" = 1 ]; then
  python3 - "$runs" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
failed = [r for r in rows if r["errors"] or not r["requests"]]
for r in failed:
    print(f"run {r['label']} ({r['scenario']}): {r['errors']} errors of {r['requests']}; "
          f"first: {r['first_error']}", file=sys.stderr)
if failed:
    sys.exit(f"prefcenter benchmark smoke run: {len(failed)} runs had failed requests or none")
print(f"prefcenter benchmark smoke run: {len(rows)} runs, no failed requests")
PY
fi
