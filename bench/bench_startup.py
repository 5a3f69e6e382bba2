"""Start-up time of `live` on a log holding 30 days of recorded sessions.

    .venv/bin/python bench/bench_startup.py [--days 30] [--events-per-day 40000] [--runs 3]

Builds the log from a real recording: the demo's bot against the in-process simulator for
10 virtual minutes (the real mix of requests, answers with their bodies, books, decisions,
orders and chat), copied into one `live` session per day, each day's orders and chat messages
renamed so the history grows, until the day holds `--events-per-day` events; every session
ends as a run ends (SessionSummary, then RunStopped). Then it measures:

- `restore()`, the start-up fold, with summaries (as built) and folding every session (the
  counterfactual, as before summaries), after 10, 20 and 30 days;
- a real `python run.py live` process on the 30-day log: from its start to the first event
  of its new session committed (imports, config, log open, restore, first batch), with the
  exchange pointed at a closed loopback port.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actors.config import config_json  # noqa: E402
from actors.restore import Summarizer, restore  # noqa: E402
from actors.system import LIVE_ACTORS  # noqa: E402
from app.demo import demo_config, run_virtual  # noqa: E402
from events import (ChatMessageReceived, ChatSendRequest, Envelope, OrderOpened,  # noqa: E402
                    OrderStatusChanged, RunStopped, SessionSummary)
from sim import SimConfig  # noqa: E402
from store import open_log  # noqa: E402

DAY_MS = 86_400_000
RENAMED = (OrderOpened, OrderStatusChanged, ChatSendRequest)


def template(tmp: Path) -> list[Envelope]:
    with open_log(tmp / "template.db") as log:
        sid, _ = run_virtual(log, duration=600, seed=7)
        return [e for e in log.events(sid) if not isinstance(e.event, (RunStopped,
                                                                       SessionSummary))]


def _renamed(event, tag: str):
    if isinstance(event, RENAMED):
        return msgspec.structs.replace(event, order_no=event.order_no + tag)
    if isinstance(event, ChatMessageReceived):
        return msgspec.structs.replace(event, order_no=event.order_no + tag,
                                       message_id=(event.message_id or "") + tag)
    return event


def build(path: Path, base: list[Envelope], days: int, per_day: int, first_day: int = 0) -> None:
    cfg = config_json(demo_config("http://127.0.0.1:1", SimConfig(seed=7)), actors=LIVE_ACTORS,
                      seed=7)
    with open_log(path) as log:
        restored = restore(log)
        for day in range(first_day, first_day + days):
            start_ms = 1_700_000_000_000 + day * DAY_MS
            sid = log.start_session("live", cfg, start_ms)
            summarizer = Summarizer(restored)
            batch, seq, rep = [], 0, 0
            while seq < per_day:
                tag = f"-{day}-{rep}"
                for env in base:
                    seq += 1
                    e = Envelope(session=sid, seq=seq, ts_ms=start_ms + env.ts_ms % DAY_MS,
                                 t=env.t, source=env.source, cause=env.cause,
                                 event=_renamed(env.event, tag))
                    summarizer.tap(e)
                    batch.append(e)
                    if len(batch) == 5000:
                        log.append(batch)
                        batch = []
                    if seq >= per_day:
                        break
                rep += 1
            for event in (summarizer.summary(), RunStopped(reason="duration", message="")):
                seq += 1
                batch.append(Envelope(session=sid, seq=seq, ts_ms=start_ms + DAY_MS - 1,
                                      t=86_399.0, source="run", cause=None, event=event))
            log.append(batch)
            log.end_session(sid, start_ms + DAY_MS, "duration")
            restored = summarizer.state


def time_restore(path: Path, summaries: bool, runs: int) -> float:
    times = []
    for _ in range(runs):
        with open_log(path) as log:
            t0 = time.perf_counter()
            restore(log, summaries=summaries)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def time_process(path: Path, runs: int, tmp: Path) -> float:
    toml = tmp / "bot.toml"
    toml.write_text('[exchange]\nsapi_url = "http://127.0.0.1:1"\n'
                    'bapi_url = "http://127.0.0.1:1"\n')
    env = dict(os.environ, BINANCE_API_KEY="k" * 64, BINANCE_API_SECRET="s" * 64)
    times = []
    for _ in range(runs):
        with sqlite3.connect(path) as con:
            before = con.execute("select max(id) from sessions").fetchone()[0]
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "live", "--config",
                                 str(toml), "--db", str(path), "--quiet", "--duration", "5"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                with sqlite3.connect(path, timeout=5) as con:
                    n = con.execute("select count(*) from events where id >= ?",
                                    ((before + 1) << 40,)).fetchone()[0]
                if n:
                    times.append(time.perf_counter() - t0)
                    break
                if proc.poll() is not None:
                    raise SystemExit(f"live ended before starting (exit {proc.returncode})")
                time.sleep(0.005)
        finally:
            proc.terminate()
            proc.wait(30)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--events-per-day", type=int, default=40_000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        base = template(tmp)
        print(f"template: {len(base)} events from 10 virtual minutes of the demo")
        path = tmp / "month.db"
        step = max(1, args.days // 3)
        done = 0
        while done < args.days:
            n = min(step, args.days - done)
            build(path, base, n, args.events_per_day, first_day=done)
            done += n
            size = path.stat().st_size / 1e6
            with_s = time_restore(path, True, args.runs)
            without_s = time_restore(path, False, args.runs)
            print(f"{done:3d} days, {done * args.events_per_day:,} events, {size:,.0f} MB: "
                  f"restore with summaries {with_s * 1000:.1f} ms, folding every session "
                  f"{without_s * 1000:.0f} ms ({without_s / with_s:.0f}x)")
        proc_s = time_process(path, args.runs, tmp)
        print(f"python run.py live on the {done}-day log: first event of the new session "
              f"committed {proc_s:.2f} s after the process started (median of {args.runs})")


if __name__ == "__main__":
    main()
