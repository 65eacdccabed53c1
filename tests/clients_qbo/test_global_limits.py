"""With ``global_rate_limits`` on, every QBO request takes the realm's Prefect global limits."""

from __future__ import annotations

from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

from dealbooks.blocks import QuickBooksCredentials
from dealbooks.clients.ratelimit import concurrent_limit_name, rate_limit_name


def test_requests_take_the_realms_global_limits(configured: Any) -> None:
    block = QuickBooksCredentials.load(configured.blocks["qbo"])
    realm = str(block.realm_id)
    with get_client(sync_client=True) as client:
        # A slow decay keeps the slots visible after the calls; the concurrency limit frees at once.
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(
            name=rate_limit_name(realm), limit=100, slot_decay_per_second=0.01))
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(
            name=concurrent_limit_name(realm), limit=10))
    plain = block.get_client()
    plain.company_info()
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(rate_limit_name(realm)).active_slots == 0

    block.global_rate_limits = True
    paced = block.get_client()
    paced.company_info()
    paced.preferences()
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(rate_limit_name(realm)).active_slots >= 2
        assert client.read_global_concurrency_limit_by_name(concurrent_limit_name(realm)).active_slots == 0


def test_missing_global_limits_do_not_block(configured: Any) -> None:
    """Each sandbox seeds a new realm id, so no limit exists for this one."""
    block = QuickBooksCredentials.load(configured.blocks["qbo"])
    block.global_rate_limits = True
    assert block.get_client().company_info()["CompanyName"]
