#!/usr/bin/env bash
# Bulk import against the service's own durable write rate, measured in the same run:
#   baseline: RecordDecisions with web-form evidence (IP address, user agent, reference), 64
#             callers (assent_load), every write durable (fsync'ed, group-committed);
#   import:   `assentctl import` of a generated CSV file (two decisions per subject, each row with
#             an IP address and a user agent), wall time from start to summary.
# Each round runs both, each against a fresh consentd and store (evidence sealed in both),
# alternating which goes first. Ratio = import rows/s / baseline writes/s.
# Writes tools/bench/import/RESULTS.md.
#   tools/bench/import/run.sh [--rows 1000000] [--duration 10s] [--warmup 2s] [--rounds 2]
#                             [--output FILE] [--smoke]
# --smoke: 20,000 rows, one short round into a temporary file, printed; fails if any request or
# row failed. The test suite runs it to check that the harness works (its figures mean nothing).
set -euo pipefail
cd "$(dirname "$0")/../../.."
command_line="tools/bench/import/run.sh${*:+ $*}"
rows=1000000 duration=10s warmup=2s rounds=2 output=tools/bench/import/RESULTS.md smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --output) output="$2"; shift 2 ;;
    --smoke) smoke=1; rows=20000 duration=2s warmup=1s rounds=1; shift ;;
    *) echo "usage: $0 [--rows N] [--duration 10s] [--warmup 2s] [--rounds 2] [--output FILE] [--smoke]" >&2
       exit 2 ;;
  esac
