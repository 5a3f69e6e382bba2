"""Benchmark the event log: durable batched appends, then reading back and decoding.

    python bench/bench_log.py [--events 1000000] [--db PATH] [--batch 2000] [--runs 3]

Appends N events of a realistic mix through `EventLog.append` in batches (the call `LogWriter`
makes: one durable commit per batch), then reads the session back with `EventLog.events`, which
decodes every payload into its typed event. Prints the median of the runs. Without --db the file
lives in a temporary directory that is removed afterwards; with --db each run adds a session.
Each run also prints the rates in CPU time of this process, which other load on a shared machine
skews less than the wall-clock rates that the targets are set in.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from events import (  # noqa: E402
    AdRepriced,
    ApiRequest,
    ApiResponse,
    BookAd,
    BookSnapshot,
    ChatMessageReceived,
    ClockSynced,
    Envelope,
    LimiterBackoff,
    OrderStatusChanged,
    RepriceDecided,
)
from events import codec  # noqa: E402
from store import open_log  # noqa: E402

# Share of each kind in the stream: what a busy session logs per book poll, roughly.
WEIGHTS = {
    "snapshot": 6,
    "request": 16,
    "response": 6,
    "decided": 30,
    "repriced": 10,
    "order": 12,
    "chat": 10,
    "backoff": 5,
    "clock": 5,
}


def _price(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(45000, 47000)) / 100


def _book(rng: random.Random) -> BookSnapshot:
    ads = tuple(
        BookAd(
            adv_no=str(rng.randrange(10**18, 10**19)),
            price=_price(rng),
            surplus=Decimal(rng.randint(10**4, 10**8)) / 100,
            min_amount=Decimal(rng.choice([500, 1000, 5000])),
            max_amount=Decimal(rng.randint(10**5, 10**7)),
            pay_methods=("BANK", "KaspiBank")[: rng.randint(1, 2)],
            nickname=f"trader{rng.randint(1, 999)}",
            month_orders=rng.randint(0, 5000),
            finish_rate=Decimal(rng.randint(800, 1000)) / 1000,
        )
        for _ in range(10)
    )
    return BookSnapshot(asset="USDT", fiat="KZT", ad_side="SELL", pages=1, ads=ads)


def _event(kind: str, rng: random.Random):
    adv = str(rng.randrange(10**18, 10**19))
    rid = f"r{rng.randrange(10**6)}"
    if kind == "snapshot":
        return _book(rng)
    if kind == "request":
        body = ('{"asset":"USDT","fiat":"KZT","tradeType":"BUY","page":1,"rows":20,'
                '"payTypes":[],"publisherType":null}')
        return ApiRequest(request_id=rid, endpoint="EP-0", method="POST", base="bapi",
                          path="/bapi/c2c/v2/friendly/c2c/adv/search", body=body, signed=False,
                          purpose=adv)
    if kind == "response":
        body = rng.randbytes(700).hex().encode() + b"x" * rng.randint(500, 700)
        return ApiResponse(request_id=rid, endpoint="EP-0", status=200,
                           headers=(("x-sapi-used-ip-weight-1m", "12"),), body=body,
                           elapsed_ms=rng.randint(50, 400))
    if kind == "decided":
        old, new = _price(rng), _price(rng)
        return RepriceDecided(adv_no=adv, strategy="undercut", action="reprice", old_price=old,
                              new_price=new, rule="undercut",
                              reason=f"best competitor {adv[:6]} at {new}, one step 0.01 better",
                              competitor=adv, competitor_price=new)
    if kind == "repriced":
        return AdRepriced(adv_no=adv, old_price=_price(rng), new_price=_price(rng),
                          request_id=rid)
    if kind == "order":
        return OrderStatusChanged(order_no=str(rng.randrange(10**19, 10**20)), old_status=1,
                                  new_status=2)
    if kind == "chat":
        return ChatMessageReceived(message_id=rid, order_no=str(rng.randrange(10**19)),
                                   msg_type="text", content="Hello, I have paid, please check",
                                   create_time_ms=1_700_000_000_000 + rng.randrange(10**6))
    if kind == "backoff":
        return LimiterBackoff(reason="429", delay_s=rng.choice([1.0, 2.0, 4.0]))
    return ClockSynced(offset_ms=rng.randint(-500, 500), round_trip_ms=rng.randint(20, 200))


def make_pool(size: int, seed: int = 7) -> list:
    """Return `size` events drawn from the weighted mix (seeded, so every run logs the same)."""
    rng = random.Random(seed)
    kinds = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()), k=size)
    return [_event(k, rng) for k in kinds]


def run_once(path: Path, pool: list, n: int, batch: int) -> tuple[float, float, int, tuple]:
    """Append then read `n` events; return append and read seconds, events read, CPU seconds."""
    with open_log(path) as log:
        sid = log.start_session("sim", '{"bench": true}', 1_700_000_000_000)
        append_s = append_cpu = 0.0
        size = len(pool)
        for start in range(1, n + 1, batch):
            stop = min(start + batch, n + 1)
            envs = [
                Envelope(session=sid, seq=s, ts_ms=1_700_000_000_000 + s, t=s * 0.001,
                         source="market", cause=s - 1 if s % 3 else None, event=pool[s % size])
                for s in range(start, stop)
            ]
            t0, c0 = time.perf_counter(), time.process_time()
            log.append(envs)
            append_s += time.perf_counter() - t0
            append_cpu += time.process_time() - c0
        log.end_session(sid, 1_700_000_000_000 + n, "done")
    with open_log(path, create=False) as log:
        t0, c0 = time.perf_counter(), time.process_time()
        count = sum(1 for _ in log.events(sid))
        read_s = time.perf_counter() - t0
        read_cpu = time.process_time() - c0
    return append_s, read_s, count, (append_cpu, read_cpu)


def decode_alone(pool: list, rounds: int = 20) -> float:
    """Return events/s for decoding the pool's payloads with no SQLite involved."""
    payloads = [codec.encode(e) for e in pool]
    t0 = time.perf_counter()
    for _ in range(rounds):
        for p in payloads:
            codec.decode(p)
    return rounds * len(payloads) / (time.perf_counter() - t0)


