"""`dealbooks setup`: blocks, QuickBooks concurrency limits and the ledger, from a config or the environment.

Idempotent: a block that exists is updated field by field (fields the config does not name keep
their values), an unchanged block is left alone, the global concurrency limits are upserted and
the ledger migration is a no-op at head. Secrets are never printed — only field names.

The stored QuickBooks refresh token rotates (dealbooks saves each new one to the block), so a
config's token is usually stale after the first run: an existing block for the same realm keeps
its stored token unless ``--replace-refresh-token`` is given (after reconnecting the app).

Run ``python -m dealbooks.commands.setup --help`` or, registered in the CLI, ``dealbooks setup``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Optional

import typer
from pydantic import SecretStr, ValidationError

from dealbooks.clients.ratelimit import concurrent_limit_name, rate_limit_name
from dealbooks.commands.common import parse_blocks
from dealbooks.commands.setup_config import KINDS, load_config
from dealbooks.exceptions import ConfigurationError
from dealbooks.flows.context import BLOCK_TYPES, DEFAULT_BLOCKS

RATE_PER_MINUTE = 480  # QBO allows 500/min per realm; keep a margin for people using the QBO UI
CONCURRENT = 10  # QBO allows 10 requests in flight per realm
# Token cache fields dealbooks manages itself; a config never sets them.
MANAGED_FIELDS = {"qbo": ("access_token", "access_token_expires_at")}


@dataclass
class Step:
    """One line of the setup report."""

    what: str
    name: str
    action: str  # created | updated | unchanged | skipped | migrated | kept
    detail: str = ""


@dataclass
class SetupReport:
    steps: list[Step] = field(default_factory=list)

    def add(self, what: str, name: str, action: str, detail: str = "") -> None:
        self.steps.append(Step(what, name, action, detail))


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _fields(block_type: type) -> list[str]:
    return [name for name in block_type.model_fields if not name.startswith("_")]


def _load_existing(kind: str, name: str) -> Any:
    from prefect.exceptions import ObjectNotFound

    try:
        return BLOCK_TYPES[kind].load(name)
    except (ValueError, ObjectNotFound):
        return None


def _validation_message(kind: str, exc: ValidationError) -> str:
    """Field names and reasons only: pydantic's own text would echo the (secret) input values."""
    problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or kind}: {err['msg']}" for err in exc.errors())
    return f"[{kind}] is not valid: {problems}"


def apply_block(kind: str, name: str, values: dict[str, Any] | None, *, replace_refresh_token: bool = False) -> Step:
    """Create or update the block of ``kind`` called ``name`` from ``values`` (None: leave as is)."""
    block_type = BLOCK_TYPES[kind]
    existing = _load_existing(kind, name)
    if values is None:
        if existing is not None or kind != "settings":
            return Step(f"block {kind}", name, "unchanged" if existing is not None else "skipped",
                        "" if existing is not None else "not in the config (add a section to set it up)")
        values = {}
    known = set(_fields(block_type)) - set(MANAGED_FIELDS.get(kind, ()))
    ignored = sorted(set(values) - known)
    current = {f: getattr(existing, f) for f in _fields(block_type)} if existing is not None else {}
    merged = {**current, **{k: v for k, v in values.items() if k in known}}
    notes = [f"ignored keys: {', '.join(ignored)}"] if ignored else []
    if kind == "qbo" and existing is not None and "refresh_token" in values:
        same_realm = str(existing.realm_id) == str(merged.get("realm_id"))
        stored = _plain(existing.refresh_token)
        if same_realm and not replace_refresh_token and stored != _plain(values["refresh_token"]):
            merged["refresh_token"] = existing.refresh_token
            notes.append("kept the stored (rotated) refresh token; --replace-refresh-token uses the config's")
        elif stored != _plain(merged["refresh_token"]):
            merged["access_token"], merged["access_token_expires_at"] = None, None
    try:
        block = block_type(**merged)
    except ValidationError as exc:
        raise ConfigurationError(_validation_message(kind, exc)) from None
    after = {f: _plain(getattr(block, f)) for f in _fields(block_type)}
    if existing is not None and after == {f: _plain(v) for f, v in current.items()}:
        return Step(f"block {kind}", name, "unchanged", "; ".join(notes))
    changed = sorted(f for f in after if existing is None or after[f] != _plain(current.get(f)))
    block.save(name, overwrite=True)
    detail = "; ".join([f"fields: {', '.join(changed)}", *notes])
    return Step(f"block {kind}", name, "created" if existing is None else "updated", detail)


