"""The strict simulator, part 1: signing, EP-0 and the weight headers, against the reference
(/work/shared/reference/binance-c2c-api.md, "ref §n") and the captured samples (tests/samples).
Every test drives `SimExchange.handle` directly under trio's MockClock."""

from __future__ import annotations

import statistics
from pathlib import Path

import msgspec
import pytest
import trio

from c2c.credentials import Secret
from c2c.signing import sign, signed_query
from sim import DEMO_API_KEY, DEMO_SECRET, SimConfig, SimExchange
from sim.wire import Request

SAMPLES = Path(__file__).parent / "samples"
BASE_MS = 1_768_000_000_000
EP0 = "/bapi/c2c/v2/friendly/c2c/adv/search"
EP4 = "/sapi/v1/c2c/ads/listWithPagination"
EP13 = "/sapi/v1/c2c/orderMatch/getUserOrderDetail"
EP33 = "/sapi/v1/c2c/chat/retrieveChatCredential"
EP34 = "/sapi/v1/c2c/chat/retrieveChatMessagesWithPagination"
HEADERS = {"x-mbx-apikey": DEMO_API_KEY, "clienttype": "web", "host": "127.0.0.1:9"}
PAGE = {"page": 1, "rows": 10}


def make(**kw) -> SimExchange:
    return SimExchange(SimConfig(seed=7, **kw),
                       now_ms=lambda: BASE_MS + int(trio.current_time() * 1000))


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes().strip()


def hand_signed(query: str) -> str:
    """`query` with the signature of exactly that text appended, as Binance would check it."""
    return f"{query}&signature={sign(Secret(DEMO_SECRET), query)}"


async def raw(ex: SimExchange, path: str, query: str, body: object = None, *,
              method: str = "POST", headers: dict | None = None):
    await trio.sleep(0.25)  # stay under 5 requests per second
    data = b"" if body is None else msgspec.json.encode(body)
    return ex.handle(Request(method, path, query, HEADERS if headers is None else headers, data))


async def signed(ex: SimExchange, path: str, body: object = None, *, method: str = "POST",
                 params: tuple = (), skew_ms: int = 0, headers: dict | None = None):
    await trio.sleep(0.25)
    query = signed_query(list(params), ex.now_ms() + skew_ms, Secret(DEMO_SECRET))
    data = b"" if body is None else msgspec.json.encode(body)
    return ex.handle(Request(method, path, query, HEADERS if headers is None else headers, data))


async def search(ex: SimExchange, trade_type: str = "BUY", **extra):
    body = {"asset": "USDT", "fiat": "NGN", "tradeType": trade_type, "page": 1, "rows": 10,
            "payTypes": [], "publisherType": None, **extra}
    return await raw(ex, EP0, "", body, headers={})


def body_of(resp) -> tuple[int, bytes]:
    return resp.status, resp.body


# --- signing (ref §2, §11) -------------------------------------------------------------------

async def test_unsigned_ep13_is_refused_401_minus_1002_as_captured_ref_s2(autojump_clock):
    ex = make()
    answer = await raw(ex, EP13, "", {"adOrderNo": "1"})
    assert body_of(answer) == (401, sample(
        "sapi-orderMatch-getUserOrderDetail_no-query-unsigned_error-1002_http401.json"))
    assert ex.report().refusals == {"EP-13 401 -1002": 1}


@pytest.mark.parametrize(("choice", "status", "expected"), [
    ("400-1102", 400, sample(
        "sapi-orderMatch-getUserOrderDetail_error-1102-timestamp-malformed_http400.json")),
    ("400-2014", 400, sample(
        "sapi-orderMatch-getUserOrderDetail_error-2014-api-key-format-invalid_http400.json")),
    ("401-2015", 401, b'{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}'),
])
async def test_unsigned_ep13_answer_is_selectable_as_the_reference_leaves_it_open_ref_s10(
    autojump_clock, choice, status, expected,
):
    ex = make(unsigned_detail_answer=choice)
    assert body_of(await raw(ex, EP13, "", {"adOrderNo": "1"})) == (status, expected)


