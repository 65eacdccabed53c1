"""The checks behind `dealbooks doctor`: each returns ``Check`` lines, never raises, never shows a secret.

Status: ``ok`` (✓), ``fail`` (✗, exit code 1) or ``warn`` (!, works but worth a look, or cannot be
verified through the vendor's API). Every line that is not ``ok`` says what to do.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from typing import Any

import httpx

from dealbooks.flows.context import DEFAULT_BLOCKS, load_block

TIMEOUT = 15.0


@dataclass
class Check:
    name: str
    status: str  # ok | fail | warn
    detail: str = ""
    fix: str = ""


def _error(exc: Exception) -> str:
    """A failure's kind and message (dealbooks errors are written to be safe to show)."""
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}"[:300]


def _block(kind: str, names: dict[str, str], label: str, out: list[Check]) -> Any:
    name = {**DEFAULT_BLOCKS, **names}[kind]
    try:
        block = load_block(kind, names, required=False)
    except Exception as exc:  # noqa: BLE001 - the Prefect API itself may be unreachable
        out.append(Check(f"{label} block", "fail", _error(exc), "check PREFECT_API_URL and that the server is up"))
        return None
    if block is None:
        out.append(Check(f"{label} block", "fail", f"no block named {name!r}",
                         "run `dealbooks setup` (or create it in the Prefect UI under Blocks)"))
    return block


# -- ledger ------------------------------------------------------------------------------------------
def check_ledger(url: str | None) -> list[Check]:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from dealbooks.ledger.db import ledger_url
    from dealbooks.ledger.migrate import current_revision, head_revision

    url = url or ledger_url()
    shown = make_url(url).render_as_string(hide_password=True)
    engine = create_engine(url)  # not the cached engine: get_engine would keep an unmigrated one around
    try:
        current = current_revision(engine)
    except Exception as exc:  # noqa: BLE001
        return [Check("ledger migrated", "fail", f"{shown}: {_error(exc)}", "check DEALBOOKS_LEDGER_URL and the database")]
    finally:
        engine.dispose()
    head = head_revision()
    if current == head:
        return [Check("ledger migrated", "ok", f"{shown} at {head}")]
    return [Check("ledger migrated", "fail", f"{shown} at {current or 'no revision'}, expected {head}",
                  "run `dealbooks setup` (it migrates the ledger)")]


# -- QuickBooks --------------------------------------------------------------------------------------
def check_quickbooks(names: dict[str, str], settings: Any) -> list[Check]:
    out: list[Check] = []
    block = _block("qbo", names, "QuickBooks", out)
    if block is None:
        return out
    try:
        client = block.get_client()
        tokens = client.transport.tokens
        token = tokens.access_token()
        tokens.refresh(stale=token)  # a real refresh: proves the stored refresh token still works
        info = client.company_info()
        prefs = client.preferences()
    except Exception as exc:  # noqa: BLE001
        return out + [Check("QuickBooks token", "fail", _error(exc),
                            "reconnect the Intuit app and update the refresh token "
                            "(`dealbooks setup --replace-refresh-token`)")]
    out.append(Check("QuickBooks token", "ok", f"valid and refreshable for {info.get('CompanyName', '?')} "
                                               f"(realm {block.realm_id})"))
    sales = prefs.get("SalesFormsPrefs") or {}
    currency = prefs.get("CurrencyPrefs") or {}
    custom = bool(sales.get("CustomTxnNumbers"))
    out.append(Check("custom transaction numbers", "ok",
                     "on: dealbooks sets DocNumber" if custom else "off: QuickBooks numbers the invoices"))
    home = (currency.get("HomeCurrency") or {}).get("value", "?")
    out.append(Check("multicurrency", "ok", f"on (home {home}): deal currency must match the customer's"
                     if currency.get("MultiCurrencyEnabled") else f"off: only {home} deals can be invoiced"))
    online = bool(sales.get("ETransactionPaymentEnabled"))
    out.append(Check("online payments (share links)", "ok" if online else "warn",
                     "on: invoices carry a pay link" if online else "off: reminders go out without a pay link",
                     "" if online else "turn on QuickBooks Payments (Account and Settings → Payments)"))
    out.append(_tax_check(client, info, prefs, settings))
    return out


def _tax_check(client: Any, info: dict[str, Any], prefs: dict[str, Any], settings: Any) -> Check:
    country = info.get("Country") or (info.get("CompanyAddr") or {}).get("Country") or "US"
    tax = prefs.get("TaxPrefs") or {}
    if country == "US":
        if tax.get("PartnerTaxEnabled") or tax.get("UsingSalesTax"):
            return Check("sales tax", "ok", "US company: automated sales tax; lines are TAX/NON"
                         + (" (taxable by default)" if settings.taxable_by_default else ""))
        return Check("sales tax", "warn", "US company without sales tax set up",
                     "set up sales tax in QuickBooks (Taxes → Sales tax) if you charge it")
    if not settings.default_tax_code:
        return Check("sales tax", "fail", f"{country} company: every line needs a tax code, none configured",
                     "set InvoiceSettings.default_tax_code to a QuickBooks TaxCode id")
    try:
        codes = {str(c["Id"]): c.get("Name", "") for c in client.query_all("SELECT * FROM TaxCode")}
    except Exception as exc:  # noqa: BLE001
        return Check("sales tax", "fail", _error(exc), "check the QuickBooks connection")
    if settings.default_tax_code not in codes:
        return Check("sales tax", "fail", f"TaxCode {settings.default_tax_code} does not exist in QuickBooks",
                     f"use one of: {', '.join(f'{k} ({v})' for k, v in list(codes.items())[:8])}")
    return Check("sales tax", "ok", f"{country} company: TaxCode {settings.default_tax_code} "
                                    f"({codes[settings.default_tax_code]}) on every line")


