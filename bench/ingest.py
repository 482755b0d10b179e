#!/usr/bin/python3
"""Ingest throughput of POST /v1/events with durable group commit, against the raw SQLite
ceilings measured in the same run on the same disk (WAL, synchronous=FULL):
  - one transaction per event (what a naive durable API gets: one fsync per event), and
  - every event in one transaction (the batched ceiling no API can beat).

usage: bench/ingest.py [--events N] [--clients C] [--dunningd build/dunningd]
Prints events/s and the ratios. Uses Python threads with keep-alive loopback connections.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
TOKEN = "bench-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def event(i, run):
    return json.dumps({"id": f"bench-{run}-{i}", "type": "payment.failed",
                       "occurred_at": "2026-11-22T10:00:00Z",
                       "data": {"id": f"pay-{run}-{i}", "customer_id": f"cus-{i % 1000}",
                                "invoice_id": f"inv-{run}-{i}", "amount_minor": 1000 + i % 5000,
                                "currency": "EUR", "decline_code": "insufficient_funds"}})


def sqlite_ceiling(directory, n, per_row):
    path = os.path.join(directory, f"ceiling-{per_row}.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE events(id TEXT PRIMARY KEY, source TEXT, type TEXT, payload TEXT,"
                 " received_at TEXT)")
    conn.execute("CREATE TABLE payments(id TEXT PRIMARY KEY, customer_id TEXT, invoice_id TEXT,"
                 " amount_minor INTEGER, currency TEXT, status TEXT, occurred_at TEXT)")
    rows = [(f"e{i}", event(i, "c"), f"p{i}", f"c{i % 1000}", f"in{i}", 1000 + i) for i in range(n)]
    start = time.perf_counter()
    if not per_row:
        conn.execute("BEGIN IMMEDIATE")
    for eid, payload, pid, cid, inv, amount in rows:
        if per_row:
            conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO events VALUES (?, 'api', 'payment.failed', ?, "
                     "'2026-11-22T10:00:00Z')", (eid, payload))
        conn.execute("INSERT INTO payments VALUES (?, ?, ?, ?, 'EUR', 'failed', "
                     "'2026-11-22T10:00:00Z')", (pid, cid, inv, amount))
        if per_row:
            conn.execute("COMMIT")
    if not per_row:
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


def run_clients(port, n, clients, run):
    counter = iter(range(n))
    lock = threading.Lock()
    errors = []

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            conn.request("POST", "/v1/events", body=event(i, run), headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status not in (200, 202):
                errors.append(resp.status)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, e.g. {errors[:5]}")
    return n / elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--dunningd", default=os.path.join(SOURCE_DIR, "build", "dunningd"))
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="dunningd-bench-", dir=os.environ.get("BENCH_DIR"))
    try:
        port = free_port()
        with open(os.path.join(work, "sequences.yaml"), "w") as f:
            f.write("sequences:\n  - id: quiet\n    trigger: payment_failed\n    steps:\n"
                    "      - {at: 30d, action: cancel}\n")
        config = os.path.join(work, "dunningd.yaml")
        with open(config, "w") as f:
            f.write(f"""database: dunningd.db
sequences: sequences.yaml
templates: {os.path.join(SOURCE_DIR, 'templates')}
poll_interval: 1h
log_level: warn
smtp: {{url: "smtp://127.0.0.1:9/bench", from: bench@example.com}}
http: {{listen: "127.0.0.1:{port}", max_connections: 1024, token_env: BENCH_TOKEN}}
""")
        env = dict(os.environ, BENCH_TOKEN=TOKEN)
        proc = subprocess.Popen([args.dunningd, "run", "--config", config], env=env)
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    c.request("GET", "/healthz")
                    c.getresponse().read()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise SystemExit("dunningd did not start")
                    time.sleep(0.05)
            run_clients(port, min(500, args.events), args.clients, "warmup")
            api = run_clients(port, args.events, args.clients, "bench")
            with sqlite3.connect(os.path.join(work, "dunningd.db")) as db:
                count = db.execute("SELECT COUNT(*) FROM payments WHERE id LIKE 'pay-bench-%'"
                                   ).fetchone()[0]
            assert count == args.events, f"{count} rows committed, expected {args.events}"
            commits_text = ""
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/metrics")
            for line in c.getresponse().read().decode().splitlines():
                if line.startswith("dunningd_ingest_commits_total"):
                    commits_text = line.split()[-1]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        per_row = sqlite_ceiling(work, min(args.events, 2000), per_row=True)
        batched = sqlite_ceiling(work, args.events, per_row=False)
        total = args.events + min(500, args.events)
        print(f"events: {args.events}, concurrent clients: {args.clients}, "
              f"group commits for {total} events: {commits_text or '?'}")
        print(f"HTTP ingest (durable, group commit):     {api:10.0f} events/s")
        print(f"SQLite FULL, one transaction per event:  {per_row:10.0f} events/s"
              f"  -> ratio {api / per_row:.2f}x")
        print(f"SQLite FULL, all events in one tx:       {batched:10.0f} events/s"
              f"  -> ratio {api / batched:.3f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
