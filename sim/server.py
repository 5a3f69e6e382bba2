"""Serve a SimExchange on real sockets under Trio: HTTP with hypercorn, the chat WebSocket on
its own port (`sim.chat_server`), market loop included."""

from __future__ import annotations

from functools import partial

import msgspec
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from sim.app import make_app
from sim.chat_server import serve_chat
from sim.exchange import SimExchange


class SimServer(msgspec.Struct, frozen=True, kw_only=True):
    """Where a running simulator listens; the bot's sapi_url and bapi_url are `base_url`, and
    EP-33 hands out `chat_url` as chatWssUrl."""

    host: str
    port: int
    base_url: str
    chat_url: str = ""


def _config(host: str, port: int) -> Config:
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.loglevel = "WARNING"
    config.graceful_timeout = 0.5
    return config


async def serve_sim(
    exchange: SimExchange,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    task_status: trio.TaskStatus[SimServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `exchange` over HTTP and WebSocket and run its market; never returns unless cancelled.

    Args:
        port: 0 picks a free port; the one bound is reported through `task_status`.

    Returns (through `nursery.start`):
        SimServer with the bound host, port and base URL, once the socket listens.
    """
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(serve, make_app(exchange), _config(host, port)))
        bound_port = int(binds[0].rpartition(":")[2])
        chat_url = await nursery.start(serve_chat, exchange, host, 0)
        await nursery.start(partial(exchange.run_market))
        task_status.started(SimServer(host=host, port=bound_port,
                                      base_url=f"http://{host}:{bound_port}", chat_url=chat_url))
