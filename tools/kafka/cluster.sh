#!/usr/bin/env bash
# Cluster mode of kafka.sh (sourced by it; run kafka.sh, not this file): N nodes on this machine,
# each one JVM that is both broker and KRaft controller, with static voters, for the cluster-mode
# integration tests and benchmarks. See README.md, "Cluster mode", for the settings and why.
#
# Layout of --dir D: D/cluster.conf (nodes and base port, fixed at the first start), D/cluster.id,
# D/owner (the --owner-pid watcher's claim) and D/node-I, which is what DIR is for a single broker
# (server.properties, log4j2.properties, data/, broker.pid, broker.log, broker.out).

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  echo "cluster.sh is part of kafka.sh; run: kafka.sh cluster-start ..." >&2
  exit 2
fi

readonly MAX_NODES=9
readonly DEFAULT_BASE_PORT=29092
readonly DEFAULT_CLUSTER_JVM_OPTS="-Xmx384m -Xms128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"

CLUSTER_DIR=""
NODES=""
BASE_PORT=""
NODE=""
KILL=false

set_cluster_option() {
  case "$1" in
    --dir) CLUSTER_DIR="$2" ;;
    --nodes) NODES="$2" ;;
    --base-port) BASE_PORT="$2" ;;
    --node) NODE="$2" ;;
    --owner-pid) OWNER_PID="$2" ;;
    *) die "unknown option $1" ;;
  esac
}

# --kill (cluster-stop only) is the one option without a value.
parse_cluster_options() {
  local args=() arg
  for arg in "$@"; do
    if [ "$arg" = --kill ]; then KILL=true; else args+=("$arg"); fi
  done
  for_each_option set_cluster_option "${args[@]+"${args[@]}"}"
  [ -n "$CLUSTER_DIR" ] || die "--dir is required in cluster mode"
  [ "$KILL" = false ] || [ "$COMMAND" = cluster-stop ] || die "only cluster-stop takes --kill"
  [[ "$CLUSTER_DIR" != *[,\\$'\n']* ]] ||
    die "--dir must not contain a comma, backslash or newline: $CLUSTER_DIR"
}

# Reads D/cluster.conf into NODES and BASE_PORT; options given on the command line must agree with
# it (the voter set and every node's addresses are fixed once the storage is formatted).
load_cluster_conf() {
  local conf="$CLUSTER_DIR/cluster.conf" nodes base
  [ -f "$conf" ] || return 1
  nodes="$(sed -n 's/^nodes=//p' "$conf")"
  base="$(sed -n 's/^base_port=//p' "$conf")"
  [ -n "$nodes" ] && [ -n "$base" ] || die "$conf is incomplete; delete $CLUSTER_DIR to start over"
  [ -z "$NODES" ] || [ "$NODES" = "$nodes" ] ||
    die "the cluster in $CLUSTER_DIR has $nodes nodes, not $NODES; delete it to change that"
  [ -z "$BASE_PORT" ] || [ "$BASE_PORT" = "$base" ] ||
    die "the cluster in $CLUSTER_DIR uses --base-port $base, not $BASE_PORT; delete it to change that"
  NODES="$nodes" BASE_PORT="$base"
}

check_cluster_shape() {
  [[ "$NODES" =~ ^[0-9]+$ ]] && [ "$NODES" -ge 1 ] && [ "$NODES" -le "$MAX_NODES" ] ||
    die "--nodes must be 1-$MAX_NODES, not '$NODES'"
  valid_port "$BASE_PORT" && [ $((BASE_PORT + 2 * NODES - 1)) -le 65535 ] ||
    die "--base-port must leave room for $((2 * NODES)) ports below 65536, not '$BASE_PORT'"
}

check_node_option() {
  [[ "$NODE" =~ ^[0-9]+$ ]] && [ "$NODE" -ge 1 ] && [ "$NODE" -le "$NODES" ] ||
    die "--node must be 1-$NODES, not '${NODE:-(missing)}'"
}

# An existing cluster's directory, made absolute, with its shape loaded; fails if there is none.
open_cluster() {
  [ -d "$CLUSTER_DIR" ] || return 1
  CLUSTER_DIR="$(cd "$CLUSTER_DIR" && pwd)"
  load_cluster_conf
}

broker_port() { echo $((BASE_PORT + $1 - 1)); }
controller_port() { echo $((BASE_PORT + NODES + $1 - 1)); }

# Points the single-broker helpers (running_pid, stop_broker, show_logs, write_log4j_config,
# storage_tool) at node $1.
select_node() { DIR="$CLUSTER_DIR/node-$1"; }

