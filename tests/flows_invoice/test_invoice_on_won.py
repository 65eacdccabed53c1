"""Invoice on deal won, on both CRMs, against the sandboxes: the invoice, the write-back, every
failure category, dry run, and exactly-once through retries, crashes and concurrent workers."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import httpx
import pytest

from dealbooks.blocks import InvoiceSettings
from dealbooks.flows.invoice_on_won import invoice_on_deal_won, poll_won_deals
from dealbooks.tasks.invoicing import company_context, invoice_one_deal
from tests.prefect_api import latest_artifact
from tests.flows_invoice.conftest import CONSULTING, CUSTOM, LICENCE, qbo_control, qbo_invoices


def _run(configured: Any, crm: str, deal_id: str, **kw: Any) -> dict[str, Any]:
    return invoice_on_deal_won(crm, [deal_id], blocks=configured.blocks, **kw)


def test_won_deal_becomes_one_correct_invoice_written_back(configured: Any, crm: tuple[str, Any]) -> None:
    name, env = crm
    address = {"street": "1 Main St", "city": "Springfield", "region": "IL", "postal_code": "62701", "country": "US"}
    deal = env.create_deal("Renewal 2027", org_name="O'Brien & Sons", person_name="Seán O'Brien",
                           email="sean@obrien.example", products=[CONSULTING, LICENCE, CUSTOM], address=address)
    env.mark_won(deal)

    result = _run(configured, name, deal)
    assert result["counts"] == {"synced": 1}, result

    (invoice,) = qbo_invoices(configured)
    lines = [line for line in invoice["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    assert [(line["SalesItemLineDetail"]["Qty"], line["SalesItemLineDetail"]["UnitPrice"], line["Amount"])
            for line in lines] == [(10, 150, 1500), (2, 99.5, 199), (1, 800, 800)]
    assert lines[2]["SalesItemLineDetail"]["ItemRef"]["name"] == "Services"  # no SKU → fallback item
    assert {line["SalesItemLineDetail"]["TaxCodeRef"]["value"] for line in lines} == {"NON"}
    assert invoice["TotalAmt"] == pytest.approx(1500 + 199 + 800 - 19.9)  # 10 % off the licence line
    assert invoice["BillEmail"]["Address"] == "sean@obrien.example"
    assert invoice["DueDate"] > invoice["TxnDate"]
    customer = configured.context().qbo.get("Customer", invoice["CustomerRef"]["value"])
    assert customer["DisplayName"] == "O'Brien & Sons"
    assert customer["PrimaryEmailAddr"]["Address"] == "sean@obrien.example"

    fields = env.read_invoice_fields(deal)
    assert fields["invoice_number"] == invoice["DocNumber"]
    assert Decimal(str(fields["amount_billed"])) == Decimal(str(invoice["TotalAmt"])).quantize(Decimal("0.01"))
    assert fields["status"] == "open" and fields["due_date"] == invoice["DueDate"] and fields["invoice_url"]
    assert any(invoice["DocNumber"] in note for note in env.notes(deal))
    row = configured.ledger.records.get("invoice_on_won", f"{name}:{deal}")
    assert row is not None and row.outcome == "synced"

    again = _run(configured, name, deal)  # a repeated trigger
    assert again["deals"][0]["message"] == "already invoiced"
    assert len(qbo_invoices(configured)) == 1 and len(env.notes(deal)) == 1


def test_existing_customer_is_matched_by_email_then_name(configured: Any, crm: tuple[str, Any]) -> None:
    name, env = crm
    qbo = configured.context().qbo
    by_email = qbo.create_customer({"DisplayName": "Renamed In QuickBooks", "PrimaryEmailAddr": {"Address": "ap@acme.example"}}, "c-1")
    by_name = qbo.create_customer({"DisplayName": "Zed's \"Quoted\" Ltd"}, "c-2")
    first = env.create_deal("A", org_name="Acme Corp", email="ap@acme.example", products=[CONSULTING])
    second = env.create_deal("B", org_name="Zed's \"Quoted\" Ltd", email="new@zed.example", products=[CONSULTING])
    for deal in (first, second):
        env.mark_won(deal)
    invoice_on_deal_won(name, [first, second], blocks=configured.blocks)
    by_customer = {inv["CustomerRef"]["value"] for inv in qbo_invoices(configured)}
    assert by_customer == {str(by_email["Id"]), str(by_name["Id"])}


@pytest.mark.parametrize("case", ["no_organization", "no_email", "no_products", "not_won"])
def test_bad_deals_are_recorded_with_a_category(configured: Any, crm: tuple[str, Any], case: str) -> None:
    name, env = crm
    kwargs: dict[str, Any] = {"products": [CONSULTING]}
    if case == "no_organization":
        kwargs["org_name"] = None
    if case == "no_email":
        kwargs["email"] = None
    if case == "no_products":
        kwargs["products"] = []
    deal = env.create_deal(f"Bad deal {case}", **kwargs)
    if case != "not_won":
        env.mark_won(deal)
    result = _run(configured, name, deal)
    (row,) = result["deals"]
    assert row["category"] == case and row["outcome"] == ("excluded" if case == "not_won" else "failed")
    assert deal in row["message"]
    assert qbo_invoices(configured) == []
    record = configured.ledger.records.get("invoice_on_won", f"{name}:{deal}")
    assert record is not None and record.category == case


def _settings(configured: Any, **values: Any) -> None:
    InvoiceSettings(**values).save(configured.blocks["settings"], overwrite=True)


def test_unknown_product_fails_when_settings_say_fail(configured: Any, crm: tuple[str, Any]) -> None:
    name, env = crm
    _settings(configured, unmatched_products="fail")
    deal = env.create_deal("Custom only", products=[CUSTOM])
    env.mark_won(deal)
    (row,) = _run(configured, name, deal)["deals"]
    assert (row["outcome"], row["category"]) == ("failed", "unknown_product")
    assert "item_mapping" in row["message"]


def test_currency_mismatch_and_missing_tax_code(configured: Any, crm: tuple[str, Any]) -> None:
    name, env = crm
    euro = env.create_deal("Euro deal", currency="EUR", products=[CONSULTING])
    env.mark_won(euro)
    (row,) = _run(configured, name, euro)["deals"]
    assert row["category"] == "currency_mismatch"

    qbo_control(configured, "preferences", {"country": "GB", "home_currency": "GBP"})
    pounds = env.create_deal("Pound deal", currency="GBP", products=[CONSULTING])
    env.mark_won(pounds)
    (row,) = _run(configured, name, pounds)["deals"]
    assert row["category"] == "tax_code_missing" and "default_tax_code" in row["message"]
    assert qbo_invoices(configured) == []


def test_duplicate_name_taken_by_a_vendor_is_actionable(configured: Any, crm: tuple[str, Any]) -> None:
    name, env = crm
    configured.context().qbo.create("Vendor", {"DisplayName": "Globex"}, "v-globex")
    deal = env.create_deal("Globex deal", org_name="Globex", email="ap@globex.example", products=[CONSULTING])
    env.mark_won(deal)
    (row,) = _run(configured, name, deal)["deals"]
    assert row["category"] == "duplicate_name" and "Rename" in row["message"]
    assert qbo_invoices(configured) == []


def test_dry_run_previews_without_creating(configured: Any, crm: tuple[str, Any]) -> None:
    name, env = crm
    deal = env.create_deal("Preview me <b>now</b>", products=[CONSULTING])
    env.mark_won(deal)
    result = _run(configured, name, deal, dry_run=True)
    assert result["counts"] == {"preview": 1}
    assert qbo_invoices(configured) == [] and env.read_invoice_fields(deal).get("invoice_number") in (None, "")
    assert configured.ledger.records.get("invoice_on_won", f"{name}:{deal}") is None

    markdown = str(latest_artifact("invoice-preview-detail"))
    assert "| 10 | 150.00 | 1500.00 |" in markdown and "**Total 1500.00**" in markdown
    assert "nothing was created" in markdown and "<b>" not in markdown


def test_crash_between_qbo_reply_and_ledger_write_returns_the_first_invoice(configured: Any) -> None:
    from tests.crm.pipedrive_env import make_env

    env = make_env(configured.sandbox)
    deal = env.create_deal("Crash deal", products=[CONSULTING])
    env.mark_won(deal)
    ctx = configured.context()
    company = company_context(ctx.qbo, ctx.settings)
    # The first attempt notes its start, reaches QBO and "dies" before the link: run that half only.
    from dealbooks.domain.customer import customer_draft
    from dealbooks.domain.invoice import build_invoice
    from dealbooks.tasks.invoicing import INTERRUPTED, RUN_KIND, find_or_create_customer, today_for

    crm_deal = ctx.crm("pipedrive").get_deal(deal)
    customer, _ = find_or_create_customer(ctx.qbo, crm_deal, ctx.settings, company)
    draft = build_invoice(crm_deal, ctx.settings, company, customer, customer_draft(crm_deal, ctx.settings),
                          realm_id=ctx.qbo.realm_id, today=today_for(company))
    assert ctx.ledger.records.begin(RUN_KIND, "deal", f"pipedrive:{deal}", message=INTERRUPTED)
    first, created = ctx.qbo.create_invoice_once(draft.payload, draft.request_id, draft.marker, lookup=False)
    assert created and ctx.ledger.links.get("pipedrive", deal) is None
    left = ctx.ledger.records.get(RUN_KIND, f"pipedrive:{deal}")
    assert (left.outcome, left.category, left.attempts) == ("failed", "interrupted", 0)

    # Days later QBO no longer remembers the requestid: only the lookup-before-create can find it.
    httpx.post(f"{configured.sandbox.url}/_sandbox/clock", json={"advance_days": 3}).raise_for_status()
    result = _run(configured, "pipedrive", deal)  # the retry after the crash
    assert result["counts"] == {"synced": 1}
    assert [inv["Id"] for inv in qbo_invoices(configured)] == [first["Id"]]
    assert ctx.ledger.links.get("pipedrive", deal).invoice_id == str(first["Id"])
    done = ctx.ledger.records.get(RUN_KIND, f"pipedrive:{deal}")
    assert (done.outcome, done.attempts) == ("synced", 1)


def test_dropped_responses_and_5xx_never_make_a_second_invoice(configured: Any) -> None:
    from tests.crm.hubspot_env import make_env

    env = make_env(configured.sandbox)
    deals = [env.create_deal(f"Flaky {i}", email=f"ap{i}@flaky.example", products=[CONSULTING]) for i in range(4)]
    for deal in deals:
        env.mark_won(deal)
    faults = f"{configured.sandbox.url}/_sandbox/faults/qbo"
    httpx.post(faults, json={"drop_after_commit_rate": 0.3, "error_rate": 0.2}).raise_for_status()
    try:
        for _ in range(3):  # like poll-won-deals retrying failed deals on later runs; a run may fail
            invoice_on_deal_won("hubspot", deals, blocks=configured.blocks, return_state=True)
    finally:
        httpx.post(faults, json={"drop_after_commit_rate": 0, "error_rate": 0}).raise_for_status()
    invoice_on_deal_won("hubspot", deals, blocks=configured.blocks)
    invoices = qbo_invoices(configured)
    markers = sorted(inv["PrivateNote"].split(" |")[0] for inv in invoices)
    assert markers == sorted(f"dealbooks:hubspot:{d}:won" for d in deals), "exactly one invoice per deal"
    assert all(configured.ledger.records.get("invoice_on_won", f"hubspot:{d}").outcome == "synced" for d in deals)


def test_two_workers_at_once_make_one_invoice(configured: Any) -> None:
    from tests.crm.pipedrive_env import make_env

    env = make_env(configured.sandbox)
    deal = env.create_deal("Raced deal", products=[CONSULTING])
    env.mark_won(deal)
    outcomes: list[Any] = []
    start = threading.Barrier(2)

    def worker() -> None:
        ctx = configured.context()  # each worker has its own clients, as two processes would
        company = company_context(ctx.qbo, ctx.settings)
        start.wait()
        outcomes.append(invoice_one_deal(crm_name="pipedrive", deal_id=deal, crm=ctx.crm("pipedrive"), qbo=ctx.qbo,
                                         ledger=ctx.ledger, settings=ctx.settings, company=company))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert [o.outcome for o in outcomes] == ["synced", "synced"]
    assert len({o.invoice_id for o in outcomes}) == 1
    assert len(qbo_invoices(configured)) == 1


def test_poll_finds_won_deals_whose_webhooks_were_lost_and_retries_failures(configured: Any, crm: tuple[str, Any]) -> None:
    name, env = crm
    good = env.create_deal("Lost webhook", products=[CONSULTING])
    bad = env.create_deal("No email yet", email=None, products=[CONSULTING])
    open_deal = env.create_deal("Still open", products=[CONSULTING])
    for deal in (good, bad):
        env.mark_won(deal)
    first = poll_won_deals([name], blocks=configured.blocks)
    by_deal = {row["deal"]: row for row in first["deals"]}
    assert by_deal[f"{name}:{good}"]["outcome"] == "synced"
    assert by_deal[f"{name}:{bad}"]["category"] == "no_email"
    assert f"{name}:{open_deal}" not in by_deal
    second = poll_won_deals([name], blocks=configured.blocks)
    assert {row["deal"] for row in second["deals"]} == {f"{name}:{bad}"}  # only the failure is retried
    assert len(qbo_invoices(configured)) == 1


@pytest.mark.parametrize("online_payments", [False, True])
def test_a_run_spends_one_create_per_invoice_and_reads_back_only_for_the_pay_link(
        configured: Any, online_payments: bool) -> None:
    from tests.crm.pipedrive_env import make_env

    env = make_env(configured.sandbox)
    qbo_control(configured, "preferences", {"online_payments": online_payments})
    deals = [env.create_deal(f"Repeat order {i}", org_name="Repeat Buyer Ltd", email="ap@repeat.example",
                             products=[CONSULTING]) for i in range(3)]
    for deal in deals:
        env.mark_won(deal)
    ctx = configured.context()
    company_context(ctx.qbo, ctx.settings)  # the token refresh and company read are not what is counted here
    qbo_control(configured, "stats", {})

    result = invoice_on_deal_won("pipedrive", deals, blocks=configured.blocks)

    assert result["counts"] == {"synced": 3}
    calls = {k: v["count"] for k, v in qbo_control(configured, "stats")["endpoints"].items() if "/v3/" in k}
    creates = calls.pop("POST /v3/company/{realm}/invoice")
    reads = calls.pop("GET /v3/company/{realm}/invoice/{id}", 0)
    assert creates == 3, "one create per deal, no lookup-before-create on a first attempt"
    assert reads == (3 if online_payments else 0), "the pay link is only on reads; without it nothing is re-read"
    assert calls.pop("POST /v3/company/{realm}/customer") == 1, "the customer is created once for the run"
    queries = calls.pop("POST /v3/company/{realm}/query", 0) + calls.pop("GET /v3/company/{realm}/query", 0)
    assert queries == 2 + 3, "customer by email and by name once; the company read (items, terms, tax codes)"
    assert calls == {"GET /v3/company/{realm}/companyinfo/{id}": 1, "GET /v3/company/{realm}/preferences": 1}
    urls = {env.read_invoice_fields(d)["invoice_url"] for d in deals}
    assert all(("/comm/invoice" in url) == online_payments for url in urls), urls
