"""Deterministic requestids, markers and query quoting."""

from __future__ import annotations

import subprocess
import sys

from dealbooks.clients.qbo import make_request_id, marker_for, quote


def test_request_id_is_deterministic_across_processes_and_fits_limits() -> None:
    rid = make_request_id("pipedrive", "42", "invoice")
    out = subprocess.run([sys.executable, "-c", "from dealbooks.clients.qbo import make_request_id;"
                          "print(make_request_id('pipedrive', '42', 'invoice'))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert rid == out
    assert len(rid) <= 36  # batch limit; the single-request limit is 50
    assert make_request_id("pipedrive", "42", "invoice") != make_request_id("hubspot", "42", "invoice")
    assert make_request_id("a", "bc") != make_request_id("ab", "c")


def test_marker_is_short_and_stable() -> None:
    assert marker_for("pipedrive", 42) == marker_for("pipedrive", "42")
    assert marker_for("pipedrive", 42).startswith("dealbooks:") and len(marker_for("x")) == 22


def test_quote_escapes_quotes_and_backslashes() -> None:
    assert quote("O'Brien") == "'O\\'Brien'"
    assert quote("a\\b") == "'a\\\\b'"
