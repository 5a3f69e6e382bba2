"""Alerts: Telegram and a JSON webhook, faked on httpx's MockTransport; rate limited, de-duplicated,
never in trading's way, every delivery an event, and a replay that sends nothing."""

import json
import random
from decimal import Decimal

import httpx
import msgspec
import pytest
import trio

from actors import notify, notify_channels
from actors.config import AlertsConfig, BotConfig, config_json, load_config
from actors.system import LIVE_ACTORS, BotDeps, run_bot
from app.demo import VIRTUAL_BASE_MS, VIRTUAL_URL
from c2c.credentials import Credentials, Secret
from events import (AdPaused, AdRepriced, AlertFailed, AlertSent, BreakerOpened, Envelope, Event,
                    OrderOpened, OrderStatusChanged, RunStopped)
from replay.runner import replay_session
from sim import DEMO_API_KEY, DEMO_SECRET, SimConfig, SimExchange
from sim.inprocess import SimTransport, chat_connector
from store import open_log
from tests.simbot import bot_config

TOKEN = "123456:AAH-fake-bot-token"
CHAT = "-1001234"
WEBHOOK = "http://127.0.0.1:9/hooks/s3cret-path"
T0_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC


class FakeAlerts:
    """Telegram's Bot API and a webhook receiver in one MockTransport handler."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode  # "ok", "slow", "500", "429", "hang", "echo_url"
        self.telegram: list[dict] = []
        self.webhook: list[dict] = []
        self.paths: list[str] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        body = json.loads(request.content)
        if self.mode == "hang":
            await trio.sleep_forever()
        if self.mode == "slow":
            await trio.sleep(2.0)
        if self.mode == "500":
            return httpx.Response(500, text="oops")
        if self.mode == "echo_url":
            return httpx.Response(404, json={"ok": False, "error_code": 404,
                                             "description": f"Not Found: {request.url}"})
        if request.url.path.endswith("/sendMessage"):
            if self.mode == "429":
                return httpx.Response(429, json={"ok": False, "error_code": 429,
                                                 "description": "Too Many Requests: retry after 7",
                                                 "parameters": {"retry_after": 7}})
            self.telegram.append(body)
            return httpx.Response(200, json={"ok": True, "result": {"message_id": 1}})
        self.webhook.append(body)
        return httpx.Response(204)


def channels(client, cfg=AlertsConfig(), *, webhook=True):
    env = {"BOT_TELEGRAM_TOKEN": TOKEN, "BOT_TELEGRAM_CHAT_ID": CHAT}
    if webhook:
        env["BOT_ALERT_WEBHOOK_URL"] = WEBHOOK
    return notify_channels.channels_from_env(cfg, client, env, lambda: T0_MS)


def env_of(event, seq=1, t=0.0) -> Envelope:
    return Envelope(session=1, seq=seq, ts_ms=T0_MS, t=t, source="x", cause=None, event=event)


def opened(no="9001") -> OrderOpened:
    return OrderOpened(order_no=no, adv_no="111", side="SELL", asset="USDT", fiat="NGN",
                       amount=Decimal("10.5"), price=Decimal("1600.10"),
                       total_price=Decimal("16801.05"), status=1, counterparty="Ada")


class Notifier:
    """The notify actor on its own, fed through a bounded inbox like the bus's."""

    def __init__(self, nursery, chans, cfg=AlertsConfig(), now_ms=lambda: T0_MS) -> None:
        self.send, inbox = trio.open_memory_channel(1024)
        self.emitted: list[tuple[object, int | None]] = []
        self.nursery = nursery
        self.args = (inbox, chans, cfg, now_ms)

    async def emit(self, event, cause=None):
        self.emitted.append((event, cause))

    async def start(self):
        inbox, chans, cfg, now_ms = self.args
        await self.nursery.start(lambda task_status: notify.run(
            inbox, self.emit, config=cfg, channels=chans, now_ms=now_ms, task_status=task_status))
        return self

    def events(self, cls):
        return [e for e, _ in self.emitted if isinstance(e, cls)]


# --- what is said ---------------------------------------------------------------------------


