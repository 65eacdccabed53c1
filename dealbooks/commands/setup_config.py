"""Reading ``dealbooks setup`` input: TOML or JSON files, the sandbox's start-up line, environment.

Everything is normalised into one document keyed by block kind (``qbo``, ``pipedrive``,
``hubspot``, ``slack``, ``smtp``, ``settings``) plus ``blocks`` (kind → block name) and
``ledger`` (``url``). Later sources override earlier ones; environment variables override files.

Environment variables are ``DEALBOOKS_<KIND>_<FIELD>``, e.g. ``DEALBOOKS_QBO_CLIENT_ID``,
``DEALBOOKS_PIPEDRIVE_WEBHOOK_PASSWORD``, ``DEALBOOKS_SMTP_HOST``, ``DEALBOOKS_SETTINGS_TIMEZONE``;
``DEALBOOKS_LEDGER_URL`` is the ledger. List and dict settings take JSON
(``DEALBOOKS_SETTINGS_REMINDER_DAYS='[1, 7, 14]'``).
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from dealbooks.exceptions import ConfigurationError

KINDS = ("qbo", "pipedrive", "hubspot", "slack", "smtp", "settings")
SECTIONS = (*KINDS, "blocks", "ledger")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Aliases: the sandbox's start-up JSON and friendlier config names → block field names.
ALIASES: dict[str, dict[str, str]] = {
    "qbo": {"discovery_url": "environment", "minorversion": "minor_version"},
    "smtp": {"host": "smtp_server", "server": "smtp_server", "port": "smtp_port", "type": "smtp_type",
             "security": "smtp_type"},
}
SMTP_SECURITY = {"plain": "INSECURE", "insecure": "INSECURE", "none": "INSECURE", "ssl": "SSL", "tls": "SSL",
                 "starttls": "STARTTLS"}


def parse_document(text: str, origin: str) -> dict[str, Any]:
    """A config document from JSON or TOML text (JSON first: the sandbox line is JSON)."""
    stripped = text.strip()
    if not stripped:
        raise ConfigurationError(f"{origin}: empty configuration")
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{origin}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    else:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{origin}: not valid TOML ({exc})") from exc
    if not isinstance(doc, dict):
        raise ConfigurationError(f"{origin}: expected a table/object at the top level")
    return doc


def read_source(source: str, stdin: TextIO | None = None) -> dict[str, Any]:
    """One ``--config`` argument: a file path, or ``-`` for standard input.

    From standard input a first line holding a whole JSON object is taken on its own (so the
    output of a still-running ``dealbooks sandbox serve`` can be piped in); otherwise everything
    up to end of input is read.
    """
    if source == "-":
        stream = stdin or sys.stdin
        first = stream.readline()
        if first.strip().startswith("{"):
            try:
                return parse_document(first, "stdin")
            except ConfigurationError:
                pass  # a JSON document over several lines
        return parse_document(first + stream.read(), "stdin")
    path = Path(source).expanduser()
    if not path.is_file():
        raise ConfigurationError(f"{source}: no such config file")
    return parse_document(path.read_text(encoding="utf-8"), str(path))


def _env_value(raw: str) -> Any:
    text = raw.strip()
    if text[:1] in ("[", "{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return raw
    return raw


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``DEALBOOKS_<KIND>_<FIELD>`` variables as a config document."""
    environ = os.environ if environ is None else environ
    doc: dict[str, dict[str, Any]] = {}
    for key, raw in environ.items():
        if not key.startswith("DEALBOOKS_") or raw == "":
            continue
        rest = key[len("DEALBOOKS_"):].lower()
        for section in SECTIONS:
            prefix = section + "_"
            if rest.startswith(prefix) and len(rest) > len(prefix):
                doc.setdefault(section, {})[rest[len(prefix):]] = _env_value(raw)
                break
    return doc


def merge(*docs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Section-wise merge; later documents win field by field. Unknown sections are dropped."""
    out: dict[str, dict[str, Any]] = {}
    for doc in docs:
        for section, values in doc.items():
            if section in SECTIONS and isinstance(values, Mapping):
                out.setdefault(section, {}).update(values)
    return out


def normalise(kind: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Rename aliases (``host`` → ``smtp_server`` ...) and fill the sandbox-friendly defaults."""
    aliases = ALIASES.get(kind, {})
    out = {key: value for key, value in values.items() if key not in aliases}
    for key, value in values.items():
        if key in aliases:
            out.setdefault(aliases[key], value)  # the field's own name wins over an alias
    if kind == "smtp" and "smtp_type" in out:
        kind_text = str(out["smtp_type"])
        out["smtp_type"] = SMTP_SECURITY.get(kind_text.lower(), kind_text.upper())
    if kind == "smtp" and "smtp_type" not in out and str(out.get("smtp_server", "")) in LOOPBACK:
        out["smtp_type"] = "INSECURE"
    if kind == "hubspot" and "portal_id" in out:
        out["portal_id"] = str(out["portal_id"])
    return out


def load_config(sources: list[str], *, use_env: bool = True, environ: Mapping[str, str] | None = None,
                stdin: TextIO | None = None) -> dict[str, dict[str, Any]]:
    """Every source merged in order, then the environment on top."""
    docs = [read_source(source, stdin) for source in sources]
    if use_env:
        docs.append(from_environment(environ))
    merged = merge(*docs)
    return {section: normalise(section, values) if section in KINDS else dict(values)
            for section, values in merged.items()}
