"""`run.py export` to Parquet, read back by DuckDB; the backtester on the export equals the
backtester on the log, locally and on a Dask LocalCluster; damaged exports give one line."""

from __future__ import annotations

import argparse
import shutil

import pytest

from app.demo import run_virtual
from app.export import add_arguments as export_arguments, main as export_main
from backtest import cli as backtest
from events import AdRepriced, BookSnapshot, OrderOpened, RepriceDecided
from store import open_log

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Two virtual minutes of the demo's bot against the in-process simulator."""
    path = tmp_path_factory.mktemp("rec") / "bot.db"
    with open_log(path) as log:
        run_virtual(log, duration=120)
    return path


@pytest.fixture(scope="module")
def exported(recorded, tmp_path_factory):
    out = tmp_path_factory.mktemp("pq") / "books"
    assert _export(recorded, "--to", out) == 0
    return out


def _export(*argv):
    p = argparse.ArgumentParser()
    export_arguments(p)
    return export_main(p.parse_args([str(a) for a in argv]))


def _backtest(*argv):
    p = argparse.ArgumentParser()
    backtest.add_arguments(p)
    return backtest.main(p.parse_args([str(a) for a in argv]), now_ms=lambda: 123_456)


def _events(path, *types):
    with open_log(path, create=False) as log:
        return [e for e in log.events(1, types=types)]


def test_duckdb_reads_one_row_per_ad_per_snapshot_partitioned_by_asset_fiat_date(recorded,
                                                                                  exported):
    snaps = _events(recorded, BookSnapshot)
    db = duckdb.connect()
    books = db.execute(f"SELECT * FROM read_parquet('{exported}/books/**/*.parquet', "
                       "hive_partitioning=true) ORDER BY seq, rank")
    rows = books.fetchall()
    cols = [d[0] for d in books.description]
    assert {"asset", "fiat", "date", "side", "rank", "price", "surplus", "min_amount",
            "max_amount", "pay_methods", "nickname", "month_orders", "finish_rate", "mine",
            "user_type", "ts_ms"} <= set(cols)
    assert len(rows) == sum(max(1, len(e.event.ads)) for e in snaps)
    first = dict(zip(cols, rows[0]))
    ad = snaps[0].event.ads[0]
    assert (first["asset"], first["fiat"], str(first["date"])) == ("USDT", "NGN", "2026-01-01")
    assert (first["seq"], first["rank"], first["adv_no"]) == (snaps[0].seq, 1, ad.adv_no)
    assert first["price"] == str(ad.price) and first["pay_methods"] == list(ad.pay_methods)

    def count(table):
        return db.execute(f"SELECT count(*) FROM read_parquet('{exported}/{table}/**/*.parquet',"
                          " hive_partitioning=true)").fetchone()[0]

    assert count("decisions") == len(_events(recorded, RepriceDecided))
    assert count("reprices") == len(_events(recorded, AdRepriced)) > 0
    assert count("orders") >= len(_events(recorded, OrderOpened)) > 0
    reasons = db.execute(f"SELECT DISTINCT rule FROM read_parquet('{exported}/decisions/**/"
                         "*.parquet')").fetchall()
    assert ("undercut",) in reasons


def test_a_backtest_of_the_export_equals_the_backtest_of_the_log(recorded, exported, capsys):
    assert _backtest(recorded, "--strategy", "undercut,rank") == 0
    from_log = capsys.readouterr().out.splitlines()
    assert _backtest(exported, "--strategy", "undercut,rank") == 0
    from_parquet = capsys.readouterr().out.splitlines()
    assert from_parquet[:-1] == from_log[:-1]  # the table; the last line says where it went
    assert from_parquet[-1].startswith("not saved:")


@pytest.mark.e2e  # a LocalCluster starts worker processes
def test_a_sweep_on_a_local_dask_cluster_equals_the_local_sweep(exported, capsys):
    pytest.importorskip("distributed")
    grid = ("--strategy", "undercut", "--sweep", "step=0.01:0.05:0.01",
            "--sweep", "deadband_ticks=0:1:1")
    assert _backtest(exported, *grid, "--workers", "1") == 0
    local = capsys.readouterr().out.splitlines()
    assert _backtest(exported, *grid, "--cluster", "local") == 0
    on_cluster = capsys.readouterr().out.splitlines()
    assert len(local) > 10 and on_cluster == local


def test_a_truncated_or_foreign_export_is_one_line_and_nothing_is_lost(exported, tmp_path,
                                                                        capsys):
    damaged = tmp_path / "damaged"
    shutil.copytree(exported, damaged)
    part = next((damaged / "snapshots").rglob("*.parquet"))
    part.write_bytes(part.read_bytes()[:200])
    assert _backtest(damaged, "--strategy", "undercut") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{part} is not a readable Parquet file" in err[0]

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("hello")
    assert _backtest(foreign, "--strategy", "undercut") == 2
    assert capsys.readouterr().err.strip() == (
        f"backtest: {foreign} is not a Parquet export of this bot (no sessions.parquet; make "
        "one with run.py export)")
    shutil.copy(part, foreign / "sessions.parquet")  # a Parquet file, but not our index
    assert _backtest(foreign, "--strategy", "undercut") == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1

    before = sorted(p.relative_to(exported) for p in exported.rglob("*.parquet"))
    assert _export(tmp_path / "missing.db", "--to", exported) == 2  # no such log
    assert capsys.readouterr().err.startswith("export: ")
    assert sorted(p.relative_to(exported) for p in exported.rglob("*.parquet")) == before
