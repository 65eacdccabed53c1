"""``python -m bench [--quick] [--only NAME ...]``: run the benchmarks, write ``bench/results/``.

Full run (``make bench``): nightly sync over 10,000 and 100,000 invoices with 1 % and 10 % changed,
a backlog of 5,000 won deals under the (time-scaled) QBO throttle, webhook-to-invoice latency
through served deployments, and the fault matrix over 250 won deals (issue 8 asks 1,000: that alone
takes about 16 minutes here, so the whole run would not fit 30 minutes on 2 cores; its phases scale
linearly with the deals). ``--quick`` runs the same code at small
sizes (a smoke test; its results go to ``bench/results/quick/`` so they never replace the real ones).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench import common

Plan = list[tuple[str, Callable[[], dict[str, Any]]]]


def plan(quick: bool, fault_deals: int | None = None) -> Plan:
    """The benchmark cases in run order: (result name, function returning the result document)."""
    from bench import backlog, fault_bench, latency, sync_bench

    sizes = [2_000] if quick else [10_000, 100_000]
    cases: Plan = [(f"sync_{n}", lambda n=n: sync_bench.run(n, [0.01, 0.10], min(n, 5_000))) for n in sizes]
    cases.append(("backlog_won_deals", lambda: backlog.run(300 if quick else 5_000, time_scale=20)))
    cases.append(("webhook_latency", lambda: latency.run(5 if quick else 12)))
    cases.append(("fault_matrix", lambda: fault_bench.run(fault_deals or (60 if quick else 250))))
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes; results in bench/results/quick/")
    parser.add_argument("--only", nargs="*", default=None, help="run only results whose name starts with these")
    parser.add_argument("--fault-deals", type=int, default=None,
                        help="won deals in the fault matrix (issue 8's 1,000: --only fault_matrix --fault-deals 1000)")
    args = parser.parse_args(argv)
    if args.quick:
        common.RESULTS = common.RESULTS / "quick"
    from bench.prefect_server import prefect_server
    from bench.summary import write_summary

    started = time.perf_counter()
    failures: list[str] = []
    with prefect_server():
        for name, run in plan(args.quick, args.fault_deals):
            if args.only and not any(name.startswith(prefix) for prefix in args.only):
                continue
            print(f"[bench] {name} ...", flush=True)
            case_start = time.perf_counter()
            try:
                result = run()
            except Exception:
                failures.append(name)
                traceback.print_exc()
                continue
            seconds = round(time.perf_counter() - case_start, 1)
            documents = result if name.startswith("sync_") else {name: result}
            for doc_name, doc in documents.items():
                doc["bench_seconds"] = seconds
                path = common.write_result(doc_name, doc)
                if doc.get("problems"):
                    failures.append(doc_name)
                    print(f"[bench] {doc_name}: problems {json.dumps(doc['problems'])}", flush=True)
                print(f"[bench] {doc_name} done ({seconds} s for the case) -> {path}", flush=True)
    summary = write_summary(common.RESULTS)
    print(f"[bench] summary: {summary}; total {time.perf_counter() - started:.0f} s", flush=True)
    if failures:
        print(f"[bench] FAILED: {failures}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
