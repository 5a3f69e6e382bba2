"""Errors of the C2C wire layer, what to do about each, and the backoff schedule.

Hierarchy (with each class's `action`)::

    C2CError(Exception)       endpoint, status, code, message, raw (never in str/repr), action
     ├─ MalformedResponse     HTML page, truncated JSON, wrong types, empty body,
     │                        envelope-less 200, junk chat frame                  ABORT
     └─ ApiCallError          Binance (or its edge) said no
         ├─ ClockRejected     -1021 / -1022: resync the clock, sign again         RESYNC_AND_RETRY
         ├─ RateLimited       429, -1003, -1000 with HTTP 5xx, -9000 naming nothing BACKOFF_AND_RETRY
         │   └─ ServerError   5xx: the outcome is unknown (`outcome_unknown`)
         ├─ AdUpdateConflict  187049 / 187040 / 187031: re-read, retry           REFETCH_AND_RETRY
         ├─ MerchantResting   83229 / 83230 / 83723: the ad is paused             PAUSE_AD
         │   └─ AdUnavailable 187022: the ad does not exist or is offline
         ├─ AdCoolingDown     83628 / 83762: this ad waits `wait_s`, others go on  AD_COOLDOWN
         ├─ PriceOutOfRange   187055: price outside Binance's band                FIND_VALID_PRICE
         ├─ IpBanned          418: no call at all until Retry-After               IP_BANNED
         ├─ WafBlocked        403: pause a few minutes                            WAF_PAUSE
         ├─ FatalApiError     451, -2008, -2014, -2015: stop the bot              FATAL
         └─ RequestRejected   anything else (-1102, 000002, -1000 with HTTP 404)  ABORT

5xx is BACKOFF_AND_RETRY with `outcome_unknown=True`: Binance may have applied a write before it
failed, so a caller must re-read the state (EP-4) before it sends an effect (EP-7/EP-8) again;
reads can simply be retried. -1000 means two things told apart by the HTTP status (reference §7):
with 404 a wrong method, permanent (ABORT, never retried); with 500 an unknown error (backoff).

A -9000 wrapper carries a C2C code in its msg (`{"code":-9000,"msg":"187049"}`, reference §7):
`c2c_code` is that inner code, taken only when the msg is the code itself or names a code Binance
is known to send; numbers that are amounts ("less than 10000") are never read as codes.
"""

from __future__ import annotations

import enum
import re

_MAX_MESSAGE = 200


class Action(enum.Enum):
    """What the caller should do after a failed call."""

    RESYNC_AND_RETRY = "resync_and_retry"
    BACKOFF_AND_RETRY = "backoff_and_retry"
    REFETCH_AND_RETRY = "refetch_and_retry"
    PAUSE_AD = "pause_ad"
    FIND_VALID_PRICE = "find_valid_price"
    AD_COOLDOWN = "ad_cooldown"
    IP_BANNED = "ip_banned"
    WAF_PAUSE = "waf_pause"
    FATAL = "fatal"
    ABORT = "abort"


REFETCH_WAIT_S = 0.3  # how long REFETCH_AND_RETRY waits before re-reading the ad