async def test_a_call_with_params_but_no_timestamp_nor_signature_is_unsigned_ref_s11(
    autojump_clock,
):
    ex = make()
    answer = await raw(ex, EP34, "page=1&rows=20", method="GET")
    assert (answer.status, answer.json()["code"]) == (401, -1002)


@pytest.mark.parametrize("stamp", ["None", "1700000000220.5", "<coroutine object now>", ""])
async def test_a_non_integer_timestamp_is_minus_1102_with_the_captured_text_ref_s2(
    autojump_clock, stamp,
):
    ex = make()
    query = hand_signed(f"recvWindow=60000&timestamp={stamp}")
    assert body_of(await raw(ex, EP13, query, {"adOrderNo": "1"})) == (400, sample(
        "sapi-orderMatch-getUserOrderDetail_error-1102-timestamp-malformed_http400.json"))


async def test_stale_or_1s_ahead_timestamps_get_minus_1021_as_captured_ref_s2(autojump_clock):
    ex = make()
    stale = await signed(ex, EP4, PAGE, skew_ms=-60_001)
    ahead = await signed(ex, EP4, PAGE, skew_ms=1_000)
    just_inside = await signed(ex, EP4, PAGE, skew_ms=999)
    oldest_ok = await signed(ex, EP4, PAGE, skew_ms=-60_000)
    expected = (400, sample("sapi-ads-update_error-1021-outside-recvWindow_http400.json"))
    assert body_of(stale) == body_of(ahead) == expected
    assert (just_inside.status, oldest_ok.status) == (200, 200)


async def test_a_timestamp_without_signature_is_minus_1102_naming_signature_ref_s10(
    autojump_clock,
):
    ex = make()
    answer = await raw(ex, EP4, f"recvWindow=60000&timestamp={ex.now_ms() + 250}", PAGE)
    assert body_of(answer) == (400, b'{"code":-1102,"msg":"Mandatory parameter \'signature\' was '
                                    b'not sent, was empty/null, or malformed."}')


async def test_a_wrong_or_misplaced_signature_is_minus_1022_and_hex_case_does_not_matter_ref_s2(
    autojump_clock,
):
    ex = make()
    head = f"recvWindow=60000&timestamp={ex.now_ms() + 250}"
    good = sign(Secret(DEMO_SECRET), head)
    wrong = await raw(ex, EP4, f"{head}&signature={'0' * 64}", PAGE)
    head = f"recvWindow=60000&timestamp={ex.now_ms() + 250}"
    not_last = await raw(ex, EP4, f"signature={sign(Secret(DEMO_SECRET), head)}&{head}", PAGE)
    head = f"recvWindow=60000&timestamp={ex.now_ms() + 250}"
    upper = await raw(ex, EP4, f"{head}&signature={sign(Secret(DEMO_SECRET), head).upper()}",
                      PAGE)
    expected = (400, b'{"code":-1022,"msg":"Signature for this request is not valid."}')
    assert body_of(wrong) == body_of(not_last) == expected
    assert upper.status == 200 and good


async def test_the_body_is_not_signed_only_the_query_exactly_as_sent_ref_s2(autojump_clock):
    ex = make()
    query = signed_query([], ex.now_ms() + 250, Secret(DEMO_SECRET))
    first = await raw(ex, EP4, query, {"page": 1, "rows": 1})
    second = await raw(ex, EP4, query, {"page": 1, "rows": 2})
    spaced = await raw(ex, EP34, signed_query([("orderNo", "a b")], ex.now_ms() + 250,
                                              Secret(DEMO_SECRET)).replace("a+b", "a%20b"),
                       method="GET")
    assert (first.status, second.status) == (200, 200)
    assert spaced.json()["code"] == -1022  # re-encoded after signing: not the text signed


