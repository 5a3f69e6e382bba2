"""What the limiter does with an answer: which class of failure it is, and whether to retry it.

Pure functions of the request and the answer, so the policy reads in one place and tests need
no Trio.
"""

from __future__ import annotations

from c2c.decode import decode_envelope, search_page
from c2c.errors import Action, ApiCallError, C2CError
from events import ApiRequest

MAX_ATTEMPTS = 5
_SEARCHES = ("EP-0", "EP-0S")


def classify_reply(req: ApiRequest, status: int, headers, body: bytes):
    """Return (None, None) for a success, else (Action, the typed error)."""
    if req.endpoint in _SEARCHES and search_page(status, body) is not None:
        return None, None  # a book page, decoded once for its caller too (`search_page`)
    try:
        decode_envelope(req.endpoint, status, headers, body)
    except ApiCallError as exc:
        return exc.action, exc
    except C2CError as exc:
        # Junk from an overloaded edge is worth another try for a read; never for a write.
        retry = status >= 500 or (status == 200 and not req.effect)
        return (Action.BACKOFF_AND_RETRY if retry else Action.ABORT), exc
    return None, None


def should_retry(req: ApiRequest, action: Action | None, attempt: int) -> bool:
    """True when the limiter itself should send `req` again after this answer."""
    if action is None or attempt >= MAX_ATTEMPTS:
        return False
    if action is Action.RESYNC_AND_RETRY:
        return attempt < 2 and req.signed  # an unsigned EP-13 is the orders actor's to sign
    if action in (Action.IP_BANNED, Action.WAF_PAUSE, Action.BACKOFF_AND_RETRY):
        # A write is never sent after a pause: the book it was priced on is gone by then (and
        # after a 5xx its outcome is unknown), so the ads actor decides again on a fresh one.
        # A `no_wait` read is asked another way by its caller.
        return not req.effect and not req.no_wait
    return False
