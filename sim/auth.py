"""How Binance refuses a SAPI call before any endpoint sees it (reference §2, §11): every C2C SAPI
call is signed, and each way of getting that wrong has its own answer.

Checks, in order; the first that fails answers:

    1. neither `timestamp` nor `signature` in the query (no query at all included)
       -> HTTP 401 -1002 "You are not authorized..." (captured on getUserOrderDetail), or what
          `unsigned_detail_answer` chooses: 400 -1102, 400 -2014, 401 -2015
    2. X-MBX-APIKEY missing or not 64 alphanumerics -> 400 -2014 "API-key format invalid."
       (captured); well formed but not the account's -> 400 -2008 "Invalid Api-Key ID." (sample);
       the account's own key (SimConfig.api_key) always passes
    3. `timestamp` missing or not an integer (`None`, `1700000000220.5`), or `recvWindow` not an
       integer -> 400 -1102 "Mandatory parameter '[timestamp]/[recvWindow]'..." (captured)
    4. `recvWindow` over 60000 -> 400 -1102 "'recvWindow' contains unexpected value. Cannot be
       greater than 60000." (today's errors.md) or -1131 "recvWindow must be less than 60000."
       (2019 change log), per `recv_window_refusal`; never silently clamped
    5. `timestamp` without `signature` -> 400 -1102 "Mandatory parameter 'signature'..." (the
       spot text; no C2C capture)
    6. server - timestamp > recvWindow, or timestamp >= server + 1000 -> 400 -1021 (captured)
    7. the HMAC-SHA256 of the query before `&signature=` (exactly as sent, body not signed) is
       not the trailing signature (hex, any case) -> 400 -1022 (spot text)
    8. `clientType` header missing, when `client_type_everywhere` -> 400 -1102 "illegal parameter"
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from c2c.signing import verify
from sim import answers
from sim.config import SimConfig
from sim.wire import Request, Response, gateway_error, illegal, mandatory

MAX_RECV_WINDOW_MS = 60000
DEFAULT_RECV_WINDOW_MS = 5000

_KEY = re.compile(r"[A-Za-z0-9]{64}")
_INTEGER = re.compile(r"-?[0-9]+")


def query_params(query: str) -> dict[str, str]:
    return dict(parse_qsl(query, keep_blank_values=True))


def _recv_window_refusal(choice: str) -> Response:
    if choice == "-1131":
        return gateway_error(400, -1131, "recvWindow must be less than 60000.")
    return gateway_error(400, -1102, "'recvWindow' contains unexpected value. Cannot be greater "
                                     "than 60000.")


def check_api_key(req: Request, api_key: str) -> Response | None:
    """Refuse a key header Binance could not parse (-2014) or does not know (-2008). The
    account's own key is accepted whatever its form: the exchange issued it."""
    sent = req.headers.get("x-mbx-apikey", "")
    if sent == api_key:
        return None
    if not _KEY.fullmatch(sent):
        return answers.answer("400-2014")
    return answers.answer("-2008")


def check_timestamp(params: dict[str, str], server_ms: int, cfg: SimConfig) -> Response | None:
    """Checks 3, 4, 5 and 6: the timestamp, the recvWindow and the signature's presence."""
    stamp, window = params.get("timestamp", ""), params.get("recvWindow")
    if not _INTEGER.fullmatch(stamp) or (window is not None and not _INTEGER.fullmatch(window)):
        return gateway_error(400, -1102, answers.TIMESTAMP_MALFORMED)
    recv_window = DEFAULT_RECV_WINDOW_MS if window is None else int(window)
    if recv_window > MAX_RECV_WINDOW_MS:
        return _recv_window_refusal(cfg.recv_window_refusal)
    if "signature" not in params:
        return mandatory("signature")
    timestamp = int(stamp)
    if timestamp >= server_ms + 1000 or server_ms - timestamp > recv_window:
        return gateway_error(400, -1021, answers.STALE)
    return None


def authenticate(req: Request, cfg: SimConfig, server_ms: int) -> Response | None:
    """Run the checks of a SIGNED C2C call in Binance's order.

    Returns:
        None when the call may reach its endpoint, else the refusal to send.
    """
    params = query_params(req.query)
    if "timestamp" not in params and "signature" not in params:
        return answers.unsigned(cfg.unsigned_detail_answer)
    refusal = check_api_key(req, cfg.api_key) or check_timestamp(params, server_ms, cfg)
    if refusal is not None:
        return refusal
    if not verify(cfg.api_secret, req.query):
        return gateway_error(400, -1022, answers.BAD_SIGNATURE)
    if cfg.client_type_everywhere and not req.headers.get("clienttype"):
        return illegal()
    return None
