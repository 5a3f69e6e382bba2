"""Replay speed of a one-hour session, as x real time.

Builds the session first (with `--db` naming an existing file: replays its latest session):
the demo's bot trades for an hour against the simulated exchange, in memory under trio's MockClock (`app.demo.run_virtual`: the same actors and exchange as
the demo, at the 5 requests/s budget), into a temporary log. Then replays it N times with
`replay.runner.replay_session` (read the log, re-run the actors on recorded answers, compare
every event, check the request schedule: all of it timed, from opening the session to the
verdict), each replay in a fresh process, alternating the comparison in a judge process on the
other core (`--judge process`, the default for a session this long) with the comparison in the
replay's own process (`inline`, the counterfactual), and reports the medians: in wall time, and
in the replay process's CPU time (the judge's CPU apart).

    python bench/bench_replay.py [--minutes 60] [--runs 3] [--db PATH] [--judge both|process|inline]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.demo import run_virtual  # noqa: E402
from store import open_log  # noqa: E402

ONE = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from replay.runner import replay_session
from store import open_log
with open_log(sys.argv[2], create=False) as log:
    cpu = time.process_time()
    r = replay_session(log, int(sys.argv[3]), judge=sys.argv[4])
    cpu = time.process_time() - cpu
judge = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"equal": r.equal, "streamed": r.streamed, "compared": r.compared,
                  "simulated_s": r.simulated_s, "total_s": r.total_s, "run_s": r.wall_s,
                  "cpu_s": cpu, "judge_cpu_s": judge.ru_utime + judge.ru_stime}))
"""


def replay(db: Path, sid: int, judge: str) -> dict:
    out = subprocess.run([sys.executable, "-c", ONE, str(ROOT), str(db), str(sid), judge],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--db", default=None, help="keep the recorded session in this file")
    p.add_argument("--judge", choices=("both", "process", "inline"), default="both")
    args = p.parse_args()
    judges = ["process", "inline"] if args.judge == "both" else [args.judge]
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
        speeds: dict[str, list[float]] = {j: [] for j in judges}
        cpu_speeds: dict[str, list[float]] = {j: [] for j in judges}
        for i in range(args.runs):
            for judge in judges:  # alternating, so that both see the same machine
                r = replay(db, sid, judge)
                speeds[judge].append(r["simulated_s"] / r["total_s"])
                cpu_speeds[judge].append(r["simulated_s"] / r["cpu_s"])
                print(f"replay {i + 1} (judge {judge}): "
                      f"{'identical' if r['equal'] else 'DIVERGES'}, {r['compared']} events "
                      f"compared, {r['simulated_s']:.0f} s simulated in {r['total_s']:.2f} s = "
                      f"{speeds[judge][-1]:.0f}x real time, of which the actors' run "
                      f"{r['run_s']:.2f} s ({r['cpu_s']:.2f} s CPU = {cpu_speeds[judge][-1]:.0f}x"
                      + (f"; the judge {r['judge_cpu_s']:.2f} s CPU" if r["judge_cpu_s"] else "")
                      + ")", flush=True)
    for judge in judges:
        print(f"median (judge {judge}): {statistics.median(speeds[judge]):.0f}x real time "
              f"({statistics.median(cpu_speeds[judge]):.0f}x per CPU second of the replay)")
    if len(judges) == 2:
        print(f"judge process / inline: "
              f"{statistics.median(speeds['process']) / statistics.median(speeds['inline']):.2f}x")


if __name__ == "__main__":
    main()
