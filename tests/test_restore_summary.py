"""Start-up stays bounded as the log grows: a run ends with a SessionSummary, and the next one
starts from the newest summary instead of folding every earlier session."""

from __future__ import annotations

from decimal import Decimal

import trio

from actors.restore import ACTIVE, RESTORE_TYPES, Restored, fold, restore
from events import RunStopped, SessionSummary
from sim import SimConfig
from store import open_log
from tests.simbot import bot_config, bot_on_sim

BUSY = SimConfig(seed=21, order_rate_per_s=0.5, bot_surplus=Decimal("1000000"),
                 bot_max_amount=Decimal("200000"))


async def _sessions(tmp_path, n: int) -> None:
    for _ in range(n):
        with open_log(tmp_path / "bot.db") as log:
            before = restore(log)
        async with bot_on_sim(tmp_path, BUSY, bot_config(BUSY, orders={"poll_interval_s": 2.0}),
                              restored=before):
            await trio.sleep(40)


def _full_fold(log) -> Restored:
    state = Restored()
    for info in log.sessions():
        fold(log.events(info.id, types=RESTORE_TYPES), state)
    return state


async def test_a_run_ends_with_a_summary_and_restore_equals_the_full_history(tmp_path,
                                                                             autojump_clock):
    await _sessions(tmp_path, 3)
    with open_log(tmp_path / "bot.db") as log:
        last = list(log.events(3))
        assert isinstance(last[-1].event, RunStopped)
        assert isinstance(last[-2].event, SessionSummary)
        full, fast = _full_fold(log), restore(log)
    open_orders = {o: s for o, s in full.orders.items() if s in ACTIVE}
    assert open_orders and fast.orders == open_orders
    assert fast.greeted == {o for o in full.greeted if o in open_orders}
    assert fast.seen_ids == full.seen_ids and fast.seen_ids
    assert fast.open_orders == full.open_orders


async def test_start_up_reads_the_newest_summary_not_the_sessions_before_it(tmp_path,
                                                                            autojump_clock):
    await _sessions(tmp_path, 3)
    with open_log(tmp_path / "bot.db") as log:
        read = []
        events = log.events

        def spy(sid, types=None, after_seq=0):
            read.append((sid, after_seq))
            return events(sid, types=types, after_seq=after_seq)

        log.events = spy
        restore(log)
        sessions = {info.id: info.events for info in log.sessions()}
    # Only the tail of the newest session (its summary and RunStopped) is read.
    assert read == [(3, sessions[3] - 2)]
