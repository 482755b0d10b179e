"""Every shipped template in every shipped language, sent by the real binary to a real SMTP server
and parsed back with Python's own `email` package (policy=default): headers, decoded subject,
both bodies, money formatted per locale, right-to-left Arabic, line lengths, signed links and
header injection through customer data."""
import email.utils
import hashlib
import hmac
import os
import re
import unittest
import urllib.parse

import yaml

from dunning_fixtures import SOURCE_DIR, SmtpServer, Workspace, html_part, text_part

TEMPLATES = ["card-expiring", "card-expiring-last", "update-card", "update-card-reminder",
             "payment-failed", "payment-failed-reminder", "final-notice", "recovered"]

# One step per template, a day apart, so each customer receives every template once.
SEQUENCES = "sequences:\n  - id: every-template\n    trigger: payment_failed\n    steps:\n" + "".join(
    f"      - {{at: {i}d, email: {t}}}\n" for i, t in enumerate(TEMPLATES)) + \
    f"      - {{at: {len(TEMPLATES)}d, action: mark_lost}}\n" + """defaults:
  send_window: {from: "00:00", to: "24:00", days: [sun, mon, tue, wed, thu, fri, sat]}
  max_messages_per_customer_per_day: 10
"""

# locale -> (customer name, amount_minor, currency, the amount as ICU writes it for the locale)
CUSTOMERS = {
    "en": ("Oliver Bennett", 4900, "GBP", "£49.00"),
    "hr": ("Ana Kovačević", 1250, "EUR", "12,50 €"),
    "ro": ("Ștefan Mărgărit", 9900, "RON", "99,00 RON"),
    "ar": ("ليلى الحسيني", 4900, "SAR", "٤٩٫٠٠ ر.س."),
    "nb": ("Øystein Ærø", 19900, "NOK", "kr 199,00"),
    "pl": ("Łukasz Żółć", 4900, "PLN", "49,00 zł"),
}
SECRET = "test-link-secret"
BASE_URL = "https://pay.example.test"
START = "2026-11-02T10:00:00Z"


def plain(s):
    """ICU separates number and symbol with (narrow) no-break spaces and wraps Arabic amounts in
    direction marks; compare on ordinary spaces without the marks."""
    return re.sub("[\u200e\u200f\u061c]", "", s.replace("\u00a0", " ").replace("\u202f", " "))


def expected_subject(locale, template, amount):
    with open(os.path.join(SOURCE_DIR, "templates", locale, template + ".yaml"),
              encoding="utf-8") as f:
        subject = yaml.safe_load(f)["subject"]
    values = {"amount": amount, "card.brand": "Visa", "card.last4": "4242",
              "invoice.id": f"INV-{locale}", "subscription.plan": "Pro",
              "company.name": "Example Ltd"}
    # Every value is set here: a section keeps its text and an inverted one is left out,
    # innermost first (the pattern takes a section with no other section inside).
    section = re.compile(r"\{\{([#^])\s*([\w.]+)\s*\}\}((?:(?!\{\{[#^/]).)*?)\{\{/\s*\2\s*\}\}")
    while True:
        subject, n = section.subn(
            lambda m: m.group(3) if m.group(1) == "#" and values[m.group(2)] else "", subject)
        if n == 0:
            break
    return re.sub(r"\{\{\s*([\w.]+)\s*\}\}", lambda m: values[m.group(1)], subject)