def test_each_event_kind_gets_its_alert_text():
    cases = [
        (opened(), "order_opened", "New order 9001 with Ada: I sell 10.5 USDT at 1600.10 NGN = "
                                   "16801.05 NGN (ad 111)"),
        (OrderStatusChanged(order_no="9001", old_status=1, new_status=2), "order_paid",
         "Order 9001 marked paid by the buyer"),
        (OrderStatusChanged(order_no="9001", old_status=2, new_status=6), "order_cancelled",
         "Order 9001 was cancelled"),
        (AdPaused(adv_no="111", code=187022, reason="ad offline"), "ad_paused",
         "Ad 111 paused: ad offline (code 187022)"),
        (BreakerOpened(failures=15, open_s=45.0, host="sapi"), "breaker_opened",
         "Circuit breaker open on sapi after 15 failures: no calls for 45 s"),
        (RunStopped(reason="fatal", message="fatal: restricted location"), "run_stopped",
         "Bot stopped: fatal: restricted location"),
    ]
    for event, kind, text in cases:
        alert = notify.alert_for(env_of(event, seq=42))
        assert (alert.kind, alert.text, alert.cause) == (kind, text, 42)
    assert notify.alert_for(env_of(OrderStatusChanged(order_no="1", old_status=2,
                                                      new_status=4))) is None


class PriceWarDetected(Event, frozen=True, kw_only=True):
    adv_no: str
    competitor: str
    undercuts: int


def test_a_price_war_event_is_alerted_by_its_type_name_once_it_exists():
    """The price-war guard adds its event type later; the notifier's row is keyed on the name."""
    alert = notify.alert_for(env_of(PriceWarDetected(adv_no="111", competitor="777", undercuts=4)))
    assert alert.kind == "price_war" and alert.key == "price_war:111"
    assert alert.text == "Price war detected: adv_no=111, competitor=777, undercuts=4"


# --- delivering -------------------------------------------------------------------------------


async def test_telegram_and_webhook_each_get_the_alert_and_each_delivery_is_an_event(nursery):
    fake = FakeAlerts()
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        n = await Notifier(nursery, channels(client)).start()
        await n.send.send(env_of(opened(), seq=7))
        await trio.testing.wait_all_tasks_blocked()
    assert fake.telegram == [{"chat_id": CHAT, "disable_web_page_preview": True,
                              "text": notify.alert_for(env_of(opened())).text}]
    assert sorted(fake.paths) == [f"/bot{TOKEN}/sendMessage", "/hooks/s3cret-path"]
    assert fake.webhook == [{"kind": "order_opened", "key": "order_opened:9001",
                             "text": fake.telegram[0]["text"], "ts_ms": T0_MS}]
    assert sorted((e.channel, e.status, c) for e, c in n.emitted) == [
        ("telegram", 200, 7), ("webhook", 204, 7)]


async def test_the_same_key_alerts_once_within_dedup_s(nursery, autojump_clock):
    fake = FakeAlerts()
    cfg = AlertsConfig(dedup_s=600.0)
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        n = await Notifier(nursery, channels(client, cfg, webhook=False), cfg).start()
        paused = AdPaused(adv_no="111", code=83229, reason="suspended")
        for seq, t in ((1, 0.0), (2, 30.0), (3, 599.0), (4, 600.0)):
            await n.send.send(env_of(paused, seq=seq, t=t))
        await trio.sleep(1)
    assert [c for e, c in n.emitted] == [1, 4]
    assert len(fake.telegram) == 2


async def test_pacing_holds_the_21st_alert_until_a_minute_after_the_first(nursery, autojump_clock):
    seen = []

    async def handle(request):
        seen.append(trio.current_time())
        return httpx.Response(200, json={"ok": True})

    cfg = AlertsConfig(max_per_minute=20)
    t0 = trio.current_time()
    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        n = await Notifier(nursery, channels(client, cfg, webhook=False), cfg).start()
        for i in range(25):
            await n.send.send(env_of(opened(str(i)), seq=i + 1))
        await trio.sleep(120)
    assert [round(t - t0, 3) for t in seen] == [0.0] * 20 + [60.0] * 5


