"""The admin and finance console (/ui/) of a live `dunningd run` with a real SMTP server and a
real SQLite file: its doors over plain HTTP (sign-in, sessions, CSRF, roles, the sign-in limit),
then a real headless Chromium driven through chromium-driver (selenium) doing what an admin and
a finance user do. Every page the browser visits is screenshotted into the build folder
(DUNNING_ARTIFACTS_DIR) and, when axe-core is installed (scripts/install-deps), checked for
serious or critical accessibility violations inside the page. Data is dated relative to now."""
import datetime
import http.client
import json
import os
import re
import shutil
import tempfile
import time
import unittest
import urllib.parse

from dunning_fixtures import (Daemon, SmtpServer, Workspace, free_port, http_config,
                              iso, iso_ago, utc_now, wait_for)

ADMIN_PASSWORD = "admin-pass-\u00e9-0123"
FINANCE_PASSWORD = "finance-pass-4567"
SECRETS = {"DUNNINGD_TEST_CONSOLE_ADMIN": ADMIN_PASSWORD,
           "DUNNINGD_TEST_CONSOLE_FINANCE": FINANCE_PASSWORD}

SEQUENCES = """
sequences:
  - id: hard-decline
    trigger: payment_failed
    match: {decline: hard}
    steps:
      - {at: 3d, email: update-card}
      - {at: 14d, action: cancel}
  - id: soft-decline
    trigger: payment_failed
    steps:
      - {at: 1d, action: retry}
      - {at: 3d, email: payment-failed}
      - {at: 21d, action: cancel}
defaults:
  send_window: {from: "00:00", to: "24:00"}
"""

# A change to preview: every failure into one sequence with an email at once.
CHANGED_SEQUENCES = """
sequences:
  - id: everything
    trigger: payment_failed
    steps:
      - {at: 0h, email: payment-failed}
      - {at: 21d, action: cancel}
"""

ARTIFACTS = os.environ.get("DUNNING_ARTIFACTS_DIR") or tempfile.mkdtemp(prefix="dunningd-ui-")
AXE_JS = os.environ.get("DUNNING_AXE_JS", os.path.expanduser(
    "~/.cache/dunningd-test/node_modules/axe-core/axe.min.js"))


def console_config(port, attempts=5, window="15m"):
    # The billing endpoint is never reached: every retry of the test data is a day ahead.
    return http_config(port, extra=f"""billing:
  url: http://127.0.0.1:{free_port()}/billing
""").replace("  stripe_secrets_env:", f"""  console:
    admin_password_env: DUNNINGD_TEST_CONSOLE_ADMIN
    finance_password_env: DUNNINGD_TEST_CONSOLE_FINANCE
    idle_timeout: 10m
    session_ttl: 1h
    login_attempts: {attempts}
    login_window: {window}
    page_size: 2
  stripe_secrets_env:""", 1)


class ConsoleDaemon:
    """SMTP server + workspace with three customers whose payments failed (one paid at once)
    + `dunningd run` with the console on; the poller opens the cases."""

    def __init__(self, attempts=5, window="15m"):
        self.smtp = SmtpServer().start()
        self.port = free_port()
        self.ws = Workspace(self.smtp.port, SEQUENCES, console_config(self.port, attempts, window))
        self.ws.env = dict(SECRETS)
        self.daemon = Daemon(self.ws, self.port)

    def start(self):
        ws = self.ws
        ws.run("migrate")
        ws.add_customer("c-ana", "ana@example.com", "Ana", tz="Europe/Zagreb")
        ws.add_customer("c-bo", "bo@example.com", "Bo", tz="America/New_York")
        ws.add_customer("c-cy", "cy@example.com", "Cy", tz="UTC")
        ws.add_payment("p-ana", "c-ana", "in-ana", 1999, "EUR", "failed", iso_ago(hours=2),
                       "insufficient_funds", "sub-ana")
        ws.add_payment("p-bo", "c-bo", "in-bo", 5000, "USD", "failed", iso_ago(hours=2),
                       "stolen_card", "sub-bo")
        ws.add_payment("p-cy", "c-cy", "in-cy", 700, "EUR", "failed", iso_ago(hours=3),
                       "do_not_honor", "sub-cy")
        try:
            self.daemon.start()
            wait_for(lambda: ws.sql("SELECT COUNT(*) FROM cases")[0][0] == 3, timeout=20,
                     what="the poller to open three cases")
            # Cy pays before any step went out: recovered without contact.
            ws.add_payment("p-cy2", "c-cy", "in-cy", 700, "EUR", "succeeded", iso_ago(minutes=1))
            wait_for(lambda: ws.sql("SELECT COUNT(*) FROM cases WHERE state='recovered'")[0][0]
                     == 1, timeout=20, what="the poller to recover Cy's case")
        except BaseException:
            self.stop()
            raise
        return self

    def case_id(self, customer):
        return self.ws.sql("SELECT id FROM cases WHERE customer_id=?", (customer,))[0][0]

    def state(self, case_id):
        return self.ws.sql("SELECT state FROM cases WHERE id=?", (case_id,))[0][0]

    def stop(self):
        try:
            rc = self.daemon.stop()
            assert rc == 0, f"dunningd exited {rc}:\n{self.daemon.log()}"
        finally:
            self.smtp.stop()
            self.ws.cleanup()


