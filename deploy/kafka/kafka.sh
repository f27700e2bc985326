#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft, broker + controller in one JVM) on 127.0.0.1,
# assembled from Maven Central jars: no binary tarball, no Docker, no ZooKeeper.
#
# Usage:
#   kafka.sh fetch                    copy kafka_2.13 and its runtime jars into the cache (once)
#   kafka.sh start DATA_DIR [PORT]    format DATA_DIR if new, start in the background,
#                                     print the bootstrap address (127.0.0.1:PORT) once ready
#   kafka.sh stop DATA_DIR            SIGTERM, then SIGKILL after KAFKA_STOP_TIMEOUT seconds
#   kafka.sh status DATA_DIR          exit 0 and print the bootstrap if running, exit 3 if not
#   kafka.sh run DATA_DIR [PORT]      like start, but in the foreground (exec's the JVM)
#
# DATA_DIR holds everything of one broker: server.properties, the Kafka log directory
# (logs/), kafka.log (the broker's own log) and kafka.pid. Topics and messages survive
# stop/start. Without PORT, a restart reuses the port recorded in DATA_DIR/server.properties,
# and a new DATA_DIR gets a free port.
#
# Environment:
#   KAFKA_VERSION          Kafka release to fetch and run (default 4.4.0)
#   CARELOOP_CACHE         cache root (default ~/.cache/careloop); jars go to
#                          $CARELOOP_CACHE/kafka-$KAFKA_VERSION/libs
#   KAFKA_HEAP_OPTS        JVM heap options (default -Xms128m -Xmx512m)
#   KAFKA_JVM_PERFORMANCE_OPTS  GC and JIT options (default: Kafka's G1 settings, C1-only JIT)
#   KAFKA_OPTS             extra JVM options, appended
#   KAFKA_START_TIMEOUT    seconds to wait for the broker to be ready (default 120)
#   KAFKA_STOP_TIMEOUT     seconds to wait after SIGTERM before SIGKILL (default 30)
#   KAFKA_MVN_ARGS         extra Maven arguments for fetch, e.g. -Dmaven.repo.local=/path
#   JAVA_HOME              Java 17+ (default: java on PATH)
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
SCRIPT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/$(basename "${BASH_SOURCE[0]}")"
SCRIPT_DIR="$(dirname "$SCRIPT")"
CACHE_ROOT="${CARELOOP_CACHE:-${HOME:?HOME is not set}/.cache/careloop}"
KAFKA_HOME="$CACHE_ROOT/kafka-$KAFKA_VERSION"
LIBS="$KAFKA_HOME/libs"
HOST=127.0.0.1
NODE_ID=1
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
# A small heap: the broker shares the machine with PostgreSQL and the tests.
DEFAULT_HEAP_OPTS="-Xms128m -Xmx512m"
# Kafka's own G1 settings (bin/kafka-run-class.sh), plus C1-only JIT: on a busy two-core
# machine C2 compiler threads compete with startup (measured: ~1 s of a 4-6 s start, several
# seconds under load). For long-running throughput work, set KAFKA_JVM_PERFORMANCE_OPTS
# without -XX:TieredStopAtLevel=1.
DEFAULT_PERFORMANCE_OPTS="-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
-XX:+ExplicitGCInvokesConcurrent -XX:TieredStopAtLevel=1 -Djava.awt.headless=true"
# The broker logs "Kafka Server started" once it is unfenced and serving; an open port
# alone is not enough (the listener binds before the broker can host partitions).
READY_MESSAGE='Kafka Server started'

die() {
    echo "kafka.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$SCRIPT" >&2
    exit 2
}

# --- fetch -----------------------------------------------------------------------------

pom_digest() {
    { cat "$SCRIPT_DIR/pom.xml"; echo "kafka.version=$KAFKA_VERSION"; } | sha256sum | cut -d' ' -f1
}

# The cache is complete when libs/.complete holds the digest of the pom it was built from,
# so editing pom.xml (say, another Log4j version) refetches instead of running stale jars.
libs_ready() {
    [[ -f "$LIBS/.complete" ]] && [[ "$(cat "$LIBS/.complete")" == "$(pom_digest)" ]]
}