# Replication 3 and min.insync.replicas 2, or less on a smaller cluster (one node keeps 1 and 1).
replication() { echo $((NODES < 3 ? NODES : 3)); }
min_isr() { echo $((NODES < 2 ? 1 : 2)); }

write_node_properties() {
  local node="$1" auto_create="${ASSENT_KAFKA_AUTO_CREATE:-false}" voters="" i
  [[ "$auto_create" == true || "$auto_create" == false ]] ||
    die "ASSENT_KAFKA_AUTO_CREATE must be true or false, not '$auto_create'"
  for ((i = 1; i <= NODES; i++)); do
    voters="${voters:+$voters,}$i@127.0.0.1:$(controller_port "$i")"
  done
  local rf min_isr port cport
  rf="$(replication)" min_isr="$(min_isr)" port="$(broker_port "$node")"
  cport="$(controller_port "$node")"
  cat >"$DIR/server.properties" <<EOF
# Written by tools/kafka/kafka.sh cluster-start / node-start, on every start: node $node of a
# $NODES-node KRaft cluster (broker and controller in one JVM). Edits are lost; change cluster.sh.
process.roles=broker,controller
node.id=$node
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DIR/data

auto.create.topics.enable=$auto_create
num.partitions=1
# Every write acknowledged with acks=all is on two nodes before the producer hears of it, so losing
# any one node loses nothing and does not stop writes; a replica that was not in sync never leads.
default.replication.factor=$rf
min.insync.replicas=$min_isr
unclean.leader.election.enable=false

# Internal topics are replicated like data: losing the node that coordinates a group or a
# transaction moves the coordinator instead of losing offsets or transaction state. One partition
# each (the default 50 costs seconds and 150 directories at first use), so one node coordinates
# every group and transaction: a test can find and kill it (leader of partition 0).
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$min_isr
share.coordinator.state.topic.num.partitions=1

# Fast failure detection. Consumers may ask for session.timeout.ms down to 1 s (default floor 6 s),
# so a test can use 3 s with a 1 s heartbeat. The controller fences a node that missed heartbeats
# for 4 s (default 9 s): leaders move off a killed node that much sooner.
group.min.session.timeout.ms=1000
group.initial.rebalance.delay.ms=0
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
# A transaction left open by a killed producer is aborted once transaction.timeout.ms has passed,
# at the coordinator's next check: every 10 s by default, which would add up to 10 s to a
# consentd failover (the new owner's claim waits behind the open transaction). Checked every 1 s.
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000

# Sized for N JVMs sharing a 2-core machine, each with a 384 MiB heap.
num.network.threads=2
num.io.threads=2
num.replica.fetchers=1
background.threads=4
num.recovery.threads.per.data.dir=1
log.segment.bytes=16777216
log.cleaner.dedupe.buffer.size=16777216
EOF
}

