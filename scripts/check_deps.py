#!/usr/bin/env python3
"""Checks on the library's dependencies, for scripts/test.sh:

1. with default features, a library user compiles no command-line crates (clap, rustyline);
2. the crate's `rust-version` is not below what any normal dependency declares.

Reads `cargo tree` and `cargo metadata`; exits 1 with one line per problem.
"""
import json
import subprocess
import sys


def tree(*args):
    out = subprocess.run(
        ["cargo", "tree", "-e", "normal", "--prefix", "none", "-f", "{p}", *args],
        check=True, capture_output=True, text=True).stdout
    pkgs = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].startswith("v"):
            pkgs.add((parts[0], parts[1][1:]))
    return pkgs


def version_tuple(v):
    return tuple(int(x) for x in (v.split(".") + ["0", "0"])[:3])


problems = []
default = tree()
for name in ("clap", "rustyline"):
    if any(n == name for n, _ in default):
        problems.append(f"default features pull in {name}")
print(f"default features: {len(default)} packages, no clap or rustyline"
      if not problems else "")

meta = json.loads(subprocess.run(
    ["cargo", "metadata", "--format-version", "1", "--all-features"],
    check=True, capture_output=True, text=True).stdout)
by_id = {(p["name"], p["version"]): p for p in meta["packages"]}
ours = next(p for p in meta["packages"] if p["name"] == "stompy")
msrv = ours.get("rust_version")
if not msrv:
    problems.append("stompy declares no rust-version")
else:
    needed = [(n, v, by_id[(n, v)].get("rust_version")) for n, v in tree("--all-features")
              if (n, v) in by_id and n != "stompy"]
    above = [(n, v, r) for n, v, r in needed if r and version_tuple(r) > version_tuple(msrv)]
    for n, v, r in above:
        problems.append(f"rust-version {msrv} is below {n} {v}'s {r}")
    top = max((r for _, _, r in needed if r), key=version_tuple, default="none")
    print(f"rust-version {msrv}; the highest any dependency declares: {top}")

for p in problems:
    print(f"check_deps: {p}")
sys.exit(1 if problems else 0)
