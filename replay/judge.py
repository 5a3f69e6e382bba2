"""The streaming comparison in a second process, beside the replay rather than inside it.

A streaming replay (`replay.stream`) does two things per event: re-run the actors, which emit
it, and judge it against the recording: read the recorded twin from the log, number both
identities, match them within the time window. On one core the judging is a fifth of the
replay's time (an hour: 0.8 s of 4.9). The judge runs it on the machine's other core:

- the replay (this process) turns each replayed envelope into what the comparison reads of it
  (`StreamCompare.parts`: seq, time, source, cause, kind, normalized bytes, body token, an
  answer's 40 KB body by its digest) and sends them in batches through a pipe;
- the judge process opens the log itself, reads the recording as the replayed events come
  (just ahead of them, as `StreamCompare` does in process), and gives the verdict, equal or
  the reason it is not, with the most events it held waiting.

The verdict is `StreamCompare`'s, computed by the same code from the same parts (a test replays
with both and with mutated actors, whose divergences both must find). When the judge cannot
give one (it failed, or its process died), the replay says so on stderr and the runner
replays with the lists in memory (`replay.runner`), whose verdict stands.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
from array import array

import msgspec

from replay.stream import RecordedIds, RecordedSide, StreamCompare, recording

BATCH = 1024  # parts per message: ~300 KB, a few milliseconds of the judge's work
MIN_EVENTS = 50_000  # a shorter session is judged in process ("auto"): start-up would cost more


def cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def judged_apart(judge: str, events: int) -> bool:
    """Whether a streaming replay of a session of `events` is judged in a second process:
    always with "process", never with "inline"; with "auto", for a long session when another
    core is there to run the judge (on one core it would only take turns with the replay)."""
    if judge == "auto":
        return events >= MIN_EVENTS and cores() >= 2
    return judge == "process"


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode


class ProcessCompare:
    """`StreamCompare`'s interface for `StreamingWriter` and the runner, judged in a child.

    Made before the recording is indexed (the judge starts and opens the log while this process
    indexes), then `configure`d with what the index found; `replayed` for every envelope,
    `finish` at the end, or `close` when the replay failed before it.
    """

    def __init__(self, path: str, sid: int) -> None:
        # Forked on Linux (no re-import of the caller's main module, which a script without a
        # `__main__` guard would run again; the child uses nothing of this process's state but
        # what `_judge` opens itself); spawned elsewhere, where forking is unsafe or absent.
        ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_judge, args=(child, str(path), sid), daemon=True,
                                 name=f"replay-judge-{sid}")
        self._proc.start()
        child.close()
        self._parts = None
        self._batch: list[tuple] = []
        self.diverged = False
        self.why = ""
        self.peak_pending = 0
        self._failed = ""

    def configure(self, end_t: float, *, with_dispatches: bool, digest_of) -> None:
        """What the replay's index found: where the run stopped, whether dispatches were
        logged, and the digests of the bodies the sender serves."""
        # `parts` reads only the replayed side (the stop, the dispatches, the body digests).
        self._parts = StreamCompare(end_t, RecordedIds(ids=bytearray(), times=array("d"),
                                                       flags=bytearray()),
                                    with_dispatches=with_dispatches, digest_of=digest_of).parts
        self._send(_encode((end_t, with_dispatches)))

    def replayed(self, env) -> None:
        parts = self._parts(env)
        if parts is not None:
            batch = self._batch
            batch.append(parts)
            if len(batch) >= BATCH:
                self._flush()

    def finish(self) -> bool:
        """Send the rest, wait for the verdict; True when the replay was equal."""
        self._flush()
        self._send(b"")
        try:
            if not self._failed:
                equal, why, peak = _decode(self._conn.recv_bytes())
                if equal is None:
                    self._failed = why
                else:
                    self.diverged, self.why, self.peak_pending = not equal, why, peak
        except (EOFError, OSError) as exc:
            self._failed = self._failed or f"{type(exc).__name__}: the judge process ended"
        finally:
            self.close()
        if self._failed:
            self.diverged, self.why = True, f"no verdict from the judge process ({self._failed})"
            print(f"replay: {self.why}; replaying with the lists in memory", file=sys.stderr)
        return not self.diverged

    @property
    def failed(self) -> str:
        """Why the judge gave no verdict ("" when it gave one)."""
        return self._failed

    def close(self) -> None:
        """End the judge (at once when the replay failed before `finish`)."""
        self._conn.close()
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()

    def _flush(self) -> None:
        if self._batch:
            self._send(_encode(self._batch))
            self._batch.clear()

    def _send(self, data: bytes) -> None:
        if self._failed:
            return
        try:
            self._conn.send_bytes(data)
        except (OSError, ValueError) as exc:  # the judge is gone: the verdict says so
            self._failed = f"{type(exc).__name__}: the judge process ended"


def _judge(conn, path: str, sid: int) -> None:
    """The child: judge the parts the replay sends against the recording, as they come."""
    from store import open_log

    try:
        with open_log(path, create=False) as log:
            side = RecordedSide()
            read = _Reader(recording(log, sid), side)
            end_t, with_dispatches = _decode(conn.recv_bytes())
            compare = StreamCompare(end_t, side.rec, with_dispatches=with_dispatches,
                                    digest_of=None, more=read)
            take = compare.take
            while data := conn.recv_bytes():
                for parts in _decode(data):
                    take(*parts)
            equal = compare.finish()
            conn.send_bytes(_encode((equal, compare.why, compare.peak_pending)))
    except EOFError:
        pass  # the replay ended early (it failed); nobody waits for a verdict
    except BaseException:  # noqa: BLE001 - reported as the reason of a missing verdict
        try:
            conn.send_bytes(_encode((None, "it failed: " +
                                     traceback.format_exc(limit=3)[-600:], 0)))
        except OSError:
            pass
    finally:
        conn.close()


class _Reader:
    """Reads the recording into the recorded side up to a time (`StreamCompare`'s `more`)."""

    def __init__(self, envelopes, side: RecordedSide) -> None:
        self._envelopes = envelopes
        self._side = side
        self._ahead = None  # the first envelope past the last `until`, read but not noted

    def __call__(self, until: float) -> float:
        """Note every recorded event up to `until`; return the next one's time (inf: none)."""
        note = self._side.note
        ahead = self._ahead
        if ahead is not None:
            if ahead[0].t > until:
                return ahead[0].t
            note(*ahead)
            self._ahead = None
        for env, digest in self._envelopes:
            if env.t > until:
                self._ahead = (env, digest)
                return env.t
            note(env, digest)
        return float("inf")
