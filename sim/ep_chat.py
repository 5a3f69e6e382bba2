"""Chat over REST: EP-33 (retrieveChatCredential) and EP-34 (the history), reference §8.

EP-33 without the clientType header gets 400 -1102 "illegal parameter", as one bot saw. EP-34
lists the messages the socket pushed, newest first, as the 2026 capture shows them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.auth import query_params
from sim.params import as_int, page_of
from sim.wire import Request, Response, illegal, mandatory, sapi_ok

if TYPE_CHECKING:
    from sim.exchange import SimExchange


def chat_credential(ex: SimExchange, req: Request, now: float) -> Response:
    if not req.headers.get("clienttype"):
        return illegal()
    host = req.headers.get("host", "127.0.0.1")
    return sapi_ok(ex.issue_chat_credential(host, now))


def chat_messages(ex: SimExchange, req: Request, now: float) -> Response:
    params = query_params(req.query)
    page, rows = as_int(params.get("page")), as_int(params.get("rows"))
    if page is None or rows is None:
        return mandatory("page|rows")
    messages = ex.desk.history(params.get("orderNo") or None)
    nickname = ex.cfg.history_from_nickname
    return sapi_ok([m.history(nickname) for m in page_of(messages, page, rows)], len(messages))
