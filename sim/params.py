"""Reading request parameters the way Binance's Java services do: integers from JSON numbers or
digit strings, pages counted from 1."""

from __future__ import annotations

from decimal import Decimal


def as_int(value: object, default: int | None = None) -> int | None:
    """An integer from a JSON integer or a digit string; `default` when absent, None when not
    an integer (a bool, a fraction, text)."""
    if value is None:
        return default
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def paged(body: object) -> bool:
    """True when a body carries the `page` and `rows` a paged C2C call requires."""
    return isinstance(body, dict) and None not in (as_int(body.get("page")),
                                                   as_int(body.get("rows")))


def page_of(items: list, page: int, rows: int) -> list:
    start = (max(page, 1) - 1) * rows
    return items[start:start + rows]
