"""How the limiter's calls reach an exchange: the one seam between the bot and the network.

The limiter hands each call to a sender with a way to build the signed httpx request. Live runs
and the simulator use `HttpxSender` over an httpx client (whose transport decides where the
call goes); replay uses `replay.recorded.RecordedSender`, which answers from the log and never
builds the request at all.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import httpx

from c2c.decode import relevant_headers
from events import ApiRequest


class RawReply(NamedTuple):
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class HttpxSender:
    """Send through an httpx client (whose transport is real, mocked or simulated)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, req: ApiRequest, build: Callable[[], httpx.Request]) -> RawReply:
        """Perform the call. Raises httpx.HTTPError when no answer came back."""
        resp = await self.client.send(build())
        body = await resp.aread()
        return RawReply(resp.status_code, relevant_headers(resp.headers.multi_items()), body)


__all__ = ["HttpxSender", "RawReply"]
