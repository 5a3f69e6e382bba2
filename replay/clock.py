"""A virtual clock for replay that jumps straight to the next deadline.

Semantically the same as `trio.testing.MockClock(autojump_threshold=0)`: time stands still while
any task can run and jumps to the next timer when none can. MockClock gets there through a
system task that waits for every task to block, which costs an extra scheduler pass per jump;
trio asks the clock how long to sleep only when nothing is runnable, so jumping right there is
the same behaviour for a fraction of the cost. There is no I/O in a replay to wait for.
"""

from __future__ import annotations

import math

import trio


class JumpClock(trio.abc.Clock):
    def __init__(self) -> None:
        self._now = 0.0

    def start_clock(self) -> None:
        return None

    def current_time(self) -> float:
        return self._now

    def deadline_to_sleep_time(self, deadline: float) -> float:
        if deadline == math.inf:
            return 86400.0  # nothing scheduled: nothing will ever happen (a finished replay)
        if deadline > self._now:
            self._now = deadline
        return 0.0
