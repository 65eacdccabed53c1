"""Webhooks v2 deliveries of the Pipedrive emulator.

For every create/change/delete of a deal, person, organization, product or note, each matching
active webhook (``event_action`` create/change/delete/``*``, ``event_object`` or ``*``) gets one
POST through the shared dispatcher (which retries failures; the sandbox scales Pipedrive's 3 s /
30 s / 150 s retry delays down). The body follows Pipedrive's webhooks v2 format::

    {"meta": {"action": "change", "entity": "deal", "entity_id": "42", "id": "<uuid>",
              "attempt": 1, "timestamp": "...", "version": "2.0", "webhook_id": "7", ...},
     "data": {... the object as the v2 API returns it ...},
     "previous": {... only the fields that changed, with their old values ...}}

A retry carries the same ``meta.id`` with ``attempt`` increased. The webhook's HTTP basic auth
credentials are sent with every attempt. Pipedrive bans a webhook for 30 minutes after repeated
failures and drops its events; the emulator does the same after ``BAN_AFTER_FAILURES`` deliveries
that failed every attempt, timed on the sandbox clock.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from dealbooks.sandbox.pipedrive.store import Store, iso, parse_time
from dealbooks.sandbox.webhooks import WebhookDispatcher

BAN_AFTER_FAILURES = 3
BAN_MINUTES = 30
IGNORED_IN_PREVIOUS = ("update_time",)


def diff_previous(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Old values of the fields that changed (custom fields compared key by key)."""
    previous: dict[str, Any] = {}
    for key, old in before.items():
        if key in IGNORED_IN_PREVIOUS:
            continue
        new = after.get(key)
        if key == "custom_fields" and isinstance(old, dict) and isinstance(new, dict):
            changed = {k: v for k, v in old.items() if new.get(k) != v}
            changed.update({k: None for k in new if k not in old and new[k] is not None})
            if changed:
                previous["custom_fields"] = changed
        elif old != new:
            previous[key] = old
    return previous


def emit(store: Store, dispatcher: WebhookDispatcher, action: str, entity: str, entity_id: int,
         data: dict[str, Any] | None, previous: dict[str, Any] | None) -> int:
    """Queue the deliveries for one event; returns how many webhooks it was sent to.

    Called with ``state.lock`` held (the event is built from the state at commit time).
    """
    if action == "change" and not previous:
        return 0
    sent = 0
    now = store.state.now()
    for hook in sorted(store.table("webhooks").values(), key=lambda h: h["id"]):
        if not hook.get("is_active") or hook.get("version") != "2.0":
            continue
        if hook["event_action"] not in ("*", action) or hook["event_object"] not in ("*", entity):
            continue
        if _banned(store, hook, now):
            continue
        event_id = str(uuid.uuid4())
        meta = {
            "action": action,
            "entity": entity,
            "entity_id": str(entity_id),
            "id": event_id,
            "attempt": 1,
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
            "version": "2.0",
            "webhook_id": str(hook["id"]),
            "webhook_owner_id": str(hook.get("user_id")),
            "company_id": str(store.company.get("id")),
            "user_id": str(store.default_user_id),
            "correlation_id": str(uuid.uuid4()),
            "type": "general",
            "host": f"{store.company.get('domain', 'sandbox')}.pipedrive.com",
            "is_bulk_edit": False,
            "change_source": "api",
            "permitted_user_ids": [str(store.default_user_id)],
        }
        document = {"meta": meta, "data": data, "previous": previous}
        auth = None
        if hook.get("http_auth_user") or hook.get("http_auth_password"):
            auth = (hook.get("http_auth_user") or "", hook.get("http_auth_password") or "")
        hook["last_delivery_time"] = iso(now)
        dispatcher.enqueue("pipedrive", hook["subscription_url"], _body_factory(document),
                           {"Content-Type": "application/json"}, auth=auth)
        sent += 1
    store.state.mark_dirty()
    return sent


def _body_factory(document: dict[str, Any]) -> Any:
    """Bytes for each attempt: the same event, ``meta.attempt`` set to the attempt number."""

    def body(attempt: int) -> bytes:
        document["meta"]["attempt"] = attempt
        return json.dumps(document, ensure_ascii=False).encode("utf-8")

    return body


def _banned(store: Store, hook: dict[str, Any], now: Any) -> bool:
    """Ban the hook after BAN_AFTER_FAILURES deliveries that failed every attempt (Pipedrive: 30 min)."""
    banned_until = hook.get("banned_until")
    if banned_until and parse_time(banned_until) > now:
        return True
    if banned_until:
        hook["banned_until"] = None
        hook["ban_checked_after"] = banned_until
    retries = len(store.state.options.webhook_retry_delays)
    log = store.state.data.get("webhooks", {}).get("log", [])
    since = hook.get("ban_checked_after") or hook.get("add_time")
    exhausted = [e for e in log if e.get("service") == "pipedrive" and e.get("url") == hook["subscription_url"]
                 and not e.get("ok") and e.get("attempt") == retries + 1
                 and (not since or str(e.get("at", "")) >= _iso_full(since))]
    if len(exhausted) >= BAN_AFTER_FAILURES:
        hook["banned_until"] = iso(now + timedelta(minutes=BAN_MINUTES))
        hook["remove_reason"] = "banned: repeated delivery failures"
        return True
    return False


def _iso_full(value: str) -> str:
    """A stored ``...Z`` time in the ``isoformat()`` form the dispatcher log uses, for comparison."""
    return parse_time(value).isoformat()
