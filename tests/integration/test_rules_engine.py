"""The rules engine through the real binary: `simulate` predicts exactly what `run --once` does
day by day against a real SMTP server, SIGHUP with a broken file keeps the old rules, and
`cases --show` explains a case."""
import datetime
import os
import random
import re
import signal
import subprocess
import time
import unittest

from dunning_fixtures import DUNNINGD, SmtpServer, Workspace, process_env, utc_now, wait_for

START = datetime.datetime(2026, 11, 1, 9, 0, tzinfo=datetime.timezone.utc)
DAYS = 30
ZONES = ["Europe/Zagreb", "Asia/Kolkata", "America/New_York", "UTC", "Europe/Lisbon"]
SOFT = ["insufficient_funds", "do_not_honor", "try_again_later"]
HARD = ["expired_card", "stolen_card"]


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def month_of_data(seed=7, customers=40):
    """Customers, cards and a month of failed (and some later succeeded) payments."""
    rnd = random.Random(seed)
    people, cards, payments = [], [], []
    for i in range(customers):
        cid = f"cus_{i:03d}"
        people.append((cid, f"{cid}@example.com", rnd.choice(ZONES)))
        # A few cards expire at the end of November: card_expiring cases on day one.
        exp = (11, 2026) if i % 7 == 0 else (rnd.randint(1, 12), 2028)
        cards.append((f"pm_{i:03d}", cid, exp[0], exp[1]))
        for k in range(rnd.choice([1, 1, 2])):  # some customers have two subscriptions
            fail_at = START + datetime.timedelta(days=rnd.randint(0, 25),
                                                 minutes=rnd.randint(0, 24 * 60))
            code = rnd.choice(SOFT + SOFT + HARD)
            inv = f"in_{i:03d}_{k}"
            amount = rnd.choice([900, 1250, 4900, 19900])
            payments.append((f"py_{i:03d}_{k}_f", cid, f"sub_{i}_{k}", inv, amount, "failed",
                             fail_at, code))
            if rnd.random() < 0.4:
                paid_at = fail_at + datetime.timedelta(days=rnd.randint(0, 12), hours=3)
                payments.append((f"py_{i:03d}_{k}_s", cid, f"sub_{i}_{k}", inv, amount,
                                 "succeeded", paid_at, None))
    payments.sort(key=lambda p: p[6])
    return people, cards, payments


def load_people(ws, people, cards):
    for cid, addr, tz in people:
        ws.add_customer(cid, addr, name=cid, tz=tz)
    for pm, cid, month, year in cards:
        ws.sql("INSERT INTO payment_methods(id, customer_id, brand, last4, exp_month, exp_year,"
               " is_default) VALUES (?,?,?,?,?,?,1)", (pm, cid, "visa", "4242", month, year))


def add(ws, p):
    pid, cid, sub, inv, amount, status, when, code = p
    ws.add_payment(pid, cid, inv, amount, "EUR", status, iso(when), decline_code=code,
                   subscription=sub)


def real_totals(ws):
    totals = {}
    for state, n in ws.sql("SELECT state, COUNT(*) FROM cases GROUP BY state"):
        totals[f"total outcome {state}"] = n
    totals["total cases"] = ws.sql("SELECT COUNT(*) FROM cases")[0][0]
    for cid, n in ws.sql("SELECT c.customer_id, SUM(o.state = 'sent' AND o.channel <> 'action')"
                         " FROM cases c LEFT JOIN outbox o ON o.case_id = c.id"
                         " GROUP BY c.customer_id"):
        totals[f"customer {cid} messages"] = n or 0
    for card, n in ws.sql("SELECT card_id, COUNT(*) FROM outbox WHERE action = 'retry'"
                          " AND state <> 'cancelled' GROUP BY card_id"):
        totals[f"card {card} retries"] = n
    return totals


def live_a_month(ws, people, cards, payments):
    """The month for real: each payment written when it happens, `run --once` every day."""
    ws.run("migrate")
    load_people(ws, people, cards)
    pending = list(payments)
    for day in range(DAYS + 1):
        now = START + datetime.timedelta(days=day)
        while pending and pending[0][6] <= now:
            add(ws, pending.pop(0))
        ws.tick(iso(now))


