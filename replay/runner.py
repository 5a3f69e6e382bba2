"""Re-run a recorded session's actors with no network, on trio's MockClock, and compare.

The actors are the same code as in a live run; only their world is recorded: the limiter's
sender answers from the log (`RecordedSender`), the chat connector replays the recorded sockets,
time starts at the session's start on a virtual clock that jumps whenever every task waits
(`replay.clock.JumpClock`, MockClock's autojump without its extra scheduler pass), and the
wall clock is the session's start plus virtual time. The events produced are then compared with
the recorded ones (`replay.compare`).
"""

from __future__ import annotations

import sys
import time

import msgspec
import trio

from actors.config import BotConfig, session_config
from actors.restore import restore
from actors.system import LIVE_ACTORS, RECORD_ACTORS, BotDeps, run_bot
from c2c.credentials import Credentials
from events import Envelope, RepriceDecided, RunStopped
from replay.alerts import recorded_channels
from replay.clock import JumpClock
from replay.compare import Divergence, compare
from replay.judge import ProcessCompare, judged_apart
from replay.recorded import DecisionTimes, RecordedChat, RecordedSender
from replay.schedule import ScheduleCheck, check_schedule
from replay.stream import StreamCompare, StreamingWriter, index_recording
from replay.whatif import WhatIfSender
from store import LogWriter