_BY_CODE: dict[int, Action] = {
    -1021: Action.RESYNC_AND_RETRY,
    -1022: Action.RESYNC_AND_RETRY,
    -1000: Action.BACKOFF_AND_RETRY,
    -1003: Action.BACKOFF_AND_RETRY,
    83628: Action.AD_COOLDOWN,
    83762: Action.AD_COOLDOWN,
    187049: Action.REFETCH_AND_RETRY,
    187040: Action.REFETCH_AND_RETRY,
    187031: Action.REFETCH_AND_RETRY,
    83229: Action.PAUSE_AD,
    83230: Action.PAUSE_AD,
    83723: Action.PAUSE_AD,
    187022: Action.PAUSE_AD,
    187055: Action.FIND_VALID_PRICE,
    -2008: Action.FATAL,
    -2014: Action.FATAL,
    -2015: Action.FATAL,
}
_BY_STATUS: dict[int, Action] = {
    418: Action.IP_BANNED,
    451: Action.FATAL,
    429: Action.BACKOFF_AND_RETRY,
    403: Action.WAF_PAUSE,
}
# Codes the reference lists as sent by C2C (§7): only these are read out of a -9000's free text.
KNOWN_CODES = frozenset(_BY_CODE) | {-1002, -1102, -1131, 83015, 500000001}
# How long an ad waits after a cool-down answer when the msg names no time (83628's own text
# says 30 s [BPA-LOG]; 83762 lasts until the ad is refilled, so the next EP-4 refresh).
COOLDOWN_S = {83628: 30.0, 83762: 60.0}
_WRAPPER = -9000
_WHOLE_CODE = re.compile(r"\s*(-?\d{1,9})\s*")
_CODE_TOKEN = re.compile(r"(?<![\w.,])-?\d{4,9}(?![\w.,])")
_AFTER_SECONDS = re.compile(r"after\s+(\d{1,5})\s*s", re.IGNORECASE)
_PRICE_BAND_TEXT = ("limited range", "rango limitado")


class C2CError(Exception):
    """A C2C call or frame that gave no usable answer.

    Attributes:
        endpoint: "EP-7", "TIME", "chat-frame", ...
        status: the HTTP status (0 for a WebSocket frame).
        code: Binance's code as an int ("000002" becomes 2), or None.
        message: Binance's text (shortened) or ours; never the raw body.
        raw: the bytes received, kept for the log; never shown by str() or repr().
        action: what to do next.
    """

    action: Action = Action.ABORT
    outcome_unknown = False

    def __init__(
        self,
        endpoint: str,
        status: int,
        message: str,
        *,
        code: int | None = None,
        raw: bytes = b"",
        retry_after_s: float | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.message = message[:_MAX_MESSAGE]
        self.raw = raw
        self.retry_after_s = retry_after_s
        super().__init__(self._describe())

    @property
    def c2c_code(self) -> int | None:
        """Binance's code, unwrapped from a -9000 wrapper when its msg names one."""
        if self.code == _WRAPPER:
            inner = wrapped_code(self.message)
            return inner if inner is not None else self.code
        return self.code

    def _describe(self) -> str:
        code = "" if self.code is None else f" code {self.code}"
        return f"{self.endpoint}: HTTP {self.status}{code}: {self.message} ({len(self.raw)} bytes)"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()!r})"

    def __reduce__(self):
        return _rebuild, (type(self), self.endpoint, self.status, self.message, self.code,
                          self.raw, self.retry_after_s)


def _rebuild(cls, endpoint, status, message, code, raw, retry_after_s):
    return cls(endpoint, status, message, code=code, raw=raw, retry_after_s=retry_after_s)


class MalformedResponse(C2CError):
    """The answer could not be understood: not JSON, wrong shape, wrong types or empty."""


class ApiCallError(C2CError):
    """Binance refused the call; `action` says how to react."""


class ClockRejected(ApiCallError):
    action = Action.RESYNC_AND_RETRY


class RateLimited(ApiCallError):
    action = Action.BACKOFF_AND_RETRY


class ServerError(RateLimited):
    outcome_unknown = True


class AdUpdateConflict(ApiCallError):
    action = Action.REFETCH_AND_RETRY


class MerchantResting(ApiCallError):
    action = Action.PAUSE_AD


class AdUnavailable(MerchantResting):
    """187022: the ad does not exist or is offline (reference §7); re-read my ads (EP-4)."""


class AdCoolingDown(ApiCallError):
    """83628 "Too many attempts, please try again after 30s" and 83762 (balance too low).

    Only this ad waits: `wait_s` is the time the msg names, else `COOLDOWN_S` for the code.
    """

    action = Action.AD_COOLDOWN

    @property
    def wait_s(self) -> float:
        found = _AFTER_SECONDS.search(self.message or "")
        if found:
            return float(found.group(1))
        return COOLDOWN_S.get(self.c2c_code or 0, 30.0)


class PriceOutOfRange(ApiCallError):
    action = Action.FIND_VALID_PRICE


