"""The simulator served from a thread of the test process, so its state outlives bot processes.

The bot runs as `python run.py live` subprocesses (killed, signalled, restarted) against one
`SimExchange` that keeps its market, orders and chat history across them. Besides the exchange's
own report, the thread records what only the exchange sees: every EP-7 the bot sent (price and
answer) and every chat frame the bot sent.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from decimal import Decimal
from functools import partial

import msgspec
import trio

from sim import SimConfig, SimExchange, SimReport, serve_sim
from sim.wire import Request, Response, decode_body

EP7_PATH = "/sapi/v1/c2c/ads/update"


class Ep7(msgspec.Struct, frozen=True, kw_only=True):
    """One EP-7 as the exchange received it, in arrival order."""

    t: float
    adv_no: str
    price: Decimal | None
    status: int


def repeated_acknowledged_prices(ep7: list[Ep7]) -> list[str]:
    """EP-7s that sent an ad the very price Binance had just acknowledged (200) for it."""
    by_ad = defaultdict(list)
    for call in ep7:
        by_ad[call.adv_no].append(call)
    repeats = []
    for adv_no, calls in by_ad.items():
        for before, after in zip(calls, calls[1:]):
            if before.status == 200 and after.price == before.price:
                repeats.append(f"{adv_no} {after.price} at t={after.t:.3f}")
    return repeats


def wall_ms() -> int:
    return int(time.time() * 1000)


class SimThread:
    """Serve `cfg` on a free loopback port from a thread until the `with` block ends.

    Attributes:
        exchange: the SimExchange (read it after the block, or through `call`).
        base_url: http://127.0.0.1:PORT, for bot.toml.
        ep7: every EP-7 received, in order.
        frames: every chat frame the bot sent, decoded (dicts), in order.
    """

    def __init__(self, cfg: SimConfig) -> None:
        self.exchange = SimExchange(cfg, now_ms=wall_ms)
        self.base_url = ""
        self.ep7: list[Ep7] = []
        self.frames: list[dict] = []
        self._token: trio.lowlevel.TrioToken | None = None
        self._cancel: trio.CancelScope | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="sim", daemon=True)
        self._wrap_exchange()

    def _wrap_exchange(self) -> None:
        handle, record = self.exchange.handle, self.exchange.record_bot_frame

        def handle_and_note(req: Request) -> Response:
            resp = handle(req)
            if req.path == EP7_PATH:
                body = decode_body(req.body)
                body = body if isinstance(body, dict) else {}
                price = body.get("price")
                self.ep7.append(Ep7(t=trio.current_time(), adv_no=str(body.get("advNo")),
                                    price=None if price is None else Decimal(str(price)),
                                    status=resp.status))
            return resp

        def record_and_note(text: str) -> None:
            try:
                self.frames.append(msgspec.json.decode(text))
            except msgspec.DecodeError:
                self.frames.append({"undecodable": text})
            record(text)

        self.exchange.handle = handle_and_note
        self.exchange.record_bot_frame = record_and_note

    def __enter__(self) -> SimThread:
        self._thread.start()
        if not self._ready.wait(20) or self._error is not None:
            raise RuntimeError(f"the simulator did not start: {self._error!r}")
        return self

    def __exit__(self, *exc_info) -> None:
        if self._cancel is not None:
            trio.from_thread.run_sync(self._cancel.cancel, trio_token=self._token)
        self._thread.join(20)

    def call(self, fn, *args):
        """Run `fn(*args)` in the simulator's thread (between its steps) and return the result."""
        return trio.from_thread.run_sync(partial(fn, *args), trio_token=self._token)

    def report(self) -> SimReport:
        """The exchange's report, taken in its own thread while it runs."""
        return self.call(self.exchange.report)

    def _main(self) -> None:
        try:
            trio.run(self._serve)
        except BaseException as exc:  # noqa: BLE001 - reported to the test by __enter__
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as scope:
            self._cancel = scope
            async with trio.open_nursery() as nursery:
                server = await nursery.start(serve_sim, self.exchange, "127.0.0.1", 0)
                self.base_url = server.base_url
                self._ready.set()
