#!/usr/bin/env bash
# Measures what transport security costs: consentd over mTLS (with an authorization policy, as
# tools/run.sh and deploy/ run it) against the same consentd build over plaintext (--insecure, no
# policy), with the same load generator (assent_load, connections reused as real clients do), and
# noop_server both ways for reference. Writes tools/bench/tls/RESULTS.md.
#   (a) Check, 64 callers   (b) RecordDecisions (durable, fsync'ed), 64 callers
# Each round runs plaintext and mTLS back to back (alternating which goes first).
#   tools/bench/tls/run.sh [--duration 10s] [--warmup 2s] [--rounds 3] [--output FILE] [--smoke]
# --smoke: one short round into a temporary file, printed; fails if any request failed. The test
# suite runs it to check that the harness works (its figures mean nothing).
set -euo pipefail
cd "$(dirname "$0")/../../.."
command_line="tools/bench/tls/run.sh${*:+ $*}"
duration=10s warmup=2s rounds=3 output=tools/bench/tls/RESULTS.md smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --output) output="$2"; shift 2 ;;
    --smoke) smoke=1; duration=1s warmup=1s rounds=1; shift ;;
    *) echo "usage: $0 [--duration 10s] [--warmup 2s] [--rounds 3] [--output FILE] [--smoke]" >&2
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

# A CA, consentd's certificate and the load generator's client certificate
# (spiffe://assent.local/load, as tools/pki.sh makes it).
tools/pki.sh "$work/pki" >/dev/null
pki="$work/pki"
cat >"$work/policy.yaml" <<'EOF'
principals:
  - id: spiffe://assent.local/load
    tenants: [bench]
    permissions: [admin, catalog.admin, catalog.read, consent.write, consent.check]
EOF
tls_server=(--tls-cert "$pki/server.pem" --tls-key "$pki/server-key.pem" --tls-ca "$pki/ca.pem")
tls_client=(--tls-ca "$pki/ca.pem" --tls-cert "$pki/load.pem" --tls-key "$pki/load-key.pem")

start() {  # NAME command...: starts a server writing its address to $work/NAME.port
  local name="$1"
  shift
  "$@" --port-file "$work/$name.port" 2>"$work/$name.log" &
  pids+=($!)
  eval "${name}_pid=$!"
  wait_port "$work/$name.port" "$work/$name.log"
  eval "${name}_addr=$(head -1 "$work/$name.port")"
}
start consentd_plain build/bin/consentd --insecure --listen 127.0.0.1:0 --data-dir "$work/plain" \
  --metrics-listen '' --log-level warn
start consentd_mtls build/bin/consentd "${tls_server[@]}" --auth-policy-file "$work/policy.yaml" \
  --listen 127.0.0.1:0 --data-dir "$work/mtls" --metrics-listen '' --log-level warn
start noop_plain build/bin/noop_server --listen 127.0.0.1:0
start noop_mtls build/bin/noop_server "${tls_server[@]}" --listen 127.0.0.1:0

seed() {  # ADDRESS [tls flags...]: the tenant, the purpose and a GRANTED decision per subject
  local addr="$1"
  shift
  local ctl=(build/bin/assentctl --server "$addr" --tenant bench "$@")
  "${ctl[@]}" tenant create bench >/dev/null
  "${ctl[@]}" purpose create marketing.newsletter --kind MARKETING --basis CONSENT \
    --channels EMAIL --notice-version 1 >/dev/null
  local line
  line="$(build/bin/assent_load --target "$addr" --method record --concurrency 64 \
    --subjects 10000 --count 10000 "$@")"
  [[ "$line" == *'"errors":0,'* ]] || { echo "seeding $addr failed: $line" >&2; exit 1; }
}
seed "$consentd_plain_addr"
seed "$consentd_mtls_addr" "${tls_client[@]}"

runs="$work/runs.jsonl"
: >"$runs"
run() {  # SCENARIO SERVER TRANSPORT ROUND assent_load-args...
  local scenario="$1" server="$2" transport="$3" round="$4" addr pid line
  shift 4
  eval "addr=\$${server}_${transport}_addr pid=\$${server}_${transport}_pid"
  local tls=()
  [ "$transport" = mtls ] && tls=("${tls_client[@]}")
  line="$(build/bin/assent_load --target "$addr" --server-pid "$pid" --subjects 10000 \
    --duration "$duration" --warmup "$warmup" "${tls[@]}" "$@")"
  line="{\"scenario\":\"$scenario\",\"server\":\"$server\",\"transport\":\"$transport\",\"round\":$round,${line#\{}"
  echo "$line" >&2
  echo "$line" >>"$runs"
}
pair() {  # SCENARIO SERVER ROUND args...: plaintext first in odd rounds, mTLS first in even ones
  local scenario="$1" server="$2" round="$3"
  shift 3
  if [ $((round % 2)) -eq 1 ]; then
    run "$scenario" "$server" plain "$round" "$@"; run "$scenario" "$server" mtls "$round" "$@"
  else
    run "$scenario" "$server" mtls "$round" "$@"; run "$scenario" "$server" plain "$round" "$@"
  fi
}
for round in $(seq "$rounds"); do
  pair a consentd "$round" --method check --concurrency 64
  pair a noop "$round" --method check --concurrency 64