async def test_a_hanging_channel_never_holds_the_inbox_and_drops_are_counted(nursery,
                                                                            autojump_clock):
    fake = FakeAlerts("hang")
    cfg = AlertsConfig(queue_size=5, timeout_s=10.0)
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        chans = channels(client, cfg, webhook=False)
        inbox_send, inbox = trio.open_memory_channel(1024)
        emitted = []

        async def emit(event, cause=None):
            emitted.append(event)

        notifier = notify.Notifier(cfg, chans, emit, lambda: T0_MS)
        await nursery.start(notifier.run, inbox)
        start = trio.current_time()
        for i in range(200):
            inbox_send.send_nowait(env_of(opened(str(i)), seq=i + 1))  # as the bus does
        await trio.testing.wait_all_tasks_blocked()
        # The whole inbox was read at once, with no virtual time passing.
        assert inbox.statistics().current_buffer_used == 0
        assert trio.current_time() == start
        box = notifier.outboxes[0]
        assert box.stats["dropped"] == 200 - 5 - 1  # 5 queued, 1 in flight
        # Each drop is an event, caused by the event whose alert it was (replay answers it).
        assert [e.error for e in emitted] == ["dropped: the channel's queue is full"] * 194
        assert sorted(e.key for e in emitted) == sorted(f"order_opened:{i}" for i in range(6, 200))
        emitted.clear()
        await trio.sleep(10.5)
    assert [(e.kind, e.error) for e in emitted] == [("order_opened", "timed out after 10 s")]


async def test_telegram_errors_never_carry_the_token(nursery):
    fake = FakeAlerts("echo_url")
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        n = await Notifier(nursery, channels(client)).start()
        await n.send.send(env_of(opened(), seq=3))
        await trio.testing.wait_all_tasks_blocked()
    failed = n.events(AlertFailed)
    assert {(f.channel, f.status) for f in failed} == {("telegram", 404), ("webhook", 404)}
    tg = next(f for f in failed if f.channel == "telegram")
    assert "bot***/sendMessage" in tg.error and TOKEN not in tg.error
    for f in failed:
        assert TOKEN not in msgspec.json.encode(f).decode()
        assert "s3cret" not in msgspec.json.encode(f).decode()
    assert TOKEN not in repr(channels(None)) and "s3cret" not in repr(channels(None))


async def test_telegram_429_pauses_the_channel_for_retry_after(nursery, autojump_clock):
    fake = FakeAlerts("429")
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        n = await Notifier(nursery, channels(client, webhook=False)).start()
        t0 = trio.current_time()
        await n.send.send(env_of(opened("1"), seq=1))
        await n.send.send(env_of(opened("2"), seq=2))
        await trio.testing.wait_all_tasks_blocked()
        assert len(fake.paths) == 1
        await trio.sleep(7.0)
        await trio.testing.wait_all_tasks_blocked()
        assert len(fake.paths) == 2 and trio.current_time() - t0 == pytest.approx(7.0)
    assert n.events(AlertFailed)[0].status == 429


def test_half_set_telegram_environment_is_refused_in_one_line():
    with pytest.raises(notify_channels.NotifyConfigError, match="both BOT_TELEGRAM_TOKEN"):
        notify_channels.channels_from_env(AlertsConfig(), None, {"BOT_TELEGRAM_TOKEN": TOKEN}, lambda: 0)
    assert notify_channels.channels_from_env(AlertsConfig(), None, {}, lambda: 0) == ()


def test_alerts_config_rejects_unknown_kinds_and_bad_times():
    from actors.config import ConfigError

    with pytest.raises(ConfigError, match="alerts.kinds: unknown kind 'orders'"):
        load_config({"alerts": {"kinds": ["orders"]}})
    with pytest.raises(ConfigError, match="alerts.daily_summary_utc must be HH:MM"):
        load_config({"alerts": {"daily_summary_utc": "8pm"}})


async def test_a_daily_summary_is_sent_at_the_configured_utc_time(nursery, autojump_clock):
    fake = FakeAlerts()
    base = T0_MS + 19 * 3_600_000 + 59 * 60_000  # 19:59 UTC
    t0 = trio.current_time()
    now_ms = lambda: base + int((trio.current_time() - t0) * 1000)  # noqa: E731
    cfg = AlertsConfig(daily_summary_utc="20:00")
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        n = await Notifier(nursery, channels(client, cfg, webhook=False), cfg, now_ms).start()
        await n.send.send(env_of(opened("1"), seq=1))
        await n.send.send(env_of(OrderStatusChanged(order_no="1", old_status=1, new_status=4),
                                 seq=2))
        await n.send.send(env_of(AdRepriced(adv_no="111", old_price=Decimal("1"),
                                            new_price=Decimal("2")), seq=3))
        await trio.sleep(59.0)
        assert len(fake.telegram) == 1  # the order only
        await trio.sleep(1.5)
    assert fake.telegram[-1]["text"] == (
        "Daily summary 2026-01-01 (UTC): 1 new orders, 1 completed (SELL USDT 10.5), "
        "0 cancelled, 1 reprices, 0 ad pauses, breaker opened 0 times")


