"""The README, run as a new user would: every fenced ```sh block, in order, in one shell, against
a temporary copy of the shipped config (its database, SMTP relay and HTTP port moved into a
sandbox on loopback). A block or line the walkthrough cannot run is listed below with the reason;
a new block the walkthrough does not know fails the test, so the README cannot drift from what
works. The ```text synopsis is checked against each subcommand's --help instead."""
import datetime
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from dunning_fixtures import (DUNNINGD, SOURCE_DIR, SmtpServer, free_port, process_env, script_env,
                              utc_now)

README = os.path.join(SOURCE_DIR, "README.md")

# Lines not run, each with the reason (matched against the line's start).
NOT_RUN = {
    "make demo": "install-deps + build + scripts/demo: the first two built this binary; "
                 "scripts/demo itself runs below (test_make_demo_runs_the_demo)",
    "make test": "the test suite this walkthrough is part of",
    "cmake -S . -B build": "configures and builds the tree this test runs from",
    "ctest --test-dir build": "runs the suite this test is part of",
    "(cd build && cpack -G DEB)": "packaging.deb_contents and packaging.lintian build the .deb",
}

# Blocks by their first line; every ```sh block of the README must be here.
KNOWN_BLOCKS = [
    "make demo",
    "dunningd check   --config /etc/dunningd/dunningd.yaml",
    "export DUNNINGD_API_TOKEN=",
    "export TOKEN=$DUNNINGD_API_TOKEN",
    "STRIPE_SECRET=",
    "cat > customers.csv",
    "curl -sS --fail-with-body -H \"Authorization: Bearer $TOKEN\" 'http://127.0.0.1:8088/v1/cases",
    "bash scripts/install-deps",
]


README_DAY = datetime.date(2026, 11, 24)


def shift_dates(line, days):
    """Every ISO 8601 date or UTC time in `line`, `days` later."""
    def later(m):
        day = datetime.date.fromisoformat(m.group(1)) + datetime.timedelta(days=days)
        return day.isoformat() + (m.group(2) or "")
    return re.sub(r"\b(20\d\d-[01]\d-[0-3]\d)(T\d\d:\d\d:\d\dZ)?\b", later, line)


def fenced_blocks(kind):
    with open(README, encoding="utf-8") as f:
        text = f.read()
    return [m.group(1) for m in re.finditer(r"^```" + kind + r"\n(.*?)^```$", text, re.S | re.M)]