# -- CRMs ---------------------------------------------------------------------------------------------
def _mapped_sources(settings: Any) -> dict[str, list[str]]:
    """``{"deal": [keys], "organization": [...], "person": [...]}`` from ``*.fields.<key>`` sources."""
    found: dict[str, list[str]] = {}
    for source in (settings.recipient_name_source, settings.address_source, settings.email_source,
                   settings.tax_id_source, settings.do_not_remind_field):
        if source and ".fields." in source:
            entity, _, key = source.partition(".fields.")
            found.setdefault(entity, []).append(key)
    return found


def check_pipedrive(names: dict[str, str], settings: Any, receiver_url: str | None) -> list[Check]:
    out: list[Check] = []
    block = _block("pipedrive", names, "Pipedrive", out)
    if block is None:
        return out
    http = httpx.Client(base_url=block.base_url.rstrip("/"), timeout=TIMEOUT,
                        headers={"x-api-token": block.api_token.get_secret_value()})
    try:
        me = http.get("/v1/users/me")
        if me.status_code != 200:
            return out + [Check("Pipedrive token", "fail", f"HTTP {me.status_code} from /v1/users/me",
                                "create a new API token (Personal preferences → API) and run `dealbooks setup`")]
        out.append(Check("Pipedrive token", "ok", f"user {me.json()['data'].get('name', '?')}"))
        kinds = {"deal": "dealFields", "organization": "organizationFields", "person": "personFields"}
        for entity, keys in _mapped_sources(settings).items():
            fields = http.get(f"/v1/{kinds[entity]}", params={"limit": 500}).json().get("data") or []
            out.append(_fields_check("Pipedrive", entity, keys, {f["key"] for f in fields}))
        out.append(_pipedrive_webhooks(http.get("/v1/webhooks").json().get("data") or [], block, receiver_url))
    except httpx.HTTPError as exc:
        out.append(Check("Pipedrive", "fail", _error(exc), f"check that {block.base_url} is reachable"))
    finally:
        http.close()
    return out


def _fields_check(crm: str, entity: str, keys: list[str], existing: set[str]) -> Check:
    missing = [k for k in keys if k not in existing]
    if missing:
        return Check(f"{crm} mapped {entity} fields", "fail", f"not found: {', '.join(missing)}",
                     f"create the field in {crm} or fix the source in InvoiceSettings ({entity}.fields.<key>)")
    return Check(f"{crm} mapped {entity} fields", "ok", ", ".join(keys))


def _pipedrive_webhooks(hooks: list[dict[str, Any]], block: Any, receiver_url: str | None) -> Check:
    deal_hooks = [h for h in hooks if h.get("event_object") in ("deal", "*") and h.get("event_action") in ("change", "*")
                  and int(h.get("is_active", 1))]
    if receiver_url:
        deal_hooks = [h for h in deal_hooks if h.get("subscription_url", "").startswith(receiver_url.rstrip("/"))]
    if not deal_hooks:
        return Check("Pipedrive webhook", "fail", "no active deal-change webhook"
                     + (f" to {receiver_url}" if receiver_url else ""),
                     "add one (POST /v1/webhooks: event_action change, event_object deal, version 2.0, "
                     f"http_auth_user {block.webhook_username!r} and the block's webhook password) → "
                     "<receiver>/webhooks/pipedrive")
    hook = deal_hooks[0]
    if str(hook.get("version", "2.0")) != "2.0":
        return Check("Pipedrive webhook", "fail", "registered as webhooks v1", "re-create it with version \"2.0\"")
    if not hook.get("http_auth_user") or block.webhook_password is None:
        return Check("Pipedrive webhook", "fail", "no basic auth on the webhook or in the block",
                     "set http_auth_user/password on the webhook and webhook_password in the block")
    status = hook.get("last_http_status")
    if status is not None and not 200 <= int(status) < 300:
        return Check("Pipedrive webhook", "fail", f"last delivery got HTTP {status} from {hook['subscription_url']}",
                     "check that `dealbooks webhooks serve` is reachable from Pipedrive and the passwords match")
    return Check("Pipedrive webhook", "ok", f"→ {hook['subscription_url']}"
                 + (f" (last delivery HTTP {status})" if status is not None else " (no delivery yet)"))


