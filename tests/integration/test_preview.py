"""`dunningd preview` for every shipped template and locale matches its golden file
(tests/golden/preview/<locale>/<template>.txt). After a deliberate template change, regenerate
with UPDATE_GOLDEN=1 and review the diff."""
import email
import email.policy
import os
import unittest

from dunning_fixtures import SOURCE_DIR, Workspace

LOCALES = ["en", "hr", "ro", "ar", "nb", "pl"]
GOLDEN = os.path.join(SOURCE_DIR, "tests", "golden", "preview")
NOW = "2026-11-02T10:00:00Z"


def templates():
    folder = os.path.join(SOURCE_DIR, "templates", "en")
    return sorted(f[:-5] for f in os.listdir(folder) if f.endswith(".yaml")
                  and not f.startswith("_"))


class Preview(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace(25, extra_config="links: {base_url: https://pay.example.test}\n")
        self.ws.env = {"DUNNINGD_LINK_SECRET": "golden-secret"}
        self.addCleanup(self.ws.cleanup)

    def test_every_template_in_every_locale_matches_its_golden_file(self):
        update = os.environ.get("UPDATE_GOLDEN") == "1"
        for locale in LOCALES:
            for name in templates():
                with self.subTest(locale=locale, template=name):
                    out = self.ws.run("preview", "--template", name, "--locale", locale,
                                      "--now", NOW).stdout
                    path = os.path.join(GOLDEN, locale, name + ".txt")
                    if update:
                        os.makedirs(os.path.dirname(path), exist_ok=True)
                        with open(path, "w", encoding="utf-8") as f:
                            f.write(out)
                    with open(path, encoding="utf-8") as f:
                        self.assertEqual(out, f.read())

    def test_every_html_layout_declares_the_viewport_and_its_colour_scheme(self):
        for locale in LOCALES:
            with self.subTest(locale=locale):
                out = os.path.join(self.ws.dir, f"{locale}.html")
                self.ws.run("preview", "--template", "payment-failed", "--locale", locale,
                            "--now", NOW, "--out", out)
                with open(out, encoding="utf-8") as f:
                    head = f.read().split("</head>", 1)[0]
                self.assertIn('<meta name="viewport" content="width=device-width, '
                              'initial-scale=1">', head)
                self.assertIn('<meta name="color-scheme" content="light">', head)
                self.assertIn('<meta name="supported-color-schemes" content="light">', head)

    def test_eml_output_is_a_parseable_message_and_html_output_is_the_html_part(self):
        eml = os.path.join(self.ws.dir, "m.eml")
        html = os.path.join(self.ws.dir, "m.html")
        self.ws.run("preview", "--template", "update-card", "--locale", "ar", "--now", NOW,
                    "--out", eml)
        self.ws.run("preview", "--template", "update-card", "--locale", "ar", "--now", NOW,
                    "--out", html)
        with open(eml, "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        self.assertEqual(msg["Message-ID"], "<dunningd.case-42.step-0@example.com>")
        self.assertIn("٤٩٫٠٠", str(msg["Subject"]))
        self.assertIsNone(msg["List-Unsubscribe"])  # not configured
        with open(html, encoding="utf-8") as f:
            self.assertEqual(msg.get_body(("html",)).get_content(), f.read())

    def test_eml_output_carries_list_unsubscribe_as_configured(self):
        with open(self.ws.config, encoding="utf-8") as f:
            cfg = f.read()
        with open(self.ws.config, "w", encoding="utf-8") as f:
            f.write(cfg.replace("  timeout: 5s\n", "  timeout: 5s\n  list_unsubscribe: "
                                "'mailto:u@example.com?subject=unsubscribe-{customer}'\n"))
        eml = os.path.join(self.ws.dir, "m.eml")
        self.ws.run("preview", "--template", "update-card", "--locale", "en", "--now", NOW,
                    "--out", eml)
        with open(eml, "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        self.assertEqual(msg["List-Unsubscribe"],
                         "<mailto:u@example.com?subject=unsubscribe-cus_sample>")
        self.assertIsNone(msg["List-Unsubscribe-Post"])  # no https URI, not asked for

    def test_preview_of_a_real_case_uses_its_customer_and_amount(self):
        ws = self.ws
        ws.run("migrate")
        ws.add_customer("cus_1", "ana@example.com", name="Ana Kovačević", locale="hr")
        ws.add_payment("py_1", "cus_1", "in_1", 1250, "EUR", "failed", NOW,
                       decline_code="expired_card")
        ws.run("run", "--once", "--now", NOW, check=False)  # opens case 1 (SMTP is down: fine)
        out = ws.run("preview", "--template", "update-card", "--case", "1", "--now", NOW).stdout
        self.assertIn("Locale: hr", out)
        self.assertIn("Ana Kovačević", out)
        self.assertIn("12,50\u00a0€", out)
        self.assertIn("in_1", out)

    def test_unknown_template_fails_with_one_clear_line(self):
        proc = self.ws.run("preview", "--template", "nope", "--locale", "hr", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("no template 'nope'", proc.stderr)


if __name__ == "__main__":
    unittest.main()
