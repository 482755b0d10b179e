"""The HTTP doors of `dunningd run` over real loopback HTTP: the ingest API, Stripe webhooks,
the read API, health, metrics and the click redirect. Every bad request leaves the database
exactly as it was (compared with a full dump before and after)."""
import datetime
import json
import os
import re
import time
import unittest

from dunning_fixtures import (API_TOKEN, LINK_SECRET, SOURCE_DIR, STRIPE_SECRETS, Daemon,
                              LiveDaemonCase, Workspace, db_dump, free_port, http_config, iso,
                              iso_ago, stripe_signature, unix_now, utc_now, wait_for)

SEQUENCES = """
sequences:
  - id: any-failure
    trigger: payment_failed
    steps:
      - {at: 3d, email: payment-failed}
      - {at: 21d, action: cancel}
"""

FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures", "stripe")
NEW_SECRET, OLD_SECRET = STRIPE_SECRETS.split(",")


# The Stripe fixtures were captured around this time; the daemon runs at the real time, so their
# `created` stamps are moved to two hours ago (same order, same gaps) before they are sent.
FIXTURE_EPOCH = 1795000000


def fixture(name):
    with open(os.path.join(FIXTURES, name + ".json"), "rb") as f:
        raw = f.read()
    shift = unix_now() - 2 * 3600 - FIXTURE_EPOCH
    return re.sub(rb'"created": (\d+)',
                  lambda m: b'"created": %d' % (int(m.group(1)) + shift), raw)


# Events happened two hours before the daemon's now: the sequence's first step (3d) is ahead.
OCCURRED_AT = iso_ago(hours=2)


def event(eid, etype, **data):
    return {"id": eid, "type": etype, "occurred_at": OCCURRED_AT, "data": data}