def check_hubspot(names: dict[str, str], settings: Any) -> list[Check]:
    out: list[Check] = []
    block = _block("hubspot", names, "HubSpot", out)
    if block is None:
        return out
    http = httpx.Client(base_url=block.base_url.rstrip("/"), timeout=TIMEOUT,
                        headers={"authorization": f"Bearer {block.access_token.get_secret_value()}"})
    try:
        account = http.get("/account-info/v3/details")
        if account.status_code != 200:
            return out + [Check("HubSpot token", "fail", f"HTTP {account.status_code} from /account-info/v3/details",
                                "rotate the private app's access token and run `dealbooks setup`")]
        out.append(Check("HubSpot token", "ok", f"portal {account.json().get('portalId', '?')}"))
        objects = {"deal": "deals", "organization": "companies", "person": "contacts"}
        for entity, keys in _mapped_sources(settings).items():
            props = http.get(f"/crm/v3/properties/{objects[entity]}").json().get("results") or []
            out.append(_fields_check("HubSpot", entity, keys, {p["name"] for p in props}))
    except httpx.HTTPError as exc:
        out.append(Check("HubSpot", "fail", _error(exc), f"check that {block.base_url} is reachable"))
    finally:
        http.close()
    if block.client_secret is None:
        out.append(Check("HubSpot webhook", "fail", "no client secret: signed webhooks cannot be verified",
                         "set HubSpotCredentials.client_secret (the app's Auth tab)"))
    else:
        out.append(Check("HubSpot webhook", "warn", "the subscription is not visible to a private-app token",
                         "check the app's Webhooks tab: deal.propertyChange on dealstage → <receiver>/webhooks/hubspot"))
    return out


# -- receiver, Slack, SMTP ----------------------------------------------------------------------------
def check_receiver(receiver_url: str | None, qbo_block: Any) -> list[Check]:
    out: list[Check] = []
    if qbo_block is not None and qbo_block.webhook_verifier_token is None:
        out.append(Check("QuickBooks webhook", "warn", "no verifier token: QuickBooks webhooks are refused",
                         "copy the verifier token from the Intuit app's Webhooks page into the block"))
    if not receiver_url:
        return out + [Check("webhook receiver", "warn", "not checked (no --webhook-url)",
                            "pass --webhook-url https://<public receiver address> to check it answers")]
    try:
        response = httpx.get(f"{receiver_url.rstrip('/')}/healthz", timeout=TIMEOUT)
        ok = response.status_code == 200
    except httpx.HTTPError as exc:
        return out + [Check("webhook receiver", "fail", _error(exc), "start `dealbooks webhooks serve` there")]
    return out + [Check("webhook receiver", "ok" if ok else "fail", f"{receiver_url}/healthz → {response.status_code}",
                        "" if ok else "start `dealbooks webhooks serve` there")]


def check_slack(names: dict[str, str]) -> list[Check]:
    out: list[Check] = []
    block = _block("slack", names, "Slack", out)
    if block is None:
        return [Check("Slack", "warn", "no Slack block: payment alerts are skipped", "run `dealbooks setup` with [slack]")]
    try:
        reply = block.get_client().auth_test()
        return [Check("Slack", "ok", f"bot {reply.get('user', '?')} in {reply.get('team', '?')}")]
    except Exception as exc:  # noqa: BLE001 - slack_sdk raises SlackApiError / connection errors
        error = getattr(getattr(exc, "response", None), "data", None) or {}
        return [Check("Slack", "fail", f"auth.test: {error.get('error') if isinstance(error, dict) else ''} "
                      f"{type(exc).__name__}", "check the bot token (chat:write) and run `dealbooks setup`")]


def check_smtp(names: dict[str, str]) -> list[Check]:
    out: list[Check] = []
    block = _block("smtp", names, "SMTP", out)
    if block is None:
        return [Check("SMTP", "warn", "no SMTP block: reminders cannot be sent", "run `dealbooks setup` with [smtp]")]
    kind = getattr(block.smtp_type, "name", str(block.smtp_type))
    where = f"{block.smtp_server}:{block.smtp_port} ({kind})"
    try:
        server_type = smtplib.SMTP_SSL if kind == "SSL" else smtplib.SMTP
        with server_type(block.smtp_server, int(block.smtp_port), timeout=TIMEOUT) as server:
            if kind == "STARTTLS":
                server.starttls()
            code, _ = server.noop()
            if code != 250:
                raise smtplib.SMTPResponseException(code, b"NOOP refused")
            if block.username:
                server.login(block.username, block.password.get_secret_value())
    except smtplib.SMTPAuthenticationError as exc:
        return [Check("SMTP", "fail", f"{where}: login refused ({exc.smtp_code})", "check the SMTP username/password")]
    except (OSError, smtplib.SMTPException) as exc:
        return [Check("SMTP", "fail", f"{where}: {type(exc).__name__}: {exc}"[:300],
                      "check host, port and security (SSL/STARTTLS/INSECURE) in the SMTP block")]
    return [Check("SMTP", "ok", f"{where}: NOOP" + (" + login" if block.username else ""))]