@pytest.mark.parametrize(("key", "expected"), [
    (None, "sapi-orderMatch-getUserOrderDetail_error-2014-api-key-format-invalid_http400.json"),
    (DEMO_API_KEY[:-1],
     "sapi-orderMatch-getUserOrderDetail_error-2014-api-key-format-invalid_http400.json"),
    (DEMO_API_KEY[:-1] + "!",
     "sapi-orderMatch-getUserOrderDetail_error-2014-api-key-format-invalid_http400.json"),
    ("A" * 64, "sapi-ads-search_error-2008-invalid-api-key_http400.json"),
])
async def test_an_implausible_key_is_minus_2014_and_an_unknown_one_minus_2008_ref_s2(
    autojump_clock, key, expected,
):
    ex = make()
    headers = {"clienttype": "web"} | ({} if key is None else {"x-mbx-apikey": key})
    assert body_of(await signed(ex, EP4, PAGE, headers=headers)) == (400, sample(expected))


@pytest.mark.parametrize(("choice", "expected"), [
    ("-1102", b'{"code":-1102,"msg":"\'recvWindow\' contains unexpected value. Cannot be greater '
              b'than 60000."}'),
    ("-1131", b'{"code":-1131,"msg":"recvWindow must be less than 60000."}'),
])
async def test_recv_window_over_60000_is_refused_never_clamped_ref_s2(
    autojump_clock, choice, expected,
):
    ex = make(recv_window_refusal=choice)
    over = hand_signed(f"recvWindow=60001&timestamp={ex.now_ms() + 250}")
    assert body_of(await raw(ex, EP4, over, PAGE)) == (400, expected)
    at_max = hand_signed(f"recvWindow=60000&timestamp={ex.now_ms() + 250}")
    assert (await raw(ex, EP4, at_max, PAGE)).status == 200


async def test_client_type_is_required_on_the_credential_and_optionally_everywhere_ref_s11(
    autojump_clock,
):
    no_client_type = {"x-mbx-apikey": DEMO_API_KEY}
    lenient, strict = make(), make(client_type_everywhere=True)
    illegal = (400, sample(
        "sapi-orderMatch-getUserOrderDetail_error-1102-illegal-parameter_http400.json"))
    for ex in (lenient, strict):
        assert body_of(await signed(ex, EP33, method="GET", headers=no_client_type)) == illegal
    assert (await signed(lenient, EP4, PAGE, headers=no_client_type)).status == 200
    assert body_of(await signed(strict, EP4, PAGE, headers=no_client_type)) == illegal
    assert (await signed(strict, EP4, PAGE)).status == 200


# --- EP-0 (ref §3) ---------------------------------------------------------------------------

@pytest.mark.parametrize("rows", [21, 0, -1, 10.5, "ten", True])
async def test_ep0_rows_outside_1_to_20_or_not_an_int_is_000002_http400_ref_s3(
    autojump_clock, rows,
):
    ex = make()
    refused = await search(ex, rows=rows)
    assert body_of(refused) == (400, sample(
        "bapi-adv-search_GET-not-POST_000002-illegal-parameter_http400.json"))
    assert (await search(ex, rows=20)).status == 200


async def test_ep0_short_page_then_an_empty_one_end_paging_ref_s3(autojump_clock):
    ex = make()
    pages = [(await search(ex, page=n)).json() for n in (1, 2, 3)]
    assert [len(p["data"]) for p in pages] == [10, 3, 0]
    assert {p["total"] for p in pages} == {13}


async def test_ep0_publisher_type_merchant_user_and_null_split_the_book_ref_s3(autojump_clock):
    ex = make()
    every = (await search(ex, rows=20)).json()
    merchants = (await search(ex, rows=20, publisherType="merchant")).json()
    users = (await search(ex, rows=20, publisherType="user")).json()
    assert merchants["total"] + users["total"] == every["total"]
    assert {i["advertiser"]["userType"] for i in merchants["data"]} == {"merchant"}
    assert {i["advertiser"]["userType"] for i in users["data"]} == {"user"}
    assert {i["adv"]["classify"] for i in users["data"]} == {"mass"}
    assert (await search(ex, rows=20, publisherType=None)).json()["total"] == every["total"]


