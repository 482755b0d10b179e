"""The whole path with the real binary: a failed payment becomes email, a later payment becomes
recovered revenue in the ledger. Virtual time goes forward with `run --once --now`."""
import csv
import io
import unittest

from dunning_fixtures import SmtpServer, Workspace, html_part, text_part

SEQUENCES = """
sequences:
  - id: hard-decline
    trigger: payment_failed
    match: {decline: hard}
    steps:
      - {at: 0h,  email: update-card}
      - {at: 3d,  email: update-card-reminder}
      - {at: 10d, email: final-notice}
      - {at: 14d, action: cancel}
  - id: soft-decline
    trigger: payment_failed
    match: {decline: soft}
    steps:
      - {at: 1d, email: payment-failed}
      - {at: 7d, email: payment-failed-reminder}
      - {at: 21d, action: cancel}
"""


class EndToEnd(unittest.TestCase):
    def setUp(self):
        self.smtp = SmtpServer().start()
        self.addCleanup(self.smtp.stop)
        self.ws = Workspace(self.smtp.port, SEQUENCES)
        self.addCleanup(self.ws.cleanup)
        self.ws.run("migrate")

    def ledger(self):
        out = self.ws.run("ledger", "export", "--format", "csv").stdout
        return list(csv.DictReader(io.StringIO(out)))

    def test_failed_payment_is_emailed_once_per_due_step_and_payment_is_recovered(self):
        ws = self.ws
        ws.add_customer("cus_1", "ana@example.com", name="Ana Horvat")
        ws.add_payment("py_1", "cus_1", "in_1", 1250, "EUR", "failed", "2026-11-02T10:00:00Z",
                       decline_code="expired_card")

        ws.tick("2026-11-02T10:05:00Z")
        self.assertEqual(len(self.smtp.messages), 1)
        mail_from, rcpts, msg = self.smtp.messages[0]
        self.assertEqual(mail_from, "billing@example.com")
        self.assertEqual(rcpts, ["ana@example.com"])
        self.assertEqual(msg["To"].addresses[0].display_name, "Ana Horvat")
        self.assertIn("€12.50", msg["Subject"] + text_part(msg))
        self.assertIn("€12.50", html_part(msg))
        self.assertIn("in_1", text_part(msg))
        self.assertEqual(msg["Message-ID"], "<dunningd.case-1.step-0@example.com>")
        self.assertEqual(msg["Auto-Submitted"], "auto-generated")
        self.assertEqual(msg.get_content_type(), "multipart/alternative")

        # Nothing new is due an hour later, nor on the day before the reminder.
        ws.tick("2026-11-02T11:00:00Z")
        ws.tick("2026-11-04T10:00:00Z")
        self.assertEqual(len(self.smtp.messages), 1)

        # Day 3: the reminder, exactly once even when polled twice.
        ws.tick("2026-11-05T10:01:00Z")
        ws.tick("2026-11-05T10:02:00Z")
        self.assertEqual(len(self.smtp.messages), 2)
        self.assertEqual(self.smtp.messages[1][2]["Message-ID"],
                         "<dunningd.case-1.step-1@example.com>")

        # The customer pays; the case is recovered, attributed to the reminder (step 2).
        ws.add_payment("py_2", "cus_1", "in_1", 1250, "EUR", "succeeded", "2026-11-05T15:00:00Z")
        ws.tick("2026-11-05T15:01:00Z")
        rows = self.ledger()
        self.assertEqual(len(rows), 1)
        row = rows[0]
        self.assertEqual(row["kind"], "recovered")
        self.assertEqual(row["amount_minor"], "1250")
        self.assertEqual(row["currency"], "EUR")
        self.assertEqual(row["amount"], "12.50")
        self.assertEqual(row["invoice_id"], "in_1")
        self.assertEqual(row["payment_id"], "py_2")
        self.assertEqual(row["step"], "2")
        self.assertEqual(row["template"], "update-card-reminder")
        self.assertEqual(row["days_to_recover"], "3")
        self.assertEqual(row["attribution"], "step")
        self.assertEqual(row["channel"], "email")

        # No further emails, not even when the later steps' times pass.
        ws.tick("2026-11-13T10:00:00Z")
        ws.tick("2026-11-20T10:00:00Z")
        self.assertEqual(len(self.smtp.messages), 2)
        self.assertEqual(ws.sql("SELECT state FROM cases"), [("recovered",)])
        self.assertEqual(len(self.ledger()), 1)

    def test_money_that_arrives_before_any_message_is_recovered_without_contact(self):
        ws = self.ws
        ws.add_customer("cus_2", "ben@example.com")
        ws.add_payment("py_3", "cus_2", "in_2", 999, "USD", "failed", "2026-11-02T10:00:00Z",
                       decline_code="insufficient_funds")
        ws.tick("2026-11-02T10:05:00Z")  # soft decline: first email only after a day
        ws.add_payment("py_4", "cus_2", "in_2", 999, "USD", "succeeded", "2026-11-02T20:00:00Z")
        ws.tick("2026-11-02T20:05:00Z")
        ws.tick("2026-11-04T10:00:00Z")
        self.assertEqual(self.smtp.messages, [])
        rows = self.ledger()
        self.assertEqual([(r["kind"], r["amount_minor"], r["currency"], r["step"]) for r in rows],
                         [("recovered_without_contact", "999", "USD", "")])

    def test_unpaid_case_is_lost_at_the_final_action(self):
        ws = self.ws
        ws.add_customer("cus_3", "cy@example.com")
        ws.add_payment("py_5", "cus_3", "in_3", 4900, "GBP", "failed", "2026-11-02T10:00:00Z",
                       decline_code="stolen_card")
        for day in ("02", "05", "12", "16"):
            ws.tick(f"2026-11-{day}T10:30:00Z")
        self.assertEqual(len(self.smtp.messages), 3)
        rows = self.ledger()
        self.assertEqual([(r["kind"], r["amount_minor"], r["currency"]) for r in rows],
                         [("lost", "4900", "GBP")])
        self.assertEqual(ws.sql("SELECT state FROM cases"), [("lost",)])
        # Lost/stolen codes keep the message generic.
        self.assertNotIn("stolen", text_part(self.smtp.messages[0][2]).lower())

    def test_smtp_server_down_is_not_fatal_and_the_step_is_sent_later_exactly_once(self):
        ws = self.ws
        self.smtp.stop()
        ws.add_customer("cus_4", "dora@example.com")
        ws.add_payment("py_6", "cus_4", "in_4", 1500, "EUR", "failed", "2026-11-02T10:00:00Z",
                       decline_code="expired_card")
        proc = ws.tick("2026-11-02T10:05:00Z")
        self.assertIn("not delivered", proc.stderr)
        self.assertEqual(ws.sql("SELECT state, attempts FROM outbox"), [("pending", 1)])
        (error,) = ws.sql("SELECT last_error FROM outbox")[0]
        self.assertTrue(error)

        # Still down on the next tick (after the backoff): still pending, nothing lost.
        ws.tick("2026-11-02T10:10:00Z")
        self.assertEqual(ws.sql("SELECT state FROM outbox"), [("pending",)])

        # The server comes back; the next tick past the backoff delivers once.
        self.smtp = SmtpServer(self.smtp.port).start()
        self.addCleanup(self.smtp.stop)
        ws.tick("2026-11-02T11:00:00Z")
        ws.tick("2026-11-02T11:30:00Z")
        self.assertEqual(len(self.smtp.messages), 1)
        self.assertEqual(ws.sql("SELECT state FROM outbox"), [("sent",)])

    def test_rejected_recipient_fails_the_step_with_the_reason_and_never_retries(self):
        ws = self.ws
        self.smtp.handler.rcpt_reply["nobody@example.com"] = "550 5.1.1 no such user"
        ws.add_customer("cus_5", "nobody@example.com")
        ws.add_payment("py_7", "cus_5", "in_5", 700, "EUR", "failed", "2026-11-02T10:00:00Z",
                       decline_code="expired_card")
        ws.tick("2026-11-02T10:05:00Z")
        ws.tick("2026-11-02T12:05:00Z")
        state, error = ws.sql("SELECT state, last_error FROM outbox")[0]
        self.assertEqual(state, "failed")
        self.assertIn("550", error)
        self.assertEqual(self.smtp.messages, [])


