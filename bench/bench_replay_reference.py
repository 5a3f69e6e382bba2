"""Replay speed of an hour against the code that set the 1000x figure, in one run.

BENCHMARKS.md's first replay figures (1047x, then 1030x: commit 1a4805e, 2026-11-25) were taken
on a day when the machine ran faster: the same commit replays its own hour at about half of
that speed on this machine on 2026-12-02 (340-626x), and absolute speeds here drift by up to 2x
between hours of one day (see BENCHMARKS.md). This benchmark measures this checkout's replay and
the reference's side by side, so that the machine's speed of the day divides out. Unlike
`bench/ab_replay.py`, which replays one recording with several trees, it records an hour with
each tree: the reference cannot read today's log layout.

1. `git archive` the reference revision (`--ref`, default 1a4805e) into a temporary tree;
2. record an hour of the demo (each tree's own `run_virtual`: the bot against the simulated
   exchange, in memory, at the 5 requests/s budget) with each tree, into its own log;
3. alternate, round after round, a fresh process per tree that replays its tree's hour
   `--replays` times (`replay_session`, each timed from opening the session to the verdict;
   this checkout with its default judge). The first replay of a process is what
   `python run.py replay` costs a user; the next ones ("warm") are how the reference's own
   figures were taken (after recording, in the same process).

It prints every replay and the medians' ratios, this checkout over the reference (with their
range over the rounds), in the same minutes of the same machine: of the whole replay (from
opening the session to the verdict, as BENCHMARKS.md now times it), and of the actors' run
alone (`ReplayResult.wall_s`), which is what the reference's own figure timed: its reading of
the log and its comparison ran untimed, before and after. The last lines multiply the
reference's recorded figure (`--ref-figure`) by the ratios against its run: this checkout's
speed in the terms the target was set in. This checkout's run includes what its new checks
cost as events are emitted (the judge's parts, the schedule check), and its hour holds more
events (it logs each dispatch), as the two bots differ.

    python bench/bench_replay_reference.py [--ref 1a4805e] [--ref-figure 1030] [--rounds 5]
        [--replays 3] [--minutes 60] [--this REV] [--keep DIR]

`--this REV` measures another revision in place of the checkout; `--keep DIR` keeps the trees
and recordings in DIR and reuses the recordings found there.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RECORD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
try:
    from app.demo import run_virtual
except ImportError:  # the reference's layout
    from actors.demo import run_virtual
from store import open_log
with open_log(sys.argv[2]) as log:
    started = time.perf_counter()
    sid, report = run_virtual(log, duration=float(sys.argv[3]))
    print(json.dumps({"sid": sid, "events": log.session(sid).events,
                      "requests": report.requests_total, "violations": report.violations,
                      "record_s": time.perf_counter() - started}))
"""

REPLAY = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from replay.runner import replay_session
from store import open_log
with open_log(sys.argv[2]) as log:
    for _ in range(int(sys.argv[4])):
        cpu, judged = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        r = replay_session(log, int(sys.argv[3]))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(json.dumps({"equal": r.equal, "compared": r.compared,
                          "simulated_s": r.simulated_s, "wall_s": wall, "cpu_s": cpu,
                          "run_s": r.wall_s,
                          "judge_cpu_s": after.ru_utime + after.ru_stime
                                         - judged.ru_utime - judged.ru_stime}), flush=True)
