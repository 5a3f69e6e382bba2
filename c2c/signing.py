"""HMAC-SHA256 signing of SAPI query strings, exactly as sent."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from c2c.credentials import Secret

RECV_WINDOW_MS = 60000


def sign(secret: Secret, payload: str) -> str:
    """Return the lowercase hex HMAC-SHA256 of `payload` keyed by the secret."""
    return hmac.new(secret.reveal().encode(), payload.encode(), hashlib.sha256).hexdigest()


def signed_query(
    params: tuple[tuple[str, str], ...] | list[tuple[str, str]],
    timestamp_ms: int,
    secret: Secret,
    recv_window_ms: int = RECV_WINDOW_MS,
) -> str:
    """Build the full query string: params, recvWindow, timestamp, then the signature last.

    The string is percent-encoded before it is signed, and the signed string is the one sent.
    """
    query = urlencode([*params, ("recvWindow", str(recv_window_ms)), ("timestamp", str(timestamp_ms))])
    return f"{query}&signature={sign(secret, query)}"


def verify(secret: Secret, query: str) -> bool:
    """True when the query's trailing signature is the HMAC of everything before it."""
    head, sep, sig = query.rpartition("&signature=")
    if not sep:
        return False
    return hmac.compare_digest(sign(secret, head), sig.lower())
