"""Parameter sweeps: the grid of strategy settings spread over processes, each a plain loop.

Each worker opens the log itself and reads the sessions once for its share of the grid, so
nothing large crosses process boundaries except the results.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from decimal import Decimal

from backtest.choice import Calibration
from backtest.engine import StrategyResult, run_backtest
from backtest.side import RunSpec

_WORST = Decimal("-Infinity")
OBJECTIVES = ("pnl", "volume", "equity", "fills", "margin")


def _run_chunk(path: str, session_ids: tuple[int, ...], specs: list[RunSpec],
               calibration: Calibration | None = None,
               window: tuple[float, float] | None = None,
               market: tuple[str, str] | None = None) -> list[StrategyResult]:
    from backtest.source import open_source, tapes  # the store only where a worker reads it

    with open_source(path) as log:
        sessions = [log.session(i) for i in session_ids]
        return run_backtest(tapes(log, sessions, market), specs, calibration=calibration,
                            window=window)


def run_grid(path: str, session_ids: Sequence[int], specs: Sequence[RunSpec],
             workers: int | None = None,
             on_progress: Callable[[int], None] | None = None,
             calibration: Calibration | None = None,
             window: tuple[float, float] | None = None,
             market: tuple[str, str] | None = None) -> list[StrategyResult]:
    """Backtest every spec over the sessions, across `workers` processes (default: all cores).

    Args:
        path: the log file; each worker opens it read-only for its share of `specs`.
        session_ids: the sessions to replay, in order.
        specs: the grid.
        workers: processes to use; 1 runs in this process.
        on_progress: called with the number of specs done as each worker finishes.
        calibration: the fill model, fitted once for all (`backtest.engine.survey`).
        window: the part of the time line to run (`run_backtest`).
        market: (asset, fiat) to run on, of a multi-market recording (None: every book).

    Returns:
        The results in the order of `specs`.
    """
    workers = max(1, min(workers or os.cpu_count() or 1, len(specs)))
    chunks = [list(specs[i::workers]) for i in range(workers)]
    ids = tuple(session_ids)
    if workers == 1:
        parts = [_run_chunk(path, ids, chunks[0], calibration, window, market)]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_run_chunk, path, ids, chunk, calibration, window, market): i
                       for i, chunk in enumerate(chunks)}
            parts, done = [[] for _ in chunks], 0
            for future in as_completed(futures):
                parts[futures[future]] = future.result()
                done += len(parts[futures[future]])
                if on_progress is not None:
                    on_progress(done)
    results: list[StrategyResult | None] = [None] * len(specs)
    for i, part in enumerate(parts):
        for j, result in enumerate(part):
            results[i + j * workers] = result
    return results  # type: ignore[return-value]


def objective(r: StrategyResult, name: str) -> Decimal:
    """Return result `r`'s figure for objective `name` (one of OBJECTIVES; higher is better)."""
    s = r.summary
    value = {"pnl": s.pnl, "volume": s.filled_volume, "equity": s.equity, "fills": s.fills,
             "margin": s.margin}[name]
    return value if value is not None else _WORST


def ranked(results: Sequence[StrategyResult], by: str = "pnl") -> list[StrategyResult]:
    """Order results best first by the objective `by`, then by filled volume (stable)."""
    return sorted(results, key=lambda r: (objective(r, by), r.summary.filled_volume),
                  reverse=True)
