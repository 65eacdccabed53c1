"""The Prefect task layer: retry only what dealbooks marks retryable; sends never retried."""

from __future__ import annotations

from prefect.states import Completed, Failed

from dealbooks.exceptions import QboRetryableError, QboValidationError
from dealbooks.tasks import qbo as tasks


def test_retry_condition_follows_retryable_flag() -> None:
    assert tasks.retry_if_retryable(None, None, Failed(data=QboRetryableError("x", code="3001")))  # type: ignore[arg-type]
    assert not tasks.retry_if_retryable(None, None, Failed(data=QboValidationError("x", code="6000")))  # type: ignore[arg-type]
    assert not tasks.retry_if_retryable(None, None, Failed(data=ValueError("x")))  # type: ignore[arg-type]
    assert not tasks.retry_if_retryable(None, None, Completed(data=1))  # type: ignore[arg-type]


def test_only_idempotent_tasks_retry() -> None:
    assert tasks.qbo_send_invoice.retries == 0
    for name in ("qbo_create_invoice", "qbo_create_payment", "qbo_void_invoice", "qbo_get_invoice", "qbo_cdc"):
        assert getattr(tasks, name).retries == tasks.RETRIES