cmd_fetch() {
    if ! libs_ready; then
        command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Kafka $KAFKA_VERSION; install it or fill $LIBS"
        mkdir -p "$KAFKA_HOME"
        # Concurrent fetches (parallel test sessions) serialize here instead of racing.
        exec 9>"$KAFKA_HOME/.fetch.lock"
        if command -v flock >/dev/null; then flock 9; fi
        if ! libs_ready; then
            local partial="$KAFKA_HOME/libs.partial.$$"
            rm -rf "$partial"
            echo "kafka.sh: fetching Kafka $KAFKA_VERSION and its runtime dependencies from Maven into $LIBS" >&2
            # Maven prints its errors on stdout; stdout of fetch is reserved for the libs path.
            # Maven 3.8 -q -B still emits bare ANSI resets: strip escape codes (pipefail keeps mvn's status).
            # shellcheck disable=SC2086  # KAFKA_MVN_ARGS is a list of arguments on purpose
            if ! mvn -B -q -f "$SCRIPT_DIR/pom.xml" \
                -Dkafka.version="$KAFKA_VERSION" \
                dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$partial" \
                ${KAFKA_MVN_ARGS:-} 2>&1 | sed -e $'s/\x1b\\[[0-9;]*m//g' -e '/^$/d' >&2; then
                rm -rf "$partial"
                die "Maven could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION (see the Maven output above)"
            fi
            [[ -f "$partial/kafka_2.13-$KAFKA_VERSION.jar" ]] || {
                rm -rf "$partial"
                die "Maven finished but $partial has no kafka_2.13-$KAFKA_VERSION.jar"
            }
            pom_digest >"$partial/.complete"
            rm -rf "$LIBS"
            mv "$partial" "$LIBS"
        fi
        exec 9>&-
    fi
    echo "$LIBS"
}

# --- ports and processes ---------------------------------------------------------------

