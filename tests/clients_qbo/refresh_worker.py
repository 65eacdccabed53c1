"""Run by the two-process refresh test: refresh one realm N times through ``TokenManager``.

Usage: ``python -m tests.clients_qbo.refresh_worker CONFIG_JSON`` with keys discovery_url,
api_base, client_id, client_secret, realm_id, store, count, ready, go. Every refresh is real
(``skew`` larger than the token lifetime makes every stored access token count as expired); every
20th new access token is used for an API call. Prints one JSON line: refreshes, api_calls, errors.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import requests
from intuitlib.client import AuthClient

from dealbooks.clients.qbo_auth import FileTokenStore, TokenManager


def main(config: dict) -> dict:
    auth = AuthClient(config["client_id"], config["client_secret"], "http://127.0.0.1/cb", config["discovery_url"])
    manager = TokenManager(auth, FileTokenStore(config["store"]), config["realm_id"], skew=10**9)
    Path(config["ready"]).touch()
    while not Path(config["go"]).exists():
        time.sleep(0.005)
    errors: list[str] = []
    api_calls = 0
    session = requests.Session()
    for i in range(config["count"]):
        try:
            token = manager.access_token()
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on any
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        if i % 20 == 0:
            url = f"{config['api_base']}/company/{config['realm_id']}/companyinfo/{config['realm_id']}"
            reply = session.get(url, params={"minorversion": 75},
                                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
            api_calls += 1
            if reply.status_code != 200:
                errors.append(f"api {reply.status_code}")
    return {"refreshes": manager.refresh_count, "api_calls": api_calls, "errors": errors[:5],
            "error_count": len(errors)}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
