"""`dunningd import`: header-mapped CSV files, rejected rows reported with line numbers,
card numbers refused, and a second import of the same files changes nothing."""
import os
import unittest

from dunning_fixtures import Workspace, db_dump

CUSTOMERS = """email,id,name,locale,time_zone
ana@example.com,c-1,"Horvat, Ana",hr,Europe/Zagreb
bob@example.com,c-2,Bob,en,Europe/London
,,no id,en,UTC
"""

CARDS = """id,customer_id,brand,last4,exp_month,exp_year,is_default,updated_at
pm-1,c-1,visa,4242,4,2030,1,2026-11-01T00:00:00Z
pm-2,c-2,mastercard,44,13,2030,1,2026-11-01T00:00:00Z
pm-3,c-2,visa,1881,1,2031,true,2026-11-01T00:00:00Z
"""

PAYMENTS = """id,customer_id,invoice_id,amount_minor,currency,status,decline_code,occurred_at,message
p-1,c-1,in-1,1999,EUR,failed,insufficient_funds,2026-11-20T10:00:00Z,
p-2,c-2,in-2,not-a-number,EUR,failed,,2026-11-20T10:00:00Z,
p-3,c-2,in-3,500,GBP,failed,expired_card,2026-11-20T10:00:00Z,card 4111111111111111 expired
p-4,c-2,in-4,500,GBP,succeeded,,2026-11-21T10:00:00Z,
"""


class Import(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace(25)
        self.addCleanup(self.ws.cleanup)
        self.files = {}
        for name, text in (("customers", CUSTOMERS), ("cards", CARDS), ("payments", PAYMENTS)):
            path = os.path.join(self.ws.dir, name + ".csv")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            self.files[name] = path

    def do_import(self):
        return self.ws.run("import", "--config", self.ws.config,
                           "--customers", self.files["customers"], "--cards", self.files["cards"],
                           "--payments", self.files["payments"], "--batch", "2", check=False)

    def test_rows_are_imported_and_bad_rows_reported_with_their_line(self):
        proc = self.do_import()
        self.assertEqual(proc.returncode, 2, proc.stderr)
        err = proc.stderr
        self.assertIn("customers.csv:4: rejected: id is required", err)
        self.assertIn("cards.csv:3: rejected: last4", err)
        self.assertIn("payments.csv:3: rejected: amount_minor", err)
        self.assertIn("payments.csv:4: rejected: message holds what looks like a card number",
                      err)
        self.assertEqual(self.ws.sql("SELECT id, name FROM customers ORDER BY id"),
                         [("c-1", "Horvat, Ana"), ("c-2", "Bob")])
        self.assertEqual(self.ws.sql("SELECT id, is_default FROM payment_methods ORDER BY id"),
                         [("pm-1", 1), ("pm-3", 1)])
        self.assertEqual(self.ws.sql("SELECT id, status FROM payments ORDER BY id"),
                         [("p-1", "failed"), ("p-4", "succeeded")])

    def test_importing_the_same_files_again_changes_nothing(self):
        self.do_import()
        before = db_dump(self.ws.db_path)
        proc = self.do_import()
        self.assertIn("0 changed", proc.stdout)
        self.assertNotIn(" 1 changed", proc.stdout)
        self.assertEqual(before, db_dump(self.ws.db_path))

    def test_a_file_without_a_required_column_is_refused(self):
        path = os.path.join(self.ws.dir, "bad.csv")
        with open(path, "w") as f:
            f.write("id,customer_id,amount_minor\np,c,1\n")
        proc = self.ws.run("import", "--config", self.ws.config, "--payments", path, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("no 'currency' column", proc.stderr)


if __name__ == "__main__":
    unittest.main()
