"""The orders actor: polls open orders (EP-15); a new order gets one detail call (EP-13) and an
OrderOpened; a changed status an OrderStatusChanged.

An order that leaves the open list gets one more detail call to learn how it ended (completed or
cancelled). EP-13 uses the tutorial's adaptive auth: the API key alone first; any answer that is
not a success (real captures show 401 -1002, 400 -1102 and 400 -2014 for such calls, reference
§2 and §5; 401 -2015 and -1021/-1022 are as plausible) means "sign it": the call is signed and
sent again at once, and every later EP-13 of the session is signed. The unsigned try is a probe
to the limiter: never fatal, no pause, no breaker count.

State (the orders seen and their status) is rebuilt from the log: earlier sessions' on a new run
(`known`), and this session's so far when the supervisor restarts the actor (`history`), so a
restarted actor neither opens an order again nor probes EP-13 unsigned a second time.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial

import trio

from actors.restore import fold
from actors.spec import ActorContext, ActorSpec
from actors.calls import Calls, decode_reply, emit_decode_failed
from actors.config import BotConfig
from c2c import endpoints
from c2c.decode import is_last_page, parse_order_detail, parse_orders
from c2c.errors import ApiCallError, C2CError
from events import ApiRequest, ApiResponse, OrderOpened, OrderStatusChanged

ACTIVE = (1, 2, 3)
ZERO = Decimal(0)
# An order that left the open list but whose detail Binance keeps refusing (an order it does not
# know: 400 -1102 "illegal parameter", reference §5) is followed this many times, then dropped.
FOLLOW_TRIES = 3


class Orders:
    def __init__(self, inbox, emit, *, config: BotConfig, known: dict[str, int] | None = None,
                 history=(), first_request: int = 0):
        self.inbox = inbox
        self.emit = emit
        self.cfg = config
        self.calls = Calls("orders", emit, first=first_request)
        self.known: dict[str, int] = dict(known or {})
        self.known.update(fold(history).orders)
        # Signed once an unsigned EP-13 was refused: every later one of the session is signed.
        self.follow_tries: dict[str, int] = {}
        self.sign_detail = any(isinstance(env.event, ApiRequest) and env.event.endpoint == "EP-13"
                               and env.event.signed for env in history)

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.calls.pump, self.inbox, None)
            task_status.started()
            next_at = trio.current_time()
            while True:
                await self.poll()
                next_at = max(next_at + self.cfg.orders.poll_interval_s, trio.current_time())
                await trio.sleep_until(next_at)

    async def poll(self) -> None:
        """One round: list open orders, open the new ones, follow status changes."""
        listed = await self._list_open()
        if listed is None:
            return
        seen = set()
        for order, cause in listed:
            seen.add(order.order_number)
            old = self.known.get(order.order_number)
            if old is None:
                await self._open(order, cause)
            elif old != order.order_status:
                await self._changed(order.order_number, old, order.order_status, cause)
        for order_no, status in list(self.known.items()):
            if status in ACTIVE and order_no not in seen:
                await self._follow_closed(order_no)
        for order_no, status in list(self.known.items()):
            if status not in ACTIVE and order_no not in seen:
                del self.known[order_no]  # ended and no longer listed: a long run stays small

    async def _list_open(self):
        out, page = [], 1
        while True:
            env = await self.calls.call(lambda rid: endpoints.list_orders(
                rid, page=page, status_list=ACTIVE))
            got = await decode_reply(self.emit, env, parse_orders)
            if got is None:
                return None
            items, total = got
            out.extend((o, env.seq) for o in items)
            if is_last_page(len(items), 20, page, total):
                return out
            page += 1

    async def _open(self, order, cause: int) -> None:
        detail, env = await self._detail(order.order_number, cause)
        if detail is None:
            return
        side = detail.trade_type or order.trade_type or "SELL"
        amount = detail.amount or order.amount or ZERO
        total = detail.total_price or order.total_price or ZERO
        self.known[order.order_number] = detail.order_status
        await self.emit(OrderOpened(
            order_no=order.order_number, adv_no=detail.adv_order_number or order.adv_no or "",
            side=side, asset=detail.asset or order.asset or "", fiat=detail.fiat_unit or order.fiat
            or "", amount=amount, price=detail.price or order.unit_price or ZERO,
            total_price=total, status=detail.order_status,
            counterparty=(detail.buyer_nickname if side == "SELL" else detail.seller_nickname) or "",
            create_time_ms=detail.create_time or order.create_time or 0), cause=env.seq)

    async def _changed(self, order_no: str, old: int, new: int, cause: int) -> None:
        self.known[order_no] = new
        await self.emit(OrderStatusChanged(order_no=order_no, old_status=old, new_status=new),
                        cause=cause)

    async def _follow_closed(self, order_no: str) -> None:
        detail, env = await self._detail(order_no, None)
        if detail is None:
            tries = self.follow_tries[order_no] = self.follow_tries.get(order_no, 0) + 1
            if tries >= FOLLOW_TRIES and isinstance(env.event, ApiResponse):
                # Answered, and refused, every time: not an outage. Stop asking.
                del self.known[order_no]
                self.follow_tries.pop(order_no)
            return
        self.follow_tries.pop(order_no, None)
        if detail.order_status != self.known.get(order_no):
            await self._changed(order_no, self.known[order_no], detail.order_status, env.seq)

    async def _probe_answer(self, env):
        """The order an unsigned EP-13 got, or None for any answer that is not a success (junk
        is still logged as DecodeFailed, like any answer that cannot be understood)."""
        event = env.event
        if not isinstance(event, ApiResponse):
            return None
        try:
            return parse_order_detail(event.status, event.headers, event.body)
        except ApiCallError:
            return None
        except C2CError as exc:
            await emit_decode_failed(self.emit, env, exc)
            return None

    async def _detail(self, order_no: str, cause: int | None):
        """EP-13 with adaptive auth; returns (OrderDetail | None, last reply envelope)."""
        if not self.sign_detail:
            env = await self.calls.call(lambda rid: endpoints.order_detail(
                rid, order_no=order_no, signed=False), cause)
            detail = await self._probe_answer(env)
            if detail is not None:
                return detail, env
            self.sign_detail = True  # whatever the refusal said, signed is what works
            cause = env.seq
        env = await self.calls.call(lambda rid: endpoints.order_detail(
            rid, order_no=order_no, signed=True), cause)
        event = env.event
        if not isinstance(event, ApiResponse):
            return None, env
        try:
            return parse_order_detail(event.status, event.headers, event.body), env
        except ApiCallError:
            return None, env
        except C2CError as exc:
            await emit_decode_failed(self.emit, env, exc)
            return None, env


async def run(inbox, emit, *, config: BotConfig, known: dict[str, int] | None = None,
              history=(), first_request: int = 0, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Follow orders forever; never returns unless cancelled."""
    await Orders(inbox, emit, config=config, known=known, history=history,
                 first_request=first_request).run(task_status=task_status)


def _build(ctx: ActorContext):
    return partial(run, ctx.inbox, ctx.emit, config=ctx.deps.config,
                   known=ctx.deps.restored.orders, history=ctx.history,
                   first_request=ctx.first_request)


SPEC = ActorSpec(name="orders", subscribes=(), build=_build)
