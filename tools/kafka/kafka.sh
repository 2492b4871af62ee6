#!/usr/bin/env bash
# Runs a real single-node Apache Kafka broker (KRaft: broker and controller in one JVM, static voter),
# or a cluster of such nodes, from Kafka's own jars on Maven Central, for local development and
# integration tests. See README.md.
#
#   kafka.sh fetch                                   gather the broker classpath into the cache
#   kafka.sh start  [--dir D] [--port P] [--controller-port C] [--owner-pid PID]
#                   [--ssl-port S --ssl-keystore PEM --ssl-truststore PEM [--ssl-client-auth A]]
#                                                    start in the background, wait until ready;
#                                                    with --owner-pid, stop it when PID exits
#   kafka.sh stop   [--dir D]                        SIGTERM, SIGKILL after 30 s; idempotent
#   kafka.sh status [--dir D]                        exit 0 if running and answering metadata
#
# Cluster mode: N nodes, each a broker and a KRaft controller (static voters), replication 3,
# min.insync.replicas 2 (see README.md). Node I listens on P+I-1, its controller on P+N+I-1.
#   kafka.sh cluster-start  --dir D [--nodes N] [--base-port P] [--owner-pid PID]
#                                                    start every node, wait until all answer
#   kafka.sh cluster-stop   --dir D [--kill]         stop every node (SIGTERM, in parallel);
#                                                    --kill: SIGKILL, for data thrown away
#   kafka.sh cluster-status --dir D                  one line per node; exit 0 if all answer
#   kafka.sh node-stop|node-kill|node-start --dir D --node I
#                                                    SIGTERM / SIGKILL one node, or start it
#                                                    again (keeping its data) and wait for it
#
# Defaults: --dir ${ASSENT_KAFKA_DIR:-./data/kafka} --port 9092 --controller-port 9093. stop and
# status also take the port options, so a caller can pass one set of options to every command.
# --ssl-port adds a TLS listener (SSL://127.0.0.1:S) beside the plaintext one, from PEM files, no
# keytool: --ssl-keystore holds the broker's unencrypted PKCS#8 private key and its certificate
# chain, --ssl-truststore the CA certificates client certificates must chain to; --ssl-client-auth
# required (default), requested (optional) or none.
# Environment: ASSENT_KAFKA_CACHE (jar cache), ASSENT_KAFKA_AUTO_CREATE=true|false (default false),
# ASSENT_KAFKA_CLUSTER_JVM_OPTS (cluster nodes' JVM options, replacing the small defaults).
# The Kafka version is pinned in pom.xml (kafka.version) and nowhere else.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly POM="$SCRIPT_DIR/pom.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka\.version>\(.*\)</kafka\.version>.*:\1:p' "$POM")"
readonly KAFKA_VERSION
readonly CACHE="${ASSENT_KAFKA_CACHE:-${HOME:?}/.cache/assent/kafka/$KAFKA_VERSION}"
readonly LIBS="$CACHE/libs"
readonly START_TIMEOUT_S=90
readonly STOP_TIMEOUT_S=30

die() {
  echo "kafka.sh: $*" >&2
  exit 1
}

note() { echo "kafka.sh: $*" >&2; }

usage() {
  sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

apt_install() {
  note "installing $* (apt)"
  as_root apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
}

require_java() {
  command -v java >/dev/null ||
    die "java not found: Kafka $KAFKA_VERSION needs Java 17 or newer (Debian: apt-get install openjdk-17-jre-headless)"
  local version major
  version="$(java -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)"
  major="${version%%.*}"
  if ! [[ "$major" =~ ^[0-9]+$ ]] || [ "$major" -lt 17 ]; then
    die "java ${version:-of unknown version} found, but Kafka $KAFKA_VERSION needs Java 17 or newer"
  fi
}

# Installs Debian package $2 unless command $1 exists.
require_command() {
  command -v "$1" >/dev/null && return 0
  apt_install "$2"
  command -v "$1" >/dev/null || die "installed $2, but $1 is still not on PATH"
}

require_mvn() { require_command mvn maven; }

require_kcat() { require_command kcat kcat; }

# What the cache was built from: a changed pom.xml (say, a new log4j version) invalidates it.
cache_stamp() { echo "kafka $KAFKA_VERSION $(sha256sum "$POM" | cut -d' ' -f1)"; }

cache_complete() {
  [ -d "$LIBS" ] && [ "$(cat "$CACHE/.complete" 2>/dev/null)" = "$(cache_stamp)" ]
}

# Fills $LIBS with the broker's runtime classpath unless the cache is already complete. Parallel
# callers (tests starting several brokers at once) serialize on a lock and the later ones find the
# work done.
ensure_libs() {
  cache_complete && return 0
  require_mvn
  mkdir -p "$CACHE"
  (
    flock 9
    cache_complete && exit 0
    rm -rf "$LIBS" "$LIBS.partial" "$CACHE/.complete"
    note "fetching kafka $KAFKA_VERSION jars into $LIBS (maven)"
    # -q leaves only errors, but Debian's Maven 3.8 still prints stray colour codes: keep its
    # output for a failure.
    mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$LIBS.partial" >"$CACHE/mvn.log" 2>&1 || {
      cat "$CACHE/mvn.log" >&2
      die "mvn could not gather kafka $KAFKA_VERSION (its output is above)"
    }
    mv "$LIBS.partial" "$LIBS"
    cache_stamp >"$CACHE/.complete"
  ) 9>"$CACHE/.lock"
}