class HttpDoors(LiveDaemonCase):
    sequences = SEQUENCES

    def post(self, body, token=API_TOKEN, path="/v1/events", headers=None):
        return self.daemon.request("POST", path, body, headers=headers, token=token)

    def get_json(self, path):
        status, _, body = self.daemon.request("GET", path)
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def assert_refused(self, status_expected, body, field=None, **kw):
        before = db_dump(self.ws.db_path)
        status, _, out = self.post(body, **kw)
        self.assertEqual(status, status_expected, out)
        if field is not None:
            self.assertEqual(json.loads(out).get("field"), field, out)
        self.assertEqual(before, db_dump(self.ws.db_path), "a refused request changed the db")
        return out

    # ---- POST /v1/events

    def test_each_event_type_lands_in_its_table(self):
        s, _, b = self.post(event("e-cust", "customer.upserted", id="c-1", email="a@example.com",
                                  name="Ana", locale="hr", time_zone="Europe/Zagreb"))
        self.assertEqual(s, 202, b)
        s, _, b = self.post(event("e-card", "payment_method.updated", id="pm-1",
                                  customer_id="c-1", brand="visa", last4="4242",
                                  exp_month=4, exp_year=2030, is_default=True))
        self.assertEqual(s, 202, b)
        s, _, b = self.post(event("e-fail", "payment.failed", id="p-1", customer_id="c-1",
                                  invoice_id="in-1", subscription_id="sub-1",
                                  amount_minor=1999, currency="EUR",
                                  decline_code="insufficient_funds"))
        self.assertEqual(s, 202, b)
        s, _, b = self.post(event("e-ok", "payment.succeeded", id="p-2", customer_id="c-1",
                                  invoice_id="in-1", amount_minor=1999, currency="EUR"))
        self.assertEqual(s, 202, b)
        s, _, b = self.post(event("e-sub", "subscription.cancelled", id="sub-1",
                                  customer_id="c-1", plan="pro"))
        self.assertEqual(s, 202, b)
        self.assertEqual(self.ws.sql("SELECT email, locale FROM customers WHERE id='c-1'"),
                         [("a@example.com", "hr")])
        self.assertEqual(self.ws.sql("SELECT last4, is_default, updated_at IS NOT NULL FROM "
                                     "payment_methods WHERE id='pm-1'"), [("4242", 1, 1)])
        self.assertEqual(self.ws.sql("SELECT id, status, decline_code FROM payments WHERE "
                                     "customer_id='c-1' ORDER BY id"),
                         [("p-1", "failed", "insufficient_funds"), ("p-2", "succeeded", None)])
        self.assertEqual(self.ws.sql("SELECT status, updated_at FROM subscriptions WHERE "
                                     "id='sub-1'"), [("cancelled", OCCURRED_AT)])
        self.assertEqual(self.ws.sql("SELECT COUNT(*) FROM events WHERE id IN ('e-cust', "
                                     "'e-card', 'e-fail', 'e-ok', 'e-sub')"), [(5,)])

    def test_a_new_default_card_clears_the_old_default(self):
        for pm in ("pm-a", "pm-b"):
            s, _, b = self.post(event("e-" + pm, "payment_method.updated", id=pm,
                                      customer_id="c-def", last4="1111", is_default=True))
            self.assertEqual(s, 202, b)
        self.assertEqual(self.ws.sql("SELECT id, is_default FROM payment_methods WHERE "
                                     "customer_id='c-def' ORDER BY id"),
                         [("pm-a", 0), ("pm-b", 1)])

    def test_a_replayed_event_is_acknowledged_and_changes_nothing(self):
        ev = event("e-replay", "payment.failed", id="p-replay", customer_id="c-r",
                   invoice_id="in-r", amount_minor=500, currency="EUR")
        s, _, _ = self.post(ev)
        self.assertEqual(s, 202)
        before = db_dump(self.ws.db_path)
        s, _, b = self.post(ev)
        self.assertEqual(s, 200)
        self.assertEqual(json.loads(b)["status"], "duplicate")
        self.assertEqual(before, db_dump(self.ws.db_path))

    def test_bad_requests_are_refused_with_the_field_and_leave_the_db_unchanged(self):
        good = event("e-bad", "payment.failed", id="p-bad", customer_id="c-b", invoice_id="in-b",
                     amount_minor=100, currency="EUR")
        self.assert_refused(422, "{not json", field="(body)")
        self.assert_refused(422, "[1,2]", field="(body)")
        self.assert_refused(422, dict(good, type="payment.exploded"), field="type")
        wrong_type = json.loads(json.dumps(good))
        wrong_type["data"]["amount_minor"] = "100"
        self.assert_refused(422, wrong_type, field="data.amount_minor")
        no_currency = json.loads(json.dumps(good))
        del no_currency["data"]["currency"]
        self.assert_refused(422, no_currency, field="data.currency")
        pan = json.loads(json.dumps(good))
        pan["data"]["message"] = "card 4111 1111 1111 1111 declined"
        self.assert_refused(422, pan, field="data.message")
        self.assert_refused(401, good, token=None)
        self.assert_refused(401, good, token="wrong-token")
        self.assert_refused(413, json.dumps(dict(good, pad="x" * (70 * 1024))))

    def test_concurrent_events_are_all_committed_and_answered(self):
        import concurrent.futures
        def send(i):
            return self.post(event(f"e-conc-{i}", "payment.failed", id=f"p-conc-{i}",
                                   customer_id="c-conc", invoice_id=f"in-conc-{i}",
                                   amount_minor=100 + i, currency="EUR"))[0]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(send, range(64)))
        self.assertEqual(statuses, [202] * 64)
        self.assertEqual(self.ws.sql("SELECT COUNT(*) FROM payments WHERE customer_id='c-conc'"),
                         [(64,)])

    # ---- Stripe

    def stripe(self, body, header):
        return self.post(body, token=None, path="/v1/webhooks/stripe",
                         headers={"Stripe-Signature": header} if header else {})

    def test_stripe_signatures_valid_rotated_tampered_old_missing(self):
        body = fixture("customer.updated").replace(b"evt_1TestCustomerUpdated00001",
                                                   b"evt_1TestCustomerUpdatedRot01")
        before = db_dump(self.ws.db_path)
        for header, why in [
                (None, "missing"),
                (stripe_signature(body, "whsec_unknown"), "unknown secret"),
                (stripe_signature(body, NEW_SECRET, unix_now() - 400), "too old"),
                (stripe_signature(body + b" ", NEW_SECRET), "signed another body")]:
            status, _, out = self.stripe(body, header)
            self.assertEqual(status, 400, f"{why}: {out}")
        tampered = body.replace(b"Jane Example", b"Evil Example")
        status, _, _ = self.stripe(tampered, stripe_signature(body, NEW_SECRET))
        self.assertEqual(status, 400)
        self.assertEqual(before, db_dump(self.ws.db_path))
        # Signed with the previous secret during a rotation: accepted.
        status, _, out = self.stripe(body, stripe_signature(body, OLD_SECRET))
        self.assertEqual(status, 202, out)
        # Stripe re-delivers: the same event id is acknowledged and changes nothing.
        after = db_dump(self.ws.db_path)
        status, _, out = self.stripe(body, stripe_signature(body, NEW_SECRET))
        self.assertEqual((status, json.loads(out)["status"]), (200, "duplicate"))
        self.assertEqual(after, db_dump(self.ws.db_path))

    def test_stripe_card_and_subscription_events_update_the_tables(self):
        for name in ("payment_method.attached", "customer.updated",
                     "payment_method.automatically_updated", "customer.subscription.deleted"):
            body = fixture(name)
            status, _, out = self.stripe(body, stripe_signature(body, NEW_SECRET))
            self.assertIn(status, (200, 202), f"{name}: {out}")
        self.assertEqual(self.ws.sql("SELECT brand, last4, exp_month, exp_year, is_default FROM "
                                     "payment_methods WHERE id='pm_1TestNewCard0000000001'"),
                         [("mastercard", "4444", 12, 2031, 1)])
        self.assertEqual(self.ws.sql("SELECT status, plan, amount_minor, currency FROM "
                                     "subscriptions WHERE id='sub_1TestSubscription001'"),
                         [("cancelled", "pro", 2900, "EUR")])
        self.assertEqual(self.ws.sql("SELECT locale FROM customers WHERE "
                                     "id='cus_TestCustomer0001'"), [("hr",)])

    def test_unknown_stripe_types_are_acknowledged_and_ignored(self):
        body = json.dumps({"id": "evt_1TestPayoutPaid000000001", "object": "event",
                           "api_version": "2024-06-20", "created": unix_now(),
                           "type": "payout.paid",
                           "data": {"object": {"id": "po_1Test", "object": "payout",
                                               "amount": 2900, "currency": "eur"}}}).encode()
        before = db_dump(self.ws.db_path)
        status, _, out = self.stripe(body, stripe_signature(body, NEW_SECRET))
        self.assertEqual(status, 200, out)
        self.assertEqual(json.loads(out)["status"], "ignored")
        self.assertEqual(before, db_dump(self.ws.db_path))

    def test_stripe_failed_then_paid_ends_as_a_recovered_ledger_row(self):
        # The decline code comes with the payment intent's failure, not with the invoice's.
        intent = fixture("payment_intent.payment_failed")
        status, _, out = self.stripe(intent, stripe_signature(intent, NEW_SECRET))
        self.assertEqual(status, 202, out)
        failed = fixture("invoice.payment_failed")
        status, _, out = self.stripe(failed, stripe_signature(failed, NEW_SECRET))
        self.assertEqual(status, 202, out)
        self.assertEqual(self.ws.sql("SELECT decline_code, amount_minor, currency FROM payments "
                                     "WHERE id='ch_1TestChargeFailed00001'"),
                         [("insufficient_funds", 2900, "EUR")])
        case_id = wait_for(lambda: self.ws.sql(
            "SELECT id FROM cases WHERE invoice_id='in_1TestInvoice0000000001'"), timeout=15,
            what="the scheduler to open a case")[0][0]
        paid = fixture("invoice.paid")
        status, _, out = self.stripe(paid, stripe_signature(paid, NEW_SECRET))
        self.assertEqual(status, 202, out)
        rows = wait_for(lambda: self.ws.sql(
            "SELECT kind, amount_minor, currency FROM ledger WHERE case_id=?", (case_id,)),
            timeout=15, what="the recovered ledger row")
        self.assertIn(rows[0][0], ("recovered", "recovered_without_contact"))
        self.assertEqual(rows[0][1:], (2900, "EUR"))
        ledger = self.get_json("/v1/ledger?from=2020-01-01T00:00:00Z")["ledger"]
        self.assertIn(case_id, [r["case_id"] for r in ledger])

    # ---- read API, health, metrics, click redirect

    def open_case(self, tag):
        s, _, b = self.post(event("e-case-" + tag, "payment.failed", id="p-case-" + tag,
                                  customer_id="c-case-" + tag, invoice_id="in-case-" + tag,
                                  amount_minor=4200, currency="EUR",
                                  decline_code="insufficient_funds"))
        self.assertEqual(s, 202, b)
        return wait_for(lambda: self.ws.sql("SELECT id FROM cases WHERE invoice_id=?",
                                            ("in-case-" + tag,)), timeout=15,
                        what="the case to open")[0][0]

    def test_read_api_lists_shows_pauses_resumes_and_closes_cases(self):
        cid = self.open_case("read")
        cases = self.get_json("/v1/cases?customer=c-case-read")["cases"]
        self.assertEqual([c["id"] for c in cases], [cid])
        detail = self.get_json(f"/v1/cases/{cid}")
        self.assertEqual(detail["state"], "open")
        self.assertTrue(any(e["kind"] == "opened" for e in detail["timeline"]), detail)
        self.assertIsNotNone(detail["next_contact_at"])
        s, _, b = self.post(None, path=f"/v1/cases/{cid}/pause")
        self.assertEqual((s, json.loads(b)["state"]), (200, "paused"))
        s, _, _ = self.post(None, path=f"/v1/cases/{cid}/pause")
        self.assertEqual(s, 409)
        s, _, b = self.post(None, path=f"/v1/cases/{cid}/resume")
        self.assertEqual((s, json.loads(b)["state"]), (200, "open"))
        s, _, b = self.post(None, path=f"/v1/cases/{cid}/close")
        self.assertEqual((s, json.loads(b)["state"]), (200, "cancelled"))
        self.assertEqual(self.get_json(f"/v1/cases?state=cancelled&customer=c-case-read")
                         ["cases"][0]["id"], cid)
        status, _, _ = self.daemon.request("GET", "/v1/cases/999999")
        self.assertEqual(status, 404)
        # The id is the whole segment, digits only: the case's own id spelled otherwise is no id.
        for other in (f"+{cid}", f"0{cid}x", f"{cid}.0", "-1", "99999999999999999999"):
            status, _, body = self.daemon.request("GET", f"/v1/cases/{other}")
            self.assertEqual((status, json.loads(body)["error"]), (404, "no such case"), other)
        status, _, _ = self.daemon.request("GET", "/v1/cases", token=None)
        self.assertEqual(status, 401)

    def pages(self, path):
        """Every page of a listing, following next_cursor: [(rows, next_cursor), ...]."""
        out, cursor = [], None
        key = "ledger" if path.startswith("/v1/ledger") else "cases"
        for _ in range(50):
            body = self.get_json(path + (f"&cursor={cursor}" if cursor else ""))
            out.append(([r["id"] for r in body[key]], body["next_cursor"]))
            cursor = body["next_cursor"]
            if cursor is None:
                return out
        self.fail(f"{path}: more than 50 pages")

    def test_listings_page_with_a_cursor_and_never_repeat_or_skip_a_row(self):
        # Five recoveries paid at the same second: the ledger's order (occurred_at, then id)
        # has ties, so a cursor by time alone would repeat or drop rows at a page's edge.
        tags = [f"page{i}" for i in range(5)]
        cases = [self.open_case(t) for t in tags]
        paid_at = iso_ago(hours=1)
        for t in tags:
            s, _, b = self.post({"id": "e-paid-" + t, "type": "payment.succeeded",
                                 "occurred_at": paid_at,
                                 "data": {"id": "p-paid-" + t, "customer_id": "c-case-" + t,
                                          "invoice_id": "in-case-" + t, "amount_minor": 4200,
                                          "currency": "EUR"}})
            self.assertEqual(s, 202, b)
        wait_for(lambda: len(self.ws.sql(
            "SELECT 1 FROM ledger WHERE case_id IN (%s)" % ",".join(map(str, cases)))) == 5,
            timeout=20, what="five recovered ledger rows")
        whole = [r["id"] for r in self.get_json("/v1/ledger?limit=10000")["ledger"]]
        self.assertEqual(whole, [r[0] for r in self.ws.sql(
            "SELECT id FROM ledger ORDER BY occurred_at, id")])
        paged = self.pages("/v1/ledger?limit=2")
        self.assertEqual([i for rows, _ in paged for i in rows], whole)
        self.assertTrue(all(len(rows) == 2 for rows, _ in paged[:-1]), paged)
        self.assertGreaterEqual(len(paged), 3, paged)
        # The period still applies on every page.
        later = [r[0] for r in self.ws.sql(
            "SELECT id FROM ledger WHERE occurred_at >= ? ORDER BY occurred_at, id", (paid_at,))]
        self.assertEqual([i for rows, _ in self.pages(f"/v1/ledger?from={paid_at}&limit=1")
                          for i in rows], later)
        # Cases page by id.
        all_cases = [r[0] for r in self.ws.sql("SELECT id FROM cases ORDER BY id")]
        self.assertEqual([i for rows, _ in self.pages("/v1/cases?limit=2") for i in rows],
                         all_cases)
        self.assertEqual([i for rows, _ in self.pages("/v1/cases?state=recovered&limit=1")
                          for i in rows],
                         [r[0] for r in self.ws.sql(
                             "SELECT id FROM cases WHERE state='recovered' ORDER BY id")])
        # A page size or cursor the listing did not give is refused, naming the parameter.
        for path, field in (("/v1/ledger?limit=0", "limit"), ("/v1/ledger?limit=10001", "limit"),
                            ("/v1/ledger?limit=-1", "limit"), ("/v1/ledger?cursor=12", "cursor"),
                            ("/v1/ledger?cursor=a.b", "cursor"), ("/v1/cases?limit=1001", "limit"),
                            ("/v1/cases?limit=2x", "limit"), ("/v1/cases?cursor=-3", "cursor"),
                            ("/v1/ledger?cursor=-1.5", "cursor"),
                            ("/v1/ledger?cursor=253402300800.5", "cursor")):
            status, _, body = self.daemon.request("GET", path)
            self.assertEqual(status, 422, (path, body))
            self.assertEqual(json.loads(body)["field"], field, (path, body))
        # A row at the epoch itself gives cursor "0.<id>": it pages on like any other.
        everything = [r["id"] for r in self.get_json("/v1/ledger?limit=10000")["ledger"]]
        self.assertEqual([r["id"] for r in self.get_json("/v1/ledger?cursor=0.1")["ledger"]],
                         everything)

    def test_healthz_and_metrics(self):
        wait_for(lambda: json.loads(self.daemon.request("GET", "/healthz", token=None)[2])
                 .get("last_tick_age_seconds") is not None, timeout=10, what="a first tick")
        status, _, body = self.daemon.request("GET", "/healthz", token=None)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["database"], "ok")
        self.post(event("e-metrics", "customer.upserted", id="c-metrics"))
        status, headers, body = self.daemon.request("GET", "/metrics", token=None)
        self.assertEqual(status, 200)
        text = body.decode()
        self.assertIn("text/plain", headers.get("Content-Type", ""))
        for needle in ("dunningd_http_requests_total{route=\"/v1/events\",status=\"202\"}",
                       "dunningd_tick_duration_seconds", "dunningd_outbox_depth",
                       "# TYPE dunningd_http_requests_total counter"):
            self.assertIn(needle, text)
        self.assertIn('dunningd_channel_paused{channel="email"} 0\n', text)  # 0, not absent
        # The daemon's clock is the one the test dates its data by (shifted in CI's later-day
        # runs): if the two disagreed, every relative date in this suite would be meaningless.
        tick = re.search(r"^dunningd_last_tick_timestamp_seconds (\S+)$", text, re.M)
        self.assertIsNotNone(tick, text)
        self.assertLess(abs(float(tick.group(1)) - unix_now()), 120)

    def test_a_channel_paused_for_everyone_makes_healthz_fail_and_shows_in_metrics(self):
        # What the dispatcher writes when the SMTP server refuses the sender or the credentials.
        reason = "535 authentication failed"
        self.ws.sql("INSERT INTO channel_pauses(channel, reason, since, retry_at) VALUES "
                    "('email', ?, ?, ?)",
                    (reason, iso_ago(minutes=5), iso(utc_now() + datetime.timedelta(days=1))))
        self.addCleanup(self.ws.sql, "DELETE FROM channel_pauses")
        status, _, body = self.daemon.request("GET", "/healthz", token=None)
        self.assertEqual(status, 503, body)
        health = json.loads(body)
        self.assertEqual(health["status"], "degraded")
        self.assertEqual(health["database"], "ok")
        self.assertEqual([(p["channel"], p["reason"]) for p in health["paused_channels"]],
                         [("email", reason)])
        text = self.daemon.request("GET", "/metrics", token=None)[2].decode()
        self.assertIn('dunningd_channel_paused{channel="email"} 1', text)

    def test_click_redirect_records_the_click_and_refuses_bad_tokens(self):
        import hashlib
        import hmac
        cid = self.open_case("click")

        def token(customer, case_id, expires, secret=LINK_SECRET):
            payload = f"{case_id}.{expires}.{customer.encode().hex()}"
            return payload + "." + hmac.new(secret.encode(), payload.encode(),
                                            hashlib.sha256).hexdigest()
        good = token("c-case-click", cid, unix_now() + 3600)
        status, headers, _ = self.daemon.request("GET", "/r/" + good, token=None)
        self.assertEqual(status, 302)
        self.assertEqual(headers["Location"],
                         f"https://billing.example.com/update?customer=c-case-click&case={cid}")
        self.assertEqual(self.ws.sql("SELECT customer_id FROM clicks WHERE case_id=?", (cid,)),
                         [("c-case-click",)])
        before = db_dump(self.ws.db_path)
        expired = token("c-case-click", cid, unix_now() - 10)
        self.assertEqual(self.daemon.request("GET", "/r/" + expired, token=None)[0], 410)
        forged = token("c-case-click", cid, unix_now() + 3600, secret="guess")
        self.assertEqual(self.daemon.request("GET", "/r/" + forged, token=None)[0], 404)
        self.assertEqual(self.daemon.request("GET", "/r/garbage", token=None)[0], 404)
        self.assertEqual(before, db_dump(self.ws.db_path))