# Starts node $1's JVM in the background; the caller waits for it.
launch_node() {
  local node="$1" pid
  select_node "$node"
  mkdir -p "$DIR"
  write_node_properties "$node"
  write_log4j_config
  # A small heap and the serial collector: N JVMs share two cores, and a test cluster's pauses
  # are short at this heap size. C1 only (TieredStopAtLevel=1) halves the CPU spent compiling
  # during start-up; see README.md for the measurements.
  # ASSENT_KAFKA_CLUSTER_JVM_OPTS replaces these (a benchmark may want the full JIT).
  local jvm_opts="${ASSENT_KAFKA_CLUSTER_JVM_OPTS:-$DEFAULT_CLUSTER_JVM_OPTS}"
  # shellcheck disable=SC2086
  nohup java $jvm_opts \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$DIR/log4j2.properties" \
    -cp "$LIBS/*" kafka.Kafka "$DIR/server.properties" </dev/null >"$DIR/broker.out" 2>&1 &
  pid=$!
  echo "$pid" >"$DIR/broker.pid"
  note "started node $node (pid $pid) on 127.0.0.1:$(broker_port "$node")"
}

# What StorageTool random-uuid prints (Kafka's Uuid: 16 random bytes in unpadded URL-safe base64,
# never starting with '-'), without a JVM: a JVM start is half a second of both cores.
random_cluster_id() {
  local id=-
  while [[ "$id" == -* ]]; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c 1-22)"
  done
  [[ "$id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "could not make a cluster id (got '$id')"
  echo "$id"
}

# StorageTool as storage_tool runs it, with the nodes' start-up flags: the three formats run at once
# on two cores in 1.6 s instead of 2.7 s.
fast_storage_tool() {
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$DIR/log4j2.properties" -cp "$LIBS/*" kafka.tools.StorageTool "$@"
}

# Formats every node's storage under one cluster id, the nodes in parallel (one JVM each).
format_cluster() {
  local node pids=() failed=false
  [ -s "$CLUSTER_DIR/cluster.id" ] || random_cluster_id >"$CLUSTER_DIR/cluster.id"
  for ((node = 1; node <= NODES; node++)); do
    select_node "$node"
    [ -f "$DIR/data/meta.properties" ] && continue
    fast_storage_tool format -t "$(cat "$CLUSTER_DIR/cluster.id")" -c "$DIR/server.properties" \
      --ignore-formatted >"$DIR/format.out" 2>&1 &
    pids+=("$!:$node")
  done
  local entry
  for entry in "${pids[@]}"; do
    wait "${entry%%:*}" && continue
    select_node "${entry#*:}"
    cat "$DIR/format.out" >&2
    failed=true
  done
  [ "$failed" = false ] || die "formatting the cluster's storage failed (output above)"
}

# Waits until every node in $@ answers metadata and lists itself (so the controller has unfenced
# it). Stops the nodes it started and fails if one exits or START_TIMEOUT_S passes.
wait_for_nodes() {
  local deadline=$((SECONDS + START_TIMEOUT_S)) pending=("$@") node next pid
  while [ "${#pending[@]}" -gt 0 ]; do
    next=()
    for node in "${pending[@]}"; do
      select_node "$node"
      answers_metadata "$(broker_port "$node")" "$node" && continue
      next+=("$node")
      pid="$(cat "$DIR/broker.pid" 2>/dev/null)" || pid=""
      if [ -z "$pid" ] || ! process_token "$pid" >/dev/null; then
        show_logs
        rm -f "$DIR/broker.pid"
        stop_nodes "$@" >&2
        die "node $node exited during start-up (logs above)"
      fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        show_logs
        stop_nodes "$@" >&2
        die "node $node did not answer on 127.0.0.1:$(broker_port "$node") within ${START_TIMEOUT_S} s"
      fi
    done
    pending=("${next[@]+"${next[@]}"}")
    [ "${#pending[@]}" -eq 0 ] || sleep 0.2
  done
}

# SIGTERM to every running node in $@ at once, then waits for each (SIGKILL after
# STOP_TIMEOUT_S), so stopping a cluster takes about as long as stopping one node.
stop_nodes() {
  local node pid
  for node in "$@"; do
    select_node "$node"
    pid="$(running_pid)" || continue
    kill -TERM "$pid" 2>/dev/null || true
  done
  for node in "$@"; do
    select_node "$node"
    pid="$(running_pid)" || { rm -f "$DIR/broker.pid"; continue; }
    stop_broker "$pid" >/dev/null
  done
}

all_nodes() { seq 1 "$NODES"; }

# Runs in the background for cluster-start --owner-pid: stops every node when the owner exits.
# Ends when D/owner no longer holds its claim (cluster-stop removed it, or a later cluster-start
# with another owner replaced it).
watch_cluster_owner() {
  local owner="$1" claim="$2" token
  trap '' HUP INT
  token="$(process_token "$owner")" || token=gone
  while [ "$(cat "$CLUSTER_DIR/owner" 2>/dev/null)" = "$claim" ]; do
    if [ "$(process_token "$owner")" != "$token" ]; then
      note "$(date -u +%FT%TZ) owner pid $owner exited; stopping the cluster"
      rm -f "$CLUSTER_DIR/owner"
      # shellcheck disable=SC2046
      stop_nodes $(all_nodes)
      return 0
    fi
    sleep 1
  done
}

cmd_cluster_start() {
  OWNER_PID=""
  parse_cluster_options "$@"
  [ -z "$NODE" ] || die "cluster-start takes no --node"
  if [ -n "$OWNER_PID" ]; then
    if ! [[ "$OWNER_PID" =~ ^[0-9]+$ ]] || ! process_token "$OWNER_PID" >/dev/null; then
      die "--owner-pid $OWNER_PID is not a running process"
    fi
  fi
  mkdir -p "$CLUSTER_DIR"
  if ! open_cluster; then
    NODES="${NODES:-3}" BASE_PORT="${BASE_PORT:-$DEFAULT_BASE_PORT}"
    check_cluster_shape
    printf 'nodes=%s\nbase_port=%s\n' "$NODES" "$BASE_PORT" >"$CLUSTER_DIR/cluster.conf"
  fi
  check_cluster_shape
  require_java
  require_kcat
  ensure_libs

  local node to_start=() port
  for node in $(all_nodes); do
    select_node "$node"
    running_pid >/dev/null && continue
    for port in "$(broker_port "$node")" "$(controller_port "$node")"; do
      ! port_open "$port" || die "127.0.0.1:$port (node $node) is already in use"
    done
    to_start+=("$node")
  done
  local started=$SECONDS
  for node in "${to_start[@]+"${to_start[@]}"}"; do
    select_node "$node"
    mkdir -p "$DIR"
    write_node_properties "$node"
    write_log4j_config
  done
  format_cluster
  for node in "${to_start[@]+"${to_start[@]}"}"; do launch_node "$node"; done
  # shellcheck disable=SC2046
  wait_for_nodes $(all_nodes)
  if [ -n "$OWNER_PID" ]; then
    local claim
    claim="$OWNER_PID $(process_token "$OWNER_PID") $$"
    echo "$claim" >"$CLUSTER_DIR/owner"
    watch_cluster_owner "$OWNER_PID" "$claim" </dev/null >>"$CLUSTER_DIR/watch.log" 2>&1 &
  fi
  local bootstrap="" i
  for i in $(all_nodes); do bootstrap="${bootstrap:+$bootstrap,}127.0.0.1:$(broker_port "$i")"; done
  echo "kafka cluster ready on $bootstrap ($((SECONDS - started)) s)"
}

cmd_cluster_stop() {
  parse_cluster_options "$@"
  if ! open_cluster; then
    echo "kafka cluster not running ($CLUSTER_DIR)"
    return 0
  fi
  rm -f "$CLUSTER_DIR/owner"
  if [ "$KILL" = true ]; then
    local node
    for node in $(all_nodes); do kill_node "$node"; done
  else
    # shellcheck disable=SC2046
    stop_nodes $(all_nodes)
  fi
  echo "kafka cluster stopped ($CLUSTER_DIR)"
}

cmd_cluster_status() {
  parse_cluster_options "$@"
  open_cluster || { echo "no kafka cluster in $CLUSTER_DIR"; return 1; }
  require_kcat
  local node pid port rc=0
  for node in $(all_nodes); do
    select_node "$node"
    port="$(broker_port "$node")"
    if ! pid="$(running_pid)"; then
      echo "node $node: not running (127.0.0.1:$port)"
      rc=1
    elif answers_metadata "$port" "$node"; then
      echo "node $node: running on 127.0.0.1:$port (pid $pid)"
    else
      echo "node $node: running (pid $pid) but not answering on 127.0.0.1:$port"
      rc=1
    fi
  done
  return "$rc"
}

# node-stop, node-kill and node-start: the cluster must exist; --node names one of its nodes.
open_node() {
  OWNER_PID=""
  parse_cluster_options "$@"
  open_cluster || die "no kafka cluster in $CLUSTER_DIR (run cluster-start first)"
  check_node_option
  select_node "$NODE"
}

cmd_node_stop() {
  open_node "$@"
  local pid
  pid="$(running_pid)" || { rm -f "$DIR/broker.pid"; echo "node $NODE not running"; return 0; }
  stop_broker "$pid" >/dev/null
  echo "node $NODE stopped"
}

# SIGKILL to node $1 if it is running; returns once the process is gone.
kill_node() {
  local pid deadline=$((SECONDS + 10))
  select_node "$1"
  pid="$(running_pid)" || { rm -f "$DIR/broker.pid"; return 0; }
  kill -KILL "$pid"
  while is_broker "$pid"; do
    [ "$SECONDS" -lt "$deadline" ] || die "pid $pid survived SIGKILL"
    sleep 0.05
  done
  rm -f "$DIR/broker.pid"
}

cmd_node_kill() {
  open_node "$@"
  kill_node "$NODE"
  echo "node $NODE killed"
}

cmd_node_start() {
  open_node "$@"
  require_java
  require_kcat
  ensure_libs
  local started=$SECONDS
  if ! running_pid >/dev/null; then
    local port
    for port in "$(broker_port "$NODE")" "$(controller_port "$NODE")"; do
      ! port_open "$port" || die "127.0.0.1:$port (node $NODE) is already in use"
    done
    launch_node "$NODE"
  fi
  wait_for_nodes "$NODE"
  echo "node $NODE ready on 127.0.0.1:$(broker_port "$NODE") ($((SECONDS - started)) s)"
}