def parse_totals(stdout):
    totals = {}
    for line in stdout.splitlines():
        m = re.match(r"^(total outcome \S+|total cases|customer \S+ messages|card \S+ retries)"
                     r" (\d+)$", line)
        if m:
            totals[m.group(1)] = int(m.group(2))
    return totals


def parse_sequences(stdout):
    """`total sequence ID cases N messages N retries N STATE N ...` lines, by sequence."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith("total sequence "):
            words = line.split()
            out[words[2]] = {words[i]: int(words[i + 1]) for i in range(3, len(words), 2)}
    return out


# One sequence for every failure instead of the shipped soft/hard pair: three emails.
SEQ_CHANGED = """
sequences:
  - id: everything
    trigger: payment_failed
    steps:
      - {at: 0h, email: payment-failed}
      - {at: 2d, email: payment-failed}
      - {at: 5d, email: payment-failed}
"""


class SimulateMatchesReality(unittest.TestCase):
    def test_simulate_totals_equal_a_real_month_of_daily_run_once(self):
        people, cards, payments = month_of_data()
        with SmtpServer() as smtp:
            real = Workspace(smtp.port)  # the shipped config/sequences.yaml
            self.addCleanup(real.cleanup)
            live_a_month(real, people, cards, payments)
            sent_for_real = len(smtp.messages)

        sim = Workspace(1)  # no SMTP server at all: simulate must not try to send
        self.addCleanup(sim.cleanup)
        sim.run("migrate")
        load_people(sim, people, cards)
        for p in payments:
            add(sim, p)
        before = sim.sql("SELECT COUNT(*) FROM cases")[0][0]
        copy = os.path.join(sim.dir, "copy.db")
        started = time.monotonic()
        out = sim.run("simulate", "--config", sim.config, "--from", iso(START), "--to",
                      iso(START + datetime.timedelta(days=DAYS)), "--db", copy).stdout
        elapsed = time.monotonic() - started
        summary = [line for line in out.splitlines() if line.startswith("simulated ")]
        print(f"\n{summary[0] if summary else ''} (wall {elapsed:.2f}s)")

        expected = real_totals(real)
        got = parse_totals(out)
        self.assertGreater(expected["total cases"], 40)
        self.assertGreater(expected.get("total outcome recovered", 0), 5)
        self.assertGreater(expected.get("total outcome lost", 0), 5)
        self.assertGreater(sent_for_real, 40)
        self.assertEqual(got, expected)
        self.assertIn(f"{sent_for_real} messages recorded (none sent)", out)
        # The real database was not touched; the copy holds the simulation.
        self.assertEqual(sim.sql("SELECT COUNT(*) FROM cases")[0][0], before)
        self.assertEqual(before, 0)
        self.assertTrue(os.path.exists(copy))
        # Per-case timelines explain the decisions.
        self.assertRegex(out, r"opened: sequence '(soft|hard)-decline'")

    def test_simulate_with_a_changed_sequences_file_predicts_a_real_month_under_it(self):
        # What an admin asks before a change goes live: "what would this file have done?"
        # Oracle: a real month of daily `run --once` with the changed file, per sequence.
        people, cards, payments = month_of_data(seed=11)
        with SmtpServer() as smtp:
            real = Workspace(smtp.port, SEQ_CHANGED)
            self.addCleanup(real.cleanup)
            live_a_month(real, people, cards, payments)
        expected = {}
        for seq, cases, messages, retries in real.sql(
                "SELECT c.sequence_id, COUNT(DISTINCT c.id),"
                " SUM(CASE WHEN o.state = 'sent' AND o.channel <> 'action' THEN 1 ELSE 0 END),"
                " SUM(CASE WHEN o.action = 'retry' AND o.state <> 'cancelled' THEN 1 ELSE 0 END)"
                " FROM cases c LEFT JOIN outbox o ON o.case_id = c.id GROUP BY c.sequence_id"):
            expected[seq or "-"] = {"cases": cases, "messages": messages, "retries": retries}
        for seq, state, n in real.sql(
                "SELECT sequence_id, state, COUNT(*) FROM cases GROUP BY 1, 2"):
            expected[seq or "-"][state] = n

        sim = Workspace(1)  # the shipped sequences are the running ones
        self.addCleanup(sim.cleanup)
        sim.run("migrate")
        load_people(sim, people, cards)
        for p in payments:
            add(sim, p)
        changed = os.path.join(sim.dir, "changed.yaml")
        with open(changed, "w") as f:
            f.write(SEQ_CHANGED)
        span = ("--from", iso(START), "--to", iso(START + datetime.timedelta(days=DAYS)))
        current = parse_sequences(sim.run("simulate", "--config", sim.config, *span,
                                          "--totals-only").stdout)
        proposed = parse_sequences(sim.run("simulate", "--config", sim.config, *span,
                                           "--totals-only", "--sequences", changed).stdout)
        self.assertGreater(expected["everything"]["cases"], 20)
        self.assertGreater(expected["everything"]["messages"], 40)
        self.assertEqual(proposed, expected)
        # Side by side with the running rules: other sequences, other counts.
        self.assertNotIn("everything", current)
        self.assertTrue({"soft-decline", "hard-decline"} & set(current), current)

        # A broken file: named with its line, nothing simulated.
        with open(changed, "a") as f:
            f.write("    colour: blue\n")
        bad = sim.run("simulate", "--config", sim.config, *span, "--sequences", changed,
                      check=False)
        self.assertEqual(bad.returncode, 2)
        self.assertRegex(bad.stderr, r"changed\.yaml:\d+")
        self.assertNotIn("total cases", bad.stdout)

    def test_simulate_refuses_to_use_the_real_database(self):
        ws = Workspace(1)
        self.addCleanup(ws.cleanup)
        ws.run("migrate")
        proc = ws.run("simulate", "--config", ws.config, "--from", "2026-11-01", "--to",
                      "2026-11-02", "--db", ws.db_path, check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("must not be the real database", proc.stderr)


SEQ_V1 = """
sequences:
  - id: hard-decline
    trigger: payment_failed
    match: {decline: hard}
    steps: [{at: 0h, email: update-card}]
