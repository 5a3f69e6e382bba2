"""Reprice decision latency: a BookSnapshot logged -> the EP-7 ApiRequest it caused logged.

Runs the real bus, the real log writer (WAL, batched commits to a temporary file) and the real
ads actor on trio's real clock. A stand-in limiter answers EP-4 and EP-7 at once, so only the
bot's own path is measured: bus hop, log append, strategy decision, request build, bus hop.
Every snapshot moves the best competitor, so every snapshot must lead to one EP-7.

    python bench/bench_reprice.py [--snapshots 10000]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors import ads  # noqa: E402
from actors.bus import Bus  # noqa: E402
from actors.config import load_config  # noqa: E402
from events import ApiRequest, ApiResponse, AdRepriced, BookAd, BookSnapshot  # noqa: E402
from store import LogWriter, open_log  # noqa: E402
from run import wall_ms  # noqa: E402

MY_AD = (b'{"code":"000000","message":"success","data":[{"advNo":"111","advStatus":1,'
         b'"tradeType":"SELL","asset":"USDT","fiatUnit":"NGN","price":"1700.00",'
         b'"surplusAmount":"1000","minSingleTransAmount":"1000","maxSingleTransAmount":"900000",'
         b'"priceScale":2,"tradeMethods":[{"identifier":"BANK"}]}],"total":1,"success":true}')
OK = b'{"code":"000000","message":"success","data":true,"success":true}'


def snapshot(i: int) -> BookSnapshot:
    best = Decimal("1600.00") - Decimal(i % 500) / 100
    rivals = tuple(BookAd(adv_no=f"c{k}", price=best + Decimal(k) / 10, surplus=Decimal("500"),
                          min_amount=Decimal("1000"), max_amount=Decimal("500000"),
                          pay_methods=("BANK",), nickname=f"rival{k}", month_orders=100,
                          finish_rate=Decimal("0.98")) for k in range(19))
    return BookSnapshot(asset="USDT", fiat="NGN", ad_side="SELL", pages=1, ads=rivals)


async def limiter_stand_in(inbox, emit) -> None:
    async for env in inbox:
        req = env.event
        body = MY_AD if req.endpoint == "EP-4" else OK
        await emit(ApiResponse(request_id=req.request_id, endpoint=req.endpoint, status=200,
                               body=body), cause=env.seq)


async def run(n: int, db: Path) -> list[float]:
    cfg = load_config({"strategy": {"max_reprices_per_min": 10**9}})
    log = open_log(db)
    sid = log.start_session("live", "{}", wall_ms())
    writer = LogWriter(log)
    seen: dict[int, float] = {}
    latencies: list[float] = []
    emitted: list[float] = []
    done = trio.Event()

    def tap(env) -> None:
        nonlocal done
        now = time.perf_counter()
        if isinstance(env.event, BookSnapshot):
            seen[env.seq] = now
        elif isinstance(env.event, ApiRequest) and env.event.endpoint == "EP-7":
            start = seen.pop(env.cause)
            latencies.append((emitted.pop() - start, now - start))
        elif isinstance(env.event, AdRepriced):
            done.set()

    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        bus = Bus(writer, sid, lambda: wall_ms())
        bus.tap(tap)
        ads_inbox = bus.subscribe("ads", (BookSnapshot,))
        lim_inbox = bus.subscribe("limiter", (ApiRequest,))
        await nursery.start(bus.run)
        nursery.start_soon(limiter_stand_in, lim_inbox, bus.emitter("limiter"))
        ads_emit = bus.emitter("ads")

        async def timed_emit(event, cause=None):
            if isinstance(event, ApiRequest) and event.endpoint == "EP-7":
                emitted.append(time.perf_counter())
            await ads_emit(event, cause=cause)

        await nursery.start(functools.partial(ads.run, ads_inbox, timed_emit, config=cfg))
        feed = bus.emitter("market")
        await trio.sleep(0.05)  # EP-4 answered, my ad known
        for i in range(n):
            done = trio.Event()
            await feed(snapshot(i))
            await done.wait()
        nursery.cancel_scope.cancel()
    return latencies


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--snapshots", type=int, default=10_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lat = trio.run(run, args.snapshots, Path(tmp) / "bench.db")
    print(f"{len(lat)} snapshots -> {len(lat)} EP-7 requests")
    for i, what in enumerate(("snapshot logged -> EP-7 request emitted by the ads actor",
                              "snapshot logged -> EP-7 request durable in the log (write-ahead)")):
        us = sorted(x[i] * 1e6 for x in lat)
        p99 = us[int(len(us) * 0.99) - 1]
        print(f"{what}: p50 {statistics.median(us):.0f} us, p99 {p99:.0f} us, "
              f"max {us[-1]:.0f} us")


if __name__ == "__main__":
    main()
