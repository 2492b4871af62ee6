#!/usr/bin/env bash
# Measures consentd against noop_server (the same gRPC server with handlers that return at once)
# under the same load and writes tools/bench/RESULTS.md. Starts both servers on free ports with
# temporary data, seeds consentd with 10,000 granted subjects, then alternates noop and consentd:
#   (a) Check, 64 callers   (f) and (d) Check at fixed rates: a quarter and half the no-op's
#   median Check throughput from (a)   (b) RecordDecisions, 64 callers   (c) RecordDecisions, 256 callers
#   (e) RecordDecisions, 64 callers, with a second consentd publishing its events to a real local
#   Kafka broker (started for it), reporting the outbox backlog left and how long it took to drain
# in that order (all rounds of one before the next).
#   tools/bench/load/run.sh [--duration 10s] [--warmup 2s] [--rounds 3] [--latency-rounds 5]
#                           [--output FILE] [--smoke]
# --latency-rounds: rounds of the fixed-rate scenarios, whose p99 varies more from run to run.
# --smoke: one short round into a temporary file, printed; fails if any request failed. The test
# suite runs it to check that the harness works (its figures mean nothing).
set -euo pipefail
cd "$(dirname "$0")/../../.."
tools/kafka/kafka.sh fetch >/dev/null
command_line="tools/bench/load/run.sh${*:+ $*}"
duration=10s warmup=2s rounds=3 latency_rounds=5 output=tools/bench/RESULTS.md smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --latency-rounds) latency_rounds="$2"; shift 2 ;;
    --output) output="$2"; shift 2 ;;
    --smoke) smoke=1; duration=1s warmup=1s rounds=1 latency_rounds=1; shift ;;
    *) echo "usage: $0 [--duration 10s] [--warmup 2s] [--rounds 3] [--latency-rounds 5]" \
         "[--output FILE] [--smoke]" >&2
       exit 2 ;;
  esac
done
tools/build.sh

