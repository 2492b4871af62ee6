#!/usr/bin/env bash
# Installs every Debian 12 package Assent's build, tests and tools need. Idempotent: when all are
# present it does nothing (not even `apt-get update`). Needs root (or sudo) when something is missing.
set -euo pipefail

PACKAGES=(
  # toolchain (clang-14 and its runtime libraries, libFuzzer among them, build tests/fuzz)
  build-essential cmake ninja-build pkg-config git clang-format clang-tidy clang-14
  libclang-rt-14-dev
  # compiler cache (tools/build.sh uses it when present: a rebuild on the same machine, or a clean
  # clone of the same sources, compiles only what changed)
  ccache
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev librdkafka-dev prometheus-cpp-dev libabsl-dev libspdlog-dev libfmt-dev
  libyaml-cpp-dev libphonenumber-dev libssl-dev libidn2-dev nlohmann-json3-dev tzdata
  libcpp-httplib-dev libkainjow-mustache-dev libcurl4-openssl-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # tools (Java and Maven run the local Kafka broker, see tools/kafka)
  kcat maven openjdk-17-jre-headless prometheus curl
  # assentctl report --chart renders with gnuplot (run as a subprocess)
  gnuplot-nox
  # the preference center's browser tests (puppeteer-core drives Debian's Chromium) and local PKI
  chromium fonts-dejavu-core openssl
  # deploy checks (tests/deploy: promtool from prometheus above, systemd-analyze, Python YAML, pip)
  systemd python3-yaml python3-pip
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

# Node.js and npm run the browser tests (tests/browser). Machines of this kind come with a newer
# Node.js; Debian's is installed only where none is.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "bootstrap: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
