#!/usr/bin/env bash
# Runs the codec benchmarks (benches/codec.rs) and prints frames/s, MB/s and how many times
# slower than its floor each bench is (`decode/message_100b` against `floor/memchr_100b`,
# `*_64kib` against `floor/memchr_memcpy_64kib`).
#
#   scripts/bench-codec.sh                  # full run, about a minute
#   scripts/bench-codec.sh --quick          # extra arguments go to criterion
#   scripts/bench-codec.sh --table          # only print the table of the last run
#
# Goals: >= 5 million 100-byte MESSAGE frames decoded per second on one core, and 64 KiB
# bodies decoded within 2x of memchr + memcpy.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" != "--table" ]]; then
    cargo bench --bench codec -- "$@" >&2
fi

python3 - target/criterion <<'PY'
import json, os, sys

root = sys.argv[1]
benches = ["decode/message_100b", "decode/message_64kib", "encode/message_100b",
           "encode/message_64kib", "floor/memchr_100b", "floor/memchr_memcpy_64kib"]
floor = {"100b": "floor/memchr_100b", "64kib": "floor/memchr_memcpy_64kib"}

def load(name):
    d = os.path.join(root, name, "new")
    est = json.load(open(os.path.join(d, "estimates.json")))
    tp = json.load(open(os.path.join(d, "benchmark.json")))["throughput"]["ElementsAndBytes"]
    return est["median"]["point_estimate"] / 1e9, tp["elements"], tp["bytes"]

rows = {b: load(b) for b in benches if os.path.exists(os.path.join(root, b, "new"))}
print(f"{'bench':<28} {'time/iter':>11} {'frames/s':>12} {'MB/s':>10} {'x floor':>8}")
for name, (secs, frames, nbytes) in rows.items():
    base = rows.get(floor[name.rsplit("_", 1)[1]])
    ratio = f"{secs / base[0]:.2f}" if base else "-"
    print(f"{name:<28} {secs * 1e6:>9.1f}us {frames / secs:>12,.0f} "
          f"{nbytes / secs / 1e6:>10,.0f} {ratio:>8}")
PY
