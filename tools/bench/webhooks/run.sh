#!/usr/bin/env bash
# Does webhook delivery keep up with the changes topic at consentd's durable write rate?
# One Kafka broker, one consentd (durable writes, relay to Kafka), the webhook forwarder with one
# endpoint (max_in_flight 16) and a local receiver (webhook_bench_receiver, answers 204). assent_load
# drives RecordDecisions at 64 callers over 10,000 subjects for --duration; every write is one
# ConsentChanged on the changes topic and one webhook. Measured in the same run: the durable write
# rate (= the event rate), the receiver's deliveries per second while the load ran, how long the
# backlog took to drain after it stopped, and delivery latency (the event's recorded_time to its
# arrival at the receiver) p50/p99. Writes tools/bench/webhooks/RESULTS.md.
#   tools/bench/webhooks/run.sh [--duration 10s] [--in-flight 16] [--output FILE] [--smoke]
# --smoke: a 2-second run into a temporary file, printed; fails unless every write was delivered.
set -euo pipefail
cd "$(dirname "$0")/../../.."
command_line="tools/bench/webhooks/run.sh${*:+ $*}"
duration=10s in_flight=16 output=tools/bench/webhooks/RESULTS.md smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --in-flight) in_flight="$2"; shift 2 ;;
    --output) output="$2"; shift 2 ;;
    --smoke) smoke=1; duration=2s; shift ;;
    *) echo "usage: $0 [--duration 10s] [--in-flight 16] [--output FILE] [--smoke]" >&2; exit 2 ;;
  esac
done
BUILD_DIR="${ASSENT_BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -G Ninja >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target consentd assentctl assent_load webhook_forwarder \
  webhook_bench_receiver >/dev/null
bin="$BUILD_DIR/bin"

work="$(mktemp -d)"
[ "$smoke" = 1 ] && output="$work/RESULTS.md"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  tools/kafka/kafka.sh stop --dir "$work/kafka" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
wait_file() {  # FILE LOG
  for _ in $(seq 600); do [ -s "$1" ] && break; sleep 0.1; done
  [ -s "$1" ] || { cat "$2" >&2; exit 1; }
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

kafka_port="$(free_port)"
tools/kafka/kafka.sh start --dir "$work/kafka" --port "$kafka_port" \
  --controller-port "$(free_port)" --owner-pid $$ >"$work/kafka.out" 2>&1 \
  || { cat "$work/kafka.out" >&2; exit 1; }
brokers="127.0.0.1:$kafka_port"

"$bin/consentd" --insecure --listen 127.0.0.1:0 --metrics-listen '' --log-level warn \
  --data-dir "$work/consentd" --kafka-brokers "$brokers" --port-file "$work/consentd.port" \
  2>"$work/consentd.log" &
pids+=($!)
consentd_pid=$!
wait_file "$work/consentd.port" "$work/consentd.log"
consentd="$(head -1 "$work/consentd.port")"
ctl=("$bin/assentctl" --server "$consentd" --tenant bench)
"${ctl[@]}" tenant create bench >/dev/null
"${ctl[@]}" purpose create marketing.newsletter --kind MARKETING --basis CONSENT \
  --channels EMAIL --notice-version 1 >/dev/null

"$bin/webhook_bench_receiver" "$work/receiver.port" "$work/arrivals.txt" &
receiver_pid=$!
pids+=($receiver_pid)
wait_file "$work/receiver.port" /dev/null
receiver="$(head -1 "$work/receiver.port")"

echo "whsec_$(openssl rand -base64 32)" >"$work/bench.secret"
chmod 600 "$work/bench.secret"
cat >"$work/webhooks.yaml" <<YAML
kafka:
  brokers: '$brokers'
  group_id: bench-webhooks
log_level: warn
endpoints:
  bench:
    url: 'http://$receiver/hook'
    allow_insecure_http: true
    secret_file: '$work/bench.secret'
    max_in_flight: $in_flight
YAML
"$bin/webhook_forwarder" --config "$work/webhooks.yaml" --metrics-listen 127.0.0.1:0 \
  --port-file "$work/forwarder.port" 2>"$work/forwarder.log" &
pids+=($!)
wait_file "$work/forwarder.port" "$work/forwarder.log"
forwarder="$(head -1 "$work/forwarder.port")"
for _ in $(seq 600); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$forwarder/readyz")" = 200 ] && break
  sleep 0.1
done
metric() {  # NAME: the sum of a forwarder metric's samples
  curl -s "http://$forwarder/metrics" | awk -v n="$1" 'index($1, n) == 1 { s += $2 } END { printf "%d", s }'
}

