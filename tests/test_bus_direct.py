"""The bus's two paths (published in the emitter's step, or queued for its task) keep one order;
a reply handed straight to a waiting caller never overtakes what its actor still has to read;
the replay clock's own sleepers wake at their virtual time. Replay compares what each actor saw
in order (replay.compare), so these orders are what a replay's verdict rests on."""

from __future__ import annotations

import trio
import trio.testing

from actors.bus import Bus
from actors.calls import Calls
from actors.sleep import sleep_until
from events import ApiRequest, ApiResponse, BookSnapshot, ChatSendRequest, MyAdsLoaded
from replay.clock import JumpClock


class ListWriter:
    """A log writer whose flush takes virtual time, as a durable commit takes real time."""

    def __init__(self, flush_s: float = 0.0, fail_after: int | None = None) -> None:
        self.envelopes = []
        self.flush_s = flush_s
        self.fail_after = fail_after

    def append_nowait(self, env) -> None:
        if self.fail_after is not None and len(self.envelopes) >= self.fail_after:
            raise OSError("disk full")
        self.envelopes.append(env)

    async def flush(self) -> None:
        await trio.sleep(self.flush_s)


def book(side: str = "SELL") -> BookSnapshot:
    return BookSnapshot(asset="USDT", fiat="NGN", ad_side=side, pages=1, ads=(), complete=True)


def chat_send(text: str) -> ChatSendRequest:
    return ChatSendRequest(order_no="o1", uuid="u1", content=text, reason="greeting")


async def test_an_event_emitted_while_an_effect_is_being_made_durable_waits_behind_it(
        autojump_clock):
    writer = ListWriter(flush_s=0.5)
    bus = Bus(writer, 1, lambda: 0)
    inbox = bus.subscribe("watcher", (ChatSendRequest, BookSnapshot))
    async with trio.open_nursery() as nursery:
        await nursery.start(bus.run)
        emit = bus.emitter("chat")
        await emit(chat_send("hello"))  # an effect: logged and flushed before anyone sees it
        await emit(book())  # emitted during that flush: must not overtake it
        await trio.sleep(1)
        await emit(book("BUY"))  # the bus is idle again: published at once
        seen = [inbox.receive_nowait() for _ in range(3)]
        nursery.cancel_scope.cancel()
    assert [e.seq for e in seen] == [1, 2, 3]
    assert [type(e.event) for e in seen] == [ChatSendRequest, BookSnapshot, BookSnapshot]
    assert [e.seq for e in writer.envelopes] == [1, 2, 3]
    assert seen[1].t == 0.5 and seen[2].t == 1.0  # the second waited out the flush


async def test_an_idle_bus_delivers_in_the_emitters_step(autojump_clock):
    bus = Bus(ListWriter(), 1, lambda: 0)
    inbox = bus.subscribe("watcher", (BookSnapshot,))
    async with trio.open_nursery() as nursery:
        await nursery.start(bus.run)
        await bus.emitter("market")(book())
        env = inbox.receive_nowait()  # no scheduler pass in between
        nursery.cancel_scope.cancel()
    assert env.seq == 1 and env.source == "market"


async def test_a_full_inbox_slows_the_bus_without_blocking_or_reordering_the_emitter(
        autojump_clock):
    writer = ListWriter()
    bus = Bus(writer, 1, lambda: 0, inbox_size=1)
    inbox = bus.subscribe("slow", (BookSnapshot,))
    async with trio.open_nursery() as nursery:
        await nursery.start(bus.run)
        emit = bus.emitter("market")
        for side in ("SELL", "BUY", "SELL"):
            await emit(book(side))  # never blocks, though the inbox holds one
        assert len(writer.envelopes) == 2  # the third queued behind the stalled second
        got = []
        for _ in range(3):
            got.append(await inbox.receive())
        nursery.cancel_scope.cancel()
    assert [e.seq for e in got] == [1, 2, 3]
    assert [e.event.ad_side for e in got] == ["SELL", "BUY", "SELL"]


async def test_a_writer_failure_on_the_direct_path_ends_the_bus_not_the_emitter(autojump_clock):
    bus = Bus(ListWriter(fail_after=1), 1, lambda: 0)
    bus.subscribe("watcher", (BookSnapshot,))
    failed = None
    emitted = False
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(bus.run)
            emit = bus.emitter("market")
            await emit(book())
            await emit(book("BUY"))  # the writer refuses this one
            emitted = True
            await trio.sleep_forever()
    except* OSError as group:
        failed = group.exceptions[0]
    assert emitted and str(failed) == "disk full"


