"""The daemon as systemd runs it: the real binary in `run` mode (real clock, 1 s polls) against a
real SMTP server, speaking sd_notify to a datagram socket, reloading on SIGHUP and draining on
SIGTERM during a burst — and after a restart every due step is delivered exactly once."""
import asyncio
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from dunning_fixtures import (DUNNINGD, SmtpServer, Workspace, _Recorder, iso, process_env,
                              utc_now, wait_for)

SEQUENCES = """
sequences:
  - id: any-decline
    trigger: payment_failed
    steps:
      - {at: 0h, email: update-card}
      - {at: 30d, action: cancel}
defaults:
  send_window: {from: "00:00", to: "24:00", days: [mon, tue, wed, thu, fri, sat, sun]}
  max_messages_per_customer_per_day: 10
"""

BURST = 300


class SlowRecorder(_Recorder):
    """Accepts like the real recorder but takes a few ms per message, so a burst lasts seconds."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET; records every state line."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="dunningd-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.lines = []
        self.lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.lines.extend(data.decode().splitlines())

    def count(self, line):
        with self.lock:
            return self.lines.count(line)

    def close(self):
        self._stop = True
        self._thread.join(timeout=5)
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


def iso_now():
    return iso(utc_now())  # the daemon runs at the real (or CI-shifted) time


class DaemonFixture(unittest.TestCase):
    """A workspace, a slow SMTP server, a notify socket and helpers to run the daemon."""

    def setUp(self):
        self.smtp = SmtpServer()
        self.smtp.handler = SlowRecorder()
        self.smtp.start()
        self.addCleanup(self.smtp.stop)
        self.ws = Workspace(self.smtp.port, SEQUENCES)
        self.addCleanup(self.ws.cleanup)
        self.ws.run("migrate")
        with open(self.ws.config, encoding="utf-8") as f:
            self.good_config = f.read()
        self.notify = NotifySocket()
        self.addCleanup(self.notify.close)
        self.log_path = os.path.join(self.ws.dir, "daemon.log")
        self.proc = None
        self.addCleanup(self.kill_daemon)

    # ---- helpers
    def start_daemon(self):
        env = process_env({"NOTIFY_SOCKET": self.notify.path, "WATCHDOG_USEC": "400000"})
        env.pop("JOURNAL_STREAM", None)
        self.log = open(self.log_path, "a", encoding="utf-8")
        self.proc = subprocess.Popen([DUNNINGD, "run", "--config", self.ws.config],
                                     stdout=self.log, stderr=self.log, env=env)

    def kill_daemon(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc:
            self.log.close()

    def stop_daemon(self, timeout=20):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        self.log.close()
        self.proc = None
        return rc

    def logs(self):
        with open(self.log_path, encoding="utf-8") as f:
            return f.read()

    def add_failed(self, conn, n, prefix):
        now = iso_now()
        for i in range(n):
            cid = f"cus_{prefix}_{i}"
            conn.execute("INSERT INTO customers(id, email, name, locale, time_zone) "
                         "VALUES (?,?,?,?,?)", (cid, f"{cid}@example.com", "", "en", "UTC"))
            conn.execute("INSERT INTO payments(id, customer_id, invoice_id, amount_minor, currency,"
                         " status, decline_code, occurred_at) VALUES (?,?,?,?,?,?,?,?)",
                         (f"py_{prefix}_{i}", cid, f"in_{prefix}_{i}", 1999, "EUR", "failed",
                          "insufficient_funds", now))

    def add_payments(self, n, prefix):
        with self.ws.db() as conn:
            self.add_failed(conn, n, prefix)

    def delivered(self):
        return len(self.smtp.messages)



class ServiceLifecycle(DaemonFixture):
    def test_reload_and_stop_during_a_burst_lose_nothing_and_send_nothing_twice(self):
        self.start_daemon()
        wait_for(lambda: self.notify.count("READY=1") >= 1, timeout=15, what="READY=1")
        wait_for(lambda: self.notify.count("WATCHDOG=1") >= 2, timeout=5, what="watchdog pings")

        # Sending works.
        self.add_payments(3, "a")
        wait_for(lambda: self.delivered() == 3, timeout=20, what="the first 3 messages")

        # A broken config is refused with file:line:col and the old one keeps running.
        with open(self.ws.config, "w", encoding="utf-8") as f:
            f.write(self.good_config + "pol_interval: 1s\n")
        self.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in self.logs(), timeout=10, what="the refused reload")
        self.assertRegex(self.logs(), re.escape(self.ws.config) + r":\d+:\d+: error: .*pol_interval")
        wait_for(lambda: self.notify.count("RELOADING=1") >= 1, timeout=5, what="RELOADING=1")
        self.add_payments(2, "b")
        wait_for(lambda: self.delivered() == 5, timeout=20, what="sending after a refused reload")

        # The fixed file is accepted, and sending goes on.
        with open(self.ws.config, "w", encoding="utf-8") as f:
            f.write(self.good_config)
        self.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in self.logs(), timeout=10, what="the reload")
        self.add_payments(2, "c")
        wait_for(lambda: self.delivered() == 7, timeout=20, what="sending after the reload")
        self.assertIsNone(self.proc.poll(), "the daemon must survive both reloads")

        # A burst; SIGTERM lands while it is being sent.
        self.add_payments(BURST, "burst")
        wait_for(lambda: self.delivered() >= 7 + 20, timeout=30, what="the burst to start")
        stop_asked = time.monotonic()
        rc = self.stop_daemon()
        stop_took = time.monotonic() - stop_asked
        print(f"\nburst: {self.delivered() - 7} of {BURST} sent before SIGTERM took effect; "
              f"stop took {stop_took:.2f}s")
        self.assertEqual(rc, 0, self.logs()[-3000:])
        wait_for(lambda: self.notify.count("STOPPING=1") >= 1, timeout=5, what="STOPPING=1")
        sent_before_restart = self.delivered()
        self.assertLess(sent_before_restart, 7 + BURST, "SIGTERM must stop the burst")
        self.assertLess(stop_took, 10, "the drain must be prompt")
        self.assertIn("handed back to the outbox", self.logs())

        # A restart delivers the rest at once (no waiting for leases to expire).
        self.start_daemon()
        total = 7 + BURST
        wait_for(lambda: self.delivered() >= total, timeout=60, what=f"all {total} messages")
        # Let one more poll run: nothing must come twice.
        ready = self.notify.count("WATCHDOG=1")
        wait_for(lambda: self.notify.count("WATCHDOG=1") >= ready + 6, timeout=10,
                 what="another poll interval")
        self.assertEqual(self.stop_daemon(), 0)

        ids = [m["Message-ID"] for _, _, m in self.smtp.messages]
        self.assertEqual(len(ids), total)
        self.assertEqual(len(set(ids)), total, "a Message-ID was delivered twice")
        due_steps = self.ws.sql("SELECT COUNT(*) FROM outbox WHERE channel = 'email'")[0][0]
        sent = self.ws.sql("SELECT COUNT(*) FROM outbox WHERE state = 'sent'")[0][0]
        self.assertEqual(due_steps, total)
        self.assertEqual(sent, total)
        leased = self.ws.sql("SELECT COUNT(*) FROM outbox WHERE lease_until IS NOT NULL")[0][0]
        self.assertEqual(leased, 0)


class Interrupt(DaemonFixture):
    def test_sigint_in_a_terminal_stops_like_sigterm_with_exit_status_0(self):
        self.start_daemon()
        wait_for(lambda: self.notify.count("READY=1") >= 1, timeout=15, what="READY=1")
        self.proc.send_signal(signal.SIGINT)
        rc = self.proc.wait(timeout=20)
        self.log.close()
        self.proc = None
        self.assertEqual(rc, 0, self.logs())
        self.assertIn("SIGINT: finishing the current poll and stopping", self.logs())
        wait_for(lambda: self.notify.count("STOPPING=1") >= 1, timeout=5, what="STOPPING=1")


class Logs(unittest.TestCase):
    def run_once(self, extra_config):
        with SmtpServer() as smtp:
            ws = Workspace(smtp.port, SEQUENCES, extra_config=extra_config)
            self.addCleanup(ws.cleanup)
            ws.run("migrate")
            ws.add_customer("cus_1", "ana.horvat@example.com", tz="UTC")
            ws.add_payment("py_1", "cus_1", "in_1", 1250, "EUR", "failed", iso_now(),
                           decline_code="expired_card")
            proc = ws.tick(iso_now())
            self.assertEqual(len(smtp.messages), 1)
        return proc.stderr

    def test_log_format_json_writes_one_json_object_per_line_with_addresses_masked(self):
        import json
        stderr = self.run_once("log_format: json\n")
        lines = [line for line in stderr.splitlines() if line.strip()]
        self.assertTrue(lines, "the run logged nothing")
        for line in lines:
            record = json.loads(line)
            self.assertEqual(set(record), {"ts", "level", "logger", "msg"})
        self.assertTrue(any("sent to a***@example.com" in json.loads(line)["msg"]
                            for line in lines), stderr)
        self.assertNotIn("ana.horvat@", stderr)

    def test_log_customer_emails_true_shows_addresses_in_full(self):
        stderr = self.run_once("log_customer_emails: true\n")
        self.assertIn("sent to ana.horvat@example.com", stderr)


if __name__ == "__main__":
    unittest.main()
