"""A virtual clock for replay that jumps straight to the next deadline, and wakes sleepers itself.

Semantically the same as `trio.testing.MockClock(autojump_threshold=0)`: time stands still while
any task can run and jumps to the next timer when none can. MockClock gets there through a
system task that waits for every task to block, which costs an extra scheduler pass per jump;
trio asks the clock how long to sleep only when nothing is runnable, so jumping right there is
the same behaviour for a fraction of the cost. There is no I/O in a replay to wait for.

Virtual time moves only here, when nothing can run, so a sleeper whose time has come is woken
here too, from a heap of timers (`call_at`), without the cancel scope and deadline that trio's
sleep costs (~4 us against ~15 us). `actors.sleep` sleeps and waits through it when the run's
clock is a JumpClock: the replay's own waits (a recorded answer's latency, a recorded frame's
time) and the actors' polls and the limiter's dispatcher. Timers wake in the same pass as
trio's own deadlines for that instant would.
"""

from __future__ import annotations

import heapq
import math

import trio



class JumpClock(trio.abc.Clock):
    def __init__(self) -> None:
        self._now = 0.0
        self._timers: list[list] = []  # [deadline, order, callback or None once cancelled]
        self._order = 0

    def start_clock(self) -> None:
        return None

    def current_time(self) -> float:
        return self._now

    def deadline_to_sleep_time(self, deadline: float) -> float:
        timers = self._timers
        while timers and timers[0][2] is None:
            heapq.heappop(timers)
        if timers and timers[0][0] < deadline:
            deadline = timers[0][0]
        if deadline == math.inf:
            return 86400.0  # nothing scheduled: nothing will ever happen (a finished replay)
        if deadline > self._now:
            self._now = deadline
        while timers and timers[0][0] <= self._now:
            callback = heapq.heappop(timers)[2]
            if callback is not None:
                callback()
        return 0.0

    def call_at(self, deadline: float, callback) -> list:
        """Call `callback()` (it reschedules a task) when time reaches `deadline`, in the pass
        that gets there. Returns the timer; setting its item 2 to None cancels it. Used by
        `actors.sleep`, whose sleeps and waits take this path on this clock."""
        timer = [deadline, self._order, callback]
        self._order += 1
        heapq.heappush(self._timers, timer)
        return timer