class MessagesInSixLanguages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.smtp = SmtpServer().start()
        cls.ws = Workspace(cls.smtp.port, SEQUENCES,
                           extra_config=f"links: {{base_url: {BASE_URL}, ttl: 30d}}\n")
        cls.ws.env = {"DUNNINGD_LINK_SECRET": SECRET}
        try:
            cls.ws.run("migrate")
            cls.case_of = {}
            for i, (locale, (name, minor, cur, _)) in enumerate(CUSTOMERS.items()):
                cid = f"cus_{locale}"
                cls.ws.add_customer(cid, f"{locale}@example.com", name=name, locale=locale,
                                    tz="Europe/Zagreb")
                cls.ws.sql("INSERT INTO payment_methods(id, customer_id, brand, last4, exp_month,"
                           " exp_year, is_default) VALUES (?,?,?,?,?,?,1)",
                           (f"pm_{locale}", cid, "Visa", "4242", 12, 2026))
                cls.ws.sql("INSERT INTO subscriptions(id, customer_id, plan, status) "
                           "VALUES (?,?,?,?)", (f"sub_{locale}", cid, "Pro", "past_due"))
                cls.ws.add_payment(f"py_{locale}", cid, f"INV-{locale}", minor, cur, "failed",
                                   START, decline_code="insufficient_funds",
                                   subscription=f"sub_{locale}")
            for day in range(len(TEMPLATES)):
                cls.ws.tick(f"2026-11-{2 + day:02d}T10:05:00Z")
            for case_id, cid in cls.ws.sql("SELECT id, customer_id FROM cases"):
                cls.case_of[cid] = case_id
        except Exception:
            cls.smtp.stop()
            cls.ws.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.smtp.stop()
        cls.ws.cleanup()

    def messages_by_template(self):
        out = {}
        for (mail_from, rcpts, msg), raw in zip(self.smtp.messages, self.smtp.handler.raw):
            step = int(msg["X-Dunningd-Step"])
            out[(rcpts[0].split("@")[0], TEMPLATES[step])] = (mail_from, msg, raw)
        return out

    def test_every_template_is_sent_once_in_every_language(self):
        got = self.messages_by_template()
        self.assertEqual(len(self.smtp.messages), len(TEMPLATES) * len(CUSTOMERS))
        self.assertEqual(set(got), {(l, t) for l in CUSTOMERS for t in TEMPLATES})

    def test_headers_decode_to_the_localized_subject_names_and_stable_ids(self):
        for (locale, template), (mail_from, msg, _) in self.messages_by_template().items():
            with self.subTest(locale=locale, template=template):
                name, _, _, amount = CUSTOMERS[locale]
                self.assertEqual(mail_from, "billing@example.com")
                self.assertEqual(msg["From"].addresses[0].display_name, "Example Billing")
                self.assertEqual(msg["To"].addresses[0].display_name, name)
                self.assertEqual(msg["To"].addresses[0].addr_spec, f"{locale}@example.com")
                self.assertEqual(plain(str(msg["Subject"])),
                                 plain(expected_subject(locale, template, amount)))
                step = TEMPLATES.index(template)
                case_id = self.case_of[f"cus_{locale}"]
                self.assertEqual(msg["Message-ID"],
                                 f"<dunningd.case-{case_id}.step-{step}@example.com>")
                sent = email.utils.parsedate_to_datetime(msg["Date"])
                self.assertEqual(sent.isoformat(), f"2026-11-{2 + step:02d}T10:05:00+00:00")
                self.assertEqual(msg["Auto-Submitted"], "auto-generated")
                self.assertEqual(msg["MIME-Version"], "1.0")
                # Not configured here: no unsubscribe headers at all.
                self.assertIsNone(msg["List-Unsubscribe"])
                self.assertIsNone(msg["List-Unsubscribe-Post"])
                self.assertEqual(msg.get_content_type(), "multipart/alternative")
                self.assertEqual(len(msg.defects), 0, msg.defects)

    def test_both_bodies_are_utf8_with_the_amount_formatted_for_the_locale(self):
        for (locale, template), (_, msg, _) in self.messages_by_template().items():
            with self.subTest(locale=locale, template=template):
                _, _, _, amount = CUSTOMERS[locale]
                text, html = text_part(msg), html_part(msg)
                for part in msg.walk():
                    if part.get_content_maintype() == "text":
                        self.assertEqual(part.get_content_charset(), "utf-8")
                self.assertIn(f'lang="{locale}"', html)
                self.assertIn('dir="rtl"' if locale == "ar" else 'dir="ltr"', html)
                self.assertIn("Example Ltd", text)
                if template.startswith("card-expiring"):
                    self.assertIn("4242", text)
                    continue
                self.assertIn(plain(amount), plain(text))
                self.assertIn(plain(amount), plain(html))
                if locale == "ar":
                    self.assertRegex(text, "[\u0660-\u0669]")  # Arabic-Indic digits

    def test_decline_reason_is_in_the_customers_language(self):
        got = self.messages_by_template()
        for locale in CUSTOMERS:
            with open(os.path.join(SOURCE_DIR, "templates", locale, "_reasons.yaml"),
                      encoding="utf-8") as f:
                reason = yaml.safe_load(f)["insufficient_funds"]
            self.assertIn(reason, text_part(got[(locale, "payment-failed")][1]))

    def test_card_update_link_is_signed_for_the_customer_and_case(self):
        for (locale, template), (_, msg, _) in self.messages_by_template().items():
            if template == "recovered":
                continue
            with self.subTest(locale=locale, template=template):
                m = re.search(re.escape(BASE_URL) + r"/r/([0-9a-f.]+)", text_part(msg))
                self.assertIsNotNone(m, "no signed link in the text")
                payload, sig = m.group(1).rsplit(".", 1)
                self.assertEqual(sig, hmac.new(SECRET.encode(), payload.encode(),
                                               hashlib.sha256).hexdigest())
                case_id, expires, customer_hex = payload.split(".")
                self.assertEqual(int(case_id), self.case_of[f"cus_{locale}"])
                self.assertEqual(bytes.fromhex(customer_hex).decode(), f"cus_{locale}")
                self.assertIn(m.group(0), html_part(msg))

    def test_no_line_is_longer_than_998_octets(self):
        for raw in self.smtp.handler.raw:
            for line in raw.split(b"\r\n"):
                self.assertLessEqual(len(line), 998)


