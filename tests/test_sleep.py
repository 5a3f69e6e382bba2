"""actors.sleep: the actors' sleeps and the limiter's wait, the same on trio's clocks and on
replay's JumpClock (whose own timers they use there, `call_at`)."""

from __future__ import annotations

import math

import pytest
import trio
import trio.testing

from actors.sleep import Wakeup, sleep, sleep_until
from replay.clock import JumpClock

CLOCKS = {"jump": JumpClock, "mock": lambda: trio.testing.MockClock(autojump_threshold=0)}


def run(main, clock: str):
    async def guarded():
        with trio.fail_after(1000):  # virtual seconds: a wake-up that never comes fails
            return await main()

    return trio.run(guarded, clock=CLOCKS[clock]())


@pytest.mark.parametrize("clock", CLOCKS)
def test_sleepers_wake_at_their_deadlines_and_a_cancelled_one_stays_asleep(clock):
    woke = []

    async def main():
        async def sleeper(name, at):
            await sleep_until(at)
            woke.append((name, trio.current_time()))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sleeper, "late", 3.0)
            nursery.start_soon(sleeper, "early", 1.5)
            with trio.move_on_after(1.0):  # cancelled before its time: never wakes
                await sleep_until(2.0)
                woke.append(("cancelled", trio.current_time()))
            woke.append(("gave up", trio.current_time()))
            await sleep(0.25)
            woke.append(("slept", trio.current_time()))
            await sleep_until(0.0)  # in the past: a checkpoint
        return woke

    assert run(main, clock) == [("gave up", 1.0), ("slept", 1.25), ("early", 1.5),
                                ("late", 3.0)]


@pytest.mark.parametrize("clock", CLOCKS)
def test_a_negative_sleep_is_refused_as_trio_refuses_it(clock):
    async def main():
        with pytest.raises(ValueError):
            await sleep(-1)

    run(main, clock)


@pytest.mark.parametrize("clock", CLOCKS)
def test_a_wakeup_ends_a_wait_at_once_and_a_deadline_ends_it_in_time(clock):
    seen = []

    async def main():
        wake = Wakeup()

        async def waiter():
            await wake.wait(10.0)
            seen.append(("woken", trio.current_time()))
            await wake.wait(12.0)  # nobody wakes it: its deadline does
            seen.append(("deadline", trio.current_time()))
            await wake.wait()  # no deadline: only a wake-up ends it
            seen.append(("woken again", trio.current_time()))

        async with trio.open_nursery() as nursery:
            wake.set()  # nobody waits yet: not kept
            nursery.start_soon(waiter)
            await trio.sleep(2.0)
            wake.set()
            await trio.sleep(20.0)
            wake.set()
            wake.set()  # a second wake-up of the same wait changes nothing

    run(main, clock)
    assert seen == [("woken", 2.0), ("deadline", 12.0), ("woken again", 22.0)]


@pytest.mark.parametrize("clock", CLOCKS)
def test_a_cancelled_wait_leaves_no_timer_behind(clock):
    async def main():
        wake = Wakeup()
        with trio.move_on_after(1.0):
            await wake.wait(5.0)
        assert trio.current_time() == 1.0
        wake.set()  # the cancelled wait is gone: nothing to wake
        await wake.wait(trio.current_time() - 1)  # a deadline already past: a checkpoint
        await wake.wait(3.0)
        return trio.current_time()

    assert run(main, clock) == 3.0


def test_the_jump_clock_keeps_no_cancelled_timer_waiting():
    clock = JumpClock()

    async def main():
        with trio.move_on_after(1.0):
            await sleep_until(math.inf)
        with trio.move_on_after(1.0):
            await Wakeup().wait(100.0)

    trio.run(main, clock=clock)
    assert clock.current_time() == 2.0
    assert all(timer[2] is None for timer in clock._timers)
