"""The finance report and the ledger commands against a generated data set with known outcomes.

The data set is written straight into a migrated database (tests/support/ledger_data.py); the
expected figures are computed independently in Python from the generated facts, and the binary's
json and csv must match them exactly (money as integers, rates and intervals to 1e-12). The HTML
report is rendered by headless Chromium: a screenshot is taken, the SVG charts must be there, and
every figure on the page must equal the json report.
"""
import csv
import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
from html.parser import HTMLParser

import ledger_data
from dunning_fixtures import SmtpServer, Workspace, utc_now

UTC = dt.timezone.utc
FROM = dt.datetime(2026, 10, 1, tzinfo=UTC)
TO = dt.datetime(2026, 12, 1, tzinfo=UTC)


def pointer(doc, ptr):
    for part in ptr.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


class ReportFigures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ws = Workspace(25)
        cls.ws.run("migrate")
        with cls.ws.db() as conn:
            cls.data = ledger_data.generate(conn, 600, seed=11)
        cls.exp = ledger_data.expected(cls.data, FROM, TO, TO)
        cls.args = ("--from", ledger_data.iso(FROM), "--to", ledger_data.iso(TO))

    @classmethod
    def tearDownClass(cls):
        cls.ws.cleanup()

    def report(self, fmt, *extra):
        return self.ws.run("report", "--format", fmt, *self.args, *extra).stdout

    def assertClose(self, actual, expected, what):
        if expected is None or isinstance(expected, (str, int)) and not isinstance(expected, bool):
            self.assertEqual(actual, expected, what)
        else:
            self.assertAlmostEqual(actual, expected, delta=1e-12, msg=what)

    def test_json_totals_rates_and_medians_equal_the_independent_computation(self):
        rep = json.loads(self.report("json"))
        exp = self.exp["totals"]
        for key in ("cases", "recovered_count"):
            self.assertEqual(rep["totals"][key], exp[key], key)
        self.assertClose(rep["totals"]["recovery_rate"], exp["recovery_rate"], "rate")
        self.assertClose(rep["totals"]["median_days_to_recover"], exp["median_days_to_recover"],
                         "median")
        self.assertEqual(sorted(rep["totals"]["currencies"]), ["EUR", "JPY", "USD"])
        for cur, e in exp["currencies"].items():
            got = rep["totals"]["currencies"][cur]
            for key, value in e.items():
                if isinstance(value, float):
                    self.assertClose(got[key], value, f"{cur} {key}")
                else:
                    self.assertEqual(got[key], value, f"{cur} {key}")
        # JPY has no minor digits; never a decimal point in its amounts
        self.assertNotIn(".", rep["totals"]["currencies"]["JPY"]["recovered"]["amount"])

    def test_json_uplift_interval_and_attributable_revenue(self):
        rep = json.loads(self.report("json"))
        u, e = rep["uplift"], self.exp["uplift"]
        self.assertIn("Newcombe", u["method"])
        for side in ("contacted", "holdout"):
            self.assertEqual(u[side]["cases"], e[side]["cases"])
            self.assertEqual(u[side]["recovered"], e[side]["recovered"])
            self.assertClose(u[side]["recovery_rate"], e[side]["recovery_rate"], side)
        for key in ("difference", "ci95_low", "ci95_high"):
            self.assertClose(u[key], e[key], key)
        self.assertLess(u["ci95_low"], u["difference"])
        self.assertGreater(u["ci95_high"], u["difference"])
        for cur, a in e["attributable"].items():
            got = {k: v for k, v in u["attributable"][cur].items()}
            self.assertEqual(got, a, cur)

    def test_json_funnel_weekly_revenue_and_ltv(self):
        rep = json.loads(self.report("json"))
        for seq, f in self.exp["funnel"].items():
            got = rep["funnel"][seq]
            self.assertEqual(got["cases"], f["cases"], seq)
            self.assertEqual(got["recovered_without_contact"], f["recovered_without_contact"])
            self.assertEqual({s["step"] - 1: s["reached"] for s in got["steps"]}, dict(f["reached"]))
            self.assertEqual({s["step"] - 1: s["recovered_after"] for s in got["steps"]
                              if s["recovered_after"]}, dict(f["after"]))
            for s in got["steps"]:
                self.assertEqual({c: m["amount_minor"] for c, m in s["recovered_after_amount"].items()},
                                 dict(f["after_amount"].get(s["step"] - 1, {})))
        self.assertEqual(rep["weekly_recovered"], self.exp["weekly_recovered"])
        ltv, e = rep["ltv_preserved"], self.exp["ltv_preserved"]
        self.assertIn("m*a*t", ltv["formula"])
        for key, value in e["inputs"].items():
            self.assertClose(ltv["inputs"][key], value, key)
        self.assertGreater(e["inputs"]["ended"], 0)
        self.assertEqual(ltv["currencies"], e["currencies"])

    def test_csv_carries_exactly_the_json_figures(self):
        rep = json.loads(self.report("json"))
        rows = list(csv.DictReader(io.StringIO(self.report("csv"))))
        idx = {(r["section"], r["group"], r["currency"], r["metric"]): r["value"] for r in rows}
        tot = rep["totals"]["currencies"]
        for cur, e in self.exp["totals"]["currencies"].items():
            self.assertEqual(idx[("totals", "all", cur, "recovered.amount_minor")],
                             str(e["recovered"]["amount_minor"]))
            self.assertEqual(idx[("totals", "all", cur, "lost.amount")], e["lost"]["amount"])
            self.assertEqual(idx[("totals", "all", cur, "open.count")], str(e["open"]["count"]))
            self.assertAlmostEqual(float(idx[("totals", "all", cur, "recovery_rate")]),
                                   e["recovery_rate"], delta=1e-12)
            self.assertEqual(idx[("totals", "all", cur, "recovered_total.amount_minor")],
                             str(tot[cur]["recovered_total"]["amount_minor"]))
        for key in ("ci95_low", "ci95_high", "difference"):
            self.assertAlmostEqual(float(idx[("uplift", "", "", key)]), self.exp["uplift"][key],
                                   delta=1e-12)
        for cur, a in self.exp["uplift"]["attributable"].items():
            self.assertEqual(idx[("uplift", "attributable", cur, "attributable.amount_minor")],
                             str(a["attributable"]["amount_minor"]))
        for cur, l in self.exp["ltv_preserved"]["currencies"].items():
            self.assertEqual(idx[("ltv_preserved", "", cur, "amount_minor")], str(l["amount_minor"]))
        for cur, weeks in self.exp["weekly_recovered"].items():
            for week, m in weeks.items():
                self.assertEqual(idx[("weekly_recovered", week, cur, "amount")], m["amount"])

    def test_grouping_splits_the_totals_without_adding_currencies(self):
        for by in ("month", "week", "sequence", "step", "decline_code", "currency", "channel"):
            rep = json.loads(self.report("json", "--by", by))
            self.assertEqual(rep["group_by"], by)
            for cur, total in rep["totals"]["currencies"].items():
                for key in ("cases",):
                    self.assertEqual(sum(g["currencies"].get(cur, {}).get(key, 0)
                                         for g in rep["groups"].values()), total[key], (by, cur))
                for kind in ("recovered", "lost", "open", "cancelled"):
                    self.assertEqual(sum(g["currencies"][cur][kind]["amount_minor"]
                                         for g in rep["groups"].values() if cur in g["currencies"]),
                                     total[kind]["amount_minor"], (by, cur, kind))
        by_seq = json.loads(self.report("json", "--by", "sequence"))
        self.assertEqual(sorted(by_seq["groups"]), ["hard", "soft"])
        for seq, f in self.exp["funnel"].items():
            self.assertEqual(by_seq["groups"][seq]["cases"], f["cases"])

    def test_table_format_is_readable_and_names_the_formulas(self):
        out = self.report("table")
        self.assertIn("Totals", out)
        eur = self.exp["totals"]["currencies"]["EUR"]
        self.assertIn(f"{eur['recovered']['amount']} ({eur['recovered']['count']})", out)
        self.assertIn("Newcombe", out)
        self.assertIn("m*a*t", out)

    def test_ledger_export_has_one_row_per_entry_with_billing_ids(self):
        rows = list(csv.DictReader(io.StringIO(
            self.ws.run("ledger", "export", "--format", "csv").stdout)))
        self.assertEqual(len(rows), len(self.data["ledger"]))
        by_id = {int(r["ledger_id"]): r for r in rows}
        for entry in self.data["ledger"]:
            r = by_id[entry[0]]
            self.assertEqual(r["kind"], entry[2])
            self.assertEqual(r["amount_minor"], str(entry[7]))
            self.assertEqual(r["amount"], ledger_data.major(entry[7], ledger_data.EXP[entry[8]]))
            self.assertEqual((r["customer_id"], r["subscription_id"], r["invoice_id"]), entry[3:6])
            self.assertRegex(r["occurred_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        corrections = [r for r in rows if r["kind"] == "correction"]
        self.assertTrue(corrections)
        self.assertTrue(all(r["corrects"] for r in corrections))
        clicks = [r for r in rows if r["attribution"] == "click"]
        self.assertTrue(clicks and all(r["clicked_at"] for r in clicks))

    def test_html_report_renders_in_headless_chromium_with_charts_and_the_json_numbers(self):
        chromium = shutil.which("chromium")
        if not chromium:
            self.skipTest("chromium is not installed (scripts/install-deps installs it)")
        rep = json.loads(self.report("json", "--by", "channel"))
        html_path = os.path.join(self.ws.dir, "report.html")
        with open(html_path, "w", encoding="utf-8") as f:
            f.write(self.report("html", "--by", "channel"))
        with open(html_path, encoding="utf-8") as f:
            self.assertNotRegex(f.read(), r"(src|href)=\"(https?:)?//|<script|@import|url\(")
        profile = tempfile.mkdtemp(prefix="dunningd-chromium-")
        self.addCleanup(shutil.rmtree, profile, True)
        png = os.path.join(self.ws.dir, "report.png")
        flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--user-data-dir=" + profile,
                 "--window-size=1200,2000"]
        started = time.monotonic()
        subprocess.run(flags + ["--screenshot=" + png, "file://" + html_path],
                       capture_output=True, timeout=120, check=True)
        dom = subprocess.run(flags + ["--dump-dom", "file://" + html_path], capture_output=True,
                             text=True, timeout=120, check=True).stdout
        print(f"\nchromium screenshot + dump-dom took {time.monotonic() - started:.1f}s")
        with open(png, "rb") as f:
            head = f.read(8)
        self.assertEqual(head, b"\x89PNG\r\n\x1a\n")
        self.assertGreater(os.path.getsize(png), 10000)

        parser = _Figures()
        parser.feed(dom)
        self.assertGreaterEqual(parser.svg_classes.count("chart weekly"), 3)  # one per currency
        self.assertEqual(parser.svg_classes.count("chart funnel"), 2)  # one per sequence
        self.assertGreater(parser.rects, 20)
        self.assertGreater(len(parser.figures), 100)
        for key, value, text in parser.figures:
            want = pointer(rep, key)
            if value is not None:
                self.assertEqual(json.loads(value), want, key)
            if isinstance(want, float):
                if re.search("rate|difference|ci95", key):
                    self.assertEqual(text, f"{want * 100:.2f}%", key)
                else:
                    self.assertEqual(text, f"{want:.2f}", key)
            elif want is None:
                self.assertEqual(text, "–", key)
            else:
                self.assertEqual(text, str(want), key)
        keys = {k for k, _, _ in parser.figures}
        for cur in ("EUR", "USD", "JPY"):
            self.assertIn(f"/totals/currencies/{cur}/recovered/amount", keys)
            self.assertIn(f"/ltv_preserved/currencies/{cur}/amount", keys)
            self.assertIn(f"/uplift/attributable/{cur}/attributable/amount", keys)
        self.assertIn("/uplift/ci95_low", keys)


    def test_html_report_fits_a_phone_and_every_header_cell_has_a_scope(self):
        rep = json.loads(self.report("json", "--by", "channel"))
        page = _Layout()
        page.feed(self.report("html", "--by", "channel"))
        self.assertIn("width=device-width, initial-scale=1", page.viewport or "")
        self.assertGreater(page.th, 50)
        self.assertEqual(page.th_without_scope, [], "every <th> needs scope (WCAG H63)")
        self.assertGreater(page.tables, 5)
        self.assertEqual(page.tables_outside_scroll, 0, "wide tables scroll inside their box")
        self.assertTrue(page.svgs)
        for attrs in page.svgs:
            self.assertEqual(attrs.get("width"), "100%", attrs)
            self.assertNotIn("height", attrs)
            self.assertRegex(attrs.get("viewbox", ""), r"^0 0 \d+ \d+$")  # names lowercased
        # The weekly axis has every week from the period's first to the week of as_of; weeks
        # without recoveries read 0 instead of closing up the axis.
        empty_weeks = 0
        for cur, weeks in rep["weekly_recovered"].items():
            shown = page.weeks[cur]
            first = dt.date.fromisoformat(rep["period"]["from"][:10])
            first -= dt.timedelta(days=first.weekday())
            last = dt.date.fromisoformat(rep["as_of"][:10])
            last -= dt.timedelta(days=last.weekday())
            expected = [(first + dt.timedelta(weeks=i)).isoformat()
                        for i in range((last - first).days // 7 + 1)]
            self.assertEqual([w for w, _ in shown], expected, cur)
            for week, minor in shown:
                self.assertEqual(minor, weeks[week]["amount_minor"] if week in weeks else 0)
                empty_weeks += week not in weeks
        self.assertGreater(empty_weeks, 0, "the data set has no week without recoveries")

    def test_outcomes_are_as_of_now_when_the_period_ends_in_the_future(self):
        later = (utc_now() + dt.timedelta(days=400)).strftime("%Y-%m-%dT00:00:00Z")
        rep = json.loads(self.ws.run("report", "--format", "json", "--from",
                                     ledger_data.iso(FROM), "--to", later).stdout)
        as_of = dt.datetime.fromisoformat(rep["as_of"].replace("Z", "+00:00"))
        self.assertLess(as_of, dt.datetime.fromisoformat(later.replace("Z", "+00:00")))
        self.assertLess(abs((as_of - utc_now()).total_seconds()), 120)


class _Layout(HTMLParser):
    """What a phone and a screen reader need of the report: the viewport, scoped header cells,
    tables inside scrolling boxes, scalable charts, and the weekly table's rows."""

    def __init__(self):
        super().__init__()
        self.viewport, self.th, self.th_without_scope, self.svgs = None, 0, [], []
        self.tables = self.tables_outside_scroll = 0
        self.weeks, self._stack, self._cur, self._row = {}, [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and a.get("name") == "viewport":
            self.viewport = a.get("content")
        if tag == "th":
            self.th += 1
            if a.get("scope") not in ("col", "row", "colgroup", "rowgroup"):
                self.th_without_scope.append(self.getpos())
        if tag == "svg":
            self.svgs.append({k: v for k, v in attrs})
        if tag == "table":
            self.tables += 1
            if not self._stack or self._stack[-1] != ("div", "scroll"):
                self.tables_outside_scroll += 1
        if tag == "tr" and self._cur:
            self._row = []
        if tag in ("div", "table", "tr", "td", "th", "h3"):
            self._stack.append((tag, a.get("class", "")))

    def handle_endtag(self, tag):
        if tag in ("div", "table", "tr", "td", "th", "h3") and self._stack:
            self._stack.pop()
        if tag == "tr" and self._row is not None:
            if len(self._row) == 3 and re.fullmatch(r"\d{4}-\d\d-\d\d", self._row[0]):
                self.weeks.setdefault(self._cur, []).append((self._row[0], int(self._row[2])))
            self._row = None
        if tag == "h2":
            self._cur = None

    def handle_data(self, data):
        top = self._stack[-1][0] if self._stack else None
        if top == "h3" and self._in_weekly:
            self._cur = data.strip()
        elif top == "td" and self._row is not None:
            self._row.append(data.strip())
        if data.strip() == "Recovered revenue per week":
            self._in_weekly = True
        elif data.strip().startswith("Funnel per sequence"):
            self._in_weekly, self._cur = False, None

    _in_weekly = False


class _Figures(HTMLParser):
    """Collects (data-key, data-value, text) of every figure, and the SVG charts."""

    def __init__(self):
        super().__init__()
        self.figures, self.svg_classes, self.rects = [], [], 0
        self._open = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.svg_classes.append(a.get("class", ""))
        if tag == "rect":
            self.rects += 1
        if "data-key" in a:
            self._open = [a["data-key"], a.get("data-value"), ""]

    def handle_data(self, data):
        if self._open is not None:
            self._open[2] += data

    def handle_endtag(self, tag):
        if self._open is not None and tag in ("td", "b"):
            self.figures.append(tuple(self._open))
            self._open = None


class Verify(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace(25)
        self.addCleanup(self.ws.cleanup)
        self.ws.run("migrate")
        with self.ws.db() as conn:
            self.data = ledger_data.generate(conn, 60, seed=3)

    def test_verify_passes_when_recovered_rows_equal_their_payments(self):
        proc = self.ws.run("ledger", "verify")
        self.assertIn("ledger verified", proc.stdout)
        self.assertRegex(proc.stdout, r"EUR: \d+ recovered rows, ledger [\d.]+, payments [\d.]+ — ok")

    def test_verify_fails_listing_the_difference_per_currency(self):
        rec = next(e for e in self.data["ledger"] if e[2] == "recovered" and e[8] == "EUR")
        # The billing system later says the payment was smaller, and another one vanished.
        self.ws.sql("UPDATE payments SET amount_minor = amount_minor - 7 WHERE id = ?", (rec[6],))
        other = next(e for e in self.data["ledger"]
                     if e[2].startswith("recovered") and e[8] == "JPY")
        self.ws.sql("DELETE FROM payments WHERE id = ?", (other[6],))
        proc = self.ws.run("ledger", "verify", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("EUR:", proc.stdout)
        self.assertRegex(proc.stdout, r"EUR: .* DIFFERENCE 0\.07")
        self.assertRegex(proc.stdout, rf"JPY: .* DIFFERENCE {other[7]}\b")
        self.assertRegex(proc.stdout, r"USD: .* — ok")
        self.assertIn(f"ledger row {rec[0]} (payment {rec[6]}): payment amount is", proc.stdout)
        self.assertIn(f"ledger row {other[0]} (payment {other[6]}): payment not found", proc.stdout)
        self.assertIn("does not match", proc.stderr)

    def test_ledger_rows_refuse_update_and_delete(self):
        with self.assertRaisesRegex(Exception, "append-only"):
            self.ws.sql("UPDATE ledger SET amount_minor = 0")
        with self.assertRaisesRegex(Exception, "append-only"):
            self.ws.sql("DELETE FROM ledger WHERE id = 1")


SEQUENCES = """
sequences:
  - id: hard-decline
    trigger: payment_failed
    match: {decline: hard}
    steps:
      - {at: 0h,  email: update-card}
      - {at: 3d,  email: update-card-reminder}
      - {at: 14d, action: cancel}
"""


class ClickAttribution(unittest.TestCase):
    def test_a_recovery_after_a_click_is_attributed_to_the_clicked_link(self):
        with SmtpServer() as smtp:
            ws = Workspace(smtp.port, SEQUENCES)
            self.addCleanup(ws.cleanup)
            ws.run("migrate")
            # The clicks table as the card-update link handler writes it (created here when the
            # schema does not have it yet).
            ws.sql("CREATE TABLE IF NOT EXISTS clicks(id INTEGER PRIMARY KEY, case_id INTEGER "
                   "NOT NULL, customer_id TEXT NOT NULL, at TEXT NOT NULL)")
            for n in (1, 2):
                ws.add_customer(f"cus_{n}", f"c{n}@example.com")
                ws.add_payment(f"py_f{n}", f"cus_{n}", f"in_{n}", 2000, "EUR", "failed",
                               "2026-11-02T10:00:00Z", decline_code="expired_card")
            ws.tick("2026-11-02T10:05:00Z")
            ws.tick("2026-11-05T10:05:00Z")
            self.assertEqual(len(smtp.messages), 4)
            ws.sql("INSERT INTO clicks(case_id, customer_id, at) VALUES (1, 'cus_1', ?)",
                   ("2026-11-05T12:00:00Z",))
            for n in (1, 2):
                ws.add_payment(f"py_s{n}", f"cus_{n}", f"in_{n}", 2000, "EUR", "succeeded",
                               "2026-11-05T13:00:00Z")
            ws.tick("2026-11-05T13:05:00Z")
            rows = {r["case_id"]: r for r in csv.DictReader(io.StringIO(
                ws.run("ledger", "export").stdout))}
            self.assertEqual((rows["1"]["attribution"], rows["1"]["clicked_at"], rows["1"]["step"]),
                             ("click", "2026-11-05T12:00:00Z", "2"))
            self.assertEqual((rows["2"]["attribution"], rows["2"]["clicked_at"], rows["2"]["step"]),
                             ("step", "", "2"))
            self.assertEqual(rows["1"]["days_to_recover"], "3")
            self.assertEqual(ws.run("ledger", "verify").returncode, 0)


if __name__ == "__main__":
    unittest.main()
