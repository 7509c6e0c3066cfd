#!/usr/bin/env bash
# A real 3-node RabbitMQ cluster on loopback for stompy's fault tests (failover, quorum queues),
# running next to the single node of scripts/brokers.sh without touching it. Debian 12, as root,
# no systemd needed.
#
#   rabbit_cluster.sh start          install if missing, start the nodes that are down, join b and c
#                                    to a, wait until all three answer a STOMP CONNECT (idempotent)
#   rabbit_cluster.sh stop [NODE]    graceful stop of one node, or of all three and their epmd
#   rabbit_cluster.sh status         one line per node; exit 0 only if all three run, are
#                                    clustered and answer STOMP
#   rabbit_cluster.sh kill NODE      SIGKILL the node's Erlang VM (a crash; its data dir stays)
#   rabbit_cluster.sh restart NODE   start NODE again (stopping it first if it runs) and wait for
#                                    STOMP; it rejoins the cluster from its data dir (if no other
#                                    node runs, use start: it would wait for its peers)
#   rabbit_cluster.sh reset          stop all and wipe the nodes' data (next start: a new cluster)
#   rabbit_cluster.sh pid NODE       print the node's beam.smp pid; exit 1 if it is not running
#   rabbit_cluster.sh leader QUEUE   print the node (a, b or c) leading quorum queue QUEUE (a name,
#                                    not a destination); exit 1 if it has no leader right now
#   rabbit_cluster.sh ctl NODE ARGS...      rabbitmqctl against NODE (also: queues NODE ARGS...
#                                           for rabbitmq-queues)
#
# NODE is a, b or c:  node                 STOMP  AMQP  distribution  (127.0.0.1, guest/guest)
#                     rabbit-a@localhost   62613  5682  25682
#                     rabbit-b@localhost   62614  5683  25683
#                     rabbit-c@localhost   62615  5684  25684
#
# Isolation from rabbit@localhost (STOMP 61613, epmd 4369, cookie in /var/lib/rabbitmq): the
# cluster has its own epmd port (4370), its own Erlang cookie, and RABBITMQ_CONF_ENV_FILE points
# at an empty file, so /etc/rabbitmq/rabbitmq-env.conf (which names rabbit@localhost) is never
# read. Config, plugins, data, logs and pid files all live in $RC_DIR; /etc/rabbitmq is untouched.
# A CLI call can therefore only ever reach a cluster node, and kill/stop act only on the pids in
# $RC_DIR/?/pid whose VM says it is that node.
#
# Environment: BROKERS_DIR (default /var/lib/stompy-test-brokers), RC_DIR (default
# $BROKERS_DIR/rabbit-cluster), WAIT_S (limit for one node's boot, default 120).
set -euo pipefail

BROKERS_DIR=${BROKERS_DIR:-/var/lib/stompy-test-brokers}
RC_DIR=${RC_DIR:-$BROKERS_DIR/rabbit-cluster}
WAIT_S=${WAIT_S:-120}
EPMD_PORT=4370
BIN=/usr/lib/rabbitmq/bin   # not /usr/sbin/rabbitmqctl: that wrapper brings the system node's settings
NODES=(a b c)
declare -A STOMP=([a]=62613 [b]=62614 [c]=62615) AMQP=([a]=5682 [b]=5683 [c]=5684) DIST=([a]=25682 [b]=25683 [c]=25684)

