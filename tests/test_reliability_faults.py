"""The live bot against a faulty simulator: 10% of answers fail (every kind of the reference's
error table that a run survives), latency spikes, the chat socket drops every few seconds and the
exchange's clock runs 70 s ahead. The bot must keep Binance's limits and keep trading."""

from __future__ import annotations

import pytest

from events import (ActorFailed, AdRepriced, ApiResponse, ChatConnected, ChatDisconnected,
                    ClockSynced, LimiterBackoff, RunStopped)
from sim import Faults, SimConfig
from tests.reliability_live import LiveRun, read_intact_log, write_bot_toml
from tests.reliability_sim import SimThread, repeated_acknowledged_prices

# Real processes, sockets or the real clock (see tests/conftest.py).
pytestmark = pytest.mark.e2e

SKEW_MS = 70_000
# 418 and 451 are left out: a ban pauses every call for minutes and 451 ends the run, by design
# (tests/test_limiter.py covers both).
FAULTS = Faults(error_rate=0.10, latency_ms=2, latency_spike_ms=1500,
                latency_spike_probability=0.05, drop_ws_every_s=6.0, clock_skew_ms=SKEW_MS)
SIGNED = ("EP-4", "EP-7", "EP-8", "EP-13", "EP-15", "EP-33", "EP-34")


def test_with_faults_latency_dropped_chat_and_a_70s_skew_the_bot_trades_within_limits(tmp_path):
    with SimThread(SimConfig(seed=13, order_rate_per_s=0.5, faults=FAULTS)) as sim:
        toml = write_bot_toml(tmp_path / "bot.toml", sim.base_url,
                              orders={"poll_interval_s": 2.0})
        run = LiveRun(tmp_path / "bot.db", toml, "--duration", "25")
        try:
            assert run.wait(60) == 0, run.stderr()
        finally:
            run.stop_now()
        report = sim.report()
    print(report.render())
    envelopes = read_intact_log(tmp_path / "bot.db")[1]
    events = [e.event for e in envelopes]

    assert report.violations == 0 and report.max_requests_1s <= 5
    assert report.faults_injected >= 3  # ~3.3 requests/s for 25 s: about 8 expected
    assert any(isinstance(e, LimiterBackoff) for e in events)

    synced = [i for i, e in enumerate(events) if isinstance(e, ClockSynced)]
    assert synced and all(abs(events[i].offset_ms - SKEW_MS) < 1000 for i in synced)
    signed_ok = [e for e in events[synced[0]:] if isinstance(e, ApiResponse)
                 and e.endpoint in SIGNED and e.status == 200]
    assert len(signed_ok) >= 10  # signed with the exchange's time: accepted

    assert sum(isinstance(e, ChatConnected) for e in events) >= 2
    assert any(isinstance(e, ChatDisconnected) for e in events)
    assert report.reprices_accepted >= 3
    assert sum(isinstance(e, AdRepriced) for e in events) >= 3
    assert repeated_acknowledged_prices(sim.ep7) == []
    assert [e for e in events if isinstance(e, ActorFailed)] == []
    assert isinstance(events[-1], RunStopped) and events[-1].reason == "duration"
