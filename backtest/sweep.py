"""Parameter sweeps: the grid of strategy settings spread over processes, each a plain loop.

Each worker opens the log itself and reads the sessions once for its share of the grid, so
nothing large crosses process boundaries except the results.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from decimal import Decimal

from backtest.engine import StrategyResult, run_backtest
from backtest.side import RunSpec

_WORST = Decimal("-Infinity")


def _run_chunk(path: str, session_ids: tuple[int, ...], specs: list[RunSpec]
               ) -> list[StrategyResult]:
    from backtest.source import open_source, tapes  # the store only where a worker reads it

    with open_source(path) as log:
        sessions = [log.session(i) for i in session_ids]
        return run_backtest(tapes(log, sessions), specs)


def run_grid(path: str, session_ids: Sequence[int], specs: Sequence[RunSpec],
             workers: int | None = None,
             on_progress: Callable[[int], None] | None = None) -> list[StrategyResult]:
    """Backtest every spec over the sessions, across `workers` processes (default: all cores).

    Args:
        path: the log file; each worker opens it read-only for its share of `specs`.
        session_ids: the sessions to replay, in order.
        specs: the grid.
        workers: processes to use; 1 runs in this process.
        on_progress: called with the number of specs done as each worker finishes.

    Returns:
        The results in the order of `specs`.
    """
    workers = max(1, min(workers or os.cpu_count() or 1, len(specs)))
    chunks = [list(specs[i::workers]) for i in range(workers)]
    ids = tuple(session_ids)
    if workers == 1:
        parts = [_run_chunk(path, ids, chunks[0])]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_run_chunk, path, ids, chunk): i
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


def ranked(results: Sequence[StrategyResult]) -> list[StrategyResult]:
    """Order results best first: by filled volume, then by margin (unknown margin last)."""
    def key(r: StrategyResult) -> tuple[Decimal, Decimal]:
        s = r.summary
        return s.filled_volume, s.margin if s.margin is not None else _WORST

    return sorted(results, key=key, reverse=True)