cmd_fetch() {
  [ $# -eq 0 ] || usage
  require_java
  if cache_complete; then
    echo "kafka $KAFKA_VERSION already cached in $LIBS"
    return 0
  fi
  ensure_libs
  echo "kafka $KAFKA_VERSION fetched into $LIBS ($(find "$LIBS" -name '*.jar' | wc -l) jars)"
}

# --- options -------------------------------------------------------------------------------------

DIR="${ASSENT_KAFKA_DIR:-./data/kafka}"
PORT=9092
PORT_GIVEN=false
CONTROLLER_PORT=9093
OWNER_PID=""
SSL_PORT=""
SSL_KEYSTORE=""
SSL_TRUSTSTORE=""
SSL_CLIENT_AUTH=required

# Splits the arguments after $1 into "--flag value" or "--flag=value" pairs and calls "$1 FLAG
# VALUE" for each; anything else prints the usage.
for_each_option() {
  local handler="$1" flag value
  shift
  while [ $# -gt 0 ]; do
    flag="$1"
    case "$flag" in
      -h | --help) usage ;;
      --*=*) value="${flag#*=}"; flag="${flag%%=*}"; shift ;;
      --*) [ $# -ge 2 ] || die "$flag needs a value"; value="$2"; shift 2 ;;
      *) usage ;;
    esac
    "$handler" "$flag" "$value"
  done
}

set_option() {
  case "$1" in
    --dir) DIR="$2" ;;
    --port) PORT="$2" PORT_GIVEN=true ;;
    --controller-port) CONTROLLER_PORT="$2" ;;
    --owner-pid) OWNER_PID="$2" ;;
    --ssl-port) SSL_PORT="$2" ;;
    --ssl-keystore) SSL_KEYSTORE="$2" ;;
    --ssl-truststore) SSL_TRUSTSTORE="$2" ;;
    --ssl-client-auth) SSL_CLIENT_AUTH="$2" ;;
    *) die "unknown option $1" ;;
  esac
}

parse_options() {
  for_each_option set_option "$@"
  [ -n "$DIR" ] || die "--dir is empty"
  [[ "$DIR" != *[,\\$'\n']* ]] || die "--dir must not contain a comma, backslash or newline: $DIR"
}

valid_port() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }

# Absolute form of $DIR (which must exist): log.dirs and the pid check need it.
absolute_dir() { DIR="$(cd "$DIR" && pwd)"; }

# --- process and broker checks -------------------------------------------------------------------

# True if pid $1 is the broker of DIR. A pid alone proves nothing (the process may have died and
# its pid been reused), so the command line must name this DIR's config. A zombie has none.
is_broker() {
  local cmdline
  cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline")" || return 1
  [[ "$cmdline" == *" kafka.Kafka $DIR/server.properties"* ]]
}

# Prints the pid of DIR's broker if it is running.
running_pid() {
  local pid
  pid="$(cat "$DIR/broker.pid" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && is_broker "$pid" || return 1
  echo "$pid"
}

