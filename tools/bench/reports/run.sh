#!/usr/bin/env bash
# Consent reports: what keeping the aggregates on the write path costs, and how fast a report is.
#   (a) RecordDecisions, 64 callers, durable (fsync'ed, group-committed), against two consentd
#       processes of the same build: reports.enabled true and false (--insecure in both: the
#       transport is not what is measured). Each round runs both back to back, alternating which
#       goes first.
#   (b) report_bench: a store whose reports column family holds the aggregate rows that
#       --decisions decisions over 2 years x 20 purposes x 4 channels x 5 jurisdictions x 10 sources
#       leave (rows written directly, not through the write path), then ledger::BuildConsentReport
#       (what GetConsentReport runs) timed on typical queries, in process (no gRPC).
# Writes tools/bench/reports/RESULTS.md.
#   tools/bench/reports/run.sh [--duration 10s] [--warmup 2s] [--rounds 3] [--decisions 10000000]
#                              [--queries 200] [--output FILE] [--smoke]
# --smoke: one short round and 200,000 decisions into a temporary file, printed; fails if any
# request failed. The test suite runs it to check that the harness works (its figures mean
# nothing).
set -euo pipefail
cd "$(dirname "$0")/../../.."
command_line="tools/bench/reports/run.sh${*:+ $*}"
duration=10s warmup=2s rounds=3 decisions=10000000 queries=200 days=730
output=tools/bench/reports/RESULTS.md smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --decisions) decisions="$2"; shift 2 ;;
    --queries) queries="$2"; shift 2 ;;
    --output) output="$2"; shift 2 ;;
    --smoke) smoke=1; duration=1s warmup=1s rounds=1 decisions=200000 queries=20 days=60; shift ;;
    *) echo "usage: $0 [--duration 10s] [--warmup 2s] [--rounds 3] [--decisions N] [--queries N] [--output FILE] [--smoke]" >&2
       exit 2 ;;
  esac
done
if [ -d build ]; then
  cmake --build build -j2 --target consentd assentctl assent_load report_bench >/dev/null
else
  tools/build.sh
fi

work="$(mktemp -d)"
[ "$smoke" = 1 ] && output="$work/RESULTS.md"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
wait_port() {  # FILE LOG
  for _ in $(seq 300); do [ -s "$1" ] && break; sleep 0.1; done
  [ -s "$1" ] || { cat "$2" >&2; exit 1; }
}
start() {  # NAME command...: starts a server writing its address to $work/NAME.port
  local name="$1"
  shift
  "$@" --port-file "$work/$name.port" 2>"$work/$name.log" &
  pids+=($!)
  eval "${name}_pid=$!"
  wait_port "$work/$name.port" "$work/$name.log"
  eval "${name}_addr=$(head -1 "$work/$name.port")"
}
common=(--insecure --listen 127.0.0.1:0 --metrics-listen '' --log-level warn)
start off build/bin/consentd "${common[@]}" --data-dir "$work/off" --reports-enabled false
start on build/bin/consentd "${common[@]}" --data-dir "$work/on" --reports-enabled true

seed() {  # ADDRESS: the tenant and the purpose
  local ctl=(build/bin/assentctl --server "$1" --tenant bench)
  "${ctl[@]}" tenant create bench >/dev/null
  "${ctl[@]}" purpose create marketing.newsletter --kind MARKETING --basis CONSENT \
    --channels EMAIL --notice-version 1 >/dev/null
}
seed "$off_addr"
seed "$on_addr"

runs="$work/runs.jsonl"
: >"$runs"
run() {  # SERVER ROUND assent_load-args...
  local server="$1" round="$2" addr pid line
  shift 2
  eval "addr=\$${server}_addr pid=\$${server}_pid"
  line="$(build/bin/assent_load --target "$addr" --server-pid "$pid" "$@")"
  line="{\"kind\":\"write\",\"server\":\"$server\",\"round\":$round,${line#\{}"
  echo "$line" >&2
  echo "$line" >>"$runs"
}
for round in $(seq "$rounds"); do
  args=(--method record --concurrency 64 --subjects 10000 --duration "$duration"
    --warmup "$warmup")
  if [ $((round % 2)) -eq 1 ]; then
    run off "$round" "${args[@]}"; run on "$round" "${args[@]}"
  else
    run on "$round" "${args[@]}"; run off "$round" "${args[@]}"
  fi
done
# The servers are done: the query benchmark gets the cores to itself.
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
pids=()
build/bin/report_bench --dir "$work/reports-store" --decisions "$decisions" --days "$days" \
  --queries "$queries" | tee -a "$runs" >&2

python3 - "$runs" "$command_line" >"$output" <<'PY'
import json, statistics, subprocess, sys
runs_path, command = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(runs_path)]
sh = lambda c: subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'")
commit = sh("git rev-parse --short HEAD") + (
    " (with uncommitted changes)" if sh("git status --porcelain -- . ':!tools/bench/reports/RESULTS.md'") else "")
med = statistics.median
writes = [r for r in rows if r.get("kind") == "write"]
fill = next(r for r in rows if r.get("kind") == "fill")
queries = [r for r in rows if r.get("kind") == "query"]
by_round = {}
for r in writes:
    by_round.setdefault(r["round"], {})[r["server"]] = r["rps"]
