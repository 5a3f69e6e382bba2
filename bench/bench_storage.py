"""Bytes per market-day of a recording at the full request budget, this layout against layout 2.

    python bench/bench_storage.py [--minutes 30] [--db PATH]

The demo's bot trades for `--minutes` of virtual time against the in-process simulator
(`app.demo.run_virtual`: 5 requests/s, EP-0 pages of 20 ads with Binance's 2026 field set, ~2 KB
an ad), recording into a log of this layout. The same session is then written in layout 2
(bodies base64 inside the payloads, as before) as the counterfactual, and upgraded back with
`run.py upgrade`'s code to time it. Sizes are whole files (WAL checkpointed), extrapolated
linearly to 24 h; the first minutes weigh more than their share (dictionaries are trained after
32 samples of a kind), so a longer run extrapolates lower.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.demo import run_virtual  # noqa: E402
from store import open_log  # noqa: E402
from store.upgrade import upgrade  # noqa: E402
from tests.oldlayout import write_layout2  # noqa: E402

DAY_S = 86_400


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--db", type=Path, default=None, help="keep the recording in this file")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "rec.db"
        t0 = time.perf_counter()
        with open_log(db) as log:
            sid, report = run_virtual(log, duration=args.minutes * 60)
        record_s = time.perf_counter() - t0
        new = _size(db)
        conn = sqlite3.connect(db)
        events, answers = conn.execute("SELECT COUNT(*), COUNT(body) FROM events").fetchone()
        bodies, raw, stored = conn.execute(
            "SELECT COUNT(*), SUM(size), SUM(length(data)) FROM bodies").fetchone()
        rows = conn.execute("SELECT SUM(length(head) + length(payload)) FROM events").fetchone()[0]
        dicts = conn.execute("SELECT COUNT(*), SUM(length(data)) FROM dictionaries").fetchone()
        conn.close()
        old_path = Path(tmp) / "old.db"
        write_layout2(db, old_path)
        old = _size(old_path)
        t0 = time.perf_counter()
        upgrade(old_path)
        upgrade_s = time.perf_counter() - t0
        scale = DAY_S / (args.minutes * 60)
        print(f"recorded {args.minutes:g} virtual min in {record_s:.1f} s: {events:,} events, "
              f"{report.requests_total:,} requests ({report.requests_total / args.minutes / 60:.2f}"
              f"/s, max {report.max_requests_1s} in 1 s), {answers:,} answers, "
              f"{bodies:,} distinct bodies")
        print(f"bodies: {raw:,} raw bytes -> {stored:,} stored ({raw / stored:.0f}x); event rows "
              f"(head + payload) {rows:,} bytes; {dicts[0]} dictionaries, {dicts[1]:,} bytes")
        print(f"this layout: {new:,} bytes = {new * scale / 1e9:.3f} GB per market-day "
              f"({new / events:.0f} bytes/event)")
        print(f"layout 2 (counterfactual, same session): {old:,} bytes = "
              f"{old * scale / 1e9:.2f} GB per market-day ({old / events:.0f} bytes/event); "
              f"{old / new:.1f}x larger")
        print(f"upgrade of the layout-2 file: {upgrade_s:.1f} s "
              f"({events / upgrade_s:,.0f} events/s)")


if __name__ == "__main__":
    main()