async def test_the_stop_alert_is_sent_after_the_actors_stop(autojump_clock):
    fake = FakeAlerts()
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        sent = []

        async def emit(event, cause=None):
            sent.append(event)

        await notify.alert_stop(channels(client), AlertsConfig(),
                                RunStopped(reason="fatal", message="fatal: restricted location"),
                                emit)
    assert fake.telegram[0]["text"] == "Bot stopped: fatal: restricted location"
    assert [(e.channel, e.kind) for e in sent] == [("telegram", "run_stopped"),
                                                   ("webhook", "run_stopped")]


# --- the whole bot: alerts from a trading session, then its replay -----------------------------


def _virtual_ms() -> int:
    return VIRTUAL_BASE_MS + int(trio.current_time() * 1000)


def trade_with_alerts(tmp_path, fake: FakeAlerts, duration: float = 240.0, **alerts) -> tuple:
    """Run the bot on the in-process simulator with both alert channels; return (db, run)."""
    sim_cfg = SimConfig(seed=11)
    cfg = bot_config(sim_cfg, alerts=alerts) if alerts else bot_config(sim_cfg)
    log = open_log(tmp_path / "alerts.db")
    sid = log.start_session("live", config_json(cfg, actors=LIVE_ACTORS, seed=3), VIRTUAL_BASE_MS)
    seen: list[Envelope] = []

    async def main():
        exchange = SimExchange(sim_cfg, now_ms=_virtual_ms)
        async with trio.open_nursery() as nursery:
            await nursery.start(exchange.run_market)
            async with httpx.AsyncClient(transport=SimTransport(exchange, rng=random.Random(1))) \
                    as client, httpx.AsyncClient(transport=fake.transport()) as alert_client:
                deps = BotDeps(config=cfg, client=client, connect=chat_connector(exchange),
                               credentials=Credentials(DEMO_API_KEY, DEMO_SECRET),
                               now_ms=_virtual_ms, seed=3,
                               alert_channels=channels(alert_client, cfg.alerts))
                reason = await run_bot(log, sid, deps, duration=duration, taps=(seen.append,))
            nursery.cancel_scope.cancel()
        return reason

    reason = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    log.end_session(sid, VIRTUAL_BASE_MS + int(duration * 1000), reason)
    log.close()
    return tmp_path / "alerts.db", seen


def test_a_trading_session_alerts_its_orders_and_its_stop_and_replays_without_sending(
        tmp_path, monkeypatch):
    fake = FakeAlerts()
    db, seen = trade_with_alerts(tmp_path, fake)
    opened_orders = [e.event.order_no for e in seen if isinstance(e.event, OrderOpened)]
    assert opened_orders, "the simulator opened no order in 240 s"
    texts = [m["text"] for m in fake.telegram]
    assert [t for t in texts if t.startswith("New order")] == [
        f for f in (notify.alert_for(e).text for e in seen if isinstance(e.event, OrderOpened))]
    with open_log(db) as log:
        logged = [env.event for env in log.events(1)]
    delivered = [e for e in logged if isinstance(e, AlertSent)]
    assert {e.channel for e in delivered} == {"telegram", "webhook"}
    assert delivered[-1].kind == "run_stopped" and isinstance(logged[-3], RunStopped)
    assert TOKEN not in db.read_bytes().decode("latin-1")
    assert "s3cret" not in db.read_bytes().decode("latin-1")

    async def never(*args, **kwargs):
        raise AssertionError("replay sent an alert")

    monkeypatch.setattr(httpx.AsyncClient, "send", never)
    with open_log(db) as log:
        result = replay_session(log, 1, keep=True)
    assert result.equal, result.divergence.render() if result.divergence else result.unrecorded
    replayed = [e.event for e in result.produced_events if isinstance(e.event, AlertSent)]
    assert sorted((e.channel, e.key) for e in replayed if e.kind != "run_stopped") == sorted(
        (e.channel, e.key) for e in delivered if e.kind != "run_stopped")


