"""Replay of a long recorded session: speed and peak memory, streaming against lists.

Records a demo session of `--hours` on the in-process simulator once (`app.demo.run_virtual`,
the demo's bot at the 5 requests/s budget, under trio's MockClock) into a cache outside the
repository, then replays it `--runs` times, each in a fresh process so that its peak RSS
(`ru_maxrss`) is the replay's alone: streaming with the comparison in a judge process
(`replay_session`'s default for a long session; the judge's CPU and peak RSS are reported
apart), with `--inline` streaming with the comparison in process, and with `--lists` with both
lists of events in memory (`stream=False`, the counterfactual). Alternated, run by run.

    python bench/bench_replay_day.py --hours 24 [--runs 3] [--inline] [--lists] [--cache /tmp/replay-day]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ONE = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from replay.runner import replay_session
from store import open_log
how = sys.argv[3]
with open_log(sys.argv[2], create=False) as log:
    cpu = time.process_time()
    r = replay_session(log, 1, stream=how != "lists",
                       judge="process" if how == "stream" else "inline")
    cpu = time.process_time() - cpu
judge = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"equal": r.equal, "streamed": r.streamed, "events": r.compared,
                  "simulated_s": r.simulated_s, "wall_s": r.total_s, "run_s": r.wall_s,
                  "cpu_s": cpu, "peak_pending": r.peak_pending,
                  "judge_cpu_s": judge.ru_utime + judge.ru_stime,
                  "judge_rss_mb": judge.ru_maxrss / 1024,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def record(path: Path, hours: float, seed: int) -> None:
    from app.demo import run_virtual
    from store import open_log

    tmp = path.with_suffix(".partial")
    tmp.unlink(missing_ok=True)
    started = time.perf_counter()
    with open_log(tmp) as log:
        sid, report = run_virtual(log, duration=hours * 3600, seed=seed)
        events = log.session(sid).events
    tmp.rename(path)
    print(f"recorded {hours:g} h into {path} in {time.perf_counter() - started:.0f} s: "
          f"{events} events, {report.requests_total} requests, {report.violations} violations",
          flush=True)


def replay(path: Path, how: str) -> dict:
    out = subprocess.run([sys.executable, "-c", ONE, str(ROOT), str(path), how],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--lists", action="store_true", help="also replay with the lists in memory")
    p.add_argument("--inline", action="store_true",
                   help="also stream with the comparison in this process (no judge process)")
    p.add_argument("--cache", default="/tmp/replay-day", help="where recordings are kept")
    args = p.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"demo-{args.hours:g}h-seed{args.seed}.db"
    if not path.exists():
        record(path, args.hours, args.seed)
    if args.runs < 1:
        return
    hows = ["stream"] + (["inline"] if args.inline else []) + (["lists"] if args.lists else [])
    results: dict[str, list[dict]] = {how: [] for how in hows}
    for i in range(args.runs):
        for how in hows:  # alternating, so that both see the same machine
            r = replay(path, how)
            results[how].append(r)
            print(f"{how} {i + 1}: {'identical' if r['equal'] else 'DIVERGES'}"
                  f"{' (streamed)' if r['streamed'] else ''}, {r['events']} events, "
                  f"{r['simulated_s']:.0f} s simulated in {r['wall_s']:.2f} s = "
                  f"{r['simulated_s'] / r['wall_s']:.0f}x real time ({r['cpu_s']:.2f} s CPU = "
                  f"{r['simulated_s'] / r['cpu_s']:.0f}x), peak RSS {r['rss_mb']:.0f} MB, "
                  f"{r['peak_pending']} events waiting at most"
                  + (f"; the judge process {r['judge_cpu_s']:.2f} s CPU, peak RSS "
                     f"{r['judge_rss_mb']:.0f} MB" if r["judge_cpu_s"] else ""), flush=True)
    for how, rs in results.items():
        print(f"median {how}: {statistics.median(r['simulated_s'] / r['wall_s'] for r in rs):.0f}x "
              f"real time ({statistics.median(r['simulated_s'] / r['cpu_s'] for r in rs):.0f}x per "
              f"CPU second of the replay's process), peak RSS "
              f"{statistics.median(r['rss_mb'] for r in rs):.0f} MB"
              + (f" + the judge's {statistics.median(r['judge_rss_mb'] for r in rs):.0f} MB"
                 if how == "stream" else ""))


if __name__ == "__main__":
    main()
