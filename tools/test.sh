#!/usr/bin/env bash
# Sets up a fresh machine, builds, and runs every test: the unit and integration suites (the latter
# against real consentd processes and real Kafka brokers) on the regular build, then again on an
# ASan+UBSan build. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
tools/check-format.sh
# The integration tests start their own Kafka brokers (tools/kafka/kafka.sh, own ports and data);
# fetch the broker's jars once up front.
tools/kafka/kafka.sh fetch

# Free space where the three build trees go, printed before each: a full disk shows up here
# rather than as a failed link.
disk() { echo "== disk: $(df -h --output=avail . | tail -1 | tr -d ' ') free in $PWD"; }
disk
echo "== build (RelWithDebInfo)"
tools/build.sh
echo "== tests (RelWithDebInfo)"
(cd build && ctest --output-on-failure --timeout 600 -j 2 -LE cluster)
disk
echo "== cluster tests (3-node Kafka cluster, consentd instances killed, frozen and added; one at a time)"
(cd build && ctest --output-on-failure --timeout 900 -L cluster)
echo "== load harness smoke run (consentd and noop_server, a few seconds each; figures not kept)"
tools/bench/load/run.sh --smoke
echo "== preference center benchmark smoke run (prefcenter, consentd; figures not kept)"
tools/bench/prefcenter/run.sh --smoke
echo "== mTLS benchmark smoke run (consentd and noop_server, plaintext and mTLS; figures not kept)"
tools/bench/tls/run.sh --smoke
echo "== subject rights benchmark smoke run (sealed vs plain writes, erasures; figures not kept)"
tools/bench/rights/run.sh --smoke
echo "== import benchmark smoke run (assentctl import vs durable writes, 20,000 rows; figures not kept)"
tools/bench/import/run.sh --smoke
echo "== web consent signal decoding micro-benchmark smoke run (figures not kept)"
tools/bench/micro/signals.sh --smoke
echo "== consent reports benchmark smoke run (reports on vs off, report queries; figures not kept)"
tools/bench/reports/run.sh --smoke
echo "== webhook benchmark smoke run (Kafka, consentd, webhook_forwarder, a local receiver; figures not kept)"
tools/bench/webhooks/run.sh --smoke
echo "== cluster benchmark smoke run (3-node Kafka cluster, single-node vs cluster writes, rebuild, one failover; figures not kept)"
tools/bench/cluster/run.sh --smoke
echo "== cluster standbys benchmark smoke run (3-node Kafka cluster, one standby vs a full replica; figures not kept)"
tools/bench/cluster/standbys.sh --smoke

echo "== fuzz smoke (clang-14 libFuzzer+ASan+UBSan build in build-fuzz, each harness 5 s over its corpus)"
tools/fuzz.sh smoke
# The fuzz build is only for that smoke run (tools/fuzz.sh builds it again when run): its space
# goes to the ASan build.
rm -rf "${ASSENT_FUZZ_BUILD_DIR:-build-fuzz}"
disk

echo "== build (ASan+UBSan)"
ASSENT_BUILD_DIR=build-asan tools/build.sh -DASSENT_SANITIZE=address
echo "== tests (ASan+UBSan)"
# The browser tests (label browser) and the cluster tests (label cluster: real processes killed
# and frozen on a 3-node Kafka cluster) run once, above: they check pages and distributed
# behaviour, not memory safety.
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure --timeout 900 -j 2 -LE 'browser|cluster')
