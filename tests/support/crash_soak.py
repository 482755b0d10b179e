"""Crash-safety soak: `kill -9` at random moments while dunningd opens cases and sends their
steps, with new failures and payments arriving between the kills; then one clean run to the
end, and the count of what a customer and finance would notice:

- lost steps: a case whose first email was never sent (nor skipped for a reason);
- duplicates: the same message (Message-ID) received twice — allowed only for a batch in
  flight at a kill (sent, not yet marked), so at most kills x batch_size, each at most twice;
- mail after payment: an email whose Date is after the daemon recorded the recovery;
- `dunningd ledger verify` and `PRAGMA integrity_check`.

Used by bench/soak (100 kills, 10,000 steps) and by integration.test_crash_soak (a light run)."""
import collections
import datetime
import email.utils
import os
import random
import signal
import subprocess
import time

from dunning_fixtures import (DUNNINGD, SmtpServer, Workspace, iso, iso_ago, process_env,
                              utc_now, wait_for)

SEQUENCES = """
sequences:
  - id: any
    trigger: payment_failed
    steps:
      - {at: 0h, email: payment-failed}
      - {at: 30d, action: mark_lost}
defaults:
  send_window: {from: "00:00", to: "24:00", days: [sun, mon, tue, wed, thu, fri, sat]}
  max_messages_per_customer_per_day: 10
"""

BATCH = 100


def _add(ws, first, n, rng, paid_share=0.1):
    """n new customers with a failed payment two hours ago; paid_share of the older ones pay."""
    with ws.db() as conn:
        conn.executemany("INSERT INTO customers(id, email, name, locale, time_zone) "
                         "VALUES (?,?,?,?,?)",
                         [(f"c{i}", f"c{i}@example.com", f"Customer {i}", "en", "UTC")
                          for i in range(first, first + n)])
        conn.executemany("INSERT INTO payments(id, customer_id, invoice_id, amount_minor, "
                         "currency, status, decline_code, occurred_at) VALUES (?,?,?,?,?,?,?,?)",
                         [(f"f{i}", f"c{i}", f"in{i}", 1000 + i, "EUR", "failed",
                           "insufficient_funds", iso_ago(hours=2))
                          for i in range(first, first + n)])
        payers = [i for i in range(first) if rng.random() < paid_share / 10]
        conn.executemany("INSERT OR IGNORE INTO payments(id, customer_id, invoice_id, "
                         "amount_minor, currency, status, occurred_at) VALUES (?,?,?,?,?,?,?)",
                         [(f"s{i}", f"c{i}", f"in{i}", 1000 + i, "EUR", "succeeded", iso(utc_now()))
                          for i in payers])


def soak(steps=10000, kills=100, seed=1, max_alive=1.5, log=print):
    rng = random.Random(seed)
    smtp = SmtpServer().start()
    ws = Workspace(smtp.port, SEQUENCES, log_level="warn")
    with open(ws.config, "a", encoding="utf-8") as f:
        # Under the workspace's outbox: section. A killed sender's claims come back when their
        # lease ends: a short one keeps the soak short.
        f.write(f"  batch_size: {BATCH}\n  lease: 15s\n")
    try:
        ws.run("migrate")
        first = steps // 2
        _add(ws, 0, first, rng)
        added = first
        chunk = max(1, (steps - first) // max(1, kills))
        started = time.monotonic()
        for k in range(kills):
            proc = subprocess.Popen([DUNNINGD, "run", "--config", ws.config],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    env=process_env())
            time.sleep(rng.uniform(0.05, max_alive))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            if added < steps:
                n = min(chunk, steps - added)
                _add(ws, added, n, rng)
                added += n
        if added < steps:
            _add(ws, added, steps - added, rng)
        # One clean run to the end: every case's first step reaches a final state.
        proc = subprocess.Popen([DUNNINGD, "run", "--config", ws.config],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=process_env())
        try:
            # Done: nothing pending and the daemon has read every payment (its cursor is at the
            # last rowid; an invoice paid before its case opened gets no case).
            last = ws.sql("SELECT MAX(rowid) FROM payments")[0][0]
            wait_for(lambda: ws.sql("SELECT COUNT(*) FROM outbox WHERE step_index = 0 AND "
                                    "state = 'pending'")[0][0] == 0 and
                     (ws.sql("SELECT value FROM cursors WHERE name = 'payments'") or
                      [(0,)])[0][0] >= last,
                     timeout=120 + steps / 50, interval=0.5,
                     what=lambda: "the backlog to drain: outbox " + str(ws.sql(
                         "SELECT state, step_index, COUNT(*) FROM outbox GROUP BY 1, 2")) + str(ws.sql(
                         "SELECT next_attempt_at, attempts, last_error FROM outbox WHERE state = 'pending' LIMIT 3")) +
                     f", payments cursor {ws.sql('SELECT * FROM cursors')} of {last}")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        elapsed = time.monotonic() - started

        cases = ws.sql("SELECT COUNT(*) FROM cases")[0][0]
        lost = ws.sql("SELECT COUNT(*) FROM cases c WHERE NOT EXISTS (SELECT 1 FROM outbox o "
                      "WHERE o.case_id = c.id AND o.step_index = 0 AND "
                      "o.state IN ('sent', 'skipped', 'cancelled'))")[0][0]
        ids = collections.Counter(m["Message-ID"] for _, _, m in smtp.messages)
        dups = {k: n for k, n in ids.items() if n > 1}
        # When the daemon saw the payment: its ledger row's recorded_at (closed_at is when the
        # customer paid, which may be before the daemon read it), against the emails' Date.
        closed = {c: datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).replace(
            microsecond=0) for c, t in ws.sql("SELECT customer_id, MIN(recorded_at) FROM ledger "
                                              "WHERE kind LIKE 'recovered%' GROUP BY 1")}
        late = sum(1 for _, rcpts, m in smtp.messages
                   if (when := closed.get(rcpts[0].split("@")[0])) is not None and
                   email.utils.parsedate_to_datetime(m["Date"]) > when)
        verify = ws.run("ledger", "verify", check=False)
        integrity = ws.sql("PRAGMA integrity_check")[0][0]
        result = {
            "steps": steps, "kills": kills, "cases": cases, "emails": len(smtp.messages),
            "distinct": len(ids), "lost": lost, "duplicates": len(dups),
            "max_copies": max(dups.values(), default=1), "mail_after_recovery": late,
            "ledger_verify": verify.returncode, "integrity": integrity,
            "seconds": round(elapsed, 1),
        }
        log(" ".join(f"{k}={v}" for k, v in result.items()))
        return result
    finally:
        smtp.stop()
        ws.cleanup()
