"""Regression: a HubSpot line item with quantity 0 was read as quantity 1 (and invoiced)."""

from __future__ import annotations

from decimal import Decimal

from dealbooks.clients.hubspot_mapping import to_line_item


def test_zero_quantity_stays_zero_and_missing_means_one() -> None:
    assert to_line_item("1", {"quantity": "0", "price": "100"}, {}).quantity == Decimal(0)
    assert to_line_item("2", {"price": "100"}, {}).quantity == Decimal(1)
    assert to_line_item("3", {"quantity": "-2", "price": "100"}, {}).quantity == Decimal(-2)
