#!/usr/bin/env bash
# Measures write-acknowledged -> event-consumed latency over a real local Kafka broker, next to a
# bare producer -> consumer pipe through the same broker, and writes EVENT_LATENCY.md beside this
# script. Starts its own broker and consentd on free ports with temporary data, stops them after.
#   tools/bench/event_latency.sh [--writes 10000] [--warmup 2000] [--rounds 2] [--concurrency 4]
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/bootstrap.sh
tools/build.sh
tools/kafka/kafka.sh fetch

work="$(mktemp -d)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kport="$(free_port)"; cport="$(free_port)"
cleanup() {
  [ -n "${consentd_pid:-}" ] && kill "$consentd_pid" 2>/dev/null && wait "$consentd_pid" 2>/dev/null || true
  tools/kafka/kafka.sh stop --dir "$work/kafka" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

tools/kafka/kafka.sh start --dir "$work/kafka" --port "$kport" --controller-port "$cport" --owner-pid $$
build/bin/consentd --insecure --listen 127.0.0.1:0 --data-dir "$work/consentd" --port-file "$work/port" \
  --kafka-brokers "127.0.0.1:$kport" --metrics-listen "" --log-level warn 2>"$work/consentd.log" &
consentd_pid=$!
for _ in $(seq 300); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/consentd.log"; exit 1; }

table="$(build/bin/event_latency --consentd "$(head -1 "$work/port")" --brokers "127.0.0.1:$kport" "$@")"
echo "$table"
{
  echo "# Event latency: write acknowledged -> event consumed"
  echo
  echo "Command: \`tools/bench/event_latency.sh $*\` (regenerates this file)."
  echo
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
  echo "$(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%Y-%m-%dT%H:%MZ); commit $(git rev-parse --short HEAD)."
  echo
  echo "Each write is a \`RecordDecisions\` over gRPC (fsync'ed, group-committed); its latency runs"
  echo "from the client receiving the acknowledgement to a consumer on the changes topic receiving"
  echo "the event. The baseline is a bare librdkafka producer -> consumer pipe through the same"
  echo "broker with the relay's producer settings (idempotent, acks=all, linger.ms=1, lz4), timed"
  echo "from the produce call. Rounds alternate baseline and Assent; writers are closed loops. The"
  echo "\"of which\" rows split Assent's latency at the record's Kafka timestamp (when the relay"
  echo "handed it to the producer; wall clock, 1 ms resolution). Both paths first get the same"
  echo "warm-up, shown apart: a freshly started broker is slow for its first few thousand records."
  echo
  echo "$table"
} > tools/bench/EVENT_LATENCY.md