log() { printf '[rabbit-cluster %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "$*"; exit 1; }

node_arg() { [[ -n ${STOMP[${1:-}]:-} ]] || die "unknown node '${1:-}' (use a, b or c)"; }
name() { echo "rabbit-$1@localhost"; }

# The complete environment of a node and of the CLI talking to it. Used with `env -i`, so nothing
# meant for the system node (RABBITMQ_*, HOME and its cookie) leaks in from the caller.
node_env() {
    local n=$1 d=$RC_DIR/$1
    printf '%s\0' PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 LC_ALL=C.UTF-8 \
        HOME="$RC_DIR/home" \
        RABBITMQ_CONF_ENV_FILE="$RC_DIR/rabbitmq-env.conf" \
        ERL_EPMD_PORT=$EPMD_PORT ERL_EPMD_ADDRESS=127.0.0.1 \
        RABBITMQ_NODENAME="$(name "$n")" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT="${AMQP[$n]}" RABBITMQ_DIST_PORT="${DIST[$n]}" \
        RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$RC_DIR/enabled_plugins" \
        RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" RABBITMQ_PID_FILE="$d/pid" \
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
        RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
        RABBITMQ_CTL_DIST_PORT_MIN=36672 RABBITMQ_CTL_DIST_PORT_MAX=36690  # clear of the system CLI's range
}

# as_node NODE CMD...: run CMD as user rabbitmq with NODE's environment. setpriv rather than
# runuser/su: no PAM session, so the VM keeps root's open-file limit instead of 1024.
as_node() {
    local n=$1 envv; shift
    mapfile -d '' envv < <(node_env "$n")
    (cd "$RC_DIR" && exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups env -i "${envv[@]}" "$@")
}
ctl()    { node_arg "${1:-}"; local n=$1; shift; as_node "$n" "$BIN/rabbitmqctl" -q -n "$(name "$n")" "$@"; }
queues() { node_arg "${1:-}"; local n=$1; shift; as_node "$n" "$BIN/rabbitmq-queues" -q -n "$(name "$n")" "$@"; }

# node_pid NODE: the pid of NODE's beam.smp, if alive. The VM's command line does not name the
# node, so check its environment too: a stale pid file must not make us kill a recycled pid.
node_pid() {
    local f=$RC_DIR/$1/pid pid
    [[ -s $f ]] && pid=$(<"$f") && [[ $pid =~ ^[0-9]+$ ]] || return 1
    grep -qx "RABBITMQ_NODENAME=$(name "$1")" < <(tr '\0' '\n' 2>/dev/null < "/proc/$pid/environ") || return 1
    echo "$pid"
}

stomp_ok() {   # a CONNECT on 127.0.0.1:PORT is answered with CONNECTED
    local reply
    reply=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 || exit 1
        printf 'CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\0' >&3
        head -c 9 <&3" 2>/dev/null) || return 1
    [[ $reply == CONNECTED ]]
}

# install_file PATH < content: write (owned by rabbitmq) only when the content differs
install_file() {
    local tmp; tmp=$(mktemp)
    cat > "$tmp"
    cmp -s "$tmp" "$1" || install -m 644 -o rabbitmq -g rabbitmq "$tmp" "$1"
    rm -f "$tmp"
}

prepare() {
    [[ -x $BIN/rabbitmq-server ]] || "$(dirname "${BASH_SOURCE[0]}")/brokers.sh" install
    mkdir -p "$RC_DIR/home"
    chown rabbitmq:rabbitmq "$RC_DIR" "$RC_DIR/home"
    local cookie=$RC_DIR/home/.erlang.cookie n
    if [[ ! -s $cookie ]]; then   # a cookie of our own: the system node refuses us, and we it
        (umask 077; head -c 16 /dev/urandom | od -An -tx1 | tr -dc 0-9a-f | tr a-f A-F > "$cookie")
        chown rabbitmq:rabbitmq "$cookie" && chmod 400 "$cookie"
    fi
    install_file "$RC_DIR/rabbitmq-env.conf" <<< "# empty on purpose: shadows /etc/rabbitmq/rabbitmq-env.conf"
    install_file "$RC_DIR/enabled_plugins" <<< "[rabbitmq_stomp]."
    for n in "${NODES[@]}"; do
        mkdir -p "$RC_DIR/$n/mnesia" "$RC_DIR/$n/log"
        chown -R rabbitmq:rabbitmq "$RC_DIR/$n"
        # partition handling "ignore": a killed node must not make the survivors pause themselves
        install_file "$RC_DIR/$n/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:${AMQP[$n]}
loopback_users.guest = true
stomp.listeners.tcp.1 = 127.0.0.1:${STOMP[$n]}
stomp.default_user = guest
stomp.default_pass = guest
cluster_partition_handling = ignore
EOF
    done
}

launch() {     # start NODE's VM in the background unless it runs; does not wait
    local n=$1
    node_pid "$n" >/dev/null && return 0
    rm -f "$RC_DIR/$n/pid"
    log "starting $(name "$n") (STOMP ${STOMP[$n]})"
    # setsid -f: its own session, so it outlives us and ignores our terminal's signals
    (ulimit -n "$(ulimit -Hn)"; as_node "$n" setsid -f "$BIN/rabbitmq-server" \
        >> "$RC_DIR/$n/log/console.log" 2>&1 < /dev/null)
}

await_stomp() {  # wait until NODE answers STOMP (its plugin starts last); fail early if it died
    local n=$1 t0=$SECONDS pid
    until stomp_ok "${STOMP[$n]}"; do
        if [[ -s $RC_DIR/$n/pid ]]; then
            pid=$(<"$RC_DIR/$n/pid")
            if gone "$pid"; then
                tail -n 30 "$RC_DIR/$n/log/$(name "$n").log" >&2 || true
                die "$(name "$n") died while booting"
            fi
        fi
        if (( SECONDS - t0 > WAIT_S )); then
            tail -n 30 "$RC_DIR/$n/log/console.log" "$RC_DIR/$n/log/$(name "$n").log" >&2 || true
            die "$(name "$n"): STOMP ${STOMP[$n]} not answering after ${WAIT_S}s"
        fi
        sleep 0.25
    done
}

# cluster_list NODE KEY: the nodes NODE lists under KEY (disk_nodes = members, running_nodes),
# one per line; reads the JSON with grep so that no python is needed
cluster_list() {
    ctl "$1" cluster_status --formatter json 2>/dev/null | grep -o "\"$2\":\[[^]]*\]" | grep -o 'rabbit-[abc]@localhost' || true
}

join() {       # make NODE a member of a's cluster unless it is one (a fresh node after `reset`)
    local n=$1
    [[ $n == a ]] && return 0
    [[ $(cluster_list "$n" disk_nodes) == *"$(name a)"* ]] && return 0
    log "joining $(name "$n") to $(name a)"
    local out   # join_cluster logs harmless errors about tables on the new member: show them only on failure
    out=$({ ctl "$n" stop_app && ctl "$n" join_cluster "$(name a)" && ctl "$n" start_app; } 2>&1) \
        || { echo "$out" >&2; die "$(name "$n") could not join $(name a)"; }
    await_stomp "$n"
}

gone() {  # PID has exited (a zombie counts: its sockets are closed, and PID 1 may never reap it)
    [[ ! -e /proc/$1 ]] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

stop_node() {
    local n=$1 pid t0=$SECONDS
    pid=$(node_pid "$n") || return 0
    log "stopping $(name "$n")"
    ctl "$n" stop >/dev/null 2>&1 || true
    until gone "$pid"; do
        (( SECONDS - t0 < 60 )) || { log "$(name "$n") ignores stop: SIGKILL"; kill -9 "$pid"; }
        sleep 0.2
    done
}

kill_node() {
    local n=$1 pid
    pid=$(node_pid "$n") || { log "$(name "$n") is not running"; return 0; }
    log "SIGKILL $(name "$n") (beam.smp pid $pid)"
    kill -9 "$pid"
    until gone "$pid"; do sleep 0.05; done
}

do_start() {
    local t0=$SECONDS n running
    prepare
    # boot all at once: a node that went down together with its peers waits for them while booting
    for n in "${NODES[@]}"; do launch "$n"; done
    for n in "${NODES[@]}"; do await_stomp "$n"; done
    for n in "${NODES[@]}"; do join "$n"; done
    running=$(cluster_list a running_nodes | wc -l)
    [[ $running -eq 3 ]] || die "cluster incomplete: a sees $running running nodes"
    log "cluster of 3 up in $((SECONDS - t0))s"
}

do_stop() {
    local n
    for n in "${NODES[@]}"; do stop_node "$n" & done
    wait
    # the first node started this epmd (port $EPMD_PORT, ours alone); the system node's is on 4369
    ERL_EPMD_PORT=$EPMD_PORT epmd -kill >/dev/null 2>&1 || true
    log "stopped"
}

do_status() {
    local rc=0 n pid state members
    for n in "${NODES[@]}"; do
        if pid=$(node_pid "$n"); then
            members=$(cluster_list "$n" running_nodes | sed 's/@localhost//' | paste -sd' ')
            [[ $(wc -w <<< "$members") -eq 3 ]] || rc=3
            if stomp_ok "${STOMP[$n]}"; then state=up; else state=STOMP-DOWN rc=3; fi
        else
            pid=- state=DOWN members=- rc=3
        fi
        printf '%s  stomp 127.0.0.1:%s  %-10s  pid %-7s  running: %s\n' "$(name "$n")" "${STOMP[$n]}" "$state" "$pid" "$members"
    done
    return $rc
}

do_leader() {  # ask the first running node that answers for the Raft state of QUEUE's members
    local n out
    for n in "${NODES[@]}"; do
        node_pid "$n" >/dev/null || continue
        out=$(queues "$n" quorum_status "$1" --formatter json 2>/dev/null) || continue
        # [{"Node Name":"rabbit-b@localhost","Raft State":"leader",...},...]
        out=$(grep -o '{[^{}]*"Raft State":"leader"[^{}]*}' <<< "$out" | grep -o 'rabbit-[abc]@' | head -n 1) || true
        [[ -n $out ]] || return 1
        echo "${out:7:1}"
        return 0
    done
    return 1
}

[[ $(id -u) -eq 0 ]] || die "must run as root (it runs the nodes as user rabbitmq)"
cmd=${1:-}
shift || true
case $cmd in
    start) do_start ;;
    stop) if [[ $# -gt 0 ]]; then node_arg "$1"; stop_node "$1"; else do_stop; fi ;;
    status) do_status ;;
    kill) node_arg "${1:-}"; kill_node "$1" ;;
    restart) node_arg "${1:-}"; stop_node "$1"; prepare; launch "$1"; await_stomp "$1"; join "$1" ;;
    reset) do_stop; for n in "${NODES[@]}"; do rm -rf "${RC_DIR:?}/$n"; done; log "data wiped" ;;
    pid) node_arg "${1:-}"; node_pid "$1" ;;
    leader) [[ -n ${1:-} ]] || die "usage: leader QUEUE"; do_leader "$1" ;;
    ctl) ctl "$@" ;;
    queues) queues "$@" ;;
    *) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2 ;;
esac
