"""Soak: the live bot against the faulty simulator for minutes; limits, reactions and memory.

    python bench/soak.py [--minutes 10] [--seed 7] [--error-rate 0.1] [--latency-spike-ms 1500]
                         [--latency-spike-probability 0.05] [--drop-ws-every 60]
                         [--clock-skew-ms 70000] [--order-rate 0.3] [--sample-s 30] [--db PATH]
                         [--max-growth-mb 8]

The simulator runs in a child process, so its own growing history is not counted as the bot's;
the bot runs in this process exactly as `python run.py live --quiet` wires it (status view
included) over real loopback sockets. This process's resident memory (VmRSS) is sampled every
`--sample-s` seconds; "start" is the sample after the first minute (imports done, caches and
pools warm). Prints the simulator's report (requests, violations, reaction time), the bot's own
counts and the memory samples. Exit status 1 when a limit was broken, an actor failed, or memory
grew by more than --max-growth-mb from start to end.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import msgspec  # noqa: E402
import trio  # noqa: E402
import trio_websocket  # noqa: E402

from app.cli import summary_line  # noqa: E402
from actors.config import config_json  # noqa: E402
from app.demo import demo_config  # noqa: E402
from actors.restore import restore  # noqa: E402
from app.status import StatusView  # noqa: E402
from actors.system import LIVE_ACTORS, BotDeps, run_bot  # noqa: E402
from c2c.credentials import Credentials  # noqa: E402
from sim import (DEMO_API_KEY, DEMO_SECRET, Faults, SimConfig, SimExchange, SimReport,  # noqa: E402
                 serve_sim)
from store import open_log  # noqa: E402
from run import wall_ms  # noqa: E402


now_ms = wall_ms  # the one wall clock, chosen by run.py

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--error-rate", type=float, default=0.10)
    p.add_argument("--latency-spike-ms", type=int, default=1500)
    p.add_argument("--latency-spike-probability", type=float, default=0.05)
    p.add_argument("--drop-ws-every", type=float, default=60.0)
    p.add_argument("--clock-skew-ms", type=int, default=70_000)
    p.add_argument("--order-rate", type=float, default=0.3, help="orders/s per side of the book")
    p.add_argument("--sample-s", type=float, default=30.0)
    p.add_argument("--db", default=None, help="event log (default: a temporary file)")
    p.add_argument("--max-growth-mb", type=float, default=8.0)
    return p.parse_args(argv)


def sim_config(args) -> SimConfig:
    faults = Faults(error_rate=args.error_rate, latency_spike_ms=args.latency_spike_ms,
                    latency_spike_probability=args.latency_spike_probability,
                    drop_ws_every_s=args.drop_ws_every, clock_skew_ms=args.clock_skew_ms)
    # Deep ads: orders keep coming for the whole run instead of stopping once the ads sell out.
    return SimConfig(seed=args.seed, order_rate_per_s=args.order_rate, faults=faults,
                     bot_surplus=Decimal("1000000"), bot_max_amount=Decimal("300000"))


def _sim_process(args: argparse.Namespace, conn) -> None:
    """Child: serve the simulator; send its URL, then its report when the parent asks."""
    exchange = SimExchange(sim_config(args), now_ms=now_ms)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(serve_sim, exchange, "127.0.0.1", 0)
            conn.send(server.base_url)
            await trio.to_thread.run_sync(conn.recv)
            conn.send(msgspec.json.encode(exchange.report()))
            nursery.cancel_scope.cancel()

    trio.run(main)


def rss_kb() -> int:
    """This process's resident set size in kB, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _libc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: RSS keeps freed pages a little longer


class Samples:
    """Memory and progress every `every_s` seconds.

    Each row: (minute, RSS kB, RSS kB without SQLite's page cache, Python objects, Python
    memory blocks, events). The log's page cache (cache_size 64 MB) keeps the pages written
    recently, so it grows with the file until its cap; the second RSS is taken after
    `PRAGMA shrink_memory` and malloc_trim, which leaves what the bot itself holds.
    """

    def __init__(self, every_s: float, conn) -> None:
        self.every_s = every_s
        self.conn = conn
        self.rows: list[tuple] = []
        self.types: list[Counter] = []
        self.events = 0
        self.kinds: Counter = Counter()

    def tap(self, env) -> None:
        self.events += 1
        self.kinds[type(env.event).__name__] += 1

    def sample(self, minute: float) -> None:
        gc.collect()
        rss = rss_kb()
        self.conn.execute("PRAGMA shrink_memory")
        _libc_trim()
        objects = gc.get_objects()
        self.rows.append((round(minute, 2), rss, rss_kb(), len(objects), sys.getallocatedblocks(),
                          self.events))
        if minute >= 1.0 and len(self.types) < 1 or minute < 0:
            self.types.append(Counter(type(o).__name__ for o in objects))

    async def run(self, started: float) -> None:
        while True:
            self.sample((trio.current_time() - started) / 60)
            await trio.sleep(self.every_s)

    def growth_by_type(self) -> list[tuple[str, int]]:
        if len(self.types) < 2:
            return []
        grown = self.types[-1].copy()
        grown.subtract(self.types[0])
        return [(name, n) for name, n in grown.most_common(8) if n > 0]


