"""What an actor is, declared once in its own module: its name, what it subscribes to, and how
it is built. `actors/system.py` iterates these; adding an actor is one module with a `SPEC`.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import msgspec


class ActorContext(msgspec.Struct, kw_only=True):
    """What a spec's `build` gets for one incarnation of its actor.

    Attributes:
        inbox: the actor's bus inbox (its subscriptions and the replies to its requests).
        emit: its bus emitter.
        deps: the BotDeps the composition root chose (config, I/O, clocks, seed, restored state).
        record_only: the run records the book only (no ads actor).
        session_time: the bus's session time (the envelopes' `t`).
        history: this session's events so far when the supervisor restarts the actor, empty on
            the first start: a restarted actor folds it and goes on where it stopped.
        first_request: the request number its earlier incarnations reached (ids stay unique).
    """

    inbox: Any
    emit: Any
    deps: Any
    record_only: bool = False
    session_time: Callable[[], float] | None = None
    history: tuple = ()
    first_request: int = 0


class ActorSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One actor: `build(ctx)` returns its entry point, `run(task_status=...)`."""

    name: str
    subscribes: tuple[type, ...]
    build: Callable[[ActorContext], Callable[..., Awaitable[None]]]
