"""SMTP with TLS and AUTH against a real aiosmtpd on 127.0.0.1 with a throwaway self-signed
certificate (trusted through smtp.ca_file): STARTTLS required + AUTH with credentials from the
environment or a systemd credential file, implicit TLS (smtps://), and the refusals that pause
the email channel for everyone (wrong password, no STARTTLS, an untrusted certificate)."""
import os
import shutil
import ssl
import tempfile
import unittest

from aiosmtpd.smtp import AuthResult

from dunning_fixtures import SmtpServer, Workspace, self_signed_certificate

SEQUENCES = """
sequences:
  - id: hard
    trigger: payment_failed
    match: {decline: hard}
    steps:
      - {at: 0h, email: update-card}
defaults:
  send_window: {from: "00:00", to: "24:00", days: [sun, mon, tue, wed, thu, fri, sat]}
"""
START = "2026-11-02T10:00:00Z"
USER = "dunningd-relay"
PASSWORD = "correct horse battery staple"
USER_ENV = "DUNNINGD_TEST_SMTP_USER"
PASSWORD_ENV = "DUNNINGD_TEST_SMTP_PASSWORD"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    # handled=False: aiosmtpd itself answers a failure with 535.
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class TlsAndAuth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = tempfile.mkdtemp(prefix="dunningd-certs-")
        cls.cert, cls.key = self_signed_certificate(cls.certs)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certs, ignore_errors=True)

    def server_context(self):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def server(self, **kwargs):
        s = SmtpServer(**kwargs).start()
        self.addCleanup(s.stop)
        return s

    def starttls_server(self):
        """STARTTLS required before anything, AUTH required and offered only under TLS."""
        return self.server(tls_context=self.server_context(), require_starttls=True,
                           auth_required=True, auth_require_tls=True,
                           authenticator=authenticator)

    def workspace(self, port, scheme="smtp", require_tls=True, ca_file=True, env=None):
        ws = Workspace(port, SEQUENCES)
        self.addCleanup(ws.cleanup)
        with open(ws.config, encoding="utf-8") as f:
            cfg = f.read()
        cfg = cfg.replace(f"  url: smtp://127.0.0.1:{port}/",
                          f"  url: {scheme}://127.0.0.1:{port}/")
        smtp = (f"  timeout: 5s\n  require_tls: {'true' if require_tls else 'false'}\n"
                f"  username_env: {USER_ENV}\n  password_env: {PASSWORD_ENV}\n")
        if ca_file:
            smtp += f"  ca_file: {self.cert}\n"
        cfg = cfg.replace("  timeout: 5s\n", smtp)
        with open(ws.config, "w", encoding="utf-8") as f:
            f.write(cfg)
        ws.env = env
        ws.run("migrate")
        ws.add_customer("cus_1", "ana@example.com", name="Ana Horvat")
        ws.add_payment("py_1", "cus_1", "in_1", 1250, "EUR", "failed", START,
                       decline_code="expired_card")
        return ws

    def outbox(self, ws):
        return ws.sql("SELECT state, last_error FROM outbox ORDER BY id")

    def assert_delivered_over_tls_as(self, ws, server, login):
        ws.tick("2026-11-02T10:01:00Z")
        self.assertEqual([r[0] for r in self.outbox(ws)], ["sent"], self.outbox(ws))
        self.assertEqual(len(server.messages), 1)
        _, rcpts, msg = server.messages[0]
        self.assertEqual(rcpts, ["ana@example.com"])
        self.assertEqual(msg["Message-ID"], "<dunningd.case-1.step-0@example.com>")
        (session,) = server.handler.sessions
        self.assertTrue(session["tls"] and session["tls"].startswith("TLS"), session)
        self.assertEqual(session["login"], login)

    def assert_paused_without_blaming_anyone(self, ws, proc, server, reason):
        self.assertIn("PAUSED", proc.stderr)
        self.assertEqual(server.messages, [])
        rows = self.outbox(ws)
        self.assertEqual([r[0] for r in rows], ["pending"], rows)
        ((channel, why),) = ws.sql("SELECT channel, reason FROM channel_pauses")
        self.assertEqual(channel, "email")
        self.assertIn(reason, why)
        self.assertEqual(ws.sql("SELECT COUNT(*) FROM contact_status"), [(0,)])
        self.assertEqual(ws.sql("SELECT state FROM cases"), [("open",)])

    def test_starttls_and_auth_with_credentials_from_the_environment_deliver(self):
        server = self.starttls_server()
        ws = self.workspace(server.port, env={USER_ENV: USER, PASSWORD_ENV: PASSWORD})
        self.assertNotIn(USER_ENV, os.environ)
        self.assert_delivered_over_tls_as(ws, server, USER.encode())

    def test_credentials_from_a_systemd_credential_file_deliver_too(self):
        server = self.starttls_server()
        creds = tempfile.mkdtemp(prefix="dunningd-creds-")
        self.addCleanup(shutil.rmtree, creds, True)
        with open(os.path.join(creds, USER_ENV), "w", encoding="utf-8") as f:
            f.write(USER + "\n")  # systemd-creds and editors leave a final newline
        with open(os.path.join(creds, PASSWORD_ENV), "w", encoding="utf-8") as f:
            f.write(PASSWORD)
        ws = self.workspace(server.port, env={"CREDENTIALS_DIRECTORY": creds})
        self.assertNotIn(PASSWORD_ENV, os.environ)
        self.assert_delivered_over_tls_as(ws, server, USER.encode())

    def test_a_wrong_password_pauses_email_for_everyone_and_blames_no_customer(self):
        server = self.starttls_server()
        ws = self.workspace(server.port, env={USER_ENV: USER, PASSWORD_ENV: "wrong"})
        proc = ws.tick("2026-11-02T10:01:00Z")
        self.assert_paused_without_blaming_anyone(ws, proc, server, "authentication failed")
        # The password is fixed; after the pause (retry_max 1h) the step goes out.
        ws.env = {USER_ENV: USER, PASSWORD_ENV: PASSWORD}
        ws.tick("2026-11-02T10:30:00Z")
        self.assertEqual(server.messages, [])
        ws.tick("2026-11-02T11:05:00Z")
        self.assertEqual([r[0] for r in self.outbox(ws)], ["sent"])
        self.assertEqual(ws.sql("SELECT COUNT(*) FROM channel_pauses"), [(0,)])

    def test_require_tls_against_a_server_without_starttls_sends_nothing_in_clear(self):
        server = self.server()  # plain SMTP, no STARTTLS, no AUTH
        ws = self.workspace(server.port, env={USER_ENV: USER, PASSWORD_ENV: PASSWORD})
        proc = ws.tick("2026-11-02T10:01:00Z")
        self.assert_paused_without_blaming_anyone(ws, proc, server,
                                                  "STARTTLS required but not available")

    def test_implicit_tls_smtps_delivers(self):
        # Under implicit TLS aiosmtpd does not count the connection as "TLS" for
        # auth_require_tls (that flag follows STARTTLS only), so AUTH is required without it.
        server = self.server(ssl_context=self.server_context(), auth_required=True,
                             auth_require_tls=False, authenticator=authenticator)
        ws = self.workspace(server.port, scheme="smtps", require_tls=False,
                            env={USER_ENV: USER, PASSWORD_ENV: PASSWORD})
        self.assert_delivered_over_tls_as(ws, server, USER.encode())

    def test_a_certificate_not_trusted_pauses_email_and_is_never_accepted(self):
        # Without smtp.ca_file the system store does not know the self-signed certificate.
        server = self.server(ssl_context=self.server_context())
        ws = self.workspace(server.port, scheme="smtps", ca_file=False,
                            env={USER_ENV: USER, PASSWORD_ENV: PASSWORD})
        proc = ws.tick("2026-11-02T10:01:00Z")
        self.assert_paused_without_blaming_anyone(ws, proc, server, "certificate is not trusted")

    def test_a_missing_ca_file_is_a_config_error_with_its_position(self):
        ws = Workspace(1, SEQUENCES)
        self.addCleanup(ws.cleanup)
        with open(ws.config, encoding="utf-8") as f:
            cfg = f.read()
        with open(ws.config, "w", encoding="utf-8") as f:
            f.write(cfg.replace("  timeout: 5s\n", "  timeout: 5s\n  ca_file: no/such-ca.pem\n"))
        proc = ws.run("check", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(f"{ws.config}:", proc.stderr + proc.stdout)
        self.assertIn(":15:12: error: 'smtp.ca_file': no such file", proc.stderr + proc.stdout)


if __name__ == "__main__":
    unittest.main()
