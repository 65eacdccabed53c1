"""The fault matrix at large N (``bench/faultmatrix.py``): one run, its counts and timings as a result.

Runs in a child process with its own in-process sandbox (rate limits off, faults injected by the
scenario) and the benchmark's Prefect API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench.common import PYTHON, ROOT, peak_rss_mb


def run(deals: int) -> dict[str, Any]:
    """Run the scenario over ``deals`` won deals in a fresh process; returns the report."""
    env = dict(os.environ, PREFECT_LOGGING_LEVEL="WARNING")
    done = subprocess.run([PYTHON, "-m", "bench.fault_bench", str(deals)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=1500)
    if done.returncode != 0:
        raise RuntimeError(f"fault matrix child failed: {done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    facts = report["check"]
    problems = []
    if facts["deals_with_one_invoice"] != deals or facts["qbo_invoices"] != deals or facts["duplicates"]:
        problems.append("not exactly one invoice per deal")
    if facts["linked"] != deals or facts["failed_records"] or facts["deals_written_back"] != deals:
        problems.append("deals left unlinked, failed or not written back")
    if facts["slack_alerts"] != facts["payments"] or facts["duplicate_alerts"]:
        problems.append("payments not alerted exactly once")
    return {"parameters": {"deals": deals}, "ours": report, "floor": {"invoices": deals, "duplicates": 0,
                                                                       "alerts": facts["payments"]},
            "problems": problems}


def main(deals: int) -> None:
    """Child entry: sandbox + ledger + blocks, then every phase of the matrix."""
    from bench import faultmatrix
    from bench.common import save_blocks
    from dealbooks.sandbox.server import Sandbox
    from dealbooks.sandbox.state import SandboxOptions

    timings: dict[str, float] = {}
    with Sandbox(options=SandboxOptions(throttle=False, webhook_retry_delays=(0.2, 0.5, 1.0))) as sb, \
            tempfile.TemporaryDirectory(prefix="dealbooks-bench-") as tmp:
        ledger_url = f"sqlite:///{tmp}/ledger.db"
        os.environ["DEALBOOKS_LEDGER_URL"] = ledger_url
        m = faultmatrix.Matrix(sb, save_blocks(sb.config), ledger_url)
        steps = [("create_deals", lambda: faultmatrix.create_deals(m, deals)),
                 ("webhooks", lambda: m.report.__setitem__("work", faultmatrix.webhooks(m))),
                 ("killed", lambda: faultmatrix.killed_worker(m, m.report["work"][: deals // 2], deals // 8)),
                 ("faults", lambda: faultmatrix.two_workers(m, m.report["work"])),
                 ("rerun", lambda: faultmatrix.rerun(m)),
                 ("payments", lambda: m.report.__setitem__("paid", faultmatrix.payments(m))),
                 ("check", lambda: faultmatrix.check(m, m.report["paid"]))]
        for name, step in steps:
            started = time.perf_counter()
            step()
            timings[name] = round(time.perf_counter() - started, 1)
        m.report.pop("work")
    print(json.dumps({**m.report, "seconds": timings, "peak_rss_mb": peak_rss_mb()}, default=str))


if __name__ == "__main__":
    main(int(sys.argv[1]))
