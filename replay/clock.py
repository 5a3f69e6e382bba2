"""A virtual clock for replay that jumps straight to the next deadline, and wakes sleepers itself.

Semantically the same as `trio.testing.MockClock(autojump_threshold=0)`: time stands still while
any task can run and jumps to the next timer when none can. MockClock gets there through a
system task that waits for every task to block, which costs an extra scheduler pass per jump;
trio asks the clock how long to sleep only when nothing is runnable, so jumping right there is
the same behaviour for a fraction of the cost. There is no I/O in a replay to wait for.

`sleep_until` is `trio.sleep_until` for the replay's own waits (a recorded answer's latency, a
recorded frame's time): virtual time moves only here, when nothing can run, so a sleeper whose
time has come is woken here too, from a heap, without the cancel scope and deadline that trio's
sleep costs (~4 us against ~20 us, once per recorded answer). Sleepers wake in the same pass as
trio's own timers for that instant would.
"""

from __future__ import annotations

import heapq
import math

import trio


class JumpClock(trio.abc.Clock):
    def __init__(self) -> None:
        self._now = 0.0
        self._sleepers: list[list] = []  # [deadline, order, task or None once cancelled]
        self._order = 0

    def start_clock(self) -> None:
        return None

    def current_time(self) -> float:
        return self._now

    def deadline_to_sleep_time(self, deadline: float) -> float:
        sleepers = self._sleepers
        while sleepers and sleepers[0][2] is None:
            heapq.heappop(sleepers)
        if sleepers and sleepers[0][0] < deadline:
            deadline = sleepers[0][0]
        if deadline == math.inf:
            return 86400.0  # nothing scheduled: nothing will ever happen (a finished replay)
        if deadline > self._now:
            self._now = deadline
        while sleepers and sleepers[0][0] <= self._now:
            task = heapq.heappop(sleepers)[2]
            if task is not None:
                trio.lowlevel.reschedule(task)
        return 0.0

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until `deadline` on this clock (a checkpoint, like `trio.sleep_until`)."""
        if deadline <= self._now:
            await trio.lowlevel.checkpoint()
            return
        entry = [deadline, self._order, trio.lowlevel.current_task()]
        self._order += 1
        heapq.heappush(self._sleepers, entry)

        def abort(_raise_cancel):
            entry[2] = None
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)


async def sleep_until(deadline: float) -> None:
    """`trio.sleep_until`, through the replay's clock when it runs on a JumpClock."""
    clock = trio.lowlevel.current_clock()
    if clock.__class__ is JumpClock:
        await clock.sleep_until(deadline)
    else:
        await trio.sleep_until(deadline)
