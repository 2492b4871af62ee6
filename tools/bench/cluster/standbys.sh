#!/usr/bin/env bash
# Standbys (cluster.standbys, docs/SCALING.md "Standbys"): what each instance keeps on disk with
# one standby per partition against a full replica, and how long a new instance takes to be ready
# and to own partitions either way, on a real 3-broker KRaft cluster on this machine.
#
#   1. three instances with --cluster-standbys 1 are filled with --subjects subjects of
#      --decisions decisions each (RecordDecisions over all three, round-robin subjects);
#   2. each instance's data directory is measured with the partitions it keeps in full
#      (assent_cluster_partitions_kept);
#   3. a fourth instance with --cluster-standbys -1 (a full replica) starts on an empty volume:
#      time until /readyz 200 (the changelog replayed) and its bytes; it is stopped (SIGTERM);
#   4. a fifth with --cluster-standbys 1 starts on an empty volume: time until /readyz 200 (every
#      partition's states), until it owns a partition (it replays those it will own before it
#      joins), and its bytes once its standby partitions are placed and replayed.
#
# Usage: tools/bench/cluster/standbys.sh [--subjects 50000] [--decisions 4]
#                                         [--output FILE] [--smoke]
# Writes tools/bench/cluster/STANDBYS.md unless --output (or --smoke: a few thousand writes,
# results to a temporary file, for CI).
set -euo pipefail
cd "$(dirname "$0")/../../.."
command_line="tools/bench/cluster/standbys.sh $*"

subjects=50000 decisions=4 output=tools/bench/cluster/STANDBYS.md smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --subjects) subjects="$2"; shift 2 ;;
    --decisions) decisions="$2"; shift 2 ;;
    --output) output="$2"; shift 2 ;;
    --smoke) smoke=1 subjects=1000 decisions=2; shift ;;
    *) echo "usage: $0 [--subjects N] [--decisions N] [--output FILE] [--smoke]" >&2; exit 2 ;;
  esac
done

tools/kafka/kafka.sh fetch >/dev/null
tools/build.sh
BIN=build/bin

work="$(mktemp -d)"
[ "$smoke" = 1 ] && output="$work/STANDBYS.md"
# shellcheck source=tools/bench/cluster/common.sh
. tools/bench/cluster/common.sh
now() { date +%s.%N; }
since() { python3 -c "print(round($(now) - $1, 1))"; }
log() { echo "[standbys-bench] $*" >&2; }

start_kafka