def reply(request_id: str) -> ApiResponse:
    return ApiResponse(request_id=request_id, endpoint="EP-0", status=200, headers=(),
                       body=b"{}", elapsed_ms=1)


async def test_a_reply_never_overtakes_an_event_its_actor_has_not_handled_yet(autojump_clock):
    """The market's pump handles MyAdsLoaded (my ads) before a call's page returns: a reply
    handed straight to its caller must wait when the inbox holds something before it."""
    bus = Bus(ListWriter(), 1, lambda: 0)
    inbox = bus.subscribe("market", (MyAdsLoaded,))
    order = []
    async with trio.open_nursery() as nursery:
        await nursery.start(bus.run)
        emit = bus.emitter("market")
        calls = Calls("market", emit)

        async def handle(env):
            order.append("handled " + type(env.event).__name__)
            await trio.sleep(0.1)  # the handler is busy while the reply comes in

        nursery.start_soon(calls.pump, inbox, handle)
        await trio.testing.wait_all_tasks_blocked()

        async def caller():
            await calls.call(lambda rid: ApiRequest(request_id=rid, endpoint="EP-0",
                                                    method="POST", base="bapi", path="/x"))
            order.append("answered")

        nursery.start_soon(caller)
        await trio.testing.wait_all_tasks_blocked()
        limiter = bus.emitter("limiter")
        await limiter(MyAdsLoaded(ads=()))
        await limiter(reply("market-1"))
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert order == ["handled MyAdsLoaded", "answered"]


async def test_a_reply_reaches_a_caller_whose_pump_waits_on_an_empty_inbox(autojump_clock):
    bus = Bus(ListWriter(), 1, lambda: 0)
    inbox = bus.subscribe("market", ())
    got = []
    async with trio.open_nursery() as nursery:
        await nursery.start(bus.run)
        calls = Calls("market", bus.emitter("market"))
        nursery.start_soon(calls.pump, inbox, None)

        async def caller():
            env = await calls.call(lambda rid: ApiRequest(request_id=rid, endpoint="EP-0",
                                                          method="POST", base="bapi",
                                                          path="/x"))
            got.append(env.seq)

        nursery.start_soon(caller)
        await trio.testing.wait_all_tasks_blocked()
        waiting = calls._waiting["market-1"]
        await bus.emitter("limiter")(reply("market-1"))
        # answered in the emitter's step: no pass of the pump in between
        assert waiting.done.is_set() and inbox.statistics().current_buffer_used == 0
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert got == [2]


def test_replay_clock_sleepers_wake_at_their_time_in_order_and_a_cancelled_one_never():
    woke = []

    async def sleeper(name, at):
        await sleep_until(at)
        woke.append((name, trio.current_time()))

    async def main():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sleeper, "late", 5.0)
            nursery.start_soon(sleeper, "early", 2.0)
            with trio.move_on_after(1.0):
                await sleep_until(3.0)  # cancelled at 1.0: must not wake anyone at 3.0
            woke.append(("cancelled", trio.current_time()))
            nursery.start_soon(sleeper, "trio-timer-tie", 2.0)
            await trio.sleep_until(2.0)  # trio's own timer at the same instant
            woke.append(("trio", trio.current_time()))

    trio.run(main, clock=JumpClock())
    assert woke[0] == ("cancelled", 1.0)
    assert sorted(woke[1:4]) == [("early", 2.0), ("trio", 2.0), ("trio-timer-tie", 2.0)]
    assert woke[4] == ("late", 5.0) and len(woke) == 5


def test_a_book_read_lazily_has_the_identity_of_the_book_decoded(tmp_path):
    """The streaming replay reads the recording lazily (a book's ads stay JSON) and compares it
    with books the replayed market built: both must give the same normalized bytes."""
    from store import open_log
    from replay.compare import normalize
    from tests.test_store_lazy import _log

    path, sid, events = _log(tmp_path)
    with open_log(path, create=False) as log:
        lazy = [e.event for e in log.events(sid, lazy=True) if type(e.event) is BookSnapshot]
        eager = [e.event for e in log.events(sid) if type(e.event) is BookSnapshot]
    made = [e for e in events if type(e) is BookSnapshot]
    assert lazy and len(lazy) == len(eager) == len(made)
    assert [normalize(b) for b in lazy] == [normalize(b) for b in made] == \
        [normalize(b) for b in eager]
