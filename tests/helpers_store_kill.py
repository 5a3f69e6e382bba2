"""Append to a log flat out until killed; print every seq that flush() acknowledged.

    python tests/helpers_store_kill.py PATH [BATCH]

Used by tests/test_store_durability.py, which SIGKILLs this process mid-run. The first line is
"session N"; every later line is the session's committed seq after a flush returned.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from events import AdRepriced, BookAd, BookSnapshot, ClockSynced, Envelope  # noqa: E402
from store import LogWriter, open_log  # noqa: E402


def event(seq: int):
    """Return a deterministic event for `seq`, some with Decimals, some plain."""
    if seq % 3 == 0:
        price = Decimal(seq) / 100
        ad = BookAd(adv_no=str(seq), price=price, surplus=Decimal("1.5"),
                    min_amount=Decimal("500"), max_amount=Decimal("90000"))
        return BookSnapshot(asset="USDT", fiat="KZT", ad_side="SELL", pages=1, ads=(ad,) * 3)
    if seq % 3 == 1:
        return AdRepriced(adv_no="A1", old_price=Decimal(seq) / 100, new_price=Decimal("461.49"))
    return ClockSynced(offset_ms=seq, round_trip_ms=7)


async def main(path: str, batch: int) -> None:
    log = open_log(path)
    sid = log.start_session("sim", '{"test": "sigkill"}', 0)
    print(f"session {sid}", flush=True)
    writer = LogWriter(log, max_batch=batch)
    seq = 0
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        while True:
            for _ in range(batch):
                seq += 1
                writer.append_nowait(Envelope(session=sid, seq=seq, ts_ms=seq, t=seq / 1000,
                                              source="market", cause=None, event=event(seq)))
            await writer.flush()
            print(writer.committed_seq(sid), flush=True)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200)
