"""The strict simulator, part 3: scripted answers (`SimExchange.inject`), public-host faults on
EP-0 only, the report's refusal counts and the command line that selects every behaviour."""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import trio

from c2c.credentials import Secret
from c2c.signing import signed_query
from sim import DEMO_API_KEY, DEMO_SECRET, Faults, SimConfig, SimExchange
from sim.answers import KINDS, SUCCESS_KINDS
from sim.cli import add_arguments, config_from_args
from sim.wire import Request

SAMPLES = Path(__file__).parent / "samples"
EP0 = "/bapi/c2c/v2/friendly/c2c/adv/search"
EP4 = "/sapi/v1/c2c/ads/listWithPagination"
EP7 = "/sapi/v1/c2c/ads/update"
HEADERS = {"x-mbx-apikey": DEMO_API_KEY, "clienttype": "web"}
BOOK = {"asset": "USDT", "fiat": "NGN", "tradeType": "BUY", "page": 1, "rows": 10}

# kind -> (HTTP status, JSON code or None for a body that is not a gateway error)
EXPECTED = {
    "500": (500, -1000), "502": (502, None), "504": (504, None), "429": (429, -1003),
    "403": (403, None), "418": (418, -1003), "451": (451, 0), "-1021": (400, -1021),
    "-1022": (400, -1022), "-1000-404": (404, -1000), "empty-200": (200, None),
    "187049": (400, -9000), "187049-bare": (400, 187049), "187022": (400, -9000),
    "187055": (400, -9000), "83229": (400, -9000), "83230": (400, 83230),
    "83628": (400, 83628), "83762": (400, 83762), "83723": (400, 83723),
    "500000001": (400, 500000001), "-9000-amount": (400, -9000), "401-1002": (401, -1002),
    "400-1102": (400, -1102), "400-2014": (400, -2014), "401-2015": (401, -2015),
    "-2008": (400, -2008), "ok-null": (200, "000000"), "ok-true": (200, "000000"),
    "ok-absent": (200, "000000"),
}


def make(**kw) -> SimExchange:
    return SimExchange(SimConfig(seed=7, **kw),
                       now_ms=lambda: 1_768_000_000_000 + int(trio.current_time() * 1000))


async def call(ex: SimExchange, path: str, body: object, *, signed: bool = True):
    await trio.sleep(0.25)
    query = signed_query([], ex.now_ms(), Secret(DEMO_SECRET)) if signed else ""
    return ex.handle(Request("POST", path, query, HEADERS, msgspec.json.encode(body)))


def sell(ex: SimExchange) -> str:
    return next(a.adv_no for a in ex.bot_ads if a.side == "SELL")


def test_every_kind_the_brief_names_is_in_the_catalogue():
    assert set(EXPECTED) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
async def test_inject_answers_the_next_call_with_the_named_shape_then_stops(autojump_clock, kind):
    ex = make()
    ex.inject("EP-7", kind)
    body = {"advNo": sell(ex), "price": 1590.5}
    scripted = await call(ex, EP7, body)
    price = ex.market.ads[sell(ex)].price
    after = await call(ex, EP7, {**body, "price": 1590.6})
    status, code = EXPECTED[kind]
    got = scripted.json() if scripted.body.startswith(b"{") else None
    assert scripted.status == status
    assert (got or {}).get("code") == code
    assert after.status == 200
    if kind in SUCCESS_KINDS:
        assert price == Decimal("1590.5")
        assert ("data" in got) == (kind != "ok-absent")


async def test_inject_reaches_calls_that_would_be_refused_and_counts_down(autojump_clock):
    ex = make()
    ex.inject("EP-13", "400-1102", count=2)
    unsigned = [await call(ex, "/sapi/v1/c2c/orderMatch/getUserOrderDetail", {}, signed=False)
                for _ in range(3)]
    assert [r.json()["code"] for r in unsigned] == [-1102, -1102, -1002]
    with pytest.raises(ValueError):
        ex.inject("EP-7", "no-such-kind")