ratios = [v["on"] / v["off"] for v in by_round.values() if v.get("on") and v.get("off")]
out = print
out("# Consent reports: write-path cost and report query time\n")
out(f"Command: `{command}` (regenerates this file).\n")
out(f"Machine: {sh('nproc')} cores, {cpu}; {sh('date -u +%Y-%m-%dT%H:%MZ')}; commit {commit}.\n")
out("**Write path.** Two consentd processes of the same build, each with its own store: "
    "`--reports-enabled true` (every history record also stages its aggregate merge operands "
    "in the same WriteBatch) and `--reports-enabled false`. `assent_load --method record` drives "
    "both the same way: 64 callers, 10,000 subjects round-robin, every write durable (fsync'ed, "
    "group-committed); rounds alternate which server goes first.\n")
out(f"**Queries.** `report_bench` fills a store's reports column family with the aggregate rows "
    f"that {fill['decisions']:,} decisions over {fill['days']} days x {fill['purposes']} purposes x "
    f"{fill['channels']} channels x {fill['jurisdictions']} jurisdictions x {fill['sources']} sources leave ({fill['aggregate_rows']:,} rows, written directly as final "
    "counts, not through the write path; then fully compacted), then times "
    "`ledger::BuildConsentReport`, the function GetConsentReport runs, in process (no gRPC), "
    "after 3 warm-up runs (block cache warm).\n")
out("## Summary\n")
out("| Target | Measured | Result |\n|---|---|---|")
yq = next((q for q in queries if q["name"] == "year_by_day_and_purpose"), None)
mq = next((q for q in queries if q["name"] == "month_by_source"), None)
if yq:
    out(f"| Report over 10 M decisions <= 10 ms (a year by day and purpose) | p50 {yq['p50_us']/1000:.1f} ms, "
        f"p99 {yq['p99_us']/1000:.1f} ms ({yq['rows_read']:,} aggregate rows read) | "
        f"{'MET' if yq['p99_us'] <= 10000 else ('MET at p50' if yq['p50_us'] <= 10000 else 'MISSED')} |")
if mq:
    out(f"| Report over 10 M decisions <= 10 ms (a month by source) | p50 {mq['p50_us']/1000:.2f} ms, "
        f"p99 {mq['p99_us']/1000:.2f} ms ({mq['rows_read']:,} rows read) | "
        f"{'MET' if mq['p99_us'] <= 10000 else 'MISSED'} |")
r = med(ratios) if ratios else 0
out(f"| Write-path cost (durable writes/s, reports on vs off) | on/off = {r:.1%} "
    f"(cost {1 - r:.1%}, median of {len(ratios)} pairs) | measured (no target set) |")
cpu = {s: [x["server_cpu_us_per_req"] for x in writes
           if x["server"] == s and x.get("server_cpu_us_per_req") is not None] for s in ("on", "off")}
if cpu["on"] and cpu["off"]:
    c_on, c_off = med(cpu["on"]), med(cpu["off"])
    out(f"| Write-path CPU (consentd CPU per durable write, reports on vs off) | {c_on:.1f} vs "
        f"{c_off:.1f} us/write (+{c_on / c_off - 1:.1%}, medians) | measured (no target set) |")
out("\n## Queries\n")
out("| query | aggregate rows read | rows returned | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|")
for q in queries:
    out(f"| {q['name']} | {q['rows_read']:,} | {q['rows_out']:,} | {q['p50_us']/1000:.2f} | {q['p99_us']/1000:.2f} |")
out(f"\nFill: {fill['aggregate_rows']:,} aggregate rows in {fill['seconds']:.0f} s.\n")
out("## Every write run\n")
out("| server | round | req/s | errors | p50 us | p99 us | server CPU us/req |")
out("|---|---:|---:|---:|---:|---:|---:|")
for x in writes:
    cpu_us = x['server_cpu_us_per_req'] if x.get('server_cpu_us_per_req') is not None else '-'
    out(f"| reports {x['server']} | {x['round']} | {x['rps']:,.0f} | {x['errors']} | "
        f"{x['p50_us']:,.0f} | {x['p99_us']:,.0f} | {cpu_us} |")
out("""
## Notes

- The load generator and both servers share the machine's 2 cores, and durable-write rounds of
  the same server vary by up to a third between rounds: compare the medians, and rerun with more
  rounds before reading a few percent into them. The query times are in process and stable.
- The write-path cost is real and larger than it should be (a third of durable-write throughput
  on a quiet machine in the run of 2026-12-05 23:02Z; 10-20 % in an earlier run on a loaded
  machine): the source cap's point read per decision runs on the committer thread, and each
  decision adds 6-8 merge operands. Moving the source check off the committer (a cache of the
  day's sources per tenant) and fewer granularities are the next steps.
- Per decision the write path adds 6 merge operands (2-byte values; families u, p, j, s, o, f),
  1-2 for the current counts, and for the first decision of a source on a day two small Puts;
  the source check is one point read per decision on the committer thread.
- The worst case, every dimension grouped over a month, returns every aggregate row (116,159
  rows): its time is the size of the answer, not a scan of decisions.
""")
PY
if [ "$smoke" = 1 ]; then
  cat "$output"
  if grep -q '"errors":[1-9]' "$runs"; then echo "reports bench smoke: requests failed" >&2; exit 1; fi
else
  echo "wrote $output" >&2
fi