"""


def _tree(rev: str, into: Path) -> Path:
    if not (into / "replay").is_dir():
        into.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _record(tree: Path, db: Path, minutes: float) -> int:
    out = subprocess.run([sys.executable, "-c", RECORD, str(tree), str(db), str(minutes * 60)],
                         capture_output=True, text=True, check=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"recorded {minutes:.0f} min with {tree.name}: {info['events']} events, "
          f"{info['requests']} requests, {info['violations']} violations, "
          f"in {info['record_s']:.1f} s", flush=True)
    return info["sid"]


def _sid(tree: Path, db: Path) -> int:
    out = subprocess.run([sys.executable, "-c",
                          "import sys; sys.path.insert(0, sys.argv[1]); from store import open_log\n"
                          "with open_log(sys.argv[2]) as log: print(log.latest_session().id)",
                          str(tree), str(db)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


def _replays(tree: Path, db: Path, sid: int, n: int) -> list[dict]:
    out = subprocess.run([sys.executable, "-c", REPLAY, str(tree), str(db), str(sid), str(n)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"replay with {tree.name} failed:\n{out.stderr[-2000:]}")
    return [json.loads(line) for line in out.stdout.strip().splitlines() if line.startswith("{")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ref", default="1a4805e", help="the revision that set the figure")
    p.add_argument("--ref-figure", type=float, default=1030.0,
                   help="the reference's own figure in BENCHMARKS.md (x real time)")
    p.add_argument("--this", default=None, help="a revision to measure instead of the checkout")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--replays", type=int, default=3, help="replays per process (>= 2)")
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--keep", default=None, help="keep trees and recordings in this directory")
    args = p.parse_args()
    if args.replays < 2:
        p.error("--replays must be 2 or more (the first replay of a process, then warm ones)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        ref = _tree(args.ref, work / f"ref-{args.ref}")
        this = _tree(args.this, work / f"this-{args.this}") if args.this else ROOT
        label = {ref: f"reference {args.ref}", this: f"this {args.this or 'checkout'}"}
        dbs, sids = {}, {}
        for tree in (ref, this):
            name = f"ref-{args.ref}" if tree is ref else f"this-{args.this or 'checkout'}"
            db = dbs[tree] = work / f"hour-{name}.db"
            sids[tree] = _sid(tree, db) if db.exists() else _record(tree, db, args.minutes)
        # per tree: the speeds (x real time) of the first replay of each process, of the warm
        # ones, and of the warm ones by the reference's own measure (its actors' run alone)
        first: dict[Path, list[float]] = {ref: [], this: []}
        warm: dict[Path, list[float]] = {ref: [], this: []}
        run: dict[Path, list[float]] = {ref: [], this: []}
        rounds: list[tuple[float, ...]] = []  # this / reference per round, 4 ways
        for i in range(args.rounds):
            for tree in (ref, this):  # alternating: both see the same minutes of the machine
                runs = _replays(tree, dbs[tree], sids[tree], args.replays)
                if not all(r["equal"] for r in runs):
                    raise SystemExit(f"{label[tree]}: a replay diverged: {runs}")
                speeds = [r["simulated_s"] / r["wall_s"] for r in runs]
                first[tree].append(speeds[0])
                warm[tree].extend(speeds[1:])
                run[tree].extend(r["simulated_s"] / r["run_s"] for r in runs[1:])
                print(f"round {i + 1} {label[tree]}: {runs[0]['compared']} events, "
                      + ", ".join(f"{r['wall_s']:.2f} s = {x:.0f}x (the actors' run "
                                  f"{r['run_s']:.2f} s"
                                  + (f"; judge {r['judge_cpu_s']:.1f} s CPU" if
                                     r["judge_cpu_s"] > 0.05 else "") + ")"
                                  for r, x in zip(runs, speeds)), flush=True)
            n = args.replays - 1
            last = {tree: {k: statistics.median(v[tree][-n:]) for k, v in
                           (("warm", warm), ("run", run))} for tree in (ref, this)}
            rounds.append((first[this][-1] / first[ref][-1],
                           last[this]["warm"] / last[ref]["warm"],
                           last[this]["run"] / last[ref]["run"],
                           last[this]["warm"] / last[ref]["run"]))
            print(f"round {i + 1} this / reference: first {rounds[-1][0]:.2f}x, warm "
                  f"{rounds[-1][1]:.2f}x, the actors' run {rounds[-1][2]:.2f}x, the whole "
                  f"replay against the reference's run {rounds[-1][3]:.2f}x", flush=True)
    med = statistics.median
    spread = [f"per round {min(r[k] for r in rounds):.2f}x to {max(r[k] for r in rounds):.2f}x"
              for k in range(4)]
    for k, (name, speeds) in enumerate((("first replay of a process", first),
                                        ("warm replays", warm))):
        print(f"{name}, whole replay: {label[ref]} median {med(speeds[ref]):.0f}x, "
              f"{label[this]} median {med(speeds[this]):.0f}x; this / reference "
              f"{med(speeds[this]) / med(speeds[ref]):.2f}x ({spread[k]})")
    # The reference's figure timed its actors' run alone (`ReplayResult.wall_s`: reading the
    # log and comparing untimed); this checkout's run includes the judge's parts and the
    # schedule check, which happen as events are emitted.
    for k, (name, mine) in enumerate((("the actors' run (warm)", run[this]),
                                      ("the whole replay (warm)", warm[this])), start=2):
        ratio = med(mine) / med(run[ref])
        print(f"{name} against the reference's actors' run (warm; its figure's measure: "
              f"{med(run[ref]):.0f}x today): {ratio:.2f}x ({spread[k]}); in the reference's "
              f"terms {args.ref_figure:.0f}x * {ratio:.2f} = {args.ref_figure * ratio:.0f}x")


if __name__ == "__main__":
    main()
