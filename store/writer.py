"""The batching writer: many actors queue envelopes, one task commits them in batches."""

from __future__ import annotations

import msgspec
import trio

from events import Envelope
from store.errors import LogError
from store.log import EventLog


class WriterStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """What the writer has done, for the status screen.

    Attributes:
        queued: envelopes waiting for a commit.
        committed: envelopes committed since the writer was made.
        batches: commits made.
        last_batch_size: envelopes in the latest commit (0 before the first).
    """

    queued: int
    committed: int
    batches: int
    last_batch_size: int


class LogWriter:
    """Queue envelopes without blocking; commit them in batches from one task.

    A batch is committed when `max_batch` envelopes are queued, or `max_delay_s` of Trio's
    clock after the first of them was queued, or at once when someone awaits `flush()`.

    Commits run inline in the writer's task rather than in a thread: a commit of 1-10 events
    takes 0.04-0.1 ms (measured, synchronous=NORMAL), about a thread hop, and keeping them on
    Trio's loop keeps runs under MockClock deterministic. Only a backlog makes a full batch,
    which holds the loop ~13 ms per 2,000 events; lower `max_batch` to bound that pause. The
    commit that completes a session's 256th unsealed event also seals them into a block
    (store/blocks.py): ~2 ms (median, measured under load), once every ~13 s at the 5/s budget.
    """

    def __init__(self, log: EventLog, max_batch: int = 2000, max_delay_s: float = 0.005) -> None:
        if max_batch < 1 or max_delay_s < 0:
            raise ValueError("max_batch must be >= 1 and max_delay_s >= 0")
        self._log = log
        self._max_batch = max_batch
        self._max_delay = max_delay_s
        self._queue: list[Envelope] = []
        self._first_at = 0.0  # trio time the oldest queued envelope arrived
        self._wakeup = trio.Event()  # set when the run loop has something new to decide
        self._committed_event = trio.Event()  # set (and replaced) after every commit
        self._appended = 0
        self._committed = 0
        self._flush_target = 0  # commit without waiting until this many are committed
        self._batches = 0
        self._last_batch = 0
        self._failure: BaseException | None = None
        self._running = False

    def append_nowait(self, envelope: Envelope) -> None:
        """Queue `envelope` for the next batch; never blocks.

        Raises:
            LogError: an earlier commit failed and the writer has stopped.
        """
        self._check_failure()
        self._queue.append(envelope)
        self._appended += 1
        n = len(self._queue)
        if n == 1:
            self._first_at = trio.current_time()
            self._wakeup.set()
        elif n >= self._max_batch:
            self._wakeup.set()

    async def flush(self) -> None:
        """Commit now, and return once everything queued before the call is committed.

        The running `run` task commits it; when no `run` task is running (not started yet, or
        already cancelled), flush commits the queue itself.

        Raises:
            LogError: the commit failed (the writer has stopped).
        """
        target = self._appended  # taken before the checkpoint: "before the call" means now
        await trio.lowlevel.checkpoint()
        if not self._running:
            self._check_failure()
            self._drain()
        if self._committed < target:
            self._flush_target = max(self._flush_target, target)
            self._wakeup.set()
        while self._committed < target:
            self._check_failure()
            await self._committed_event.wait()
        self._check_failure()

    def committed_seq(self, sid: int) -> int:
        """Return the highest seq of session `sid` committed to the file (0 when none).

        Raises:
            UnknownSession: the file has no session `sid`.
        """
        return self._log.last_seq(sid)

    def statistics(self) -> WriterStatistics:
        """Return a snapshot of the queue and of the commits made so far."""
        return WriterStatistics(
            queued=len(self._queue),
            committed=self._committed,
            batches=self._batches,
            last_batch_size=self._last_batch,
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Commit queued envelopes in batches; never returns unless cancelled.

        Start it with `await nursery.start(writer.run)`. When cancelled it commits everything
        still queued before it exits, so cancelling the nursery is a clean shutdown.

        Raises:
            LogError: a commit failed; the batch is not committed, `flush()` callers get the
                error, and later `append_nowait` calls raise it.
            SequenceGap, UnknownSession, TypeError: a queued envelope could never be logged.
        """
        if self._running:
            raise RuntimeError("this LogWriter is already running")
        self._check_failure()
        self._running = True
        task_status.started()
        try:
            while True:
                await self._wait_for_batch()
                self._commit(self._max_batch)
                # Yield between batches so a deep backlog does not starve the producers.
                await trio.lowlevel.checkpoint()
        finally:
            self._running = False
            if self._failure is None:
                self._drain()

    async def _wait_for_batch(self) -> None:
        while not self._queue:
            await self._wait()
        # Envelopes left over from a full batch keep the old deadline: it errs on the early
        # side and keeps the bookkeeping to one timestamp.
        with trio.move_on_at(self._first_at + self._max_delay):
            while len(self._queue) < self._max_batch and self._committed >= self._flush_target:
                await self._wait()

    async def _wait(self) -> None:
        # Replaced before waiting, with no checkpoint in between, so no wakeup is lost.
        self._wakeup = trio.Event()
        await self._wakeup.wait()

    def _drain(self) -> None:
        while self._queue:
            self._commit(self._max_batch)

    def _commit(self, limit: int) -> None:
        batch = self._queue[:limit]
        try:
            self._log.append(batch)
        except BaseException as exc:
            self._failure = exc
            self._committed_event.set()
            raise
        del self._queue[: len(batch)]
        self._committed += len(batch)
        self._batches += 1
        self._last_batch = len(batch)
        self._committed_event.set()
        self._committed_event = trio.Event()

    def _check_failure(self) -> None:
        if self._failure is not None:
            path = self._log.path
            raise LogError(path, f"the log writer for {path} stopped: {self._failure}")
