"""The batching writer under Trio's MockClock: when it commits, what flush promises, shutdown."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from events import ClockSynced, Envelope
from store import LogError, LogWriter, SequenceGap, WriterStatistics, open_log


@pytest.fixture
def log(tmp_path):
    with open_log(tmp_path / "bot.db") as log:
        yield log


@pytest.fixture
def commits(log):
    """Record (trio time, batch size) of every commit the writer makes."""
    made: list[tuple[float, int]] = []
    append = log.append

    def recording_append(envelopes):
        append(envelopes)
        made.append((trio.current_time(), len(envelopes)))

    log.append = recording_append
    return made


class Emitter:
    """Number envelopes per session the way the bus does."""

    def __init__(self, writer: LogWriter) -> None:
        self.writer = writer
        self.seqs: dict[int, int] = {}

    def emit(self, sid: int, count: int = 1) -> None:
        for _ in range(count):
            seq = self.seqs[sid] = self.seqs.get(sid, 0) + 1
            self.writer.append_nowait(Envelope(
                session=sid, seq=seq, ts_ms=seq, t=trio.current_time(), source="market",
                cause=None, event=ClockSynced(offset_ms=seq, round_trip_ms=1)))


async def test_writer_commits_max_delay_after_the_first_queued_event(
    log, commits, nursery, autojump_clock
):
    sid = log.start_session("live", "{}", 0)
    writer = LogWriter(log)  # max_batch=2000, max_delay_s=0.005
    await nursery.start(writer.run)
    out = Emitter(writer)

    out.emit(sid)
    await trio.sleep(0.002)
    out.emit(sid, 2)
    await trio.sleep(0.010)
    assert commits == [(0.005, 3)]

    out.emit(sid)  # at 0.012: a new batch, a new deadline
    await trio.sleep(0.020)
    assert commits == [(0.005, 3), (0.012 + 0.005, 1)]
    assert writer.committed_seq(sid) == 4


async def test_writer_commits_a_full_batch_at_once_and_the_rest_by_the_deadline(
    log, commits, nursery, autojump_clock
):
    sid = log.start_session("live", "{}", 0)
    writer = LogWriter(log, max_batch=10, max_delay_s=1.0)
    await nursery.start(writer.run)
    out = Emitter(writer)

    await trio.sleep(2.0)
    out.emit(sid, 25)
    await trio.testing.wait_all_tasks_blocked()
    assert commits == [(2.0, 10), (2.0, 10)]
    assert writer.statistics() == WriterStatistics(
        queued=5, committed=20, batches=2, last_batch_size=10
    )

    await trio.sleep(5.0)
    assert commits == [(2.0, 10), (2.0, 10), (3.0, 5)]
    assert [e.seq for e in log.events(sid)] == list(range(1, 26))


async def test_flush_commits_now_and_returns_once_committed(log, commits, nursery, autojump_clock):
    a = log.start_session("live", "{}", 0)
    b = log.start_session("live", "{}", 0)
    writer = LogWriter(log, max_batch=100, max_delay_s=30.0)
    await nursery.start(writer.run)
    out = Emitter(writer)

    await writer.flush()  # nothing queued: returns at once
    await trio.sleep(1.0)
    out.emit(a, 3)
    out.emit(b, 2)
    await writer.flush()
    assert trio.current_time() == 1.0
    assert commits == [(1.0, 5)]
    assert (writer.committed_seq(a), writer.committed_seq(b)) == (3, 2)


async def test_cancelling_the_nursery_commits_what_is_still_queued(tmp_path, autojump_clock):
    path = tmp_path / "bot.db"
    with open_log(path) as log:
        sid = log.start_session("live", "{}", 0)
        writer = LogWriter(log, max_batch=1000, max_delay_s=60.0)
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            Emitter(writer).emit(sid, 7)
            await trio.sleep(1.0)
            assert writer.statistics().committed == 0
            nursery.cancel_scope.cancel()
        assert trio.current_time() == 1.0
    with open_log(path, create=False) as reopened:
        assert [e.seq for e in reopened.events(sid)] == list(range(1, 8))
        assert reopened.session(sid).events == 7


async def test_a_failed_commit_stops_the_writer_and_reaches_flush_callers(log, autojump_clock):
    sid = log.start_session("live", "{}", 0)
    writer = LogWriter(log, max_delay_s=1.0)
    gap = Envelope(session=sid, seq=5, ts_ms=0, t=0.0, source="ads", cause=None,
                   event=ClockSynced(offset_ms=0, round_trip_ms=0))
    with pytest.raises(BaseExceptionGroup) as group:
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            writer.append_nowait(gap)
            with pytest.raises(LogError, match="the log writer for .* stopped: .*expected seq 1"):
                await writer.flush()
    assert group.value.subgroup(SequenceGap) is not None
    with pytest.raises(LogError, match="stopped"):
        writer.append_nowait(gap)
    assert log.last_seq(sid) == 0


async def test_a_writer_runs_once(log, nursery):
    writer = LogWriter(log)
    await nursery.start(writer.run)
    with pytest.raises(RuntimeError, match="already running"):
        await writer.run()


def test_writer_rejects_nonsense_settings(log):
    with pytest.raises(ValueError):
        LogWriter(log, max_batch=0)


async def test_flush_without_a_running_writer_commits_directly(log, commits, autojump_clock):
    sid = log.start_session("live", "{}", 0)
    writer = LogWriter(log, max_batch=4)
    Emitter(writer).emit(sid, 6)
    await writer.flush()
    assert commits == [(0.0, 4), (0.0, 2)]
    assert writer.committed_seq(sid) == 6
