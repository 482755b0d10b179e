"""The command line follows the conventions operators script against: documented exit codes
(each one read from the man page source and provoked here), an unknown subcommand named with the
valid ones, --config on either side of the subcommand, reversed periods refused, a readable
`cases` table, and the defaults a new user trips on (missing database directory, file modes,
an unknown time zone, a misspelt CSV column, the EHLO name, missing secrets)."""
import json
import os
import re
import signal
import subprocess
import time
import unittest

from dunning_fixtures import (DUNNINGD, SOURCE_DIR, SmtpServer, Workspace, free_port,
                              http_config, iso_ago, process_env, text_part, wait_for)

MAN_PAGE = os.path.join(SOURCE_DIR, "docs", "dunningd.1")


def documented_exit_codes():
    """The codes of the man page's EXIT STATUS section (`.TP` then `.B <code>`)."""
    with open(MAN_PAGE, encoding="utf-8") as f:
        page = f.read()
    section = page.split(".SH EXIT STATUS", 1)[1].split("\n.SH ", 1)[0]
    return sorted(int(c) for c in re.findall(r"^\.TP\n\.B (\d+)$", section, re.M))


class Cli(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace(25)
        self.addCleanup(self.ws.cleanup)

    def dunningd(self, *args, env=None, cwd=None):
        return subprocess.run([DUNNINGD, *args], capture_output=True, text=True, timeout=60,
                              env=process_env(env), cwd=cwd)

    # ---- exit codes, as documented

    def provoke(self, code):
        """Commands that must exit with `code`, each with what it shows."""
        ws = self.ws
        bad = os.path.join(ws.dir, "bad.yaml")
        with open(bad, "w") as f:
            f.write("database: x.db\nsmtp: {url: smtp://127.0.0.1:25/x, from: a@b.example}\n"
                    "poll_interval: soon\n")
        missing_db = os.path.join(ws.dir, "nodb.yaml")
        with open(ws.config) as f, open(missing_db, "w") as g:
            g.write(f.read().replace("database: dunningd.db", "database: absent.db"))
        return {
            0: [("check", "--config", ws.config), ("--version",), ("cases", "--help")],
            1: [("cases", "--config", missing_db),               # no database to read
                ("ledger", "verify", "--config", missing_db)],
            2: [("bogus",),                                      # unknown subcommand
                (),                                              # no subcommand
                ("check", "--config", bad),                      # invalid configuration
                ("check", "--no-such-option"),                   # CLI11: 109
                ("report", "--config", ws.config, "--format", "pdf"),  # CLI11: 105
                ("preview", "--config", ws.config),              # CLI11: 106 (--template)
                ("cases", "--config", ws.config, "--show", "x"),  # CLI11: 104 (conversion)
                ("report", "--config", ws.config, "--from", "2026-11-02", "--to", "2026-11-01"),
                ("ledger", "export", "--config", ws.config, "--from", "yesterday")],
        }[code]

    def test_every_exit_code_in_the_man_page_is_provoked_and_nothing_else_is_used(self):
        codes = documented_exit_codes()
        self.assertEqual(codes, [0, 1, 2])
        for code in codes:
            for args in self.provoke(code):
                with self.subTest(code=code, args=args):
                    proc = self.dunningd(*args)
                    self.assertEqual(proc.returncode, code, proc.stdout + proc.stderr)

    def test_the_man_page_lists_every_subcommand_and_every_secret(self):
        with open(MAN_PAGE, encoding="utf-8") as f:
            page = f.read()
        subs = page.split(".SH SUBCOMMANDS", 1)[1].split("\n.SH ", 1)[0]
        env = page.split(".SH ENVIRONMENT", 1)[1].split("\n.SH ", 1)[0].replace("\\", "")
        listed = self.dunningd("--help").stdout.split("Subcommands:", 1)[1].split()
        for sub in ("run", "check", "migrate", "report", "cases", "ledger", "import",
                    "simulate", "preview"):
            self.assertIn(sub, listed)
            self.assertRegex(subs, rf"(?m)^\.B {sub}\b", f"SUBCOMMANDS lacks {sub}")
        with open(os.path.join(SOURCE_DIR, "config", "dunningd.yaml"), encoding="utf-8") as f:
            names = set(re.findall(r"_env: *([A-Z0-9_]+)", f.read()))
        self.assertGreaterEqual(len(names), 8)
        for name in sorted(names):
            self.assertIn(name, env, f"ENVIRONMENT lacks {name}")

    def test_the_unit_refuses_to_restart_on_the_configuration_error_code(self):
        with open(os.path.join(SOURCE_DIR, "systemd", "dunningd.service")) as f:
            self.assertIn("\nRestartPreventExitStatus=2\n", f.read())

    # ---- subcommands and options

    def test_an_unknown_subcommand_is_named_with_the_valid_ones(self):
        proc = self.dunningd("bogus")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("unknown subcommand 'bogus'", proc.stderr)
        for sub in ("run", "check", "migrate", "report", "cases", "ledger", "import", "simulate",
                    "preview"):
            self.assertRegex(proc.stderr, rf"\b{sub}\b")
        self.assertNotIn("A subcommand is required", proc.stderr)

    def test_config_is_accepted_before_or_after_the_subcommand(self):
        for args in (("--config", self.ws.config, "check"), ("check", "--config", self.ws.config),
                     ("-c", self.ws.config, "check")):
            with self.subTest(args=args):
                proc = self.dunningd(*args)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertIn(": OK (", proc.stdout)

    def test_ledger_export_help_lists_config(self):
        for args in (("ledger", "export", "--help"), ("ledger", "verify", "--help")):
            proc = self.dunningd(*args)
            self.assertEqual(proc.returncode, 0)
            self.assertIn("--config", proc.stdout)

    def test_a_reversed_period_is_refused(self):
        self.ws.run("migrate")
        for args in (("report", "--from", "2026-12-01", "--to", "2026-11-01"),
                     ("ledger", "export", "--from", "2026-12-01", "--to", "2026-11-01"),
                     ("simulate", "--from", "2026-12-01", "--to", "2026-11-01")):
            with self.subTest(args=args):
                proc = self.dunningd(args[0], "--config", self.ws.config, *args[1:])
                self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
                self.assertRegex(proc.stderr, r"--to.*(after|before) --from")

    def test_run_once_says_so_when_nothing_was_due(self):
        proc = self.ws.run("run", "--once", "--now", "2026-11-24T09:00:00Z")
        self.assertIn("poll at 2026-11-24T09:00:00Z: nothing was due", proc.stdout)

    def test_cases_prints_a_table_by_default_and_csv_or_json_on_request(self):
        ws = self.ws
        ws.run("migrate")
        ws.add_customer("cus-a", "a@example.com", name="A")
        ws.add_customer("cus-b", "b@example.com", name="B")
        ws.add_payment("p1", "cus-a", "inv-1", 1999, "EUR", "failed", iso_ago(hours=2),
                       decline_code="insufficient_funds")
        ws.add_payment("p2", "cus-b", "inv-2", 500000, "JPY", "failed", iso_ago(hours=2),
                       decline_code="insufficient_funds")
        ws.tick(iso_ago(hours=1))
        table = ws.run("cases").stdout.splitlines()
        self.assertEqual(table[0].split(), ["ID", "STATE", "CUSTOMER", "INVOICE", "AMOUNT",
                                            "SEQUENCE", "NEXT", "STEP", "DUE"])
        self.assertRegex(table[1], r"^\s*1\s+open\s+cus-a\s+inv-1\s+19\.99 EUR\s+")
        self.assertRegex(table[2], r"^\s*2\s+open\s+cus-b\s+inv-2\s+500000 JPY\s+")
        self.assertEqual(table[-1], "(2 cases)")
        self.assertEqual(len({len(line.rstrip()) > 0 for line in table}), 1)
        csv_lines = ws.run("cases", "--format", "csv").stdout.splitlines()
        self.assertEqual(csv_lines[0], "id,state,customer_id,invoice_id,amount_minor,currency,"
                                       "sequence_id,next_step,next_due_at")
        self.assertTrue(csv_lines[1].startswith("1,open,cus-a,inv-1,1999,EUR,"))
        doc = json.loads(ws.run("cases", "--format", "json", "--customer", "cus-b").stdout)
        self.assertEqual([(c["id"], c["customer_id"], c["amount"]) for c in doc["cases"]],
                         [(2, "cus-b", "500000")])
        only_a = ws.run("cases", "--customer", "cus-a").stdout
        self.assertIn("cus-a", only_a)
        self.assertNotIn("cus-b", only_a)
        self.assertIn("(1 case)", only_a)
        self.assertIn("(0 cases)", ws.run("cases", "--state", "lost").stdout)


class NewUserDefaults(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace(25)
        self.addCleanup(self.ws.cleanup)

    def set_config(self, old, new):
        with open(self.ws.config, encoding="utf-8") as f:
            text = f.read()
        self.assertIn(old, text)
        with open(self.ws.config, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new))

    def test_a_missing_database_directory_is_named(self):
        self.set_config("database: dunningd.db", "database: state/sub/dunningd.db")
        proc = self.ws.run("migrate", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("the directory " + os.path.join(self.ws.dir, "state", "sub") +
                      " does not exist", proc.stderr)
        self.assertNotIn("unable to open database file", proc.stderr)

    def test_the_database_and_its_wal_and_shm_are_created_0600_whatever_the_umask(self):
        old = os.umask(0o022)
        try:
            self.ws.run("run", "--once", "--now", "2026-11-24T09:00:00Z")
            # A second process holds the WAL open while we look at it.
            self.ws.add_customer("cus-1", "a@example.com")
            for suffix in ("", "-wal", "-shm"):
                path = self.ws.db_path + suffix
                if suffix and not os.path.exists(path):
                    continue  # checkpointed and removed at close: nothing to expose
                with self.subTest(file=os.path.basename(path)):
                    self.assertEqual(oct(os.stat(path).st_mode & 0o777), oct(0o600))
            with self.ws.db() as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO customers(id, email) VALUES ('cus-2', 'b@example.com')")
                for suffix in ("-wal", "-shm"):
                    self.assertTrue(os.path.exists(self.ws.db_path + suffix))
                    self.assertEqual(oct(os.stat(self.ws.db_path + suffix).st_mode & 0o777),
                                     oct(0o600), suffix)
                conn.execute("ROLLBACK")
        finally:
            os.umask(old)

    def test_an_unknown_default_time_zone_is_a_check_error_with_its_position(self):
        with open(self.ws.config, "a", encoding="utf-8") as f:
            f.write("default_time_zone: Europe/Zagrebb\n")
        proc = self.ws.run("check", check=False)
        self.assertEqual(proc.returncode, 2)
        with open(self.ws.config, encoding="utf-8") as f:
            line = len(f.read().splitlines())
        self.assertIn(f"{self.ws.config}:{line}:20: error: unknown default_time_zone "
                      f"'Europe/Zagrebb'", proc.stderr)

    def test_an_unknown_csv_column_refuses_the_file_naming_it(self):
        self.ws.run("migrate")
        path = os.path.join(self.ws.dir, "customers.csv")
        with open(path, "w") as f:
            f.write("id,email,tz\ncus-1,a@example.com,Europe/Zagreb\n")
        before = self.ws.sql("SELECT count(*) FROM customers")
        proc = self.ws.run("import", "--config", self.ws.config, "--customers", path,
                           check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(f"{path}:1: unknown column 'tz' (did you mean 'time_zone'?)", proc.stderr)
        self.assertEqual(before, self.ws.sql("SELECT count(*) FROM customers"))

    def test_the_ehlo_name_is_the_domain_of_from(self):
        with SmtpServer() as smtp:
            self.set_config("url: smtp://127.0.0.1:25/dunningd.test",
                            f"url: smtp://127.0.0.1:{smtp.port}")
            self.set_config("from: Example Billing <billing@example.com>",
                            "from: Example Billing <billing@shop.example.org>")
            self.ws.run("migrate")
            self.ws.add_customer("cus-1", "a@example.com", name="A")
            self.ws.add_payment("p1", "cus-1", "inv-1", 1999, "EUR", "failed",
                                "2026-11-20T10:00:00Z", decline_code="expired_card")
            self.ws.tick("2026-11-20T10:05:00Z")  # hard decline: first email at 0h
            wait_for(lambda: smtp.messages, timeout=10, what="the message")
            self.assertEqual(smtp.handler.sessions[0]["ehlo"], "shop.example.org")
            self.assertIn("A", text_part(smtp.messages[0][2]))

    def test_shipped_config_greets_with_its_from_domain_not_localhost(self):
        with open(os.path.join(SOURCE_DIR, "config", "dunningd.yaml"), encoding="utf-8") as f:
            self.assertNotIn("localhost", f.read())


class MissingSecrets(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.ws = Workspace(25, extra_config=http_config(self.port) +
                            "  base_url: https://pay.example.test\n")
        self.addCleanup(self.ws.cleanup)

    def test_check_names_each_missing_secret_and_what_it_turns_off(self):
        proc = self.ws.run("check", check=False)
        self.assertEqual(proc.returncode, 0, proc.stderr)  # warnings: the daemon still works
        err = proc.stderr
        self.assertRegex(err, r"warning: secret DUNNINGD_TEST_API_TOKEN \(http.token_env\).*401")
        self.assertRegex(err, r"warning: secret DUNNINGD_TEST_STRIPE_SECRETS .*answers 400")
        self.assertRegex(err, r"warning: secret DUNNINGD_TEST_LINK_SECRET .*company.update_url")
        self.assertRegex(err, r"warning: secrets DUNNINGD_CONSOLE_ADMIN_PASSWORD and "
                              r"DUNNINGD_CONSOLE_FINANCE_PASSWORD .*the console \(/ui/\) is off")
        self.ws.env = {"DUNNINGD_TEST_API_TOKEN": "t", "DUNNINGD_TEST_STRIPE_SECRETS": "s",
                       "DUNNINGD_TEST_LINK_SECRET": "l", "DUNNINGD_CONSOLE_ADMIN_PASSWORD": "a"}
        proc = self.ws.run("check")
        self.assertNotIn("secret", proc.stderr)
        # Where a feature cannot work at all, it is an error.
        with open(self.ws.config, "a", encoding="utf-8") as f:
            f.write("webhooks:\n  url: https://hooks.example.test/x\n"
                    "  secret_env: DUNNINGD_TEST_WEBHOOK_SECRET\n")
        proc = self.ws.run("check", check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertRegex(proc.stderr, r"error: secret DUNNINGD_TEST_WEBHOOK_SECRET .*cannot be "
                                      r"signed")
        # A systemd credential counts.
        creds = os.path.join(self.ws.dir, "creds")
        os.mkdir(creds)
        with open(os.path.join(creds, "DUNNINGD_TEST_WEBHOOK_SECRET"), "w") as f:
            f.write("w\n")
        self.ws.env["CREDENTIALS_DIRECTORY"] = creds
        self.assertEqual(self.ws.run("check", check=False).returncode, 0)

    def test_the_daemon_says_it_once_at_start_up_with_the_real_status(self):
        log = os.path.join(self.ws.dir, "daemon.log")
        with open(log, "wb") as out:
            proc = subprocess.Popen([DUNNINGD, "run", "--config", self.ws.config], stdout=out,
                                    stderr=subprocess.STDOUT, env=process_env())
        try:
            def running():
                with open(log, encoding="utf-8", errors="replace") as f:
                    return "running" in f.read()
            wait_for(running, timeout=15, what="the daemon to start")
            time.sleep(3.5)  # poll_interval 1s: several polls
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        with open(log, encoding="utf-8", errors="replace") as f:
            text = f.read()
        self.assertEqual(text.count("DUNNINGD_TEST_LINK_SECRET"), 1, text)
        self.assertRegex(text, r" warning .*DUNNINGD_TEST_STRIPE_SECRETS.*answers 400")
        self.assertNotRegex(text, r"answers 401.*stripe|stripe.*answers 401")
        self.assertNotRegex(text, r" error .*LINK_SECRET")


if __name__ == "__main__":
    unittest.main()