"""
SEQ_BROKEN = SEQ_V1 + "    colour: blue\n"
SEQ_V2 = """
sequences:
  - id: everything
    trigger: payment_failed
    steps: [{at: 0h, email: payment-failed}]
"""


class Reload(unittest.TestCase):
    def setUp(self):
        self.smtp = SmtpServer().start()
        self.addCleanup(self.smtp.stop)
        self.ws = Workspace(self.smtp.port, SEQ_V1)
        self.addCleanup(self.ws.cleanup)
        self.ws.run("migrate")
        self.log_path = os.path.join(self.ws.dir, "daemon.log")

    def log(self):
        with open(self.log_path, encoding="utf-8") as f:
            return f.read()

    def write_sequences(self, text):
        with open(os.path.join(self.ws.dir, "sequences.yaml"), "w", encoding="utf-8") as f:
            f.write(text)

    def test_sighup_with_a_broken_file_keeps_the_old_rules_and_a_good_one_swaps(self):
        ws = self.ws
        ws.add_customer("cus_1", "ana@example.com", tz="UTC")
        ws.add_customer("cus_2", "ben@example.com", tz="UTC")  # the daily cap is per customer
        with open(self.log_path, "w", encoding="utf-8") as log:
            proc = subprocess.Popen([DUNNINGD, "run", "--config", ws.config], stderr=log,
                                    env=process_env())
        try:
            wait_for(lambda: "running" in self.log(), what="daemon start")
            self.write_sequences(SEQ_BROKEN)
            proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload refused" in self.log(), what="refused reload")
            self.assertRegex(self.log(), r"sequences\.yaml:\d+:\d+: error: .*colour")
            now = utc_now()  # the daemon runs at the real (or CI-shifted) time
            ws.add_payment("py_1", "cus_1", "in_1", 1250, "EUR", "failed", iso(now),
                           decline_code="stolen_card")
            # The old rules still run: the hard decline gets its update-card email.
            wait_for(lambda: len(self.smtp.messages) == 1, timeout=20, what="email under v1")
            self.assertEqual(ws.sql("SELECT sequence_id FROM cases")[0][0], "hard-decline")

            # A file that loads but breaks the per-card retry cap is refused too.
            greedy = ", ".join(f"{{at: {d}d, action: retry}}" for d in range(16))
            self.write_sequences(f"sequences:\n  - id: g\n    trigger: payment_failed\n"
                                 f"    steps: [{greedy}]\n")
            proc.send_signal(signal.SIGHUP)
            wait_for(lambda: self.log().count("reload refused") == 2, what="cap refusal")
            self.assertIn("above the per-card cap", self.log())

            self.write_sequences(SEQ_V2)
            proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "configuration reloaded" in self.log(), what="good reload")
            ws.add_payment("py_2", "cus_2", "in_2", 1250, "EUR", "failed", iso(now),
                           decline_code="insufficient_funds")
            wait_for(lambda: len(self.smtp.messages) == 2, timeout=20, what="email under v2")
            self.assertEqual(ws.sql("SELECT sequence_id FROM cases WHERE invoice_id = 'in_2'")[0][0],
                             "everything")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        self.assertEqual(proc.returncode, 0)


class Check(unittest.TestCase):
    def check(self, sequences):
        ws = Workspace(1, sequences)
        self.addCleanup(ws.cleanup)
        return ws.run("check", check=False)

    def test_shadowed_sequence_and_unknown_locale_warn_but_pass(self):
        proc = self.check("""
