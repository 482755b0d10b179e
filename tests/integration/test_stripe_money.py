"""Stripe's real payloads and event order, and money that finance can reconcile to the cent.

StripeEvents drives `POST /v1/webhooks/stripe` of a running daemon over loopback HTTP with
events shaped as Stripe delivers them: `customer`, `payment_intent`, `charge` and `subscription`
as string ids (never expanded objects), the decline code only on payment_intent.payment_failed /
charge.failed, and both invoice shapes (API versions up to 2024-x, and 2025-03-31.basil with
`parent.subscription_details.subscription` and no payment intent on the invoice). Stripe's own
Python library (Debian's python3-stripe) is the oracle: every body the tests send is accepted by
`stripe.Webhook.construct_event` with the signature the tests computed, and becomes an object of
the class Stripe's library gives that event's `data.object` (Invoice, PaymentIntent, Charge) with
its ids as plain strings.

MixedCurrencyFinance writes payments straight into the polled table in EUR, USD, JPY (0
decimals), KWD and BHD (3 decimals) — recoveries, a refund after a recovery, an invoice paid in
another currency, partial payments, a write-off and the money that came after it — walks virtual
days with `run --once --now`, and compares the json and csv reports and `ledger verify` with totals
computed here with Python's decimal from the raw inputs, never from the code under test.
"""
import csv
import datetime as dt
import io
import json
import unittest
from decimal import Decimal

import stripe

from dunning_fixtures import (STRIPE_SECRETS, Daemon, SmtpServer, Workspace, db_dump, free_port,
                              http_config, iso, unix_now, utc_now, wait_for)

NEW_SECRET = STRIPE_SECRETS.split(",")[0]

SEQUENCES = """
sequences:
  - id: hard-decline
    trigger: payment_failed
    match: {decline: hard}
    steps:
      - {at: 2d, email: update-card}
      - {at: 30d, action: mark_lost}
  - id: soft-decline
    trigger: payment_failed
    steps:
      - {at: 3d, email: payment-failed}
      - {at: 30d, action: mark_lost}
"""

OLD_API = "2024-06-20"
BASIL = "2025-03-31.basil"


def envelope(eid, etype, obj, created, api=OLD_API, previous=None):
    data = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {"id": eid, "object": "event", "api_version": api, "created": created,
            "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": etype, "data": data}


def invoice(tag, customer, amount, currency, api=OLD_API, paid_at=None, attempt=1):
    """An invoice as the webhook sends it: ids, not objects."""
    inv = {"id": f"in_{tag}", "object": "invoice", "amount_due": amount,
           "amount_paid": amount if paid_at else 0, "amount_remaining": 0 if paid_at else amount,
           "attempt_count": attempt, "attempted": True, "billing_reason": "subscription_cycle",
           "collection_method": "charge_automatically", "currency": currency,
           "customer": customer, "livemode": False,
           "lines": {"object": "list", "data": [], "has_more": False},
           "status": "paid" if paid_at else "open",
           "status_transitions": {"finalized_at": unix_now() - 86400, "paid_at": paid_at}}
    if api == BASIL:
        inv["parent"] = {"type": "subscription_details", "quote_details": None,
                         "subscription_details": {"metadata": {}, "subscription": f"sub_{tag}"}}
    else:
        inv.update(subscription=f"sub_{tag}", payment_intent=f"pi_{tag}",
                   charge=f"ch_{tag}_{'paid' if paid_at else 'failed'}")
    return inv


