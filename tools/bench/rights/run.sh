#!/usr/bin/env bash
# Measures what subject rights cost on the durable write path, and how fast erasure goes:
#   (a) RecordDecisions with web-form evidence (IP address, user agent, reference), 64 callers,
#       durable (fsync'ed, group-committed): consentd sealing the evidence per subject (evidence
#       keyring) and signing receipts (receipt keyring, when this build has receipts) against the
#       same build without either (--insecure in both: the transport is not what is measured).
#       Each round runs both back to back, alternating which goes first.
#   (b) EraseSubject, 64 callers, over subjects recorded with evidence: erasures per second.
# Writes tools/bench/rights/RESULTS.md.
#   tools/bench/rights/run.sh [--duration 10s] [--warmup 2s] [--rounds 3] [--erasures 20000]
#                             [--without-receipts] [--output FILE] [--smoke]
# --without-receipts: the sealed consentd signs no receipts (the cost of sealing alone).
# --smoke: one short round into a temporary file, printed; fails if any request failed. The test
# suite runs it to check that the harness works (its figures mean nothing).
set -euo pipefail
cd "$(dirname "$0")/../../.."
command_line="tools/bench/rights/run.sh${*:+ $*}"
duration=10s warmup=2s rounds=3 erasures=20000 output=tools/bench/rights/RESULTS.md smoke=0
receipts=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --erasures) erasures="$2"; shift 2 ;;
    --output) output="$2"; shift 2 ;;
    --without-receipts) receipts=0; shift ;;
    --smoke) smoke=1; duration=1s warmup=1s rounds=1 erasures=500; shift ;;
    *) echo "usage: $0 [--duration 10s] [--warmup 2s] [--rounds 3] [--erasures N] [--output FILE] [--smoke]" >&2
       exit 2 ;;
  esac
done
tools/build.sh

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
tools/link-keyring.sh "$work/evidence-keyring.yaml"
sealed_flags=(--evidence-keyring-file "$work/evidence-keyring.yaml"
  --erasure-log-file "$work/erasure.log")
# Receipts are signed when this build's consentd takes a receipt keyring.
if [ "$receipts" = 1 ] && build/bin/consentd --help 2>&1 | grep -q -- '--receipts-keyring-file'; then
  tools/receipt-keyring.sh "$work/receipt-keyring.yaml" >/dev/null
  sealed_flags+=(--receipts-keyring-file "$work/receipt-keyring.yaml")
  signing="evidence sealed and receipts signed"
else
  signing="evidence sealed (no receipts signed)"
fi

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
start plain build/bin/consentd "${common[@]}" --data-dir "$work/plain"
start sealed build/bin/consentd "${common[@]}" --data-dir "$work/sealed" "${sealed_flags[@]}"

seed() {  # ADDRESS: the tenant and the purpose
  local ctl=(build/bin/assentctl --server "$1" --tenant bench)
  "${ctl[@]}" tenant create bench >/dev/null
  "${ctl[@]}" purpose create marketing.newsletter --kind MARKETING --basis CONSENT \
    --channels EMAIL --notice-version 1 >/dev/null
}
seed "$plain_addr"
seed "$sealed_addr"

runs="$work/runs.jsonl"
: >"$runs"
run() {  # SCENARIO SERVER ROUND assent_load-args...
  local scenario="$1" server="$2" round="$3" addr pid line
  shift 3
  eval "addr=\$${server}_addr pid=\$${server}_pid"
  line="$(build/bin/assent_load --target "$addr" --server-pid "$pid" "$@")"
  line="{\"scenario\":\"$scenario\",\"server\":\"$server\",\"round\":$round,${line#\{}"
  echo "$line" >&2
  echo "$line" >>"$runs"
}
for round in $(seq "$rounds"); do
  args=(--method record --evidence --concurrency 64 --subjects 10000 --duration "$duration"
    --warmup "$warmup")
  if [ $((round % 2)) -eq 1 ]; then
    run a plain "$round" "${args[@]}"; run a sealed "$round" "${args[@]}"
  else
    run a sealed "$round" "${args[@]}"; run a plain "$round" "${args[@]}"
  fi