class Client:
    """A cookie-keeping HTTP client over http.client (no redirects followed)."""

    def __init__(self, port, headers=None):
        self.port = port
        self.cookies = {}
        self.headers = dict(headers or {})

    def request(self, method, path, form=None, headers=None):
        h = dict(self.headers)
        h.update(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            data = resp.read().decode("utf-8", "replace")
            set_cookies = resp.headers.get_all("Set-Cookie") or []
            for c in set_cookies:
                name, _, rest = c.partition("=")
                value = rest.split(";", 1)[0]
                if "Max-Age=0" in c:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
            return resp.status, resp.headers, data, set_cookies
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, form, **kw):
        return self.request("POST", path, form=form, **kw)

    def sign_in(self, user, password, headers=None):
        status, _, page, _ = self.get("/ui/login", headers=headers)
        assert status == 200, page
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
        return self.post("/ui/login", {"csrf": token, "user": user, "password": password,
                                       "next": "/ui/"}, headers=headers)

    def csrf(self, path="/ui/"):
        status, _, page, _ = self.get(path)
        assert status == 200, page
        return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)


PAGES = ["/ui", "/ui/", "/ui/cases", "/ui/cases?state=open", "/ui/cases/1", "/ui/report",
         "/ui/report.csv", "/ui/report.json", "/ui/report.html", "/ui/ledger", "/ui/ledger.csv",
         "/ui/sequences", "/ui/nowhere"]