# Prints what identifies process $1 across pid reuse (its start time), or fails if it is gone.
process_token() {
  local stat state start
  stat="$(cat 2>/dev/null "/proc/$1/stat")" || return 1
  # Fields after "pid (comm) ": state is field 3 of stat(5), starttime field 22.
  read -r state _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ start _ <<<"${stat##*) }"
  [ "$state" != Z ] || return 1
  echo "$start"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The plaintext port in server.properties (the SSL listener, if any, is listed after it).
configured_port() {
  local line
  line="$(grep '^advertised.listeners=' "$DIR/server.properties" 2>/dev/null)" || return 1
  line="${line#*PLAINTEXT://127.0.0.1:}"
  echo "${line%%,*}"
}

# Checks the --ssl-* options and makes the PEM paths absolute (the broker reads them later).
check_ssl_options() {
  if [ -z "$SSL_PORT" ]; then
    [ -z "$SSL_KEYSTORE$SSL_TRUSTSTORE" ] || die "--ssl-keystore and --ssl-truststore need --ssl-port"
    return 0
  fi
  valid_port "$SSL_PORT" || die "--ssl-port must be 1-65535, not '$SSL_PORT'"
  [ "$SSL_PORT" != "$PORT" ] && [ "$SSL_PORT" != "$CONTROLLER_PORT" ] ||
    die "--ssl-port must differ from --port and --controller-port"
  case "$SSL_CLIENT_AUTH" in
    required | requested | none) ;;
    *) die "--ssl-client-auth must be required, requested or none, not '$SSL_CLIENT_AUTH'" ;;
  esac
  local name file
  for name in keystore truststore; do
    if [ "$name" = keystore ]; then file="$SSL_KEYSTORE"; else file="$SSL_TRUSTSTORE"; fi
    [ -n "$file" ] || die "--ssl-port needs --ssl-$name (a PEM file)"
    [ -r "$file" ] || die "--ssl-$name $file is not a readable file"
    [[ "$file" != *[\\$'\n']* ]] || die "--ssl-$name must not contain a backslash or newline"
    file="$(cd "$(dirname "$file")" && pwd)/$(basename "$file")"
    if [ "$name" = keystore ]; then SSL_KEYSTORE="$file"; else SSL_TRUSTSTORE="$file"; fi
  done
  grep -q -- '-----BEGIN PRIVATE KEY-----' "$SSL_KEYSTORE" ||
    die "--ssl-keystore $SSL_KEYSTORE holds no unencrypted PKCS#8 key (BEGIN PRIVATE KEY)"
}

# True once the broker (node $2, default 1) answers a metadata request and lists itself, which it
# does only once the controller has unfenced it. The cheap TCP probe first keeps kcat from spending
# its whole timeout on reconnect backoff while the port is still closed.
answers_metadata() {
  local port="$1" node="${2:-1}" out
  port_open "$port" || return 1
  out="$(kcat -b "127.0.0.1:$port" -L -m 5 2>/dev/null)" || return 1
  [[ "$out" == *"broker $node at 127.0.0.1:$port"* ]]
}

show_logs() {
  local file
  for file in "$DIR/broker.out" "$DIR/broker.log"; do
    [ -s "$file" ] || continue
    echo "---- last lines of $file" >&2
    tail -n 40 "$file" >&2
  done
}

# --- start ---------------------------------------------------------------------------------------

write_server_properties() {
  local auto_create="${ASSENT_KAFKA_AUTO_CREATE:-false}"
  [[ "$auto_create" == true || "$auto_create" == false ]] ||
    die "ASSENT_KAFKA_AUTO_CREATE must be true or false, not '$auto_create'"
  local listeners="PLAINTEXT://127.0.0.1:$PORT" protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
  if [ -n "$SSL_PORT" ]; then
    listeners="$listeners,SSL://127.0.0.1:$SSL_PORT"
    protocols="$protocols,SSL:SSL"
  fi
  cat >"$DIR/server.properties" <<EOF
# Written by tools/kafka/kafka.sh start, on every start: a single-node KRaft broker and controller
# for development and tests. Edits are lost; change kafka.sh instead.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=$listeners,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
log.dirs=$DIR/data

# Topics are created explicitly (librdkafka's Admin API) unless ASSENT_KAFKA_AUTO_CREATE=true.
auto.create.topics.enable=$auto_create
num.partitions=1
default.replication.factor=1
min.insync.replicas=1

# One node, so every internal topic has one replica, and one partition is plenty (the default 50
# each costs seconds and 50 directories the first time a group or transaction appears).
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0

# Sized for a 2-core development machine and a 512 MiB heap.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.segment.bytes=16777216
log.cleaner.dedupe.buffer.size=33554432
EOF
  if [ -n "$SSL_PORT" ]; then
    # PEM stores (KIP-651): a file-based PEM key store takes no key store password, and no key
    # password for an unencrypted key; a PEM trust store takes no password at all.
    cat >>"$DIR/server.properties" <<EOF

# The SSL listener (--ssl-port), from PEM files.
listener.name.ssl.ssl.keystore.type=PEM
listener.name.ssl.ssl.keystore.location=$SSL_KEYSTORE
listener.name.ssl.ssl.truststore.type=PEM
listener.name.ssl.ssl.truststore.location=$SSL_TRUSTSTORE
listener.name.ssl.ssl.client.auth=$SSL_CLIENT_AUTH
EOF
  fi
}

