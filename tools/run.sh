#!/usr/bin/env bash
# Sets up a fresh machine, builds, starts a local Kafka broker (127.0.0.1:9092, data in
# ./data/kafka), consentd on 127.0.0.1:50051 (data in ./data/consentd) publishing its events to
# that broker, the reference email sender (deploy/senders/email.example.yaml: requests from
# assent.email.requests.v1, outcomes to assent.email.outcomes.v1, messages in
# ./data/email-sender/spool) and the preference center on https://127.0.0.1:8443
# (deploy/prefcenter.example.yaml), with a local CA and certificates in ./data/pki and a link
# keyring in ./data/link-keyring.yaml and a receipt keyring in ./data/receipt-keyring.yaml made on
# first run. Every gRPC connection is mTLS: consentd
# serves TLS with data/pki/server.pem, asks each client for its certificate
# (spiffe://assent.local/<name>) and authorizes it with deploy/policy.example.yaml. Ctrl-C stops
# them all. Extra arguments go to consentd (see build/bin/consentd --help).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
tools/build.sh
mkdir -p data/email-sender
tools/pki.sh data/pki
tools/link-keyring.sh data/link-keyring.yaml
# The confirmation keyring (same format) seals double opt-in addresses for the email sender.
tools/link-keyring.sh data/confirmation-keyring.yaml
# The evidence keyring (same format) wraps the per-subject keys that seal IP addresses and user
# agents; the erasure log lives outside consentd's data directory (a restore re-applies it).
tools/link-keyring.sh data/evidence-keyring.yaml
# The receipt keyring (Ed25519) signs consent receipts; rotate with tools/receipt-keyring.sh --rotate.
tools/receipt-keyring.sh data/receipt-keyring.yaml
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
pki=data/pki
# The client certificate of `name`: --tls-ca/--tls-cert/--tls-key for its connection to consentd.
client_tls() { echo --tls-ca "$pki/ca.pem" --tls-cert "$pki/$1.pem" --tls-key "$pki/$1-key.pem"; }
build/bin/consentd --data-dir data/consentd --kafka-brokers 127.0.0.1:9092 \
  --tls-cert "$pki/server.pem" --tls-key "$pki/server-key.pem" --tls-ca "$pki/ca.pem" \
  --auth-policy-file deploy/policy.example.yaml \
  --port-file data/consentd.port --links-keyring-file data/link-keyring.yaml \
  --links-base-url https://127.0.0.1:8443 \
  --confirmation-keyring-file data/confirmation-keyring.yaml --enforcement-senders email \
  --evidence-keyring-file data/evidence-keyring.yaml --erasure-log-file data/erasure.log \
  --receipts-keyring-file data/receipt-keyring.yaml "$@" &
pids+=($!)
# The sender hashes addresses with consentd's secret, generated on consentd's first start.
for _ in $(seq 1 300); do
  [[ -s data/consentd.port && -s data/consentd/contact-key.secret ]] && break
  kill -0 "${pids[0]}" 2>/dev/null || exit 1
  sleep 0.1
done
# shellcheck disable=SC2046  # the flags are meant to split
build/bin/email_sender --config deploy/senders/email.example.yaml --email-confirmations-enabled true \
  $(client_tls email-sender) &
pids+=($!)
# shellcheck disable=SC2046
build/bin/prefcenter --config deploy/prefcenter.example.yaml $(client_tls prefcenter) &
pids+=($!)
echo "run.sh: consentd on 127.0.0.1:50051 (mTLS; for assentctl:" \
  "export ASSENT_TLS_CA=$PWD/$pki/ca.pem ASSENT_TLS_CERT=$PWD/$pki/admin.pem" \
  "ASSENT_TLS_KEY=$PWD/$pki/admin-key.pem); preference center on https://127.0.0.1:8443" \
  "(CA: $pki/ca.pem); assentctl url --subject S prints a link" >&2
wait -n "${pids[@]}"
