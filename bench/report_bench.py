#!/usr/bin/python3
"""Report generation over a generated ledger: time and peak memory (max RSS) of
`dunningd report --format json` and `dunningd ledger export`, against a ceiling measured in the
same run — the sqlite3 shell streaming the same case⋈ledger rows (what any report must read).

Usage: bench/report_bench.py [BUILD_DIR/dunningd] [N_CASES ...]   (default 10000 100000)
Prints one line per size; flat memory shows as the same max RSS for 10k and 100k cases.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
os.environ.setdefault("DUNNING_SOURCE_DIR", os.path.join(HERE, ".."))
DUNNINGD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1
                           else os.path.join(HERE, "..", "build", "dunningd"))
os.environ["DUNNINGD"] = DUNNINGD  # read by dunning_fixtures at import

import ledger_data  # noqa: E402
from dunning_fixtures import Workspace  # noqa: E402


def timed(cmd):
    """(CPU seconds (user + system), max RSS in KiB) of one run under /usr/bin/time -v.
    CPU time, not wall time: the machine is shared and wall time swings with its load."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=True)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    cpu = sum(float(re.search(rf"{k} time \(seconds\): ([\d.]+)", proc.stderr).group(1))
              for k in ("User", "System"))
    return cpu, rss


def main():
    dunningd = DUNNINGD
    sizes = [int(a) for a in sys.argv[2:]] or [10000, 100000]
    for n in sizes:
        ws = Workspace(25)
        try:
            ws.run("migrate")
            t0 = time.monotonic()
            with ws.db() as conn:
                data = ledger_data.generate(conn, n, seed=1, span_days=365)
            gen = time.monotonic() - t0
            rows = len(data["ledger"])
            del data
            args = ["--config", ws.config, "--from", "2026-01-01", "--to", "2028-01-01"]
            report_s, report_rss = timed([dunningd, "report", "--format", "json", *args])
            html_s, html_rss = timed([dunningd, "report", "--format", "html", "--by", "week", *args])
            export_s, export_rss = timed([dunningd, "ledger", "export", "--config", ws.config])
            verify_s, verify_rss = timed([dunningd, "ledger", "verify", "--config", ws.config])
            ceiling_s, _ = timed(["sqlite3", ws.db_path,
                                  "SELECT c.*, l.* FROM cases c LEFT JOIN ledger l ON "
                                  "l.case_id = c.id AND l.kind <> 'correction' ORDER BY c.id"])
            print(f"cases={n} ledger_rows={rows} (generated in {gen:.1f}s) | "
                  f"CPU time: report json {report_s:.2f}s {report_rss / 1024:.1f} MiB | "
                  f"report html --by week {html_s:.2f}s {html_rss / 1024:.1f} MiB | "
                  f"ledger export {export_s:.2f}s {export_rss / 1024:.1f} MiB | "
                  f"ledger verify {verify_s:.2f}s {verify_rss / 1024:.1f} MiB | "
                  f"sqlite3 scan ceiling {ceiling_s:.2f}s → report/ceiling "
                  f"{report_s / ceiling_s:.1f}x", flush=True)
        finally:
            ws.cleanup()


if __name__ == "__main__":
    main()