def _file_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    pool = make_pool(5000)
    payload = statistics.fmean(len(codec.encode(e)) for e in pool)
    with tempfile.TemporaryDirectory() as tmp:
        results = []
        for i in range(args.runs):
            path = args.db or Path(tmp) / f"bench{i}.db"
            append_s, read_s, count, cpu = run_once(path, pool, args.events, args.batch)
            assert count == args.events, (count, args.events)
            results.append((args.events / append_s, args.events / read_s))
            size = _file_size(path)
            print(f"run {i + 1}: append {results[-1][0]:,.0f} events/s, "
                  f"read+decode {results[-1][1]:,.0f} events/s, file {size:,} bytes "
                  f"(CPU time: append {args.events / cpu[0]:,.0f}/s, "
                  f"read {args.events / cpu[1]:,.0f}/s)")
            if args.db is None:
                path.unlink()  # so the next run does not wait on this file's writeback
        print(f"events {args.events:,} in batches of {args.batch}, average payload "
              f"{payload:.0f} bytes (mix: {', '.join(f'{k} {v}%' for k, v in WEIGHTS.items())})")
        print(f"append (durable, one commit per batch): "
              f"{statistics.median(r[0] for r in results):,.0f} events/s median of {args.runs}")
        print(f"read + decode to typed events: "
              f"{statistics.median(r[1] for r in results):,.0f} events/s median of {args.runs}")
        print(f"decode alone (codec.decode, no SQLite, no Envelope): {decode_alone(pool):,.0f}"
              " events/s")
        per_event = size / (args.events * (args.runs if args.db else 1))
        print(f"file size: {size:,} bytes ({per_event:.0f} "
              f"bytes/event), sqlite {__import__('sqlite3').sqlite_version}, pid {os.getpid()}")


if __name__ == "__main__":
    main()
