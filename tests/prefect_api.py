"""Reading what flows left in the Prefect API (artifacts), for tests."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import Artifact


def latest_artifact(key: str) -> Any:
    """The data (markdown text or table rows) of the newest artifact with ``key``."""
    artifact = Artifact.get(key)
    assert artifact is not None, f"no artifact with key {key!r}"
    return artifact.data