class ConsoleDoors(unittest.TestCase):
    """Plain HTTP: what the console refuses, and the cookie it sets."""

    @classmethod
    def setUpClass(cls):
        cls.live = ConsoleDaemon().start()

    @classmethod
    def tearDownClass(cls):
        cls.live.stop()

    def test_every_page_without_a_session_redirects_to_sign_in(self):
        c = Client(self.live.port)
        for path in PAGES:
            status, headers, _, _ = c.get(path)
            self.assertEqual(status, 303, path)
            self.assertEqual(headers["Location"],
                             "/ui/login?next=" + urllib.parse.quote(path, safe=""), path)
        # A forged or expired session cookie is no session either.
        c.cookies["dunningd_session"] = "0" * 64
        status, headers, _, _ = c.get("/ui/cases")
        self.assertEqual((status, headers["Location"]), (303, "/ui/login?next=%2Fui%2Fcases"))
        # A POST without a session changes nothing.
        case = self.live.case_id("c-ana")
        status, _, _, _ = c.post(f"/ui/cases/{case}/pause", {"csrf": "x"})
        self.assertEqual(status, 303)
        self.assertEqual(self.live.state(case), "open")

    def test_the_session_cookie_is_httponly_samesite_strict_and_secure_behind_https(self):
        c = Client(self.live.port)
        status, headers, _, cookies = c.sign_in("admin", ADMIN_PASSWORD)
        self.assertEqual((status, headers["Location"]), (303, "/ui/"))
        session = [x for x in cookies if x.startswith("dunningd_session=")]
        self.assertEqual(len(session), 1, cookies)
        attrs = [a.strip() for a in session[0].split(";")]
        self.assertRegex(attrs[0], r"^dunningd_session=[0-9a-f]{64}$")
        self.assertIn("HttpOnly", attrs)
        self.assertIn("SameSite=Strict", attrs)
        self.assertIn("Path=/ui", attrs)
        self.assertIn("Max-Age=3600", attrs)
        self.assertNotIn("Secure", attrs)
        status, headers, page, _ = c.get("/ui/")
        self.assertEqual(status, 200, page)
        self.assertEqual(headers["Cache-Control"], "no-store")
        self.assertIn("frame-ancestors 'none'", headers["Content-Security-Policy"])
        self.assertIn('<strong id="role">admin</strong>', page)
        # Behind a TLS-terminating proxy the cookie is Secure.
        https = Client(self.live.port, headers={"X-Forwarded-Proto": "https"})
        _, _, _, cookies = https.sign_in("finance", FINANCE_PASSWORD)
        session = [x for x in cookies if x.startswith("dunningd_session=")][0]
        self.assertIn("Secure", [a.strip() for a in session.split(";")])

    def test_sign_in_needs_the_right_password_and_the_forms_own_token(self):
        c = Client(self.live.port)
        status, _, page, cookies = c.sign_in("admin", "not-the-password")
        self.assertEqual(status, 401)
        self.assertIn("Wrong user or password", page)
        self.assertFalse([x for x in cookies if x.startswith("dunningd_session=")])
        status, _, _, _ = c.sign_in("finance", ADMIN_PASSWORD)  # the admin's password as finance
        self.assertEqual(status, 401)
        # Without the sign-in form's token (another site posting the form): refused.
        fresh = Client(self.live.port)
        status, _, _, cookies = fresh.post("/ui/login", {"user": "admin",
                                                          "password": ADMIN_PASSWORD})
        self.assertEqual(status, 403)
        self.assertFalse([x for x in cookies if x.startswith("dunningd_session=")])
        log = self.live.daemon.log()
        self.assertIn("console: /ui/ open for admin and finance", log)
        self.assertIn("console: failed sign-in as admin from 127.0.0.1", log)
        self.assertNotIn("not-the-password", log)
        self.assertNotIn(ADMIN_PASSWORD, log)

    def test_a_post_without_the_csrf_token_is_refused(self):
        c = Client(self.live.port)
        c.sign_in("admin", ADMIN_PASSWORD)
        case = self.live.case_id("c-ana")
        for form in ({}, {"csrf": ""}, {"csrf": "0" * 64}):
            status, _, page, _ = c.post(f"/ui/cases/{case}/pause", form)
            self.assertEqual(status, 403, form)
            self.assertEqual(self.live.state(case), "open")
        # Not a form at all.
        status, _, _, _ = c.request("POST", f"/ui/cases/{case}/pause",
                                    headers={"Content-Type": "application/json"})
        self.assertEqual(status, 403)
        # Another session's token does not do either.
        other = Client(self.live.port)
        other.sign_in("admin", ADMIN_PASSWORD)
        status, _, _, _ = c.post(f"/ui/cases/{case}/pause", {"csrf": other.csrf()})
        self.assertEqual(status, 403)
        self.assertEqual(self.live.state(case), "open")
        status, _, _, _ = c.post("/ui/logout", {})
        self.assertEqual(status, 403)

    def test_finance_reads_but_cannot_pause_resume_close_or_check(self):
        c = Client(self.live.port)
        status, _, _, _ = c.sign_in("finance", FINANCE_PASSWORD)
        self.assertEqual(status, 303)
        case = self.live.case_id("c-bo")
        status, _, page, _ = c.get(f"/ui/cases/{case}")
        self.assertEqual(status, 200)
        self.assertIn("stolen_card", page)
        self.assertNotIn('id="pause"', page)
        token = c.csrf()
        for action in ("pause", "resume", "close"):
            status, _, page, _ = c.post(f"/ui/cases/{case}/{action}", {"csrf": token})
            self.assertEqual(status, 403, action)
            self.assertIn("Only an admin", page)
        self.assertEqual(self.live.state(case), "open")
        status, _, _, _ = c.post("/ui/sequences/check", {"csrf": token, "yaml": SEQUENCES})
        self.assertEqual(status, 403)
        day = (utc_now() - datetime.timedelta(days=2)).strftime("%Y-%m-%d")
        status, _, _, _ = c.post("/ui/sequences/preview", {"csrf": token, "yaml": SEQUENCES,
                                                            "from": day, "to": day})
        self.assertEqual(status, 403)
        for path in ("/ui/report", "/ui/ledger", "/ui/sequences", "/ui/report.csv"):
            status, _, _, _ = c.get(path)
            self.assertEqual(status, 200, path)

    def test_an_admin_previews_a_sequence_change_side_by_side_as_simulate_prints_it(self):
        c = Client(self.live.port)
        c.sign_in("admin", ADMIN_PASSWORD)
        token = c.csrf()
        start = (utc_now() - datetime.timedelta(days=3)).strftime("%Y-%m-%d")
        end = (utc_now() + datetime.timedelta(days=1)).strftime("%Y-%m-%d")
        status, _, page, _ = c.post("/ui/sequences/preview", {
            "csrf": token, "yaml": CHANGED_SEQUENCES, "from": start, "to": end})
        self.assertEqual(status, 200, page)
        table = page[page.index('<table id="preview">'):]
        table = table[:table.index("</table>")]
        shown = {}
        for seq, cells in re.findall(r'<th scope="row">([^<]+)</th>(.*?)</tr>', table):
            for side, key, n in re.findall(r'data-side="(\w+)" data-key="(\w+)">(\d+)<', cells):
                shown[(seq, side, key)] = int(n)
        # The oracle: `dunningd simulate` itself, with and without the pasted file.
        changed = os.path.join(self.live.ws.dir, "changed.yaml")
        with open(changed, "w") as f:
            f.write(CHANGED_SEQUENCES)
        span = ("--config", self.live.ws.config, "--from", start, "--to", end, "--totals-only")
        sides = {"current": self.live.ws.run("simulate", *span).stdout,
                 "changed": self.live.ws.run("simulate", *span, "--sequences", changed).stdout}
        expected = {}
        for side, out in sides.items():
            for line in out.splitlines():
                words = line.split()
                if words[:2] == ["total", "sequence"]:
                    counts = dict(zip(words[3::2], map(int, words[4::2])))
                    for key in ("cases", "messages", "retries", "recovered", "lost"):
                        expected[(words[2], side, key)] = counts.get(key, 0)
        for (seq, side, key) in list(expected):
            other = "changed" if side == "current" else "current"
            expected.setdefault((seq, other, key), 0)
        self.assertEqual(shown, expected)
        self.assertGreaterEqual(shown[("everything", "changed", "cases")], 2)
        self.assertEqual(shown[("everything", "current", "cases")], 0)
        # A period the preview cannot take, and a file with an error: no simulation.
        status, _, page, _ = c.post("/ui/sequences/preview", {
            "csrf": token, "yaml": CHANGED_SEQUENCES, "from": end, "to": start})
        self.assertEqual(status, 422)
        status, _, page, _ = c.post("/ui/sequences/preview", {
            "csrf": token, "yaml": CHANGED_SEQUENCES + "    colour: blue\n",
            "from": start, "to": end})
        self.assertIn('id="findings"', page)
        self.assertNotIn('id="preview"', page)

    def test_an_admin_pauses_and_resumes_through_the_same_life_cycle_as_the_api(self):
        c = Client(self.live.port)
        c.sign_in("admin", ADMIN_PASSWORD)
        case = self.live.case_id("c-ana")
        token = c.csrf()
        status, headers, _, _ = c.post(f"/ui/cases/{case}/pause", {"csrf": token})
        self.assertEqual((status, headers["Location"]), (303, f"/ui/cases/{case}?done=pause"))
        self.assertEqual(self.live.state(case), "paused")
        self.assertEqual(self.live.ws.sql(
            "SELECT detail FROM case_events WHERE case_id=? AND kind='paused'", (case,)),
            [("paused by an admin through the console; nothing is sent until resumed",)])
        status, _, page, _ = c.post(f"/ui/cases/{case}/pause", {"csrf": token})
        self.assertEqual(status, 409)
        self.assertIn("is paused: cannot pause", page)
        status, _, _, _ = c.post(f"/ui/cases/{case}/resume", {"csrf": token})
        self.assertEqual(status, 303)
        self.assertEqual(self.live.state(case), "open")

    def test_sign_out_ends_the_session_and_the_api_token_still_works(self):
        c = Client(self.live.port)
        c.sign_in("admin", ADMIN_PASSWORD)
        stolen = dict(c.cookies)
        status, headers, _, cookies = c.post("/ui/logout", {"csrf": c.csrf()})
        self.assertEqual((status, headers["Location"]), (303, "/ui/login?signed_out=1"))
        self.assertTrue(any(x.startswith("dunningd_session=;") and "Max-Age=0" in x
                            for x in cookies), cookies)
        replay = Client(self.live.port)
        replay.cookies = stolen
        status, _, _, _ = replay.get("/ui/")
        self.assertEqual(status, 303)
        # The JSON API: bearer token as before; a console cookie is no credential there.
        status, _, body = self.live.daemon.request("GET", "/v1/cases")
        self.assertEqual(status, 200)
        self.assertEqual(len(json.loads(body)["cases"]), 3)
        signed_in = Client(self.live.port)
        signed_in.sign_in("admin", ADMIN_PASSWORD)
        status, _, _, _ = signed_in.get("/v1/cases")
        self.assertEqual(status, 401)

    def test_the_report_downloads_are_the_report_commands_output(self):
        c = Client(self.live.port)
        c.sign_in("finance", FINANCE_PASSWORD)
        start = (utc_now() - datetime.timedelta(days=30)).strftime("%Y-%m-%d")
        end = (utc_now() + datetime.timedelta(days=1)).strftime("%Y-%m-%d")
        as_of = iso(utc_now())  # one instant for both, as retention depends on it
        query = f"from={start}&to={end}&as_of={urllib.parse.quote(as_of)}"
        status, headers, body, _ = c.get(f"/ui/report.json?{query}")
        self.assertEqual(status, 200)
        self.assertIn("attachment", headers["Content-Disposition"])
        args = ("--from", start, "--to", end, "--as-of", as_of)
        cli = self.live.ws.run("report", "--format", "json", *args).stdout
        self.assertEqual(json.loads(body), json.loads(cli))
        self.assertEqual(body, cli)
        status, headers, csv_text, _ = c.get(f"/ui/report.csv?{query}")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/csv"))
        self.assertEqual(csv_text, self.live.ws.run("report", "--format", "csv", *args).stdout)
        status, _, html_text, _ = c.get(f"/ui/report.html?{query}")
        self.assertEqual(html_text, self.live.ws.run("report", "--format", "html", *args).stdout)
        status, _, _, _ = c.get("/ui/report.json?as_of=tomorrow")
        self.assertEqual(status, 422)


    def test_report_groups_ledger_pages_and_bad_periods(self):
        c = Client(self.live.port)
        c.sign_in("finance", FINANCE_PASSWORD)
        status, _, page, _ = c.get("/ui/report?by=currency")
        self.assertEqual(status, 200)
        self.assertIn('data-key="/groups/USD/currencies/USD/cases">1<', page)
        self.assertIn('data-key="/groups/EUR/currencies/EUR/cases">2<', page)
        status, _, page, _ = c.get("/ui/report?from=yesterday")
        self.assertEqual(status, 422)
        self.assertIn("must be a date", page)
        later, earlier = (utc_now().strftime("%Y-%m-%d"),
                          (utc_now() - datetime.timedelta(days=31)).strftime("%Y-%m-%d"))
        status, _, page, _ = c.get(f"/ui/report.csv?from={later}&to={earlier}")
        self.assertEqual(status, 422)
        status, headers, page, _ = c.get("/ui/report.html")
        self.assertEqual(status, 200)
        self.assertIn("<svg", page)
        self.assertIn("style-src 'unsafe-inline'", headers["Content-Security-Policy"])
        self.assertNotIn("script", headers["Content-Security-Policy"])
        status, _, page, _ = c.get("/ui/ledger")
        self.assertEqual(status, 200)
        self.assertIn("recovered_without_contact", page)
        status, _, page, _ = c.get("/ui/ledger?page=2")
        self.assertIn("No ledger row in this period", page)
        status, headers, csv_text, _ = c.get("/ui/ledger.csv")
        self.assertEqual(status, 200)
        self.assertEqual(csv_text, self.live.ws.run("ledger", "export", "--format", "csv").stdout)
        # Cases: page size 2, keyset pages, filters that match nothing.
        status, _, page, _ = c.get("/ui/cases")
        self.assertEqual(page.count('<th scope="row"><a href="/ui/cases/'), 2)
        nxt = re.search(r'href="(/ui/cases\?after=\d+)" id="next-page"', page).group(1)
        status, _, page, _ = c.get(nxt)
        self.assertEqual(page.count('<th scope="row"><a href="/ui/cases/'), 1)
        self.assertNotIn('id="next-page"', page)
        status, _, page, _ = c.get("/ui/cases?currency=usd&state=open")
        self.assertEqual(page.count('<th scope="row"><a href="/ui/cases/'), 1)
        status, _, page, _ = c.get("/ui/cases?sequence=no-such&customer=%3Cscript%3E")
        self.assertIn("No case matches", page)
        self.assertNotIn("<script>", page)  # every value is escaped
        status, _, _, _ = c.get("/ui/cases/999999")
        self.assertEqual(status, 404)


