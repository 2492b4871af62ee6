# Shared by the cluster benchmarks (run.sh, cpu_split.sh, standbys.sh), sourced from the repository
# root after `work` is set: the processes to stop (pids), a cleanup that stops them and the
# temporary Kafka cluster and removes $work on exit, free ports, and the Kafka cluster itself.
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  tools/kafka/kafka.sh cluster-stop --dir "$work/kafka" --kill >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# A base port with six free ports above it (three brokers, three controllers).
free_range() {
  python3 - <<'PY'
import random, socket
for _ in range(200):
    base = random.randint(20000, 30000)
    socks = []
    try:
        for p in range(base, base + 6):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
}

# The brokers' JVM options for a benchmark of throughput: the full JIT, as production brokers run.
# The test clusters' default (tools/kafka/cluster.sh) compiles with C1 only, a third less CPU at
# start-up but slower serving (tools/kafka/README.md); measured here (cpu_split.sh, 64 callers
# after 30 s of warm-up): 623 -> 890 cluster writes/s. The full JIT needs its warm-up
# (warm_up_brokers) before anything is measured.
FULL_JIT_JVM_OPTS="-Xmx384m -Xms128m -XX:+UseSerialGC"

# start_kafka [JVM-OPTIONS]: a 3-node KRaft cluster in $work/kafka (stopped by cleanup) with the
# given JVM options (default: ASSENT_KAFKA_CLUSTER_JVM_OPTS, else the test clusters' own); sets
# `brokers`, and writes the contact-key secret every instance shares to $work/secret.
start_kafka() {
  local base
  base="$(free_range)"
  ASSENT_KAFKA_CLUSTER_JVM_OPTS="${1:-${ASSENT_KAFKA_CLUSTER_JVM_OPTS:-}}" \
    tools/kafka/kafka.sh cluster-start --dir "$work/kafka" --nodes 3 --base-port "$base" \
    --owner-pid $$ >/dev/null
  brokers="127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))"
  (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/secret")
}

# warm_up_brokers SECONDS TARGETS: RecordDecisions at 256 callers for SECONDS, not measured, so that
# the brokers' JIT has compiled their hot paths (with the full JIT the first half minute of load
# runs at a third of the speed of the later rounds).
warm_up_brokers() {
  "$BIN/assent_load" --target "$2" --method record --concurrency 256 --subjects 10000 \
    --duration "${1}s" --warmup 0s >/dev/null
}

# seed_catalog ADDRESS (needs BIN): the bench tenant and the purpose that assent_load and
# enforce_bench write, created through the instance at ADDRESS.
seed_catalog() {  # ADDRESS
  local ctl=("$BIN/assentctl" --server "$1" --tenant bench) ok=0
  for _ in $(seq 100); do
    if "${ctl[@]}" tenant create bench >/dev/null 2>"$work/seed.err" ||
       grep -q ALREADY_EXISTS "$work/seed.err"; then ok=1; break; fi
    sleep 0.3
  done
  [ "$ok" = 1 ] || { cat "$work/seed.err" >&2; exit 1; }
  "${ctl[@]}" purpose create marketing.newsletter --kind MARKETING --basis CONSENT --channels EMAIL \
    --notice-version 1 >/dev/null
}