def test_failing_and_hanging_channels_leave_trading_as_it_was(tmp_path):
    """The same seeded session with working channels, failing ones and hanging ones reprices and
    handles orders the same: alerts are never in the way of trading."""
    outcomes = {}
    for mode in ("ok", "500", "hang"):
        path = tmp_path / mode
        path.mkdir()
        _, seen = trade_with_alerts(path, FakeAlerts(mode), duration=120.0, timeout_s=30.0)
        trading = [(type(e.event).__name__, getattr(e.event, "adv_no", None)) for e in seen
                   if isinstance(e.event, (AdRepriced, OrderOpened))]
        outcomes[mode] = (trading, [e.event for e in seen
                                    if isinstance(e.event, (AlertSent, AlertFailed))])
    assert outcomes["ok"][0] and outcomes["500"][0] == outcomes["ok"][0]
    assert outcomes["hang"][0] == outcomes["ok"][0]
    assert all(isinstance(e, AlertSent) for e in outcomes["ok"][1])
    assert outcomes["500"][1] and all(e.status == 500 for e in outcomes["500"][1])
    assert all(e.error == "timed out after 30 s" for e in outcomes["hang"][1])


def test_alerts_are_off_until_the_environment_names_a_channel():
    cfg = BotConfig()
    assert cfg.alerts.enabled
    assert notify_channels.channels_from_env(cfg.alerts, None, {}, lambda: 0) == ()


async def test_an_alert_whose_text_cannot_be_made_costs_only_itself(nursery):
    fake = FakeAlerts()
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        n = await Notifier(nursery, channels(client, webhook=False)).start()
        await n.send.send(env_of(PriceWarDetected(adv_no="1", competitor="2", undercuts=3)))
        await trio.testing.wait_all_tasks_blocked()
        notify.ALERTS["PriceWarDetected"], saved = (lambda e: 1 / 0), notify.ALERTS[
            "PriceWarDetected"]
        try:
            await n.send.send(env_of(PriceWarDetected(adv_no="1", competitor="2", undercuts=3)))
            await n.send.send(env_of(opened("5"), seq=5))
            await trio.testing.wait_all_tasks_blocked()
        finally:
            notify.ALERTS["PriceWarDetected"] = saved
    assert [m["text"][:9] for m in fake.telegram] == ["Price war", "New order"]


def test_a_session_whose_channels_hung_and_dropped_alerts_replays_equal(tmp_path):
    db, seen = trade_with_alerts(tmp_path, FakeAlerts("hang"), duration=120.0, queue_size=1,
                                 timeout_s=30.0)
    errors = {e.event.error for e in seen if isinstance(e.event, AlertFailed)}
    assert errors == {"timed out after 30 s", "dropped: the channel's queue is full"}
    with open_log(db) as log:
        result = replay_session(log, 1)
    assert result.equal, result.divergence.render() if result.divergence else result.unrecorded


def test_a_slow_last_alert_does_not_stretch_the_session_replay_re_runs(tmp_path):
    """The stop alert is logged after RunStopped, 2 s later here; replay still ends where the
    actors stopped, so it does not trade 2 s longer than the recording did."""
    db, _ = trade_with_alerts(tmp_path, FakeAlerts("slow"), duration=120.0)
    with open_log(db) as log:
        logged = list(log.events(1))
        stop_t = next(e.t for e in logged if isinstance(e.event, RunStopped))
        last = logged[-1]
        assert isinstance(last.event, AlertSent) and last.t >= stop_t + 2.0
        result = replay_session(log, 1)
    assert result.equal, result.divergence.render() if result.divergence else result.unrecorded


def test_a_fatal_stop_is_alerted_with_its_one_line_reason(tmp_path):
    """Binance answers 451 from a restricted location (reference §7): the run stops, and the
    merchant is told why through every channel."""
    from tests.harness import API_KEY, SECRET, SimBinance

    fake, alerts = SimBinance(), FakeAlerts()
    fake.my_ad("111", "SELL", "1600.50")
    fake.push("EP-4", "451")  # the simulator's catalogue: the captured text
    log = open_log(tmp_path / "fatal.db")
    sid = log.start_session("live", config_json(BotConfig(), actors=LIVE_ACTORS, seed=1), 0)

    async def main():
        async with httpx.AsyncClient(transport=fake.transport()) as client, \
                httpx.AsyncClient(transport=alerts.transport()) as alert_client:
            deps = BotDeps(config=BotConfig(), client=client, connect=None,
                           credentials=Credentials(API_KEY, SECRET), now_ms=fake.now_ms, seed=1,
                           alert_channels=channels(alert_client))
            return await run_bot(log, sid, deps, duration=60.0)

    reason = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    log.close()
    assert reason.startswith("fatal: ")
    assert [m["text"] for m in alerts.telegram] == [f"Bot stopped: {reason}"]
    assert [m["kind"] for m in alerts.webhook] == ["run_stopped"]