load_start="$(date +%s%N)"
load="$("$bin/assent_load" --target "$consentd" --server-pid "$consentd_pid" --method record \
  --concurrency 64 --subjects 10000 --duration "$duration" --warmup 0s)"
load_end="$(date +%s%N)"
echo "$load" >&2
# Drained: the backlog is empty and nothing was delivered for a second (at most 120 s).
drained=0 last=-1
for _ in $(seq 240); do
  delivered="$(metric assent_webhook_delivered_total)"
  backlog="$(metric assent_webhook_backlog)"
  if [ "$backlog" = 0 ] && [ "$delivered" = "$last" ]; then drained=1; break; fi
  last="$delivered"
  sleep 0.5
done
attempts="$(metric assent_webhook_attempts_total)"
failures="$(metric assent_webhook_failures_total)"
kill "$receiver_pid"
wait "$receiver_pid" || true

python3 - "$work/arrivals.txt" "$load" "$load_start" "$load_end" "$drained" "$attempts" \
  "$failures" "$command_line" "$in_flight" >"$output" <<'PY'
import json, subprocess, sys
path, load, start, end, drained, attempts, failures, command, in_flight = sys.argv[1:]
load = json.loads(load)
start, end = int(start), int(end)
rows = [tuple(map(int, l.split())) for l in open(path) if l.strip()]
arrivals = sorted(a for a, _ in rows)
lat = sorted(l for _, l in rows if l >= 0)
q = lambda xs, p: xs[min(len(xs) - 1, int(p * len(xs)))] / 1e6 if xs else float("nan")
during = [a for a in arrivals if start <= a <= end]
window = (end - start) / 1e9
sh = lambda c: subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'")
commit = sh("git rev-parse --short HEAD") + (
    " (with uncommitted changes)" if sh("git status --porcelain -- . ':!tools/bench/webhooks/RESULTS.md'") else "")
drain = (arrivals[-1] - end) / 1e9 if arrivals else float("nan")
events = len(arrivals)
delivery_rate = len(during) / window if window > 0 else 0
write_rate = load["rps"]
keeps_up = drained == "1" and delivery_rate >= 0.9 * write_rate
print("# Webhook delivery against consentd's durable write rate\n")
print(f"Command: `{command}` (regenerates this file).\n")
print(f"Machine: {sh('nproc')} cores, {cpu}; {sh('date -u +%Y-%m-%dT%H:%MZ')}; commit {commit}. "
      "Everything (Kafka, consentd, the forwarder, the receiver, the load generator) shares these "
      "cores.\n")
print("One Kafka broker, one consentd (durable writes, group-committed fsync; the relay publishes "
      "each change to `assent.consent.changes.v1`), the webhook forwarder with one endpoint "
      f"(`max_in_flight: {in_flight}`) and a local receiver (`webhook_bench_receiver`, answers 204). "
      "`assent_load --method record --concurrency 64 --subjects 10000` writes for the whole "
      "window; each write is one change and one signed POST. Latency is the event's "
      "`recorded_time` to its arrival at the receiver (consentd's relay, Kafka and the "
      "forwarder together).\n")
print("| Measure | Value |\n|---|---|")
print(f"| durable writes (= changes) per second, assent_load | {write_rate:,.0f} ({load['requests']:,} in {load['seconds']:.1f} s, {load['errors']} errors) |")
print(f"| webhooks delivered per second while the load ran | {delivery_rate:,.0f} ({delivery_rate / write_rate if write_rate else 0:.0%} of the write rate) |")
print(f"| webhooks delivered in all | {events:,} (attempts {int(attempts):,}, failed attempts {int(failures):,}) |")
print(f"| backlog drained after the load stopped | {'in %.1f s' % drain if drained == '1' else 'NOT within 120 s'} |")
print(f"| delivery latency p50 / p99 | {q(lat, 0.5):,.1f} ms / {q(lat, 0.99):,.1f} ms |")
print(f"| keeps up (>= 90 % of the write rate while loaded, backlog drained) | {'YES' if keeps_up else 'NO'} |")
PY
if [ "$smoke" = 1 ]; then
  cat "$output"
  grep -q '"errors":0,' <<<"$load" || { echo "webhooks bench smoke: writes failed" >&2; exit 1; }
  [ "$drained" = 1 ] || { echo "webhooks bench smoke: not drained" >&2; cat "$work/forwarder.log" >&2; exit 1; }
else
  echo "wrote $output" >&2
fi
