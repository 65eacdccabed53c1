"""A tiny scripted HTTP server playing Intuit for error-path tests: real sockets, canned replies.

It serves an OAuth discovery document, a token endpoint that rotates refresh tokens strictly
(the previous one then gets ``invalid_grant``), and answers Accounting API requests from a queue
of ``(status, body, headers)`` replies — used to push QBO's real fault payloads (from
``/work/shared/reference/qbo/errors``) through python-quickbooks' own response handling.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ReplayServer:
    def __init__(self) -> None:
        self.replies: deque[tuple[int, str, dict[str, str]]] = deque()
        self.discovery_statuses: deque[int] = deque()  # answered (empty body) before the real document
        self.refresh_token = "rt-" + secrets.token_hex(16)
        self.access_tokens: set[str] = set()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.token_calls = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
                data = body.encode()
                self.send_response(status)
                for key, value in (headers or {"Content-Type": "application/json"}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.startswith("/disc") and server.discovery_statuses:
                    self._send(server.discovery_statuses.popleft(), "{}")
                    return
                if self.path.startswith("/disc"):
                    base = f"http://127.0.0.1:{server.port}"
                    self._send(200, json.dumps({
                        "issuer": base, "authorization_endpoint": base + "/authorize",
                        "token_endpoint": base + "/token", "revocation_endpoint": base + "/revoke",
                        "userinfo_endpoint": base + "/userinfo", "jwks_uri": base + "/jwks"}))
                    return
                self._api()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                if self.path.startswith("/token"):
                    from urllib.parse import parse_qs

                    form = {k: v[0] for k, v in parse_qs(body).items()}
                    with server.lock:
                        server.token_calls += 1
                        if form.get("refresh_token") != server.refresh_token:
                            self._send(400, json.dumps({"error": "invalid_grant"}))
                            return
                        server.refresh_token = "rt-" + secrets.token_hex(16)
                        access = "at-" + secrets.token_hex(16)
                        server.access_tokens.add(access)
                        reply = {"access_token": access, "refresh_token": server.refresh_token,
                                 "expires_in": 3600, "x_refresh_token_expires_in": 8640000,
                                 "token_type": "bearer"}
                    self._send(200, json.dumps(reply))
                    return
                self._api()

            def _api(self) -> None:
                auth = self.headers.get("Authorization", "")
                server.requests.append((self.command, self.path, dict(self.headers)))
                if auth.removeprefix("Bearer ") not in server.access_tokens:
                    self._send(401, json.dumps({"fault": {"error": [{"message": "message=AuthenticationFailed; "
                               "errorCode=003200; statusCode=401", "detail": "Token expired", "code": "3200"}],
                               "type": "AUTHENTICATION"}}))
                    return
                with server.lock:
                    status, body, headers = server.replies.popleft() if server.replies else (
                        200, json.dumps({"QueryResponse": {}}), {"Content-Type": "application/json"})
                self._send(status, body, headers)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def discovery_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/disc"

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v3"

    def reply(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        self.replies.append((status, body, headers or {"Content-Type": "application/json"}))

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    def __enter__(self) -> ReplayServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
