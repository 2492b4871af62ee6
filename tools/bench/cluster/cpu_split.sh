#!/usr/bin/env bash
# Where the CPU goes in cluster mode: a 3-node KRaft Kafka cluster and three --cluster consentd
# instances started here (own ports, temporary data); per-process CPU (utime + stime from
# /proc/PID/stat) over 8 s idle, then (after 60 s of load that warms up the brokers' JIT: they run
# the full JIT, common.sh) over 8 s of RecordDecisions load from assent_load at each caller count,
# spread over the three instances. Prints a markdown table (docs/SCALING.md, "Capacity", quotes
# it).
#
#   tools/bench/cluster/cpu_split.sh [--callers "64 256"]
set -euo pipefail
cd "$(dirname "$0")/../../.."
callers_list="64 256"
while [ $# -gt 0 ]; do
  case "$1" in
    --callers) callers_list="$2"; shift 2 ;;
    *) echo "usage: $0 [--callers \"64 256\"]" >&2; exit 2 ;;
  esac
done
tools/kafka/kafka.sh fetch >/dev/null
tools/build.sh >/dev/null
BIN=build/bin
work="$(mktemp -d)"
# shellcheck source=tools/bench/cluster/common.sh
. tools/bench/cluster/common.sh
start_kafka "$FULL_JIT_JVM_OPTS"
addrs=() metrics=()
for n in 1 2 3; do
  mport="$(free_port)"
  "$BIN/consentd" --insecure --listen 127.0.0.1:0 --data-dir "$work/n$n" \
    --port-file "$work/n$n.port" --metrics-listen "127.0.0.1:$mport" --log-level warn \
    --kafka-brokers "$brokers" --kafka-replication-factor 3 \
    --contact-key-secret-file "$work/secret" --cluster --cluster-node-id "n$n" \
    --cluster-min-insync-replicas 2 --cluster-session-timeout 3s \
    --cluster-heartbeat-interval 1s 2>"$work/n$n.log" &
  pids+=("$!")
  for _ in $(seq 600); do [ -s "$work/n$n.port" ] && break; sleep 0.1; done
  [ -s "$work/n$n.port" ] || { cat "$work/n$n.log" >&2; exit 1; }
  addrs+=("$(head -1 "$work/n$n.port")")
  metrics+=("127.0.0.1:$mport")
done
for m in "${metrics[@]}"; do
  for _ in $(seq 1200); do
    [ "$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://$m/readyz")" = 200 ] && break
    sleep 0.1
  done
done
seed_catalog "${addrs[0]}"
sleep 3
brokers_pids="$(pgrep -f "kafka.Kafka $work/kafka" | tr '\n' ' ')"
# CPU seconds (utime + stime) of each process, in clock ticks: "pid ticks" lines.
snap() { for p in $brokers_pids "${pids[@]}"; do echo "$p $(awk '{print $14 + $15}' "/proc/$p/stat")"; done; }
hz="$(getconf CLK_TCK)"
# Percent of one core per process over $1 seconds (both snapshots list the processes in one
# order): kafka-1..3 consentd-1..3 total.
measure() {
  snap >"$work/cpu0"; sleep "$1"; snap >"$work/cpu1"
  paste -d ' ' "$work/cpu0" "$work/cpu1" | awk -v hz="$hz" -v s="$1" \
    '{p = ($4 - $2) * 100 / hz / s; printf "%.0f %% | ", p; t += p} END {printf "%.0f %%", t}'
}
echo "| load | writes/s | kafka-1 | kafka-2 | kafka-3 | consentd-1 | consentd-2 | consentd-3 | total |"
echo "|---|---|---|---|---|---|---|---|---|"
echo "| idle | 0 | $(measure 8) |"
targets="$(IFS=,; echo "${addrs[*]}")"
warm_up_brokers 60 "$targets"
for c in $callers_list; do
  "$BIN/assent_load" --target "$targets" --method record --concurrency "$c" --subjects 10000 \
    --duration 12s --warmup 2s >"$work/load.json" &
  load=$!
  sleep 4
  row="$(measure 8)"
  wait "$load"
  rps="$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["rps"]))' "$work/load.json")"
  echo "| $c callers | $rps | $row |"
done
