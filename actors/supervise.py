"""Run an actor, and when it fails, log the failure and restart it with backoff on Trio's clock.

Only `Exception` is caught, so cancellation (a BaseException) always passes through. A `Fatal`
error is not retried: it propagates, cancels the run, and is shown to the user as one line.
"""

from __future__ import annotations

from typing import Awaitable, Callable

import trio

from events import ActorFailed, ActorStarted


class Fatal(Exception):
    """A failure no restart can fix (bad credentials, restricted location); ends the run.

    The message is written for the user and must never contain a secret.
    """


def backoff_delays(first_s: float = 0.5, cap_s: float = 30.0):
    """Yield restart delays: first_s, doubling, capped at cap_s."""
    delay = first_s
    while True:
        yield delay
        delay = min(delay * 2, cap_s)


async def supervise(name: str, run: Callable[..., Awaitable[None]], emit, *,
                    first_backoff_s: float = 0.5, cap_backoff_s: float = 30.0,
                    healthy_after_s: float = 60.0,
                    task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Run `run(task_status=...)` forever, restarting it after an Exception.

    Args:
        name: the actor's name, for ActorStarted / ActorFailed events.
        run: the actor's entry point; it calls task_status.started() once it listens.
        emit: the bus emitter used for the supervision events.
        healthy_after_s: a run that lasted this long resets the backoff.

    Never returns unless cancelled or `run` returns normally. Fatal errors propagate.
    """
    delays = backoff_delays(first_backoff_s, cap_backoff_s)
    attempt = 0
    while True:
        attempt += 1
        started_at = trio.current_time()
        await emit(ActorStarted(actor=name, attempt=attempt))
        try:
            if attempt == 1:
                await _first_run(run, task_status)
            else:
                await run()
            return
        except Exception as exc:  # noqa: BLE001 - an actor's failure must not end the run
            fatal = find_fatal(exc)
            if fatal is not None:
                raise fatal from None
            if trio.current_time() - started_at >= healthy_after_s:
                delays = backoff_delays(first_backoff_s, cap_backoff_s)
            delay = next(delays)
            await emit(ActorFailed(actor=name, error=type(exc).__name__,
                                   message=_safe_message(exc), restart_in_s=delay))
            await trio.sleep(delay)


async def _first_run(run, task_status) -> None:
    started = False

    class _Status:
        def started(self, value=None):
            nonlocal started
            if not started:
                started = True
                task_status.started(value)

    try:
        await run(task_status=_Status())
    finally:
        if not started:
            # A first run that died before listening must not hang the composition root.
            started = True
            task_status.started()


def find_fatal(exc: BaseException) -> Fatal | None:
    """The Fatal inside `exc` (which may be an exception group from an actor's nursery)."""
    if isinstance(exc, Fatal):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = find_fatal(inner)
            if found is not None:
                return found
    return None


def _safe_message(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:300]
