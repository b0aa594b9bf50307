#!/usr/bin/env bash
# Local Kafka + Redis for trustline's integration tests and for running trustline by hand.
#
#   bash scripts/services.sh up [redis] [kafka]     start (or reuse) and wait until they answer
#   bash scripts/services.sh down [redis] [kafka]   stop what this checkout started (TERM, then KILL)
#   bash scripts/services.sh status                 report each service; exit 0 only if all answer
#   bash scripts/services.sh clean                  down + delete broker data and Redis files
#                                                   (keeps the downloaded Kafka jars)
#   bash scripts/services.sh kafka-libs             fetch the Kafka jars if missing; prints KAFKA_LIBS=<dir>
#                                                   (for tests that launch a private broker)
#
# `up` prints only machine-readable lines on stdout, all diagnostics go to stderr:
#   KAFKA_BROKERS=127.0.0.1:39092
#   REDIS_URL=redis://127.0.0.1:36379
#   SERVICES_STARTED=redis,kafka        (what this call started itself; empty when all reused)
# so `eval "$(bash scripts/services.sh up)"` works.
#
# Redis is the Debian `redis-server`; Kafka is a real single-node Apache Kafka broker in KRaft
# mode (broker + controller in one JVM) built from the official jars on Maven Central
# (scripts/kafka/pom.xml), cached under .cache/kafka/libs. No Docker needed. Everything binds
# 127.0.0.1. State lives in .cache/services/ (git-ignored).
#
# Environment: REDIS_PORT (36379), KAFKA_PORT (39092), KAFKA_CONTROLLER_PORT (KAFKA_PORT+1),
# SERVICES_TIMEOUT (120 s, readiness wait per service), SERVICES_STOP_TIMEOUT (30 s before KILL),
# KAFKA_HEAP_OPTS ("-Xms256m -Xmx512m").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="$ROOT/.cache"
SERVICES_DIR="$CACHE_DIR/services"

REDIS_PORT="${REDIS_PORT:-36379}"
KAFKA_PORT="${KAFKA_PORT:-39092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
SERVICES_TIMEOUT="${SERVICES_TIMEOUT:-120}"
SERVICES_STOP_TIMEOUT="${SERVICES_STOP_TIMEOUT:-30}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"

REDIS_DIR="$SERVICES_DIR/redis"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

KAFKA_POM="$ROOT/scripts/kafka/pom.xml"
KAFKA_LOG4J="$ROOT/scripts/kafka/log4j.properties"
KAFKA_PROBE="$ROOT/scripts/kafka/probe.mjs"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")"
KAFKA_LIBS="$CACHE_DIR/kafka/libs"
KAFKA_LIBS_MARKER="$KAFKA_LIBS/.complete-$KAFKA_VERSION"
KAFKA_DIR="$SERVICES_DIR/kafka"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_PIDFILE="$KAFKA_DIR/kafka.pid"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
KAFKA_CLUSTER_ID_FILE="$KAFKA_DIR/cluster-id"
KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"

log() { printf '[services] %s\n' "$*" >&2; }
die() {
  printf '[services] ERROR: %s\n' "$*" >&2
  # Even when `up` fails half-way, tell the caller what it did start, so it can stop it.
  if [[ "${UP_MODE:-0}" == 1 ]]; then
    local IFS=,
    echo "SERVICES_STARTED=${STARTED[*]-}"
  fi
  exit 1
}
now_s() { date +%s; }

# Print the last lines of a log file to stderr, framed, if it exists.
tail_log() {
  local file="$1" lines="${2:-40}"
  if [[ -s "$file" ]]; then
    printf '[services] ---- last %s lines of %s ----\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" >&2 || true
    printf '[services] ---- end of %s ----\n' "$file" >&2
  fi
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# True while process $1 exists and is not a zombie (an exited daemon whose parent, often
# pid 1 in containers, has not reaped it yet still passes `kill -0`).
alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)"
  [[ "$state" != "Z" && "$state" != "X" ]]
}