class HttpLimits(unittest.TestCase):
    """Connections beyond max_connections get 503; an idle connection is closed after timeout."""

    def test_connection_limit_and_idle_timeout(self):
        import http.client
        port = free_port()
        ws = Workspace(25, SEQUENCES, http_config(port, max_connections=2, timeout="3s"))
        self.addCleanup(ws.cleanup)
        with Daemon(ws, port) as daemon:
            held = []

            def hold_one():
                # A keep-alive connection that got an answer stays open and counted.
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/healthz")
                r = c.getresponse()
                r.read()
                if r.status == 200:
                    held.append(c)
                else:
                    c.close()
                return len(held) == 2
            try:
                wait_for(hold_one, timeout=10, what="two open keep-alive connections")
                status, _, body = daemon.request("GET", "/healthz", token=None)
                self.assertEqual(status, 503, body)
                # The server closes an idle connection after the 3 s timeout: recv sees EOF.
                started = time.monotonic()
                held[0].sock.settimeout(10)
                self.assertEqual(held[0].sock.recv(1), b"")
                self.assertLess(time.monotonic() - started, 6)
            finally:
                for c in held:
                    c.close()
            wait_for(lambda: daemon.request("GET", "/healthz", token=None)[0] == 200,
                     timeout=10, what="a free connection slot")
            self.assertEqual(daemon.stop(), 0)

if __name__ == "__main__":
    unittest.main()
