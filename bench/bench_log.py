"""Benchmark the event log on a real recording's events: appends, read + decode, bytes.

    python bench/bench_log.py [--minutes 20] [--runs 3] [--batch 2000] [--baseline DIR]

The events are a recording, not a synthetic mix: the demo's bot trades for `--minutes` of
virtual time against the in-process simulator at the 5 requests/s budget (`app.demo.
run_virtual`), whose EP-0 pages carry Binance's 2026 field set (sim/shapes.py, checked against
tests/samples/ and the reference samples: ~2 KB an ad, 20 ads a page), with the BookSnapshots,
decisions, orders and chat that such a session logs. Each run appends those envelopes to a
fresh log in batches (one durable commit each, as `LogWriter` does) and reads them back with
`EventLog.events` (bodies restored, blocks unpacked, typed events); then does the same in the
previous layout (layout 2: each body base64 inside its payload, no packing; the reader glued rows
the same way) as the counterfactual. Prints medians and the ratio of the two within one run.

Once, the recording is also appended at the live writer's pace (`LIVE_BATCH` events a commit)
in this layout and, with --baseline, by the other checkout's writer: CPU and bytes per event.

Each run also reads the same file five ways, taking turns, `--reads` times each (the best
counts), to price laziness (store/rows.py):
  eager        log.events(sid): every body decompressed, every snapshot's ads decoded;
  lazy         log.events(sid, lazy=True): typed events, bodies and ads left until touched;
  lazy+touch   lazy, then every body fetched (log.body_of) and every snapshot's prices summed;
  eager+touch  eager, then the same prices summed (the bodies are already there);
  books        log.events(sid, types=(BookSnapshot,)): what a backtest reads (snapshots/s);
  baseline     with --baseline DIR: eager, by the checkout at DIR (before), in a child process:
               its writer logs the same envelopes to a file of its own layout, its reader
               reads that file;
  baseline lazy, baseline books  the same, lazily, and the snapshots alone.
"""

from __future__ import annotations

import argparse
import collections
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.demo import run_virtual  # noqa: E402
from events import ApiResponse, BookSnapshot, Envelope, codec  # noqa: E402
from store import open_log  # noqa: E402
from tests.oldlayout import _DDL as LAYOUT2_DDL  # noqa: E402

CHUNK = 64


def record(path: Path, minutes: float) -> list[Envelope]:
    with open_log(path) as log:
        sid, _ = run_virtual(log, duration=minutes * 60)
        return list(log.events(sid))


def _renumber(envs: list[Envelope], sid: int) -> list[Envelope]:
    return [Envelope(session=sid, seq=e.seq, ts_ms=e.ts_ms, t=e.t, source=e.source,
                     cause=e.cause, event=e.event) for e in envs]


def this_layout(path: Path, envs: list[Envelope], batch: int) -> tuple[float, float, int]:
    with open_log(path) as log:
        sid = log.start_session("demo", "{}", 0)
        mine = _renumber(envs, sid)
        t0 = time.perf_counter()
        for i in range(0, len(mine), batch):
            log.append(mine[i:i + batch])
        append_s = time.perf_counter() - t0
    with open_log(path, create=False) as log:
        t0 = time.perf_counter()
        count = sum(1 for _ in log.events(sid))
        read_s = time.perf_counter() - t0
    assert count == len(envs)
    return append_s, read_s, _size(path)


def _touch(log, env: Envelope, bodies: bool) -> int:
    e = env.event
    if type(e) is BookSnapshot:
        return len(str(sum(ad.price for ad in e.ads)))
    if bodies and type(e) is ApiResponse:
        return len(log.body_of(env))
    return 0


WAYS = (("eager", False, "all"), ("lazy", True, "all"), ("lazy+touch", True, "touch"),
        ("eager+touch", False, "touch"), ("books", False, "books"))
BASELINE_WAYS = (("baseline", False, "all"), ("baseline lazy", True, "all"),
                 ("baseline books", False, "books"))
# Another checkout (--baseline DIR), in a child process: its writer logs the same envelopes
# (read from a JSON file) in its own layout, then its reader reads that file.
_BASELINE_WRITE = """
import sys
sys.path.insert(0, sys.argv[1])
import msgspec
from events import Envelope
from store import open_log
import time
envs = msgspec.json.decode(open(sys.argv[3], "rb").read(), type=list[Envelope])
batch = int(sys.argv[4])
with open_log(sys.argv[2]) as log:
    sid = log.start_session("demo", "{}", 0)
    envs = [msgspec.structs.replace(e, session=sid) for e in envs]
    c0 = time.process_time()
    for i in range(0, len(envs), batch):
        log.append(envs[i:i + batch])
    print(time.process_time() - c0)
    log.end_session(sid, 1)
"""
_BASELINE = """
import sys, time
sys.path.insert(0, sys.argv[1])
from store import open_log
with open_log(sys.argv[2], create=False) as log:
    sid = log.latest_session().id
    t0, c0 = time.perf_counter(), time.process_time()
    if sys.argv[4] == "books":
        from events import BookSnapshot
        n = sum(1 for _ in log.events(sid, types=(BookSnapshot,)))
    else:
        n = sum(1 for _ in log.events(sid, lazy=bool(int(sys.argv[3]))))
    print(time.perf_counter() - t0, time.process_time() - c0, n)
"""


