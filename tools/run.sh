#!/usr/bin/env bash
# Sets up a fresh machine, builds, starts a local Kafka broker (127.0.0.1:9092, data in
# ./data/kafka), consentd on 127.0.0.1:50051 (data in ./data/consentd) publishing its events to
# that broker, the reference email sender (deploy/senders/email.example.yaml: requests from
# assent.email.requests.v1, outcomes to assent.email.outcomes.v1, messages in
# ./data/email-sender/spool) and the preference center on https://127.0.0.1:8443
# (deploy/prefcenter.example.yaml), with a local CA and certificate in ./data/pki and a link keyring
# in ./data/link-keyring.yaml made on first run. Ctrl-C stops them all. Extra arguments go to
# consentd (see build/bin/consentd --help).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
tools/build.sh
mkdir -p data/email-sender
tools/pki.sh data/pki
tools/link-keyring.sh data/link-keyring.yaml
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
  --port-file data/consentd.port --links-keyring-file data/link-keyring.yaml \
  --links-base-url https://127.0.0.1:8443 "$@" &
pids+=($!)
# The sender hashes addresses with consentd's secret, generated on consentd's first start.
for _ in $(seq 1 300); do
  [[ -s data/consentd.port && -s data/consentd/contact-key.secret ]] && break
  kill -0 "${pids[0]}" 2>/dev/null || exit 1
  sleep 0.1
done
build/bin/email_sender --config deploy/senders/email.example.yaml &
pids+=($!)
build/bin/prefcenter --config deploy/prefcenter.example.yaml &
pids+=($!)
echo "run.sh: preference center on https://127.0.0.1:8443 (CA: data/pki/ca.pem);" \
  "assentctl url --subject S prints a link" >&2
wait -n "${pids[@]}"