class HeaderInjection(unittest.TestCase):
    def setUp(self):
        self.smtp = SmtpServer().start()
        self.addCleanup(self.smtp.stop)
        self.ws = Workspace(self.smtp.port, SEQUENCES)
        self.addCleanup(self.ws.cleanup)
        self.ws.run("migrate")

    def test_line_breaks_in_customer_name_or_email_cannot_add_a_header(self):
        ws = self.ws
        ws.add_customer("cus_evil", "victim@example.com",
                        name="Eve\r\nBcc: spy@example.com\r\nSubject: pwned")
        ws.add_customer("cus_evil2", "x@example.com\r\nBcc: spy@example.com", name="Mallory")
        ws.add_payment("py_1", "cus_evil", "in_1", 1000, "EUR", "failed", START,
                       decline_code="insufficient_funds")
        ws.add_payment("py_2", "cus_evil2", "in_2", 1000, "EUR", "failed", START,
                       decline_code="insufficient_funds")
        ws.tick("2026-11-02T10:05:00Z")
        self.assertEqual(len(self.smtp.messages), 1)
        _, rcpts, msg = self.smtp.messages[0]
        self.assertEqual(rcpts, ["victim@example.com"])
        self.assertIsNone(msg["Bcc"])
        self.assertEqual(len(msg.get_all("Subject")), 1)
        self.assertNotIn("pwned", str(msg["Subject"]))
        self.assertEqual(len(msg["To"].addresses), 1)
        self.assertEqual(msg["To"].addresses[0].addr_spec, "victim@example.com")
        # The malformed address is never handed to the server: the step fails with the reason.
        ((state, error),) = ws.sql(
            "SELECT o.state, o.last_error FROM outbox o JOIN cases c ON c.id = o.case_id "
            "WHERE c.customer_id = 'cus_evil2'")
        self.assertEqual(state, "failed")
        self.assertIn("invalid email address", error)


LIST_UNSUBSCRIBE = """  list_unsubscribe:
    - mailto:billing@example.com?subject=unsubscribe-{customer}-{case}
    - https://billing.example.com/unsubscribe?c={customer}&case={case}
  list_unsubscribe_post: true
"""


class ListUnsubscribe(unittest.TestCase):
    """smtp.list_unsubscribe: the header lists the configured URIs with the customer and case
    filled in, percent-encoded, so an odd customer id round-trips instead of breaking out."""

    def test_configured_uris_carry_the_customer_and_case_and_one_click_is_offered(self):
        smtp = SmtpServer().start()
        self.addCleanup(smtp.stop)
        ws = Workspace(smtp.port, SEQUENCES)
        self.addCleanup(ws.cleanup)
        with open(ws.config, encoding="utf-8") as f:
            cfg = f.read()
        with open(ws.config, "w", encoding="utf-8") as f:
            f.write(cfg.replace("  timeout: 5s\n", "  timeout: 5s\n" + LIST_UNSUBSCRIBE))
        ws.run("migrate")
        odd = "cus 1&c=2,<x>\u00e9"
        ws.add_customer(odd, "ana@example.com", name="Ana")
        ws.add_payment("py_1", odd, "in_1", 1000, "EUR", "failed", START,
                       decline_code="insufficient_funds")
        ws.tick("2026-11-02T10:05:00Z")
        self.assertEqual(len(smtp.messages), 1)
        msg = smtp.messages[0][2]
        self.assertEqual(len(msg.defects), 0, msg.defects)
        self.assertEqual(msg["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        value = str(msg["List-Unsubscribe"])
        uris = re.findall(r"<([^<>]*)>", value)
        self.assertEqual(len(uris), 2, value)
        self.assertEqual(re.sub(r"<[^<>]*>", "", value).replace(" ", ""), ",")
        mailto, https = (urllib.parse.urlsplit(u) for u in uris)
        self.assertEqual((mailto.scheme, mailto.path), ("mailto", "billing@example.com"))
        self.assertEqual(urllib.parse.parse_qs(mailto.query)["subject"], [f"unsubscribe-{odd}-1"])
        self.assertEqual((https.scheme, https.netloc, https.path),
                         ("https", "billing.example.com", "/unsubscribe"))
        self.assertEqual(urllib.parse.parse_qs(https.query), {"c": [odd], "case": ["1"]})


if __name__ == "__main__":
    unittest.main()
