"""Session rotation: a run longer than `[log] rotate_after_h` goes on in a new session.

A session is what replay, backtest and export take as a unit, and replay holds one in memory;
so a live or record run of weeks is cut into sessions of `rotate_after_h` hours. At the
boundary the run stops as a `--duration` would (the actors stop, the last events and the
SessionSummary are committed, RunStopped and the session's end say "rotated", and no stop
alert is sent) and at once
starts the next session of the same mode and config from that summary (`actors.restore`): the
open orders, the greeted orders and the chat ids seen, and what the actors carry on with, the
request number each reached (ids go on, never reused), each host's pause or open breaker, and
each ad's reprices of the last minute (its rate cap). The limiter then waits the restart's
quiet time (`QUIET_AFTER_MS` after the last event), since what the last session had in flight
held slots of Binance's window. Each session is whole: every event is in exactly one, and each
replays on its own, since a replay restores the same summary.
"""

from __future__ import annotations

import copy

import trio

from actors.restore import restore
from actors.system import run_bot

ROTATED = "rotated"


class Sessions:
    """The sessions of one run: the caller starts the first, `next()` each later one.

    Attributes:
        ids: every session of the run so far, the current one last.
    """

    def __init__(self, log, first: int, now_ms) -> None:
        info = log.session(first)
        self._log = log
        self._now_ms = now_ms
        self._mode = info.mode
        self._config = info.config
        self.ids = [first]

    @property
    def current(self) -> int:
        return self.ids[-1]

    def next(self) -> int:
        """End the current session as rotated; start the next (same mode and config)."""
        now = self._now_ms()
        self._log.end_session(self.current, now, ROTATED)
        sid = self._log.start_session(self._mode, self._config, now)
        self.ids.append(sid)
        return sid


async def run_rotating(log, sessions: Sessions, deps, *, actors, duration: float | None,
                       rotate_after_s: float, stop: trio.Event | None = None,
                       taps=()) -> str:
    """Run the bot in `sessions.current`, going on in a new session every `rotate_after_s`
    seconds (0: never) until `duration` (None: no end) has passed, `stop` is set or a fatal
    error; the caller ends the last session (`sessions.current`).

    Returns:
        The stop reason, as `actors.system.run_bot` gives it.
    """
    left = duration
    while True:
        rotating = rotate_after_s > 0 and (left is None or left > rotate_after_s)
        began = trio.current_time()
        reason = await run_bot(log, sessions.current, deps, actors=actors,
                               duration=rotate_after_s if rotating else left, stop=stop,
                               taps=taps, rotate=rotating)
        if reason != ROTATED:
            return reason
        if left is not None:
            left -= trio.current_time() - began
        sid = sessions.next()
        deps = copy.copy(deps)
        deps.restored = restore(log, before_session=sid)
