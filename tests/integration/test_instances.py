"""Several `dunningd run` on one PostgreSQL database (docs/instances.md): three daemons, each
with its own real SMTP server (aiosmtpd), so every delivery is known by who made it.

One run, in order:
- instance A starts first and is elected poller; B and C join as senders;
- 400 failed payments (one due email step each) are written: A opens the cases, all three
  send;
- C, whose SMTP server is slow, is kill -9ed inside a batch: its leased rows must be sent again
  by another instance, and only once their lease is over;
- the poller A is kill -9ed mid-run: B takes the poller role (how long that took is printed,
  not asserted: the role changing hands is what counts), the 200 payments written afterwards
  still open cases, and A's leased rows are sent again after A's lease.
Each instance has its own lease (C 6 s, A 15 s, B 60 s), so the rows a dead instance held are
told apart from the live ones' by their lease_until alone, read right after the kill (a live
instance's batch would have to take 7 s to be mistaken for C's, 43 s for A's).
- at the end every one of the 600 steps was delivered, each exactly once, except the rows a
  killed instance held: those at most twice, the second time after the lease.
"""
import datetime
import json
import os
import signal
import subprocess
import time
import unittest
import urllib.request

from dunning_fixtures import (DUNNINGD, SOURCE_DIR, TIME_SHIFT, SmtpServer, _Recorder,
                              free_port, iso_ago, process_env, wait_for)
from pg_server import TestDatabase

PASSWORD_ENV = "DUNNINGD_TEST_DB_PASSWORD"
ROLE, ROLE_PASSWORD = "dunningd_app", "app-password-for-tests"
LEASES = {"c": 6, "a": 15, "b": 60}  # seconds; C's batch (10 x 0.2 s) is well within 6 s
POLL = 1         # seconds
FIRST, SECOND = 400, 200  # payments before / after the poller dies: one due step each

SEQUENCES = """sequences:
  - id: one-reminder
    trigger: payment_failed
    steps:
      - {at: 0h, email: payment-failed}
defaults:
  send_window: {from: "00:00", to: "24:00", days: [sun, mon, tue, wed, thu, fri, sat]}
  max_messages_per_customer_per_day: 10
  min_hours_between_messages: 0
"""


class TimedRecorder(_Recorder):
    """Records when each message arrived, on the clock the daemons see (shifted like utc_now,
    to the microsecond)."""

    def __init__(self):
        super().__init__()
        self.times = []

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        with self.lock:
            self.times.append(datetime.datetime.now(datetime.timezone.utc) + TIME_SHIFT)
        return reply


def timed_smtp(data_delay=0.0):
    smtp = SmtpServer()
    smtp.handler = TimedRecorder()
    smtp.handler.data_delay = data_delay
    return smtp