def ensure_concurrency_limits(realm_id: str) -> list[Step]:
    """Upsert the two global concurrency limits QBO requests of ``realm_id`` can be held to."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.exceptions import ObjectNotFound

    wanted = {rate_limit_name(realm_id): (RATE_PER_MINUTE, RATE_PER_MINUTE / 60.0),
              concurrent_limit_name(realm_id): (CONCURRENT, 0.0)}
    steps = []
    with get_client(sync_client=True) as client:
        for name, (limit, decay) in wanted.items():
            detail = f"limit {limit}" + (f", slot decay {decay:g}/s ({limit}/min)" if decay else " in flight")
            try:
                current = client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(
                    name=name, limit=limit, slot_decay_per_second=decay, active=True))
                steps.append(Step("concurrency limit", name, "created", detail))
                continue
            if current.limit == limit and float(current.slot_decay_per_second or 0) == decay and current.active:
                steps.append(Step("concurrency limit", name, "unchanged", detail))
                continue
            client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(
                limit=limit, slot_decay_per_second=decay, active=True))
            steps.append(Step("concurrency limit", name, "updated", detail))
    return steps


def migrate_ledger(url: str | None) -> Step:
    """Bring the ledger at ``url`` (default ``DEALBOOKS_LEDGER_URL`` or ~/.dealbooks) to head."""
    from sqlalchemy.engine import make_url

    from dealbooks.ledger.db import get_engine, ledger_url
    from dealbooks.ledger.migrate import current_revision, head_revision, upgrade

    url = url or ledger_url()
    engine = get_engine(url, migrate=False)
    before = current_revision(engine)
    upgrade(engine)
    shown = make_url(url).render_as_string(hide_password=True)
    head = head_revision()
    return Step("ledger", shown, "unchanged" if before == head else "migrated",
                f"revision {head}" + ("" if before == head else f" (was {before or 'empty'})"))


def run_setup(config: dict[str, dict[str, Any]], *, names: dict[str, str] | None = None,
              replace_refresh_token: bool = False, limits: bool = True, ledger: bool = True) -> SetupReport:
    """Everything ``dealbooks setup`` does, returning the report (nothing printed)."""
    from dealbooks.blocks import EmailServerCredentials

    report = SetupReport()
    block_names = {**DEFAULT_BLOCKS, **config.get("blocks", {}), **(names or {})}
    for block_type in {*BLOCK_TYPES.values(), EmailServerCredentials}:
        block_type.register_type_and_schema()
    for kind in KINDS:
        report.steps.append(apply_block(kind, block_names[kind], config.get(kind),
                                        replace_refresh_token=replace_refresh_token))
    if limits:
        qbo = _load_existing("qbo", block_names["qbo"])
        if qbo is None:
            report.add("concurrency limit", "qbo-realm-*", "skipped", "no QuickBooks block yet")
        else:
            report.steps.extend(ensure_concurrency_limits(str(qbo.realm_id)))
    if ledger:
        report.steps.append(migrate_ledger((config.get("ledger") or {}).get("url")))
    return report


def print_report(report: SetupReport) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="dealbooks setup")
    for column in ("what", "name", "action", "detail"):
        table.add_column(column)
    colour = {"created": "green", "updated": "yellow", "migrated": "green", "skipped": "dim"}
    for step in report.steps:
        style = colour.get(step.action, "")
        table.add_row(step.what, step.name, f"[{style}]{step.action}[/]" if style else step.action, step.detail)
    Console(width=160).print(table)


def setup(
    config: Annotated[Optional[list[str]], typer.Option(
        "--config", "-c", help="TOML or JSON file (repeatable; '-' reads stdin, e.g. the sandbox's JSON line).")] = None,
    env: Annotated[bool, typer.Option(help="Read DEALBOOKS_<KIND>_<FIELD> environment variables too.")] = True,
    block: Annotated[Optional[list[str]], typer.Option(
        "--block", help="Block name per kind, e.g. --block qbo=my-company.")] = None,
    ledger_url: Annotated[Optional[str], typer.Option(help="Ledger database URL (default DEALBOOKS_LEDGER_URL).")] = None,
    replace_refresh_token: Annotated[bool, typer.Option(
        help="Overwrite a stored QuickBooks refresh token with the config's (after reconnecting the app).")] = False,
    limits: Annotated[bool, typer.Option(help="Create the QuickBooks global concurrency limits.")] = True,
) -> None:
    """Create or update every dealbooks block, the QuickBooks concurrency limits and the ledger."""
    names = parse_blocks(block)
    try:
        loaded = load_config(list(config or []), use_env=env)
        if ledger_url:
            loaded.setdefault("ledger", {})["url"] = ledger_url
        report = run_setup(loaded, names=names, replace_refresh_token=replace_refresh_token, limits=limits)
    except ConfigurationError as exc:
        typer.secho(f"dealbooks setup: {exc.message}", fg="red", err=True)
        raise typer.Exit(2) from None
    print_report(report)