async def test_inject_answer_serves_a_ready_answer_or_the_real_one_reshaped_in_line(
        autojump_clock):
    """A captured sample as it is; a good answer mangled on its way out keeps its effect."""
    from sim.wire import Response

    ex = make()
    sample = (SAMPLES / "sapi-ads-update_error-83628-too-many-attempts_http400.json").read_bytes()
    ex.inject_answer("EP-7", Response(400, sample))
    ex.inject_answer("EP-7", reshape=lambda good: Response(200, good.body[:7]))
    ex.inject("EP-7", "187022")
    body = {"advNo": sell(ex), "price": 1590.5}
    ready = await call(ex, EP7, body)
    assert (ready.status, ready.body) == (400, sample)
    assert ex.market.ads[sell(ex)].price != Decimal("1590.5")  # a refusal: nothing applied
    mangled = await call(ex, EP7, body)
    assert (mangled.status, mangled.body) == (200, b'{"code"')
    assert ex.market.ads[sell(ex)].price == Decimal("1590.5")  # the update happened
    assert (await call(ex, EP7, {**body, "price": 1590.6})).json()["code"] == -9000
    assert (await call(ex, EP7, {**body, "price": 1590.7})).status == 200
    with pytest.raises(ValueError):
        ex.inject_answer("EP-7")