sequences:
  - id: all
    trigger: payment_failed
    steps: [{at: 0h, email: payment-failed}]
  - id: soft-hr
    trigger: payment_failed
    match: {decline: soft, locales: [hr, zz]}
    steps: [{at: 0h, email: payment-failed}]
""")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stderr, r"sequences\.yaml:6:\d+: warning: sequence 'soft-hr' can "
                                      r"never match: the earlier sequence 'all'")
        self.assertIn("unknown locale 'zz'", proc.stderr)
        self.assertNotIn("'hr'", proc.stderr)

    def test_a_sequence_breaking_the_per_card_retry_cap_is_an_error(self):
        steps = ", ".join(f"{{at: {d}d, action: retry}}" for d in range(16))
        proc = self.check(f"""
sequences:
  - id: greedy
    trigger: payment_failed
    steps: [{steps}]
""")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("error: sequence 'greedy' can place 16 retries on one card within 30 days,"
                      " above the per-card cap of 15", proc.stderr)


class Explain(unittest.TestCase):
    def test_cases_show_prints_the_timeline_with_next_retry_and_next_contact(self):
        with SmtpServer() as smtp:
            # Retries reach a billing system (none listens: the first retry is not due yet).
            ws = Workspace(smtp.port, extra_config="billing:\n  url: http://127.0.0.1:9/billing\n")
            self.addCleanup(ws.cleanup)
            ws.run("migrate")
            ws.add_customer("cus_1", "ana@example.com", tz="Asia/Kolkata")
            # Friday 2026-11-27 13:00 UTC = 18:30 IST; the shipped soft-decline sequence.
            ws.add_payment("py_1", "cus_1", "in_1", 1250, "EUR", "failed",
                           "2026-11-27T13:00:00Z", decline_code="insufficient_funds")
            ws.tick("2026-11-28T13:05:00Z")  # Saturday: the retry runs, the email waits
            out = ws.run("cases", "--show", "1").stdout
        self.assertIn("passed over hard-decline: wants a hard decline", out)
        self.assertIn("prefer payday: moved from 2026-11-28 18:30 IST to payday "
                      "2026-12-01 18:30 IST", out)
        self.assertIn("moved by send window from 2026-11-28 18:30 IST to 2026-11-30 09:00 IST",
                      out)
        self.assertIn("next retry: 2026-12-01T13:00:00Z (2026-12-01 18:30 IST): step #1 "
                      "(action retry), queued", out)
        self.assertIn("next contact: 2026-11-30T03:30:00Z (2026-11-30 09:00 IST): step #2 "
                      "(email payment-failed), queued", out)


if __name__ == "__main__":
    unittest.main()
