#!/usr/bin/python3
"""Tick cost of the scheduler against the size of the payments table.

For a small and a large `payments` table (already polled: the cursor is past them), times a
`dunningd run --once` that reads NEW failed payments, opens their cases and plans their first
step (due a day later, so the dispatcher has nothing to do and only the scheduler is measured). Prints the per-tick time for both sizes and
their ratio against a ceiling: polling cost must grow with new rows, not with table size.

usage: bench/rules_tick.py [path/to/dunningd]   (default: build/dunningd)
"""
import datetime
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DUNNINGD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "dunningd")
CEILING = 2.0  # large/small tick time ratio allowed
NEW_PER_TICK = 200
ROUNDS = 5

SEQUENCES = """
sequences:
  - id: soft
    trigger: payment_failed
    steps: [{at: 1d, action: retry}, {at: 3d, action: retry}, {at: 21d, action: cancel}]
"""


def workspace(rows):
    d = tempfile.mkdtemp(prefix="dunningd-bench-")
    with open(os.path.join(d, "sequences.yaml"), "w") as f:
        f.write(SEQUENCES)
    with open(os.path.join(d, "dunningd.yaml"), "w") as f:
        f.write(f"""database: d.db
sequences: sequences.yaml
templates: {os.path.join(ROOT, 'templates')}
log_level: warn
smtp: {{url: "smtp://127.0.0.1:9/x", from: "b@example.com"}}
""")
    subprocess.run([DUNNINGD, "migrate", "--config", os.path.join(d, "dunningd.yaml")],
                   check=True, capture_output=True)
    db = sqlite3.connect(os.path.join(d, "d.db"))
    db.executemany(
        "INSERT INTO payments(id, customer_id, invoice_id, amount_minor, currency, status,"
        " occurred_at) VALUES (?,?,?,?,?,?,?)",
        ((f"old_{i}", f"cus_{i % 50000}", f"old_in_{i}", 1000, "EUR", "succeeded",
          "2026-10-01T00:00:00Z") for i in range(rows)))
    db.commit()
    db.close()
    return d


def tick(d, now):
    t = time.monotonic()
    subprocess.run([DUNNINGD, "run", "--once", "--now", now, "--config",
                    os.path.join(d, "dunningd.yaml")], check=True, capture_output=True)
    return time.monotonic() - t


def measure(rows):
    d = workspace(rows)
    try:
        catch_up = tick(d, "2026-11-01T00:00:00Z")  # reads the whole table once
        times = []
        db = sqlite3.connect(os.path.join(d, "d.db"))
        for r in range(ROUNDS):
            db.executemany(
                "INSERT INTO payments(id, customer_id, invoice_id, amount_minor, currency, status,"
                " decline_code, occurred_at) VALUES (?,?,?,?,?,?,?,?)",
                ((f"new_{r}_{i}", f"cus_{i}", f"in_{r}_{i}", 1000, "EUR", "failed",
                  "insufficient_funds", "2026-11-01T00:00:00Z") for i in range(NEW_PER_TICK)))
            db.commit()
            times.append(tick(d, f"2026-11-01T00:0{r + 1}:00Z"))
        db.close()
        return catch_up, statistics.median(times)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    small_rows, large_rows = 1_000, 100_000
    s_catch, s_tick = measure(small_rows)
    l_catch, l_tick = measure(large_rows)
    ratio = l_tick / s_tick
    print(f"first catch-up tick: {small_rows} rows {s_catch * 1000:.0f} ms, "
          f"{large_rows} rows {l_catch * 1000:.0f} ms")
    print(f"tick with {NEW_PER_TICK} new failed payments (median of {ROUNDS}, process start "
          f"included): table {small_rows} rows {s_tick * 1000:.0f} ms, "
          f"table {large_rows} rows {l_tick * 1000:.0f} ms")
    print(f"ratio large/small {ratio:.2f} (ceiling {CEILING}) -> "
          f"{'OK' if ratio <= CEILING else 'TOO SLOW'}")
    return 0 if ratio <= CEILING else 1


if __name__ == "__main__":
    sys.exit(main())
