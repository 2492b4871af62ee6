#!/usr/bin/env bash
# Restart with many subjects stored: time until consentd serves, and its resident memory, on a
# data directory holding N subjects against the same consentd on a directory holding only the
# catalog (the baseline), alternated over a few rounds. Writes tools/bench/restart/RESULTS.md.
#   tools/bench/restart/run.sh [--subjects 10000000] [--checks 50000] [--rounds 3]
#                              [--block-cache-mb 256] [--write-buffer-mb 32] [--keep DIR]
# The data is seeded in-process through the ledger by restart_seed (see restart_seed.cc for how it
# differs from a server's life: unsynced WAL, emptied outbox, compacted, closed cleanly). The
# seeded directory goes to $ASSENT_BENCH_TMP (default /tmp) and is removed at the end unless
# --keep DIR names where to keep it (a DIR seeded earlier is reused as is, with its own subject
# count, which then overrides --subjects).
# Timing of a start: from just before exec until the gRPC port file exists (listening), and until
# a Check of a seeded subject has been answered by assentctl (its own start-up, ~10 ms, included).
set -euo pipefail
cd "$(dirname "$0")/../../.."
command_line="tools/bench/restart/run.sh${*:+ $*}"
subjects=10000000 checks=50000 rounds=3 cache_mb=256 buffer_mb=32 keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --subjects) subjects="$2"; shift 2 ;;
    --checks) checks="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --block-cache-mb) cache_mb="$2"; shift 2 ;;
    --write-buffer-mb) buffer_mb="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    *) sed -n '5,6p' "$0" >&2; exit 2 ;;
  esac
done
BUILD_DIR="${ASSENT_BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${ASSENT_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build "$BUILD_DIR" --target consentd restart_seed assent_load assentctl -j "$(nproc)"
bin="$BUILD_DIR/bin"

work="$(mktemp -d "${ASSENT_BENCH_TMP:-/tmp}/assent-restart-XXXXXX")"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

full="${keep:-$work/full}"
empty="$work/empty"
if [ ! -e "$full/restart_seed.json" ]; then
  echo "seeding $subjects subjects into $full" >&2
  rm -rf "$full"
  "$bin/restart_seed" --data-dir "$full" --subjects "$subjects" --block-cache-mb "$cache_mb" \
    --write-buffer-mb "$buffer_mb" >"$work/seed.json"
  mv "$work/seed.json" "$full/restart_seed.json"  # RocksDB ignores files it does not know
fi
seed_json="$(cat "$full/restart_seed.json")"
subjects="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["subjects"])' <<<"$seed_json")"
"$bin/restart_seed" --data-dir "$empty" --subjects 0 >/dev/null
echo "seed: $seed_json" >&2

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
rss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

