"""Fixtures for integration tests: real SMTP servers, real SQLite files, the real dunningd binary.

Every server listens on 127.0.0.1 on a free port, every wait has a deadline, and every fixture
stops what it started (context managers).
"""
import asyncio
import datetime
import email
import email.policy
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
from contextlib import contextmanager

from aiosmtpd.controller import Controller

DUNNINGD = os.environ.get("DUNNINGD", "dunningd")
SOURCE_DIR = os.environ.get("DUNNING_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))


# ---- time: the tests never depend on the day they run
#
# A process under test gets its time either explicitly (`run --once --now T`) or from the real
# clock; in the second case the test's data is dated relative to `utc_now()`, never to a fixed
# calendar date. To prove it, CI runs the suite as if it were a later day:
# DUNNING_TEST_TIME_SHIFT=400d shifts `utc_now()` and, through libfaketime preloaded into every
# dunningd the tests start (never into Python itself: it breaks time.sleep), the daemon's clock.

def _parse_shift(text):
    """'40d', '400d13h' or '13h' -> timedelta (a later day, and another hour of it)."""
    import re
    m = re.fullmatch(r"\+?(?:(\d+)d)?(?:(\d+)h)?", text or "")
    if not m:
        raise ValueError(f"DUNNING_TEST_TIME_SHIFT={text!r}: expected days and hours, e.g. 400d13h")
    return datetime.timedelta(days=int(m.group(1) or 0), hours=int(m.group(2) or 0))


TIME_SHIFT = _parse_shift(os.environ.get("DUNNING_TEST_TIME_SHIFT", ""))
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
# Built by tests/CMakeLists.txt: keeps asio's monotonic timerfd deadlines away from libfaketime.
TIMERFD_SHIM = os.environ.get("DUNNING_TIMERFD_SHIM", "")


def utc_now():
    """The time the processes under test see: the real UTC time, plus the CI's shift."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + TIME_SHIFT


def iso(dt):
    """ISO 8601 UTC, the form of the payments tables: 2026-11-22T10:00:00Z."""
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ago(**delta):
    """`utc_now()` minus a timedelta, as ISO 8601: iso_ago(hours=2)."""
    return iso(utc_now() - datetime.timedelta(**delta))


def unix_now():
    """Seconds since the epoch as the processes under test see them (Stripe's `t=`, link expiry)."""
    return int(time.time() + TIME_SHIFT.total_seconds())


def process_env(extra=None, base=None):
    """The environment for a dunningd process: `base` (default os.environ) plus `extra`, with
    libfaketime preloaded when the suite runs shifted."""
    env = dict(os.environ if base is None else base)
    env.update(extra or {})
    if TIME_SHIFT:
        for lib in (TIMERFD_SHIM, FAKETIME_LIB):
            if not os.path.exists(lib):
                raise AssertionError(f"DUNNING_TEST_TIME_SHIFT needs {lib or 'DUNNING_TIMERFD_SHIM'}")
        env["LD_PRELOAD"] = f"{TIMERFD_SHIM}:{FAKETIME_LIB}"  # the shim first: it must win
        env["FAKETIME"] = f"+{int(TIME_SHIFT.total_seconds())}"  # seconds
        env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"  # timers and timeouts run at the real rate
        env["FAKETIME_DONT_RESET"] = "1"
    return env


_SHIFTED_BIN = None


def script_env(extra=None):
    """The environment for a shell script that runs dunningd (the demo, the README's commands).

    Shifted, the shell itself is not preloaded: libfaketime shares its clock with the children
    of a preloaded process, and a child started after that process exited fails. Instead PATH
    starts with wrappers for `dunningd`, `date` (a script signs Stripe's `t=` with it) and
    `sqlite3` (it dates rows 'now') that preload the shifted clock into those only. Returns (env, dunningd) — the binary a script
    should be given."""
    global _SHIFTED_BIN
    env = dict(os.environ)
    env.update(extra or {})
    if not TIME_SHIFT:
        return env, DUNNINGD
    if _SHIFTED_BIN is None:
        _SHIFTED_BIN = tempfile.mkdtemp(prefix="dunningd-shifted-bin-")
        preload = {k: v for k, v in process_env(base={}).items()}
        exports = " ".join(f"{k}='{v}'" for k, v in sorted(preload.items()))
        for name, real in (("dunningd", DUNNINGD), ("date", shutil.which("date")),
                           ("sqlite3", shutil.which("sqlite3"))):
            path = os.path.join(_SHIFTED_BIN, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(f"#!/bin/sh\nexec env {exports} {real} \"$@\"\n")
            os.chmod(path, 0o755)
    env["PATH"] = _SHIFTED_BIN + os.pathsep + env.get("PATH", "")
    return env, os.path.join(_SHIFTED_BIN, "dunningd")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")


class _Recorder:
    """aiosmtpd handler that keeps every accepted message, or answers with scripted failures."""

    def __init__(self):
        self.messages = []        # list of (envelope_from, [rcpts], email.message.EmailMessage)
        self.raw = []
        self.lock = threading.Lock()
        self.rcpt_reply = {}      # address -> SMTP reply string for RCPT (e.g. "550 no such user")
        self.data_replies = []    # replies for the next DATA commands, consumed in order
        self.data_delay = 0.0     # seconds to wait after recording a message, before replying
        self.sessions = []        # per accepted message: {"tls": version or None, "login": bytes,
        #                           "ehlo": the name the client greeted with}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_reply.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.data_replies:
                return self.data_replies.pop(0)
            raw = envelope.original_content or envelope.content
            self.raw.append(raw)
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
            tls = server.transport.get_extra_info("ssl_object") if server.transport else None
            login = getattr(session.auth_data, "login", None) if session.authenticated else None
            self.sessions.append({"tls": tls.version() if tls else None, "login": login,
                                  "ehlo": session.host_name})
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        return "250 Message accepted"


class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it accepts. Keyword
    arguments go to aiosmtpd's Controller: ssl_context (implicit TLS), tls_context and
    require_starttls (STARTTLS), authenticator, auth_required, auth_require_tls..."""

    def __init__(self, port=None, **controller_kwargs):
        self.port = port or free_port()
        self.handler = _Recorder()
        self._controller = None
        self._kwargs = controller_kwargs

    def start(self):
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                      **self._kwargs)
        self._controller.start()
        return self

    def stop(self):
        if self._controller:
            self._controller.stop()
            self._controller = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def messages(self):
        with self.handler.lock:
            return list(self.handler.messages)


class HttpServer:
    """A real HTTP server (http.server) on 127.0.0.1 that records every POST and answers with
    `reply(path, json_body) -> (status, dict)` (default: 200 {"ok": true})."""

    def __init__(self, reply=None):
        import http.server
        import json as _json
        self.requests = []  # (path, headers dict, raw body bytes, parsed json or None)
        self.lock = threading.Lock()
        self.reply = reply or (lambda path, body: (200, {"ok": True}))
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = _json.loads(raw)
                except ValueError:
                    body = None
                with outer.lock:
                    outer.requests.append((self.path, dict(self.headers), raw, body))
                status, answer = outer.reply(self.path, body)
                data = _json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._thread = None

    def posts(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r[0] == path]


def self_signed_certificate(directory):
    """A throwaway self-signed certificate for 127.0.0.1 (openssl CLI): (cert.pem, key.pem).
    The certificate is its own CA, so it is also what a client trusts (smtp.ca_file). It is
    issued at the time dunningd sees (openssl runs in the same shifted clock)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60,
                   env=process_env())  # valid from the daemon's now, shifted or not
    return cert, key


SMTP_SINK = "/usr/sbin/smtp-sink"


class SmtpSink:
    """Postfix's smtp-sink on 127.0.0.1 with optional fault injection (see ENVIRONMENT.md):
    soft=-r (4xx), hard=-f (5xx), drop_421=-Q (421 and disconnect), drop=-q (disconnect without
    a reply), each a comma list of commands (CONNECT, EHLO, MAIL, RCPT, DATA, ., ...). With
    dump=True every accepted message is written to its own file in self.dir."""

    def __init__(self, port=None, soft="", hard="", drop_421="", drop="", dump=True):
        self.port = port or free_port()
        self.args = []
        for flag, cmds in (("-r", soft), ("-f", hard), ("-Q", drop_421), ("-q", drop)):
            if cmds:
                self.args += [flag, cmds]
        self.dump = dump
        self.dir = tempfile.mkdtemp(prefix="dunningd-sink-")
        os.chmod(self.dir, 0o777)  # smtp-sink writes as nobody
        self.proc = None

    def start(self):
        cmd = [SMTP_SINK, *self.args]
        if self.dump:
            cmd += ["-d", os.path.join(self.dir, "%Y%m%d%H%M%S.")]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        cmd += [f"127.0.0.1:{self.port}", "100"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError(f"smtp-sink exited: {self.proc.stderr.read()!r}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False
        wait_for(listening, timeout=10, what="smtp-sink to listen")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def messages(self):
        """Every dumped message, parsed."""
        out = []
        for name in sorted(os.listdir(self.dir)):
            with open(os.path.join(self.dir, name), "rb") as f:
                raw = f.read()
            # The dump starts with smtp-sink's own envelope lines (X-Client-Addr...).
            out.append(email.message_from_bytes(raw, policy=email.policy.default))
        return out


class Workspace:
    """A temp folder holding a config, a sequences file and a SQLite database."""

    def __init__(self, smtp_port, sequences=None, extra_config="", log_level="info"):
        self.dir = tempfile.mkdtemp(prefix="dunningd-test-")
        self.config = os.path.join(self.dir, "dunningd.yaml")
        self.db_path = os.path.join(self.dir, "dunningd.db")
        seq_path = os.path.join(self.dir, "sequences.yaml")
        if sequences is None:
            shutil.copy(os.path.join(SOURCE_DIR, "config", "sequences.yaml"), seq_path)
        else:
            with open(seq_path, "w", encoding="utf-8") as f:
                f.write(sequences)
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(f"""database: dunningd.db
sequences: sequences.yaml
templates: {os.path.join(SOURCE_DIR, 'templates')}
default_locale: en
poll_interval: 1s
log_level: {log_level}
company:
  name: Example Ltd
  support_email: support@example.com
  update_url: https://billing.example.com/update?customer={{customer}}&case={{case}}
smtp:
  url: smtp://127.0.0.1:{smtp_port}/dunningd.test
  from: Example Billing <billing@example.com>
  timeout: 5s
outbox:
  retry_base: 60s
  retry_max: 1h
  give_up_after: 3d
{extra_config}""")

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    env = None  # extra environment variables for every run (secrets)

    def run(self, *args, timeout=60, check=True):
        cmd = [DUNNINGD, *args]
        if "--config" not in args and args and args[0] in (
                "run", "check", "report", "migrate", "cases", "ledger", "preview"):
            cmd[2:2] = ["--config", self.config]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=process_env(self.env))
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr}")
        return proc

    def tick(self, now):
        """One `dunningd run --once` at virtual time `now` (ISO 8601)."""
        return self.run("run", "--once", "--now", now)

    def db(self):
        return sqlite3.connect(self.db_path, timeout=10)

    def sql(self, statement, params=()):
        with self.db() as conn:
            return conn.execute(statement, params).fetchall()

    def add_customer(self, cid, email_addr, name="", locale="en", tz="Europe/Zagreb"):
        self.sql("INSERT INTO customers(id, email, name, locale, time_zone) VALUES (?,?,?,?,?)",
                 (cid, email_addr, name, locale, tz))

    def add_payment(self, pid, customer, invoice, amount_minor, currency, status, occurred_at,
                    decline_code=None, subscription=None):
        self.sql("INSERT INTO payments(id, customer_id, subscription_id, invoice_id, amount_minor,"
                 " currency, status, decline_code, occurred_at) VALUES (?,?,?,?,?,?,?,?,?)",
                 (pid, customer, subscription, invoice, amount_minor, currency, status,
                  decline_code, occurred_at))


def text_part(msg):
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part else ""


def html_part(msg):
    part = msg.get_body(preferencelist=("html",))
    return part.get_content() if part else ""


# ---- the HTTP doors of `dunningd run`

API_TOKEN = "test-token-0123456789"
STRIPE_SECRETS = "whsec_new_secret,whsec_old_secret"
LINK_SECRET = "link-secret-for-tests"


def http_config(port, extra="", max_connections=64, timeout="10s"):
    return f"""http:
  listen: "127.0.0.1:{port}"
  max_body: 64KiB
  max_connections: {max_connections}
  timeout: {timeout}
  token_env: DUNNINGD_TEST_API_TOKEN
  stripe_secrets_env: DUNNINGD_TEST_STRIPE_SECRETS
links:
  secret_env: DUNNINGD_TEST_LINK_SECRET
{extra}"""


class Daemon:
    """`dunningd run` (poll + HTTP) on a free loopback port; stopped with SIGTERM."""

    def __init__(self, workspace, port):
        self.ws = workspace
        self.port = port
        self.proc = None
        self.log_path = os.path.join(workspace.dir, "daemon.log")

    def start(self):
        env = process_env({"DUNNINGD_TEST_API_TOKEN": API_TOKEN,
                           "DUNNINGD_TEST_STRIPE_SECRETS": STRIPE_SECRETS,
                           "DUNNINGD_TEST_LINK_SECRET": LINK_SECRET,
                           **(self.ws.env or {})})
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([DUNNINGD, "run", "--config", self.ws.config],
                                     stdout=self._log, stderr=subprocess.STDOUT, env=env)
        import http.client

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"dunningd exited {self.proc.returncode}:\n{self.log()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
                return True
            except OSError:
                return False
        wait_for(up, timeout=15, what="dunningd HTTP to answer")
        return self

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(15)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                raise AssertionError("dunningd did not stop on SIGTERM within 20s")
        if self.proc:
            self._log.close()
        return self.proc.returncode if self.proc else None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def request(self, method, path, body=None, headers=None, token=API_TOKEN):
        """Returns (status, headers dict, body bytes). `body` may be bytes, str or a dict."""
        import http.client
        import json as _json
        h = dict(headers or {})
        if token is not None:
            h.setdefault("Authorization", f"Bearer {token}")
        if isinstance(body, dict):
            body = _json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()


def stripe_signature(body, secret, t=None):
    import hashlib
    import hmac
    t = unix_now() if t is None else t
    if isinstance(body, str):
        body = body.encode("utf-8")
    sig = hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={sig}"


def db_dump(path, tables=None):
    """Every row of every table (or of `tables` only), as text: to compare the database before
    and after."""
    with sqlite3.connect(path, timeout=10) as conn:
        if tables is None:
            return "\n".join(conn.iterdump())
        return "\n".join(f"{t}: {row!r}" for t in tables
                         for row in conn.execute(f"SELECT * FROM {t} ORDER BY rowid"))


# The tables the HTTP doors write (events and the facts they carry, clicks). A live daemon's own
# poll changes the others (cases, outbox, timeline, cursors) at any moment: a test of what a
# refused request did not write compares these.
DOOR_TABLES = ("events", "customers", "payment_methods", "subscriptions", "payments", "clicks",
               "stripe_attempts")


class LiveDaemonCase(unittest.TestCase):
    """One SMTP server, one workspace and one `dunningd run` with HTTP on loopback, shared by
    the tests of the class. A subclass sets `sequences` (the YAML text; None: the shipped
    ones). The daemon must exit 0 when the class is done."""
    sequences = None

    @classmethod
    def setUpClass(cls):
        cls.smtp = SmtpServer().start()
        cls.port = free_port()
        cls.ws = Workspace(cls.smtp.port, cls.sequences, http_config(cls.port))
        cls.daemon = Daemon(cls.ws, cls.port).start()

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.daemon.stop()
            assert rc == 0, f"dunningd exited {rc}:\n{cls.daemon.log()}"
        finally:
            cls.smtp.stop()
            cls.ws.cleanup()
