"""QBO calls grow with the changes, not the invoices; one bad deal never stops the others; CLI views."""

from __future__ import annotations

from datetime import date

from typer.testing import CliRunner


def _qbo_requests(world) -> int:
    return world.control("GET", "qbo/stats")["total"]


def test_sync_over_many_invoices_costs_in_proportion_to_the_changes(world) -> None:
    seeded = world.control("POST", "qbo/bulk/invoices", json={"count": 2000, "customers": 40, "seed": 7})
    first = int(seeded["first_id"])
    as_of = world.sandbox_today()
    world.control("POST", "qbo/stats")
    baseline = world.sync(as_of=as_of)
    full_cost = _qbo_requests(world)
    assert baseline["fetched"]["invoices"] == 2000 and baseline["outcomes"] == {"excluded": 2000}

    costs = {}
    for changed in (5, 60):
        ids = [str(i) for i in range(first, first + changed)]
        first += changed
        world.control("POST", "qbo/bulk/mutate", json={"ids": ids, "pay_share": 1.0})
        world.control("POST", "qbo/stats")
        result = world.sync(as_of=as_of)
        costs[changed] = _qbo_requests(world)
        assert result["mode"] == "cdc" and result["changed"] == changed
        assert result["events"]["new"] >= changed  # a status change and a payment per invoice
    # past CDC's 1000-object cap the sync pages through queries: still a handful of requests
    ids = [str(i) for i in range(first, first + 1100)]
    world.control("POST", "qbo/bulk/mutate", json={"ids": ids, "pay_share": 1.0})
    world.control("POST", "qbo/stats")
    capped = world.sync(as_of=as_of)
    costs[1100] = _qbo_requests(world)
    assert capped["mode"] == "query" and capped["changed"] == 1100
    print(f"QBO requests: full sync of 2000 = {full_cost}; "
          + ", ".join(f"{n} changed = {c}" for n, c in costs.items()))
    assert costs[5] <= 2 and costs[60] <= 2 and costs[1100] <= 8 and full_cost >= 3


def test_one_failing_deal_does_not_stop_the_others_and_status_shows_it(world, tmp_path) -> None:
    from dealbooks.commands.sync import report_app, status

    import typer

    gone = world.won_deal("pipedrive", "Deleted Deal Co", "100")
    kept = world.won_deal("pipedrive", "Kept Co", "200")
    other = world.won_deal("hubspot", "Other Co", "300")
    world.sync()
    crm, deal_id = world.deal_of("Deleted Deal Co")
    world.envs["pipedrive"]._call("DELETE", f"/api/v2/deals/{deal_id}")
    for invoice in (gone, kept, other):
        world.pay(invoice, "50")
    result = world.sync()
    assert [f["deal"] for f in result["deals"]["failed"]] == [f"pipedrive:{deal_id}"]
    assert result["deals"]["written"] == 2 and result["outcomes"] == {"synced": 2, "failed": 1}
    assert world.fields("Kept Co")["status"] == "partially_paid"
    assert world.fields("Other Co")["status"] == "partially_paid"
    [record] = world.ledger.records.failed("status_sync")
    assert record.record_key.endswith(f":{gone}") and record.category == "crm_not_found"

    retry = world.sync()  # failed deals are tried again; the other deals are not rewritten
    assert retry["deals"]["written"] == 0 and len(retry["deals"]["failed"]) == 1

    app = typer.Typer()
    app.command("status")(status)
    app.add_typer(report_app, name="report")
    runner = CliRunner()
    blocks = [f"--block={kind}={name}" for kind, name in world.blocks.items()]
    shown = runner.invoke(app, ["status", *blocks], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "crm_not_found" in shown.output and f"{gone}" in shown.output and "synced" in shown.output

    csv, png = tmp_path / "aging.csv", tmp_path / "aging.png"
    aged = runner.invoke(app, ["report", "aging", "--by", "owner", "--csv", str(csv), "--png", str(png),
                               "--as-of", date.today().isoformat(), *blocks], env={"COLUMNS": "200"})
    assert aged.exit_code == 0, aged.output
    assert "Sandbox Admin" in aged.output or "Unassigned" in aged.output
    assert csv.read_text().startswith("owner,currency,current") and png.read_bytes()[:4] == b"\x89PNG"


def test_linking_an_existing_invoice_rolls_it_into_the_deal(world) -> None:
    from dealbooks.commands.sync import add_link_commands

    import typer

    own = world.won_deal("hubspot", "Linked Co", "1000")
    mine = world.qbo.get_invoice(own)
    outside = world.qbo.create_invoice({
        "CustomerRef": {"value": mine["CustomerRef"]["value"]}, "TxnDate": mine["TxnDate"],
        "Line": [{"Amount": 250.0, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": mine["Line"][0]["SalesItemLineDetail"]["ItemRef"],
                                          "Qty": 1, "UnitPrice": 250.0}}]}, "outside-invoice-1")
    world.sync()
    app = add_link_commands(typer.Typer())
    runner = CliRunner()
    blocks = [f"--block={kind}={name}" for kind, name in world.blocks.items()]
    crm, deal_id = world.deal_of("Linked Co")
    linked = runner.invoke(app, ["link", "--crm", crm, "--deal", deal_id, *blocks], env={"COLUMNS": "200"})
    assert linked.exit_code == 0, linked.output
    assert f"Id {outside['Id']}" in linked.output
    assert float(world.fields("Linked Co")["amount_billed"]) == 1250.0

    world.pay(outside["Id"], "250")
    world.sync()
    fields = world.fields("Linked Co")
    assert (float(fields["amount_paid"]), float(fields["balance"]), fields["status"]) == (250.0, 1000.0, "partially_paid")
    assert len(world.slack_messages()) == 1

    again = runner.invoke(app, ["link", "--crm", "pipedrive", "--deal", "999", "--invoice", outside["Id"], *blocks])
    assert again.exit_code == 1 and "already linked" in again.output
    unlinked = runner.invoke(app, ["unlink", "--invoice", outside["Id"], *blocks], env={"COLUMNS": "200"})
    assert unlinked.exit_code == 0, unlinked.output
    assert float(world.fields("Linked Co")["amount_billed"]) == 1000.0
