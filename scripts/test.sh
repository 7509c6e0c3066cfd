#!/usr/bin/env bash
# The whole test suite, as CI runs it (Debian 12, as root, Rust toolchain installed):
#
#   scripts/test.sh
#
#  1. installs and starts the real brokers (RabbitMQ, ActiveMQ) with scripts/brokers.sh and the
#     3-node RabbitMQ cluster for fault tests with scripts/rabbit_cluster.sh, and makes the
#     Python venv with stomp.py for interop tests;
#  2. with STOMPY_REQUIRE_BROKERS=1 (a missing broker fails instead of skipping) and
#     STOMPY_PYTHON=<venv python>: cargo fmt --check, cargo clippy -D warnings, cargo test
#     (unit, integration and doc tests, all features, the chaos tests that kill brokers and
#     the hostile-client suite included), the feature matrix, cargo doc -D warnings, a check
#     that the fuzz targets build, and the dependency checks (no CLI crates by default,
#     rust-version covers every dependency);
#  3. runs every example twice: against the embedded broker (no environment) and against
#     RabbitMQ (STOMP_URL=stomp://guest:guest@127.0.0.1:61613), each with a time limit.
#
# Every check runs even after an earlier one failed; the exit status is non-zero if any failed.
# Environment: BROKERS_DIR (default /var/lib/stompy-test-brokers), EXAMPLE_TIMEOUT (seconds,
# default 120), SKIP_BROKER_SETUP=1 (use already running brokers, cluster and venv as they are).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

export BROKERS_DIR=${BROKERS_DIR:-/var/lib/stompy-test-brokers}
EXAMPLE_TIMEOUT=${EXAMPLE_TIMEOUT:-120}
RABBIT_URL=stomp://guest:guest@127.0.0.1:61613
if [ "${CI:-}" = true ]; then
    export CARGO_TERM_COLOR=never
fi

T_START=$SECONDS
passed=0
failed=0
failures=()

section() { printf '\n======== %s ========\n' "$*"; }

# stage NAME CMD...: run one check; count and report it, never abort the script
stage() {
    local name=$1 t0=$SECONDS rc=0
    shift
    section "$name"
    printf '$ %s\n' "$*"
    "$@" || rc=$?
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        printf -- '-------- ok: %s (%ss)\n' "$name" "$((SECONDS - t0))"
    else
        failed=$((failed + 1))
        failures+=("$name")
        printf -- '-------- FAILED (exit %s): %s (%ss)\n' "$rc" "$name" "$((SECONDS - t0))"
    fi
}

summary() {
    section "summary ($((SECONDS - T_START))s)"
    local f
    for f in "${failures[@]+"${failures[@]}"}"; do
        echo "failed: $f"
    done
    echo "test.sh: $passed passed, $failed failed"
}

# setup NAME CMD...: a step the checks depend on; stop here if it fails
setup() {
    stage "$@"
    if [ "$failed" -ne 0 ]; then
        summary
        exit 1
    fi
}

