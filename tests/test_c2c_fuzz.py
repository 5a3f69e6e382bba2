"""Whatever Binance (or a proxy, or a bug) sends, decoding fails only with a C2CError."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from c2c import decode
from c2c.chat import parse_frame
from c2c.errors import C2CError

PARSERS = [
    decode.parse_search, decode.parse_my_ads, decode.parse_orders, decode.parse_order_detail,
    decode.parse_status_update, decode.parse_chat_credential, decode.parse_chat_messages,
    decode.parse_server_time, decode.parse_update,
]
FUZZ = settings(max_examples=80, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.sampled_from(["000000", "000002", "-9000", "187049", "NaN", "1e999", "17.90", "-1021"]),
)
KEYS = ["code", "msg", "message", "success", "data", "total", "adv", "advertiser", "advNo",
        "price", "surplusAmount", "orderNumber", "orderStatus", "id", "type", "orderNo", "self",
        "serverTime", "chatWssUrl", "listenKey", "listenToken", "failList", "status", "amount"]
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(KEYS), inner, max_size=6)),
    max_leaves=25,
)
envelopes = st.fixed_dictionaries(
    {"code": st.sampled_from(["000000", -9000, "000002", -1021, 187055, None])},
    optional={"success": st.booleans(), "data": json_values, "total": scalars,
              "msg": scalars, "message": scalars},
)
statuses = st.sampled_from([200, 201, 400, 401, 403, 404, 418, 429, 451, 500, 502, 504])
headers = st.lists(st.tuples(st.sampled_from(["Retry-After", "X-MBX-USED-WEIGHT-1M", "X"]),
                             st.text(max_size=8)), max_size=3)


def only_c2c_errors(parse, status, hdrs, body) -> None:
    try:
        parse(status, hdrs, body)
    except C2CError as exc:
        assert exc.raw == body
        str(exc), repr(exc)


@pytest.mark.parametrize("parse", PARSERS, ids=lambda p: p.__name__)
@FUZZ
@given(status=statuses, hdrs=headers, body=st.binary(max_size=200))
def test_random_bytes_raise_only_c2c_errors(parse, status, hdrs, body):
    only_c2c_errors(parse, status, hdrs, body)


@pytest.mark.parametrize("parse", PARSERS, ids=lambda p: p.__name__)
@FUZZ
@given(status=statuses, hdrs=headers, value=st.one_of(json_values, envelopes))
def test_random_json_raises_only_c2c_errors(parse, status, hdrs, value):
    only_c2c_errors(parse, status, hdrs, json.dumps(value).encode())


@FUZZ
@given(text=st.one_of(st.text(max_size=80), json_values.map(json.dumps)))
def test_random_chat_frames_raise_only_c2c_errors(text):
    try:
        parse_frame(text)
    except C2CError:
        pass


ITEM_KEYS = ["advNo", "price", "surplusAmount", "minSingleTransAmount", "tradeType", "tradeMethods",
             "orderNumber", "orderStatus", "amount", "totalPrice", "createTime", "id", "type",
             "orderNo", "self", "advStatus", "asset", "fiatUnit", "monthFinishRate", "nickName"]
items = st.dictionaries(st.sampled_from(ITEM_KEYS), scalars, max_size=10)
pages = st.builds(
    lambda rows, total: {"code": "000000", "success": True, "data": rows, "total": total},
    st.lists(st.one_of(items, st.fixed_dictionaries({"adv": items, "advertiser": items})),
             max_size=3),
    st.integers(min_value=-1, max_value=100),
)


@pytest.mark.parametrize("parse", PARSERS, ids=lambda p: p.__name__)
@FUZZ
@given(page=pages)
def test_success_pages_with_random_items_raise_only_c2c_errors(parse, page):
    only_c2c_errors(parse, 200, (), json.dumps(page).encode())
