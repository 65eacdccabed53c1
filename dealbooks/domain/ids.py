"""Deterministic identifiers: the same intended effect gets the same id in every process."""

from __future__ import annotations

import uuid

_REQUEST_ID_NAMESPACE = uuid.UUID("6b7a0d52-4f0e-4c3e-9d0f-2a1de5a1b0c7")


def make_request_id(*parts: object) -> str:
    """A deterministic QBO ``requestid`` (36 chars: fits the 50-char limit and batch's 36).

    Args:
        parts: what identifies the intended effect, e.g. ``(realm_id, "dealbooks:pipedrive:42:won")``.

    Returns:
        The same UUID-shaped string for the same parts, every time, in every process.
    """
    if not parts:
        raise ValueError("a request id needs at least one part")
    return str(uuid.uuid5(_REQUEST_ID_NAMESPACE, "\x1f".join(str(p) for p in parts)))
