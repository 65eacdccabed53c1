"""``prefect.yaml`` for a work pool, written from the same deployments ``dealbooks serve`` serves.

``dealbooks deployments render`` writes it with the schedules, timezone and cadence of an
``InvoiceSettings`` block, so a work-pool setup never drifts from ``serve`` (the repository's own
``prefect.yaml`` is this render with the default settings; a test keeps it so).
"""

from __future__ import annotations

from typing import Any

import yaml

from dealbooks.blocks import InvoiceSettings
from dealbooks.deployments.serve import build_deployments

HEADER = """\
# dealbooks deployments for a work pool: the deployments `dealbooks serve` serves
# (dealbooks/deployments/serve.py). Written by `dealbooks deployments render`{source}.
#
#   prefect work-pool create {pool} --type process
#   prefect --no-prompt deploy --all
#   prefect worker start --pool {pool}        # as many as you like, on as many machines
#
# Entrypoints are module paths: the worker imports the installed `dealbooks` package, so no code
# is pulled. Docker / Kubernetes pools: see "Work pools" in the README (other `work_pool` values).
"""


def module_entrypoint(entrypoint: str) -> str:
    """``dealbooks/flows/status_sync.py:status_sync`` → ``dealbooks.flows.status_sync.status_sync``."""
    path, _, name = entrypoint.partition(":")
    if not name:
        return entrypoint
    module = path.removesuffix(".py").replace("\\", "/")
    module = module[module.rfind("dealbooks/"):] if "dealbooks/" in module else module
    return f"{module.replace('/', '.')}.{name}"


def _schedule(schedule: Any) -> dict[str, Any]:
    if getattr(schedule, "cron", None):
        return {"cron": schedule.cron, "timezone": schedule.timezone}
    return {"interval": int(schedule.interval.total_seconds()), "timezone": schedule.timezone}


def _deployment(deployment: Any, pool: str, queue: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": deployment.name,
        "entrypoint": module_entrypoint(deployment.entrypoint),
        "description": deployment.description,
        "tags": list(deployment.tags),
        "work_pool": {"name": pool, "work_queue_name": queue, "job_variables": {}},
    }
    if deployment.parameters:
        entry["parameters"] = dict(deployment.parameters)
    if deployment.concurrency_limit:
        entry["concurrency_limit"] = {"limit": deployment.concurrency_limit,
                                      "collision_strategy": deployment.concurrency_options.collision_strategy.value}
    if deployment.schedules:
        entry["schedules"] = [_schedule(s.schedule) for s in deployment.schedules]
    if deployment.triggers:
        entry["triggers"] = [{"type": "event", "name": t.name, "enabled": True, "expect": sorted(t.expect),
                              "match": t.match.model_dump(mode="json"), "parameters": dict(t.parameters or {})}
                             for t in deployment.triggers]
    return entry


def render(settings: InvoiceSettings | None = None, *, pool: str = "dealbooks", queue: str = "default",
           blocks: dict[str, str] | None = None, source: str = "") -> str:
    """The ``prefect.yaml`` text for ``settings`` (defaults when None).

    Args:
        settings: schedules, timezone and cadence.
        pool: the work pool the deployments run on.
        queue: its work queue.
        blocks: block names passed to every flow, as with ``dealbooks serve --block``.
        source: where the settings came from, for the header comment.
    """
    deployments = build_deployments(settings or InvoiceSettings(), blocks=blocks)
    document = {
        "name": "dealbooks",
        "prefect-version": "3.8.8",
        "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": "."}}],
        "deployments": [_deployment(d, pool, queue) for d in deployments],
    }
    header = HEADER.format(source=f" from {source}" if source else " with the default settings", pool=pool)
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
