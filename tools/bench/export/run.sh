#!/usr/bin/env bash
# consentd's own memory while it streams a 10,000-record subject export to assentctl: seeds a
# store with export_bench --seed-only, serves it with consentd (8 MiB block cache), runs one
# warm-up export, restarts consentd's peak RSS (/proc/PID/clear_refs), runs the measured export
# and prints consentd's RSS before and its peak. Usage: tools/bench/export/run.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
records=${RECORDS:-10000}
work=$(mktemp -d)
pid=
cleanup() {
  if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$build/bin/export_bench" --data-dir "$work/data" --records "$records" --seed-only 1
"$build/bin/consentd" --insecure --listen 127.0.0.1:0 --metrics-listen "" \
  --data-dir "$work/data" --port-file "$work/port" --store-block-cache-mb 8 \
  > "$work/consentd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.1; done
[[ -s $work/port ]] || { cat "$work/consentd.log"; exit 1; }
export ASSENT_SERVER=$(head -1 "$work/port") ASSENT_TENANT=acme
kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }

"$build/bin/assentctl" --timeout 60s export --subject subject-1 > /dev/null  # warm-up
echo 5 > "/proc/$pid/clear_refs"
before=$(kib VmRSS)
start=$(date +%s.%N)
"$build/bin/assentctl" --timeout 60s export --subject subject-1 > "$work/export.jsonl"
end=$(date +%s.%N)
peak=$(kib VmHWM)
lines=$(wc -l < "$work/export.jsonl")
bytes=$(stat -c %s "$work/export.jsonl")
awk -v r="$records" -v l="$lines" -v b="$bytes" -v before="$before" -v peak="$peak" \
  -v s="$start" -v e="$end" 'BEGIN {
  printf "| records | JSON lines | JSON MiB | consentd RSS before MiB | consentd peak RSS MiB | peak - before MiB | seconds |\n"
  printf "|---|---|---|---|---|---|---|\n"
  printf "| %d | %d | %.1f | %.1f | %.1f | %.1f | %.2f |\n", r, l, b / 1048576, before / 1024,
    peak / 1024, (peak - before) / 1024, e - s }'
