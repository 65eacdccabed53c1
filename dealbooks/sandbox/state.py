"""Shared state of the sandbox: per-service data, a settable clock, fault settings, persistence.

Every emulator keeps its records in ``state.data[service]`` (plain JSON-able dicts and lists) and
mutates them only while holding ``state.lock``. After a mutation it calls ``state.mark_dirty()``;
a background thread writes the whole document to ``--state FILE`` (atomically) shortly after, and
``close()`` writes it once more, so a restarted sandbox continues where it stopped.
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

SERVICES = ("qbo", "pipedrive", "hubspot", "slack", "smtp")


class SandboxClock:
    """Wall clock with an offset (``advance``) or a frozen instant (``freeze``), always UTC-aware."""

    def __init__(self, offset_seconds: float = 0.0, frozen: str | None = None) -> None:
        self.offset_seconds = offset_seconds
        self.frozen = datetime.fromisoformat(frozen) if frozen else None

    def now(self) -> datetime:
        if self.frozen is not None:
            return self.frozen
        return datetime.now(timezone.utc) + timedelta(seconds=self.offset_seconds)

    def advance(self, seconds: float) -> datetime:
        if self.frozen is not None:
            self.frozen += timedelta(seconds=seconds)
        else:
            self.offset_seconds += seconds
        return self.now()

    def set(self, instant: datetime, *, freeze: bool = False) -> datetime:
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=timezone.utc)
        if freeze:
            self.frozen = instant
        else:
            self.frozen = None
            self.offset_seconds = (instant - datetime.now(timezone.utc)).total_seconds()
        return self.now()

    def to_json(self) -> dict[str, Any]:
        return {
            "now": self.now().isoformat(),
            "offset_seconds": self.offset_seconds,
            "frozen": self.frozen.isoformat() if self.frozen else None,
        }


@dataclass
class FaultConfig:
    """Fault injection for one service; changed through ``POST /_sandbox/faults/{service}``.

    Attributes:
        error_rate: share of requests answered with a 5xx before any effect.
        latency_ms: delay added to every request.
        timeout_rate: share of requests that hang ``timeout_seconds`` before answering (client timeout).
        timeout_seconds: how long a "timeout" request hangs.
        drop_after_commit_rate: share of requests whose effect is committed but whose response is
            dropped (the connection is closed mid-response).
        throttle_next: the next N requests get the service's 429 answer (a "429 storm").
        throttle_enabled: the service's own rate limits (per minute, concurrency) are enforced.
        expire_tokens: every access token issued so far is treated as expired (QBO/OAuth).
    """

    error_rate: float = 0.0
    latency_ms: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    drop_after_commit_rate: float = 0.0
    throttle_next: int = 0
    throttle_enabled: bool = True
    expire_tokens: bool = False

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if not hasattr(self, key):
                raise KeyError(key)
            current = getattr(self, key)
            setattr(self, key, type(current)(value))


@dataclass
class SandboxOptions:
    """Start-up options; ``throttle`` False turns every service's rate limits off."""

    state_file: Path | None = None
    throttle: bool = True
    access_token_ttl: int = 3600
    webhook_retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0)
    seed_demo_data: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


class SandboxState:
    """The sandbox's whole memory, shared by every emulator."""

    def __init__(self, options: SandboxOptions | None = None) -> None:
        self.options = options or SandboxOptions()
        self.lock = threading.RLock()
        self.clock = SandboxClock()
        self.data: dict[str, Any] = {name: {} for name in SERVICES}
        self.faults: dict[str, FaultConfig] = {
            name: FaultConfig(throttle_enabled=self.options.throttle) for name in SERVICES
        }
        self.secrets: dict[str, str] = {}
        self.base_url = ""
        self.smtp_host = "127.0.0.1"
        self.smtp_port = 0
        self._dirty = threading.Event()
        self._closing = threading.Event()
        self._saver: threading.Thread | None = None
        self.loaded_from_file = self._load()

    # -- secrets --------------------------------------------------------------------------------
    def secret(self, name: str, nbytes: int = 24) -> str:
        """A random secret created once and kept with the state (credentials survive restarts)."""
        with self.lock:
            if name not in self.secrets:
                self.secrets[name] = secrets.token_urlsafe(nbytes)
                self.mark_dirty()
            return self.secrets[name]

    def now(self) -> datetime:
        return self.clock.now()

    # -- persistence ----------------------------------------------------------------------------
    def mark_dirty(self) -> None:
        self._dirty.set()

    def start_autosave(self, interval: float = 0.5) -> None:
        if self.options.state_file is None or self._saver is not None:
            return

        def loop() -> None:
            while not self._closing.is_set():
                if self._dirty.wait(interval) and not self._closing.is_set():
                    self._closing.wait(interval)  # debounce bursts of writes
                    self.save()

        self._saver = threading.Thread(target=loop, name="sandbox-autosave", daemon=True)
        self._saver.start()

    def save(self) -> None:
        path = self.options.state_file
        if path is None:
            return
        with self.lock:
            self._dirty.clear()
            document = {
                "version": 1,
                "data": self.data,
                "secrets": self.secrets,
                "clock": {"offset_seconds": self.clock.offset_seconds,
                          "frozen": self.clock.frozen.isoformat() if self.clock.frozen else None},
                "faults": {name: asdict(cfg) for name, cfg in self.faults.items()},
            }
            payload = orjson.dumps(document, default=str)  # ~10x json's speed: the lock is held briefly
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(payload)
        os.replace(tmp, path)

    def _load(self) -> bool:
        path = self.options.state_file
        if path is None or not path.exists():
            return False
        document = orjson.loads(path.read_bytes())
        self.data.update(document.get("data", {}))
        self.secrets.update(document.get("secrets", {}))
        clock = document.get("clock") or {}
        self.clock = SandboxClock(clock.get("offset_seconds", 0.0), clock.get("frozen"))
        for name, cfg in (document.get("faults") or {}).items():
            self.faults.setdefault(name, FaultConfig()).update(cfg)
        return True

    def close(self) -> None:
        self._closing.set()
        if self._saver is not None:
            self._saver.join(timeout=5)
        self.save()
