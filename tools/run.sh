#!/usr/bin/env bash
# Sets up a fresh machine, builds, and runs consentd in the foreground on 127.0.0.1:50051 with its
# data in ./data/consentd. Extra arguments go to consentd (see build/bin/consentd --help).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
tools/build.sh
mkdir -p data
exec build/bin/consentd --data-dir data/consentd "$@"