def baseline_file(path: Path, envs_json: Path, baseline: str, batch: int) -> Path:
    """Log the envelopes in `envs_json` to `path` with the writer of the checkout `baseline`."""
    _baseline_append(path, envs_json, baseline, batch)
    return path


def _baseline_append(path: Path, envs_json: Path, baseline: str, batch: int) -> float:
    child = subprocess.run([sys.executable, "-c", _BASELINE_WRITE, baseline, str(path),
                            str(envs_json), str(batch)], cwd=baseline, check=True,
                           capture_output=True, text=True)
    return float(child.stdout.split()[-1])


LIVE_BATCH = 4  # ~19 events/s at the 5/s budget, a LogWriter commit every ~0.2 s


def live_pace(tmp: Path, envs: list[Envelope], envs_json: Path, baseline: str | None) -> str:
    """CPU per event and bytes per event when the recording is appended a few events a commit,
    as the live writer does, in this layout and (with --baseline) the other checkout's."""
    path = tmp / "live.db"
    with open_log(path) as log:
        sid = log.start_session("demo", "{}", 0)
        mine = _renumber(envs, sid)
        c0 = time.process_time()
        for i in range(0, len(mine), LIVE_BATCH):
            log.append(mine[i:i + LIVE_BATCH])
        cpu = time.process_time() - c0
        log.end_session(sid, 1)
    n = len(envs)
    line = (f"live pace (commits of {LIVE_BATCH}): this layout {cpu / n * 1e6:.1f} us CPU an "
            f"event, {_size(path) / n:,.0f} B/event")
    if baseline:
        other = tmp / "live-baseline.db"
        cpu_b = _baseline_append(other, envs_json, baseline, LIVE_BATCH)
        line += (f"; baseline {cpu_b / n * 1e6:.1f} us, {_size(other) / n:,.0f} B/event "
                 f"(x{cpu / cpu_b:.2f} CPU, x{_size(path) / _size(other):.2f} bytes)")
    return line


def _read(path: Path, baseline: tuple[str, Path] | None, lazy: bool, mode: str
          ) -> tuple[float, float, int]:
    if baseline is not None:
        checkout, path = baseline
        child = subprocess.run([sys.executable, "-c", _BASELINE, checkout, str(path),
                                str(int(lazy)), mode],
                               cwd=checkout, capture_output=True, text=True, check=True)
        wall, cpu, n = child.stdout.split()
        return float(wall), float(cpu), int(n)
    # A fresh handle each time: no body or decompressor cached by an earlier read.
    with open_log(path, create=False) as log:
        sid = log.latest_session().id
        t0, c0 = time.perf_counter(), time.process_time()
        if mode == "books":  # what a backtest reads
            n = sum(1 for _ in log.events(sid, types=(BookSnapshot,)))
        elif mode == "touch":
            n = sum(1 + 0 * _touch(log, env, lazy) for env in log.events(sid, lazy=lazy))
        else:
            n = sum(1 for _ in log.events(sid, lazy=lazy))
        return time.perf_counter() - t0, time.process_time() - c0, n


def read_ways(path: Path, run: int, baseline: tuple[str, Path] | None, reads: int
              ) -> dict[str, tuple[float, float]]:
    """The best (wall, CPU) seconds of `reads` reads of the file's one session each way (see
    the module's docstring); the ways take turns, starting at a different one each run, so
    that a burst of load on this shared machine hits one read, not one way."""
    ways = [(name, None, lazy, mode) for name, lazy, mode in WAYS]
    if baseline:
        ways += [(name, baseline, lazy, mode) for name, lazy, mode in BASELINE_WAYS]
    ways = ways[run % len(ways):] + ways[:run % len(ways)]
    with open_log(path, create=False) as log:
        sid = log.latest_session().id
        events = log.session(sid).events
        books = sum(1 for _ in log.events(sid, types=(BookSnapshot,), lazy=True))
    best: dict[str, tuple[float, float]] = {}
    for _ in range(reads):
        for name, base, lazy, mode in ways:
            wall, cpu, n = _read(path, base, lazy, mode)
            assert n == (books if mode == "books" else events)
            old = best.get(name, (float("inf"), float("inf")))
            best[name] = (min(old[0], wall), min(old[1], cpu))
    return {name: best[name] for name, *_ in WAYS + BASELINE_WAYS if name in best}