async def soak(log, sid, base_url: str, args, view: StatusView, samples: Samples) -> str:
    cfg = demo_config(base_url, sim_config(args))
    restored = restore(log, before_session=sid)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(samples.run, trio.current_time())
        async with httpx.AsyncClient(timeout=10.0) as client:
            deps = BotDeps(config=cfg, client=client, connect=trio_websocket.open_websocket_url,
                           credentials=Credentials(DEMO_API_KEY, DEMO_SECRET), now_ms=now_ms,
                           seed=args.seed, restored=restored)
            reason = await run_bot(log, sid, deps, actors=LIVE_ACTORS, duration=args.minutes * 60,
                                   taps=(view.apply, samples.tap))
        samples.sample(-1.0)  # at the end: also counts objects by type
        samples.rows[-1] = (round(args.minutes, 2), *samples.rows[-1][1:])
        nursery.cancel_scope.cancel()
    return reason


def report(args, reason: str, sim: SimReport, view: StatusView, samples: Samples) -> int:
    rows = samples.rows
    start = next((r for r in rows if r[0] >= 1.0), rows[0])
    end = rows[-1]
    growth_mb = (end[2] - start[2]) / 1024
    failures = samples.kinds["ActorFailed"]
    print(f"soak: {args.minutes:g} min, seed {args.seed}, error rate {args.error_rate}, "
          f"latency spikes {args.latency_spike_ms} ms x {args.latency_spike_probability}, "
          f"chat dropped every {args.drop_ws_every:g} s, clock skew {args.clock_skew_ms} ms; "
          f"ended: {reason}")
    print(sim.render())
    print(f"bot: {summary_line(view)}; events logged {samples.events}")
    print(f"bot: reprices {samples.kinds['AdRepriced']}, clock syncs {samples.kinds['ClockSynced']}, "
          f"chat connects {samples.kinds['ChatConnected']}, breaker opened "
          f"{samples.kinds['BreakerOpened']}, backoffs {samples.kinds['LimiterBackoff']}, "
          f"decode failures {samples.kinds['DecodeFailed']}")
    print(f"  {'minute':>6} {'RSS MB':>7} {'w/o cache':>9} {'objects':>8} {'blocks':>8} "
          f"{'events':>7}")
    for minute, kb, bare, objects, blocks, events in rows:
        print(f"  {minute:6.2f} {kb / 1024:7.1f} {bare / 1024:9.1f} {objects:8d} {blocks:8d} "
              f"{events:7d}")
    print(f"memory: RSS {start[1] / 1024:.1f} MB at minute {start[0]:g} -> {end[1] / 1024:.1f} MB"
          f" at the end; without SQLite's page cache {start[2] / 1024:.1f} -> "
          f"{end[2] / 1024:.1f} MB ({growth_mb:+.1f} MB); Python objects {start[3]} -> {end[3]},"
          f" memory blocks {start[4]} -> {end[4]}")
    grown = ", ".join(f"{name} +{n}" for name, n in samples.growth_by_type()) or "none"
    print(f"objects that grew since minute {start[0]:g}: {grown}")
    ok = sim.violations == 0 and failures == 0 and growth_mb <= args.max_growth_mb
    print(f"verdict: {'OK' if ok else 'FAILED'} (violations {sim.violations}, "
          f"actor failures {failures}, growth {growth_mb:+.1f} MB <= {args.max_growth_mb} MB)")
    return 0 if ok else 1


def main(argv=None) -> int:
    args = parse_args(argv)
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.get_context("spawn").Process(target=_sim_process,
                                                        args=(args, child), daemon=True)
    proc.start()
    base_url = parent.recv()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "soak.db")
        with open_log(db) as log:
            # The bench reaches into the log's connection only to measure its page cache.
            view, samples = StatusView(), Samples(args.sample_s, log._conn)
            sid = log.start_session("live", config_json(demo_config(base_url, sim_config(args)),
                                                        actors=LIVE_ACTORS, seed=args.seed),
                                    now_ms())
            started = time.monotonic()
            reason = trio.run(soak, log, sid, base_url, args, view, samples)
            log.end_session(sid, now_ms(), reason)
        parent.send("report")
        sim = msgspec.json.decode(parent.recv(), type=SimReport)
        proc.join(10)
        print(f"wall time {time.monotonic() - started:.0f} s")
        return report(args, reason, sim, view, samples)


if __name__ == "__main__":
    sys.exit(main())
