"""`dealbooks ...` — the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dealbooks.commands.common import BlocksOption, parse_blocks

app = typer.Typer(help="dealbooks: CRM won deals → QuickBooks Online invoices, status sync, reminders, alerts.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
sandbox_app = typer.Typer(help="Local emulators of QuickBooks Online, Pipedrive, HubSpot, Slack and SMTP.",
                          no_args_is_help=True)
webhooks_app = typer.Typer(help="The webhook receiver for Pipedrive, HubSpot and QuickBooks.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(webhooks_app, name="webhooks")

@sandbox_app.command("serve")
def sandbox_serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port (0 picks a free one).")] = 8765,
    smtp_port: Annotated[int, typer.Option(help="SMTP sink port (0 picks a free one).")] = 8025,
    state: Annotated[Optional[Path], typer.Option(help="JSON file the state is kept in across restarts.")] = None,
    throttle: Annotated[bool, typer.Option(help="Enforce the services' real rate limits.")] = True,
) -> None:
    """Serve the sandbox; prints one JSON line with the seeded credentials once listening."""
    from dealbooks.sandbox.server import serve_forever

    serve_forever(host, port, smtp_port, state, throttle)


@webhooks_app.command("serve")
def webhooks_serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8787,
    public_url: Annotated[Optional[str], typer.Option(
        help="The URL senders use (behind a proxy); HubSpot signs the full outside URI.")] = None,
    dispatch: Annotated[str, typer.Option(
        help="runs: start deployment runs (idempotent); events: emit Prefect events for deployment triggers.")] = "runs",
    block: BlocksOption = None,
) -> None:
    """Receive webhooks: POST /webhooks/pipedrive, /webhooks/hubspot, /webhooks/quickbooks."""
    import uvicorn

    from dealbooks.deployments.dispatch import DeploymentDispatcher, EventDispatcher
    from dealbooks.deployments.webhooks import WebhookReceiver
    from dealbooks.flows.context import RunContext

    if dispatch not in ("runs", "events"):
        raise typer.BadParameter("--dispatch is 'runs' or 'events'")
    names = parse_blocks(block)
    dispatcher = DeploymentDispatcher(blocks=names) if dispatch == "runs" else EventDispatcher()
    receiver = WebhookReceiver(dispatcher, RunContext(names), public_url=public_url)
    typer.echo(f"dealbooks webhooks: listening on http://{host}:{port}/webhooks/{{pipedrive,hubspot,quickbooks}}")
    uvicorn.run(receiver.app, host=host, port=port, log_level="info")


@app.command("serve")
def serve(
    block: BlocksOption = None,
    triggers: Annotated[bool, typer.Option(help="Attach Prefect event triggers (for --dispatch events).")] = True,
    limit: Annotated[Optional[int], typer.Option(help="Most flow runs at once in this process.")] = None,
) -> None:
    """Serve every dealbooks deployment (schedules + triggers) in this process."""
    from dealbooks.deployments.serve import serve_all

    serve_all(blocks=parse_blocks(block), triggers=triggers, limit=limit)


deployments_app = typer.Typer(help="Deployments for a work pool (prefect.yaml).", no_args_is_help=True)
app.add_typer(deployments_app, name="deployments")


@deployments_app.command("render")
def deployments_render(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write here (default: print).")] = None,
    pool: Annotated[str, typer.Option(help="The work pool the deployments run on.")] = "dealbooks",
    queue: Annotated[str, typer.Option(help="Its work queue.")] = "default",
    block: BlocksOption = None,
) -> None:
    """Write prefect.yaml with the schedules, timezone and cadence of your InvoiceSettings block."""
    from dealbooks.deployments.manifest import render
    from dealbooks.flows.context import DEFAULT_BLOCKS, load_block

    names = parse_blocks(block)
    settings = load_block("settings", names, required=False)
    source = f"InvoiceSettings block {names.get('settings', DEFAULT_BLOCKS['settings'])!r}" if settings else ""
    text = render(settings, pool=pool, queue=queue, blocks=names or None, source=source)
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text)
    typer.echo(f"wrote {output}: {text.count('- name: ')} deployments for work pool {pool!r}"
               f"{'' if settings else ' (no InvoiceSettings block: the defaults)'}; "
               "next: prefect --no-prompt deploy --all")


@app.command("demo")
def demo(
    output: Annotated[Path, typer.Option(help="Where the demo's ledger is written.")] = Path("demo-output"),
    keep_running: Annotated[bool, typer.Option(help="Keep the sandbox up afterwards to browse what it captured.")] = False,
) -> None:
    """The whole lifecycle against the sandbox: won deals → invoices → payments → sync → Slack → reminders."""
    from dealbooks.demo import run_demo

    result = run_demo(output, keep_running=keep_running)
    if not result.deals or not any(d.get("invoice") not in (None, "—") for d in result.deals):
        raise typer.Exit(1)


def _register_feature_commands() -> None:
    from dealbooks.commands import sync as sync_commands
    from dealbooks.commands.doctor import doctor
    from dealbooks.commands.invoices import invoice_app, reminders_app
    from dealbooks.commands.setup import setup

    sync_commands.add_link_commands(invoice_app)
    app.add_typer(invoice_app, name="invoice")
    app.add_typer(reminders_app, name="reminders")
    app.command("sync")(sync_commands.sync)
    app.command("status")(sync_commands.status)
    app.add_typer(sync_commands.report_app, name="report")
    app.command("setup")(setup)
    app.command("doctor")(doctor)


_register_feature_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
