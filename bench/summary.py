"""``bench/results/SUMMARY.md``: the latest figures with their floors beside them, from the JSON results.

The same tables are meant for the README ("Performance"); every number comes from a result file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _load(folder: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def _sync_rows(results: dict[str, dict[str, Any]]) -> list[str]:
    rows = ["| invoices | changed | QBO calls (floor / naive) | CRM calls (floor / naive) | wall s (naive) "
            "| time under rate limits s (floor / naive) | peak RSS MB |",
            "|---:|---:|---|---|---|---|---:|"]
    keys = sorted((k for k in results if k.startswith("sync_")),
                  key=lambda k: (results[k]["parameters"]["invoices"], results[k]["parameters"]["changed_share"]))
    for key in keys:
        r = results[key]
        p, o, f, n = r["parameters"], r["ours"], r["floor"], r["naive"]
        naive_wall = f"{n['wall_seconds']}{'*' if n['extrapolated'] else ''}"
        rows.append(f"| {p['invoices']:,} | {p['changed_invoices']:,} ({p['changed_share']:.0%}) "
                    f"| **{o['qbo_calls']}** ({f['qbo_calls']} / {n['qbo_calls']:,}) "
                    f"| **{o['crm_calls']:,}** ({f['crm_calls']:,} / {n['crm_calls']:,}) "
                    f"| **{o['wall_seconds']}** ({naive_wall}) "
                    f"| **{o['rate_limited_seconds']}** ({f['rate_limited_seconds']} / {n['rate_limited_seconds']:,}) "
                    f"| {o['peak_rss_mb']} |")
    return rows


def _backlog(r: dict[str, Any]) -> list[str]:
    o, p = r["ours"], r["parameters"]
    return [f"- {o['invoiced']:,} won deals invoiced in {o['wall_seconds']} s with QBO time scaled x{p['time_scale']} "
            f"({o['invoices_per_minute_scaled']} invoices/min scaled, {o['qbo_429']} QBO 429s).",
            f"- {o['qbo_calls_per_invoice']} QBO requests per invoice (floor 1) → "
            f"**{o['invoices_per_minute_projected_real_limits']} invoices/min** under the real 500 requests/min "
            f"(floor **{r['floor']['invoices_per_minute']}**/min).",
            f"- {o['crm_calls_per_deal']} Pipedrive requests per deal: Pipedrive's 120 per 2 s alone caps this path at "
            f"{o['pipedrive_limited_invoices_per_minute']} invoices/min. Peak RSS {o['peak_rss_mb']} MB."]


def _latency(r: dict[str, Any]) -> list[str]:
    o = r["ours"]
    return [f"- {r['parameters']['deals']} deals won one at a time (Pipedrive webhook → receiver → "
            f"`run_deployment` → `dealbooks serve`): **p50 {o['p50_seconds']} s, p95 {o['p95_seconds']} s** "
            f"(max {o['max_seconds']} s). {r['parameters'].get('note', '')}".rstrip()]


def _faults(r: dict[str, Any]) -> list[str]:
    c = r["ours"]["check"]
    return [f"- {c['deals']:,} won deals through duplicate/out-of-order webhooks, a SIGKILLed worker, two workers "
            f"at once, QBO 5xx/timeouts/dropped-after-commit/429 storm/token expiry and CRM 5xx: "
            f"**{c['qbo_invoices']:,} invoices, {c['duplicates']} duplicates**, {c['linked']:,} linked, "
            f"{c['deals_written_back']:,} written back, {c['failed_records']} left failed; "
            f"{c['payments']} payments → {c['slack_alerts']} Slack alerts ({c['duplicate_alerts']} duplicates). "
            f"Phases (s): {r['ours']['seconds']}."]


def render(results: dict[str, dict[str, Any]]) -> str:
    """The summary markdown."""
    any_result = next(iter(results.values()), {})
    machine = any_result.get("machine", {})
    parts = ["# dealbooks benchmarks", "",
             f"Latest run: {machine.get('date', '-')} on {machine.get('cpus', '?')} CPUs "
             f"({machine.get('cpu_model', '')}), {machine.get('memory_mb', '?')} MB, Python {machine.get('python', '')}, "
             f"commit {machine.get('commit', '')}. Produced by `make bench` (`python -m bench`); the JSON next to "
             "this file holds every figure.", ""]
    if any(k.startswith("sync_") for k in results):
        parts += ["## Nightly status sync", "",
                  "Ours in bold, then (floor / naive). Floor = the fewest requests the APIs allow (one CDC response "
                  "up to 1000 objects, else query pages of 1000 per entity; HubSpot batches of 100; Pipedrive one "
                  "per changed deal) and the time those need under QBO 500/min, Pipedrive 120/2 s, HubSpot 190/10 s. "
                  "Naive = one `GET /invoice/{id}` per invoice and one CRM update per changed deal. "
                  "Wall times are measured with the sandbox's limits off; * = naive reads measured on a sample "
                  "(size in the JSON) and extrapolated. Our CRM calls include the timeline notes (one per status "
                  "change or payment) and the one-off field checks; the floor counts the field writes only. "
                  "Payment alerts are off in this benchmark.", ""]
        parts += _sync_rows(results) + [""]
    for key, title, render_fn in (("backlog_won_deals", "Backlog of won deals", _backlog),
                                  ("webhook_latency", "Webhook to invoice", _latency),
                                  ("fault_matrix", "Fault matrix", _faults)):
        if key in results:
            parts += [f"## {title}", ""] + render_fn(results[key]) + [""]
            notes = results[key].get("notes") or []
            parts += [f"  - {n}" for n in notes] + ([""] if notes else [])
    problems = {k: r["problems"] for k, r in results.items() if r.get("problems")}
    if problems:
        parts += ["## Problems seen in this run", ""] + [f"- {k}: {v}" for k, v in problems.items()] + [""]
    return "\n".join(parts)


def write_summary(folder: Path) -> Path:
    """Render ``folder/SUMMARY.md`` from the JSON results in ``folder``."""
    path = folder / "SUMMARY.md"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(render(_load(folder)))
    return path
