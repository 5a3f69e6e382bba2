"""Bad input never crashes the bot: it becomes a typed event with its raw bytes; the run goes on.

Thousands of mangled answers (tests/reliability_junk.py) go through the decoding layer, then
through the running actors under MockClock: the simulator answers each request with the next
mangled version of its good answer (scripted through its fault injection, `inject_answer` with a
reshape: its effect is kept, as when a proxy or an edge mangles an answer on its way out, reference
§7) until the hypothesis-drawn list runs out, and junk frames go down its chat socket. Afterwards the bot must still act on good answers, and the log must hold
every event the actors saw, each bad answer kept byte for byte.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from c2c import decode
from c2c.chat import parse_frame
from c2c.errors import C2CError, MalformedResponse
from events import (ActorFailed, AdRepriced, ApiError, ApiResponse, ChatFrameReceived,
                    ChatMessageReceived, DecodeFailed, OrderOpened, RepriceFailed, RunStopped)
from sim.wire import Response
from tests.harness import SimBinance, answers, config, running_bot
from tests.reliability_junk import GOOD_FRAME, Junk, frames, junk

SAMPLES = Path(__file__).with_name("samples")
PARSERS = {
    "EP-0": decode.parse_search, "EP-4": decode.parse_my_ads, "EP-13": decode.parse_order_detail,
    "EP-15": decode.parse_orders, "EP-33": decode.parse_chat_credential,
    "EP-34": decode.parse_chat_messages, "TIME": decode.parse_server_time,
    "EP-7": lambda s, h, b: decode.decode_envelope("EP-7", s, h, b),
}
CFG = config(market={"pages": 1, "poll_interval_s": 2}, orders={"poll_interval_s": 2},
             ads={"refresh_s": 10}, chat={"greeting": "hi", "auto_replies": {"bank": "see page"}})
POLLED = ("EP-0", "EP-4", "EP-15")  # asked again and again, so their junk is always served
ENDPOINTS = ["EP-0", "EP-0", "EP-4", "EP-15", "EP-13", "EP-7", "EP-33", "EP-34", "TIME"]
TARGET = Decimal("1499.99")  # one step under the rival's last move
SETTINGS = dict(derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


def _order(no: str) -> dict:
    return {"orderNumber": no, "advNo": "111", "tradeType": "SELL", "asset": "USDT", "fiat": "NGN",
            "amount": "10.00", "totalPrice": "16000.00", "orderStatus": 1,
            "createTime": 1768000000000, "buyerNickname": "buyer1"}


def _my_ad(adv_no: str, side: str, price: str) -> dict:
    return {"advNo": adv_no, "advStatus": 1, "tradeType": side, "asset": "USDT",
            "fiatUnit": "NGN", "price": price, "priceType": 1, "surplusAmount": "1000.00",
            "minSingleTransAmount": "1000.00", "maxSingleTransAmount": "900000.00",
            "priceScale": 2, "tradeMethods": [{"identifier": "BANK"}]}


def _detail(no: str) -> dict:
    return {"orderNumber": no, "advOrderNumber": "111", "tradeType": "SELL", "asset": "USDT",
            "fiatUnit": "NGN", "amount": "10.00", "price": "1600.00", "totalPrice": "16000.00",
            "orderStatus": 1, "createTime": 1768000000000, "buyerNickname": "buyer1"}


def _good_bodies() -> dict[str, bytes]:
    def ok(data, total=None) -> bytes:
        return json.dumps({"code": "000000", "message": "success", "data": data,
                           "total": total, "success": True}).encode()
    return {
        "EP-0": (SAMPLES / "bapi-adv-search_USDT-KZT_tradeType-BUY_2022-06-20.json").read_bytes(),
        "EP-34": (SAMPLES / "sapi-chat-retrieveChatMessagesWithPagination_2026-01-16.json")
        .read_bytes(),
        "EP-4": ok([_my_ad("111", "SELL", "1600.50")], 1),
        "EP-13": ok(_detail("2284")), "EP-15": ok([_order("2284")], 1),
        "EP-33": ok({"chatWssUrl": "wss://x/chat", "listenKey": "k", "listenToken": "t"}),
        "EP-7": ok(True), "TIME": json.dumps({"serverTime": 1768000000000}).encode(),
    }


GOOD = _good_bodies()


@settings(max_examples=1500, **SETTINGS)
@given(endpoint=st.sampled_from(sorted(PARSERS)), recipe=junk)
def test_a_mangled_answer_decodes_or_fails_with_a_typed_error_keeping_its_bytes(endpoint, recipe):
    if recipe.kind == "transport":
        return
    body = recipe.body(GOOD[endpoint])
    try:
        PARSERS[endpoint](recipe.status, (("Retry-After", "1"),), body)
    except C2CError as exc:
        assert exc.raw == body
        assert str(exc) and repr(exc)


@settings(max_examples=1000, **SETTINGS)
@given(frame=frames)
def test_a_junk_chat_frame_decodes_or_fails_with_a_typed_error(frame):
    try:
        parse_frame(frame)
    except MalformedResponse as exc:
        assert exc.raw == (frame.encode(errors="replace") if isinstance(frame, str) else frame)


class JunkBinance(SimBinance):
    """The simulator, whose answers, per endpoint, are mangled by the next recipes in line."""

    def __init__(self, recipes: list[tuple[str, Junk]]) -> None:
        # a wide band: the rival ends far below the reference; room for the orders
        super().__init__(band=Decimal("0.1"), bot_surplus=Decimal("100000"), tick_s=1.0)
        self.remaining: Counter = Counter()
        self.served: list[tuple[str, Junk, int, bytes]] = []
        self.dropped = 0
        for endpoint, recipe in recipes:
            self.remaining[endpoint] += 1
            self.exchange.inject_answer(endpoint, reshape=self._mangler(endpoint, recipe),
                                        kind="junk")

    def _mangler(self, endpoint: str, recipe: Junk):
        def mangle(good: Response) -> Response:
            self.remaining[endpoint] -= 1
            if recipe.kind == "transport":
                self.dropped += 1
                return answers.dropped(recipe.arg)  # no answer: nothing to log but the error
            answer = Response(recipe.status, recipe.body(good.body),
                              (("content-type", "application/json"),))
            self.served.append((endpoint, recipe, answer.status, answer.body))
            return answer
        return mangle

    def left(self, *endpoints: str) -> int:
        return sum(n for e, n in self.remaining.items() if not endpoints or e in endpoints)

    def clear(self) -> None:
        """Good answers from here on."""
        self.exchange.faults._script.clear()
        self.remaining.clear()


def _market(fake: SimBinance) -> None:
    fake.my_ad("111", "SELL", "1600.50")
    fake.rival("c1", "SELL", "1600.00")
    fake.open_order("111", amount="10.00")


async def _until(condition, timeout: float) -> None:
    with trio.move_on_after(timeout):
        while not condition():
            await trio.sleep(1)


async def _keep_busy(fake: SimBinance) -> None:
    """Give every endpoint work: a rival that keeps moving, new orders, a chat that drops."""
    for tick in range(1, 10**6):
        await trio.sleep(3)
        fake.move("c1", str(fake.ad("c1").price - Decimal("0.05")))
        if tick <= 4:
            fake.open_order("111", amount="10.00")
        if tick % 5 == 0 and fake.sockets_opened:
            fake.exchange.close_chat_sockets("drop")


async def _run_on_junk(tmp_path, recipes: list[tuple[str, Junk]]):
    fake = JunkBinance(recipes)
    _market(fake)
    async with running_bot(tmp_path, fake, cfg=CFG) as h:
        async with trio.open_nursery() as busy:
            busy.start_soon(_keep_busy, fake)
            await _until(lambda: not fake.left(*POLLED), 400)  # pauses may be long
            await _until(lambda: not fake.left(), 30)  # the others need an occasion
            busy.cancel_scope.cancel()
        polled_left = fake.left(*POLLED)
        fake.clear()
        drained = len(h.seen)
        fake.move("c1", "1500.00")
        last = fake.open_order("111", amount="10.00")
        await _until(lambda: _good_answers_used([e.event for e in h.seen[drained:]], last), 400)
    return fake, h, [e.event for e in h.seen[drained:]], polled_left, last


def _good_answers_used(events, last: str) -> bool:
    """The rival's last move was answered and the last new order opened."""
    return (any(isinstance(e, AdRepriced) and e.new_price == TARGET for e in events)
            and any(isinstance(e, OrderOpened) and e.order_no == last for e in events))


