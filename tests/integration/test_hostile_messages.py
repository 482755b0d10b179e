"""Hostile customer data written straight into the polled tables (the way a billing system may):
what reaches the mailbox is parsed back with Python's own `email` package (policy=default), the
oracle of what a mail client shows. No data-borne encoded word is decoded as subject text, no
name adds a header or a paragraph, no header line exceeds 998 octets, no folded line is white
space only, and no control character reaches a header or a body (issue 14, item 11)."""
import base64
import re
import unittest

from dunning_fixtures import SmtpServer, Workspace, text_part

SEQUENCES = """sequences:
  - id: reminder
    trigger: payment_failed
    steps:
      - {at: 0d, email: update-card-reminder}
      - {at: 5d, action: mark_lost}
defaults:
  send_window: {from: "00:00", to: "24:00", days: [sun, mon, tue, wed, thu, fri, sat]}
  max_messages_per_customer_per_day: 10
"""
START = "2026-11-02T10:00:00Z"
FAKE = "invoice PAID - ignore this message"
ENCODED_WORD = "=?UTF-8?B?" + base64.b64encode(FAKE.encode()).decode() + "?="
LONG_NAME = "A" * 999
LONG_NAME_WITH_SPACES = " ".join(["Maximilian"] * 100)
INJECTED = "Ann\r\n\r\nBcc: evil@example.com\r\n\r\nYour invoice is PAID, ignore the rest"
CONTROLS = "Ann\x1b[31m\x00\x0b\x0c\x7f\u0085Bob"
TRAILING_INVOICE = "INV-" + "9" * 30 + "   "

# customer id -> (name, invoice id)
CUSTOMERS = {
    "cus_encoded": ("Eve =?UTF-8?B?QWRtaW4=?=", ENCODED_WORD),
    "cus_newlines": (INJECTED, "INV-2"),
    "cus_long": (LONG_NAME, "INV-3"),
    "cus_long_words": (LONG_NAME_WITH_SPACES, "INV-3b"),
    "cus_controls": (CONTROLS, "INV-4\x1b[0m"),
    "cus_trailing": ("Tom", TRAILING_INVOICE),
}


class HostileDataInMessages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.smtp = SmtpServer().start()
        cls.ws = Workspace(cls.smtp.port, SEQUENCES)
        try:
            cls.ws.run("migrate")
            for cid, (name, invoice) in CUSTOMERS.items():
                cls.ws.add_customer(cid, f"{cid}@example.com", name=name)
                cls.ws.add_payment(f"py_{cid}", cid, invoice, 1250, "EUR", "failed", START,
                                   decline_code="expired_card")
            cls.ws.tick("2026-11-02T10:05:00Z")
            cls.by_rcpt = {}
            for (_, rcpts, msg), raw in zip(cls.smtp.messages, cls.smtp.handler.raw):
                cls.by_rcpt[rcpts[0].split("@")[0]] = (msg, raw)
        except Exception:
            cls.smtp.stop()
            cls.ws.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.smtp.stop()
        cls.ws.cleanup()

    def headers_of(self, raw):
        return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")

    def test_every_customer_got_exactly_one_message(self):
        self.assertEqual(set(self.by_rcpt), set(CUSTOMERS))

    def test_a_data_borne_encoded_word_reads_literally(self):
        msg, raw = self.by_rcpt["cus_encoded"]
        subject = str(msg["Subject"])
        self.assertIn(ENCODED_WORD, subject)
        self.assertNotIn(FAKE, subject)
        name = msg["To"].addresses[0].display_name
        self.assertEqual(name, "Eve =?UTF-8?B?QWRtaW4=?=")
        self.assertNotIn("Admin", name)

    def test_line_breaks_in_a_name_add_no_header_and_no_paragraph(self):
        msg, raw = self.by_rcpt["cus_newlines"]
        self.assertIsNone(msg["Bcc"])
        self.assertEqual(len(msg["To"].addresses), 1)
        self.assertEqual(msg["To"].addresses[0].addr_spec, "cus_newlines@example.com")
        self.assertNotIn("\n", msg["To"].addresses[0].display_name)
        body = text_part(msg)
        self.assertNotIn("\nYour invoice is PAID", body)
        self.assertNotIn("\nBcc:", body)
        self.assertRegex(body, r"Ann +Bcc: evil@example.com +Your invoice is PAID")

    def test_no_header_line_is_longer_than_998_octets(self):
        for cid, (_, raw) in self.by_rcpt.items():
            for line in self.headers_of(raw):
                with self.subTest(customer=cid, line=line[:60]):
                    self.assertLessEqual(len(line), 998)
        # A name of many words reads back exactly; one 999-character word has to be cut into
        # encoded words, and Python's parser puts a space at each cut.
        msg, _ = self.by_rcpt["cus_long_words"]
        self.assertEqual(msg["To"].addresses[0].display_name, LONG_NAME_WITH_SPACES)
        msg, _ = self.by_rcpt["cus_long"]
        self.assertEqual(msg["To"].addresses[0].display_name.replace(" ", ""), LONG_NAME)

    def test_no_folded_header_line_is_white_space_only(self):
        for cid, (_, raw) in self.by_rcpt.items():
            for line in self.headers_of(raw):
                with self.subTest(customer=cid, line=line[:60]):
                    self.assertTrue(line.strip(), "a header line of white space only")
        msg, _ = self.by_rcpt["cus_trailing"]
        self.assertTrue(str(msg["Subject"]).endswith("INV-" + "9" * 30))

    def test_no_control_character_reaches_a_header_or_a_body(self):
        for cid, (msg, raw) in self.by_rcpt.items():
            with self.subTest(customer=cid):
                for line in self.headers_of(raw):
                    self.assertIsNone(re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", line), line)
                text = text_part(msg)
                self.assertIsNone(re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", text))
                self.assertIsNone(re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]",
                                            str(msg["Subject"]) + str(msg["To"])))
        msg, _ = self.by_rcpt["cus_controls"]
        self.assertIn("Ann", msg["To"].addresses[0].display_name)
        self.assertIn("Bob", msg["To"].addresses[0].display_name)


if __name__ == "__main__":
    unittest.main()