runs="$work/runs.jsonl"
: >"$runs"
start() {  # NAME DIR N ROUND
  local name="$1" dir="$2" n="$3" round="$4" t0 t_port t_check addr rss_start rss_load hwm load
  rm -f "$work/port"
  t0="$(now_ms)"
  "$bin/consentd" --insecure --listen 127.0.0.1:0 --data-dir "$dir" --port-file "$work/port" \
    --metrics-listen '' --log-level warn --store-block-cache-mb "$cache_mb" \
    --store-write-buffer-mb "$buffer_mb" 2>"$work/consentd.log" &
  pid=$!
  until [ -s "$work/port" ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/consentd.log" >&2; exit 1; }
    sleep 0.002
  done
  t_port="$(now_ms)"
  addr="$(head -1 "$work/port")"
  local subject="s$(( n > 0 ? n - 1 : 0 ))" code=0
  for _ in $(seq 1000); do
    code=0
    "$bin/assentctl" --server "$addr" --tenant bench check --subject "$subject" \
      --purpose marketing.newsletter --channel EMAIL >/dev/null 2>&1 || code=$?
    [ "$code" -le 1 ] && break  # 0 ALLOW, 1 DENY: answered
    sleep 0.002
  done
  [ "$code" -le 1 ] || { echo "no Check answered" >&2; exit 1; }
  t_check="$(now_ms)"
  rss_start="$(rss_kb "$pid" VmRSS)"
  load="$("$bin/assent_load" --target "$addr" --method check --concurrency 16 --count "$checks" \
    --subjects "$(( n > 0 ? n : 1 ))" --random-subjects --server-pid "$pid")"
  rss_load="$(rss_kb "$pid" VmRSS)"
  hwm="$(rss_kb "$pid" VmHWM)"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  local line="{\"name\":\"$name\",\"round\":$round,\"subjects\":$n,\"port_ms\":$((t_port - t0)),"
  line+="\"check_ms\":$((t_check - t0)),\"rss_start_kb\":$rss_start,\"rss_load_kb\":$rss_load,"
  line+="\"hwm_kb\":$hwm,\"load\":$load}"
  echo "$line" >&2
  echo "$line" >>"$runs"
}
for round in $(seq "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then
    start empty "$empty" 0 "$round"; start full "$full" "$subjects" "$round"
  else
    start full "$full" "$subjects" "$round"; start empty "$empty" 0 "$round"
  fi
done

python3 - "$runs" "$command_line" "$seed_json" "$cache_mb" "$buffer_mb" "$checks" \
  "$(du -sm "$full" | cut -f1)" "$(du -sm "$empty" | cut -f1)" \
  >tools/bench/restart/RESULTS.md <<'PY'
import json, statistics, subprocess, sys
runs, command, seed, cache_mb, buffer_mb, checks, full_mb, empty_mb = sys.argv[1:9]
rows = [json.loads(l) for l in open(runs)]
seed = json.loads(seed)
cache_mb, buffer_mb, checks = int(cache_mb), int(buffer_mb), int(checks)
sh = lambda c: subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'")
# The results file itself is being rewritten, so it does not count as a change.
commit = sh("git rev-parse --short HEAD") + (" (with uncommitted changes)" if sh("git status --porcelain -- . ':!tools/bench/restart/RESULTS.md'") else "")
med = statistics.median
def m(name, key): return med(r[key] for r in rows if r["name"] == name)
def ml(name, key): return med(r["load"][key] for r in rows if r["name"] == name)
n = next(r["subjects"] for r in rows if r["name"] == "full")
cfs, buffers = 7, 2  # Assent's column families; RocksDB's default max_write_buffer_number
memtable_mb = cfs * buffers * buffer_mb
out = print
out("# Restart with many subjects stored\n")
out(f"Command: `{command}` (regenerates this file).\n")
ram_gb = round(int(sh("awk '/MemTotal/ {print $2}' /proc/meminfo")) / 2**20)
when = sh("date -u +%Y-%m-%dT%H:%MZ")
out(f"Machine: {sh('nproc')} cores, {cpu}, {ram_gb} GiB RAM; {when}; commit {commit}.\n")
seeded = (f"seeded by `restart_seed` in {seed['seed_seconds']:.0f} s, compacted in "
          f"{seed['compact_seconds']:.0f} s; with `--keep` an earlier seed is reused")
out(f"Data: **{n:,} subjects** ({seeded}), {full_mb} MB on disk; baseline: the same consentd on a "
    f"data directory with only the catalog ({empty_mb} MB). consentd runs without Kafka, "
    f"`--store-block-cache-mb {cache_mb} --store-write-buffer-mb {buffer_mb}`. Figures are medians "
    f"of {len(rows) // 2} starts of each, alternated. The OS page cache is warm (the data was just "
    "written or read); nothing drops it between starts.\n")
out("| data dir | port file (ms) | first Check answered (ms) | RSS after start (MiB) | "
    f"RSS after {checks:,} random Checks (MiB) | peak RSS (MiB) | Checks/s (16 callers) |")
out("|---|---:|---:|---:|---:|---:|---:|")
for name, label in (("empty", "catalog only (baseline)"), ("full", f"{n:,} subjects")):
    out(f"| {label} | {m(name, 'port_ms'):.0f} | {m(name, 'check_ms'):.0f} | "
        f"{m(name, 'rss_start_kb') / 1024:.0f} | {m(name, 'rss_load_kb') / 1024:.0f} | "
        f"{m(name, 'hwm_kb') / 1024:.0f} | {ml(name, 'rps'):,.0f} |")
errors = sum(r["load"].get("errors", 0) for r in rows)
ratio_t = m("full", "check_ms") / max(m("empty", "check_ms"), 1)
extra_start = (m("full", "rss_start_kb") - m("empty", "rss_start_kb")) / 1024
extra_load = (m("full", "rss_load_kb") - m("empty", "rss_load_kb")) / 1024
out("")
out(f"- Time until serving, {n:,} subjects vs catalog only: **{m('full', 'check_ms') / 1000:.2f} s** "
    f"vs {m('empty', 'check_ms') / 1000:.2f} s (ratio {ratio_t:.2f}). Target ≤ 5 s: "
    f"**{'met' if m('full', 'check_ms') <= 5000 else 'missed'}**.")
out(f"- Resident memory above the baseline: {extra_start:.0f} MiB after start, {extra_load:.0f} MiB "
    f"after the Checks. Configured bound: block cache {cache_mb} MiB + memtables at most "
    f"{cfs} column families x {buffers} x {buffer_mb} MiB = {memtable_mb} MiB, together "
    f"{cache_mb + memtable_mb} MiB. Target (bounded by configuration, not by the data, "
    f"{full_mb} MB here): **{'met' if extra_load <= cache_mb + memtable_mb else 'missed'}**.")
out(f"- Check errors during the loads: {errors}.")
out("")
out("How the data was made and what is measured: `restart_seed` (beside this script) drives "
    "`Ledger::RecordDecisions` in-process, so subject states and history records are the ones a "
    "server writes; the WAL is not fsync'ed while seeding, the outbox is emptied at the end (as a "
    "relay would have published it) and the database is compacted and closed cleanly, so the "
    "restart replays no WAL (after a crash it would replay at most the unflushed memtables, "
    f"{buffer_mb} MiB per column family). A start is timed from just before exec to the port file "
    "(gRPC listening) and to the first `assentctl check` answered (assentctl's own start-up, about "
    "10 ms, included). Memory after start is the RSS then; the random Checks "
    "(`assent_load --random-subjects`, 16 callers) then pull data blocks into the block cache, "
    "which is what grows the RSS of the run with subjects: random subjects over a data set larger "
    "than the cache touch more distinct blocks than it holds, so it ends full, and the RSS above "
    "the baseline is the cache plus allocator overhead (index and filter blocks are charged to "
    "the same cache: `cache_index_and_filter_blocks`; the memtables stay empty, nothing is "
    "written). "
    "Time until serving does not depend on the number of subjects because opening RocksDB reads "
    "only the manifest and the table files' footers; nothing is loaded into memory at start.")
PY
echo "wrote tools/bench/restart/RESULTS.md"
