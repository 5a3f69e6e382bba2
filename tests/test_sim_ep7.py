"""The strict simulator, part 2: ads/update (EP-7) and updateStatus (EP-8) as reference §4 and §7
describe them, with the captured refusal bodies of tests/samples."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import trio

from c2c.credentials import Secret
from c2c.signing import signed_query
from sim import DEMO_API_KEY, DEMO_SECRET, SimConfig, SimExchange
from sim.wire import Request

SAMPLES = Path(__file__).parent / "samples"
BASE_MS = 1_768_000_000_000
EP4 = "/sapi/v1/c2c/ads/listWithPagination"
EP7 = "/sapi/v1/c2c/ads/update"
EP8 = "/sapi/v1/c2c/ads/updateStatus"
HEADERS = {"x-mbx-apikey": DEMO_API_KEY, "clienttype": "web"}


def make(**kw) -> SimExchange:
    return SimExchange(SimConfig(seed=7, **kw),
                       now_ms=lambda: BASE_MS + int(trio.current_time() * 1000))


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes().strip()


async def call(ex: SimExchange, path: str, body: object, gap: float = 0.25):
    await trio.sleep(gap)
    query = signed_query([], ex.now_ms(), Secret(DEMO_SECRET))
    return ex.handle(Request("POST", path, query, HEADERS, msgspec.json.encode(body)))


def ad(ex: SimExchange, side: str = "SELL"):
    return next(a for a in ex.market.bot_ads() if a.side == side)


async def my_ad(ex: SimExchange, adv_no: str) -> dict:
    await trio.sleep(0.25)
    return next(a for a in ex.handle(Request(
        "POST", EP4, signed_query([], ex.now_ms(), Secret(DEMO_SECRET)), HEADERS,
        b'{"page":1,"rows":10}')).json()["data"] if a["advNo"] == adv_no)


@pytest.mark.parametrize(("shape", "expected"), [
    ("null", b'{"code":"000000","message":"success","data":null,"success":true}'),
    ("true", b'{"code":"000000","message":"success","data":true,"success":true}'),
    ("absent", b'{"code":"000000","message":"success","success":true}'),
])
async def test_ep7_success_body_is_data_null_by_default_and_selectable_ref_s4_s10(
    autojump_clock, shape, expected,
):
    ex = make(ep7_success=shape)
    answer = await call(ex, EP7, {"advNo": ad(ex).adv_no, "price": 1590.01})
    assert (answer.status, answer.body) == (200, expected)
    assert make().cfg.ep7_success == "null"


async def test_ep7_success_shape_mix_draws_all_three_from_the_fault_rng_ref_s10(autojump_clock):
    ex = make(ep7_success="mix")
    bodies = set()
    for i in range(20):
        answer = await call(ex, EP7, {"advNo": ad(ex).adv_no, "price": 1590 + i / 100}, gap=1.1)
        bodies.add(answer.body)
    assert len(bodies) == 3


async def test_ep7_updates_only_the_fields_sent_and_takes_price_as_number_or_string_ref_s4(
    autojump_clock,
):
    ex = make()
    sell = ad(ex)
    before = await my_ad(ex, sell.adv_no)
    limits = await call(ex, EP7, {"advNo": sell.adv_no, "maxSingleTransAmount": 500000})
    after_limits = await my_ad(ex, sell.adv_no)
    as_number = await call(ex, EP7, {"advNo": sell.adv_no, "price": 1590.1})
    as_string = await call(ex, EP7, {"advNo": sell.adv_no, "price": "1590.05",
                                     "remarks": "fast release"})
    after = await my_ad(ex, sell.adv_no)
    assert (limits.status, as_number.status, as_string.status) == (200, 200, 200)
    assert after_limits["price"] == before["price"]
    assert after_limits["maxSingleTransAmount"] == "500000"
    assert after_limits["minSingleTransAmount"] == before["minSingleTransAmount"]
    assert (after["price"], after["remarks"]) == ("1590.05", "fast release")
    assert after["maxSingleTransAmount"] == "500000"
    finer = await call(ex, EP7, {"advNo": sell.adv_no, "price": 1590.001})
    assert finer.json() == {"code": -1102, "msg": "Mandatory parameter 'price' was not sent, "
                            "was empty/null, or malformed."}


async def test_ep7_sixth_update_of_an_ad_within_5s_gets_83628_and_the_ad_waits_30s_ref_s7(
    autojump_clock,
):
    ex = make()
    sell, buy = ad(ex, "SELL"), ad(ex, "BUY")
    answers = [await call(ex, EP7, {"advNo": sell.adv_no, "price": 1590 + i / 100}, gap=0.5)
               for i in range(6)]
    other = await call(ex, EP7, {"advNo": buy.adv_no, "price": 1560})
    await trio.sleep(29.25 - trio.current_time())
    still = await call(ex, EP7, {"advNo": sell.adv_no, "price": 1591}, gap=3.5)  # at 32.75 s
    again = await call(ex, EP7, {"advNo": sell.adv_no, "price": 1591}, gap=0.25)  # 33.0 s
    assert answers[-1] is not None and trio.current_time() == 33.0  # the 83628 came at 3.0 s
    assert [a.status for a in answers] == [200] * 5 + [400]
    refused = (400, sample("sapi-ads-update_error-83628-too-many-attempts_http400.json"))
    assert (answers[-1].status, answers[-1].body) == refused == (still.status, still.body)
    assert (other.status, again.status) == (200, 200)
    assert ex.report().refusals == {"EP-7 400 83628": 2}


async def test_ep7_just_after_an_order_on_the_ad_gets_minus_9000_187049_ref_s7(autojump_clock):
    ex = make()
    sell = ad(ex)
    ex.open_order(sell.adv_no)
    raced = await call(ex, EP7, {"advNo": sell.adv_no, "price": 1590}, gap=0.3)
    later = await call(ex, EP7, {"advNo": sell.adv_no, "price": 1590}, gap=0.3)
    assert (raced.status, raced.body) == (400, b'{"code":-9000,"msg":"187049"}')
    assert later.status == 200


@pytest.mark.parametrize(("choice", "expected"), [
    ("187022", b'{"code":-9000,"msg":"187022"}'), ("83229", b'{"code":-9000,"msg":"83229"}'),
])
async def test_ep7_on_a_wrong_adv_no_is_187022_and_on_an_offline_ad_selectable_ref_s10(
    autojump_clock, choice, expected,
):
    ex = make(offline_ad_update=choice)
    wrong = await call(ex, EP7, {"advNo": "13844792446345093120", "price": 1590})
    ex.set_ad_status(ad(ex).adv_no, 3)
    offline = await call(ex, EP7, {"advNo": ad(ex).adv_no, "price": 1590})
    assert (wrong.status, wrong.body) == (400, b'{"code":-9000,"msg":"187022"}')
    assert (offline.status, offline.body) == (400, expected)


@pytest.mark.parametrize(("choice", "code"), [("83229", -9000), ("83230", 83230)])
async def test_ep7_in_rest_mode_gets_83229_wrapped_or_83230_bare_ref_s7(
    autojump_clock, choice, code,
):
    ex = make(rest_mode_answer=choice)
    ex.set_rest(True)
    answer = (await call(ex, EP7, {"advNo": ad(ex).adv_no, "price": 1590})).json()
    assert answer["code"] == code and choice in (answer["msg"], str(answer["code"]))
    ex.set_rest(False)
    assert (await call(ex, EP7, {"advNo": ad(ex).adv_no, "price": 1590})).status == 200


async def test_ep7_with_less_than_10_left_gets_83762_as_captured_ref_s7(autojump_clock):
    ex = make()
    ex.market.ads[ad(ex).adv_no].surplus = Decimal("9.99")
    answer = await call(ex, EP7, {"advNo": ad(ex).adv_no, "price": 1590})
    assert (answer.status, answer.body) == (
        400, sample("sapi-ads-update_error-83762-remaining-balance_http400.json"))


async def test_ep7_during_a_suspension_gets_83723_with_its_end_in_utc_ref_s7(autojump_clock):
    ex = make(ep7_suspended_s=3600)
    answer = await call(ex, EP7, {"advNo": ad(ex).adv_no, "price": 1590})
    real = sample("sapi-ads-update_error-83723-update-rights-suspended_http400.json").decode()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d"
    assert answer.status == 400
    assert re.sub(stamp, "T", answer.body.decode()) == re.sub(stamp, "T", real)
    assert "Suspension in effect until 2026-01-10 00:06 (UTC+0)." in answer.json()["msg"]
    await trio.sleep(3600)
    assert (await call(ex, EP7, {"advNo": ad(ex).adv_no, "price": 1590})).status == 200


async def test_ep8_returns_fail_list_entries_while_success_is_true_ref_s4(autojump_clock):
    ex = make()
    answer = (await call(ex, EP8, {"advNos": [ad(ex).adv_no, "404"], "advStatus": 3})).json()
    assert answer["success"] is True and answer["data"]["status"] is False
    assert answer["data"]["failList"] == [{"advNo": "404", "errorCode": "187022",
                                           "errorMsg": "Ad does not exist."}]
    assert ad(ex).status == 3