class ConsoleSignInLimit(unittest.TestCase):
    """Failed sign-ins from one address are limited, and the right password does not help."""

    @classmethod
    def setUpClass(cls):
        cls.live = ConsoleDaemon(attempts=3, window="1h").start()

    @classmethod
    def tearDownClass(cls):
        cls.live.stop()

    def test_after_three_failures_even_the_right_password_is_refused(self):
        c = Client(self.live.port)
        for _ in range(3):
            status, _, _, _ = c.sign_in("admin", "guess")
            self.assertEqual(status, 401)
        status, headers, page, cookies = c.sign_in("admin", ADMIN_PASSWORD)
        self.assertEqual(status, 429, page)
        self.assertGreater(int(headers["Retry-After"]), 3000)
        self.assertFalse([x for x in cookies if x.startswith("dunningd_session=")])
        self.assertIn("too many failed attempts", self.live.daemon.log())
        self.assertNotIn("guess", self.live.daemon.log())


def _chromium_driver():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None, "python3-selenium is not installed (scripts/install-deps installs it)"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not os.path.exists(driver_path) or not shutil.which("chromium"):
        return None, "chromium / chromium-driver are not installed (scripts/install-deps)"
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1100", "--no-first-run", "--disable-extensions",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="dunningd-chromium-")
    options.add_argument("--user-data-dir=" + profile)
    try:
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
    except BaseException:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    driver.dunning_profile = profile
    driver.set_page_load_timeout(20)
    driver.implicitly_wait(0)
    return driver, None