class MemoryWriter:
    """A log writer that keeps the replay's events in memory (nothing to commit)."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    def append_nowait(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    async def flush(self) -> None:
        return None

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep_forever()


class ReplayResult(msgspec.Struct, kw_only=True):
    session: int
    compared: int
    produced: int
    simulated_s: float
    wall_s: float
    divergence: Divergence | None = None
    unrecorded: tuple[str, ...] = ()
    whatif_session: int | None = None
    synthesized: int = 0
    produced_events: list = []
    total_s: float = 0.0  # the whole replay: reading, re-running and comparing
    streamed: bool = False  # judged while reading the recording (replay.stream)
    peak_pending: int = 0  # the most events the streaming comparison held waiting for a twin

    @property
    def speed(self) -> float:
        """Simulated seconds per wall second of the whole replay (reading, re-running and
        comparing; of the re-run alone where the whole was not timed)."""
        wall = self.total_s or self.wall_s
        return self.simulated_s / wall if wall > 0 else float("inf")

    @property
    def equal(self) -> bool:
        return self.divergence is None and not self.unrecorded


def replay_session(log, sid: int, *, bot: BotConfig | None = None, progress: bool = False,
                   whatif: bool = False, stream: bool = True, keep: bool = False,
                   judge: str = "auto") -> ReplayResult:
    """Replay session `sid` of `log`.

    A replay as recorded streams (`replay.stream`): it reads the recording as it goes and holds
    neither list of events; when that verdict is a divergence (or an actor restarted and needs
    its history) it replays again with both lists in memory for the first divergence.

    Args:
        bot: another configuration to replay with (what-if); None replays as recorded.
        whatif: write the replay as a new session (mode "replay") and compare nothing.
        progress: draw a progress bar on stderr.
        stream: False replays with both lists in memory from the start.
        keep: keep the replayed events in `ReplayResult.produced_events` (a streaming replay
            otherwise keeps none).
        judge: where a streaming replay compares: "process" on the machine's other core
            (`replay.judge`), "inline" in this process, "auto" (the default) the former for
            a session of `replay.judge.MIN_EVENTS` events or more when this process may use
            two cores or more.
    """
    if judge not in ("auto", "process", "inline"):
        raise ValueError(f"judge must be auto, process or inline, not {judge!r}")
    started = time.perf_counter()
    if stream and not whatif:
        streamed = _replay_streaming(log, sid, bot=bot, progress=progress, keep=keep,
                                     judge=judge)
        if isinstance(streamed, ReplayResult):
            streamed.total_s = time.perf_counter() - started
            return streamed
    else:
        streamed = None
    result = _replay_lists(log, sid, bot=bot, progress=progress, whatif=whatif)
    if streamed is not None and result.equal:
        result.divergence = Divergence(
            seq=0, type="replay", t=0.0, chain=(),
            expected="the same verdict from the streaming replay and the replay with lists",
            got=f"the streaming replay found {streamed}, the replay with lists did not (the "
                "session does not replay deterministically)")
    result.total_s = time.perf_counter() - started
    return result


def _replay_lists(log, sid: int, *, bot, progress: bool, whatif: bool) -> ReplayResult:
    info = log.session(sid)
    stored = session_config(info.config)
    recorded = list(log.events(sid))
    # Where the actors stopped: the run's last alert may be logged a moment after RunStopped.
    end_t = next((e.t for e in reversed(recorded) if isinstance(e.event, RunStopped)),
                 recorded[-1].t if recorded else 0.0)
    actors = stored.actors or (LIVE_ACTORS if info.mode in ("live", "demo") else RECORD_ACTORS)
    cfg = bot or stored.bot
    sender = WhatIfSender(recorded) if whatif else RecordedSender(recorded, end_t)
    chat = RecordedChat(recorded)
    creds = Credentials("replay", "replay") if "ads" in actors or "orders" in actors else None
    deps = BotDeps(config=cfg, client=None, connect=chat.connect, credentials=creds,
                   now_ms=lambda: info.started_ms + int(trio.current_time() * 1000),
                   seed=stored.seed, dry_run=stored.dry_run,
                   restored=restore(log, before_session=sid), sender=sender,
                   decision_clock=None if whatif else DecisionTimes(recorded),
                   alert_channels=recorded_channels(recorded))
    new_sid = None
    writer = MemoryWriter()
    if whatif:
        new_sid = log.start_session("replay", _whatif_config(cfg, actors, stored), info.started_ms)
    started = time.perf_counter()
    trio.run(_run, log, new_sid or sid, deps, actors, end_t, writer, whatif, progress,
             clock=JumpClock())
    wall = time.perf_counter() - started
    if new_sid is not None:
        log.end_session(new_sid, info.started_ms + int(end_t * 1000), "replayed")
        produced = list(log.events(new_sid))
    else:
        produced = writer.envelopes
    result = ReplayResult(session=sid, compared=len(recorded), produced=len(produced),
                          simulated_s=end_t, wall_s=wall, whatif_session=new_sid,
                          produced_events=produced)
    if whatif:
        result.synthesized = sender.synthesized
        return result
    result.unrecorded = tuple(str(u) for u in sender.unrecorded)
    replayed = [e for e in produced if e.t <= end_t or isinstance(e.event, RunStopped)]
    found = [d for d in (compare(recorded, replayed, end_t=end_t),
                         check_schedule(replayed, rps=cfg.limits.rps,
                                        page_delay_s=cfg.limits.page_delay_s,
                                        live_rank=sender.live_rank)) if d is not None]
    result.divergence = min(found, key=lambda d: d.t) if found else None
    return result


def _replay_streaming(log, sid: int, *, bot, progress: bool, keep: bool, judge: str = "auto"
                      ) -> ReplayResult | str | None:
    """The streaming replay's result when equal; else what diverged, or None when the session
    is not one to stream (an actor restarted in it) or the judge process gave no verdict.
    `judge`: as `replay_session`'s."""
    info = log.session(sid)
    stored = session_config(info.config)
    actors = stored.actors or (LIVE_ACTORS if info.mode in ("live", "demo") else RECORD_ACTORS)
    cfg = bot or stored.bot
    apart = judged_apart(judge, info.events) and \
        str(log.path) != ":memory:"  # the judge opens the log itself
    judged = ProcessCompare(log.path, sid) if apart else None  # it starts while we index
    try:
        world = index_recording(log, sid, identities=not apart)
        if world.restarts:
            return None  # the replay restarts an actor too, which reads its session so far
        if judged is not None:
            judged.configure(world.end_t, with_dispatches=world.dispatches,
                             digest_of=world.sender.digest_of)
        result = _run_streaming(log, sid, info, stored, actors, cfg, world, judged,
                                progress=progress, keep=keep)
    finally:
        if judged is not None:
            judged.close()
    return result