# --- tools ------------------------------------------------------------------------------------
need_components() {
    local missing=()
    cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
    cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
    if [ ${#missing[@]} -ne 0 ]; then
        command -v rustup >/dev/null || { echo "cargo lacks ${missing[*]} and there is no rustup to add them"; return 1; }
        echo "installing rustup components: ${missing[*]}"
        rustup component add "${missing[@]}" || return 1
    fi
    cargo --version && rustc --version
}

# --- brokers and Python -----------------------------------------------------------------------
# up SCRIPT: start what scripts/SCRIPT runs (unless SKIP_BROKER_SETUP=1), then check it answers
up() {
    if [ "${SKIP_BROKER_SETUP:-}" = 1 ]; then
        echo "SKIP_BROKER_SETUP=1: using what $1 started before"
    else
        "scripts/$1" start || return 1
    fi
    "scripts/$1" status
}

make_venv() {
    local py
    py=$(scripts/brokers.sh venv) || return 1
    "$py" -c "import stomp, websocket" || return 1
    export STOMPY_PYTHON=$py
    echo "STOMPY_PYTHON=$STOMPY_PYTHON"
}

# --- examples ---------------------------------------------------------------------------------
# cargo_meta EXPR: evaluate a Python expression over `cargo metadata` (as `m`); print each item
cargo_meta() {
    cargo metadata --no-deps --format-version 1 | "$STOMPY_PYTHON" -c '
import json, sys
m = json.load(sys.stdin)
r = eval(sys.argv[1])
print("\n".join(r) if isinstance(r, list) else r)' "$1"
}

run_example() {   # run_example NAME [VAR=VALUE...]
    local name=$1 bin
    shift
    bin=$TARGET_DIR/debug/examples/$name
    [ -x "$bin" ] || { echo "example binary $bin missing"; return 1; }
    local rc=0
    env -u STOMP_URL "$@" timeout --kill-after=10 "$EXAMPLE_TIMEOUT" "$bin" </dev/null || rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "example $name timed out after ${EXAMPLE_TIMEOUT}s"
    fi
    return "$rc"
}

# --- run --------------------------------------------------------------------------------------
section "stompy test suite in $ROOT ($(date -u '+%Y-%m-%d %H:%M:%S UTC'))"

setup "rust toolchain" need_components
setup "brokers" up brokers.sh
setup "rabbitmq cluster" up rabbit_cluster.sh
# make_venv exports STOMPY_PYTHON, so it must run in this shell, not in a command substitution
setup "python venv with stomp.py" make_venv

export STOMPY_REQUIRE_BROKERS=1
TARGET_DIR=$(cargo_meta 'm["target_directory"]')

stage "cargo fmt" cargo fmt --all -- --check
stage "cargo clippy" cargo clippy --all-targets --all-features -- -D warnings
stage "cargo test" cargo test --all-features --no-fail-fast
# The library builds with no optional feature, with each one alone, and with the defaults.
feature_matrix() {
    local f
    cargo check --quiet --lib --no-default-features || return 1
    for f in broker tls websocket cli; do
        echo "features: $f"
        cargo check --quiet --lib --bins --no-default-features --features "$f" || return 1
    done
    cargo check --quiet --lib --bins
}
stage "feature matrix" feature_matrix
stage "cargo doc" env RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps --all-features
# The fuzz targets (their own crate) still build against the library; running them is
# scripts/fuzz.sh. libFuzzer is C++: without a C++ compiler the check is skipped.
fuzz_targets_build() {
    if ! command -v c++ >/dev/null; then
        echo "no C++ compiler: fuzz targets not checked"
        return 0
    fi
    RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$ROOT/target/fuzz-check" \
        cargo check --quiet --manifest-path fuzz/Cargo.toml --bins
}
stage "fuzz targets build" fuzz_targets_build
# No command-line crates for a library user; the stated MSRV covers every dependency.
stage "dependencies" python3 scripts/check_deps.py

# every example target: examples/*.rs, examples/*/main.rs and [[example]] entries
examples=$(cargo_meta 'sorted(t["name"] for p in m["packages"] for t in p["targets"] if "example" in t["kind"])')
EXAMPLES=()
[ -z "$examples" ] || mapfile -t EXAMPLES <<<"$examples"
if [ ${#EXAMPLES[@]} -eq 0 ]; then
    section "examples: none in examples/"
else
    failed_before=$failed
    stage "build examples" cargo build --examples --all-features
    if [ "$failed" -ne "$failed_before" ]; then
        echo "examples did not build: not running them"
    else
        for ex in "${EXAMPLES[@]}"; do
            stage "example $ex (embedded broker)" run_example "$ex"
            stage "example $ex (RabbitMQ)" run_example "$ex" STOMP_URL="$RABBIT_URL"
        done
    fi
fi

summary
[ "$failed" -eq 0 ]
