"""Money and text formatting shared by the Slack and email renderers (pure, no I/O)."""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from urllib.parse import quote, urlsplit

# Prefix symbols as an English-language invoice shows them; others fall back to "CODE 1,234.56".
CURRENCY_SYMBOLS: dict[str, str] = {
    "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$",
    "INR": "₹", "CNY": "CN¥", "MXN": "MX$", "BRL": "R$", "HKD": "HK$", "SGD": "S$", "KRW": "₩",
    "ILS": "₪", "ZAR": "R ", "CHF": "CHF ", "SEK": "SEK ", "NOK": "NOK ", "DKK": "DKK ", "PLN": "PLN ",
}
# ISO 4217 minor units where they differ from 2.
CURRENCY_EXPONENTS: dict[str, int] = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "HUF": 2,
                                      "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3}

Amount = Decimal | int | float | str


def to_decimal(amount: Amount) -> Decimal:
    """Convert an amount to ``Decimal`` without binary-float noise.

    Args:
        amount: A ``Decimal``, ``int``, ``float`` or numeric string.

    Returns:
        The amount as a ``Decimal``.

    Raises:
        ValueError: If the amount is not a finite number.
    """
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {amount!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {amount!r}")
    return value


def format_money(amount: Amount, currency: str = "USD") -> str:
    """Format an amount with its currency the way an English invoice does.

    Args:
        amount: The amount (negative amounts get a leading minus sign).
        currency: ISO 4217 code, e.g. ``"USD"``, ``"EUR"``, ``"JPY"``.

    Returns:
        E.g. ``"$1,234.50"``, ``"€99.00"``, ``"¥1,235"``, ``"CHF 10.00"``, ``"XTS 5.00"``.
    """
    code = (currency or "USD").strip().upper()
    exponent = CURRENCY_EXPONENTS.get(code, 2)
    value = to_decimal(amount).quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    number = f"{abs(value):,.{exponent}f}"
    symbol = CURRENCY_SYMBOLS.get(code)
    if symbol is None:
        return f"{sign}{code} {number}"
    return f"{sign}{symbol}{number}"


def format_total(amounts: dict[str, Decimal]) -> str:
    """Format per-currency totals, e.g. ``"$1,000.00 + €50.00"`` (currencies are never summed).

    Args:
        amounts: Total per ISO currency code.

    Returns:
        The totals joined by ``" + "``, largest currency group first; ``"$0.00"`` when empty.
    """
    if not amounts:
        return format_money(0, "USD")
    ordered = sorted(amounts.items(), key=lambda item: (-item[1], item[0]))
    return " + ".join(format_money(value, code) for code, value in ordered)


def format_date(value: date) -> str:
    """``date(2025, 3, 5)`` → ``"March 5, 2025"`` (locale-independent)."""
    return f"{value:%B} {value.day}, {value.year}"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``plural(1, "day")`` → ``"1 day"``; ``plural(7, "day")`` → ``"7 days"``."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


def one_line(value: str, limit: int = 200) -> str:
    """Collapse whitespace (including CR/LF, which could inject headers) and cap the length."""
    text = re.sub(r"\s+", " ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def safe_url(url: str | None) -> str | None:
    """Return the URL when it is an absolute http(s) URL, else ``None`` (no ``javascript:`` links).

    Characters that would break a Slack link (``<``, ``>``, ``|``) or an HTML attribute are
    percent-encoded; everything else is left as given.
    """
    if not url:
        return None
    text = str(url).strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(text, safe=":/?#[]@!$&'()*+,;=%~-._")
