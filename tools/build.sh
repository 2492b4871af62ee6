#!/usr/bin/env bash
# Configures and builds Assent into build/ (or $ASSENT_BUILD_DIR). Extra arguments go to CMake's
# configure step, e.g. tools/build.sh -DASSENT_SANITIZE=address.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${ASSENT_BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${ASSENT_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