class IpBanned(ApiCallError):
    action = Action.IP_BANNED


class WafBlocked(ApiCallError):
    action = Action.WAF_PAUSE


class FatalApiError(ApiCallError):
    action = Action.FATAL


class RequestRejected(ApiCallError):
    action = Action.ABORT


_CLASS_BY_ACTION: dict[Action, type[ApiCallError]] = {
    cls.action: cls
    for cls in (ClockRejected, RateLimited, AdUpdateConflict, MerchantResting, AdCoolingDown,
                PriceOutOfRange, IpBanned, WafBlocked, FatalApiError, RequestRejected)
}
_CLASS_BY_CODE: dict[int, type[ApiCallError]] = {187022: AdUnavailable}


def classify(status: int, code: int | None, msg: str | None) -> Action:
    """Decide what to do about a failed call.

    Edge statuses (418, 451, 429, 403) win over any body; then Binance's code, where -9000 is a
    wrapper classified by the code or text inside its msg (BACKOFF_AND_RETRY when it names
    none) and -1000 is permanent with HTTP 404 (a wrong method) but transient with 5xx; then
    5xx backs off; anything else aborts.
    """
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if code == _WRAPPER:
        return _classify_wrapped(msg or "")
    if code == -1000 and status < 500:
        return Action.ABORT
    if code is not None and code in _BY_CODE:
        return _BY_CODE[code]
    if status >= 500:
        return Action.BACKOFF_AND_RETRY
    return Action.ABORT


def wrapped_code(msg: str | None) -> int | None:
    """The C2C code inside a -9000 wrapper's msg, or None.

    The msg is either the code itself (`"187049"`, as captured [BNP]) or text naming a code the
    reference knows; any other number (an amount, a limit) is not a code.
    """
    text = msg or ""
    whole = _WHOLE_CODE.fullmatch(text)
    if whole:
        return int(whole.group(1))
    for token in _CODE_TOKEN.findall(text):
        if int(token) in KNOWN_CODES:
            return int(token)
    return None


def _classify_wrapped(msg: str) -> Action:
    inner = wrapped_code(msg)
    if inner is not None:
        return _BY_CODE.get(inner, Action.ABORT)
    if any(hint in msg.lower() for hint in _PRICE_BAND_TEXT):
        return Action.FIND_VALID_PRICE
    return Action.BACKOFF_AND_RETRY


def api_error(
    endpoint: str,
    status: int,
    code: int | None,
    msg: str | None,
    *,
    raw: bytes = b"",
    retry_after_s: float | None = None,
) -> ApiCallError:
    """Build the ApiCallError subclass that `classify` picks for this failure."""
    action = classify(status, code, msg)
    cls = _CLASS_BY_ACTION[action]
    inner = wrapped_code(msg) if code == _WRAPPER else code
    if inner in _CLASS_BY_CODE and _CLASS_BY_CODE[inner].action is action:
        cls = _CLASS_BY_CODE[inner]
    if cls is RateLimited and status >= 500:
        cls = ServerError
    text = msg or f"HTTP {status}"
    return cls(endpoint, status, text, code=code, raw=raw, retry_after_s=retry_after_s)


class Backoff:
    """Delays for consecutive failures: 100 ms doubling per hit up to a cap, reset on success.

    Pure: it computes delays and never sleeps.
    """

    def __init__(self, base_s: float = 0.1, cap_s: float = 30.0) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.hits = 0

    def next_delay(self, retry_after_s: float | None = None) -> float:
        """Count one more failure and return how long to wait before the next call.

        A server's Retry-After wins when it is longer than the schedule (it is not capped).
        """
        delay = self.peek(retry_after_s)
        self.hits += 1
        return delay

    def peek(self, retry_after_s: float | None = None) -> float:
        """The delay `next_delay` would return now, without counting a failure."""
        delay = min(self.cap_s, self.base_s * 2 ** min(self.hits, 64))
        if retry_after_s is not None and retry_after_s > delay:
            return retry_after_s
        return delay

    def reset(self) -> None:
        """Start the schedule again after a success."""
        self.hits = 0
