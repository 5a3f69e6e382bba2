"""End to end: the real bot against the real simulator over loopback sockets (short runs)."""

import argparse
import os
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from app.demo import run_demo
from events import AdRepriced, ApiRequest, BookSnapshot, ChatMessageSent, OrderOpened
from replay.runner import replay_session
from sim import DEMO_API_KEY, DEMO_SECRET, SimConfig, SimExchange
from store import open_log

ROOT = Path(__file__).resolve().parents[1]


def now_ms() -> int:
    return time.time_ns() // 1_000_000
pytestmark = pytest.mark.e2e


def demo_args(db, duration=8.0, **kw):
    ns = argparse.Namespace(duration=duration, db=str(db), seed=7, strategy="undercut",
                            error_rate=0.0, quiet=True)
    for k, v in kw.items():
        setattr(ns, k, v)
    return ns


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One 10 s demo: a busy market so that orders and chat happen within the run."""
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    exchange = SimExchange(SimConfig(seed=11, order_rate_per_s=0.6), now_ms=now_ms)
    with open_log(db) as log:
        code = run_demo(log, demo_args(db, duration=10.0), now_ms=now_ms, exchange=exchange)
    return code, db, exchange.report()


def test_the_demo_trades_within_binance_limits_and_ends_with_a_summary(demo_run, capsys):
    code, db, report = demo_run
    assert code == 0
    assert report.violations == 0 and report.max_requests_1s <= 5
    assert report.soft_limit_hits == 0
    assert report.reprices_accepted >= 1
    with open_log(db) as log:
        events = [e.event for e in log.events(1)]
        info = log.session(1)
    assert info.mode == "demo" and info.ended_ms is not None
    repriced = [e for e in events if isinstance(e, AdRepriced)]
    assert len(repriced) == report.reprices_accepted
    assert sum(1 for e in events if isinstance(e, ApiRequest)) >= report.requests_total - 1


def test_the_demo_handles_orders_and_greets_in_the_chat(demo_run):
    _, db, report = demo_run
    with open_log(db) as log:
        events = [e.event for e in log.events(1)]
    opened = [e for e in events if isinstance(e, OrderOpened)]
    greetings = [e for e in events if isinstance(e, ChatMessageSent) and e.reason == "greeting"]
    assert sum(report.orders_opened.values()) >= 1 and opened
    assert {g.order_no for g in greetings} <= {o.order_no for o in opened}
    assert len(greetings) == len({g.order_no for g in greetings})
    assert report.chat_frames_from_bot >= len(greetings) >= 1


def test_a_session_recorded_from_the_simulator_replays_equal(demo_run):
    _, db, _ = demo_run
    with open_log(db) as log:
        result = replay_session(log, 1)
    assert result.equal, result.divergence.render() if result.divergence else result.unrecorded
    assert result.speed > 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sim_port():
    """`python run.py sim` in a subprocess, as a user would start it."""
    port = _free_port()
    sim = subprocess.Popen([sys.executable, "run.py", "sim", "--port", str(port), "--seed", "3"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield port
    finally:
        sim.terminate()
        sim.wait(timeout=10)


def _toml(tmp_path, port) -> Path:
    cfg = tmp_path / "bot.toml"
    cfg.write_text(f'[exchange]\nsapi_url = "http://127.0.0.1:{port}"\n'
                   f'bapi_url = "http://127.0.0.1:{port}"\n[market]\npages = 1\n')
    return cfg


def test_live_run_against_the_sim_subcommand_over_loopback(tmp_path, sim_port):
    env = {**os.environ, "BINANCE_API_KEY": DEMO_API_KEY, "BINANCE_API_SECRET": DEMO_SECRET}
    db = tmp_path / "live.db"
    out = subprocess.run([sys.executable, "run.py", "live", "--config", str(_toml(tmp_path, sim_port)),
                          "--db", str(db), "--duration", "4", "--quiet"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "session 1 (live) ended: duration" in out.stdout
    with open_log(db) as log:
        events = [e.event for e in log.events(1)]
    assert any(isinstance(e, AdRepriced) for e in events)
    assert DEMO_SECRET not in out.stdout + out.stderr


def test_record_needs_no_credentials_and_logs_both_sides_of_the_book(tmp_path, sim_port):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINANCE_")}
    db = tmp_path / "rec.db"
    out = subprocess.run([sys.executable, "run.py", "record", "--config",
                          str(_toml(tmp_path, sim_port)), "--db", str(db), "--duration", "3",
                          "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    with open_log(db) as log:
        assert log.session(1).mode == "record"
        snaps = [e.event for e in log.events(1, types=(BookSnapshot,))]
    assert {s.ad_side for s in snaps} == {"SELL", "BUY"} and all(s.ads for s in snaps)


def test_live_without_credentials_says_so_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINANCE_")}
    out = subprocess.run([sys.executable, "run.py", "live", "--db", str(tmp_path / "x.db")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "BINANCE_API_KEY" in out.stderr


def test_bare_run_py_is_the_demo_and_prints_the_next_commands(tmp_path):
    out = subprocess.run([sys.executable, "run.py", "--duration", "3", "--db",
                          str(tmp_path / "d.db"), "--quiet"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "reaction time" in out.stdout and "violations (429) 0" in out.stdout
    assert f"python run.py replay {tmp_path / 'd.db'} --session 1" in out.stdout
    assert "python run.py backtest" in out.stdout


def test_live_with_a_merchants_floor_above_its_ceiling_runs_and_keeps_each_side_bound(
        tmp_path, sim_port):
    from events import MyAdsLoaded

    env = {**os.environ, "BINANCE_API_KEY": DEMO_API_KEY, "BINANCE_API_SECRET": DEMO_SECRET}
    cfg = _toml(tmp_path, sim_port)
    cfg.write_text(cfg.read_text() + '[strategy]\nfloor = "1600.00"\nceiling = "1590.00"\n')
    db = tmp_path / "live.db"
    out = subprocess.run([sys.executable, "run.py", "live", "--config", str(cfg), "--db",
                          str(db), "--duration", "4", "--quiet"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "session 1 (live) ended: duration" in out.stdout
    with open_log(db) as log:
        events = [e.event for e in log.events(1)]
    sides = {ad.adv_no: ad.side for e in events if isinstance(e, MyAdsLoaded) for ad in e.ads}
    repriced = [e for e in events if isinstance(e, AdRepriced)]
    assert repriced
    for e in repriced:
        if sides[e.adv_no] == "SELL":
            assert e.new_price >= Decimal("1600.00")
        else:
            assert e.new_price <= Decimal("1590.00")
