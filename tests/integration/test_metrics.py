"""/metrics of a live daemon, checked by Prometheus' own linter (`promtool check metrics`, Debian
package `prometheus`), and bounded against strangers: 2,000 unauthenticated requests with long
random paths neither add series nor grow the daemon's memory (route labels come from a fixed
table)."""
import random
import re
import shutil
import string
import subprocess
import unittest

from dunning_fixtures import (DUNNINGD, LiveDaemonCase, iso_ago, wait_for)

SEQUENCES = """
sequences:
  - id: any-failure
    trigger: payment_failed
    steps:
      - {at: 0h, email: payment-failed}
      - {at: 21d, action: cancel}
"""


def _built_with_asan():
    with open(DUNNINGD, "rb") as f:
        return b"libasan.so" in f.read()


ASAN = _built_with_asan()


def promtool():
    path = shutil.which("promtool")
    if not path:
        raise AssertionError("promtool is not installed (Debian package 'prometheus'; "
                             "scripts/install-deps installs it)")
    return path


def samples(text):
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))


class LiveMetrics(LiveDaemonCase):
    sequences = SEQUENCES

    def metrics(self):
        status, headers, body = self.daemon.request("GET", "/metrics", token=None)
        self.assertEqual(status, 200)
        self.assertIn("text/plain; version=0.0.4", headers.get("Content-Type", ""))
        return body.decode()

    def sent_total(self):
        m = re.search(r'^dunningd_messages_sent_total\{channel="email"\} (\S+)$', self.metrics(),
                      re.M)
        return float(m.group(1)) if m else None

    def test_promtool_finds_nothing_to_complain_about_and_outcomes_are_counters(self):
        before = self.metrics()
        # Series that exist before anything happened read 0 instead of being absent.
        self.assertIn('dunningd_messages_sent_total{channel="email"} 0\n', before)
        self.assertIn('dunningd_ticks_total{result="error"} 0\n', before)
        self.assertRegex(before, r'(?m)^dunningd_build_info\{version="\d+\.\d+\.\d+"\} 1$')
        # Something to count: a customer, a failed payment whose first step is due now, sent.
        for body in ({"id": "m-c1", "type": "customer.upserted", "occurred_at": iso_ago(hours=1),
                      "data": {"id": "cus-m1", "email": "m1@example.com", "name": "M One"}},
                     {"id": "m-p1", "type": "payment.failed", "occurred_at": iso_ago(hours=1),
                      "data": {"id": "pay-m1", "customer_id": "cus-m1", "invoice_id": "inv-m1",
                               "amount_minor": 1999, "currency": "EUR",
                               "decline_code": "insufficient_funds"}}):
            status, _, out = self.daemon.request("POST", "/v1/events", body)
            self.assertEqual(status, 202, out)
        wait_for(lambda: self.sent_total() == 1, timeout=20, what="the message counted as sent")
        self.daemon.request("GET", "/v1/cases/999", token=None)  # a 401 to count, too
        text = self.metrics()
        self.assertRegex(text, r'(?m)^dunningd_tick_duration_seconds_bucket\{le="\+Inf"\} [1-9]')
        self.assertIn("# TYPE dunningd_tick_duration_seconds histogram\n", text)
        self.assertIn('dunningd_cases_opened_total 1\n', text)
        self.assertIn('dunningd_http_requests_total{route="/v1/cases/{id}",status="401"} 1\n',
                      text)
        proc = subprocess.run([promtool(), "check", "metrics"], input=text, text=True,
                              capture_output=True, timeout=60)
        self.assertEqual((proc.returncode, proc.stdout + proc.stderr), (0, ""), text)

    def test_long_random_unauthenticated_paths_add_no_series_and_no_memory(self):
        import http.client
        rng = random.Random(14)
        alphabet = string.ascii_letters + string.digits + "-._~"

        def hammer(n):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
            statuses = set()
            try:
                for i in range(n):
                    junk = "".join(rng.choice(alphabet) for _ in range(6000))
                    path = ["/v1/" + junk, "/v1/cases/1/" + junk, "/" + junk,
                            "/v1/" + junk[:100] + "/" + junk[100:]][i % 4]
                    conn.request("GET", path)
                    resp = conn.getresponse()
                    resp.read()
                    statuses.add(resp.status)
                    if resp.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
            finally:
                conn.close()
            return statuses

        self.assertEqual(hammer(200), {401, 404})  # warm-up: buffers, allocator pools
        self.metrics()  # its own request is counted from the second read on
        series_before = len(samples(self.metrics()))
        rss_before = rss_kib(self.daemon.proc.pid)
        self.assertEqual(hammer(2000), {401, 404})
        text = self.metrics()
        rss_after = rss_kib(self.daemon.proc.pid)
        print(f"\n2,000 random paths: series {series_before} -> {len(samples(text))}, "
              f"/metrics {len(text)} bytes, RSS {rss_before} -> {rss_after} KiB")
        self.assertEqual(len(samples(text)), series_before)  # the same label sets, counted up
        self.assertLess(len(text), 32 * 1024)
        self.assertNotIn("xxx", text.lower().replace("_", ""))
        labels = set(re.findall(r'route="([^"]*)"', text))
        self.assertLessEqual(labels, {"/v1/events", "/v1/cases", "/v1/cases/{id}",
                                      "/v1/cases/{id}/{action}", "/v1/ledger",
                                      "/v1/webhooks/stripe", "/r/{token}", "/healthz",
                                      "/metrics", "/ui", "other"})
        if not ASAN:  # AddressSanitizer's quarantine keeps freed memory on purpose
            self.assertLess(rss_after - rss_before, 3 * 1024, "RSS grew by more than 3 MiB")


if __name__ == "__main__":
    unittest.main()
