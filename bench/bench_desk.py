"""What the web page's tap and the notifier cost the bus, per event, on a realistic session.

Records a demo session on the in-process simulator under MockClock (the real bot, `--seconds` of
virtual trading), then folds its logged events, in order, through:
  - StatusView.apply (the terminal screen's tap: the counterfactual every live run already pays),
  - WebView.apply (the web page's tap),
  - the notifier's inbox step (alert_for + de-dup + offer to two outboxes),
and times one page snapshot (WebView.state() as JSON) at the end, when the charts' history is
full. Medians of `--repeats` passes.

With `--replay-minutes M` it also measures what the notifier costs replay: the same seeded
M-minute demo session is recorded twice, with the notifier among the actors and without it (the
counterfactual), and each is replayed `--runs` times, alternating; the medians are compared.

    python bench/bench_desk.py [--seconds 600] [--repeats 7] [--replay-minutes 60 --runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors import notify  # noqa: E402
from actors.config import AlertsConfig  # noqa: E402
from app.demo import run_virtual  # noqa: E402
from app.status import StatusView  # noqa: E402
from app.web import WebView  # noqa: E402
from store import open_log  # noqa: E402


class _Quiet:
    name, paced = "bench", True

    async def deliver(self, alert):
        return None


def record(seconds: float) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        with open_log(Path(tmp) / "bench.db") as log:
            sid, _ = run_virtual(log, duration=seconds, seed=7)
            return list(log.events(sid))


def per_event_us(fold, envelopes) -> float:
    started = time.perf_counter()
    for env in envelopes:
        fold(env)
    return (time.perf_counter() - started) / len(envelopes) * 1e6


async def measure(envelopes, repeats: int) -> dict:
    rows: dict[str, list[float]] = {"status": [], "web": [], "notify": [], "state_ms": []}
    size = 0
    for _ in range(repeats):
        rows["status"].append(per_event_us(StatusView().apply, envelopes))
        view = WebView()
        rows["web"].append(per_event_us(view.apply, envelopes))
        notifier = notify.Notifier(AlertsConfig(queue_size=10**6), (_Quiet(), _Quiet()),
                                   None, lambda: 0)
        rows["notify"].append(per_event_us(notifier.observe, envelopes))
        started = time.perf_counter()
        body = json.dumps(view.state())
        rows["state_ms"].append((time.perf_counter() - started) * 1e3)
        size = len(body)
    out = {k: statistics.median(v) for k, v in rows.items()}
    out["state_bytes"] = size
    return out


def replay_cost(minutes: float, runs: int) -> None:
    import app.demo
    from actors.system import LIVE_ACTORS
    from replay.runner import replay_session

    with tempfile.TemporaryDirectory() as tmp:
        logs = {}
        for name, actors in (("with notify", LIVE_ACTORS),
                             ("without", tuple(a for a in LIVE_ACTORS if a != "notify"))):
            app.demo.LIVE_ACTORS = actors  # what run_virtual runs and stores
            logs[name] = open_log(Path(tmp) / f"{name}.db")  # one log each: nothing restored
            run_virtual(logs[name], duration=minutes * 60, seed=7)
        app.demo.LIVE_ACTORS = LIVE_ACTORS
        speeds: dict[str, list[float]] = {k: [] for k in logs}
        for _ in range(runs):
            for name, log in logs.items():
                r = replay_session(log, 1)
                assert r.equal, name
                speeds[name].append(r.speed)
        for name, log in logs.items():
            print(f"replay {name:<11}: {log.session(1).events} events; "
                  + ", ".join(f"{v:.0f}x" for v in speeds[name])
                  + f"; median {statistics.median(speeds[name]):.0f}x real time")
            log.close()
        ratio = statistics.median(speeds["with notify"]) / statistics.median(speeds["without"])
        print(f"with the notifier / without: {ratio:.3f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=600.0)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--replay-minutes", type=float, default=0.0)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    if args.replay_minutes:
        replay_cost(args.replay_minutes, args.runs)
    envelopes = record(args.seconds)
    r = trio.run(measure, envelopes, args.repeats)
    print(f"{len(envelopes)} events from {args.seconds:g} s of demo trading; medians of "
          f"{args.repeats} passes, per event:")
    print(f"  StatusView.apply (terminal tap, counterfactual) {r['status']:.2f} us")
    print(f"  WebView.apply (web page tap)                    {r['web']:.2f} us "
          f"({r['web'] / r['status']:.2f}x the terminal's)")
    print(f"  notifier inbox step, two channels               {r['notify']:.2f} us "
          f"({r['notify'] / r['status']:.2f}x the terminal's)")
    print(f"one page snapshot as JSON: {r['state_ms']:.2f} ms, {r['state_bytes']} bytes")


if __name__ == "__main__":
    main()