def intent_failed(tag, customer, amount, currency, decline, api=OLD_API):
    pi = {"id": f"pi_{tag}", "object": "payment_intent", "amount": amount, "amount_received": 0,
          "currency": currency, "customer": customer, "latest_charge": f"ch_{tag}_failed",
          "last_payment_error": {"charge": f"ch_{tag}_failed", "code": "card_declined",
                                 "decline_code": decline,
                                 "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                                 "message": "Your card was declined.", "type": "card_error"},
          "payment_method_types": ["card"], "status": "requires_payment_method"}
    if api != BASIL:
        pi["invoice"] = f"in_{tag}"  # removed from the payment intent in 2025-03-31.basil
    return pi


class StripeEvents(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.smtp = SmtpServer().start()
        cls.port = free_port()
        cls.ws = Workspace(cls.smtp.port, SEQUENCES, http_config(cls.port))
        cls.daemon = Daemon(cls.ws, cls.port).start()

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.daemon.stop()
            assert rc == 0, f"dunningd exited {rc}:\n{cls.daemon.log()}"
        finally:
            cls.smtp.stop()
            cls.ws.cleanup()

    def send(self, event, expect=(200, 202)):
        body = json.dumps(event).encode()
        t = unix_now()
        header = f"t={t},v1={stripe.WebhookSignature._compute_signature(f'{t}.{body.decode()}', NEW_SECRET)}"
        # The oracle: Stripe's library accepts this body and signature, and reads the object as
        # the resource it is, with ids as strings (what a webhook really carries).
        # (tolerance=None: the test clock may be shifted; the daemon checks the age itself)
        parsed = stripe.Webhook.construct_event(body.decode(), header, NEW_SECRET,
                                                tolerance=None)
        obj = parsed.data.object
        kind = event["data"]["object"]["object"]
        cls = {"invoice": stripe.Invoice, "payment_intent": stripe.PaymentIntent,
               "charge": stripe.Charge}.get(kind)
        if cls is not None:
            self.assertIsInstance(obj, cls)
        for field in ("customer", "payment_intent", "charge", "subscription", "invoice",
                      "latest_charge"):
            if field in event["data"]["object"] and obj[field] is not None:
                self.assertIsInstance(obj[field], str, f"{kind}.{field} must be an id")
        status, _, out = self.daemon.request("POST", "/v1/webhooks/stripe", body,
                                             headers={"Stripe-Signature": header}, token=None)
        self.assertIn(status, expect, out)
        return status, json.loads(out)

    def case_of(self, invoice_id, timeout=15):
        return wait_for(lambda: self.ws.sql(
            "SELECT id, decline_code, sequence_id, subscription_id, state FROM cases "
            "WHERE invoice_id = ?", (invoice_id,)), timeout=timeout,
            what=f"a case for {invoice_id}")[0]

    def scheduler_read(self, payment_id):
        """Waits until the scheduler's cursor is past the payments row `payment_id`."""
        wait_for(lambda: self.ws.sql(
            "SELECT 1 FROM payments p, cursors c WHERE p.id = ? AND c.name = 'payments' "
            "AND c.value >= p.rowid", (payment_id,)), timeout=15,
            what=f"the scheduler to read {payment_id}")

    def test_intent_failure_before_invoice_failure_opens_the_hard_decline_case(self):
        now = unix_now() - 600
        self.send(envelope("evt_a1", "payment_intent.payment_failed",
                           intent_failed("a", "cus_a", 2900, "eur", "expired_card"), now))
        self.assertEqual(self.ws.sql("SELECT COUNT(*) FROM payments WHERE invoice_id='in_a'"),
                         [(0,)], "a payment intent alone opens nothing")
        self.send(envelope("evt_a2", "invoice.payment_failed",
                           invoice("a", "cus_a", 2900, "eur"), now + 2))
        self.assertEqual(self.ws.sql("SELECT id, decline_code, subscription_id, amount_minor, "
                                     "currency FROM payments WHERE invoice_id='in_a'"),
                         [("ch_a_failed", "expired_card", "sub_a", 2900, "EUR")])
        case_id, decline, seq, sub, _ = self.case_of("in_a")
        self.assertEqual((decline, seq, sub), ("expired_card", "hard-decline", "sub_a"))

    def test_charge_failure_carries_the_decline_when_it_comes_first(self):
        now = unix_now() - 600
        charge = {"id": "ch_b_failed", "object": "charge", "amount": 4500, "amount_refunded": 0,
                  "captured": False, "created": now, "currency": "jpy", "customer": "cus_b",
                  "failure_code": "card_declined", "failure_message": "Your card was declined.",
                  "invoice": "in_b", "paid": False,
                  "outcome": {"network_status": "declined_by_network",
                              "reason": "insufficient_funds", "type": "issuer_declined"},
                  "payment_intent": "pi_b", "refunded": False, "status": "failed"}
        self.send(envelope("evt_b1", "charge.failed", charge, now))
        self.send(envelope("evt_b2", "invoice.payment_failed", invoice("b", "cus_b", 4500, "jpy"),
                           now + 1))
        _, decline, seq, _, _ = self.case_of("in_b")
        self.assertEqual((decline, seq), ("insufficient_funds", "soft-decline"))
        self.assertEqual(self.ws.sql("SELECT amount_minor, currency FROM cases "
                                     "WHERE invoice_id='in_b'"), [(4500, "JPY")])

    def test_basil_invoice_failure_then_its_intent_failure_after_the_case_opened(self):
        now = unix_now() - 600
        self.send(envelope("evt_c1", "invoice.payment_failed",
                           invoice("c", "cus_c", 12340, "kwd", api=BASIL), now, api=BASIL))
        case_id, decline, _, sub, _ = self.case_of("in_c")
        self.assertEqual(sub, "sub_c", "the subscription of parent.subscription_details")
        self.assertIn(decline, (None, ""))
        self.scheduler_read("in_c:failed:1")
        # Seconds later Stripe's payment intent failure arrives, naming no invoice (basil).
        self.send(envelope("evt_c2", "payment_intent.payment_failed",
                           intent_failed("c", "cus_c", 12340, "kwd", "stolen_card", api=BASIL),
                           now + 3, api=BASIL))
        self.assertEqual(self.ws.sql("SELECT decline_code FROM cases WHERE id=?", (case_id,)),
                         [("stolen_card",)])
        events = self.ws.sql("SELECT detail FROM case_events WHERE case_id=? AND "
                             "kind='decline_code'", (case_id,))
        self.assertEqual(len(events), 1)
        self.assertIn("stolen_card", events[0][0])
        self.assertEqual(self.ws.sql("SELECT amount_minor, currency FROM payments "
                                     "WHERE invoice_id='in_c'"), [(12340, "KWD")])
        # A hard decline selects the hard-decline sequence; nothing of the soft one was queued.
        wait_for(lambda: self.ws.sql("SELECT sequence_id FROM cases WHERE id=?", (case_id,)) ==
                 [("hard-decline",)], timeout=15, what="the hard-decline sequence")
        self.assertEqual(len(self.ws.sql("SELECT 1 FROM case_events WHERE case_id=? AND "
                                         "kind='sequence_selected'", (case_id,))), 1)

    def test_basil_intent_failure_first_is_matched_by_customer_and_amount(self):
        now = unix_now() - 600
        self.send(envelope("evt_d1", "payment_intent.payment_failed",
                           intent_failed("d", "cus_d", 7500, "bhd", "lost_card", api=BASIL),
                           now, api=BASIL))
        self.send(envelope("evt_d2", "invoice.payment_failed",
                           invoice("d", "cus_d", 7500, "bhd", api=BASIL), now + 2, api=BASIL))
        _, decline, seq, sub, _ = self.case_of("in_d")
        self.assertEqual((decline, seq, sub), ("lost_card", "hard-decline", "sub_d"))

    def test_a_success_before_the_failure_opens_no_case(self):
        now = unix_now()
        paid = invoice("e", "cus_e", 1999, "eur", paid_at=now - 3600, attempt=2)
        self.send(envelope("evt_e1", "invoice.paid", paid, now - 3600))
        failed = invoice("e", "cus_e", 1999, "eur", attempt=1)
        self.send(envelope("evt_e2", "invoice.payment_failed", failed, now - 7200))
        self.send(envelope("evt_e3", "payment_intent.payment_failed",
                           intent_failed("e", "cus_e", 1999, "eur", "insufficient_funds"),
                           now - 7199))
        self.scheduler_read("ch_e_failed")
        self.assertEqual(self.ws.sql("SELECT COUNT(*) FROM cases WHERE invoice_id='in_e'"), [(0,)])

    def test_refund_after_a_stripe_recovery_is_a_correction_and_verifies(self):
        now = unix_now() - 3600
        self.send(envelope("evt_f1", "invoice.payment_failed", invoice("f", "cus_f", 2900, "eur"),
                           now))
        self.send(envelope("evt_f2", "payment_intent.payment_failed",
                           intent_failed("f", "cus_f", 2900, "eur", "insufficient_funds"), now + 1))
        case_id = self.case_of("in_f")[0]
        self.send(envelope("evt_f3", "invoice.paid",
                           invoice("f", "cus_f", 2900, "eur", paid_at=now + 600, attempt=2),
                           now + 600))
        wait_for(lambda: self.ws.sql("SELECT 1 FROM ledger WHERE case_id=? AND kind LIKE "
                                     "'recovered%'", (case_id,)), timeout=15, what="recovery")
        charge = {"id": "ch_f_paid", "object": "charge", "amount": 2900, "amount_captured": 2900,
                  "amount_refunded": 1000, "captured": True, "created": now + 600,
                  "currency": "eur", "customer": "cus_f", "invoice": "in_f", "paid": True,
                  "payment_intent": "pi_f", "refunded": False, "status": "succeeded"}
        self.send(envelope("evt_f4", "charge.refunded", charge, now + 1200,
                           previous={"amount_refunded": 0}))
        rows = wait_for(lambda: self.ws.sql(
            "SELECT amount_minor, currency, payment_id FROM ledger WHERE case_id=? AND "
            "kind='correction'", (case_id,)), timeout=15, what="the refund's correction row")
        self.assertEqual(rows, [(-1000, "EUR", "ch_f_paid:refunded:1000")])
        # The same event again changes nothing; the rest of the refund is its own row.
        self.send(envelope("evt_f4", "charge.refunded", charge, now + 1200,
                           previous={"amount_refunded": 0}))
        charge = dict(charge, amount_refunded=2900, refunded=True)
        self.send(envelope("evt_f5", "charge.refunded", charge, now + 1800,
                           previous={"amount_refunded": 1000, "refunded": False}))
        wait_for(lambda: len(self.ws.sql("SELECT 1 FROM ledger WHERE case_id=? AND "
                                         "kind='correction'", (case_id,))) == 2, timeout=15,
                 what="the second refund")
        self.assertEqual(self.ws.sql("SELECT SUM(amount_minor) FROM payments WHERE "
                                     "invoice_id='in_f' AND status='refunded'"), [(2900,)])
        proc = self.ws.run("ledger", "verify")
        self.assertRegex(proc.stdout, r"EUR: \d+ refund rows, ledger [\d.]+, refunded payments "
                                      r"[\d.]+ — ok")

    def test_a_bad_currency_or_amount_is_refused_naming_the_field_and_the_next_event_lands(self):
        now = unix_now() - 600
        before = db_dump(self.ws.db_path)
        for inv, field in ((invoice("g1", "cus_g", 100, "zzz"), "data.object.currency"),
                           (invoice("g2", "cus_g", 12345, "isk"), "data.object.amount_due"),
                           (invoice("g3", "cus_g", 100, "EURO"), "data.object.currency")):
            status, out = self.send(envelope("evt_" + inv["id"], "invoice.payment_failed", inv,
                                             now), expect=(422,))
            self.assertEqual(out["field"], field, out)
            self.assertIn(field, out["error"])
        self.assertEqual(before, db_dump(self.ws.db_path), "a refused event wrote something")
        # Stripe's ISK has two decimals for backwards compatibility: 990000 is ISK 9,900.
        self.send(envelope("evt_g4", "invoice.payment_failed", invoice("g4", "cus_g", 990000, "isk"),
                           now))
        self.assertEqual(self.ws.sql("SELECT amount_minor, currency FROM payments "
                                     "WHERE invoice_id='in_g4'"), [(9900, "ISK")])

    def test_the_api_door_refuses_a_currency_outside_iso_4217_and_normalises_lower_case(self):
        def post(currency, eid):
            return self.daemon.request("POST", "/v1/events", {
                "id": eid, "type": "payment.failed", "occurred_at": iso(utc_now()),
                "data": {"id": "pay-" + eid, "customer_id": "cus_h", "invoice_id": "in-" + eid,
                         "amount_minor": 1000, "currency": currency}})
        status, _, out = post("ZZZ", "h1")
        self.assertEqual(status, 422, out)
        self.assertEqual(json.loads(out)["field"], "data.currency")
        status, _, out = post("kwd", "h2")
        self.assertEqual(status, 202, out)
        self.assertEqual(self.ws.sql("SELECT currency FROM payments WHERE id='pay-h2'"),
                         [("KWD",)])


class CurrencyAtTheOtherDoors(unittest.TestCase):
    """The CSV import and the polled table refuse what is not ISO 4217; the rest goes on."""

    def setUp(self):
        self.ws = Workspace(25)
        self.addCleanup(self.ws.cleanup)
        self.ws.run("migrate")

    def test_import_rejects_the_row_naming_the_column_and_imports_the_others(self):
        when = iso(utc_now() - dt.timedelta(hours=1))
        path = f"{self.ws.dir}/payments.csv"
        with open(path, "w", encoding="utf-8") as f:
            f.write("id,customer_id,invoice_id,amount_minor,currency,status,occurred_at\n"
                    f"p1,c1,i1,1999,EUR,failed,{when}\n"
                    f"p2,c1,i2,1999,ZZZ,failed,{when}\n"
                    f"p3,c1,i3,12345,kwd,failed,{when}\n")
        proc = self.ws.run("import", "--config", self.ws.config, "--payments", path, check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn('payments.csv:3: rejected: currency "ZZZ" is not an ISO 4217 currency code',
                      proc.stderr)
        self.assertEqual(self.ws.sql("SELECT id, currency FROM payments ORDER BY id"),
                         [("p1", "EUR"), ("p3", "KWD")])

    def test_the_polled_table_skips_a_row_outside_iso_4217_and_reads_the_next(self):
        when = utc_now() - dt.timedelta(hours=1)
        self.ws.add_customer("c1", "c1@example.com")
        self.ws.add_payment("py_zzz", "c1", "in_zzz", 100, "ZZZ", "failed", iso(when))
        self.ws.add_payment("py_jpy", "c1", "in_jpy", 100, "JPY", "failed", iso(when))
        self.ws.tick(iso(when + dt.timedelta(minutes=1)))
        rejected = self.ws.sql("SELECT row_id, reason FROM rejected_rows")
        self.assertEqual([r[0] for r in rejected], ["py_zzz"])
        self.assertIn("ISO 4217", rejected[0][1])
        self.assertEqual(self.ws.sql("SELECT invoice_id, currency FROM cases"), [("in_jpy", "JPY")])


def money(minor, exp):
    return Decimal(minor).scaleb(-exp)


class MixedCurrencyFinance(unittest.TestCase):
    """Every figure below is computed from the inputs of this test, in Decimal."""
    EXP = {"EUR": 2, "USD": 2, "JPY": 0, "KWD": 3, "BHD": 3}

    @classmethod
    def setUpClass(cls):
        cls.smtp = SmtpServer().start()
        cls.ws = Workspace(cls.smtp.port, """
sequences:
  - id: soft
    trigger: payment_failed
    steps:
      - {at: 1h, email: payment-failed}
      - {at: 10d, action: mark_lost}
""")
        cls.ws.run("migrate")
        base = (utc_now() - dt.timedelta(days=20)).replace(microsecond=0)
        cls.base = base
        at = lambda **d: iso(base + dt.timedelta(**d))  # noqa: E731
        for c in "ABCDEF":
            cls.ws.add_customer("cus_" + c, f"{c.lower()}@example.com", "Customer " + c)
        # (id, customer, invoice, minor, currency, status, occurred_at)
        cls.inputs = []

        def pay(pid, c, minor, cur, status, when, decline=None):
            cls.inputs.append((pid, "cus_" + c, "in_" + c, minor, cur, status))
            cls.ws.add_payment(pid, "cus_" + c, "in_" + c, minor, cur, status, when, decline)

        pay("A-f", "A", 1999, "EUR", "failed", at(), "insufficient_funds")
        pay("B-f", "B", 4900, "USD", "failed", at(), "insufficient_funds")
        pay("C-f", "C", 4500, "JPY", "failed", at(), "insufficient_funds")
        pay("D-f", "D", 12345, "KWD", "failed", at(), "insufficient_funds")
        pay("E-f", "E", 7500, "BHD", "failed", at(), "insufficient_funds")
        cls.ws.tick(at(minutes=1))
        pay("D-p", "D", 12345, "KWD", "succeeded", at(minutes=30))  # before any message
        cls.ws.tick(at(minutes=40))
        cls.ws.tick(at(hours=2))  # the first emails go out
        pay("B-p", "B", 4500, "EUR", "succeeded", at(days=1))  # USD invoice paid in EUR
        pay("C-p1", "C", 1500, "JPY", "succeeded", at(days=1))  # partial
        pay("E-p1", "E", 2500, "BHD", "succeeded", at(days=1))  # partial
        cls.ws.tick(at(days=1, minutes=1))
        pay("A-p", "A", 1999, "EUR", "succeeded", at(days=2))
        pay("E-p2", "E", 5000, "BHD", "succeeded", at(days=2))  # the rest
        cls.ws.tick(at(days=2, minutes=1))
        pay("A-r", "A", 500, "EUR", "refunded", at(days=3))  # refund after the recovery
        cls.ws.tick(at(days=3, minutes=1))
        cls.ws.tick(at(days=10, hours=1))  # C is written off: 3000 JPY outstanding
        pay("C-p2", "C", 3000, "JPY", "succeeded", at(days=12))  # late money
        cls.ws.tick(at(days=12, minutes=1))
        pay("F-f", "F", 1000, "EUR", "failed", at(days=14), "insufficient_funds")
        cls.ws.tick(at(days=14, minutes=1))
        cls.period = ("--from", iso(base - dt.timedelta(days=1)),
                      "--to", iso(base + dt.timedelta(days=16)))

    @classmethod
    def tearDownClass(cls):
        cls.smtp.stop()
        cls.ws.cleanup()

    def expected(self):
        """Per currency, from the inputs: which payment did what is stated here, by hand."""
        inp = {p[0]: p for p in self.inputs}
        d = lambda pid: money(inp[pid][3], self.EXP[inp[pid][4]])  # noqa: E731
        z = {c: Decimal(0).scaleb(-e) for c, e in self.EXP.items()}
        exp = {c: {"cases": 0, "amount": z[c], "recovered": z[c], "recovered_n": 0,
                   "without_contact": z[c], "without_contact_n": 0, "partial": z[c],
                   "partial_n": 0, "late": z[c], "late_n": 0, "refunded": z[c], "refunded_n": 0,
                   "lost": z[c], "lost_n": 0, "open": z[c], "open_n": 0, "rate_x": 0}
               for c in self.EXP}
        for pid in ("A-f", "B-f", "C-f", "D-f", "E-f", "F-f"):  # cases by invoice currency
            cur = inp[pid][4]
            exp[cur]["cases"] += 1
            exp[cur]["amount"] += d(pid)
        # recovered: A (net of its refund), B in EUR (the money's currency), E's remainder
        exp["EUR"]["recovered"] += d("A-p") - d("A-r") + d("B-p")
        exp["EUR"]["recovered_n"] += 2
        exp["BHD"]["recovered"] += d("E-p2")
        exp["BHD"]["recovered_n"] += 1
        exp["KWD"]["without_contact"] += d("D-p")
        exp["KWD"]["without_contact_n"] += 1
        exp["EUR"]["refunded"] += d("A-r")
        exp["EUR"]["refunded_n"] += 1
        exp["JPY"]["partial"] += d("C-p1")
        exp["BHD"]["partial"] += d("E-p1")
        exp["JPY"]["partial_n"] += 1
        exp["BHD"]["partial_n"] += 1
        exp["JPY"]["lost"] += d("C-f") - d("C-p1")
        exp["JPY"]["lost_n"] += 1
        exp["JPY"]["late"] += d("C-p2")
        exp["JPY"]["late_n"] += 1
        exp["EUR"]["open"] += d("F-f")
        exp["EUR"]["open_n"] += 1
        # recovered cases by invoice currency: A (EUR), B (USD), D (KWD), E (BHD)
        for cur in ("EUR", "USD", "KWD", "BHD"):
            exp[cur]["rate_x"] += 1
        for cur, e in exp.items():
            e["net"] = e["recovered"] + e["without_contact"] + e["partial"] + e["late"]
            e["rate"] = e["rate_x"] / e["cases"]
        return exp

    def test_json_report_per_currency_equals_the_decimal_computation(self):
        rep = json.loads(self.ws.run("report", "--format", "json", *self.period).stdout)
        got = rep["totals"]["currencies"]
        self.assertEqual(sorted(got), sorted(self.EXP))
        for cur, e in self.expected().items():
            g = got[cur]
            with self.subTest(currency=cur):
                self.assertEqual(g["cases"], e["cases"])
                self.assertEqual(Decimal(g["amount"]["amount"]), e["amount"])
                self.assertEqual(g["amount"]["amount"], str(e["amount"]))  # ISO 4217 decimals
                for key, name in (("recovered", "recovered"),
                                  ("recovered_without_contact", "without_contact"),
                                  ("partial", "partial"), ("late", "late"),
                                  ("refunded", "refunded"), ("lost", "lost"), ("open", "open")):
                    self.assertEqual((g[key]["amount"], g[key]["count"]),
                                     (str(e[name]), e[name + "_n"]), key)
                self.assertEqual(g["net_recovered"]["amount"], str(e["net"]))
                self.assertAlmostEqual(g["recovery_rate"], e["rate"], delta=1e-12)
        self.assertEqual(rep["totals"]["cases"], 6)

    def test_csv_report_carries_the_same_figures(self):
        rows = list(csv.DictReader(io.StringIO(
            self.ws.run("report", "--format", "csv", *self.period).stdout)))
        idx = {(r["section"], r["group"], r["currency"], r["metric"]): r["value"] for r in rows}
        for cur, e in self.expected().items():
            with self.subTest(currency=cur):
                for metric, value in (("net_recovered.amount", e["net"]),
                                      ("recovered.amount", e["recovered"]),
                                      ("partial.amount", e["partial"]),
                                      ("late.amount", e["late"]),
                                      ("refunded.amount", e["refunded"]),
                                      ("lost.amount", e["lost"]),
                                      ("amount.amount", e["amount"])):
                    self.assertEqual(idx[("totals", "all", cur, metric)], str(value), metric)
                minor = int(e["net"].scaleb(self.EXP[cur]))
                self.assertEqual(idx[("totals", "all", cur, "net_recovered.amount_minor")],
                                 str(minor))

    def test_grouped_by_currency_no_group_adds_two_currencies(self):
        rep = json.loads(self.ws.run("report", "--format", "json", "--by", "currency",
                                     *self.period).stdout)
        # The USD case's group holds its EUR money under EUR, never under USD.
        usd = rep["groups"]["USD"]["currencies"]
        self.assertEqual(usd["USD"]["recovered"]["amount"], "0.00")
        self.assertEqual(usd["EUR"]["recovered"]["amount"], "45.00")

    def test_ledger_verify_checks_recovered_partial_late_and_refund_rows(self):
        proc = self.ws.run("ledger", "verify")
        out = proc.stdout
        self.assertRegex(out, r"EUR: 2 recovered rows, ledger 64\.99, payments 64\.99 — ok")
        self.assertRegex(out, r"JPY: 1 partial rows, ledger 1500, payments 1500 — ok")
        self.assertRegex(out, r"JPY: 1 late rows, ledger 3000, payments 3000 — ok")
        self.assertRegex(out, r"BHD: 1 partial rows, ledger 2\.500, payments 2\.500 — ok")
        self.assertRegex(out, r"EUR: 1 refund rows, ledger 5\.00, refunded payments 5\.00 — ok")
        self.assertIn("ledger verified", out)

    def test_ledger_verify_fails_on_a_refund_that_does_not_match(self):
        ws = self.ws
        backup = ws.sql("SELECT amount_minor FROM payments WHERE id='A-r'")[0][0]
        ws.sql("UPDATE payments SET amount_minor = 400 WHERE id='A-r'")
        try:
            proc = ws.run("ledger", "verify", check=False)
        finally:
            ws.sql("UPDATE payments SET amount_minor = ? WHERE id='A-r'", (backup,))
        self.assertEqual(proc.returncode, 1, proc.stdout)
        self.assertRegex(proc.stdout, r"EUR: 1 refund rows, ledger 5\.00, refunded payments "
                                      r"4\.00 — DIFFERENCE 1\.00")
        self.assertIn("(payment A-r): refunded payment amount is 400, ledger takes off 500",
                      proc.stdout)


if __name__ == "__main__":
    unittest.main()