async def test_ep0_a_non_merchant_ad_takes_rank_1_at_times_in_a_seeded_market_ref_s3(
    autojump_clock,
):
    ex = make()
    leaders = []
    with trio.move_on_after(1800):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ex.run_market)
            while True:
                await trio.sleep(10)
                leaders += [ex.market.book(side)[0].user_type for side in ("SELL", "BUY")]
    assert 0.05 < leaders.count("user") / len(leaders) < 0.95, leaders.count("user")


async def test_ep0_items_carry_the_2026_field_set_and_weigh_about_2kb_ref_s3(autojump_clock):
    ex = make()
    items = (await search(ex, "SELL", rows=20)).json()["data"]
    items += (await search(ex, "BUY", rows=20)).json()["data"]
    real = msgspec.json.decode(sample("bapi-adv-search_USDT-MXN_data-rows-only_2026-01-15.json"))
    assert all(list(i) == list(real[0]) for i in items)
    assert all(list(i["adv"]) == list(real[0]["adv"]) for i in items)
    assert all(list(i["advertiser"]) == list(real[0]["advertiser"]) for i in items)
    methods = [m for i in items for m in i["adv"]["tradeMethods"]]
    assert all(i["adv"]["tradeMethods"] for i in items)
    assert {tuple(m) for m in methods} == {tuple(real[0]["adv"]["tradeMethods"][0])}
    sizes = [len(msgspec.json.encode(i)) for i in items]
    median = statistics.median(sizes)
    print(f"EP-0 item bytes: median {median}, min {min(sizes)}, max {max(sizes)}")
    assert 1500 <= median <= 3500


async def test_ep0_and_its_refusals_never_carry_weight_headers_ref_s3(autojump_clock):
    ex = make()
    for answer in (await search(ex), await search(ex, rows=50),
                   await raw(ex, EP0, "", method="GET", headers={})):
        assert not [k for k, _ in answer.headers if "weight" in k]


# --- weight headers (ref §7) -----------------------------------------------------------------

async def test_sapi_successes_report_the_minutes_calls_and_the_clock_its_weight_ref_s7(
    autojump_clock,
):
    ex = make()
    counts = [dict((await signed(ex, EP4, PAGE)).headers)["x-sapi-used-ip-weight-1m"]
              for _ in range(3)]
    refused = await signed(ex, EP4, PAGE, skew_ms=-70_000)
    await trio.sleep(61)
    after_a_minute = dict((await signed(ex, EP4, PAGE)).headers)
    clock = dict((await raw(ex, "/api/v3/time", "", method="GET", headers={})).headers)
    assert counts == ["1", "2", "3"]
    assert not [k for k, _ in refused.headers if "weight" in k]
    assert after_a_minute["x-sapi-used-ip-weight-1m"] == "1"
    assert clock["x-mbx-used-weight"] == clock["x-mbx-used-weight-1m"] == "1"
    quiet = make(weight_headers="absent")
    assert not [k for k, _ in (await signed(quiet, EP4, PAGE)).headers if "sapi" in k]


async def test_the_accounts_own_key_passes_whatever_its_form_the_exchange_issued_it(
    autojump_clock,
):
    odd = "h5Key" + "0" * 60  # 65 characters: a fixture's key, not a plausible one
    ex = make(api_key=odd)
    assert (await signed(ex, EP4, PAGE, headers={"x-mbx-apikey": odd})).status == 200
    assert (await signed(ex, EP4, PAGE, headers={"x-mbx-apikey": odd[:-1]})).json()["code"] == -2008
