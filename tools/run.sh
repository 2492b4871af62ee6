#!/usr/bin/env bash
# Sets up a fresh machine, builds, starts a local Kafka broker (127.0.0.1:9092, data in
# ./data/kafka) and runs consentd in the foreground on 127.0.0.1:50051 (data in ./data/consentd),
# publishing its events to that broker. Ctrl-C stops both. Extra arguments go to consentd
# (see build/bin/consentd --help).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
tools/build.sh
mkdir -p data
tools/kafka/kafka.sh fetch
tools/kafka/kafka.sh start --dir data/kafka --port 9092 --controller-port 9093
trap 'tools/kafka/kafka.sh stop --dir data/kafka' EXIT
build/bin/consentd --data-dir data/consentd --kafka-brokers 127.0.0.1:9092 "$@"
