"""Rows of the polled payments table that dunningd cannot read (a currency 'eur' in lower case,
an unreadable occurred_at) between good rows: the good rows open cases, the daemon keeps running
(also across a restart: the cursor moved past the bad rows), and each bad row is reported once,
in the log and in `rejected_rows`."""
import json
import unittest

from dunning_fixtures import (Daemon, SmtpServer, Workspace, free_port, http_config, iso_ago,
                              wait_for)

SEQUENCES = """
sequences:
  - id: any-failure
    trigger: payment_failed
    steps:
      - {at: 3d, email: payment-failed}
"""


def add_rows(ws, tag):
    """Two good failed payments with a lower-case currency and a bad time between them."""
    ws.add_customer("cus_1", "ana@example.com", name="Ana")
    when = iso_ago(hours=2)
    ws.add_payment(f"py_{tag}_good1", "cus_1", f"in_{tag}_1", 1250, "EUR", "failed", when,
                   decline_code="insufficient_funds")
    ws.add_payment(f"py_{tag}_lower", "cus_1", f"in_{tag}_2", 1250, "eur", "failed", when,
                   decline_code="insufficient_funds")
    ws.add_payment(f"py_{tag}_when", "cus_1", f"in_{tag}_3", 1250, "EUR", "failed",
                   "the 3rd of last month", decline_code="insufficient_funds")
    ws.add_payment(f"py_{tag}_good2", "cus_1", f"in_{tag}_4", 1250, "EUR", "failed", when,
                   decline_code="insufficient_funds")


class RejectedRows(unittest.TestCase):
    def setUp(self):
        self.smtp = SmtpServer().start()
        self.addCleanup(self.smtp.stop)

    def workspace(self, extra=""):
        ws = Workspace(self.smtp.port, SEQUENCES, extra)
        self.addCleanup(ws.cleanup)
        ws.run("migrate")
        return ws

    def assert_reported(self, ws, tag):
        rows = ws.sql("SELECT row_id, reason FROM rejected_rows WHERE source_table = 'payments' "
                      "ORDER BY source_rowid")
        self.assertEqual([r[0] for r in rows], [f"py_{tag}_lower", f"py_{tag}_when"])
        self.assertIn('currency "eur"', rows[0][1])
        self.assertIn("occurred_at", rows[1][1])
        opened = ws.sql("SELECT invoice_id FROM cases ORDER BY id")
        self.assertEqual([r[0] for r in opened], [f"in_{tag}_1", f"in_{tag}_4"])

    def test_run_once_skips_and_reports_bad_rows_and_the_next_poll_moves_on(self):
        ws = self.workspace()
        add_rows(ws, "a")
        first = ws.run("run", "--once")
        self.assertIn("py_a_lower", first.stdout + first.stderr)
        self.assertIn("cannot be read", first.stdout + first.stderr)
        self.assert_reported(ws, "a")
        second = ws.run("run", "--once")  # exits 0 again: the cursor is past the bad rows
        self.assertNotIn("cannot be read", second.stdout + second.stderr)
        self.assertEqual(ws.sql("SELECT COUNT(*) FROM rejected_rows")[0][0], 2)

    def test_the_daemon_keeps_running_and_survives_a_restart(self):
        port = free_port()
        ws = self.workspace(http_config(port))
        with Daemon(ws, port) as daemon:
            add_rows(ws, "b")
            wait_for(lambda: ws.sql("SELECT COUNT(*) FROM cases")[0][0] == 2, timeout=15,
                     what="the good rows to open cases")
            wait_for(lambda: ws.sql("SELECT COUNT(*) FROM rejected_rows")[0][0] == 2, timeout=15,
                     what="the bad rows to be reported")
            self.assertIsNone(daemon.proc.poll(), daemon.log())
            wait_for(lambda: "py_b_when" in daemon.log(), what="the log line of the bad time")
            self.assertIn("cannot be read", daemon.log())
            self.assertEqual(daemon.stop(), 0)
        # Under systemd's Restart=on-failure this is the crash loop that no longer happens.
        with Daemon(ws, port) as again:
            def polled():
                status, _, body = again.request("GET", "/healthz")
                health = json.loads(body)
                return status == 200 and health["last_tick_age_seconds"] is not None
            wait_for(polled, timeout=15, what="a poll of the restarted daemon")
            self.assertIsNone(again.proc.poll(), again.log())
            self.assertNotIn("cannot be read", again.log())
            self.assertEqual(again.stop(), 0)
        self.assert_reported(ws, "b")


if __name__ == "__main__":
    unittest.main()
