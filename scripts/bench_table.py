#!/usr/bin/env python3
"""Turns the JSON lines of a bench run into one ratio table (Markdown), writes it to
docs/bench-results.md and into docs/PERFORMANCE.md between <!-- bench:start --> and <!-- bench:end -->
(with BENCH_WRITE=0 it only prints the table).

    bench_table.py RESULTS.jsonl REPO_ROOT"""
import json
import re
import sys
import datetime
import platform
import os

rows = {}
order = []
runs = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    w = r["workload"]
    if w not in rows:
        rows[w] = {}
        order.append(w)
    runs.setdefault((w, r["client"]), []).append(r)


def median_run(rs):
    """One run whose numbers are the medians of all runs of that workload and client."""
    out = dict(rs[-1])
    for k, v in out.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            vals = sorted(r[k] for r in rs if k in r)
            out[k] = vals[len(vals) // 2]
    out["runs"] = len(rs)
    return out


for (w, c), rs in runs.items():
    rows[w][c] = median_run(rs)


def f_rate(v):
    if v is None:
        return "–"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e3:
        return f"{v / 1e3:.1f} k"
    return f"{v:.0f}"


def f_cpu(v):
    return "–" if v is None else f"{v:.3f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}×"


def paired(w, a, b):
    """a's msgs/s ÷ b's on workload w: the median of the rounds' ratios when both ran every
    round (each round measures one after the other, while the machine's speed drifts between
    rounds), else the ratio of the medians."""
    ra, rb = runs.get((w, a), []), runs.get((w, b), [])
    if not ra or not rb:
        return None
    if len(ra) != len(rb) or len(ra) < 2:
        return rows[w][a]["msgs_per_s"] / rows[w][b]["msgs_per_s"]
    rs = sorted(x["msgs_per_s"] / y["msgs_per_s"] for x, y in zip(ra, rb))
    return rs[len(rs) // 2]


def get(w, client, key):
    r = rows.get(w, {}).get(client)
    return None if r is None else r.get(key)


lines = []
head = ("| workload | stompy | µs CPU/msg | floor | µs CPU/msg | **× floor** | async-stomp | µs CPU/msg "
        "| **× async-stomp** | stomp.py | µs CPU/msg | **× stomp.py** |")
lines.append(head)
lines.append("|" + "---|" * 12)
goals = []


def cell_row(name, vals):
    lines.append("| " + " | ".join([name] + vals) + " |")


# "BROKER: publish[ persistent], HOW[, window N]" rows go to a table of their own.
PUB = re.compile(r"^(.*): (publish(?: persistent)?), (send \+ 1 receipt|confirmed|send_and_wait loop)(?:, window (\d+))?$")
pub = {}
pub_order = []
for w in order:
    m = PUB.match(w)
    if m and "stompy" in rows[w]:
        broker, kind, how, window = m.groups()
        key = (f"{broker}: {kind}", window)
        if key not in pub:
            pub[key] = {}
            pub_order.append(key)
        pub[key][how] = rows[w]["stompy"]
        if "raw" in rows[w]:
            pub[key]["floor"] = rows[w]["raw"]

# The durable group: "BROKER: durable 1 -> 1, KIND" and "embedded: N idle connections" rows
# go to tables of their own.
DUR = re.compile(r"^(.*): durable 1 -> 1, (persistent|non-persistent)$")
IDLE = re.compile(r"^embedded: (\d+) idle connections$")

# Client-bound rows: msgs/s goals as a fraction of the raw-socket floor's.
FLOOR_GOALS = {"firehose consume, auto": 0.5, "firehose consume, ACK each": 0.4, "sink publish": 0.7,
               "sink publish, no content-length": 0.7}
# The instr group: instructions per message under callgrind; rows not here are reported only.
INSTR_GOALS = {"receive path, 100 B MESSAGE, auto": 1000}
instr_runs = None

for w in order:
    cl = rows[w]
    if PUB.match(w) or DUR.match(w) or IDLE.match(w):
        continue
    if "p50_us" in next(iter(cl.values())):
        # latency: ratios are other ÷ stompy p50, so > 1 means stompy is faster
        p = {c: cl[c]["p50_us"] if c in cl else None for c in ("stompy", "raw", "async-stomp", "stomp.py")}
        vals = [f"{p['stompy']:.0f} µs", "p50"]
        for c in ("raw", "async-stomp", "stomp.py"):
            vals += ["–" if p[c] is None else f"{p[c]:.0f} µs", "p50", ratio(p[c], p["stompy"])]
        cell_row(w + " (p50; ratio = other ÷ stompy)", vals)
        if p["raw"]:
            goals.append((f"{w}: p50 ≤ 1.05× floor", p["stompy"] <= 1.05 * p["raw"],
                          f"{p['stompy'] / p['raw']:.2f}× floor"))
        continue
    if "msgs_per_s" in cl.get("stompy", {}) and "cpu_us_per_msg" in cl.get("stompy", {}):
        s = cl["stompy"]
        vals = [f"{f_rate(s['msgs_per_s'])}/s", f_cpu(s["cpu_us_per_msg"])]
        for c in ("raw", "async-stomp", "stomp.py"):
            o = cl.get(c)
            x = paired(w, "stompy", c) if c == "raw" else None
            vals += [f"{f_rate(o['msgs_per_s'])}/s" if o else "–",
                     f_cpu(o["cpu_us_per_msg"]) if o else "–",
                     (f"{x:.2f}×" if x else ratio(s["msgs_per_s"], o["msgs_per_s"])) if o else "–"]
        cell_row(w, vals)
        copy = cl.get("raw-copy")
        if copy and "raw" in cl:
            # What a client that copies each frame once (and does nothing else) reaches.
            cell_row(f"{w}: floor + one copy per frame",
                     [f"{f_rate(copy['msgs_per_s'])}/s", f_cpu(copy["cpu_us_per_msg"]),
                      f"{f_rate(cl['raw']['msgs_per_s'])}/s", f_cpu(cl["raw"]["cpu_us_per_msg"]),
                      f"{paired(w, 'raw-copy', 'raw'):.2f}×"] + ["–"] * 6)
        client_bound = w in FLOOR_GOALS
        if client_bound and "raw" in cl:
            r, goal = paired(w, "stompy", "raw"), FLOOR_GOALS[w]
            each = [x["msgs_per_s"] / y["msgs_per_s"]
                    for x, y in zip(runs[(w, "stompy")], runs[(w, "raw")])]
            rounds = f" (rounds: {', '.join(f'{x:.2f}' for x in each)})" if len(each) > 1 else ""
            goals.append((f"{w}: ≥ {goal}× floor", r >= goal, f"{r:.2f}×{rounds}"))
        def cpu_x(c):
            return cl[c]["cpu_us_per_msg"] / max(s["cpu_us_per_msg"], 1e-9)
        if "async-stomp" in cl:
            r = s["msgs_per_s"] / cl["async-stomp"]["msgs_per_s"]
            goals.append((f"{w}: ahead of async-stomp", r > 1.0,
                          f"{r:.2f}× msgs/s; {cpu_x('async-stomp'):.2f}× less CPU/msg"))
        if client_bound and "stomp.py" in cl:
            r = s["msgs_per_s"] / cl["stomp.py"]["msgs_per_s"]
            goals.append((f"{w}: ≥ 30× stomp.py", r >= 30,
                          f"{r:.1f}× msgs/s; {cpu_x('stomp.py'):.1f}× less CPU/msg"))
        if ": publish + consume" in w:
            peers = [cl[c]["cpu_us_per_msg"] for c in ("async-stomp", "stomp.py") if c in cl]
            if peers:
                best = min(peers)
                goals.append((f"{w}: CPU/msg ≤ best peer's", s["cpu_us_per_msg"] <= best,
                              f"{s['cpu_us_per_msg']:.3f} vs {best:.3f} µs"))
        continue
    # stompy-only rows: codec, 1 -> 1, memory
    s = cl.get("stompy", {})
    if "frames_per_s" in s:
        cell_row(w, [f"{f_rate(s['frames_per_s'])} frames/s", "one core"] + ["–"] * 9)
        goals.append((f"{w}: ≥ 5 M frames/s", s["frames_per_s"] >= 5e6, f"{s['frames_per_s'] / 1e6:.2f} M/s"))
    elif "instr_per_msg" in s:
        n = s["instr_per_msg"]
        instr_runs = (s["n1"], s["n2"])
        cell_row(w, [f"{n:.0f} instr/msg", "callgrind"] + ["–"] * 9)
        if w in INSTR_GOALS:
            goals.append((f"{w}: ≤ {INSTR_GOALS[w]} instructions under callgrind", n <= INSTR_GOALS[w],
                          f"{n:.0f} instructions/msg"))
        else:
            goals.append((f"{w}: instructions under callgrind (report only)", None, f"{n:.0f} instructions/msg"))
    elif "gb_per_s" in s:
        cell_row(w, [f"{s['gb_per_s']:.2f} GB/s", "", f"{s['floor_gb_per_s']:.2f} GB/s (memchr+memcpy)", "",
                     f"{1 / s['ratio']:.2f}×"] + ["–"] * 6)
        goals.append((f"{w}: within 2× of memchr+memcpy", s["ratio"] <= 2.0, f"takes {s['ratio']:.2f}× as long"))
    elif "hwm_end_kib" in s:
        cell_row(w, [f"peak RSS {s['hwm_early_kib'] / 1024:.1f} → {s['hwm_end_kib'] / 1024:.1f} MiB",
                     "", "after 1e5 → 1e6 msgs", "", f"{s['ratio']:.2f}× growth"] + ["–"] * 6)
        goals.append((f"{w}: flat", s["ratio"] <= 1.05, f"{s['ratio']:.2f}× from 1e5 to 1e6 messages"))
    elif "peak_growth_mib" in s:
        cell_row(w, [f"+{s['peak_growth_mib']:.0f} MiB peak", "", f"{s['body_mib']:.0f} MiB body", "",
                     f"{s['ratio']:.2f}× its size"] + ["–"] * 6)
        goals.append((f"{w}: ≤ 1.2× its size", s["ratio"] <= 1.2, f"{s['ratio']:.2f}×"))
    elif "msgs_per_s" in s:
        ref = None
        if w.startswith("embedded"):
            rab = rows.get(w.replace("embedded", "RabbitMQ"), {}).get("stompy")
            ref = rab["msgs_per_s"] if rab else None
        cell_row(w, [f"{f_rate(s['msgs_per_s'])}/s", "",
                     (f"{f_rate(ref)}/s (RabbitMQ)" if ref else "–"), "", ratio(s["msgs_per_s"], ref)] + ["–"] * 6)
        if ref:
            goals.append((f"{w}: ≥ 2× RabbitMQ", s["msgs_per_s"] >= 2 * ref, f"{s['msgs_per_s'] / ref:.2f}×"))

pub_lines = []
if pub_order:
    pub_lines += ["| publish 100 B, until the broker confirms all | send + 1 receipt | µs CPU/msg | confirmed "
                  "| µs CPU/msg | **× send** | floor: receipt on every SEND | µs CPU/msg | **× floor** "
                  "| send_and_wait loop | µs CPU/msg | **× send_and_wait** |",
                  "|" + "---|" * 12]
    for name, window in pub_order:
        got = pub[(name, window)]
        base = pub.get((name, None), {})
        send, conf, sync = base.get("send + 1 receipt"), got.get("confirmed"), base.get("send_and_wait loop")
        floor = base.get("floor")
        rate = lambda r: f"{f_rate(r['msgs_per_s'])}/s" if r else "–"
        cpu = lambda r: f_cpu(r["cpu_us_per_msg"]) if r else "–"
        mps = lambda r: r["msgs_per_s"] if r else None
        if window:
            # Only the confirmed row is measured with another window; the others are the default's.
            label, s_cells, f_cells, y_cells = f"{name}, confirm window {window}", ["–", "–"], ["–", "–"], ["–", "–"]
        else:
            label, s_cells = name, [rate(send), cpu(send)]
            f_cells, y_cells = [rate(floor), cpu(floor)], [rate(sync), cpu(sync)]
        pub_lines.append("| " + " | ".join([label] + s_cells + [rate(conf), cpu(conf), ratio(mps(conf), mps(send))]
                                           + f_cells + [ratio(mps(conf), mps(floor))]
                                           + y_cells + [ratio(mps(conf), mps(sync))]) + " |")
        if not window and conf and send:
            r = conf["msgs_per_s"] / send["msgs_per_s"]
            goals.append((f"{name}, confirmed: ≥ 0.5× send + 1 receipt", r >= 0.5, f"{r:.2f}×"))
        if not window and conf and sync:
            r = conf["msgs_per_s"] / sync["msgs_per_s"]
            goals.append((f"{name}, confirmed: ≥ 10× send_and_wait loop", r >= 10, f"{r:.1f}×"))

dur_lines = []
kinds = [k for k in ("persistent", "non-persistent") if f"embedded: durable 1 -> 1, {k}" in rows
         or f"RabbitMQ: durable 1 -> 1, {k}" in rows]
if kinds:
    dur_lines += ["| 1 → 1, 100 B, confirmed sends, client-individual ACK | embedded, data dir | µs CPU/msg "
                  "clients | µs CPU/msg broker | disk B/msg | RabbitMQ, durable queue | µs CPU/msg clients "
                  "| **× RabbitMQ** |",
                  "|" + "---|" * 8]
    for kind in kinds:
        e = rows.get(f"embedded: durable 1 -> 1, {kind}", {}).get("stompy")
        r = rows.get(f"RabbitMQ: durable 1 -> 1, {kind}", {}).get("stompy")
        rate = lambda x: f"{f_rate(x['msgs_per_s'])}/s" if x else "–"
        cpu = lambda x: f_cpu(x["cpu_us_per_msg"]) if x else "–"
        broker = f_cpu(e.get("broker_cpu_us_per_msg")) if e else "–"
        disk = f"{e['disk_bytes_per_msg']:.0f}" if e else "–"
        mps = lambda x: x["msgs_per_s"] if x else None
        dur_lines.append("| " + " | ".join([kind, rate(e), cpu(e), broker, disk, rate(r), cpu(r),
                                           ratio(mps(e), mps(r))]) + " |")
        if kind == "persistent" and e and r:
            x = e["msgs_per_s"] / r["msgs_per_s"]
            goals.append(("embedded (data dir): durable 1 -> 1, persistent: ≥ 3× RabbitMQ", x >= 3, f"{x:.2f}×"))
idle = [(int(IDLE.match(w).group(1)), rows[w]["stompy"]) for w in order if IDLE.match(w) and "stompy" in rows[w]]
if idle:
    dur_lines += ["", "| embedded broker process, idle connections | RSS before → after | **bytes per idle "
                  "connection** | set-up time | connections/s |", "|" + "---|" * 5]
    for n, s in idle:
        dur_lines.append(f"| {n} × CONNECT → CONNECTED, {s['batch']:.0f} in flight "
                         f"| {s['rss_before_kib'] / 1024:.1f} → {s['rss_after_kib'] / 1024:.1f} MiB "
                         f"| {s['bytes_per_conn']:.0f} | {s['setup_s']:.2f} s | {f_rate(s['conns_per_s'])}/s |")

stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
cpus = os.cpu_count()
md = [f"Last run: {stamp}, {cpus} cores, `scripts/bench.sh`. Ratios compare stompy with the other "
      "client measured in the same run on the same peer or broker: msgs/s ÷ msgs/s (above 1: stompy "
      "is faster), for latency rows other p50 ÷ stompy p50. CPU is the client thread's user + system "
      "time per message (stomp.py: its whole process). \"floor\" is a raw socket that writes "
      "pre-encoded frames in bulk and reads by counting NULs; \"floor + one copy per frame\" "
      "adds what any client that hands out owned frames (or encodes each frame) does at least: "
      "one allocation and copy of each received frame, one copy of each sent frame into the "
      "output buffer. On the broker rows stompy sends without `content-length` "
      "(`auto_content_length(false)`), as async-stomp does: brokers take longer over a SEND "
      "with one, which is not the client's cost. Broker rows are the median of "
      "`BENCH_ROUNDS` (default 3) interleaved runs per client. The firehose and sink rows run "
      "`BENCH_ROUNDS` rounds too, each the floor and then each client: rates are the medians, "
      "and \"× floor\" is the median of the rounds' ratios (the machine's speed drifts from one "
      "round to the next; the goals list each round's). The firehose rows consume with "
      "`recv_ref` (frames lent from the read buffer, what a hot loop uses); the rows marked "
      "\"owned frames (recv)\" consume with `recv`; the row marked \"heart-beats 10 s\" asks for "
      "heart-beats every 10 s both ways, as the README's tour does, and the peer agrees.", ""]
if instr_runs:
    n1, n2 = instr_runs
    md[0] += (" \"instr/msg\" rows: instructions callgrind counts per message in stompy's `recv_ref` (or `recv`) loop "
              "(receive path, firehose peer) or `send` loop (send path, sink peer): (count over "
              f"{n2:.0f} messages − count over {n1:.0f}) ÷ {n2 - n1:.0f}, so what a run costs once "
              "cancels (`scripts/bench.sh instr`).")
if len(lines) > 2:
    md += lines
if pub_lines:
    md += ["", "Publishing until the broker has confirmed every message (stompy and a raw floor, median of "
           "`BENCH_ROUNDS`; `BENCH_BROKER_MSGS` messages, 5× that on the embedded broker, a fifth for "
           "ActiveMQ persistent): `send` of every message with a receipt on the last; "
           "`confirmed_sends(true)` (every `send` carries a receipt the client keeps track of, "
           "default window 1024 frames) and `wait_for_confirms` at the end; `send_and_wait` of "
           "each message (`BENCH_RR` of them). The floor is a raw socket that asks for a receipt on "
           "every SEND and writes them as fast as the broker reads, with no window: the broker's "
           "receipt rate. Ratios are confirmed msgs/s ÷ the other's msgs/s on the same broker in "
           "the same run. \"persistent\" sends `persistent:true`.", ""]
    md += pub_lines
if dur_lines:
    md += ["", "Persistent messages end to end (median of `BENCH_ROUNDS`): one publisher with "
           "`confirmed_sends(true)` (a receipt on every SEND, window 1024 frames) and "
           "`wait_for_confirms` at the end, `persistent:true` on every SEND (not in the "
           "non-persistent row), and one consumer subscribed in client-individual mode with "
           "auto-ACK on, receiving every message; msgs/s from the publisher's start until the "
           "consumer has all of them and the broker has confirmed all. The embedded broker has a "
           "data directory (`BrokerBuilder::data_dir`, under target/) and runs in the bench "
           "process: its CPU is the process's minus the client threads', disk B/msg is the "
           "process's `write_bytes` (/proc/self/io) per message. RabbitMQ's `/queue/…` queues "
           "are durable. `BENCH_DURABLE_MSGS` messages (default 200 000) on the embedded broker, "
           "`BENCH_DURABLE_RABBIT_MSGS` (30 000) on RabbitMQ. The idle-connection rows: the "
           "embedded broker with the defaults in a process of its own, `BENCH_IDLE_CONNS` "
           "connections (10 000) opened `BENCH_CONN_BATCH` (100) at a time (connect and CONNECT "
           "on each, then read each CONNECTED) and left idle; the broker's RSS growth ÷ "
           "connections.", ""]
    md += dur_lines
md += ["", "| goal | met | measured |", "|---|---|---|"]
md += [f"| {g} | {'–' if ok is None else 'yes' if ok else '**no**'} | {m} |" for g, ok, m in goals]
text = "\n".join(md) + "\n"
print(text)

if os.environ.get("BENCH_WRITE", "1") == "0":
    sys.exit(0)  # print only: docs/bench-results.md and docs/PERFORMANCE.md stay as they are
root = sys.argv[2]
with open(os.path.join(root, "docs", "bench-results.md"), "w") as f:
    f.write("# Benchmark results\n\n" + text)
readme = os.path.join(root, "docs", "PERFORMANCE.md")
r = open(readme).read()
new = "<!-- bench:start -->\n" + text + "<!-- bench:end -->"
r2 = re.sub(r"<!-- bench:start -->.*?<!-- bench:end -->", lambda _: new, r, flags=re.S)
if r2 != r:
    open(readme, "w").write(r2)