class ConsoleInBrowser(unittest.TestCase):
    """A real browser: an admin's round, then a finance user's report."""

    @classmethod
    def setUpClass(cls):
        cls.driver, why = _chromium_driver()
        if cls.driver is None:
            raise unittest.SkipTest(why)
        try:
            cls.live = ConsoleDaemon().start()
        except BaseException:
            cls.driver.quit()
            shutil.rmtree(cls.driver.dunning_profile, ignore_errors=True)
            raise
        cls.base = f"http://127.0.0.1:{cls.live.port}"
        os.makedirs(ARTIFACTS, exist_ok=True)
        cls.axe = None
        if os.path.exists(AXE_JS):
            with open(AXE_JS, encoding="utf-8") as f:
                cls.axe = f.read()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.driver.quit()
        finally:
            shutil.rmtree(cls.driver.dunning_profile, ignore_errors=True)
            cls.live.stop()

    # ---- helpers
    def find(self, css):
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css):
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def open(self, path):
        self.driver.get(self.base + path)

    def submit(self, css, timeout=10):
        """Clicks a submit button and waits for the next page to load."""
        old = self.find("html")
        self.find(css).click()
        wait_for(lambda: self._stale(old), timeout=timeout, what=f"the page after clicking {css}")
        wait_for(lambda: self.driver.execute_script("return document.readyState") == "complete",
                 timeout=10, what="the page to load")

    @staticmethod
    def _stale(element):
        """True once `element` has left the document. Chromium says so either as a stale
        reference or, when the old document is torn down mid-call, as an inspector error
        ("Node with given id does not belong to the document")."""
        from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
        try:
            element.tag_name
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            if "does not belong to the document" in str(e):
                return True
            raise

    def path(self):
        return urllib.parse.urlsplit(self.driver.current_url).path

    def page_checks(self, name):
        """Screenshot, then axe-core inside the page: no serious or critical violation."""
        self.driver.save_screenshot(os.path.join(ARTIFACTS, f"console-{name}.png"))
        if self.axe is None:
            print(f"\naxe-core not found at {AXE_JS}: accessibility check of {name} skipped")
            return
        self.driver.execute_script(self.axe)
        self.driver.set_script_timeout(20)
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations))"
            ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e),"
            " nodes: []}]));")
        bad = [f"{v['id']} ({v['impact']}): {v['help']} at "
               f"{[n.get('target') for n in v.get('nodes', [])][:3]}"
               for v in result if v.get("impact") in ("serious", "critical")]
        self.assertEqual(bad, [], f"accessibility violations on {name}")

    def sign_in(self, user, password):
        from selenium.webdriver.support.ui import Select
        Select(self.find("#user")).select_by_value(user)
        field = self.find("#password")
        field.clear()
        field.send_keys(password)
        self.submit("#sign-in")

    def healthz(self):
        status, _, body = self.live.daemon.request("GET", "/healthz", token=None)
        self.assertIn(status, (200, 503), body)
        return json.loads(body)

    # ---- the journeys
    def test_an_admins_round_and_a_finance_users_report(self):
        started = time.monotonic()
        live = self.live
        # Not signed in: the console sends the browser to the sign-in page.
        self.open("/ui/cases")
        self.assertEqual(self.path(), "/ui/login")
        self.page_checks("sign-in")
        self.sign_in("admin", "wrong password")
        self.assertIn("Wrong user or password", self.find('[role="alert"]').text)
        self.assertEqual(self.path(), "/ui/login")
        self.sign_in("admin", ADMIN_PASSWORD)
        self.assertEqual(self.path(), "/ui/cases")  # back where it was going
        self.assertEqual(self.find("#role").text, "admin")

        # Overview.
        self.open("/ui/")
        self.assertEqual(self.find("#open-cases").text, "2")
        pending = live.ws.sql("SELECT COUNT(*) FROM outbox WHERE state='pending'")[0][0]
        self.assertEqual(self.find("#outbox-depth").text, str(pending))
        # Cy paid a minute ago, before any step: recovered without contact, this month
        # (unless the month began in that minute).
        if (utc_now() - datetime.timedelta(minutes=2)).month == utc_now().month:
            self.assertIn("EUR", self.find("#month").text)
            self.assertIn("7.00 EUR (1)",
                          self.find('#month td[data-kind="recovered_without_contact"]').text)
        # This month's uplift and funnel: what `dunningd report` says of the cases opened this
        # month (read after the page: steps sent meanwhile can only add to it).
        month_start = utc_now().strftime("%Y-%m-01")
        month = json.loads(live.ws.run("report", "--format", "json", "--from", month_start).stdout)
        self.assertIn("holdout: no cases", self.find("#month-uplift").text)  # no holdout
        for row in self.find_all("#month-funnel tbody tr"):
            cells = [c.text for c in row.find_elements("css selector", "th, td")]
            if len(cells) == 1:
                self.assertIn("No step was sent yet", cells[0])
                continue
            steps = {str(st["step"]): st for st in month["funnel"][cells[0]]["steps"]}
            self.assertIn(cells[1], steps)
            self.assertEqual(cells[2], steps[cells[1]]["channel"])
            self.assertLessEqual(int(cells[4]), steps[cells[1]]["reached"])
        self.page_checks("overview")
        # The overview's status is /healthz's verdict, also with a channel paused for everyone
        # (what the dispatcher writes when the SMTP server refuses the credentials).
        self.assertEqual(self.find("#health-status").text, self.healthz()["status"])
        live.ws.sql("INSERT INTO channel_pauses(channel, reason, since, retry_at) VALUES "
                    "('email', '535 authentication failed', ?, ?)",
                    (iso_ago(minutes=5), iso(utc_now() + datetime.timedelta(days=1))))
        try:
            self.open("/ui/")
            self.assertEqual(self.healthz()["status"], "degraded")
            self.assertEqual(self.find("#health-status").text, "degraded")
            self.assertIn("535 authentication failed", self.find("main").text)
        finally:
            live.ws.sql("DELETE FROM channel_pauses")

        # Cases: filter, then page through.
        self.open("/ui/cases")
        self.assertEqual(len(self.find_all("#cases tbody tr")), 2)  # page_size: 2
        self.assertTrue(self.find_all("#next-page"))
        self.find("#next-page").click()
        wait_for(lambda: "after=" in self.driver.current_url, what="the next page")
        self.assertEqual(len(self.find_all("#cases tbody tr")), 1)
        self.open("/ui/cases")
        self.find("#f-decline").send_keys("stolen_card")
        self.submit("#apply-filters")
        rows = self.find_all("#cases tbody tr")
        self.assertEqual(len(rows), 1)
        self.assertIn("c-bo", rows[0].text)
        self.page_checks("cases")
        self.open("/ui/cases")
        self.find("#f-customer").send_keys("ANA@example.com")
        self.submit("#apply-filters")
        rows = self.find_all("#cases tbody tr")
        self.assertEqual(len(rows), 1)
        self.assertIn("c-ana", rows[0].text)

        # A case: its plan is the API's plan.
        case = live.case_id("c-ana")
        rows[0].find_element("css selector", "a").click()
        wait_for(lambda: self.path() == f"/ui/cases/{case}", what="the case page")
        status, _, body = live.daemon.request("GET", f"/v1/cases/{case}")
        api = json.loads(body)
        retry = self.find("#next-retry time")
        self.assertEqual(retry.get_attribute("datetime"), api["next_retry_at"])
        self.assertIn(api["plan"]["next_retry"]["why"], self.find("#next-retry").text)
        self.assertEqual(self.find("#next-contact time").get_attribute("datetime"),
                         api["next_contact_at"])
        self.assertIn("insufficient_funds", self.find("#facts").text)
        self.assertIn("opened", self.find("#timeline").text)
        self.page_checks("case")
        # On a phone: one column, nothing wider than the screen but the tables' own scrollers.
        self.driver.set_window_size(390, 844)
        try:
            self.assertLessEqual(self.driver.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth"), 0)
            self.driver.save_screenshot(os.path.join(ARTIFACTS, "console-case-phone.png"))
        finally:
            self.driver.set_window_size(1280, 1100)

        # Pause and resume it: the database changes.
        self.submit("#pause")
        self.assertEqual(self.find("#case-state").text, "paused")
        self.assertIn("paused", self.find('[role="status"]').text)
        self.assertEqual(live.state(case), "paused")
        self.assertEqual(self.find("#next-retry").text, "none planned")
        self.page_checks("case-paused")
        self.submit("#resume")
        self.assertEqual(live.state(case), "open")
        self.assertEqual(self.find("#case-state").text, "open")

        # Sequences: the running ones, and a pasted change with a mistake at line:column.
        self.open("/ui/sequences")
        self.assertIn("hard-decline", self.find("main").text)
        changed = SEQUENCES.replace("email: payment-failed}", "email: payment-faild}")
        field = self.find("#yaml")
        self.driver.execute_script("arguments[0].value = arguments[1];", field, changed)
        self.submit("#check")
        findings = self.find("#findings").text
        self.assertIn("payment-faild", findings)
        line = changed.splitlines().index(
            next(l for l in changed.splitlines() if "payment-faild" in l)) + 1
        self.assertRegex(findings, rf"\b{line}:\d+\b")
        changes = {row.find_element("css selector", "th").text: row
                   for row in self.find_all("#changes tbody tr")}
        self.assertEqual(set(changes), {"hard-decline", "soft-decline"})
        soft = changes["soft-decline"]
        self.assertEqual(soft.find_element("css selector", ".change").text, "changed")
        self.assertEqual(soft.find_element("css selector", "del").text,
                         "day 3d: email payment-failed")
        self.assertEqual(soft.find_element("css selector", "ins").text,
                         "day 3d: email payment-faild")
        self.assertEqual(changes["hard-decline"].find_element("css selector", ".change").text,
                         "unchanged")
        self.driver.execute_script("document.getElementById('findings-h').scrollIntoView()")
        self.page_checks("sequences-check")
        # A correct change, previewed over the last days beside the running rules.
        field = self.find("#yaml")
        self.driver.execute_script("arguments[0].value = arguments[1];", field, CHANGED_SEQUENCES)
        self.driver.execute_script(
            "document.getElementById('p-from').value = arguments[0];"
            "document.getElementById('p-to').value = arguments[1];",
            (utc_now() - datetime.timedelta(days=3)).strftime("%Y-%m-%d"),
            (utc_now() + datetime.timedelta(days=1)).strftime("%Y-%m-%d"))
        self.submit("#preview-button", timeout=120)
        rows = {row.find_element("css selector", "th").text: row
                for row in self.find_all("#preview tbody tr")}
        self.assertIn("everything", rows)
        self.assertNotEqual(
            rows["everything"].find_element(
                "css selector", 'td[data-side="changed"][data-key="cases"]').text, "0")
        self.driver.execute_script("document.getElementById('preview-h').scrollIntoView()")
        self.page_checks("sequences-preview")

        # Ledger rows.
        self.open("/ui/ledger")
        self.assertIn("recovered_without_contact", self.find("#ledger").text)
        self.page_checks("ledger")

        # Sign out; the console is closed again.
        self.submit('form[action="/ui/logout"] button')
        self.assertEqual(self.path(), "/ui/login")
        self.assertIn("signed out", self.find('[role="status"]').text)
        self.open("/ui/")
        self.assertEqual(self.path(), "/ui/login")

        # Finance: the report, figure by figure, against `dunningd report --format json`.
        self.sign_in("finance", FINANCE_PASSWORD)
        start = (utc_now() - datetime.timedelta(days=30)).strftime("%Y-%m-%d")
        end = (utc_now() + datetime.timedelta(days=1)).strftime("%Y-%m-%d")
        self.open("/ui/report")
        self.driver.execute_script(
            "document.getElementById('r-from').value = arguments[0];"
            "document.getElementById('r-to').value = arguments[1];", start, end)
        self.submit("#show-report")
        self.assertIn(f"from={start}", self.driver.current_url)
        cli = json.loads(live.ws.run("report", "--format", "json", "--from", start,
                                     "--to", end).stdout)
        cells = self.find_all("#totals td[data-key]")
        self.assertGreaterEqual(len(cells), 2 * 12)  # EUR and USD rows
        for cell in cells:
            key = cell.get_attribute("data-key")
            expected = cli
            for part in key.strip("/").split("/"):
                expected = expected[part]
            self.assertEqual(json.loads(cell.get_attribute("data-value")), expected, key)
        self.assertIn("holdout: no cases", self.find("#uplift").text)  # no holdout configured
        # The report's charts: recovered revenue per week for each currency that recovered any,
        # and a funnel for each sequence with a step sent.
        weekly = self.find_all("#charts svg.chart.weekly")
        self.assertEqual(sorted(w.get_attribute("aria-label").split()[-1] for w in weekly),
                         sorted(cli["weekly_recovered"]))
        funnels = self.find_all("#charts svg.chart.funnel")
        self.assertLessEqual(len(funnels), len(cli["funnel"]))
        for f in funnels:
            self.assertIn(f.get_attribute("aria-label").removeprefix("funnel of "), cli["funnel"])
        self.assertFalse(self.find_all("#pause"))
        self.page_checks("report")
        # The finance user sees no admin buttons on a case.
        self.open(f"/ui/cases/{case}")
        self.assertFalse(self.find_all("#pause"))
        self.assertFalse(self.find_all("#close"))
        print(f"\nbrowser journey took {time.monotonic() - started:.1f}s; "
              f"screenshots in {ARTIFACTS}")


if __name__ == "__main__":
    unittest.main()
