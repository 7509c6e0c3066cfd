#!/usr/bin/env bash
# Runs one fuzz target (decode, decode_limits, client_stream) with cargo-fuzz for SECONDS
# (default 600), in one process. The seed corpus in fuzz/corpus/TARGET is read, never written;
# new inputs go to fuzz/corpus-run/TARGET and crashes to fuzz/artifacts/TARGET (both ignored by
# git).
#
# cargo-fuzz needs nightly-only flags (sanitizers); RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them.
#
#   scripts/fuzz.sh decode 600
#   scripts/fuzz.sh decode_limits 60
#   scripts/fuzz.sh client_stream 1800
#   RUSTC_BOOTSTRAP=1 cargo fuzz run decode fuzz/artifacts/decode/crash-...   # replay a crash
set -euo pipefail

target=${1:?usage: scripts/fuzz.sh TARGET [SECONDS]}
seconds=${2:-600}
cd "$(dirname "$0")/.."

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

mkdir -p "fuzz/corpus-run/$target"
RUSTC_BOOTSTRAP=1 exec cargo fuzz run "$target" \
    "fuzz/corpus-run/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1
