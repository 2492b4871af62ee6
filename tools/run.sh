#!/usr/bin/env bash
# Sets up a fresh machine, builds, starts a local Kafka broker (127.0.0.1:9092, data in
# ./data/kafka), consentd on 127.0.0.1:50051 (data in ./data/consentd) publishing its events to
# that broker, and the reference email sender (deploy/senders/email.example.yaml: requests from
# assent.email.requests.v1, outcomes to assent.email.outcomes.v1, messages in
# ./data/email-sender/spool). Ctrl-C stops all three. Extra arguments go to consentd (see
# build/bin/consentd --help).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
tools/build.sh
mkdir -p data/email-sender
tools/kafka/kafka.sh fetch
tools/kafka/kafka.sh start --dir data/kafka --port 9092 --controller-port 9093
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  tools/kafka/kafka.sh stop --dir data/kafka
}
trap cleanup EXIT
trap 'exit 130' INT TERM
build/bin/consentd --data-dir data/consentd --kafka-brokers 127.0.0.1:9092 \
  --port-file data/consentd.port "$@" &
pids+=($!)
# The sender hashes addresses with consentd's secret, generated on consentd's first start.
for _ in $(seq 1 300); do
  [[ -s data/consentd.port && -s data/consentd/contact-key.secret ]] && break
  kill -0 "${pids[0]}" 2>/dev/null || exit 1
  sleep 0.1
done
build/bin/email_sender --config deploy/senders/email.example.yaml &
pids+=($!)
wait -n "${pids[@]}"
