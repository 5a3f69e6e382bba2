"""Replay speed of a one-hour session, as x real time.

Builds the session first (with `--db` naming an existing file: replays its latest session):
the demo's bot trades for an hour against the simulated exchange, in memory under trio's MockClock (`app.demo.run_virtual`: the same actors and exchange as
the demo, at the 5 requests/s budget), into a temporary log. Then replays it N times with
`replay.runner.replay_session` (read the log, re-run the actors on recorded answers, compare
every event, check the request schedule: all of it timed, from opening the session to the
verdict) and reports the median, in wall time and in this process's CPU time (the fairer
figure on a machine other work shares).

    python bench/bench_replay.py [--minutes 60] [--runs 3] [--db PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.demo import run_virtual  # noqa: E402
from replay.runner import replay_session  # noqa: E402
from store import open_log  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--db", default=None, help="keep the recorded session in this file")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "hour.db"
        reuse = db.exists()
        with open_log(db) as log:
            if reuse:  # a session recorded by an earlier run of this script
                sid = log.latest_session().id
                print(f"replaying session {sid} of {db}: {log.session(sid).events} events")
            else:
                started = time.perf_counter()
                sid, report = run_virtual(log, duration=args.minutes * 60)
                print(f"recorded {args.minutes:.0f} min session {sid} in "
                      f"{time.perf_counter() - started:.1f} s: {log.session(sid).events} events, "
                      f"{report.requests_total} requests, max {report.max_requests_1s} in 1 s, "
                      f"{report.violations} violations")
            speeds, cpu_speeds = [], []
            for i in range(args.runs):
                cpu = time.process_time()
                r = replay_session(log, sid)
                cpu = time.process_time() - cpu
                speeds.append(r.speed)
                cpu_speeds.append(r.simulated_s / cpu)
                print(f"replay {i + 1}: {'identical' if r.equal else 'DIVERGES'}, "
                      f"{r.compared} events compared, {r.simulated_s:.0f} s simulated in "
                      f"{r.total_s:.2f} s = {r.speed:.0f}x real time, of which the actors' run "
                      f"{r.wall_s:.2f} s ({cpu:.2f} s CPU = {cpu_speeds[-1]:.0f}x)")
    print(f"median: {statistics.median(speeds):.0f}x real time "
          f"({statistics.median(cpu_speeds):.0f}x per CPU second)")


if __name__ == "__main__":
    main()