done
for round in $(seq "$rounds"); do
  pair b consentd "$round" --method record --concurrency 64
done

python3 - "$runs" "$command_line" >"$output" <<'PY'
import json, statistics, subprocess, sys
runs_path, command = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(runs_path)]
sh = lambda c: subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'")
commit = sh("git rev-parse --short HEAD") + (
    " (with uncommitted changes)" if sh("git status --porcelain -- . ':!tools/bench/tls/RESULTS.md'") else "")
med = statistics.median
def pick(s, server, transport):
    return [r for r in rows if r["scenario"] == s and r["server"] == server and r["transport"] == transport]
def ratios(s, server):
    by_round = {}
    for r in rows:
        if r["scenario"] == s and r["server"] == server:
            by_round.setdefault(r["round"], {})[r["transport"]] = r["rps"]
    return [v["mtls"] / v["plain"] for v in by_round.values() if v.get("plain") and v.get("mtls")]
out = print
out("# What mTLS costs: consentd over mTLS against plaintext\n")
out(f"Command: `{command}` (regenerates this file).\n")
out(f"Machine: {sh('nproc')} cores, {cpu}; {sh('date -u +%Y-%m-%dT%H:%MZ')}; commit {commit}.\n")
out("Two consentd processes of the same build, each with its own store seeded with a GRANTED "
    "decision for 10,000 subjects: one plaintext (`--insecure`, no policy), one with mTLS "
    "(`--tls-cert/--tls-key/--tls-ca`, client certificates required) and an authorization policy "
    "(`--auth-policy-file`), so every call of the second is also authenticated from its "
    "certificate and authorized. `assent_load` drives both the same way over 4 HTTP/2 connections "
    "that it keeps for the whole run (real clients reuse connections; the TLS handshakes happen "
    "in the warm-up). `noop_server` (handlers that return at once) is measured both ways too, as "
    "the cost of TLS alone. The load generator and the servers share the machine's cores. Server "
    "CPU is utime+stime over the measured window divided by the requests.\n")
out("## Summary\n")
out("| Target | Measured | Result |\n|---|---|---|")
def line(target, measured, met):
    out(f"| {target} | {measured} | {'MET' if met else 'MISSED'} |")
ra, rb = ratios("a", "consentd"), ratios("b", "consentd")
line("Check throughput over mTLS >= 85 % of plaintext (64 callers)",
     f"{med(ra):.1%} (median of {len(ra)} pairs)", med(ra) >= 0.85)
line("Durable write throughput over mTLS >= 85 % of plaintext (64 callers)",
     f"{med(rb):.1%} (median of {len(rb)} pairs)", med(rb) >= 0.85)
rn = ratios("a", "noop")
out(f"| (no target) no-op server, Check over mTLS vs plaintext | {med(rn):.1%} | - |")
out("\nThe authorization decision itself is measured in `tools/bench/micro/RESULTS.md` "
    "(target <= 1 us median).\n")
out("## Medians\n")
out("| scenario | server | transport | req/s | p50 us | p99 us | server CPU us/req |")
out("|---|---|---|---:|---:|---:|---:|")
names = {"a": "Check, 64 callers", "b": "RecordDecisions, 64 callers"}
for s, server in (("a", "consentd"), ("a", "noop"), ("b", "consentd")):
    for t in ("plain", "mtls"):
        rs = pick(s, server, t)
        if not rs:
            continue
        cpus = [r["server_cpu_us_per_req"] for r in rs if r["server_cpu_us_per_req"] is not None]
        out(f"| {names[s]} | {server} | {t} | {med(r['rps'] for r in rs):,.0f} | "
            f"{med(r['p50_us'] for r in rs):,.0f} | {med(r['p99_us'] for r in rs):,.0f} | "
            f"{med(cpus) if cpus else '-'} |")
out("\n## Where the difference goes (profile)\n")
out(open("tools/bench/tls/PROFILE.md").read().split("\n", 2)[2].rstrip())
out("\n## Every run\n")
out("| scenario | server | transport | round | req/s | errors | p50 us | p99 us |")
out("|---|---|---|---:|---:|---:|---:|---:|")
for r in rows:
    out(f"| {r['scenario']} | {r['server']} | {r['transport']} | {r['round']} | {r['rps']:,.0f} | "
        f"{r['errors']} | {r['p50_us']:,.0f} | {r['p99_us']:,.0f} |")
PY
if [ "$smoke" = 1 ]; then
  cat "$output"
  if grep -q '"errors":[1-9]' "$runs"; then echo "tls bench smoke: requests failed" >&2; exit 1; fi
else
  echo "wrote $output" >&2
fi
