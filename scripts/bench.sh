#!/usr/bin/env bash
# The benchmark driver: one command, a few minutes.
#
#   scripts/bench.sh            # every workload
#   scripts/bench.sh client,codec   # only some groups: client, instr, broker, rr, publish, 1to1, durable,
#                                   # codec, mem
#
# Builds benches/compare (a bench-only crate, its own workspace: stompy, async-stomp and a
# raw-socket floor) in release, runs every workload against a firehose peer, a sink peer, the
# embedded broker and RabbitMQ / ActiveMQ when they answer on 127.0.0.1:61613 / 61623
# (scripts/brokers.sh start), and stomp.py through scripts/bench_stomppy.py when a Python with
# stomp.py is found ($BENCH_PYTHON, else the venv scripts/brokers.sh venv makes). The instr group
# counts stompy's instructions per message on its receive and send paths under callgrind
# (valgrind, installed with apt-get when missing). Prints one ratio table, writes it to
# docs/bench-results.md and into docs/PERFORMANCE.md.
# Environment: BENCH_SECS (seconds per client-bound measurement, default 2),
# BENCH_BROKER_MSGS (default 100000; also the publish group's N), BENCH_RR (round trips, default
# 2000; also the publish group's send_and_wait loop), BENCH_ROUNDS (interleaved runs per client
# on each broker, default 3; the table takes the median), BENCH_CLIENT_ROUNDS (the same for the
# client-bound group, default 5), BENCH_CONFIRM_WINDOWS (publish group:
# extra confirmed rows with these confirm windows in frames, e.g. 256,4096; default none),
# BENCH_DURABLE_MSGS / BENCH_DURABLE_RABBIT_MSGS (durable group: messages per persistent 1 -> 1 run on
# the embedded broker with a data directory / on RabbitMQ, default 200000 / 30000),
# BENCH_IDLE_CONNS and BENCH_CONN_BATCH (durable group: idle connections to the broker process,
# default 10000, opened 100 at a time),
# BENCH_WRITE=0 (only print the table: docs/bench-results.md and docs/PERFORMANCE.md are left alone).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BROKERS_DIR=${BROKERS_DIR:-/var/lib/stompy-test-brokers}
if [ -z "${BENCH_PYTHON:-}" ] && [ -x "$BROKERS_DIR/venv/bin/python" ]; then
    BENCH_PYTHON=$BROKERS_DIR/venv/bin/python
fi
if [ -n "${BENCH_PYTHON:-}" ] && "$BENCH_PYTHON" -c 'import stomp' 2>/dev/null; then
    export BENCH_PYTHON
else
    echo "bench: no Python with stomp.py (scripts/brokers.sh venv makes one): stomp.py columns empty" >&2
    unset BENCH_PYTHON
fi
case ",${1:-instr}," in
    *,instr,*)
        if ! command -v valgrind >/dev/null; then
            (source scripts/brokers.sh && apt_install valgrind) ||
                echo "bench: valgrind could not be installed: instr group skipped" >&2
        fi
        ;;
esac
export CARGO_TARGET_DIR=$ROOT/target/compare
(cd benches/compare && cargo build --release --quiet)
mkdir -p target/bench
OUT=target/bench/results.jsonl
"$CARGO_TARGET_DIR/release/stompy-compare" suite ${1:-} | tee "$OUT"
echo
python3 scripts/bench_table.py "$OUT" "$ROOT"
