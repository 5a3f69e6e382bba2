"""Backtest from a Parquet export against the same backtest from the log; a 200-point sweep on
a Dask LocalCluster against the same sweep in local processes.

    python bench/bench_parquet.py [--minutes 30] [--runs 3] [--points 200]

Records `--minutes` of the demo's bot against the in-process simulator (`app.demo.
run_virtual`), exports it with `run.py export`'s code, then times `backtest.engine.
run_backtest` of the undercut strategy over the session's snapshots read from each source
(reading and decoding included: the figure is snapshots/s end to end, median of `--runs`), and
runs a sweep of `--points` grid points (step x deadband_ticks) with `backtest.sweep.run_grid`
and with `backtest.cluster.run_grid_on_cluster(..., "local")`, comparing the results point by
point.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.demo import run_virtual  # noqa: E402
from backtest.cli import build_specs  # noqa: E402
from backtest.cluster import run_grid_on_cluster  # noqa: E402
from backtest.engine import run_backtest  # noqa: E402
from backtest.source import open_source, parse_sweeps, recorded_config, tapes  # noqa: E402
from backtest.sweep import run_grid  # noqa: E402
from store import open_log  # noqa: E402
from store.export import export  # noqa: E402


def timed_backtest(path: str, sid: int, specs) -> tuple[float, int]:
    with open_source(path) as src:
        session = src.session(sid)
        t0 = time.perf_counter()
        result = run_backtest(tapes(src, [session]), specs)
        return time.perf_counter() - t0, result[0].summary.snapshots


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--points", type=int, default=200)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db, out = Path(tmp) / "rec.db", Path(tmp) / "books"
        with open_log(db) as log:
            sid, _ = run_virtual(log, duration=args.minutes * 60)
            t0 = time.perf_counter()
            report = export(log, out, [sid])
            print(f"exported {args.minutes:g} virtual min in {time.perf_counter() - t0:.1f} s: "
                  f"{report.rows}")
            cfg, filters = recorded_config(log.session(sid))
        specs = build_specs(["undercut"], cfg, filters, {}, None)
        rates: dict[str, list[float]] = {"log": [], "parquet": []}
        for i in range(args.runs):
            for name, src in (("log", str(db)), ("parquet", str(out))):
                seconds, snaps = timed_backtest(src, sid, specs)
                rates[name].append(snaps / seconds)
            print(f"run {i + 1}: log {rates['log'][-1]:,.0f} snapshots/s, parquet "
                  f"{rates['parquet'][-1]:,.0f} snapshots/s ({snaps:,} snapshots)")
        log_rate, pq_rate = (statistics.median(rates[k]) for k in ("log", "parquet"))
        ratios = [b / a for a, b in zip(rates["log"], rates["parquet"])]
        print(f"backtest (undercut, read + decode + loop): log {log_rate:,.0f}/s, parquet "
              f"{pq_rate:,.0f}/s, parquet/log {statistics.median(ratios):.2f}x (median of "
              f"{args.runs})")
        steps = max(1, args.points // 4)
        grid = parse_sweeps([f"step=0.01:{steps / 100:.2f}:0.01", "deadband_ticks=0:3:1"])
        sweep = build_specs(["undercut"], cfg, filters, {}, grid)
        t0 = time.perf_counter()
        local = run_grid(str(out), [sid], sweep)
        local_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        remote = run_grid_on_cluster(str(out), [sid], sweep, "local")
        cluster_s = time.perf_counter() - t0
        same = [a.summary == b.summary for a, b in zip(local, remote)]
        print(f"sweep of {len(sweep)} points: local processes {local_s:.1f} s, Dask "
              f"LocalCluster {cluster_s:.1f} s (startup included); equal point for point: "
              f"{sum(same)}/{len(sweep)}")


if __name__ == "__main__":
    main()
