"""Invoice actions (functions, CLI and UI flows) against the sandboxes, including what QBO refuses."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dealbooks.commands.invoices import invoice_app
from dealbooks.flows.invoice_actions import invoice_list, invoice_void
from dealbooks.flows.invoice_on_won import invoice_on_deal_won
from dealbooks.tasks import invoice_actions as actions
from tests.crm.env import ProductSpec
from tests.crm.pipedrive_env import make_env

DUE = date(2025, 6, 30)


def cli(world, *args: str) -> tuple[int, str]:
    options = [part for kind, name in world.blocks.items() for part in ("--block", f"{kind}={name}")]
    result = CliRunner().invoke(invoice_app, [*args, *options], env={"COLUMNS": "200"})
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes is not None else "")


def refused(call, *args, **kwargs) -> str:
    with pytest.raises(actions.InvoiceActionError) as caught:
        call(*args, **kwargs)
    return caught.value.message


def test_send_pdf_share_link(world, tmp_path: Path) -> None:
    ctx = world.configured.context()
    bare = world.invoice("1", 100, DUE)
    assert "has no billing email" in refused(actions.send_invoice, ctx, bare)
    message = refused(actions.share_link, ctx, bare)
    assert "online payments are off" in message and "no billing email" in message
    code, output = cli(world, "send", bare, "--to", "ap@birds.example")
    assert code == 0 and "emailed by QuickBooks to ap@birds.example" in output
    assert world.qbo.get_invoice(bare)["EmailStatus"] == "EmailSent"
    code, output = cli(world, "share-link", bare)
    assert code == 1 and "online payments are off" in output and "no billing email" not in output
    world.qbo_settings(online_payments=True)
    code, output = cli(world, "share-link", bare)
    assert code == 0 and "/qbo/comm/invoice?" in output
    assert "QuickBooks refused to send" in refused(actions.send_invoice, ctx, bare, "not an email")
    code, output = cli(world, "pdf", bare, "--out", str(tmp_path / "x.pdf"))
    assert code == 0 and (tmp_path / "x.pdf").read_bytes().startswith(b"%PDF")
    code, output = cli(world, "pdf", "987654")
    assert code == 1 and "does not exist in QuickBooks" in output


def test_void_delete_list_and_owners(world) -> None:
    env = make_env(world.configured.sandbox)
    deal = env.create_deal("Linked", products=[ProductSpec("Onboarding", Decimal(1), Decimal(500), sku="ONBOARD")])
    env.mark_won(deal)
    assert invoice_on_deal_won("pipedrive", [deal], blocks=world.blocks)["counts"] == {"synced": 1}
    linked = world.ledger.links.get("pipedrive", deal).invoice_id
    paid = world.invoice("2", 200, DUE, "ap@cars.example")
    world.pay(paid, 50)
    plain = world.invoice("2", 300, DUE + timedelta(days=20), "ap@cars.example")
    ctx = world.configured.context()

    assert "has payments applied (50" in refused(actions.void_invoice, ctx, paid)
    assert "has payments applied" in refused(actions.delete_invoice, ctx, paid)  # QBO's own 6000 refusal
    state = invoice_void(plain, blocks=world.blocks)
    assert state["status"] == "voided" and world.qbo.get_invoice(plain)["Balance"] == 0
    assert "already voided" in refused(actions.void_invoice, ctx, plain)

    rows = invoice_list(customer_id="2", since=DUE - timedelta(days=31), until=DUE - timedelta(days=30),
                        blocks=world.blocks)  # by TxnDate (DUE - 30 for `paid`, DUE - 10 for `plain`)
    assert [(r["id"], r["status"]) for r in rows] == [(paid, "overdue")]
    code, output = cli(world, "list", "--customer", "2", "--since", "2025-01-01")
    assert code == 0 and "2 invoice(s)" in output and "voided" in output
    code, output = cli(world, "list", "--crm", "pipedrive", "--deal", deal)
    assert code == 0 and "1 invoice(s)" in output and f"pipedrive:{deal}" in output

    world.settings(allowed_owner_ids=["424242"])
    assert "may not manage invoices" in refused(actions.delete_invoice, ctx_of(world), linked)
    assert "not linked to a deal" in refused(actions.void_invoice, ctx_of(world), paid)
    world.settings()

    code, output = cli(world, "delete", linked)
    assert code == 0 and f"Unlinked from deal pipedrive:{deal}" in output
    assert world.ledger.links.for_invoice(world.qbo.realm_id, linked) is None
    assert any("deleted in QuickBooks" in note for note in env.notes(deal))
    code, output = cli(world, "delete", linked)
    assert code == 1 and "does not exist in QuickBooks" in output
    code, output = cli(world, "list", "--crm", "pipedrive", "--deal", deal)
    assert code == 0 and "0 invoice(s)" in output


def ctx_of(world):
    """A new context, so the settings block is read again."""
    return world.configured.context()