def _nothing_lost(logged, seen) -> bool:
    """The log holds every event the bus showed its taps, in order, the closing RunStopped
    last (the taps see the events drained at the stop as well)."""
    return ([e.event for e in logged] == [e.event for e in seen]
            and isinstance(logged[-1].event, RunStopped))


def _final_malformed(envelopes) -> list:
    """Final 2xx answers an actor had to decode and could not."""
    out = []
    for env in envelopes:
        e = env.event
        if isinstance(e, ApiResponse) and e.final and 200 <= e.status < 300 \
                and e.endpoint in PARSERS and e.endpoint != "TIME":
            try:
                PARSERS[e.endpoint](e.status, e.headers, e.body)
            except MalformedResponse:
                out.append(env)
            except C2CError:
                pass
    return out


# 60 derandomized examples: each runs the whole bot for a few virtual minutes (~1 s here);
# 200 took 3.5 of CI's minutes.
@settings(max_examples=60, **SETTINGS)
@given(recipes=st.lists(st.tuples(st.sampled_from(ENDPOINTS), junk), min_size=5, max_size=40))
def test_junk_answers_through_the_running_bot_are_logged_typed_and_the_run_goes_on(
        tmp_path_factory, recipes):
    tmp_path = tmp_path_factory.mktemp("junk")
    fake, h, later, polled_left, last = trio.run(
        _run_on_junk, tmp_path, recipes, clock=trio.testing.MockClock(autojump_threshold=0))
    assert polled_left == 0, "the bot stopped polling: junk for a polled endpoint was left"
    assert [e for e in h.events(ActorFailed)] == []
    assert _good_answers_used(later, last)

    logged = list(h.log.events(h.session))
    assert _nothing_lost(logged, h.seen)
    answers = Counter((e.event.endpoint, e.event.status, e.event.body) for e in logged
                      if isinstance(e.event, ApiResponse))
    served = Counter((ep, status, body) for ep, r, status, body in fake.served)
    assert not served - answers, "a bad answer is missing from the log"
    transport = fake.dropped
    assert len([e for e in h.events(ApiError) if e.kind == "transport"]) >= transport
    typed = {env.cause: env.event for env in logged
             if isinstance(env.event, (DecodeFailed, RepriceFailed))}
    for env in _final_malformed(logged):
        assert env.seq in typed, f"no typed error for {env.event.endpoint} {env.event.body[:80]!r}"
        if isinstance(typed[env.seq], DecodeFailed):
            assert typed[env.seq].raw == env.event.body[:4096]