def _run_streaming(log, sid, info, stored, actors, cfg, world, judged, *, progress, keep):
    sender = world.sender
    compare = judged or StreamCompare(world.end_t, world.recorded,
                                      with_dispatches=world.dispatches,
                                      digest_of=sender.digest_of)
    schedule = ScheduleCheck(rps=cfg.limits.rps, page_delay_s=cfg.limits.page_delay_s,
                             live_rank=sender.live_rank)
    writer = StreamingWriter(compare, schedule, end_t=world.end_t, keep=keep)
    creds = Credentials("replay", "replay") if "ads" in actors or "orders" in actors else None
    deps = BotDeps(config=cfg, client=None, connect=world.chat.connect, credentials=creds,
                   now_ms=lambda: info.started_ms + int(trio.current_time() * 1000),
                   seed=stored.seed, dry_run=stored.dry_run,
                   restored=restore(log, before_session=sid), sender=sender,
                   decision_clock=world.decisions, alert_channels=world.alerts)
    started = time.perf_counter()
    trio.run(_run, log, sid, deps, actors, world.end_t, writer, False, progress,
             clock=JumpClock())
    wall = time.perf_counter() - started
    if sender.fetch.error is not None:
        raise sender.fetch.error
    equal = compare.finish()
    if judged is not None and judged.failed:
        return None  # no verdict: the replay with lists gives it (and says why it failed)
    if not equal or sender.unrecorded or writer.needs_lists or schedule.finish() is not None:
        return compare.why or ("an actor restarted" if writer.needs_lists else
                               "a request the recording never saw" if sender.unrecorded else
                               "a breach of the request schedule")
    return ReplayResult(session=sid, compared=world.events, produced=writer.produced,
                        simulated_s=world.end_t, wall_s=wall, streamed=True,
                        peak_pending=compare.peak_pending, produced_events=writer.kept)


def _whatif_config(cfg, actors, stored) -> str:
    from actors.config import config_json

    return config_json(cfg, actors=actors, seed=stored.seed, dry_run=stored.dry_run)


async def _run(log, sid, deps, actors, end_t, writer, whatif, progress) -> None:
    taps = (_ProgressTap(end_t),) if progress and sys.stderr.isatty() else ()
    real_writer = LogWriter(log) if whatif else writer
    try:
        # A hair past the end, so that what the live run did at its last instant happens too.
        await run_bot(log, sid, deps, actors=actors, duration=end_t + 0.0005, writer=real_writer,
                      taps=tuple(t.tap for t in taps))
    finally:
        for t in taps:
            t.close()


class _ProgressTap:
    """A progress bar driven by the virtual time of the events flowing through the bus."""

    def __init__(self, end_t: float) -> None:
        from rich.progress import Progress

        self.progress = Progress(transient=True)
        self.progress.start()
        self.task = self.progress.add_task("replaying", total=max(end_t, 0.001))
        self.last = 0.0

    def tap(self, env: Envelope) -> None:
        if env.t - self.last >= 1.0:
            self.last = env.t
            self.progress.update(self.task, completed=env.t)

    def close(self) -> None:
        self.progress.stop()


def decisions_summary(recorded: list[Envelope], produced: list[Envelope]) -> list[str]:
    """How the decisions of a what-if replay differed from the recorded ones, per ad."""
    lines = []
    rec, new = _per_ad(recorded), _per_ad(produced)
    for adv_no in sorted(set(rec) | set(new)):
        r, n = rec.get(adv_no, []), new.get(adv_no, [])
        lines.append(f"ad {adv_no}: reprices recorded {len(r)}, what-if {len(n)}; "
                     f"mean price recorded {_mean(r)}, what-if {_mean(n)}; "
                     f"last price recorded {r[-1] if r else '-'}, what-if {n[-1] if n else '-'}")
    return lines


def _per_ad(envelopes: list[Envelope]) -> dict[str, list]:
    out: dict[str, list] = {}
    for env in envelopes:
        e = env.event
        if isinstance(e, RepriceDecided) and e.action == "reprice":
            out.setdefault(e.adv_no, []).append(e.new_price)
    return out


def _mean(prices: list) -> str:
    if not prices:
        return "-"
    return str((sum(prices) / len(prices)).quantize(prices[0]))
