"""A generated ledger with known outcomes, and the report figures computed independently.

`generate(conn, n_cases, seed)` writes customers, subscriptions, payments (history, failure,
recovery), cases, outbox rows and ledger rows straight into a migrated dunningd database, the way
the scheduler would have left them. `expected(data, ...)` computes the report's figures from the
generated facts in plain Python (integers for money), without reading the database back.
"""
import datetime as dt
import math
import random
from collections import defaultdict

UTC = dt.timezone.utc
SEQUENCES = {"soft": ["email", "email", "action", "email"], "hard": ["email", "sms", "email"]}
CURRENCIES = [("EUR", 2), ("USD", 2), ("JPY", 0)]
MONTH = 30 * 86400
Z95 = 1.959963984540054


def iso(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def major(minor, exp):
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    if exp == 0:
        return f"{sign}{minor}"
    return f"{sign}{minor // 10**exp}.{minor % 10**exp:0{exp}d}"


EXP = dict(CURRENCIES)


def generate(conn, n_cases, seed=7, start=dt.datetime(2026, 9, 20, tzinfo=UTC), span_days=72,
             history=True):
    rnd = random.Random(seed)
    cases, outbox, ledger, payments, subs, customers = [], [], [], [], [], []
    facts = []  # one dict per case: what the test knows about it
    lid = 0
    pid = 0
    for cid in range(1, n_cases + 1):
        cur, exp = CURRENCIES[cid % 3] if cid % 7 else CURRENCIES[2]
        seq = "soft" if rnd.random() < 0.6 else "hard"
        steps = SEQUENCES[seq]
        amount = rnd.randint(5, 300) * (100 if exp == 2 else 1) + (rnd.randint(0, 99) if exp else 0)
        opened = start + dt.timedelta(seconds=rnd.randint(0, span_days * 86400))
        holdout = rnd.random() < 0.25
        cus = f"cus_{cid}"
        sub = f"sub_{cid}"
        customers.append((cus, f"{cus}@example.com", "en", "UTC"))
        # payment history: monthly succeeded payments before the failure
        n_hist = rnd.randint(0, 8) if history else 0
        for k in range(n_hist, 0, -1):
            pid += 1
            payments.append((f"py_{pid}", cus, sub, f"in_h{pid}", amount, cur, "succeeded", None,
                             iso(opened - dt.timedelta(days=30 * k, hours=rnd.randint(0, 5)))))
        pid += 1
        fail_id = f"py_{pid}"
        decline = rnd.choice(["insufficient_funds", "expired_card", "do_not_honor"])
        payments.append((fail_id, cus, sub, f"in_{cid}", amount, cur, "failed", decline, iso(opened)))
        # delivered steps and outcome
        delivered = 0 if holdout else rnd.randint(0, len(steps) - 1)
        r = rnd.random()
        kind = None
        closed = None
        if r < (0.22 if holdout else 0.5):
            kind = "recovered"
        elif r < 0.75:
            kind = "lost"
        elif r < 0.83:
            kind = "cancelled"
        step_times = [opened + dt.timedelta(days=2 * i + 1, hours=rnd.randint(0, 3))
                      for i in range(len(steps))]
        click = None
        last_step = None
        row = {"case_id": cid, "currency": cur, "amount": amount, "sequence": seq,
               "opened": opened, "holdout": holdout, "customer": cus, "subscription": sub,
               "decline": decline, "delivered": delivered}
        if kind == "recovered":
            if delivered > 0:
                closed = step_times[delivered - 1] + dt.timedelta(hours=rnd.randint(1, 40))
                last_step = delivered - 1
                if rnd.random() < 0.3:
                    click = step_times[delivered - 1] + dt.timedelta(minutes=30)
                row["kind"] = "recovered"
            else:
                closed = opened + dt.timedelta(hours=rnd.randint(1, 20))
                row["kind"] = "recovered_without_contact"
            paid = amount if rnd.random() < 0.9 else amount - (1 if exp == 0 else 50)
            pid += 1
            pay_id = f"py_{pid}"
            payments.append((pay_id, cus, sub, f"in_{cid}", paid, cur, "succeeded", None, iso(closed)))
            row.update(closed=closed, closed_amount=paid, step=last_step, click=click,
                       payment=pay_id, days=int((closed - opened).total_seconds() // 86400))
        elif kind == "lost":
            closed = opened + dt.timedelta(days=2 * len(steps) + 1)
            delivered = len(steps) - 1 if not holdout else 0
            row.update(kind="lost", closed=closed, closed_amount=amount, step=len(steps) - 1,
                       delivered=delivered)
        elif kind == "cancelled":
            closed = opened + dt.timedelta(days=rnd.randint(1, 6))
            row.update(kind="cancelled", closed=closed, closed_amount=amount, step=None)
        else:
            row.update(kind=None)
        # outbox: delivered steps sent, the next one cancelled (case closed) or pending
        for i in range(len(steps)):
            if i < row["delivered"]:
                state, sent = "sent", iso(step_times[i])
            elif i == row["delivered"] and not holdout:
                state, sent = ("pending", None) if row["kind"] is None else ("cancelled", iso(closed))
            else:
                continue
            ch = steps[i]
            outbox.append((cid, i, ch, None if ch == "action" else f"tpl-{seq}-{i}",
                           "retry" if ch == "action" else None, f"case:{cid}:step:{i}", state,
                           iso(step_times[i]), iso(step_times[i]), iso(opened), sent))
        state = {"recovered": "recovered", "recovered_without_contact": "recovered",
                 "lost": "lost", "cancelled": "cancelled", None: "open"}[row["kind"]]
        cases.append((cid, cus, sub, f"in_{cid}", fail_id, amount, cur, decline, seq, state,
                      iso(opened), iso(closed) if closed else None, int(holdout)))
        if row["kind"]:
            lid += 1
            row["ledger_id"] = lid
            st = row.get("step")
            if row["kind"] == "recovered":
                attribution = "click" if click else "step"
                channel = steps[st]
            else:
                attribution = None
                channel = "action" if row["kind"] == "lost" else None
            ledger.append((lid, cid, row["kind"], cus, sub, f"in_{cid}", row.get("payment", fail_id),
                           row["closed_amount"], cur, st, channel, seq, decline, iso(opened),
                           iso(closed), iso(closed), row.get("days"), attribution,
                           iso(click) if click else None, None, None))
            # a few corrections (e.g. a partial refund) on recovered rows
            if row["kind"].startswith("recovered") and rnd.random() < 0.05:
                lid += 1
                delta = -(10 if exp == 0 else 100)
                ledger.append((lid, cid, "correction", cus, sub, f"in_{cid}", None, delta, cur,
                               None, None, seq, decline, iso(opened), iso(closed), iso(closed),
                               None, None, None, row["ledger_id"], "partial refund"))
                row["closed_amount"] += delta
        # subscription status: some recovered subscriptions end later (churn)
        status, updated = "active", iso(opened)
        if row["kind"] and row["kind"].startswith("recovered") and rnd.random() < 0.3:
            status, updated = "canceled", iso(closed + dt.timedelta(days=rnd.randint(1, 60)))
        subs.append((sub, cus, "pro", status, amount, cur, "month", updated))
        facts.append(row)
    conn.executemany("INSERT INTO customers(id, email, locale, time_zone) VALUES (?,?,?,?)",
                     customers)
    conn.executemany("INSERT INTO subscriptions(id, customer_id, plan, status, amount_minor, "
                     "currency, interval, updated_at) VALUES (?,?,?,?,?,?,?,?)", subs)
    conn.executemany("INSERT INTO payments(id, customer_id, subscription_id, invoice_id, "
                     "amount_minor, currency, status, decline_code, occurred_at) "
                     "VALUES (?,?,?,?,?,?,?,?,?)", payments)
    conn.executemany("INSERT INTO cases(id, trigger, customer_id, subscription_id, invoice_id, "
                     "payment_id, amount_minor, currency, decline_code, sequence_id, sequence_hash,"
                     " state, opened_at, closed_at, holdout) "
                     "VALUES (?, 'payment_failed', ?,?,?,?,?,?,?,?, 'h', ?,?,?,?)", cases)
    conn.executemany("INSERT INTO outbox(case_id, step_index, channel, template, action, "
                     "message_key, state, due_at, next_attempt_at, created_at, sent_at) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?)", outbox)
    conn.executemany("INSERT INTO ledger(id, case_id, kind, customer_id, subscription_id, "
                     "invoice_id, payment_id, amount_minor, currency, step_index, channel, "
                     "sequence_id, decline_code, opened_at, occurred_at, recorded_at, "
                     "days_to_recover, attribution, clicked_at, corrects, note) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", ledger)
    conn.commit()
    return {"cases": facts, "payments": payments, "subs": {s[0]: s for s in subs},
            "ledger": ledger}


def money(minor, cur):
    return {"amount_minor": minor, "amount": major(minor, EXP[cur])}


def median(values):
    if not values:
        return None
    v = sorted(values)
    lo, hi = v[(len(v) - 1) // 2], v[len(v) // 2]
    return lo if lo == hi else (lo + hi) / 2


def wilson(x, n):
    p = x / n
    z2 = Z95 * Z95
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return centre - half, centre + half


def newcombe(x1, n1, x0, n0):
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = wilson(x1, n1)
    l0, u0 = wilson(x0, n0)
    d = p1 - p0
    return d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)


def outcome(c, as_of):
    """The case's kind as known at as_of (None while open)."""
    if c["kind"] and c["closed"] <= as_of:
        return c["kind"]
    return None


def expected(data, start, end, as_of, horizon=36):
    cohort = [c for c in data["cases"] if start <= c["opened"] < end]
    per_cur = defaultdict(lambda: defaultdict(int))
    days = defaultdict(list)
    for c in cohort:
        cur, k = c["currency"], outcome(c, as_of)
        s = per_cur[cur]
        s["cases"] += 1
        s["amount"] += c["amount"]
        bucket = k or "open"
        s[bucket + "_count"] += 1
        s[bucket + "_minor"] += c["amount"] if bucket == "open" else c["closed_amount"]
        if k and k.startswith("recovered"):
            days[cur].append(int((c["closed"] - c["opened"]).total_seconds() // 86400))
    totals = {}
    for cur, s in per_cur.items():
        rec = s["recovered_count"] + s["recovered_without_contact_count"]
        totals[cur] = {
            "cases": s["cases"], "amount": money(s["amount"], cur),
            "recovered": dict(money(s["recovered_minor"], cur), count=s["recovered_count"]),
            "recovered_without_contact": dict(money(s["recovered_without_contact_minor"], cur),
                                              count=s["recovered_without_contact_count"]),
            "recovered_total": dict(money(s["recovered_minor"] + s["recovered_without_contact_minor"],
                                          cur), count=rec),
            "lost": dict(money(s["lost_minor"], cur), count=s["lost_count"]),
            "cancelled": dict(money(s["cancelled_minor"], cur), count=s["cancelled_count"]),
            "open": dict(money(s["open_minor"], cur), count=s["open_count"]),
            "recovery_rate": rec / s["cases"],
            "median_days_to_recover": median(days[cur]),
        }
    all_days = [d for v in days.values() for d in v]
    n = len(cohort)
    n_rec = sum(1 for c in cohort if (outcome(c, as_of) or "").startswith("recovered"))
    result = {"totals": {"cases": n, "recovered_count": n_rec, "recovery_rate": n_rec / n,
                         "median_days_to_recover": median(all_days), "currencies": totals}}

    # funnel
    funnel = {}
    for c in cohort:
        f = funnel.setdefault(c["sequence"], {"cases": 0, "recovered_without_contact": 0,
                                              "reached": defaultdict(int),
                                              "after": defaultdict(int),
                                              "after_amount": defaultdict(lambda: defaultdict(int))})
        f["cases"] += 1
        k = outcome(c, as_of)
        if k == "recovered_without_contact":
            f["recovered_without_contact"] += 1
        for i in range(c["delivered"]):
            f["reached"][i] += 1
        if k == "recovered":
            f["after"][c["step"]] += 1
            f["after_amount"][c["step"]][c["currency"]] += c["closed_amount"]
    result["funnel"] = funnel

    # weekly recovered revenue by the payment's week (Monday)
    weekly = defaultdict(lambda: defaultdict(int))
    for c in cohort:
        if (outcome(c, as_of) or "").startswith("recovered"):
            d = c["closed"].date()
            monday = d - dt.timedelta(days=d.weekday())
            weekly[c["currency"]][monday.isoformat()] += c["closed_amount"]
    result["weekly_recovered"] = {cur: {w: money(m, cur) for w, m in ws.items()}
                                  for cur, ws in weekly.items()}

    # uplift
    side = {True: [0, 0], False: [0, 0]}
    amounts = {True: defaultdict(lambda: [0, 0]), False: defaultdict(lambda: [0, 0])}
    for c in cohort:
        rec = (outcome(c, as_of) or "").startswith("recovered")
        side[c["holdout"]][0] += 1
        side[c["holdout"]][1] += rec
        amounts[c["holdout"]][c["currency"]][0] += c["amount"]
        if rec:
            amounts[c["holdout"]][c["currency"]][1] += c["closed_amount"]
    (n1, x1), (n0, x0) = side[False], side[True]
    lo, hi = newcombe(x1, n1, x0, n0)
    attributable = {}
    for cur, (a1, r1) in amounts[False].items():
        a0, r0 = amounts[True][cur]
        exp_minor = (2 * r0 * a1 + a0) // (2 * a0)
        attributable[cur] = {"contacted_failed": money(a1, cur), "contacted_recovered": money(r1, cur),
                             "holdout_failed": money(a0, cur), "holdout_recovered": money(r0, cur),
                             "expected_without_dunning": money(exp_minor, cur),
                             "attributable": money(r1 - exp_minor, cur)}
    result["uplift"] = {"contacted": {"cases": n1, "recovered": x1, "recovery_rate": x1 / n1},
                        "holdout": {"cases": n0, "recovered": x0, "recovery_rate": x0 / n0},
                        "difference": x1 / n1 - x0 / n0, "ci95_low": lo, "ci95_high": hi,
                        "attributable": attributable}

    # LTV preserved
    exposure = ended = observed = 0
    for c in data["cases"]:
        if not (c["kind"] or "").startswith("recovered") or c["closed"] > as_of:
            continue
        sub = data["subs"][c["subscription"]]
        end_t = None
        upd = dt.datetime.fromisoformat(sub[7].replace("Z", "+00:00"))
        if sub[3] == "canceled" and c["closed"] < upd <= as_of:
            end_t = upd
        exposure += max(0, int(((end_t or as_of) - c["closed"]).total_seconds()))
        ended += 1 if end_t else 0
        observed += 1
    if ended and exposure < horizon * ended * MONTH:
        t_num, t_den = exposure, ended * MONTH
    else:
        t_num, t_den = horizon, 1
    by_customer = defaultdict(list)
    for p in data["payments"]:
        if p[6] == "succeeded":
            by_customer[(p[1], p[2], p[5])].append(p)
    ltv = defaultdict(lambda: [0, 0])
    # one term per recovered subscription: its latest recovery among the cohort's cases
    latest = {}
    for c in cohort:
        if (outcome(c, as_of) or "").startswith("recovered"):
            key = (c["subscription"], c["currency"])
            if key not in latest or c["closed"] > latest[key]["closed"]:
                latest[key] = c
    for c in latest.values():
        ps = [p for p in by_customer[(c["customer"], c["subscription"], c["currency"])]
              if p[8] <= iso(c["closed"])]
        s = sum(p[4] for p in ps)
        first = min(dt.datetime.fromisoformat(p[8].replace("Z", "+00:00")) for p in ps)
        months = max(0, int((c["closed"] - first).total_seconds())) // MONTH + 1
        ltv[c["currency"]][0] += 1
        ltv[c["currency"]][1] += (s * t_num) // (months * t_den)
    result["ltv_preserved"] = {
        "inputs": {"observed_recovered_subscriptions": observed, "observed_seconds": exposure,
                   "ended": ended, "horizon_months": horizon,
                   "expected_lifetime_months": t_num / t_den,
                   "recoveries_without_payment_history": 0},
        "currencies": {cur: dict(money(v[1], cur), subscriptions=v[0]) for cur, v in ltv.items()}}
    return result