done
BUILD_DIR="${ASSENT_BUILD_DIR:-build}"
if [ ! -d "$BUILD_DIR" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$(nproc)" --target consentd assentctl assent_load >/dev/null

work="$(mktemp -d)"
[ "$smoke" = 1 ] && output="$work/RESULTS.md"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
tools/link-keyring.sh "$work/evidence-keyring.yaml"

# The file: rows/2 subjects, EMAIL and SMS rows, original times spread over 2020.
python3 - "$work/import.csv" "$rows" <<'PY'
import sys
path, rows = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("subject_id,purpose,channel,state,effective_time,source,ip,user_agent,reference\n")
    for i in range(rows):
        f.write(f"s{i // 2},marketing.newsletter,{'sms' if i % 2 else 'email'},"
                f"{'opt-out' if i % 3 == 0 else 'opt-in'},"
                f"2020-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z,crm-export,"
                f"198.51.{i % 250}.{i % 251},\"Mozilla/5.0 (X11; Linux x86_64), Gecko\",form-{i % 97}\n")
PY

start() {  # NAME: a fresh consentd with its own store; sets $addr and $pid
  local name="$1"
  build/bin/consentd --insecure --listen 127.0.0.1:0 --metrics-listen '' --log-level warn \
    --data-dir "$work/$name.data" --evidence-keyring-file "$work/evidence-keyring.yaml" \
    --port-file "$work/$name.port" 2>"$work/$name.log" &
  pid=$!
  for _ in $(seq 300); do [ -s "$work/$name.port" ] && break; sleep 0.1; done
  [ -s "$work/$name.port" ] || { cat "$work/$name.log" >&2; exit 1; }
  addr="$(head -1 "$work/$name.port")"
  local ctl=(build/bin/assentctl --server "$addr" --tenant bench)
  "${ctl[@]}" tenant create bench >/dev/null
  "${ctl[@]}" purpose create marketing.newsletter --kind MARKETING --basis CONSENT \
    --channels EMAIL,SMS --notice-version 1 >/dev/null
}
stop() {
  kill "$pid" && wait "$pid" 2>/dev/null || true
  pid=""
}

runs="$work/runs.jsonl"
: >"$runs"
baseline() {  # ROUND
  start "baseline$1"
  local line
  line="$(build/bin/assent_load --target "$addr" --tenant bench --method record --evidence \
    --concurrency 64 --subjects 10000 --duration "$duration" --warmup "$warmup" --server-pid "$pid")"
  echo "{\"kind\":\"baseline\",\"round\":$1,${line#\{}" | tee -a "$runs" >&2
  stop
}
import() {  # ROUND
  start "import$1"
  local t0 t1 out status=0
  t0=$(date +%s.%N)
  out="$(build/bin/assentctl --server "$addr" --tenant bench import "$work/import.csv" \
    --rejects "$work/rejects$1.csv" 2>/dev/null)" || status=$?
  t1=$(date +%s.%N)
  echo "$out" >&2
  python3 - "$1" "$t0" "$t1" "$status" "$out" <<'PY' | tee -a "$runs" >&2
import json, re, sys
rnd, t0, t1, status, out = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
m = re.search(r"(\d+) rows read, (\d+) imported, (\d+) already imported, (\d+) rejected", out)
read, imported, already, rejected = map(int, m.groups()) if m else (0, 0, 0, -1)
print(json.dumps({"kind": "import", "round": rnd, "rows": read, "imported": imported,
                  "rejected": rejected, "exit": status, "seconds": t1 - t0,
                  "rps": imported / (t1 - t0)}))
PY
  stop
}
for round in $(seq "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then baseline "$round"; import "$round"; else import "$round"; baseline "$round"; fi
done

python3 - "$runs" "$command_line" "$rows" >"$output" <<'PY'
import json, statistics, subprocess, sys
runs_path, command, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
runs = [json.loads(l) for l in open(runs_path)]
sh = lambda c: subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'")
commit = sh("git rev-parse --short HEAD") + (
    " (with uncommitted changes)" if sh("git status --porcelain -- . ':!tools/bench/import/RESULTS.md'") else "")
by_round = {}
for r in runs:
    by_round.setdefault(r["round"], {})[r["kind"]] = r
ratios = [v["import"]["rps"] / v["baseline"]["rps"] for v in by_round.values()
          if "import" in v and "baseline" in v and v["baseline"]["rps"] > 0]
out = print
out("# Bulk import against the durable write rate\n")
out(f"Command: `{command}` (regenerates this file).\n")
out(f"Machine: {sh('nproc')} cores, {cpu}; {sh('date -u +%Y-%m-%dT%H:%MZ')}; commit {commit}.\n")
out(f"Each round: a fresh consentd (evidence keyring: identifying evidence sealed; --insecure "
    f"plaintext gRPC, the transport is not what is measured) for each side. Baseline: "
    f"`assent_load --method record --evidence --concurrency 64 --subjects 10000`, every write "
    f"durable (fsync'ed, group-committed). Import: `assentctl import` of a generated CSV of "
    f"{rows:,} rows ({rows // 2:,} subjects, EMAIL and SMS rows, each with an IP address, a user "
    f"agent and a reference), wall time from start to the summary, rows per second = rows "
    f"imported / that time. Ratio = import rows/s / baseline writes/s of the same round.\n")
out("## Summary\n")
out("| Target | Measured | Result |\n|---|---|---|")
r = statistics.median(ratios) if ratios else 0
out(f"| Import >= 70 % of the durable write rate | {r:.0%} (median of {len(ratios)} rounds) | "
    f"{'MET' if r >= 0.70 else 'MISSED'} |")
out("\n## Every run\n")
out("| round | side | rows or requests | seconds | per second | errors / rejected | p99 us |")
out("|---:|---|---:|---:|---:|---:|---:|")
for x in runs:
    if x["kind"] == "baseline":
        out(f"| {x['round']} | RecordDecisions, 64 callers | {x['requests']:,} | {x['seconds']:.1f} | "
            f"{x['rps']:,.0f} | {x['errors']} | {x['p99_us']:,.0f} |")
    else:
        out(f"| {x['round']} | assentctl import | {x['imported']:,} | {x['seconds']:.1f} | "
            f"{x['rps']:,.0f} | {x['rejected']} | - |")
PY
if [ "$smoke" = 1 ]; then
  cat "$output"
  if grep -q '"errors":[1-9]' "$runs"; then echo "import bench smoke: requests failed" >&2; exit 1; fi
  python3 - "$runs" "$rows" <<'PY' || { echo "import bench smoke: rows failed" >&2; exit 1; }
import json, sys
rows = int(sys.argv[2])
for r in map(json.loads, open(sys.argv[1])):
    if r["kind"] == "import" and (r["imported"] != rows or r["rejected"] != 0 or r["exit"] != 0):
        sys.exit(1)
PY
else
  echo "wrote $output" >&2
fi