class Errors(unittest.TestCase):
    def test_invalid_config_names_file_line_and_column_and_exits_non_zero(self):
        ws = Workspace(25, "sequences:\n  - id: x\n    trigger: payment_failed\n    steps:\n"
                           "      - {at: 1d, emial: payment-failed}\n")
        self.addCleanup(ws.cleanup)
        proc = ws.run("check", check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("sequences.yaml:5:", proc.stderr)
        self.assertIn("unknown key 'emial'", proc.stderr)

    def test_missing_config_is_one_clear_line(self):
        ws = Workspace(25)
        self.addCleanup(ws.cleanup)
        proc = ws.run("check", "--config", ws.dir + "/nope.yaml", check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("nope.yaml: error: cannot read file", proc.stderr)

    def test_report_on_a_missing_database_fails_clearly(self):
        ws = Workspace(25)
        self.addCleanup(ws.cleanup)
        proc = ws.run("report", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("does not exist", proc.stderr)

    def test_unreadable_database_fails_clearly(self):
        ws = Workspace(25)
        self.addCleanup(ws.cleanup)
        with open(ws.db_path, "w") as f:
            f.write("this is not a database" * 100)
        proc = ws.run("run", "--once", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("dunningd:", proc.stderr)
        self.assertLessEqual(len(proc.stderr.strip().splitlines()), 2)


if __name__ == "__main__":
    unittest.main()