# start NAME STANDBYS: a cluster-mode consentd with its own data, gRPC and metrics ports; sets
# addr_NAME, metrics_NAME and pid_NAME.
start() {
  local name="$1" standbys="$2" mport
  mport="$(free_port)"
  rm -f "$work/$name.port"
  "$BIN/consentd" --insecure --listen 127.0.0.1:0 --data-dir "$work/$name" \
    --port-file "$work/$name.port" --metrics-listen "127.0.0.1:$mport" --log-level info \
    --kafka-brokers "$brokers" --kafka-replication-factor 3 \
    --contact-key-secret-file "$work/secret" \
    --cluster --cluster-node-id "$name" --cluster-min-insync-replicas 2 \
    --cluster-session-timeout 3s --cluster-heartbeat-interval 1s \
    --cluster-standbys "$standbys" >"$work/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 600); do [ -s "$work/$name.port" ] && break; sleep 0.1; done
  [ -s "$work/$name.port" ] || { cat "$work/$name.log" >&2; exit 1; }
  printf -v "addr_$name" '%s' "$(head -1 "$work/$name.port")"
  printf -v "metrics_$name" '%s' "127.0.0.1:$mport"
  printf -v "pid_$name" '%s' "$pid"
}
metric() {  # METRICS-ADDRESS NAME: the value of an unlabelled gauge or counter
  # awk reads to the end: leaving early would fail curl's write (exit 23), and with pipefail the
  # caller's assignment under set -e.
  curl -s --max-time 2 "http://$1/metrics" |
    awk -v n="$2" '$1 == n && !found {v = int($2); found = 1} END {if (found) print v}'
}
ready() { [ "$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://$1/readyz")" = 200 ]; }
# until CONDITION-COMMAND... holds, polled every 100 ms for at most SECONDS.
until_true() {  # SECONDS WHAT COMMAND...
  local seconds="$1" what="$2"
  shift 2
  for _ in $(seq $((seconds * 10))); do "$@" && return 0; sleep 0.1; done
  echo "not $what after $seconds s" >&2
  return 1
}
owns() { [ "$(metric "$1" assent_cluster_partitions_owned)" -gt 0 ] 2>/dev/null; }
no_lag() {  # METRICS-ADDRESS...: every one's replica has applied everything
  local m
  for m in "$@"; do [ "$(metric "$m" assent_cluster_replica_lag_records)" = 0 ] || return 1; done
}
# NAME has placed the standbys and keeps in full, replayed, the partitions of its placement.
placed() {
  local line kept m="metrics_$1"
  line="$(grep 'cluster standbys placed' "$work/$1.log" | tail -1)" || return 1
  kept="$(sed -n 's/.*kept_in_full="\([^"]*\)".*/\1/p' <<<"$line" | tr ',' '\n' | grep -c .)"
  [ "$(metric "${!m}" assent_cluster_partitions_kept)" = "$kept" ]
}

log "three instances with --cluster-standbys 1"
for n in n1 n2 n3; do start "$n" 1; done
for n in n1 n2 n3; do m="metrics_$n"; until_true 120 ready ready "${!m}"; done
seed_catalog "$addr_n1"

writes=$((subjects * decisions))
log "filling: $subjects subjects x $decisions decisions"
fill_start="$(now)"
fill="$("$BIN/assent_load" --target "$addr_n1,$addr_n2,$addr_n3" --method record \
  --concurrency 256 --subjects "$subjects" --count "$writes")"
fill_seconds="$(since "$fill_start")"
[[ "$fill" == *'"errors":0,'* ]] || { echo "fill failed: $fill" >&2; exit 1; }
log "fill: $fill_seconds s"
until_true 120 "caught up" no_lag "$metrics_n1" "$metrics_n2" "$metrics_n3"
for n in n1 n2 n3; do until_true 120 placed placed "$n"; done

rows="$work/rows.tsv"
: >"$rows"
row() {  # NAME STANDBYS METRICS READY-S OWNS-S
  local kept bytes addr="addr_$1"
  kept="$(metric "$3" assent_cluster_partitions_kept)"
  # Compacted first (memtables flushed, the WAL gone, merge operands folded): what the instance
  # keeps, not what it has still to compact.
  "$BIN/assentctl" --server "${!addr}" --timeout 600s admin compact >/dev/null
  bytes="$(du -sb "$work/$1" | cut -f1)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$kept" "$bytes" "$4" "$5" >>"$rows"
  log "$1 (standbys $2): keeps $kept partitions in full, $bytes bytes"
}
for n in n1 n2 n3; do m="metrics_$n"; row "$n" 1 "${!m}" - -; done

log "a fourth instance, a full replica, on an empty volume"
start_at="$(now)"
start n4 -1
until_true 3600 ready ready "$metrics_n4"
n4_ready="$(since "$start_at")"
until_true 120 "owning" owns "$metrics_n4"
n4_owns="$(since "$start_at")"
until_true 120 "caught up" no_lag "$metrics_n4"
row n4 -1 "$metrics_n4" "$n4_ready" "$n4_owns"
kill "$pid_n4" && wait "$pid_n4" 2>/dev/null || true

log "a fifth instance, --cluster-standbys 1, on an empty volume"
start_at="$(now)"
start n5 1
until_true 3600 ready ready "$metrics_n5"
n5_ready="$(since "$start_at")"
until_true 600 "owning" owns "$metrics_n5"
n5_owns="$(since "$start_at")"
until_true 600 "caught up" no_lag "$metrics_n5"
until_true 600 placed placed n5
row n5 1 "$metrics_n5" "$n5_ready" "$n5_owns"
changelog_bytes="$(find "$work"/kafka/node-1/data/assent.consentd.changelog.v1-* -name '*.log' \
  -printf '%s\n' | awk '{s += $1} END {print s}')"

python3 - "$rows" "$command_line" "$subjects" "$decisions" "$fill" "$fill_seconds" \
  "$changelog_bytes" >"$output" <<'PY'
import json, subprocess, sys
rows, command, subjects, decisions, fill, fill_seconds, changelog_bytes = sys.argv[1:]
subjects, decisions = int(subjects), int(decisions)
fill = json.loads(fill)
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                        text=True).stdout.strip()
dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                       capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("# Cluster mode: standbys against full replicas\n")
print(f"Command: `{command}` (regenerates this file). Machine: 2 cores, {cpu}; commit {commit}"
      + (" (with uncommitted changes)" if dirty else "") + ".")
print("Everything shares the machine: three Kafka JVMs (a 3-node KRaft cluster, replication 3),")
print("the consentd instances and the load generator. Six partitions.\n")
print(f"Filled through three instances with `cluster.standbys: 1`: {subjects:,} subjects x {decisions} "
      f"decisions ({subjects * decisions:,} RecordDecisions, {fill['rps']:,.0f} writes/s, "
      f"{fill_seconds} s). Then a full replica (n4, `cluster.standbys: -1`) started on an empty volume "
      "and was stopped, then an instance with one standby (n5) on an empty volume. Bytes: the data "
      "directory once the replicas had no lag, after `assentctl admin compact` (memtables flushed, "
      "WAL deleted, every column family fully compacted); ready: `/readyz` 200 (the "
      "changelog as it stood at start replayed: all of it for n4, every partition's states for n5); "
      "owns: the instance owns a partition (n5 first replays in full the partitions it will own, "
      "then joins).\n")
print("| instance | standbys | partitions kept in full | bytes | bytes/subject | ready s | owns s |")
print("|---|---|---|---|---|---|---|")
full = None
for line in open(rows):
    name, standbys, kept, size, ready, owns = line.rstrip("\n").split("\t")
    if standbys == "-1":
        full = int(size)
    print(f"| {name} | {standbys} | {kept} of 6 | {int(size):,} | {int(size) / subjects:,.0f} | {ready} | {owns} |")
print()
print(f"Changelog (one replica of every partition): {int(changelog_bytes):,} bytes, "
      f"{int(changelog_bytes) / subjects:,.0f} bytes/subject.")
if full:
    for line in open(rows):
        name, standbys, kept, size, *_ = line.rstrip("\n").split("\t")
        if standbys != "-1":
            print(f"- {name}: {int(size) / full:.0%} of a full replica's bytes, keeping {kept} of 6 "
                  "partitions in full.")
PY
log "wrote $output"
[ "$smoke" = 1 ] && cat "$output" >&2
exit 0
