"""The chat as it really arrives (reference §8, samples chat-ws-frame_* and the 2026 EP-34
capture), through the in-process socket the virtual runs use, under trio's MockClock."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected

from c2c.credentials import Secret
from c2c.signing import signed_query
from sim import DEMO_API_KEY, DEMO_SECRET, Faults, SimConfig, SimExchange
from sim.chat import NETTY_REASONS
from sim.inprocess import chat_connector
from sim.wire import Request

SAMPLES = Path(__file__).parent / "samples"
EP34 = "/sapi/v1/c2c/chat/retrieveChatMessagesWithPagination"
QUIET = {"chat_nlp_share": 0.0, "chat_extra_copy_share": 0.0}


def make(**kw) -> SimExchange:
    return SimExchange(SimConfig(seed=7, **kw),
                       now_ms=lambda: 1_768_000_000_000 + int(trio.current_time() * 1000))


def sample(name: str) -> dict:
    return json.loads((SAMPLES / f"chat-ws-frame_{name}.json").read_text())


def url(ex: SimExchange) -> str:
    cred = ex.issue_chat_credential("sim", trio.current_time())
    return f"{cred['chatWssUrl']}/{cred['listenKey']}?token={cred['listenToken']}&clientType=web"


async def frames_for(sock, seconds: float) -> list[dict]:
    out: list[dict] = []
    with trio.move_on_after(seconds):
        while True:
            out.append(msgspec.json.decode(await sock.get_message()))
    return out


def order_on(ex: SimExchange) -> str:
    """Open an order whose counterparty stays silent unless the test scripts it."""
    order_no = ex.open_order(next(a.adv_no for a in ex.bot_ads if a.side == "SELL"))
    ex.desk.orders[order_no].plan = []
    return order_no


async def test_a_text_comes_unread_then_as_a_read_copy_with_the_same_id_ref_s8(
    nursery, autojump_clock,
):
    ex = make(**QUIET)
    nursery.start_soon(ex.run_market)
    async with chat_connector(ex)(url(ex)) as sock:
        order_no = order_on(ex)
        await frames_for(sock, 0.1)
        ex.push_chat(order_no, "text", "Hola")
        first, read = [f for f in await frames_for(sock, 9) if f["type"] == "text"]
    assert list(first) == list(sample("text_unread_2023-11-09"))
    assert list(read) == list(sample("text_read-copy_same-id_2023-11-09"))
    assert (first["status"], read["status"]) == ("unread", "read")
    assert (first["id"], first["uuid"]) == (read["id"], read["uuid"])
    assert isinstance(first["id"], str) and first["createTime"] % 1000 != 0
    assert read["createTime"] == -(-first["createTime"] // 1000) * 1000
    assert read["fromNickname"] in ("", ex.desk.orders[order_no].counterparty)


async def test_about_72_percent_of_read_copies_have_an_empty_nickname_ref_s8(
    nursery, autojump_clock,
):
    ex = make(**QUIET, chat_read_delay_s=(0.1, 0.2))
    nursery.start_soon(ex.run_market)
    async with chat_connector(ex)(url(ex)) as sock:
        order_no = order_on(ex)
        await frames_for(sock, 0.1)
        for _ in range(300):
            ex.push_chat(order_no, "text")
        frames = await frames_for(sock, 1)
    nicks = [f["fromNickname"] for f in frames if f["status"] == "read" and f["type"] == "text"]
    assert len(nicks) == 300 and 0.62 < nicks.count("") / 300 < 0.82


async def test_some_messages_arrive_three_or_four_times_ref_s8(nursery, autojump_clock):
    ex = make(chat_nlp_share=0.0, chat_extra_copy_share=1.0)
    nursery.start_soon(ex.run_market)
    async with chat_connector(ex)(url(ex)) as sock:
        order_no = order_on(ex)
        await frames_for(sock, 0.1)
        await frames_for(sock, 9)  # the order's system frame and its copies
        ex.push_chat(order_no, "text")
        frames = await frames_for(sock, 30)
    assert len(frames) in (3, 4) and len({f["id"] for f in frames}) == 1
    assert [f["status"] for f in frames] == ["unread"] + ["read"] * (len(frames) - 1)


async def test_a_new_order_brings_a_system_frame_and_an_auto_reply_without_id_ref_s8(
    nursery, autojump_clock,
):
    ex = make(**QUIET)
    nursery.start_soon(ex.run_market)
    async with chat_connector(ex)(url(ex)) as sock:
        order_on(ex)
        system, auto_reply, *later = await frames_for(sock, 0.5)
        copies = await frames_for(sock, 9)
    assert json.loads(system["content"]) == {"type": "seller_merchant_trading"}
    assert (system["type"], system["status"], "uuid" in system) == ("system", "unread", False)
    assert list(auto_reply) == list(sample("auto_reply_no-id-no-uuid_2023-11-09"))
    assert (auto_reply["status"], auto_reply["self"]) == ("read", False)
    system_copy = next(f for f in copies if f["id"] == system["id"])
    assert list(system_copy) == list(sample("system_nlp_third_party_read-copy_2023-11-09"))
    assert later == [] and [f["type"] for f in copies] == ["system"]


async def test_binance_warns_with_an_nlp_third_party_system_frame_ref_s8(nursery, autojump_clock):
    ex = make(chat_nlp_share=1.0, chat_extra_copy_share=0.0)
    nursery.start_soon(ex.run_market)
    async with chat_connector(ex)(url(ex)) as sock:
        order_no = order_on(ex)
        await frames_for(sock, 0.1)
        ex.desk.orders[order_no].plan = [(trio.current_time(), "hello")]
        frames = await frames_for(sock, 1)
    warning = next(f for f in frames if f["type"] == "system")
    assert list(warning) == list(sample("system_nlp_third_party_unread_2023-11-09"))
    content = json.loads(warning["content"])
    assert list(content) == ["original_message_id", "type"]
    assert content["type"] == "nlp_third_party" and content["original_message_id"].isdigit()


async def test_the_bots_send_is_echoed_self_true_then_read_with_its_nickname_ref_s8(
    nursery, autojump_clock,
):
    ex = make(**QUIET)
    nursery.start_soon(ex.run_market)
    async with chat_connector(ex)(url(ex)) as sock:
        order_no = order_on(ex)
        await frames_for(sock, 0.1)
        sent_ms = ex.now_ms() - 40
        await sock.send_message(msgspec.json.encode({
            "type": "text", "uuid": 1696974594609, "orderNo": order_no,
            "content": "Enseguida verifico.", "self": False, "clientType": "web",
            "createTime": sent_ms, "sendStatus": 4}).decode())
        echo, read = [f for f in await frames_for(sock, 9) if f["type"] == "text"]
    assert list(echo) == list(sample("text_own-message-echo_self-true_2023-10-10"))
    assert list(read) == list(sample("text_own-message-read-copy_fromNickname_2023-10-10"))
    assert (echo["self"], echo["uuid"], echo["createTime"]) == (True, "1696974594609", sent_ms)
    assert (read["id"], read["fromNickname"]) == (echo["id"], ex.cfg.bot_nickname)


async def test_an_illegal_param_error_frame_is_followed_by_a_normal_close_ref_s8(
    nursery, autojump_clock,
):
    ex = make(**QUIET)
    nursery.start_soon(ex.run_market)
    raw = (SAMPLES / "chat-ws-frame_error_ILLEGAL_PARAM_2024-02-13.json").read_text().strip()
    async with chat_connector(ex)(url(ex)) as sock:
        order_no = order_on(ex)
        await frames_for(sock, 0.1)
        ex.push_chat(order_no, "error")
        assert await sock.get_message() == raw
        sent_at = trio.current_time()
        with pytest.raises(ConnectionClosed) as closed:
            await sock.get_message()
    assert closed.value.reason.code == 1000
    assert 0.7 <= trio.current_time() - sent_at <= 0.95
    assert ex.report().chat_error_frames == 1 and ex.report().chat_closes == {"1000": 1}


@pytest.mark.parametrize("config", [
    {"faults": Faults(ws_illegal_param_probability=1.0)},
    {"ws_bad_frame_answer": "illegal_param"},
])
async def test_a_bots_frame_can_be_answered_illegal_param_ref_s8(nursery, autojump_clock, config):
    ex = make(**QUIET, **config)
    nursery.start_soon(ex.run_market)
    async with chat_connector(ex)(url(ex)) as sock:
        await sock.send_message("not a message")
        assert json.loads(await sock.get_message())["content"] == "ILLEGAL_PARAM"
        with pytest.raises(ConnectionClosed):
            await frames_for(sock, 2)


@pytest.mark.parametrize(("kind", "code"), [("1000", 1000), ("1002", 1002), ("drop", 1006)])
async def test_sockets_close_as_captured_and_the_old_credential_is_refused_after_ref_s8(
    nursery, autojump_clock, kind, code,
):
    ex = make(faults=Faults(ws_close_every_s=5, ws_close_kinds=(kind,)))
    nursery.start_soon(ex.run_market)
    address = url(ex)
    async with chat_connector(ex)(address) as sock:
        with pytest.raises(ConnectionClosed) as closed:
            await frames_for(sock, 10)
        with pytest.raises(ConnectionClosed):
            await sock.send_message("{}")
    assert trio.current_time() == 5.0
    assert closed.value.reason.code == code
    assert (closed.value.reason.reason in NETTY_REASONS) == (kind == "1002")
    with pytest.raises(ConnectionRejected) as refused:
        async with chat_connector(ex)(address):
            pass
    assert refused.value.status_code == 403
    async with chat_connector(ex)(url(ex)):
        pass  # a fresh credential works
    assert ex.report().chat_closes == {kind: 1}


async def test_an_old_credential_can_be_kept_after_a_close_when_configured(nursery,
                                                                           autojump_clock):
    ex = make(revoke_credential_on_close=False, faults=Faults(ws_close_every_s=5))
    nursery.start_soon(ex.run_market)
    address = url(ex)
    for _ in range(2):
        async with chat_connector(ex)(address) as sock:
            with pytest.raises(ConnectionClosed):
                await frames_for(sock, 10)


async def history(ex: SimExchange, order_no: str) -> list[dict]:
    await trio.sleep(0.25)
    query = signed_query([("page", "1"), ("rows", "20"), ("orderNo", order_no)], ex.now_ms(),
                         Secret(DEMO_SECRET))
    headers = {"x-mbx-apikey": DEMO_API_KEY, "clienttype": "web"}
    return ex.handle(Request("GET", EP34, query, headers)).json()["data"]


@pytest.mark.parametrize("with_nickname", [False, True])
async def test_ep34_lists_the_same_messages_as_the_2026_capture_shows_them_ref_s8(
    nursery, autojump_clock, with_nickname,
):
    ex = make(**QUIET, history_from_nickname=with_nickname)
    nursery.start_soon(ex.run_market)
    order_no = order_on(ex)
    fresh = await history(ex, order_no)
    await trio.sleep(9)
    settled = await history(ex, order_no)
    real = json.loads((SAMPLES / "sapi-chat-retrieveChatMessagesWithPagination_2026-01-16.json")
                      .read_text())["data"]
    expected_keys = list(real[0]) + (["fromNickName"] if with_nickname else [])
    assert [m["type"] for m in settled] == [m["type"] for m in real] == ["auto_reply", "system"]
    assert all(list(m) == expected_keys for m in fresh + settled)
    assert [m["status"] for m in fresh] == ["read", "unread"]
    assert [m["status"] for m in settled] == ["read", "read"]
    assert all(m["createTime"] % 1000 == 0 for m in settled)
    assert settled[0]["self"] is True and settled[0]["id"] and settled[0]["uuid"]


async def test_the_error_frame_and_its_close_go_to_the_socket_that_sent_the_frame_only(
    nursery, autojump_clock,
):
    ex = make(**QUIET, faults=Faults(ws_illegal_param_probability=1.0))
    nursery.start_soon(ex.run_market)
    async with chat_connector(ex)(url(ex)) as sender, chat_connector(ex)(url(ex)) as other:
        await sender.send_message("{}")
        assert json.loads(await sender.get_message())["content"] == "ILLEGAL_PARAM"
        with pytest.raises(ConnectionClosed):
            await frames_for(sender, 2)
        order_on(ex)
        assert [f["type"] for f in await frames_for(other, 0.5)] == ["system", "auto_reply"]


async def test_push_chat_scripts_a_system_warning_and_an_auto_reply_for_tests(nursery,
                                                                                autojump_clock):
    ex = make(**QUIET)
    nursery.start_soon(ex.run_market)
    async with chat_connector(ex)(url(ex)) as sock:
        order_no = order_on(ex)
        await frames_for(sock, 0.1)
        before = len(ex.desk.history(order_no))
        ex.push_chat(order_no, "system")
        ex.push_chat(order_no, "auto_reply")
        system, auto_reply = await frames_for(sock, 0.5)
    assert json.loads(system["content"])["type"] == "nlp_third_party"
    assert auto_reply["type"] == "auto_reply" and "id" not in auto_reply
    assert len(ex.desk.history(order_no)) == before + 2
