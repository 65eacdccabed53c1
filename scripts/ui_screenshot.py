"""Screenshots of the Prefect UI (headless Chromium): the dealbooks deployments and a sync artifact.

Usage, against a running ``prefect server start`` that has served dealbooks and run a status sync::

    python scripts/ui_screenshot.py --api http://127.0.0.1:4200/api --out docs/

Chromium: ``apt-get install -y chromium`` (Debian) — or set ``CHROMIUM`` to a Chrome/Chromium binary.
The end-to-end test (``tests/e2e/test_lifecycle_processes.py``) calls ``take_screenshots`` when a
Chromium is installed, into ``DEALBOOKS_SCREENSHOT_DIR`` when that is set.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1400,900", "--virtual-time-budget=20000"]


def chromium_binary() -> str | None:
    """The Chromium/Chrome executable to use, or None when none is installed."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(url: str, path: Path, *, binary: str | None = None, timeout: float = 90) -> Path:
    """One PNG of ``url`` at 1400x900 (JavaScript given time to render)."""
    binary = binary or chromium_binary()
    if binary is None:
        raise RuntimeError("no Chromium found: apt-get install -y chromium (or set CHROMIUM=/path/to/chrome)")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dealbooks-chromium-") as profile:
        args = [binary, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={path}", url]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    if not path.exists():
        raise RuntimeError(f"chromium wrote no screenshot of {url}: {err.decode(errors='replace')[-500:]}")
    return path


def take_screenshots(api_url: str, out_dir: Path, artifact_id: str | None = None) -> list[Path]:
    """The deployments page and the status-sync health artifact page of the server at ``api_url``."""
    ui = api_url.rstrip("/").removesuffix("/api")
    httpx.get(f"{api_url}/health", timeout=10).raise_for_status()
    artifact_page = f"{ui}/artifacts/artifact/{artifact_id}" if artifact_id else f"{ui}/artifacts/key/status-sync-health"
    return [screenshot(f"{ui}/deployments", out_dir / "prefect-ui-deployments.png"),
            screenshot(artifact_page, out_dir / "prefect-ui-sync-artifact.png")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", default=os.environ.get("PREFECT_API_URL", "http://127.0.0.1:4200/api"))
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--artifact-id", default=None, help="An artifact id (default: the latest status-sync-health).")
    args = parser.parse_args(argv)
    try:
        for path in take_screenshots(args.api, args.out, args.artifact_id):
            print(path)
    except (RuntimeError, httpx.HTTPError) as exc:
        print(f"ui_screenshot: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
