"""Bad and awkward deals in one invoice-on-won run: the run finishes, every deal gets a recorded outcome
(failed ones with a category and a message naming the deal), no invoice is created for a deal that
cannot be invoiced, awkward but valid names are invoiced under exactly that name, and no secret
appears in the logs, the run's artifact or the records."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

from dealbooks.flows.invoice_on_won import invoice_on_deal_won
from tests.bad_input.conftest import assert_no_secrets
from tests.crm.env import ProductSpec
from tests.crm.hubspot_env import make_env as hubspot_env
from tests.crm.pipedrive_env import make_env as pipedrive_env
from tests.prefect_api import latest_artifact


def _p(qty: str, price: str = "100") -> list[ProductSpec]:
    return [ProductSpec("Consulting hours", Decimal(qty), Decimal(price), sku="CONSULT-HR")]


OK = _p("2")
# name -> (create_deal kwargs, expected category of a failure, or None when an invoice must be created)
REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "no-organisation": ({"org_name": None}, "no_organization"),
    "no-email": ({"email": None}, "no_email"),
    "no-person": ({"person_name": None, "email": None}, "no_email"),
    "no-products": ({"products": []}, "no_products"),
    "negative-quantity": ({"products": _p("-3")}, "invalid_quantity"),
    "zero-quantity": ({"products": _p("0")}, "invalid_quantity"),
    "other-currency": ({"currency": "EUR"}, "currency_mismatch"),
    "unknown-currency": ({"currency": "XTS"}, "currency_mismatch"),
}
AWKWARD_NAMES = {
    "quotes": "O'Brien \"Quoted\" & Sons",
    "html": "<b>Bold</b> <script>alert(1)</script> Ltd",
    "emoji": "Café 🚀 Rockets GmbH",
    "rtl": "شركة الاختبار المحدودة",
    "mixed-bidi": "Acme \u202eevil\u202c Corp",
    "backslash-percent": "Back\\slash 100% _Corp_",
}


def _deal_cases() -> list[tuple[str, dict[str, Any], str | None]]:
    cases = [(name, {"products": OK, **kw}, category) for name, (kw, category) in REFUSED.items()]
    cases += [(f"name-{key}", {"products": OK, "org_name": value}, None) for key, value in AWKWARD_NAMES.items()]
    return cases


CASES = _deal_cases()


@pytest.mark.parametrize("crm_name", ["pipedrive", "hubspot"])
def test_bad_and_awkward_deals_in_one_run(configured: Any, caplog: pytest.LogCaptureFixture, crm_name: str) -> None:
    env = (pipedrive_env if crm_name == "pipedrive" else hubspot_env)(configured.sandbox)
    # HubSpot itself refuses a currency outside the portal's list when the deal is saved.
    cases = [c for c in CASES if not (crm_name == "hubspot" and c[0] == "unknown-currency")]
    deals: dict[str, str] = {}
    for i, (name, kwargs, _) in enumerate(cases):
        kwargs = dict(kwargs)
        email = kwargs.pop("email", f"ap{i}@corpus.example")
        deals[name] = env.create_deal(f"Corpus {name}", email=email, **kwargs)
        env.mark_won(deals[name])

    with caplog.at_level(logging.INFO):
        result = invoice_on_deal_won(crm_name, list(deals.values()), blocks=configured.blocks)

    rows = {row["deal"]: row for row in result["deals"]}
    qbo = configured.context().qbo
    invoices = qbo.query_all("SELECT * FROM Invoice")
    markers = {(inv.get("PrivateNote") or "").split(" |")[0]: inv for inv in invoices}
    problems = []
    for name, _, category in cases:
        key = f"{crm_name}:{deals[name]}"
        row, record = rows[key], configured.ledger.records.get("invoice_on_won", key)
        invoice = markers.get(f"dealbooks:{key}:won")
        if category is None:
            if row["outcome"] != "synced" or invoice is None:
                problems.append(f"{name}: {row}")
                continue
            customer = qbo.get("Customer", invoice["CustomerRef"]["value"])
            if customer["DisplayName"] != AWKWARD_NAMES[name.removeprefix("name-")]:
                problems.append(f"{name}: customer named {customer['DisplayName']!r}")
        elif (row["outcome"], row["category"]) != ("failed", category) or invoice is not None \
                or deals[name] not in row["message"] or record is None or record.category != category:
            problems.append(f"{name}: {row} invoice={bool(invoice)}")
    assert problems == [], problems
    assert len(invoices) == len(AWKWARD_NAMES), "an invoice for every valid deal and no other"

    artifact = latest_artifact("invoice-on-won")
    records = [f"{r.message} {r.category}" for r in configured.ledger.records.failed("invoice_on_won")]
    assert_no_secrets(configured, caplog.text, str(artifact), str(result), *records)