write_log4j_config() {
  cat >"$DIR/log4j2.properties" <<EOF
# Written by tools/kafka/kafka.sh start, on every start.
status = warn
# Kafka logs its own shutdown from a JVM shutdown hook; log4j's hook would close the file first.
shutdownHook = disable
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = $DIR/broker.log
appender.file.filePattern = $DIR/broker.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policy.type = SizeBasedTriggeringPolicy
appender.file.policy.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = warn
EOF
}

storage_tool() {
  java -Xmx256m -Dlog4j2.configurationFile="$DIR/log4j2.properties" -cp "$LIBS/*" \
    kafka.tools.StorageTool "$@"
}

# Formats DIR/data once, under a cluster id generated once and kept in DIR/cluster.id. A restart
# finds meta.properties and skips the JVM start entirely (--ignore-formatted is only a safeguard).
format_storage() {
  [ -f "$DIR/data/meta.properties" ] && return 0
  if [ ! -s "$DIR/cluster.id" ]; then
    local id
    id="$(storage_tool random-uuid)" || die "StorageTool random-uuid failed"
    [[ "$id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "StorageTool random-uuid printed '$id'"
    echo "$id" >"$DIR/cluster.id"
  fi
  storage_tool format -t "$(cat "$DIR/cluster.id")" -c "$DIR/server.properties" \
    --ignore-formatted >"$DIR/format.out" 2>&1 || {
    cat "$DIR/format.out" >&2
    die "formatting $DIR/data failed"
  }
}

cmd_start() {
  parse_options "$@"
  valid_port "$PORT" || die "--port must be 1-65535, not '$PORT'"
  valid_port "$CONTROLLER_PORT" || die "--controller-port must be 1-65535, not '$CONTROLLER_PORT'"
  [ "$PORT" != "$CONTROLLER_PORT" ] || die "--port and --controller-port must differ"
  check_ssl_options
  if [ -n "$OWNER_PID" ]; then
    if ! [[ "$OWNER_PID" =~ ^[0-9]+$ ]] || ! process_token "$OWNER_PID" >/dev/null; then
      die "--owner-pid $OWNER_PID is not a running process"
    fi
  fi
  require_java
  require_kcat
  ensure_libs
  mkdir -p "$DIR"
  absolute_dir

  local pid
  if pid="$(running_pid)"; then
    [ "$(configured_port)" = "$PORT" ] ||
      die "the broker in $DIR (pid $pid) is running on port $(configured_port); stop it first"
    answers_metadata "$PORT" ||
      die "the broker in $DIR (pid $pid) is running but not answering on 127.0.0.1:$PORT"
    echo "kafka ready on 127.0.0.1:$PORT"
    return 0
  fi
  local port
  for port in "$PORT" "$CONTROLLER_PORT" $SSL_PORT; do
    ! port_open "$port" || die "127.0.0.1:$port is already in use"
  done

  write_server_properties
  write_log4j_config
  format_storage

  # The JVM options of Kafka's kafka-server-start.sh, with a smaller heap. nohup: the broker
  # outlives this script and the terminal it ran in.
  nohup java -Xmx512m -Xms256m -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$DIR/log4j2.properties" \
    -cp "$LIBS/*" kafka.Kafka "$DIR/server.properties" </dev/null >"$DIR/broker.out" 2>&1 &
  pid=$!
  echo "$pid" >"$DIR/broker.pid"
  note "started kafka $KAFKA_VERSION (pid $pid) in $DIR, waiting for 127.0.0.1:$PORT"

  local deadline=$((SECONDS + START_TIMEOUT_S))
  # Every listener opens before the broker answers metadata; the SSL port is checked too.
  until answers_metadata "$PORT" && { [ -z "$SSL_PORT" ] || port_open "$SSL_PORT"; }; do
    # Alive, not is_broker: for a moment after the fork the child has not exec'd java yet.
    if ! process_token "$pid" >/dev/null; then
      show_logs
      rm -f "$DIR/broker.pid"
      die "the broker exited during start-up (logs above)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      show_logs
      stop_broker "$pid" >&2
      die "the broker did not answer on 127.0.0.1:$PORT within ${START_TIMEOUT_S} s (logs above)"
    fi
    sleep 0.2
  done
  if [ -n "$OWNER_PID" ]; then
    # Started only now, when the pid is surely java's; if the owner died meanwhile, the watcher
    # stops the broker at once. Its output goes to a file: a caller reading ours through a pipe
    # (popen) must see EOF.
    watch_owner "$OWNER_PID" "$pid" </dev/null >>"$DIR/watch.log" 2>&1 &
  fi
  echo "kafka ready on 127.0.0.1:$PORT${SSL_PORT:+ (ssl on 127.0.0.1:$SSL_PORT)}"
}

# Runs in the background for start --owner-pid: a test passes its own pid so that its broker goes
# with it even when the test crashes before it can call stop. Ends by itself once the broker stops.
watch_owner() {
  local owner="$1" broker="$2" token
  trap '' HUP INT
  token="$(process_token "$owner")" || token=gone
  while is_broker "$broker" && [ "$(process_token "$owner")" = "$token" ]; do
    sleep 1
  done
  if is_broker "$broker"; then
    note "$(date -u +%FT%TZ) owner pid $owner exited; stopping the broker"
    stop_broker "$broker"
  fi
}

# --- stop and status -----------------------------------------------------------------------------

# SIGTERM gives a controlled shutdown (logs flushed, clean-shutdown marker written, so the next
# start skips log recovery); SIGKILL only if that takes longer than STOP_TIMEOUT_S.
stop_broker() {
  local pid="$1" deadline=$((SECONDS + STOP_TIMEOUT_S))
  kill -TERM "$pid" 2>/dev/null || true
  while is_broker "$pid"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      note "pid $pid did not exit within ${STOP_TIMEOUT_S} s of SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 10))
      while is_broker "$pid"; do
        [ "$SECONDS" -lt "$deadline" ] || die "pid $pid survived SIGKILL"
        sleep 0.1
      done
      break
    fi
    sleep 0.1
  done
  if [ "$(cat "$DIR/broker.pid" 2>/dev/null)" = "$pid" ]; then
    rm -f "$DIR/broker.pid"
  fi
  echo "kafka stopped ($DIR)"
}

cmd_stop() {
  parse_options "$@"
  if [ ! -d "$DIR" ]; then
    echo "kafka not running ($DIR)"
    return 0
  fi
  absolute_dir
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$DIR/broker.pid"
    echo "kafka not running ($DIR)"
    return 0
  fi
  stop_broker "$pid"
}

cmd_status() {
  parse_options "$@"
  [ -d "$DIR" ] || { echo "kafka not running ($DIR)"; return 1; }
  absolute_dir
  local pid port
  pid="$(running_pid)" || { echo "kafka not running ($DIR)"; return 1; }
  port="$(configured_port)" || die "no $DIR/server.properties"
  if [ "$PORT_GIVEN" = true ] && [ "$PORT" != "$port" ]; then
    echo "kafka running (pid $pid) on 127.0.0.1:$port, not $PORT"
    return 1
  fi
  require_kcat
  answers_metadata "$port" || {
    echo "kafka running (pid $pid) but not answering on 127.0.0.1:$port"
    return 1
  }
  echo "kafka running on 127.0.0.1:$port (pid $pid, $DIR)"
}

# Cluster mode lives in its own file; it reuses the helpers above.
# shellcheck source=cluster.sh
. "$SCRIPT_DIR/cluster.sh"

[ -n "$KAFKA_VERSION" ] || die "no <kafka.version> in $POM"
[ $# -ge 1 ] || usage
command="$1"
readonly COMMAND="$command"
shift
case "$command" in
  fetch) cmd_fetch "$@" ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  status) cmd_status "$@" ;;
  cluster-start) cmd_cluster_start "$@" ;;
  cluster-stop) cmd_cluster_stop "$@" ;;
  cluster-status) cmd_cluster_status "$@" ;;
  node-start) cmd_node_start "$@" ;;
  node-stop) cmd_node_stop "$@" ;;
  node-kill) cmd_node_kill "$@" ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
