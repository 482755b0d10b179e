"""Delivery guarantees with the real binary against Postfix's smtp-sink answering 4xx, 5xx,
dropping the connection and being down for a while: every due step ends delivered or
permanently failed with a reason, none twice under the same lease, none lost."""
import os
import signal
import subprocess
import unittest

from dunning_fixtures import (DUNNINGD, SMTP_SINK, process_env, SmtpServer, SmtpSink, Workspace, free_port,
                              wait_for)

SEQUENCES = """
sequences:
  - id: hard
    trigger: payment_failed
    match: {decline: hard}
    steps:
      - {at: 0h, email: update-card}
      - {at: 3d, email: update-card-reminder}
defaults:
  send_window: {from: "00:00", to: "24:00", days: [sun, mon, tue, wed, thu, fri, sat]}
  max_messages_per_customer_per_day: 10
"""
START = "2026-11-02T10:00:00Z"
N = 12


@unittest.skipUnless(os.access(SMTP_SINK, os.X_OK), "postfix smtp-sink is not installed")
class AgainstSmtpSink(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.ws = Workspace(self.port, SEQUENCES)
        self.addCleanup(self.ws.cleanup)
        # A short deadline so a long outage is reached in a few ticks; 3 parallel connections.
        with open(self.ws.config, encoding="utf-8") as f:
            cfg = f.read()
        cfg = cfg.replace("  give_up_after: 3d", "  give_up_after: 2h")
        cfg = cfg.replace("  timeout: 5s", "  timeout: 5s\n  connections: 3")
        with open(self.ws.config, "w", encoding="utf-8") as f:
            f.write(cfg)
        self.ws.run("migrate")
        for i in range(N):
            self.ws.add_customer(f"cus_{i}", f"c{i}@example.com", name=f"Customer {i}")
            self.ws.add_payment(f"py_{i}", f"cus_{i}", f"in_{i}", 1000 + i, "EUR", "failed", START,
                                decline_code="expired_card")

    def sink(self, **faults):
        s = SmtpSink(self.port, **faults).start()
        self.addCleanup(s.cleanup)
        return s

    def outbox(self):
        return self.ws.sql("SELECT state, attempts, last_error, next_attempt_at FROM outbox "
                           "WHERE step_index = 0 ORDER BY id")

    def test_soft_failures_drops_and_an_outage_end_in_exactly_one_delivery_each(self):
        ws = self.ws
        # 4xx to every RCPT: all pending, each with the server's words and its own backoff.
        s = self.sink(soft="RCPT")
        ws.tick("2026-11-02T10:01:00Z")
        rows = self.outbox()
        self.assertEqual(len(rows), N)
        self.assertTrue(all(r[0] == "pending" and r[1] == 1 for r in rows), rows)
        self.assertTrue(all("4" in (r[2] or "") for r in rows), rows)
        self.assertGreater(len({r[3] for r in rows}), 1, "backoff has no jitter")
        s.cleanup()

        # The server drops the connection at DATA: still pending, nothing delivered.
        s = self.sink(drop="DATA")
        ws.tick("2026-11-02T10:03:00Z")
        self.assertTrue(all(r[0] == "pending" for r in self.outbox()))
        self.assertEqual(s.messages(), [])
        s.cleanup()

        # 421 and disconnect at MAIL, then the server is down altogether for a while.
        s = self.sink(drop_421="MAIL")
        ws.tick("2026-11-02T10:08:00Z")
        s.cleanup()
        ws.tick("2026-11-02T10:20:00Z")
        ws.tick("2026-11-02T10:40:00Z")
        self.assertTrue(all(r[0] == "pending" for r in self.outbox()))
        errors = " ".join(r[2] for r in self.outbox())
        self.assertIn("connect", errors.lower())

        # Back up: every step is delivered exactly once, with its stable Message-ID.
        s = self.sink()
        ws.tick("2026-11-02T11:30:00Z")
        ws.tick("2026-11-02T11:45:00Z")
        rows = self.outbox()
        self.assertEqual([r[0] for r in rows], ["sent"] * N, rows)
        ids = [m["Message-ID"] for m in s.messages()]
        self.assertEqual(len(ids), N)
        self.assertEqual(sorted(ids), sorted(
            f"<dunningd.case-{c}.step-0@example.com>" for c in range(1, N + 1)))
        ws.tick("2026-11-02T12:30:00Z")
        self.assertEqual(len(s.messages()), N)

    def test_an_outage_longer_than_the_deadline_fails_each_step_with_the_reason(self):
        ws = self.ws
        ws.tick("2026-11-02T10:01:00Z")  # nothing listens on the port
        ws.tick("2026-11-02T11:00:00Z")
        ws.tick("2026-11-02T12:30:00Z")  # past give_up_after (2h from due)
        rows = self.outbox()
        self.assertEqual([r[0] for r in rows], ["failed"] * N)
        self.assertTrue(all(r[2].startswith("gave up after 2h") for r in rows), rows)
        self.assertEqual(ws.sql("SELECT COUNT(*) FROM contact_status"), [(0,)])

    def test_recipient_refused_at_rcpt_fails_the_step_and_stops_email_for_that_customer(self):
        ws = self.ws
        s = self.sink(hard="RCPT")
        ws.tick("2026-11-02T10:01:00Z")
        rows = self.outbox()
        self.assertEqual([r[0] for r in rows], ["failed"] * N)
        self.assertTrue(all("recipient refused" in r[2] and "5" in r[2] for r in rows), rows)
        self.assertEqual(ws.sql("SELECT COUNT(*) FROM contact_status WHERE channel = 'email' "
                                "AND state = 'unreachable'"), [(N,)])
        self.assertEqual(ws.sql("SELECT COUNT(*) FROM channel_pauses"), [(0,)])
        s.cleanup()
        # The reminder three days later is not sent to the unreachable address, even though the
        # server would accept it now.
        s = self.sink()
        ws.tick("2026-11-05T10:01:00Z")
        self.assertEqual(s.messages(), [])
        # The scheduler does not queue it at all and says why in each case's timeline.
        self.assertEqual(ws.sql("SELECT COUNT(*) FROM outbox WHERE step_index = 1"), [(0,)])
        skipped = ws.sql("SELECT case_id, detail FROM case_events WHERE kind = 'step_skipped'")
        self.assertEqual(sorted(c for c, _ in skipped), list(range(1, N + 1)))
        self.assertTrue(all("unreachable" in detail for _, detail in skipped), skipped)

    def test_refusal_not_about_the_recipient_pauses_email_for_everyone_without_blaming_them(self):
        ws = self.ws
        s = self.sink(hard="MAIL")
        proc = ws.tick("2026-11-02T10:01:00Z")
        self.assertIn("PAUSED", proc.stderr)
        self.assertTrue(all(r[0] == "pending" for r in self.outbox()))
        self.assertEqual(ws.sql("SELECT COUNT(*) FROM contact_status"), [(0,)])
        ((channel, reason),) = ws.sql("SELECT channel, reason FROM channel_pauses")
        self.assertEqual(channel, "email")
        self.assertIn("not about the recipient", reason)
        s.cleanup()

        # Fixed, but the pause (retry_max = 1h) still holds: nothing is attempted.
        s = self.sink()
        proc = ws.tick("2026-11-02T10:30:00Z")
        self.assertIn("PAUSED", proc.stderr)
        self.assertEqual(s.messages(), [])
        # After the pause: delivered, and the pause is lifted.
        ws.tick("2026-11-02T11:05:00Z")
        self.assertEqual([r[0] for r in self.outbox()], ["sent"] * N)
        self.assertEqual(len(s.messages()), N)
        self.assertEqual(ws.sql("SELECT COUNT(*) FROM channel_pauses"), [(0,)])

    def test_refusal_at_data_pauses_too(self):
        s = self.sink(hard="DATA")
        self.ws.tick("2026-11-02T10:01:00Z")
        self.assertEqual(self.ws.sql("SELECT channel FROM channel_pauses"), [("email",)])
        self.assertTrue(all(r[0] == "pending" for r in self.outbox()))
        self.assertEqual(s.messages(), [])


class LeaseExpiry(unittest.TestCase):
    """A sender killed after the server got the message but before the row was marked: the row
    stays leased (no second send under the lease), then is re-sent with the same Message-ID."""

    def test_a_crash_mid_send_resends_once_after_the_lease_with_the_same_message_id(self):
        smtp = SmtpServer().start()
        self.addCleanup(smtp.stop)
        ws = Workspace(smtp.port, SEQUENCES)
        self.addCleanup(ws.cleanup)
        ws.run("migrate")
        ws.add_customer("cus_1", "ana@example.com", name="Ana")
        ws.add_payment("py_1", "cus_1", "in_1", 1250, "EUR", "failed", START,
                       decline_code="expired_card")
        smtp.handler.data_delay = 30
        proc = subprocess.Popen([DUNNINGD, "run", "--config", ws.config, "--once", "--now",
                                 "2026-11-02T10:01:00Z"], env=process_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: len(smtp.messages) == 1, timeout=20, what="the first send")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        smtp.handler.data_delay = 0
        ((state, lease),) = ws.sql("SELECT state, lease_until FROM outbox")
        self.assertEqual((state, lease), ("pending", "2026-11-02T10:06:00Z"))

        ws.tick("2026-11-02T10:04:00Z")  # lease still held
        self.assertEqual(len(smtp.messages), 1)
        ws.tick("2026-11-02T10:07:00Z")  # lease expired: re-sent
        self.assertEqual(len(smtp.messages), 2)
        self.assertEqual(smtp.messages[0][2]["Message-ID"], smtp.messages[1][2]["Message-ID"])
        self.assertEqual(ws.sql("SELECT state, attempts FROM outbox"), [("sent", 2)])
        ws.tick("2026-11-02T10:20:00Z")
        self.assertEqual(len(smtp.messages), 2)


if __name__ == "__main__":
    unittest.main()