work="$(mktemp -d)"
[ "$smoke" = 1 ] && output="$work/RESULTS.md"
cleanup() {
  for pid in ${consentd_pid:-} ${noop_pid:-} ${elsewhere_pid:-}; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  tools/kafka/kafka.sh stop --dir "$work/kafka" >/dev/null 2>&1 || true
  rm -rf "$work"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
trap cleanup EXIT

wait_port() {  # FILE LOG
  for _ in $(seq 300); do [ -s "$1" ] && break; sleep 0.1; done
  [ -s "$1" ] || { cat "$2" >&2; exit 1; }
}
build/bin/consentd --insecure --listen 127.0.0.1:0 --data-dir "$work/data" --port-file "$work/consentd.port" \
  --metrics-listen '' --log-level warn 2>"$work/consentd.log" &
consentd_pid=$!
build/bin/noop_server --listen 127.0.0.1:0 --port-file "$work/noop.port" 2>"$work/noop.log" &
noop_pid=$!
build/bin/noop_server --listen 127.0.0.1:0 --port-file "$work/elsewhere.port" \
  --finish-writes-elsewhere 2>"$work/elsewhere.log" &
elsewhere_pid=$!
wait_port "$work/consentd.port" "$work/consentd.log"
wait_port "$work/noop.port" "$work/noop.log"
wait_port "$work/elsewhere.port" "$work/elsewhere.log"
consentd_addr="$(head -1 "$work/consentd.port")"
noop_addr="$(head -1 "$work/noop.port")"

seed_consentd() {  # ADDRESS: the tenant, the purpose and a GRANTED decision for each subject
  local ctl=(build/bin/assentctl --server "$1" --tenant bench)
  "${ctl[@]}" tenant create bench >/dev/null
  "${ctl[@]}" purpose create marketing.newsletter --kind MARKETING --basis CONSENT --channels EMAIL \
    --notice-version 1 >/dev/null
  seed="$(build/bin/assent_load --target "$1" --method record --concurrency 64 \
    --subjects 10000 --count 10000)"
  echo "seed: $seed" >&2
  [[ "$seed" == *'"errors":0,'* ]] || { echo "seeding failed" >&2; exit 1; }
}
seed_consentd "$consentd_addr"
# consentd's outbox backlog (assent_outbox_pending_records), from its /metrics.
outbox_pending() {
  python3 - "$1" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://{sys.argv[1]}/metrics", timeout=5).read().decode()
print(next(int(float(l.split()[-1])) for l in text.splitlines()
           if l.startswith("assent_outbox_pending_records")))
PY
}
# Waits until the outbox is empty; prints the seconds it took (at most 120).
drain_seconds() {
  local start end
  start="$(date +%s.%N)"
  for _ in $(seq 1200); do [ "$(outbox_pending "$1")" = 0 ] && break; sleep 0.1; done
  end="$(date +%s.%N)"
  python3 -c "print(round($end - $start, 2))"
}

runs="$work/runs.jsonl"
: >"$runs"
run() {  # SCENARIO SERVER ROUND assent_load-args...
  local scenario="$1" server="$2" round="$3" addr pid line
  shift 3
  case "$server" in
    noop) addr="$noop_addr" pid="$noop_pid" ;;
    noop-elsewhere) addr="$(head -1 "$work/elsewhere.port")" pid="$elsewhere_pid" ;;
    *) addr="$consentd_addr" pid="$consentd_pid" ;;
  esac
  # The fixed-rate (latency) scenarios pin the load generator to CPU 0 and the server, every
  # thread of it, to CPU 1, so that the tail measures the server and not the two competing for a
  # core; the throughput scenarios share both cores as before.
  local pin=()
  if { [ "$scenario" = f ] || [ "$scenario" = d ]; } && [ "$(nproc)" -ge 2 ]; then
    taskset -apc 1 "$pid" >/dev/null
    pin=(taskset -c 0)
  fi
  line="$("${pin[@]}" build/bin/assent_load --target "$addr" --server-pid "$pid" --subjects 10000 \
    --duration "$duration" --warmup "$warmup" "$@")"
  [ ${#pin[@]} -eq 0 ] || taskset -apc "0-$(($(nproc) - 1))" "$pid" >/dev/null
  if [ "$scenario" = e ] && [ "$server" = consentd ]; then
    local pending drain
    pending="$(outbox_pending "$metrics_addr")"
    drain="$(drain_seconds "$metrics_addr")"
    line="{\"outbox_pending_after\":$pending,\"drain_seconds\":$drain,${line#\{}"
  fi
  line="{\"scenario\":\"$scenario\",\"server\":\"$server\",\"round\":$round,${line#\{}"
  echo "$line" >&2
  echo "$line" >>"$runs"
}
pair() {  # SCENARIO ROUND args...: noop first in odd rounds, consentd first in even ones
  local scenario="$1" round="$2"
  shift 2
  if [ $((round % 2)) -eq 1 ]; then
    run "$scenario" noop "$round" "$@"; run "$scenario" consentd "$round" "$@"
  else
    run "$scenario" consentd "$round" "$@"; run "$scenario" noop "$round" "$@"
  fi
}
# The read scenarios run first, so that the RocksDB flushes and compactions the write scenarios
# cause do not fall on them (a mix of reads and writes is a different scenario).
for round in $(seq "$rounds"); do
  pair a "$round" --method check --concurrency 64
done
noop_check_rate() {  # FRACTION of the no-op's median Check throughput in (a)
  python3 - "$runs" "$1" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(round(float(sys.argv[2]) * statistics.median(
    r["rps"] for r in rows if r["scenario"] == "a" and r["server"] == "noop")))
PY
}
quarter_rate="$(noop_check_rate 0.25)"
rate="$(noop_check_rate 0.5)"
for round in $(seq "$latency_rounds"); do
  pair f "$round" --method check --rate "$quarter_rate"
done
for round in $(seq "$latency_rounds"); do
  pair d "$round" --method check --rate "$rate"
done
for round in $(seq "$rounds"); do
  pair b "$round" --method record --concurrency 64
  run b noop-elsewhere "$round" --method record --concurrency 64
  pair c "$round" --method record --concurrency 256
done

# (e): the first consentd stops; a second one publishes to a broker started for it.
kill "$consentd_pid" && wait "$consentd_pid" 2>/dev/null || true
kport="$(free_port)" cport="$(free_port)" mport="$(free_port)"
tools/kafka/kafka.sh start --dir "$work/kafka" --port "$kport" --controller-port "$cport" \
  --owner-pid $$ >/dev/null
metrics_addr="127.0.0.1:$mport"
rm -f "$work/consentd.port"
build/bin/consentd --insecure --listen 127.0.0.1:0 --data-dir "$work/data-kafka" --port-file "$work/consentd.port" \
  --metrics-listen "$metrics_addr" --kafka-brokers "127.0.0.1:$kport" --log-level warn \
  2>"$work/consentd-kafka.log" &
consentd_pid=$!
wait_port "$work/consentd.port" "$work/consentd-kafka.log"
consentd_addr="$(head -1 "$work/consentd.port")"
seed_consentd "$consentd_addr"
echo "seed events drained in $(drain_seconds "$metrics_addr") s" >&2
for round in $(seq "$rounds"); do
  pair e "$round" --method record --concurrency 64
done

python3 - "$runs" "$command_line" "$seed" "$rate" "$quarter_rate" >"$output" <<'PY'
import json, statistics, subprocess, sys
runs_path, command, seed, rate, quarter_rate = (sys.argv[1], sys.argv[2], json.loads(sys.argv[3]),
                                                sys.argv[4], sys.argv[5])
rows = [json.loads(l) for l in open(runs_path)]
sh = lambda c: subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'")
# The results file itself is being rewritten, so it does not count as a change.
commit = sh("git rev-parse --short HEAD") + (" (with uncommitted changes)" if sh("git status --porcelain -- . ':!tools/bench/RESULTS.md'") else "")
names = {"a": "Check, 64 callers", "b": "RecordDecisions, 64 callers",
         "c": "RecordDecisions, 256 callers", "d": f"Check at a fixed {rate}/s",
         "f": f"Check at a fixed {quarter_rate}/s",
         "e": "RecordDecisions, 64 callers, events to Kafka"}
def pick(s, server): return [r for r in rows if r["scenario"] == s and r["server"] == server]
def ratios(s):
    by_round = {}
    for r in rows:
        if r["scenario"] == s: by_round.setdefault(r["round"], {})[r["server"]] = r["rps"]
    return [v["consentd"] / v["noop"] for v in by_round.values() if v.get("noop")]
med = statistics.median
out = print
out("# gRPC load: consentd against a no-op server\n")
out(f"Command: `{command}` (regenerates this file).\n")
out(f"Machine: {sh('nproc')} cores, {cpu}; {sh('date -u +%Y-%m-%dT%H:%MZ')}; commit {commit}.\n")
out("**The load generator and both servers share the same cores**, so every number here includes "
    "the client's own CPU competing with the server's; on this machine the results say how "
    "consentd compares with the no-op server under the same handicap, not what either would do "
    "on a dedicated host.\n")
out("`noop_server` is a gRPC server built exactly as consentd builds its own (callback API, the "
    "same `ServerBuilder` settings and 8 MiB receive limit, health checking, reflection, abseil's "
    "mutex deadlock detection turned off) whose "
    "`Check` and `RecordDecisions` return OK at once with an empty response. The load generator is "
    "our own `assent_load` (C++) rather than `ghz`, which costs about three times as much CPU per "
    "request on the client (load/ANALYSIS.md). `assent_load` uses the "
    "callback client API over 4 HTTP/2 connections; closed loop means C calls outstanding, each "
    "completion issuing the next; open loop issues calls on a fixed schedule and measures latency "
    "from the scheduled time. Subjects s0..s9999 are used round-robin. consentd runs with its "
    "defaults: every write is fsync'ed (group commit) before it is acknowledged; RecordDecisions "
    "alternates GRANTED and WITHDRAWN on each pass over the subjects. Before the runs consentd is "
    f"seeded with a GRANTED decision for each of the 10,000 subjects ({seed['rps']:.0f} writes/s at 64 "
    "callers). Scenarios run in the order Check (64 callers), Check at fixed rates (a quarter, "
    "then half the no-op's median throughput in the first; in these the load generator runs on "
    "CPU 0 and the server, all its threads, on CPU 1, so that the tail is the server's and not "
    "the two fighting for a core), then the "
    "writes, so the writes' background flushes and compactions do not fall on the Check runs. "
    "Pairs alternate which server goes first. Server CPU is utime+stime from "
    "/proc/PID/stat over the measured window (10 ms resolution) divided by the requests.\n")
out("## Summary\n")
out("| Target | Measured | Result |\n|---|---|---|")
def line(target, measured, met): out(f"| {target} | {measured} | {'MET' if met else 'MISSED'} |")
ra = med(ratios("a"))
line("Check throughput >= 90 % of no-op (64 callers)", f"{ra:.1%} (median of {len(ratios('a'))} pairs)", ra >= 0.90)
for s, r_ in (("f", quarter_rate), ("d", rate)):
    np99, cp99 = med(r["p99_us"] for r in pick(s, "noop")), med(r["p99_us"] for r in pick(s, "consentd"))
    limit = 1.15 * np99 + 50
    line(f"Check p99 at a fixed {r_}/s <= 1.15 x no-op p99 + 50 us",
         f"consentd {cp99:.0f} us vs limit {limit:.0f} us (no-op {np99:.0f} us)", cp99 <= limit)
rb, rc = med(ratios("b")), med(ratios("c"))
line("Durable write throughput >= 80 % of no-op at 64 callers", f"{rb:.1%}", rb >= 0.80)
line("Durable write throughput >= 90 % of no-op at 256 callers", f"{rc:.1%}", rc >= 0.90)
elsewhere = med(r["rps"] / n["rps"] for r in pick("b", "noop-elsewhere")
               for n in pick("b", "noop") if n["round"] == r["round"])
out(f"| (no target) The no-op server answering RecordDecisions from another thread, as a durable "
    f"write must be answered, 64 callers | {elsewhere:.1%} of the no-op | - |")
re_ = med(ratios("e"))
kafka_runs = pick("e", "consentd")
backlog = max(r["outbox_pending_after"] for r in kafka_runs)
drain = max(r["drain_seconds"] for r in kafka_runs)
out(f"| (no target) Durable write with events published to Kafka, 64 callers | {re_:.1%} of no-op; "
    f"outbox backlog after a run at most {backlog} events, drained within {drain:.1f} s | - |")
short = [r for s, r_ in (("f", quarter_rate), ("d", rate)) for r in pick(s, "consentd") + pick(s, "noop")
         if r["rps"] < 0.97 * float(r_) or r.get("dropped")]
if short:
    out("\nIn the fixed-rate runs some server did not keep up with the schedule (see the rows below); "
        "its p99 then includes queueing.")
out("\n## Every run\n")
out("| Scenario | Round | Server | Requests | Errors | Seconds | Req/s | p50 us | p99 us | p99.9 us | Server CPU us/req |")
out("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    c = r["server_cpu_us_per_req"]
    out(f"| {names[r['scenario']]} | {r['round']} | {r['server']} | {r['requests']} | {r['errors']} | "
        f"{r['seconds']:.1f} | {r['rps']:.0f} | {r['p50_us']:.0f} | {r['p99_us']:.0f} | {r['p999_us']:.0f} | "
        f"{'-' if c is None else f'{c:.1f}'} |")
out("\n## Medians\n")
out("| Scenario | no-op req/s | consentd req/s | ratio | no-op p99 us | consentd p99 us | no-op CPU us/req | consentd CPU us/req |")
out("|---|---|---|---|---|---|---|---|")
for s in "afdbce":
    n, c = pick(s, "noop"), pick(s, "consentd")
    cpu_med = lambda rs: med([r["server_cpu_us_per_req"] for r in rs if r["server_cpu_us_per_req"] is not None] or [0])
    out(f"| {names[s]} | {med(r['rps'] for r in n):.0f} | {med(r['rps'] for r in c):.0f} | {med(ratios(s)):.1%} | "
        f"{med(r['p99_us'] for r in n):.0f} | {med(r['p99_us'] for r in c):.0f} | {cpu_med(n):.1f} | {cpu_med(c):.1f} |")
ew = pick("b", "noop-elsewhere")
out(f"| RecordDecisions, 64 callers: no-op answering from another thread | - | "
    f"{med(r['rps'] for r in ew):.0f} | {elsewhere:.1%} | - | {med(r['p99_us'] for r in ew):.0f} | - | "
    f"{med(r['server_cpu_us_per_req'] or 0 for r in ew):.1f} |")
out("\n*No-op answering from another thread* is `noop_server --finish-writes-elsewhere`: its "
    "RecordDecisions handler queues the call and returns, and a second thread finishes all queued "
    "calls, which is how consentd must answer a write it can acknowledge only after the fsync "
    "(its committer's writer thread). It measures what gRPC alone charges for that; it runs in "
    "every round of (b) right after the pair, in the consentd column.")
out("\nIn (e) a second consentd, seeded like the first, publishes every change to a real Kafka broker "
    "(one node, on the same two cores) through its outbox relay while the load runs; the broker's "
    "CPU is not counted in consentd's. *Backlog* is assent_outbox_pending_records when a run ends, "
    "*drained* the time until it reaches 0 after that.")
out("\nWhy the missed targets are missed (profiles, what was tried, next steps): "
    "[load/ANALYSIS.md](load/ANALYSIS.md).")
PY
if [ "$smoke" = 1 ]; then
  cat "$output"
  python3 - "$runs" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
failed = [r for r in rows if r["errors"] or not r["requests"]]
if failed:
    sys.exit(f"load harness smoke run: {len(failed)} runs had failed requests or none at all")
print(f"load harness smoke run: {len(rows)} runs, no failed requests")
PY
fi
[ "$smoke" = 1 ] || cat "$output"