# Print the pid in pidfile $1 if that process is alive and its command line contains $2.
live_pid() {
  local pidfile="$1" pattern="$2" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(tr -dc '0-9' <"$pidfile" || true)"
  [[ -n "$pid" ]] || return 0
  alive "$pid" || return 0
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  if [[ "$cmdline" == *"$pattern"* ]]; then
    echo "$pid"
  fi
}

need_node_modules() {
  [[ -d "$ROOT/node_modules/kafkajs" && -d "$ROOT/node_modules/ioredis" ]] ||
    die "node_modules is missing kafkajs/ioredis (needed for the readiness checks): run 'npm ci' first"
}

redis_ping() {
  if command -v redis-cli >/dev/null 2>&1; then
    [[ "$(timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null || true)" == "PONG" ]]
  else
    need_node_modules
    timeout 10 node "$KAFKA_PROBE" redis "$REDIS_URL" >/dev/null 2>&1
  fi
}

kafka_ping() {
  timeout 15 node "$KAFKA_PROBE" kafka "$KAFKA_BROKERS" >/dev/null 2>"$KAFKA_DIR/probe.err"
}

# wait_ready NAME PING_FN PIDFILE PATTERN LOG...: poll PING_FN once a second until it succeeds,
# the process dies, or SERVICES_TIMEOUT passes.
wait_ready() {
  local name="$1" ping="$2" pidfile="$3" pattern="$4"
  shift 4
  local start deadline pid f
  start="$(now_s)"
  deadline=$((start + SERVICES_TIMEOUT))
  while true; do
    if "$ping"; then
      log "$name is ready after $(($(now_s) - start)) s"
      return 0
    fi
    pid="$(live_pid "$pidfile" "$pattern")"
    if [[ -z "$pid" ]] && [[ $(($(now_s) - start)) -ge 3 ]]; then
      for f in "$@"; do tail_log "$f"; done
      die "$name exited during start-up (logs above)"
    fi
    if [[ "$(now_s)" -ge "$deadline" ]]; then
      for f in "$@"; do tail_log "$f"; done
      die "$name did not answer within ${SERVICES_TIMEOUT}s (logs above; raise SERVICES_TIMEOUT if the machine is just slow)"
    fi
    sleep 1
  done
}

STARTED=()

# ---------------------------------------------------------------------------------------------
# Redis

redis_up() {
  command -v redis-server >/dev/null 2>&1 ||
    die "redis-server not found: install it with: apt-get update && apt-get install -y redis-server"
  mkdir -p "$REDIS_DIR"

  local pid
  pid="$(live_pid "$REDIS_PIDFILE" redis-server)"
  if [[ -n "$pid" ]]; then
    log "redis: reusing pid $pid on 127.0.0.1:$REDIS_PORT"
    wait_ready redis redis_ping "$REDIS_PIDFILE" redis-server "$REDIS_LOG"
    return 0
  fi
  rm -f "$REDIS_PIDFILE"

  if port_open "$REDIS_PORT"; then
    if redis_ping; then
      log "redis: something not started by this checkout already answers PING on 127.0.0.1:$REDIS_PORT; reusing it ('down' will not stop it)"
      return 0
    fi
    die "port $REDIS_PORT is in use by something that is not Redis; set REDIS_PORT to a free port"
  fi

  # hash-max-listpack-*: agent states are kept in small bucket hashes in listpack encoding (docs/operations.md, Redis).
  log "redis: starting redis-server on 127.0.0.1:$REDIS_PORT (files in $REDIS_DIR)"
  # 9>&- : do not hand the services lock to the daemon.
  redis-server \
    --bind 127.0.0.1 --port "$REDIS_PORT" \
    --daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" --dir "$REDIS_DIR" \
    --save '' --appendonly no \
    --hash-max-listpack-value 512 --hash-max-listpack-entries 512 9>&- </dev/null >&2
  STARTED+=(redis)
  wait_ready redis redis_ping "$REDIS_PIDFILE" redis-server "$REDIS_LOG"
}