done
# Erasure: fresh subjects e0..e<N-1> (a tenant of their own), each recorded with evidence, then
# each erased once.
build/bin/assentctl --server "$sealed_addr" --tenant erase tenant create erase >/dev/null
build/bin/assentctl --server "$sealed_addr" --tenant erase purpose create marketing.newsletter \
  --kind MARKETING --basis CONSENT --channels EMAIL --notice-version 1 >/dev/null
line="$(build/bin/assent_load --target "$sealed_addr" --tenant erase --method record --evidence \
  --concurrency 64 --subjects "$erasures" --count "$erasures")"
[[ "$line" == *'"errors":0,'* ]] || { echo "seeding erasures failed: $line" >&2; exit 1; }
run b sealed 1 --tenant erase --method erase --concurrency 64 --subjects "$erasures" \
  --count "$erasures"

python3 - "$runs" "$command_line" "$signing" "$erasures" >"$output" <<'PY'
import json, statistics, subprocess, sys
runs_path, command, signing, erasures = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = [json.loads(l) for l in open(runs_path)]
sh = lambda c: subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'")
commit = sh("git rev-parse --short HEAD") + (
    " (with uncommitted changes)" if sh("git status --porcelain -- . ':!tools/bench/rights/RESULTS.md'") else "")
med = statistics.median
by_round = {}
for r in rows:
    if r["scenario"] == "a":
        by_round.setdefault(r["round"], {})[r["server"]] = r["rps"]
ratios = [v["sealed"] / v["plain"] for v in by_round.values() if v.get("plain") and v.get("sealed")]
erase = [r for r in rows if r["scenario"] == "b"]
out = print
out("# What subject rights cost on the durable write path, and erasures per second\n")
out(f"Command: `{command}` (regenerates this file).\n")
out(f"Machine: {sh('nproc')} cores, {cpu}; {sh('date -u +%Y-%m-%dT%H:%MZ')}; commit {commit}.\n")
out("Two consentd processes of the same build, each with its own store: one without an "
    f"evidence keyring or receipt keyring (evidence stored as given, no receipts), one with "
    f"{signing}. `assent_load --method record --evidence` drives both the same way: 64 callers "
    "over 4 HTTP/2 connections, 10,000 subjects round-robin, every RecordDecisions carrying an IP "
    "address, a browser user agent and a form reference (what a web sign-up records), every write "
    "durable (fsync'ed, group-committed). Erasure: subjects recorded with evidence, each erased "
    "once by `--method erase` at 64 callers (erasure log on, fsync'ed per group).\n")
out("## Summary\n")
out("| Target | Measured | Result |\n|---|---|---|")
r = med(ratios) if ratios else 0
out(f"| Sealing + signing cost <= 15 % of durable-write throughput | {1 - r:.1%} "
    f"(sealed/plain = {r:.1%}, median of {len(ratios)} pairs) | {'MET' if 1 - r <= 0.15 else 'MISSED'} |")
e = erase[0]["rps"] if erase else 0
out(f"| >= 1,000 erasures per second | {e:,.0f}/s ({erasures:,} subjects, "
    f"p99 {erase[0]['p99_us'] / 1000 if erase else 0:,.1f} ms) | {'MET' if e >= 1000 else 'MISSED'} |")
out("\n## Every run\n")
out("| scenario | server | round | req/s | errors | p50 us | p99 us | server CPU us/req |")
out("|---|---|---:|---:|---:|---:|---:|---:|")
names = {"a": "RecordDecisions + evidence", "b": "EraseSubject"}
for x in rows:
    out(f"| {names[x['scenario']]} | {x['server']} | {x['round']} | {x['rps']:,.0f} | {x['errors']} | "
        f"{x['p50_us']:,.0f} | {x['p99_us']:,.0f} | {x['server_cpu_us_per_req'] if x['server_cpu_us_per_req'] is not None else '-'} |")
PY
if [ "$smoke" = 1 ]; then
  cat "$output"
  if grep -q '"errors":[1-9]' "$runs"; then echo "rights bench smoke: requests failed" >&2; exit 1; fi
else
  echo "wrote $output" >&2
fi
