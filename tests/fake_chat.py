"""A chat server on a memory stream: the `connect` callable the chat actor gets in tests."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager

import trio
import trio.testing
import trio_websocket


class FakeChat:
    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.urls: list[str] = []
        self.frames_from_bot: list[dict] = []
        self.server_ws = None
        self.connected = trio.Event()
        self.refuse_next = 0

    @asynccontextmanager
    async def connect(self, url: str):
        self.urls.append(url)
        if self.refuse_next:
            self.refuse_next -= 1
            raise OSError("connection refused")
        client_stream, server_stream = trio.testing.memory_stream_pair()
        self.nursery.start_soon(self._serve, server_stream)
        ws = await trio_websocket.wrap_client_stream(self.nursery, client_stream, "chat.test", "/chat")
        try:
            yield ws
        finally:
            await ws.aclose()

    async def _serve(self, stream) -> None:
        request = await trio_websocket.wrap_server_stream(self.nursery, stream)
        ws = await request.accept()
        self.server_ws = ws
        self.connected.set()
        try:
            while True:
                self.frames_from_bot.append(json.loads(await ws.get_message()))
        except trio_websocket.ConnectionClosed:
            pass

    async def push(self, message: dict) -> None:
        """Send a counterparty's message to the bot."""
        await self.server_ws.send_message(json.dumps(message))

    async def drop(self) -> None:
        """Close the socket from the server side, as Binance does on a keepalive timeout."""
        self.connected = trio.Event()
        await self.server_ws.aclose()
