"""Reaction time when only the public host fails: EP-0 answered 429 a share of the time.

    .venv/bin/python bench/bench_public_faults.py [--minutes 10] [--seeds 1,2,3] [--rate 0.1]

Runs the demo's bot against the in-process simulator under MockClock (sim.inprocess: the same
exchange `python run.py` serves, reached through memory) with `public_error_rate` on EP-0 only,
twice per seed: as built (each host its own pause, backoff and breaker) and as the counterfactual
of the limiter before issue 11, where any pause stopped every call (all calls share one host's
state). The exchange measures the reaction time: from a competitor taking rank 1 from the bot's
ad to the bot's ad being rank 1 again. Figures are virtual seconds, so they do not depend on how
busy this machine is; the loopback run in BENCHMARKS.md checks them in real time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors import limiter_core  # noqa: E402
from app.demo import run_virtual  # noqa: E402
from sim import Faults, SimConfig  # noqa: E402
from sim.report import percentile  # noqa: E402
from store import open_log  # noqa: E402


def one_run(seed: int, minutes: float, rate: float, shared: bool):
    original = limiter_core.host_of
    if shared:  # the counterfactual: one pause, backoff and breaker for every call
        limiter_core.host_of = lambda state, req: state.hosts["sapi"]
    try:
        with tempfile.TemporaryDirectory() as tmp, open_log(Path(tmp) / "b.db") as log:
            sim = SimConfig(seed=seed, faults=Faults(public_error_rate=rate))
            _, report = run_virtual(log, duration=minutes * 60, seed=seed, sim_cfg=sim)
    finally:
        limiter_core.host_of = original
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--rate", type=float, default=0.1)
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"EP-0 answered 429 {args.rate:.0%} of the time; {args.minutes:g} virtual minutes "
          f"per run; seeds {seeds}")
    for label, shared in (("per-host pauses (built)", False),
                          ("one pause for all calls (before)", True)):
        every, p50s, p95s, violations, ep7 = [], [], [], 0, 0
        for seed in seeds:
            report = one_run(seed, args.minutes, args.rate, shared)
            reactions = [r for rs in report.reactions.values() for r in rs]
            every += reactions
            p50s.append(report.reaction_p50_s)
            p95s.append(report.reaction_p95_s)
            violations += report.violations
            ep7 += report.reprices_accepted
            print(f"  {label:<34} seed {seed}: n={len(reactions)} p50 {report.reaction_p50_s:.3f}s"
                  f" p95 {report.reaction_p95_s:.3f}s  429s on EP-0 "
                  f"{report.faults_injected}  reprices {report.reprices_accepted}  "
                  f"violations {report.violations}")
        print(f"{label:<36} all seeds: n={len(every)} p50 {percentile(every, 50):.3f}s "
              f"p95 {percentile(every, 95):.3f}s (median per-seed p95 "
              f"{statistics.median(p95s):.3f}s), violations {violations}, reprices {ep7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
