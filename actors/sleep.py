"""Sleeping on trio's clock, and waiting for a wake-up or a deadline, cheaply on replay's clock.

`trio.sleep_until` is a cancel scope with a deadline around `sleep_forever`: the deadline fires
a cancellation that unwinds as an exception, about 15 us a sleep. Live that is nothing; a replay
of an hour runs the market's and the orders' polls and the limiter's waits some 35 000 times
in a few seconds. A clock that schedules its own timers (replay's `replay.clock.JumpClock`: it
has `call_at`) wakes a sleeper straight from its heap instead, with trio's rescheduling alone;
any other clock gets trio's own sleep. Either way the sleeper wakes in the pass where time
reaches its deadline (see JumpClock) and is cancellable like any trio sleep.
"""

from __future__ import annotations

import math

import trio
from trio.lowlevel import Abort, checkpoint, current_clock, current_task, reschedule
from trio.lowlevel import wait_task_rescheduled


async def sleep_until(deadline: float) -> None:
    """`trio.sleep_until(deadline)`, through the clock's own timers when it has them."""
    call_at = getattr(current_clock(), "call_at", None)
    if call_at is None:
        await trio.sleep_until(deadline)
        return
    if deadline <= trio.current_time():
        await checkpoint()
        return
    task = current_task()
    timer = call_at(deadline, lambda: reschedule(task))

    def abort(_raise_cancel):
        timer[2] = None
        return Abort.SUCCEEDED

    await wait_task_rescheduled(abort)


async def sleep(seconds: float) -> None:
    """`trio.sleep(seconds)`, through the clock's own timers when it has them."""
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    await sleep_until(trio.current_time() + seconds)


class Wakeup:
    """One task waits (`wait(until)`) until another wakes it (`set`) or `until` comes.

    A `set` while nobody waits is not kept: the waiter decides what to do, then waits for
    what happens after (the limiter's dispatcher decides with no checkpoint between its look
    at the queue and its wait, so nothing it must see can fall in between). On a clock without
    `call_at` this is a fresh `trio.Event` waited on under `trio.move_on_at(until)`.
    """

    __slots__ = ("_task", "_timer", "_event")

    def __init__(self) -> None:
        self._task = None
        self._timer: list | None = None
        self._event: trio.Event | None = None

    async def wait(self, until: float = math.inf) -> None:
        call_at = getattr(current_clock(), "call_at", None)
        if call_at is None:
            with trio.move_on_at(until):
                self._event = trio.Event()
                try:
                    await self._event.wait()
                finally:
                    self._event = None
            return
        if until <= trio.current_time():
            await checkpoint()
            return
        self._task = current_task()
        self._timer = call_at(until, self._fire) if until != math.inf else None

        def abort(_raise_cancel):
            self._forget()
            return Abort.SUCCEEDED

        await wait_task_rescheduled(abort)

    def set(self) -> None:
        """Wake the waiter, if one waits."""
        if self._task is not None:
            self._fire()
        elif self._event is not None:
            self._event.set()

    def _fire(self) -> None:
        task = self._task
        if task is not None:
            self._forget()
            reschedule(task)

    def _forget(self) -> None:
        self._task = None
        if self._timer is not None:
            self._timer[2] = None
            self._timer = None
