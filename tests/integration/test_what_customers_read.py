"""What customers read must be true (issue 15): a message goes out only when the rules allow it at
the moment it is sent, says the dates the schedule will keep, and states amounts with ISO 4217's
decimals; simulate never reaches a billing system.

The expectations come from elsewhere than dunningd: local times from Python's zoneinfo, dates in
English written out here, decimals from ISO 4217's table, messages parsed back with Python's
`email` package. Every daemon gets its time with `run --once --now`."""
import collections
import datetime
import email.utils
import re
import unittest
from zoneinfo import ZoneInfo

from dunning_fixtures import HttpServer, SmtpServer, Workspace, free_port, text_part

ZAGREB = ZoneInfo("Europe/Zagreb")
WINDOW = """defaults:
  send_window: {from: "09:00", to: "19:00", days: [mon, tue, wed, thu, fri]}
  max_messages_per_customer_per_day: 1
  paydays: [15]
  payday_max_days: 5
"""


def utc(y, mo, d, h, mi=0):
    return datetime.datetime(y, mo, d, h, mi, tzinfo=datetime.timezone.utc)


def iso(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def local(t):
    return t.astimezone(ZAGREB)


def sent_at(msg):
    """When the message was sent, from its Date header (the daemon's --now)."""
    return email.utils.parsedate_to_datetime(msg["Date"]).astimezone(datetime.timezone.utc)


def in_window(t):
    lt = local(t)
    return lt.weekday() < 5 and 9 <= lt.hour < 19


class SendTime(unittest.TestCase):
    """Scheduling places a step; the send-time gate grants it, with the facts of that moment."""

    def workspace(self, smtp_port, sequences, extra=""):
        ws = Workspace(smtp_port, sequences, extra)
        self.addCleanup(ws.cleanup)
        ws.run("migrate")
        ws.add_customer("cus_1", "ana@example.com", name="Ana", tz="Europe/Zagreb")
        return ws

    def test_after_an_outage_a_poll_at_3am_local_sends_nothing_until_the_window_opens(self):
        port = free_port()
        ws = self.workspace(port, """
sequences:
  - id: soft
    trigger: payment_failed
    steps:
      - {at: 0h, email: payment-failed}
      - {at: 30d, action: mark_lost}
""" + WINDOW)
        # Failed Monday 2026-11-02 10:00 UTC (11:00 in Zagreb): due at once, inside the window,
        # but the mail server is down.
        failed = utc(2026, 11, 2, 10)
        ws.add_payment("py_1", "cus_1", "in_1", 1250, "EUR", "failed", iso(failed),
                       decline_code="insufficient_funds")
        ws.run("run", "--once", "--now", iso(failed + datetime.timedelta(minutes=5)), check=False)
        self.assertEqual(ws.sql("SELECT state FROM outbox"), [("pending",)])
        with SmtpServer(port=port) as smtp:
            # Three days later the daemon is back, at 03:00 Thursday in Zagreb.
            night = utc(2026, 11, 5, 2)
            self.assertEqual((local(night).hour, local(night).weekday()), (3, 3))
            ws.tick(iso(night))
            self.assertEqual(smtp.messages, [], "sent at 03:00 local after an outage")
            due = ws.sql("SELECT due_at FROM outbox WHERE step_index = 0")[0][0]
            opening = datetime.datetime(2026, 11, 5, 9, tzinfo=ZAGREB)  # zoneinfo's 09:00
            self.assertEqual(due, iso(opening.astimezone(datetime.timezone.utc)))
            ws.tick(iso(opening - datetime.timedelta(minutes=1)))
            self.assertEqual(smtp.messages, [])
            ws.tick(iso(opening + datetime.timedelta(minutes=1)))
            self.assertEqual(len(smtp.messages), 1)
            self.assertTrue(in_window(sent_at(smtp.messages[0][2])))
        events = [e[0] for e in ws.sql("SELECT detail FROM case_events WHERE kind = "
                                       "'step_deferred'")]
        self.assertTrue(any("send window" in e for e in events), events)

    def test_two_cases_of_one_customer_get_one_message_that_day(self):
        port = free_port()
        ws = self.workspace(port, """
sequences:
  - id: soft
    trigger: payment_failed
    steps:
      - {at: 0h, email: payment-failed}
      - {at: 30d, action: mark_lost}
""" + WINDOW)
        # Two invoices of one customer fail a minute apart on Monday while the mail server is
        # down; on Monday they were placed on two days (Mon and Tue) by the daily cap...
        for i, minute in ((1, 0), (2, 1)):
            ws.add_payment(f"py_{i}", "cus_1", f"in_{i}", 1250, "EUR", "failed",
                           iso(utc(2026, 11, 2, 10, minute)), decline_code="insufficient_funds")
        ws.run("run", "--once", "--now", iso(utc(2026, 11, 2, 10, 5)), check=False)
        # ...and the server is back only on Wednesday: both are overdue at the same time.
        with SmtpServer(port=port) as smtp:
            for t in (utc(2026, 11, 4, 10), utc(2026, 11, 4, 10, 30), utc(2026, 11, 4, 17),
                      utc(2026, 11, 5, 8, 1), utc(2026, 11, 5, 12)):
                ws.tick(iso(t))
            per_day = collections.Counter(local(sent_at(m)).date() for _, _, m in smtp.messages)
            self.assertEqual(len(smtp.messages), 2)
            self.assertEqual(max(per_day.values()), 1, per_day)
            self.assertTrue(all(in_window(sent_at(m)) for _, _, m in smtp.messages))

    def test_the_retry_date_in_the_email_is_the_payday_the_retry_is_queued_for(self):
        billing = HttpServer().start()
        self.addCleanup(billing.stop)
        with SmtpServer() as smtp:
            ws = self.workspace(smtp.port, """
sequences:
  - id: soft
    trigger: payment_failed
    steps:
      - {at: 0h, email: payment-failed}
      - {at: 1d, email: final-notice}
      - {at: 2d, action: retry, prefer: payday}
      - {at: 20d, action: cancel}
""" + WINDOW, f"billing:\n  url: {billing.url}\n")
            # Failed Monday 2026-11-09 10:00 UTC: the retry's offset is Wednesday the 11th;
            # prefer: payday moves it to Sunday the 15th (4 days, within 5), same local time.
            failed = utc(2026, 11, 9, 10)
            ws.add_payment("py_1", "cus_1", "in_1", 4900, "EUR", "failed", iso(failed),
                           decline_code="insufficient_funds")
            ws.tick(iso(failed + datetime.timedelta(minutes=5)))
            self.assertEqual(len(smtp.messages), 1)
            first = text_part(smtp.messages[0][2])
            self.assertIn("We'll try again automatically on November 15, 2026", first)
            self.assertNotIn("November 11", first)
            # The final notice states the day the final step will cancel: day 20, Nov 29.
            ws.tick(iso(utc(2026, 11, 10, 10, 5)))
            self.assertEqual(len(smtp.messages), 2)
            self.assertIn("cancelled on November 29, 2026", text_part(smtp.messages[1][2]))
            ws.tick(iso(utc(2026, 11, 11, 10, 5)))  # the offset day: nothing is retried
            self.assertEqual(billing.posts("/retry"), [])
            ws.tick(iso(utc(2026, 11, 15, 10, 5)))
            self.assertEqual(len(billing.posts("/retry")), 1)

    def test_without_billing_no_email_promises_a_retry_or_a_cancellation(self):
        with SmtpServer() as smtp:
            ws = self.workspace(smtp.port, """
sequences:
  - id: soft
    trigger: payment_failed
    steps:
      - {at: 0h, email: final-notice}
      - {at: 2d, action: retry}
      - {at: 20d, action: cancel}
""" + WINDOW)
            failed = utc(2026, 11, 11, 10)
            ws.add_payment("py_1", "cus_1", "in_1", 4900, "EUR", "failed", iso(failed),
                           decline_code="insufficient_funds")
            ws.tick(iso(failed + datetime.timedelta(minutes=5)))
            body = text_part(smtp.messages[0][2])
            self.assertNotIn("try again", body)
            self.assertNotIn("December 1", body)
            check = ws.run("check", check=False)
            self.assertEqual(check.returncode, 0)
            self.assertIn("no billing: section", check.stderr)


class Simulate(unittest.TestCase):
    def test_simulate_with_a_billing_url_makes_no_request_to_it(self):
        billing = HttpServer().start()
        self.addCleanup(billing.stop)
        sms = HttpServer().start()
        self.addCleanup(sms.stop)
        ws = Workspace(1, """
sequences:
  - id: everything
    trigger: payment_failed
    steps:
      - {at: 0h, action: retry}
      - {at: 1d, sms: update-card}
      - {at: 2d, action: webhook}
      - {at: 3d, action: cancel}
""", f"billing:\n  url: {billing.url}\nsms:\n  url: {sms.url}/sms\n"
     f"webhooks:\n  url: {sms.url}/hooks\n")
        self.addCleanup(ws.cleanup)
        ws.run("migrate")
        ws.add_customer("cus_1", "ana@example.com", tz="UTC")
        ws.sql("UPDATE customers SET phone = '+385911234567'")
        ws.add_payment("py_1", "cus_1", "in_1", 1250, "EUR", "failed", "2026-11-02T10:00:00Z",
                       decline_code="insufficient_funds")
        out = ws.run("simulate", "--config", ws.config, "--from", "2026-11-02", "--to",
                     "2026-11-07").stdout
        self.assertIn("total outcome lost 1", out)
        self.assertEqual(billing.requests, [])
        self.assertEqual(sms.requests, [])


# ISO 4217 list one: minor-unit exponents of the currencies under test.
ISO_EXPONENT = {"RSD": 2, "IQD": 3, "JPY": 0, "KWD": 3}


class Amounts(unittest.TestCase):
    def test_amounts_are_written_with_iso_4217_decimals(self):
        with SmtpServer() as smtp:
            ws = Workspace(smtp.port, """
sequences:
  - id: any
    trigger: payment_failed
    steps: [{at: 0h, email: payment-failed}, {at: 30d, action: mark_lost}]
defaults:
  max_messages_per_customer_per_day: 10
""")
            self.addCleanup(ws.cleanup)
            ws.run("migrate")
            amounts = {"RSD": 199950, "IQD": 25000, "JPY": 1250, "KWD": 1250}
            for i, (currency, minor) in enumerate(amounts.items()):
                ws.add_customer(f"cus_{currency}", f"{currency.lower()}@example.com", tz="UTC")
                ws.add_payment(f"py_{i}", f"cus_{currency}", f"in_{i}", minor, currency, "failed",
                               "2026-11-02T10:00:00Z", decline_code="insufficient_funds")
            ws.tick("2026-11-02T10:05:00Z")
            by_to = {m["To"].addresses[0].addr_spec: m for _, _, m in smtp.messages}
            for currency, minor in amounts.items():
                e = ISO_EXPONENT[currency]
                number = f"{minor / 10 ** e:,.{e}f}"  # 1,999.50 / 25.000 / 1,250 / 1.250
                subject = by_to[f"{currency.lower()}@example.com"]["Subject"]
                self.assertRegex(subject.replace("\u00a0", " "),
                                 rf"(?<![\d.,]){re.escape(number)}(?![\d])", subject)
            self.assertEqual(ws.sql("SELECT currency, amount_minor FROM cases ORDER BY id"),
                             list(amounts.items()))


if __name__ == "__main__":
    unittest.main()