redis_status() {
  local pid
  pid="$(live_pid "$REDIS_PIDFILE" redis-server)"
  if redis_ping; then
    if [[ -n "$pid" ]]; then
      echo "redis: running, pid $pid, $REDIS_URL, PING ok"
    else
      echo "redis: answering on $REDIS_URL but not started by this checkout"
    fi
    return 0
  fi
  if [[ -n "$pid" ]]; then
    echo "redis: pid $pid alive but not answering PING on $REDIS_URL (log: $REDIS_LOG)"
  else
    echo "redis: stopped"
  fi
  return 3
}

# ---------------------------------------------------------------------------------------------
# Kafka

java_tool() {
  java -Xmx256m -XX:TieredStopAtLevel=1 \
    -Dlog4j.configuration="file:$KAFKA_LOG4J" -Dkafka.logs.dir="$KAFKA_DIR" \
    -cp "$KAFKA_LIBS/*" "$@"
}

ensure_kafka_libs() {
  [[ -n "$KAFKA_VERSION" ]] || die "cannot read <kafka.version> from $KAFKA_POM"
  [[ -f "$KAFKA_LIBS_MARKER" ]] && return 0
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found (needed once to fetch the Kafka jars): install it with: apt-get update && apt-get install -y maven"
  mkdir -p "$CACHE_DIR/kafka"
  local mvnlog="$CACHE_DIR/kafka/maven.log" start
  start="$(now_s)"
  log "kafka: fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS (first run only; log: $mvnlog)"
  rm -rf "$KAFKA_LIBS"
  if ! mvn -B -ntp -Dstyle.color=never -f "$KAFKA_POM" -Dlibs.dir="$KAFKA_LIBS" package </dev/null >"$mvnlog" 2>&1; then
    tail_log "$mvnlog" 60
    die "Maven could not fetch the Kafka jars (log above)"
  fi
  [[ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" && -f "$KAFKA_LIBS/kafka-clients-$KAFKA_VERSION.jar" ]] ||
    die "Maven finished but $KAFKA_LIBS lacks the Kafka $KAFKA_VERSION jars (see $mvnlog)"
  touch "$KAFKA_LIBS_MARKER"
  log "kafka: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars ready after $(($(now_s) - start)) s"
}

write_kafka_props() {
  cat >"$KAFKA_PROPS" <<EOF
# Generated by scripts/services.sh on every start; edit the script, not this file.
# Single-node KRaft: this JVM is both broker and (sole) controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DATA

# One replica of everything.
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# Fewer internal partitions than the default 50: the first consumer group and the first
# transactional producer start in a second instead of several on a 2-core machine.
offsets.topic.num.partitions=5
transaction.state.log.num.partitions=5

# Test friendliness. Tests create their own topics explicitly; auto-create stays on (default).
auto.create.topics.enable=true
delete.topic.enable=true
group.initial.rebalance.delay.ms=0

# Small machine: few threads, small log-cleaner buffer (compacted topics still work).
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
log.retention.hours=24
log.retention.check.interval.ms=300000
EOF
}

kafka_up() {
  command -v java >/dev/null 2>&1 ||
    die "java not found (Kafka needs Java 17+): install it with: apt-get update && apt-get install -y openjdk-17-jre-headless"
  need_node_modules
  mkdir -p "$KAFKA_DIR"

  local pid
  pid="$(live_pid "$KAFKA_PIDFILE" kafka.Kafka)"
  if [[ -n "$pid" ]]; then
    log "kafka: reusing pid $pid on $KAFKA_BROKERS"
    wait_ready kafka kafka_ping "$KAFKA_PIDFILE" kafka.Kafka "$KAFKA_DIR/server.log" "$KAFKA_DIR/stdout.log"
    return 0
  fi
  rm -f "$KAFKA_PIDFILE"

  if port_open "$KAFKA_PORT"; then
    if kafka_ping; then
      log "kafka: a broker not started by this checkout already answers on $KAFKA_BROKERS; reusing it ('down' will not stop it)"
      return 0
    fi
    die "port $KAFKA_PORT is in use by something that is not a Kafka broker; set KAFKA_PORT to a free port"
  fi
  if port_open "$KAFKA_CONTROLLER_PORT"; then
    die "controller port $KAFKA_CONTROLLER_PORT is in use; set KAFKA_CONTROLLER_PORT (or KAFKA_PORT) to free ports"
  fi

  ensure_kafka_libs
  write_kafka_props

  # The cluster id lives in the formatted data dir; keep a copy next to it. A data dir that
  # is already formatted keeps its own id.
  local cluster_id=""
  if [[ -f "$KAFKA_DATA/meta.properties" ]]; then
    cluster_id="$(sed -n 's/^cluster\.id=//p' "$KAFKA_DATA/meta.properties")"
  elif [[ -s "$KAFKA_CLUSTER_ID_FILE" ]]; then
    cluster_id="$(<"$KAFKA_CLUSTER_ID_FILE")"
  fi
  if [[ -z "$cluster_id" ]]; then
    cluster_id="$(java_tool kafka.tools.StorageTool random-uuid 2>>"$KAFKA_DIR/tools.log" | tail -n 1 | tr -d '[:space:]')"
    [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka.tools.StorageTool random-uuid gave '$cluster_id' (see $KAFKA_DIR/tools.log)"
  fi
  printf '%s\n' "$cluster_id" >"$KAFKA_CLUSTER_ID_FILE"

  if [[ ! -f "$KAFKA_DATA/meta.properties" ]]; then
    log "kafka: formatting $KAFKA_DATA (cluster id $cluster_id)"
    mkdir -p "$KAFKA_DATA"
    if ! java_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_PROPS" --ignore-formatted \
      >>"$KAFKA_DIR/tools.log" 2>&1 </dev/null; then
      tail_log "$KAFKA_DIR/tools.log"
      die "formatting the Kafka storage failed (log above)"
    fi
  fi

  log "kafka: starting Apache Kafka $KAFKA_VERSION (KRaft) on $KAFKA_BROKERS, controller 127.0.0.1:$KAFKA_CONTROLLER_PORT (log: $KAFKA_DIR/server.log)"
  # setsid + nohup: the broker outlives this script and is not hit by the caller's Ctrl-C.
  # The inner bash writes its own pid, then becomes java through exec, so the pid file holds
  # the JVM's pid whatever setsid does. 9>&- : do not hand the services lock to the JVM.
  # shellcheck disable=SC2086,SC2016
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$KAFKA_PIDFILE" \
    java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$KAFKA_LOG4J" -Dkafka.logs.dir="$KAFKA_DIR" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS" \
    </dev/null >>"$KAFKA_DIR/stdout.log" 2>&1 9>&- &
  STARTED+=(kafka)
  local i
  for i in $(seq 1 50); do
    [[ -s "$KAFKA_PIDFILE" ]] && break
    sleep 0.1
  done
  wait_ready kafka kafka_ping "$KAFKA_PIDFILE" kafka.Kafka "$KAFKA_DIR/server.log" "$KAFKA_DIR/stdout.log" "$KAFKA_DIR/probe.err"
  # Best effort: have the broker create __consumer_offsets now, not in the first test.
  timeout 40 node "$KAFKA_PROBE" kafka-warm "$KAFKA_BROKERS" >/dev/null 2>>"$KAFKA_DIR/probe.err" ||
    log "kafka: warning: the group coordinator is not ready yet (consumers will wait for it)"
}

kafka_status() {
  mkdir -p "$KAFKA_DIR"
  local pid
  pid="$(live_pid "$KAFKA_PIDFILE" kafka.Kafka)"
  if [[ -d "$ROOT/node_modules/kafkajs" ]] && kafka_ping; then
    if [[ -n "$pid" ]]; then
      echo "kafka: running, pid $pid, $KAFKA_BROKERS, metadata ok (Kafka $KAFKA_VERSION, KRaft)"
    else
      echo "kafka: answering on $KAFKA_BROKERS but not started by this checkout"
    fi
    return 0
  fi
  if [[ -n "$pid" ]]; then
    echo "kafka: pid $pid alive but not answering on $KAFKA_BROKERS (log: $KAFKA_DIR/server.log)"
  else
    echo "kafka: stopped"
  fi
  return 3
}

# ---------------------------------------------------------------------------------------------
# Stopping

# stop_pid NAME PIDFILE PATTERN: SIGTERM, wait up to SERVICES_STOP_TIMEOUT, then SIGKILL.
stop_pid() {
  local name="$1" pidfile="$2" pattern="$3" pid start
  pid="$(live_pid "$pidfile" "$pattern")"
  if [[ -z "$pid" ]]; then
    log "$name: not running (nothing started by this checkout)"
    rm -f "$pidfile"
    return 0
  fi
  start="$(now_s)"
  log "$name: stopping pid $pid (SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  while alive "$pid"; do
    if [[ $(($(now_s) - start)) -ge "$SERVICES_STOP_TIMEOUT" ]]; then
      log "$name: still alive after ${SERVICES_STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.1
  done
  rm -f "$pidfile"
  log "$name: stopped after $(($(now_s) - start)) s"
}

# ---------------------------------------------------------------------------------------------

usage() {
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# Which services a command applies to: the arguments after it, or both.
select_services() {
  WANT_REDIS=0
  WANT_KAFKA=0
  if [[ $# -eq 0 ]]; then
    WANT_REDIS=1
    WANT_KAFKA=1
  fi
  local s
  for s in "$@"; do
    case "$s" in
    redis) WANT_REDIS=1 ;;
    kafka) WANT_KAFKA=1 ;;
    *) die "unknown service '$s' (expected redis and/or kafka)" ;;
    esac
  done
}

take_lock() {
  mkdir -p "$SERVICES_DIR"
  exec 9>"$SERVICES_DIR/.lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w $((SERVICES_TIMEOUT * 2 + 60)) 9 || die "another scripts/services.sh is still running (lock $SERVICES_DIR/.lock)"
  fi
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
  up)
    select_services "$@"
    take_lock
    UP_MODE=1
    [[ "$WANT_REDIS" == 1 ]] && redis_up
    [[ "$WANT_KAFKA" == 1 ]] && kafka_up
    [[ "$WANT_KAFKA" == 1 ]] && echo "KAFKA_BROKERS=$KAFKA_BROKERS"
    [[ "$WANT_REDIS" == 1 ]] && echo "REDIS_URL=$REDIS_URL"
    local IFS=,
    echo "SERVICES_STARTED=${STARTED[*]-}"
    ;;
  down | stop)
    select_services "$@"
    take_lock
    [[ "$WANT_KAFKA" == 1 ]] && stop_pid kafka "$KAFKA_PIDFILE" kafka.Kafka
    [[ "$WANT_REDIS" == 1 ]] && stop_pid redis "$REDIS_PIDFILE" redis-server
    return 0
    ;;
  status)
    select_services "$@"
    local rc=0
    if [[ "$WANT_REDIS" == 1 ]]; then redis_status || rc=3; fi
    if [[ "$WANT_KAFKA" == 1 ]]; then kafka_status || rc=3; fi
    return "$rc"
    ;;
  clean)
    main down
    log "deleting $SERVICES_DIR (Kafka data, Redis files, logs); the Kafka jars in $KAFKA_LIBS stay"
    rm -rf "$SERVICES_DIR"
    ;;
  kafka-libs)
    take_lock
    ensure_kafka_libs
    echo "KAFKA_LIBS=$KAFKA_LIBS"
    ;;
  -h | --help | help) usage ;;
  *) usage ;;
  esac
}

main "$@"
