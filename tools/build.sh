#!/usr/bin/env bash
# Configures and builds Assent into build/ (or $ASSENT_BUILD_DIR). Extra arguments go to CMake's
# configure step, e.g. tools/build.sh -DASSENT_SANITIZE=address.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${ASSENT_BUILD_DIR:-build}"
launcher=()
if command -v ccache >/dev/null; then
  # Paths relative to the checkout, so that another clone of the same sources hits the cache.
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${ASSENT_BUILD_TYPE:-RelWithDebInfo}" \
  "${launcher[@]}" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
