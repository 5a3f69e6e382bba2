"""Parameter sweeps on a Dask distributed cluster: the grid cut into chunks, each chunk a task
that opens the source itself (a Parquet export on storage the workers share, or a log file) and
runs the same plain loop as a local sweep, so the results are the same point for point.

    python run.py backtest DIR --sweep step=0.01:0.10:0.01 --cluster local
    python run.py backtest /shared/books --sweep ... --cluster tcp://scheduler:8786

`local` starts a LocalCluster of one single-threaded worker process per core on 127.0.0.1 and
stops it afterwards. Dask is an optional dependency (`pip install -e '.[cluster]'`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence

from backtest.engine import StrategyResult
from backtest.side import RunSpec
from backtest.sweep import _run_chunk

TASKS_PER_WORKER = 4  # chunks per worker: enough to balance uneven points, few enough reads
CONNECT_TIMEOUT_S = 10


class ClusterError(Exception):
    """The cluster cannot run the sweep; one line."""


def run_grid_on_cluster(path: str, session_ids: Sequence[int], specs: Sequence[RunSpec],
                        address: str, on_progress: Callable[[int], None] | None = None,
                        calibration=None, window: tuple[float, float] | None = None
                        ) -> list[StrategyResult]:
    """Backtest every spec over the sessions on the Dask cluster at `address` ("local": a
    LocalCluster here); return the results in the order of `specs`.

    Raises:
        ClusterError: dask is not installed, or the scheduler cannot be reached.
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ClusterError("--cluster needs Dask: pip install -e '.[cluster]'") from None
    path = os.path.abspath(path)
    cluster = None
    try:
        if address == "local":
            logging.getLogger("distributed").setLevel(logging.ERROR)
            cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1,
                                   processes=True, host="127.0.0.1", dashboard_address=None)
            address = cluster.scheduler_address
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        with client:
            return _run(client, as_completed, path, tuple(session_ids), list(specs), on_progress,
                        calibration, window)
    finally:
        if cluster is not None:
            cluster.close()


def _run(client, as_completed, path: str, ids: tuple[int, ...], specs: list[RunSpec],
         on_progress, calibration=None, window=None) -> list[StrategyResult]:
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    size = max(1, -(-len(specs) // (workers * TASKS_PER_WORKER)))
    starts = list(range(0, len(specs), size))
    futures = {client.submit(_run_chunk, path, ids, specs[s:s + size], calibration, window,
                             pure=False): s
               for s in starts}
    results: list[StrategyResult | None] = [None] * len(specs)
    done = 0
    for future in as_completed(futures):
        start = futures[future]
        part = future.result()
        results[start:start + len(part)] = part
        done += len(part)
        if on_progress is not None:
            on_progress(done)
    return results  # type: ignore[return-value]
