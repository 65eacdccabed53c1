"""'Today' is the QuickBooks company's day (its CompanyTimeZone), the same for the sync and the reminders."""

from __future__ import annotations

from datetime import UTC, datetime

from dealbooks.domain.status import company_today
from dealbooks.flows.reminders import overdue_reminders
from dealbooks.flows.status_sync import company_day


def test_company_timezone_decides_today(world) -> None:
    world.qbo_settings(timezone="Pacific/Kiritimati")          # UTC+14
    world.settings(timezone="Pacific/Pago_Pago")               # UTC-11: always another date
    expected = company_today(datetime.now(UTC), "Pacific/Kiritimati")
    assert expected != company_today(datetime.now(UTC), "Pacific/Pago_Pago")
    assert company_day.fn(world.configured.context(), None) == expected
    assert overdue_reminders(blocks=world.blocks)["date"] == expected.isoformat()
