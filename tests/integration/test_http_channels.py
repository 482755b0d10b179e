"""SMS over an HTTP API, payment retries and cancels through the billing endpoint, and signed
outbound webhooks, each against a real HTTP server on 127.0.0.1 started by the test."""
import hashlib
import hmac
import json
import unittest

from dunning_fixtures import HttpServer, SmtpServer, Workspace

START = "2026-11-02T10:00:00Z"
ALWAYS = """defaults:
  send_window: {from: "00:00", to: "24:00", days: [sun, mon, tue, wed, thu, fri, sat]}
  max_messages_per_customer_per_day: 10
"""


class HttpChannels(unittest.TestCase):
    def setUp(self):
        self.smtp = SmtpServer().start()
        self.addCleanup(self.smtp.stop)
        self.answers = {}
        self.http = HttpServer(lambda path, body: self.answers.get(path, (200, {"ok": True})))
        self.http.start()
        self.addCleanup(self.http.stop)

    def workspace(self, sequences):
        ws = Workspace(self.smtp.port, sequences + ALWAYS, extra_config=f"""sms:
  url: {self.http.url}/sms
  from: ExampleLtd
billing:
  url: {self.http.url}/billing
webhooks:
  url: {self.http.url}/hooks
""")
        ws.env = {"DUNNINGD_SMS_TOKEN": "sms-token", "DUNNINGD_BILLING_TOKEN": "bill-token",
                  "DUNNINGD_WEBHOOK_SECRET": "hook-secret"}
        self.addCleanup(ws.cleanup)
        ws.run("migrate")
        return ws

    def test_sms_goes_to_the_e164_number_with_the_localized_text_or_is_skipped_with_a_reason(self):
        ws = self.workspace("""sequences:
  - id: s
    trigger: payment_failed
    steps:
      - {at: 0h, sms: update-card}
""")
        self.answers["/sms"] = (200, {"id": "msg_1"})
        ws.add_customer("cus_1", "a@example.com", name="Ana", locale="hr")
        ws.sql("UPDATE customers SET phone = '+385 91 234-5678' WHERE id = 'cus_1'")
        ws.add_customer("cus_2", "b@example.com", name="Bo")
        ws.add_payment("py_1", "cus_1", "in_1", 1250, "EUR", "failed", START, "expired_card")
        ws.add_payment("py_2", "cus_2", "in_2", 900, "EUR", "failed", START, "expired_card")
        ws.tick("2026-11-02T10:01:00Z")
        (path, headers, _, body), = self.http.posts("/sms")
        self.assertEqual(body["to"], "+385912345678")
        self.assertIn("12,50\u00a0€", body["text"])
        self.assertEqual(body["from"], "ExampleLtd")
        self.assertEqual(headers["Authorization"], "Bearer sms-token")
        self.assertEqual(headers["Idempotency-Key"], "case:1:step:0")
        self.assertEqual(ws.sql("SELECT case_id, state FROM outbox ORDER BY case_id"),
                         [(1, "sent"), (2, "skipped")])
        (reason,), = ws.sql("SELECT last_error FROM outbox WHERE case_id = 2")
        self.assertIn("no phone number", reason)

    def test_sms_api_refusing_the_number_marks_it_unreachable_and_5xx_retries(self):
        ws = self.workspace("""sequences:
  - id: s
    trigger: payment_failed
    steps:
      - {at: 0h, sms: update-card}
""")
        self.answers["/sms"] = (400, {"error": "invalid number"})
        ws.add_customer("cus_1", "a@example.com")
        ws.sql("UPDATE customers SET phone = '+15005550001' WHERE id = 'cus_1'")
        ws.add_payment("py_1", "cus_1", "in_1", 1250, "EUR", "failed", START, "expired_card")
        ws.tick("2026-11-02T10:01:00Z")
        self.assertEqual(ws.sql("SELECT state FROM outbox"), [("failed",)])
        self.assertEqual(ws.sql("SELECT channel, address, state FROM contact_status"),
                         [("sms", "+15005550001", "unreachable")])

        self.answers["/sms"] = (503, {"error": "busy"})
        ws.add_customer("cus_2", "b@example.com")
        ws.sql("UPDATE customers SET phone = '+15005550002' WHERE id = 'cus_2'")
        ws.add_payment("py_2", "cus_2", "in_2", 1250, "EUR", "failed", START, "expired_card")
        ws.tick("2026-11-02T10:02:00Z")
        self.assertEqual(ws.sql("SELECT state, attempts FROM outbox WHERE case_id = 2"),
                         [("pending", 1)])

    def test_retry_answers_feed_back_succeeded_recovers_and_declined_counts_an_attempt(self):
        ws = self.workspace("""sequences:
  - id: soft
    trigger: payment_failed
    steps:
      - {at: 0h, action: retry}
      - {at: 5d, email: payment-failed}
""")

        def billing(path, body):
            if path != "/billing/retry":
                return 200, {"ok": True}
            if body["invoice_id"] == "in_1":
                return 200, {"status": "succeeded", "payment_id": "ch_retry_1"}
            return 200, {"status": "declined", "decline_code": "insufficient_funds"}
        self.http.reply = billing
        ws.add_customer("cus_1", "a@example.com")
        ws.add_customer("cus_2", "b@example.com")
        ws.add_payment("py_1", "cus_1", "in_1", 1250, "EUR", "failed", START, "insufficient_funds")
        ws.add_payment("py_2", "cus_2", "in_2", 900, "EUR", "failed", START, "insufficient_funds")
        ws.tick("2026-11-02T10:01:00Z")
        posts = self.http.posts("/billing/retry")
        self.assertEqual(sorted(h["Idempotency-Key"] for _, h, _, _ in posts),
                         ["case:1:step:0", "case:2:step:0"])
        self.assertTrue(all(h["Authorization"] == "Bearer bill-token" for _, h, _, _ in posts))
        self.assertEqual(ws.sql("SELECT id, invoice_id, status, amount_minor FROM payments "
                                "WHERE id = 'ch_retry_1'"),
                         [("ch_retry_1", "in_1", "succeeded", 1250)])
        self.assertEqual(ws.sql("SELECT attempt_count FROM cases WHERE id = 2"), [(2,)])
        self.assertTrue(ws.sql("SELECT 1 FROM case_events WHERE case_id = 2 AND "
                               "kind = 'retry_declined' AND detail LIKE '%insufficient_funds%'"))
        ws.tick("2026-11-02T10:02:00Z")  # the scheduler reads the succeeded payment
        self.assertEqual(ws.sql("SELECT id, state FROM cases ORDER BY id"),
                         [(1, "recovered"), (2, "open")])

    def test_cancel_calls_billing_and_webhooks_are_signed_events(self):
        ws = self.workspace("""sequences:
  - id: hard
    trigger: payment_failed
    steps:
      - {at: 0h, email: update-card}
      - {at: 2d, action: cancel}
""")
        ws.add_customer("cus_1", "a@example.com")
        ws.add_customer("cus_2", "b@example.com")
        ws.add_payment("py_1", "cus_1", "in_1", 1250, "EUR", "failed", START, "expired_card")
        ws.add_payment("py_2", "cus_2", "in_2", 900, "EUR", "failed", START, "expired_card")
        ws.tick("2026-11-02T10:01:00Z")
        ws.add_payment("py_3", "cus_1", "in_1", 1250, "EUR", "succeeded", "2026-11-03T09:00:00Z")
        ws.tick("2026-11-03T10:00:00Z")
        ws.tick("2026-11-04T10:01:00Z")
        (_, headers, _, body), = self.http.posts("/billing/cancel")
        self.assertEqual(headers["Idempotency-Key"], "case:2:step:1")
        self.assertEqual(body["invoice_id"], "in_2")

        hooks = self.http.posts("/hooks")
        events = [(b["type"], b["case"]["id"]) for _, _, _, b in hooks]
        self.assertEqual(sorted(events), sorted([
            ("case.opened", 1), ("case.opened", 2), ("step.sent", 1), ("step.sent", 2),
            ("case.recovered", 1), ("case.lost", 2), ("step.sent", 2)]))
        for _, h, raw, _ in hooks:
            ts = h["X-Dunningd-Timestamp"]
            expected = hmac.new(b"hook-secret", ts.encode() + b"." + raw,
                                hashlib.sha256).hexdigest()
            self.assertEqual(h["X-Dunningd-Signature"], f"t={ts},v1={expected}")
        # Each event once, even over several polls.
        ws.tick("2026-11-05T10:00:00Z")
        self.assertEqual(len(self.http.posts("/hooks")), len(hooks))
        self.assertEqual(len({json.loads(r)["id"] for _, _, r, _ in hooks}), len(hooks))


if __name__ == "__main__":
    unittest.main()
