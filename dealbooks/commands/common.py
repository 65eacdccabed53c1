"""What every command shares: ``--block kind=name`` overrides, the run context, refusals."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from dealbooks.exceptions import DealbooksError

BlocksOption = Annotated[Optional[list[str]], typer.Option(
    "--block", help="Override a block name, e.g. --block qbo=my-company (kinds: qbo, pipedrive, hubspot, slack, smtp, settings).")]


def parse_blocks(pairs: Optional[list[str]]) -> dict[str, str]:
    """``["qbo=my-company"]`` → ``{"qbo": "my-company"}``; a malformed pair is a usage error."""
    from dealbooks.flows.context import DEFAULT_BLOCKS

    out: dict[str, str] = {}
    for pair in pairs or []:
        kind, sep, name = (part.strip() for part in pair.partition("="))
        if not sep or not name or kind not in DEFAULT_BLOCKS:
            raise typer.BadParameter(f"{pair!r}: expected KIND=NAME with KIND one of {', '.join(DEFAULT_BLOCKS)}")
        out[kind] = name
    return out


def run_context(block: Optional[list[str]]) -> Any:
    """The ``RunContext`` a command works with (blocks loaded lazily, ledger from the environment)."""
    from dealbooks.flows.context import RunContext

    return RunContext(parse_blocks(block))


def refusals(fn: Callable[..., None]) -> Callable[..., None]:
    """Print a refused action's message (no traceback) and exit with status 1."""
    @wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except DealbooksError as exc:
            Console(stderr=True).print(f"[red]Refused:[/red] {escape(exc.message)}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
    return run
