"""A throwaway Prefect API server for one benchmark run (its own PREFECT_HOME and SQLite database).

The benchmark's child processes (sync runs, ``dealbooks serve``, the webhook receiver) inherit
``PREFECT_API_URL`` from this process's environment.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from bench.common import free_port


@contextmanager
def prefect_server() -> Iterator[str]:
    """Start the server, export ``PREFECT_API_URL``/``PREFECT_HOME`` for children; yields the API URL."""
    home = tempfile.mkdtemp(prefix="dealbooks-bench-prefect-")
    os.environ["PREFECT_HOME"] = home
    os.environ["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{home}/prefect.db"
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the sandbox is on loopback http
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer(port=free_port())
    server.start(timeout=120)
    os.environ["PREFECT_API_URL"] = server.api_url
    from prefect.settings import PREFECT_API_URL, temporary_settings

    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            yield server.api_url
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