async def test_a_dropped_answer_fails_the_connection_in_process(autojump_clock):
    import httpx

    from sim.answers import dropped
    from sim.inprocess import SimTransport

    ex = make()
    ex.inject_answer("TIME", dropped("refused"))
    ex.inject_answer("TIME", dropped("reset"))
    async with httpx.AsyncClient(transport=SimTransport(ex)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://sim/api/v3/time")
        with pytest.raises(httpx.ReadError):
            await client.get("http://sim/api/v3/time")
        assert (await client.get("http://sim/api/v3/time")).status_code == 200


async def test_push_frame_sends_a_frame_as_it_is_to_every_open_socket(autojump_clock):
    from sim.inprocess import chat_connector

    ex = make()
    cred = ex.issue_chat_credential("sim", trio.current_time())
    url = f"ws://sim/chat/{cred['listenKey']}?token={cred['listenToken']}"
    async with chat_connector(ex)(url) as one, chat_connector(ex)(url) as two:
        ex.push_frame('{"type":"text","content":"caf\u00e9"')  # truncated, as it is
        assert [await one.get_message(), await two.get_message()] == [
            '{"type":"text","content":"caf\u00e9"'] * 2


async def test_a_scripted_500_on_a_write_is_applied_first_about_half_the_time(autojump_clock):
    ex = make(ep7_burst_limit=0)
    applied = 0
    for i in range(40):
        ex.inject("EP-7", "500")
        price = Decimal(1580) + Decimal(i) / 10
        answer = await call(ex, EP7, {"advNo": sell(ex), "price": str(price)})
        assert answer.status == 500
        applied += ex.market.ads[sell(ex)].price == price
    assert 10 <= applied <= 30


async def test_public_error_rate_faults_ep0_alone_while_sapi_works(autojump_clock):
    ex = make(faults=Faults(public_error_rate=0.1, public_error_kinds=("429", "5xx")))
    book = [await call(ex, EP0, BOOK, signed=False) for _ in range(200)]
    sapi = [await call(ex, EP4, {"page": 1, "rows": 10}) for _ in range(50)]
    failed = [r.status for r in book if r.status != 200]
    assert 8 <= len(failed) <= 35 and set(failed) <= {429, 500, 502, 504} and 429 in failed
    assert {r.status for r in sapi} == {200}
    report = ex.report()
    assert report.violations == 0 and report.faults_injected == len(failed)


async def test_the_report_counts_refusals_by_endpoint_status_and_code(autojump_clock):
    ex = make()
    for _ in range(2):
        await call(ex, "/sapi/v1/c2c/orderMatch/getUserOrderDetail", {"adOrderNo": "1"},
                   signed=False)
    for i in range(6):
        await call(ex, EP7, {"advNo": sell(ex), "price": 1590 + i / 100})
    await call(ex, EP0, {**BOOK, "rows": 50}, signed=False)
    report = ex.report()
    assert report.refusals == {"EP-13 401 -1002": 2, "EP-7 400 83628": 1,
                               "EP-0 400 000002": 1}
    assert report.violations == 0
    text = report.render()
    assert "EP-13 401 -1002 x2" in text and "EP-7 400 83628 x1" in text


def test_every_behaviour_is_selectable_from_the_command_line():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cfg = config_from_args(parser.parse_args([
        "--unsigned-detail-answer", "400-1102", "--recv-window-refusal", "-1131",
        "--client-type-everywhere", "--weight-headers", "absent", "--ep7-success", "mix",
        "--ep7-burst-limit", "3", "--ep7-burst-window", "2", "--ep7-cooldown", "10",
        "--order-race-window", "1", "--offline-ad-update", "83229", "--rest-mode-answer",
        "83230", "--ep7-suspended", "60", "--user-share", "0.5", "--aggressive-user-share", "1",
        "--chat-read-copy-share", "0.5", "--chat-read-delay", "2", "3",
        "--chat-extra-copy-share", "0", "--chat-empty-nickname-share", "1",
        "--chat-nlp-share", "0", "--chat-auto-reply", "", "--history-from-nickname",
        "--keep-credential-on-close", "--ws-ping-interval", "5", "--ws-bad-frame-answer",
        "illegal_param", "--error-kinds", "83628,-9000-amount", "--public-error-rate", "0.1",
        "--public-error-kinds", "429,403,418,5xx", "--ws-close-every", "9",
        "--ws-close-kinds", "drop", "--ws-illegal-param-probability", "0.2",
    ]))
    assert (cfg.unsigned_detail_answer, cfg.recv_window_refusal) == ("400-1102", "-1131")
    assert cfg.client_type_everywhere and cfg.weight_headers == "absent"
    assert (cfg.ep7_success, cfg.ep7_burst_limit, cfg.ep7_burst_window_s) == ("mix", 3, 2.0)
    assert (cfg.ep7_cooldown_s, cfg.order_race_window_s, cfg.ep7_suspended_s) == (10, 1, 60)
    assert (cfg.offline_ad_update, cfg.rest_mode_answer) == ("83229", "83230")
    assert (cfg.user_share, cfg.aggressive_user_share) == (0.5, 1.0)
    assert (cfg.chat_read_copy_share, cfg.chat_read_delay_s) == (0.5, (2.0, 3.0))
    assert (cfg.chat_extra_copy_share, cfg.chat_empty_nickname_share) == (0.0, 1.0)
    assert (cfg.chat_nlp_share, cfg.chat_auto_reply, cfg.history_from_nickname) == (0, "", True)
    assert not cfg.revoke_credential_on_close and cfg.ws_ping_interval_s == 5
    assert cfg.ws_bad_frame_answer == "illegal_param"
    f = cfg.faults
    assert (f.error_kinds, f.public_error_rate) == (("83628", "-9000-amount"), 0.1)
    assert f.public_error_kinds == ("429", "403", "418", "5xx")
    assert (f.close_every_s, f.ws_close_kinds, f.ws_illegal_param_probability) == (
        9.0, ("drop",), 0.2)
    with pytest.raises(SystemExit):
        parser.parse_args(["--ws-close-kinds", "1001"])


def test_the_defaults_are_the_realistic_mix_of_ref_s11():
    cfg = SimConfig()
    assert (cfg.unsigned_detail_answer, cfg.ep7_success, cfg.weight_headers) == (
        "401-1002", "null", "present")
    assert (cfg.offline_ad_update, cfg.ep7_burst_limit, cfg.chat_read_copy_share) == (
        "187022", 5, 1.0)
    assert cfg.user_share > 0 and cfg.aggressive_user_share > 0
    f = cfg.faults
    assert (f.error_rate, f.public_error_rate, f.close_every_s) == (0, 0, 0)
    assert f.ws_illegal_param_probability == 0
    with pytest.raises(ValueError):
        SimConfig(ep7_success="maybe")
    with pytest.raises(ValueError):
        Faults(public_error_kinds=("500",))
