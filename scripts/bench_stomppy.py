#!/usr/bin/env python3
"""stomp.py on the same workloads as benches/compare, printing the same JSON lines.

    bench_stomppy.py --firehose HOST:PORT --sink HOST:PORT --broker NAME=HOST:PORT ... --secs S

CPU is the whole process's (stomp.py reads on a thread of its own), from getrusage."""
import argparse
import json
import os
import resource
import threading
import time

import stomp

BODY = "x" * 100


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def report(workload, msgs, t0, c0):
    secs = time.monotonic() - t0
    print(json.dumps({"workload": workload, "client": "stomp.py", "msgs": msgs,
                      "secs": round(secs, 4), "msgs_per_s": msgs / secs,
                      "cpu_us_per_msg": (cpu() - c0) * 1e6 / max(msgs, 1)}), flush=True)


def connect(addr):
    host, port = addr.rsplit(":", 1)
    conn = stomp.Connection12([(host, int(port))], heartbeats=(0, 0), vhost="/")
    return conn


class Counter(stomp.ConnectionListener):
    def __init__(self, conn=None, ack=False):
        self.n = 0
        self.conn = conn
        self.ack = ack
        self.cond = threading.Condition()
        self.receipts = set()

    def on_message(self, frame):
        if self.ack:
            self.conn.ack(frame.headers["ack"])
        with self.cond:
            self.n += 1
            self.cond.notify_all()

    def on_receipt(self, frame):
        with self.cond:
            self.receipts.add(frame.headers.get("receipt-id"))
            self.cond.notify_all()

    def wait(self, pred, timeout=120):
        with self.cond:
            self.cond.wait_for(pred, timeout)


def firehose(addr, ack, secs, workload):
    conn = connect(addr)
    lst = Counter(conn, ack)
    conn.set_listener("c", lst)
    conn.connect("guest", "guest", wait=True)
    t0, c0 = time.monotonic(), cpu()
    conn.subscribe("/queue/f", id="0", ack="client-individual" if ack else "auto")
    time.sleep(secs)
    n = lst.n
    report(workload, n, t0, c0)
    conn.disconnect()


def publish(addr, secs, workload):
    conn = connect(addr)
    conn.connect("guest", "guest", wait=True)
    t0, c0 = time.monotonic(), cpu()
    n = 0
    while True:
        conn.send("/queue/sink", BODY)
        n += 1
        if n % 256 == 0 and time.monotonic() - t0 >= secs:
            break
    conn.disconnect()  # waits for the DISCONNECT receipt
    report(workload, n, t0, c0)


def broker_roundtrip(addr, dest, n, workload):
    conn = connect(addr)
    lst = Counter()
    conn.set_listener("c", lst)
    conn.connect("guest", "guest", wait=True)
    t0, c0 = time.monotonic(), cpu()
    for _ in range(n):
        conn.send(dest, BODY)
    conn.send(dest, "", headers={"receipt": "sent"})
    lst.wait(lambda: "sent" in lst.receipts)
    conn.subscribe(dest, id="0", ack="auto")
    lst.wait(lambda: lst.n >= n + 1)
    report(workload, n, t0, c0)
    conn.disconnect()


def request_reply(addr, dest, n, workload):
    conn = connect(addr)
    lst = Counter()
    conn.set_listener("c", lst)
    conn.connect("guest", "guest", wait=True)
    conn.subscribe(dest, id="0", ack="auto", headers={"receipt": "sub"})
    lst.wait(lambda: "sub" in lst.receipts)
    samples = []
    for i in range(n + n // 10):
        want = lst.n + 1
        t = time.perf_counter()
        conn.send(dest, BODY)
        lst.wait(lambda: lst.n >= want)
        if i >= n // 10:
            samples.append((time.perf_counter() - t) * 1e6)
    samples.sort()
    print(json.dumps({"workload": workload, "client": "stomp.py", "n": len(samples),
                      "p50_us": samples[len(samples) // 2],
                      "p99_us": samples[int((len(samples) - 1) * 0.99)]}), flush=True)
    conn.disconnect()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--firehose")
    ap.add_argument("--sink")
    ap.add_argument("--broker", action="append", default=[])
    ap.add_argument("--secs", type=float, default=2.0)
    ap.add_argument("--broker-msgs", type=int, default=100_000)
    ap.add_argument("--rr", type=int, default=2000)
    a = ap.parse_args()
    uniq = os.getpid()
    if a.firehose:
        firehose(a.firehose, False, a.secs, "firehose consume, auto")
        firehose(a.firehose, True, a.secs, "firehose consume, ACK each")
    if a.sink:
        publish(a.sink, a.secs, "sink publish")
    for spec in a.broker if a.broker_msgs else []:
        name, addr = spec.split("=", 1)
        broker_roundtrip(addr, f"/queue/bench-stomppy-{uniq}", a.broker_msgs,
                         f"{name}: publish + consume")
    for spec in a.broker if a.rr else []:
        name, addr = spec.split("=", 1)
        request_reply(addr, f"/queue/rr-stomppy-{uniq}", a.rr, f"{name}: request/reply")


if __name__ == "__main__":
    main()