def layout2(path: Path, envs: list[Envelope], batch: int) -> tuple[float, float, int]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA page_size = 16384")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(LAYOUT2_DDL)
    mine = _renumber(envs, 1)
    t0 = time.perf_counter()
    for i in range(0, len(mine), batch):
        rows = [((1 << 40) | e.seq, type(e.event).__name__, *codec.split_envelope(e))
                for e in mine[i:i + batch]]
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO events (id, type, head, payload) VALUES (?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
    append_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    lo, count = 1 << 40, 0
    sql = ("SELECT CAST(group_concat(e, ',') AS BLOB), count(*), max(id) FROM (SELECT id, "
           f"head || payload || '}}' AS e FROM events WHERE id > ? ORDER BY id LIMIT {CHUNK})")
    while True:
        array, n, last = conn.execute(sql, (lo,)).fetchone()
        if not n:
            break
        count += len(codec.decode_envelopes(b"[" + array + b"]"))
        lo = last
    read_s = time.perf_counter() - t0
    conn.close()
    assert count == len(envs)
    return append_s, read_s, _size(path)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=20.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--reads", type=int, default=3, help="reads of each way per run (best)")
    p.add_argument("--baseline", metavar="DIR", default=None,
                   help="also read each file eagerly with the checkout at DIR (e.g. main)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        envs = record(Path(tmp) / "recording.db", args.minutes)
        n = len(envs)
        mix = collections.Counter(type(e.event).__name__ for e in envs)
        payload = statistics.fmean(len(codec.encode(e.event)) for e in envs)
        print(f"{n:,} events recorded in {args.minutes:g} virtual minutes; average payload "
              f"{payload:.0f} bytes as layout 2 stored it; mix: " + ", ".join(
                  f"{k} {100 * v / n:.0f}%" for k, v in mix.most_common(8)))
        envs_json = Path(tmp) / "envelopes.json"
        envs_json.write_bytes(msgspec.json.encode(envs))
        new, old, ways = [], [], []
        for i in range(args.runs):
            a = this_layout(Path(tmp) / f"new{i}.db", envs, args.batch)
            b = layout2(Path(tmp) / f"old{i}.db", envs, args.batch)
            base = None
            if args.baseline:
                base = (args.baseline, baseline_file(Path(tmp) / f"base{i}.db", envs_json,
                                                     args.baseline, args.batch))
            w = read_ways(Path(tmp) / f"new{i}.db", i, base, args.reads)
            if base:
                print(f"run {i + 1}: the baseline's file {_size(base[1]) / n:,.0f} B/event")
            new.append(a)
            old.append(b)
            ways.append(w)
            print(f"run {i + 1}: this layout append {n / a[0]:,.0f}/s read+decode "
                  f"{n / a[1]:,.0f}/s {a[2] / n:,.0f} B/event | layout 2 append "
                  f"{n / b[0]:,.0f}/s read+decode {n / b[1]:,.0f}/s {b[2] / n:,.0f} B/event | "
                  + ", ".join(f"{k} {n / v[0]:,.0f}/s" for k, v in w.items()
                              if not k.endswith("books")))
        for name, runs in (("this layout", new), ("layout 2", old)):
            print(f"{name}: append {n / statistics.median(r[0] for r in runs):,.0f} events/s, "
                  f"read+decode {n / statistics.median(r[1] for r in runs):,.0f} events/s, "
                  f"{statistics.median(r[2] for r in runs) / n:,.0f} bytes/event "
                  f"(median of {args.runs})")
        print(live_pace(Path(tmp), envs, envs_json, args.baseline))
        ratio = [b[1] / a[1] for a, b in zip(new, old)]
        size = [b[2] / a[2] for a, b in zip(new, old)]
        print(f"read+decode this/layout 2: {statistics.median(ratio):.2f}x; file layout 2/this: "
              f"{statistics.median(size):.1f}x")
        books = mix["BookSnapshot"]
        for k in ways[0]:
            count, unit = (books, "snapshots") if k.endswith("books") else (n, "events")
            wall = statistics.median(count / w[k][0] for w in ways)
            cpu = statistics.median(count / w[k][1] for w in ways)
            vs = statistics.median(w["eager"][0] / w[k][0] for w in ways)
            line = (f"{k}: {wall:,.0f} {unit}/s (CPU time: {cpu:,.0f}/s), median of "
                    f"{args.runs}" + (f"; x{vs:.2f} eager" if unit == "events" else ""))
            for b in ("baseline books",) if unit == "snapshots" else ("baseline",
                                                                       "baseline lazy"):
                if b in ways[0]:
                    line += (f", x{statistics.median(w[b][0] / w[k][0] for w in ways):.2f}"
                             f" {b} (CPU time: x"
                             f"{statistics.median(w[b][1] / w[k][1] for w in ways):.2f})")
            print(line)

if __name__ == "__main__":
    main()