# True when something accepts TCP connections on HOST:$1.
port_open() {
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# A port nobody listens on, below the kernel's ephemeral range so that it never collides
# with ports the kernel hands out (outgoing connections, bind-to-0). Arguments: ports to avoid.
pick_port() {
    local low=32768 _high port _try
    if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
        read -r low _high </proc/sys/net/ipv4/ip_local_port_range
    fi
    ((low > 11000)) || low=32768
    for _try in {1..100}; do
        port=$((10000 + RANDOM % (low - 10000)))
        [[ " $* " == *" $port "* ]] && continue
        port_open "$port" || {
            echo "$port"
            return 0
        }
    done
    die "found no free port on $HOST"
}

valid_port() {
    [[ "$1" =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= 65535))
}

# "PORT CONTROLLER_PORT" from DATA_DIR/server.properties, or nothing.
recorded_ports() {
    local config="$1/server.properties" line
    [[ -f "$config" ]] || return 0
    line="$(grep -E '^listeners=' "$config" | tail -n 1)" || return 0
    if [[ "$line" =~ PLAINTEXT://[^,:]+:([0-9]+) ]]; then
        local port="${BASH_REMATCH[1]}"
        [[ "$line" =~ CONTROLLER://[^,:]+:([0-9]+) ]] && echo "$port ${BASH_REMATCH[1]}"
    fi
}

# The pid in DATA_DIR/kafka.pid if that process is alive and is this DATA_DIR's broker
# (a pid file left by a crash may name a recycled pid).
running_pid() {
    local data_dir="$1" pid
    pid="$(cat "$data_dir/kafka.pid" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    if [[ -r "/proc/$pid/cmdline" ]]; then
        # bash kafka.sh run DATA_DIR ..., then (after exec) java ... kafka.Kafka DATA_DIR/server.properties
        tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -e "$data_dir" -e "$data_dir/server.properties" || return 1
    fi
    echo "$pid"
}

absolute_dir() {
    mkdir -p "$1" && (cd "$1" && pwd -P)
}

# --- configuration and storage ---------------------------------------------------------

write_config() {
    local data_dir="$1" port="$2" controller_port="$3"
    cat >"$data_dir/server.properties.new" <<EOF
# Written by $SCRIPT on every start; edits here are overwritten.
# Single-node KRaft: this one process is both the broker and the (only) controller.
process.roles=broker,controller
node.id=$NODE_ID
# A static quorum: the voter set comes from this file, not from the metadata log, so
# the controller port may change between restarts without reformatting.
controller.quorum.voters=$NODE_ID@$HOST:$controller_port
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$HOST:$port,CONTROLLER://$HOST:$controller_port
advertised.listeners=PLAINTEXT://$HOST:$port
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT

log.dirs=$data_dir/logs

# One broker: every internal topic has one replica.
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Topics are created explicitly, with their partition counts; a typo must not create one.
auto.create.topics.enable=false
# Consumer groups rebalance at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0

# Sized for a small shared machine.
num.network.threads=2
num.io.threads=2
EOF
    mv "$data_dir/server.properties.new" "$data_dir/server.properties"
}

# A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (22 characters).
new_cluster_id() {
    local id
    while :; do
        id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
        # Kafka's own generator avoids a leading '-' so the id never looks like an option.
        [[ "$id" == -* ]] || break
    done
    echo "$id"
}

format_storage() {
    local data_dir="$1"
    [[ -f "$data_dir/logs/meta.properties" ]] && return 0
    local cluster_id
    cluster_id="$(new_cluster_id)"
    echo "kafka.sh: formatting $data_dir/logs for cluster $cluster_id" >&2
    # With controller.quorum.voters set this is a static quorum: no --standalone /
    # --initial-controllers, which only dynamic (controller.quorum.bootstrap.servers) quorums need.
    "$JAVA" -Xmx256m -Dlog4j2.configurationFile="$SCRIPT_DIR/log4j2.properties" -cp "$LIBS/*" \
        kafka.tools.StorageTool format --cluster-id "$cluster_id" \
        --config "$data_dir/server.properties" --ignore-formatted >&2 ||
        die "formatting $data_dir/logs failed (Kafka $KAFKA_VERSION, java: $JAVA)"
}

# Port for this start: the argument, else the one recorded in DATA_DIR, else a free one.
choose_port() {
    local data_dir="$1" requested="${2:-}" recorded
    if [[ -n "$requested" ]]; then
        valid_port "$requested" || die "not a TCP port: $requested"
        echo "$requested"
        return 0
    fi
    recorded="$(recorded_ports "$data_dir")"
    if [[ -n "$recorded" ]]; then
        echo "${recorded%% *}"
    else
        pick_port
    fi
}

# --- commands --------------------------------------------------------------------------

cmd_run() {
    (($# >= 1 && $# <= 2)) || usage
    local data_dir port controller_port recorded pid
    data_dir="$(absolute_dir "$1")" || die "cannot create $1"
    if pid="$(running_pid "$data_dir")" && [[ "$pid" != "$$" ]]; then
        die "Kafka is already running for $data_dir (pid $pid); see $data_dir/kafka.log"
    fi
    echo "$$" >"$data_dir/kafka.pid" # exec keeps the pid: this is the JVM's pid from here on
    cmd_fetch >/dev/null
    port="$(choose_port "$data_dir" "${2:-}")"
    port_open "$port" && die "port $port on $HOST is already in use"
    recorded="$(recorded_ports "$data_dir")"
    controller_port="${recorded#* }"
    if [[ -z "$recorded" || "$controller_port" == "$port" ]] || port_open "$controller_port"; then
        controller_port="$(pick_port "$port")"
    fi
    write_config "$data_dir" "$port" "$controller_port"
    format_storage "$data_dir"
    # shellcheck disable=SC2086  # the *_OPTS variables are lists of JVM options on purpose
    exec "$JAVA" ${KAFKA_HEAP_OPTS:-$DEFAULT_HEAP_OPTS} ${KAFKA_JVM_PERFORMANCE_OPTS:-$DEFAULT_PERFORMANCE_OPTS} \
        -Dlog4j2.configurationFile="$SCRIPT_DIR/log4j2.properties" -Dkafka.logs.dir="$data_dir" \
        ${KAFKA_OPTS:-} \
        -cp "$LIBS/*" kafka.Kafka "$data_dir/server.properties"
}

show_failure() {
    local log="$1" offset="$2"
    echo "--- last lines of $log ---" >&2
    tail -c +"$((offset + 1))" "$log" 2>/dev/null | tail -n 25 >&2
}

cmd_start() {
    (($# >= 1 && $# <= 2)) || usage
    local data_dir port log pid launcher offset deadline
    data_dir="$(absolute_dir "$1")" || die "cannot create $1"
    log="$data_dir/kafka.log"
    if pid="$(running_pid "$data_dir")"; then
        die "Kafka is already running for $data_dir (pid $pid); see $log"
    fi
    cmd_fetch >/dev/null # in the foreground, so Maven's errors reach the terminal
    port="$(choose_port "$data_dir" "${2:-}")"
    port_open "$port" && die "port $port on $HOST is already in use"
    echo "=== kafka.sh $(date +%Y-%m-%dT%H:%M:%S%z): start $data_dir $port" >>"$log"
    offset="$(stat -c %s "$log")"
    rm -f "$data_dir/kafka.pid"
    # Its own session: the broker outlives this script and ignores the terminal's Ctrl-C.
    setsid "$BASH" "$SCRIPT" run "$data_dir" "$port" </dev/null >>"$log" 2>&1 &
    launcher=$!
    deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        pid="$(cat "$data_dir/kafka.pid" 2>/dev/null || true)"
        if ! kill -0 "$launcher" 2>/dev/null && ! { [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; }; then
            echo "kafka.sh: Kafka exited before accepting connections on $HOST:$port; see $log" >&2
            show_failure "$log" "$offset"
            exit 1
        fi
        if port_open "$port" && tail -c +"$((offset + 1))" "$log" | grep -qF "$READY_MESSAGE"; then
            echo "$HOST:$port"
            return 0
        fi
        sleep 0.2
    done
    echo "kafka.sh: Kafka did not become ready on $HOST:$port within ${START_TIMEOUT}s; stopping it; see $log" >&2
    show_failure "$log" "$offset"
    cmd_stop "$data_dir" >/dev/null || true
    exit 1
}

cmd_stop() {
    (($# == 1)) || usage
    local data_dir pid deadline
    [[ -d "$1" ]] || die "no such data directory: $1"
    data_dir="$(cd "$1" && pwd -P)"
    if ! pid="$(running_pid "$data_dir")"; then
        rm -f "$data_dir/kafka.pid"
        echo "not running"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "kafka.sh: Kafka (pid $pid) still running ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL; see $data_dir/kafka.log" >&2
        # The broker leads its own process group (setsid); take any children with it.
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$data_dir/kafka.pid"
    echo "stopped"
}

cmd_status() {
    (($# == 1)) || usage
    local data_dir pid recorded
    if [[ -d "$1" ]] && data_dir="$(cd "$1" && pwd -P)" && pid="$(running_pid "$data_dir")"; then
        recorded="$(recorded_ports "$data_dir")"
        if [[ -n "$recorded" ]] && port_open "${recorded%% *}"; then
            echo "running (pid $pid): $HOST:${recorded%% *}"
        else
            echo "starting (pid $pid); see $data_dir/kafka.log"
        fi
        return 0
    fi
    echo "stopped"
    exit 3
}

main() {
    (($# >= 1)) || usage
    local command="$1"
    shift
    case "$command" in
        fetch)
            (($# == 0)) || usage
            cmd_fetch
            ;;
        start) cmd_start "$@" ;;
        run) cmd_run "$@" ;;
        stop) cmd_stop "$@" ;;
        status) cmd_status "$@" ;;
        -h | --help | help) usage ;;
        *) usage ;;
    esac
}

main "$@"