class Readme(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dunningd-readme-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.smtp = SmtpServer().start()
        self.addCleanup(self.smtp.stop)
        self.port = free_port()
        # The shipped config, moved into the sandbox: what /etc/dunningd/dunningd.yaml would be.
        with open(os.path.join(SOURCE_DIR, "config", "dunningd.yaml"), encoding="utf-8") as f:
            cfg = f.read()
        for old, new in (("database: /var/lib/dunningd/dunningd.db",
                          f"database: {self.dir}/state/dunningd.db"),
                         ("sequences: sequences.yaml",
                          f"sequences: {SOURCE_DIR}/config/sequences.yaml"),
                         ("templates: /usr/share/dunningd/templates",
                          f"templates: {SOURCE_DIR}/templates"),
                         ("poll_interval: 30s", "poll_interval: 1s"),
                         ("url: smtp://127.0.0.1:25", f"url: smtp://127.0.0.1:{self.smtp.port}"),
                         ('listen: "127.0.0.1:8088"', f'listen: "127.0.0.1:{self.port}"')):
            self.assertIn(old, cfg, "the shipped config changed: update the walkthrough")
            cfg = cfg.replace(old, new)
        os.mkdir(os.path.join(self.dir, "state"))  # what the unit's StateDirectory= makes
        self.config = os.path.join(self.dir, "dunningd.yaml")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(cfg)
        # `dunningd` on PATH is the binary under test; the README's paths into the clone
        # (tests/fixtures/...) resolve from the working directory.
        bindir = os.path.join(self.dir, "bin")
        os.mkdir(bindir)
        env, dunningd = script_env()
        os.symlink(dunningd, os.path.join(bindir, "dunningd"))
        self.cwd = os.path.join(self.dir, "work")
        os.mkdir(self.cwd)
        for name in ("tests", "scripts"):
            os.symlink(os.path.join(SOURCE_DIR, name), os.path.join(self.cwd, name))
        self.env = dict(env, PATH=bindir + os.pathsep + env["PATH"])
        for secret in ("DUNNINGD_API_TOKEN", "DUNNINGD_STRIPE_SECRETS", "DUNNINGD_LINK_SECRET",
                       "DUNNINGD_SMTP_USER", "DUNNINGD_SMTP_PASSWORD", "CREDENTIALS_DIRECTORY"):
            self.env.pop(secret, None)  # the README sets what it needs

    # The README's examples read as if written on README_DAY; the walkthrough moves every date
    # in them by whole days to the day the daemon sees (so a case the README opens is still open
    # when it pauses it, whatever the calendar says).
    @property
    def days(self):
        return (utc_now().date() - README_DAY).days

    def script(self):
        """The README's sh blocks as one bash script, with the sandbox's paths and port, and the
        waits a person does by eye (the daemon answering; the case it opened)."""
        build_dir = os.path.dirname(DUNNINGD)
        blocks = fenced_blocks("sh")
        firsts = [b.splitlines()[0] for b in blocks]
        for first in firsts:
            self.assertTrue(any(first.startswith(k) for k in KNOWN_BLOCKS),
                            f"a README block the walkthrough does not know: {first!r}")
        self.assertEqual(len(blocks), len(KNOWN_BLOCKS), firsts)
        # Whatever happens, the daemon started in the background does not outlive the script
        # (its output pipes would keep the test waiting).
        lines = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT",
                 f"cd {self.cwd}"]
        ran = skipped = 0
        for n, block in enumerate(blocks, 1):
            lines.append(f"echo '=== README block {n}: {firsts[n - 1][:60]}' >&2")
            if block.startswith("curl -sS --fail-with-body -H \"Authorization"):
                # The payment.failed event opened case 1 at the daemon's next poll.
                lines.append('for _ in $(seq 100); do curl -sf -o /dev/null -H "Authorization: '
                             f'Bearer $TOKEN" http://127.0.0.1:{self.port}/v1/cases/1 && break; '
                             'sleep 0.1; done')
            pending = ""
            for line in block.splitlines():
                full = pending + line
                if line.endswith("\\"):
                    pending = full + "\n"
                    continue
                pending = ""
                reason = next((r for k, r in NOT_RUN.items() if full.startswith(k)), None)
                if reason:
                    lines.append(f"# not run: {full.splitlines()[0]} -- {reason}")
                    skipped += 1
                    continue
                full = (full.replace("/etc/dunningd/dunningd.yaml", self.config)
                        .replace("127.0.0.1:8088", f"127.0.0.1:{self.port}"))
                full = shift_dates(full, self.days)
                if full.startswith("cmake --install build"):
                    # As root into a staging root instead of /: the same files, nothing touched.
                    full = f"DESTDIR={self.dir}/root cmake --install {build_dir} >/dev/null"
                lines.append(full)
                ran += 1
                if re.match(r"dunningd run --config \S+ &", full):
                    lines.append('for _ in $(seq 150); do curl -s -o /dev/null '
                                 f'http://127.0.0.1:{self.port}/healthz && break; sleep 0.1; done')
                if full.startswith("kill %1"):
                    lines.append('wait %1; echo "daemon exit status $?" >&2')
        return "\n".join(lines) + "\n", ran, skipped

    def test_every_command_of_the_readme_runs_in_order(self):
        script, ran, skipped = self.script()
        with open(os.path.join(self.dir, "readme.sh"), "w", encoding="utf-8") as f:
            f.write(script)
        proc = subprocess.run(["bash", os.path.join(self.dir, "readme.sh")], capture_output=True,
                              text=True, timeout=240, env=self.env, cwd=self.cwd)
        out = proc.stdout + proc.stderr
        print(f"\nREADME walkthrough: {ran} lines run, {skipped} not run (reasons listed)")
        self.assertEqual(proc.returncode, 0, f"{out}\n--- script ---\n{script}")
        self.assertIn("daemon exit status 0", proc.stderr, out)
        # What the commands did, as the README says.
        self.assertRegex(proc.stdout, r": OK \(\d+ sequences\)")
        shifted_now = shift_dates("2026-11-24T09:00:00Z", self.days)
        self.assertIn(f"poll at {shifted_now}: nothing was due", proc.stdout)
        self.assertRegex(proc.stdout, r'"status":"accepted"')             # the event
        self.assertRegex(proc.stdout, r'"id":"evt_\w+","status":"accepted"')  # Stripe
        self.assertRegex(proc.stdout, r"customers\.csv: 1 rows, 1 changed, 0 rejected")
        self.assertIn('"state":"paused"', proc.stdout)
        self.assertIn("ledger verified", proc.stdout)
        self.assertIn("dunningd_build_info{", proc.stdout)
        self.assertRegex(proc.stdout, r"HTTP/1\.1 (404|410)")  # /r/TOKEN: not a real token
        with open(os.path.join(self.cwd, "report.html"), encoding="utf-8") as f:
            self.assertIn('name="viewport"', f.read())
        self.assertTrue(os.path.exists(os.path.join(self.dir, "root", "usr", "bin", "dunningd")))
        self.assertTrue(os.path.exists(os.path.join(
            self.dir, "root", "usr", "share", "doc", "dunningd", "examples", "stripe",
            "invoice.payment_failed.json")))
        self.assertTrue(os.path.exists(os.path.join(
            self.dir, "root", "usr", "share", "doc", "dunningd", "copyright")))

    def test_the_synopsis_names_real_subcommands_and_options(self):
        (synopsis,) = fenced_blocks("text")
        for line in synopsis.splitlines():
            m = re.match(r"dunningd (\w+)\s+(.*)", line)
            if not m:
                continue
            sub, rest = m.groups()
            words = [sub] + (["export"] if rest.startswith("export|verify") else [])
            proc = subprocess.run([DUNNINGD, *words, "--help"], capture_output=True, text=True,
                                  timeout=30, env=process_env())
            self.assertEqual(proc.returncode, 0, line)
            for option in re.findall(r"--[a-z][a-z-]*", rest):
                self.assertIn(option, proc.stdout, f"{line}: {option} is not an option of {sub}")

    def test_make_demo_runs_the_demo(self):
        env, dunningd = script_env()
        proc = subprocess.run(["bash", os.path.join(SOURCE_DIR, "scripts", "demo"), dunningd],
                              capture_output=True, text=True, timeout=240, env=env)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_docs_name_the_schema_version_that_added_the_card_change_triggers(self):
        with open(os.path.join(SOURCE_DIR, "docs", "integration.md"), encoding="utf-8") as f:
            stated = int(re.search(r"Triggers \(schema version (\d+)\)", f.read()).group(1))
        with open(os.path.join(SOURCE_DIR, "src", "store", "sqlite", "migrations.hpp"),
                  encoding="utf-8") as f:
            schema = f.read()
        at = schema.index("CREATE TRIGGER payment_methods_default_added")
        versions = [(m.start(), int(m.group(1)))
                    for m in re.finditer(r"// ---- version (\d+)", schema)]
        self.assertEqual(stated, max(v for pos, v in versions if pos < at))


if __name__ == "__main__":
    unittest.main()
