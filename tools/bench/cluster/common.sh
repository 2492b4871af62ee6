# Shared by the cluster benchmarks (run.sh, cpu_split.sh), sourced from the repository root after
# `work` is set: the processes to stop (pids), a cleanup that stops them and the temporary Kafka
# cluster and removes $work on exit, and free ports.
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