class Instance:
    def __init__(self, name, workdir, db, smtp, batch, connections):
        self.name = name
        self.port = free_port()
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.config = os.path.join(self.dir, "dunningd.yaml")
        with open(os.path.join(self.dir, "sequences.yaml"), "w") as f:
            f.write(SEQUENCES)
        with open(self.config, "w") as f:
            f.write(f"""database: {db.uri}
database_password_env: {PASSWORD_ENV}
sequences: sequences.yaml
templates: {os.path.join(SOURCE_DIR, 'templates')}
default_locale: en
poll_interval: {POLL}s
log_level: info
smtp:
  url: smtp://127.0.0.1:{smtp.port}/{name}.test
  from: Example Billing <billing@example.com>
  timeout: 10s
  connections: {connections}
outbox:
  batch_size: {batch}
  lease: {LEASES.get(name, 60)}s
http:
  listen: "127.0.0.1:{self.port}"
""")
        self.proc = None
        self.log_path = os.path.join(self.dir, "daemon.log")

    def env(self):
        return process_env({PASSWORD_ENV: ROLE_PASSWORD})

    def start(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([DUNNINGD, "run", "--config", self.config], stdout=self._log,
                                     stderr=subprocess.STDOUT, env=self.env())
        wait_for(lambda: self.health(), timeout=30, what=f"{self.name} to answer /healthz")
        return self

    def health(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited {self.proc.returncode}:\n{self.log()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:  # 503 still carries the body
            return json.loads(e.read())
        except OSError:
            return None

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return r.read().decode()

    def role(self):
        h = self.health()
        return h.get("role") if h else None

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc:
            self._log.close()


class SeveralInstances(unittest.TestCase):
    def setUp(self):
        import tempfile
        import shutil
        self.db = TestDatabase(owner=ROLE, password=ROLE_PASSWORD).__enter__()
        self.addCleanup(self.db.__exit__, None, None, None)
        self.workdir = tempfile.mkdtemp(prefix="dunningd-instances-")
        self.addCleanup(shutil.rmtree, self.workdir, True)
        # Every server takes a while per message, so no instance can drain the outbox before
        # the others poll (A, the poller, dispatches what it queues in the same tick): A and B
        # send ~80 messages/s each (4 connections), C ~5/s (1 connection).
        self.smtp = {"a": timed_smtp(data_delay=0.05), "b": timed_smtp(data_delay=0.05),
                     "c": timed_smtp(data_delay=0.2)}
        for s in self.smtp.values():
            s.start()
            self.addCleanup(s.stop)

    def write_payments(self, first, count):
        rows = [(f"cus_{i}", f"cus_{i}@example.com", f"Customer {i}", "en", "UTC")
                for i in range(first, first + count)]
        pays = [(f"py_{i}", f"cus_{i}", f"in_{i}", 1250, "EUR", "failed", "insufficient_funds",
                 iso_ago(hours=3)) for i in range(first, first + count)]
        with self.db.connect() as conn, conn.cursor() as cur:
            cur.executemany("INSERT INTO customers(id, email, name, locale, time_zone) "
                            "VALUES (%s, %s, %s, %s, %s)", rows)
            cur.executemany("INSERT INTO payments(id, customer_id, invoice_id, amount_minor, "
                            "currency, status, decline_code, occurred_at) "
                            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", pays)
        conn.close()

    def sql(self, statement, params=()):
        conn = self.db.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def deliveries(self):
        """Message-ID -> [(instance, time)] over every SMTP server."""
        out = {}
        for name, smtp in self.smtp.items():
            with smtp.handler.lock:
                pairs = list(zip(smtp.handler.messages, smtp.handler.times))
            for (_, _, msg), t in pairs:
                out.setdefault(msg["Message-ID"], []).append((name, t))
        return out

    def kill_and_read_leases(self, inst):
        """kill -9 `inst`, then the rows it held: leased rows whose lease ends within its lease
        from now (the live instances' leases end much later, see LEASES)."""
        inst.proc.send_signal(signal.SIGKILL)
        inst.proc.wait(timeout=10)
        killed = datetime.datetime.now(datetime.timezone.utc) + TIME_SHIFT
        bound = killed + datetime.timedelta(seconds=LEASES[inst.name] + 2)
        out = {}
        for key, lease in self.sql("SELECT message_key, lease_until FROM outbox "
                                   "WHERE state = 'pending' AND lease_until IS NOT NULL"):
            until = datetime.datetime.strptime(lease, "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.timezone.utc)
            if killed - datetime.timedelta(seconds=1) < until <= bound:
                out[key] = until
        return out

    def test_three_daemons_share_one_database_and_survive_a_killed_poller_and_sender(self):
        t_start = time.monotonic()
        subprocess.run([DUNNINGD, "migrate", "--config", Instance(
            "m", self.workdir, self.db, self.smtp["a"], 50, 1).config],
            check=True, capture_output=True, env=process_env({PASSWORD_ENV: ROLE_PASSWORD}))
        a = Instance("a", self.workdir, self.db, self.smtp["a"], batch=10, connections=4)
        b = Instance("b", self.workdir, self.db, self.smtp["b"], batch=10, connections=4)
        c = Instance("c", self.workdir, self.db, self.smtp["c"], batch=10, connections=1)
        for inst in (a, b, c):
            self.addCleanup(inst.stop)
        a.start()
        wait_for(lambda: a.role() == "poller", timeout=15, what="A to be the poller")
        b.start()
        c.start()
        wait_for(lambda: b.role() == "sender" and c.role() == "sender", timeout=15,
                 what="B and C to report themselves senders")
        self.assertEqual(b.health()["poller"], a.health()["instance"])
        self.assertIn('dunningd_poller{instance="' + a.health()["instance"] + '"} 1', a.metrics())
        self.assertIn('dunningd_poller{instance="' + b.health()["instance"] + '"} 0', b.metrics())

        self.write_payments(0, FIRST)

        # ---- a sender killed inside its lease
        try:
            wait_for(lambda: len(self.smtp["c"].handler.messages) >= 3, timeout=60,
                     what="C to be sending")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.diagnose(a, b, c)}") from None
        held_by_c = self.kill_and_read_leases(c)
        self.assertTrue(held_by_c, "C held no leased rows when it was killed")

        # ---- the poller killed mid-run
        wait_for(lambda: len(self.smtp["a"].handler.messages) >= 40, timeout=60,
                 what="A to be sending")
        killed_at = time.monotonic()
        # (rows still leased to dead C are C's, not A's)
        held_by_a = {k: v for k, v in self.kill_and_read_leases(a).items()
                     if k not in held_by_c}
        wait_for(lambda: b.role() == "poller", timeout=60, interval=0.05,
                 what="B to take over the poller role")
        failover = time.monotonic() - killed_at
        self.assertEqual(b.health()["poller"], b.health()["instance"])
        cases_before = self.sql("SELECT COUNT(*) FROM cases")[0][0]
        self.assertLess(cases_before, FIRST + SECOND)

        self.write_payments(FIRST, SECOND)  # cases keep opening: B opens them now
        total = FIRST + SECOND
        try:
            wait_for(lambda: len(self.deliveries()) == total and not self.sql(
                "SELECT 1 FROM outbox WHERE state <> 'sent' LIMIT 1"), timeout=120, interval=0.2,
                what=f"all {total} steps delivered")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.diagnose(a, b, c)}") from None
        elapsed = time.monotonic() - t_start

        # ---- every case once, every step once (but what a killed instance held)
        self.assertEqual(self.sql("SELECT COUNT(*) FROM cases")[0][0], FIRST + SECOND)
        self.assertEqual(self.sql("SELECT invoice_id FROM cases GROUP BY invoice_id "
                                  "HAVING COUNT(*) > 1"), [])
        self.assertEqual(self.sql("SELECT COUNT(*), COUNT(DISTINCT message_key) FROM outbox "
                                  "WHERE state = 'sent'")[0], (total, total))
        deliveries = self.deliveries()
        keys = {mk: mid for mk, mid in self.message_ids()}
        held = {**{k: ("c", v) for k, v in held_by_c.items()},
                **{k: ("a", v) for k, v in held_by_a.items()}}
        held_ids = {keys[k]: v for k, v in held.items()}
        resent = 0
        margins = []  # how long after the dead instance's lease each of its rows went out again
        for mid, got in deliveries.items():
            if mid not in held_ids:
                self.assertEqual(len(got), 1, f"{mid} delivered {got}")
                continue
            dead, lease_until = held_ids[mid]
            self.assertLessEqual(len(got), 2, f"{mid} delivered {got}")
            live = [t for who, t in got if who != dead]
            self.assertEqual(len(live), 1, f"{mid}: {got}")
            self.assertLessEqual(len([1 for who, _ in got if who == dead]), 1, f"{mid}: {got}")
            # Sent again by a live instance only once the dead one's lease was over (the lease
            # is whole seconds; the daemon's clock and ours may part by a second).
            self.assertGreaterEqual(live[0], lease_until - datetime.timedelta(seconds=1),
                                    f"{mid} re-sent before its lease ended")
            margins.append((live[0] - lease_until).total_seconds())
            resent += len(got) - 1
        print(f"\n  {total} steps, {len(deliveries)} Message-IDs; C held {len(held_by_c)} "
              f"leased rows, A held {len(held_by_a)}; {resent} delivered twice (leases {LEASES}), "
              f"re-sent {min(margins):+.2f}..{max(margins):+.2f}s after the lease; "
              f"poller failover {failover:.2f}s (poll {POLL}s); {elapsed:.1f}s in all")

    def diagnose(self, *instances):
        out = [f"delivered Message-IDs: {len(self.deliveries())}",
               f"cases: {self.sql('SELECT state, COUNT(*) FROM cases GROUP BY state')}",
               "outbox: " + str(self.sql("SELECT state, COUNT(*), COUNT(lease_until), "
                                         "MIN(next_attempt_at), MAX(last_error) FROM outbox "
                                         "GROUP BY state")),
               f"payments: {self.sql('SELECT COUNT(*), MAX(rowid) FROM payments')}",
               f"cursors: {self.sql('SELECT name, value FROM cursors')}"]
        for inst in instances:
            out.append(f"---- {inst.name} (last lines of its log)")
            out += inst.log().splitlines()[-15:]
        return "\n".join(out)

    def message_ids(self):
        """(message_key, Message-ID) of every sent row: the Message-ID is derived from the case
        and step, the same on every instance."""
        out = []
        for smtp in self.smtp.values():
            with smtp.handler.lock:
                msgs = list(smtp.handler.messages)
            for _, _, msg in msgs:
                out.append((f"case:{msg['X-Dunningd-Case']}:step:{msg['X-Dunningd-Step']}",
                            msg["Message-ID"]))
        return out


class OneSqliteFileOneDaemon(unittest.TestCase):
    """SQLite serves one daemon: a second `dunningd run` on the same file refuses to start and
    says why, and the first goes on (its /healthz says it is the poller)."""

    def test_a_second_run_on_the_same_sqlite_file_refuses_to_start(self):
        from dunning_fixtures import Daemon, Workspace, http_config
        with SmtpServer() as smtp:
            port = free_port()
            ws = Workspace(smtp.port, SEQUENCES, extra_config=http_config(port))
            self.addCleanup(ws.cleanup)
            ws.run("migrate")
            with Daemon(ws, port) as first:
                second = subprocess.run([DUNNINGD, "run", "--config", ws.config],
                                        capture_output=True, text=True, timeout=30,
                                        env=process_env())
                self.assertEqual(second.returncode, 1)
                self.assertIn("is in use by another `dunningd run`", second.stderr)
                self.assertIn("several instances need PostgreSQL", second.stderr)
                status, _, body = first.request("GET", "/healthz")
                health = json.loads(body)
                self.assertEqual(health["role"], "poller")
                self.assertEqual(health["poller"], health["instance"])
            # Once the first has stopped, the file is free again.
            with Daemon(ws, port):
                pass


if __name__ == "__main__":
    unittest.main()