async def _push_frames(tmp_path, junk_frames):
    fake = SimBinance()
    async with running_bot(tmp_path, fake, actors=("limiter", "chat"), cfg=CFG) as h:
        await fake.connected()
        for frame in junk_frames:
            fake.exchange.push_frame(frame)  # as it is: text or binary
        good = dict(GOOD_FRAME, id="good-1", content="Which bank do I pay?")
        fake.exchange.push_frame(json.dumps(good))
        await _until(lambda: any(f.get("content") == "see page"
                                 for f in fake.frames_from_bot), 60)
    return h, fake


@settings(max_examples=80, **SETTINGS)
@given(junk_frames=st.lists(frames, min_size=10, max_size=60))
def test_junk_chat_frames_are_logged_typed_and_a_later_message_is_answered(
        tmp_path_factory, junk_frames):
    tmp_path = tmp_path_factory.mktemp("frames")
    h, chat = trio.run(_push_frames, tmp_path, junk_frames,
                       clock=trio.testing.MockClock(autojump_threshold=0))
    assert [e for e in h.events(ActorFailed)] == []
    received = [e.text for e in h.events(ChatFrameReceived)]
    texts = [f.decode("utf-8", "replace") if isinstance(f, bytes) else f for f in junk_frames]
    assert received[:len(texts)] == texts  # every frame, in order, byte for byte
    failed = [d.raw for d in h.events(DecodeFailed) if d.source == "chat-frame"]
    for text in texts:
        try:
            parse_frame(text)
        except MalformedResponse as exc:
            assert exc.raw[:4096] in failed  # the full frame is in its ChatFrameReceived
    assert any(m.message_id == "good-1" for m in h.events(ChatMessageReceived))
    assert any(f.get("content") == "see page" for f in chat.frames_from_bot)
    assert _nothing_lost(list(h.log.events(h.session)), h.seen)
