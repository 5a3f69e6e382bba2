"""The orders actor: polls open orders (EP-15); a new order gets one detail call (EP-13) and an
OrderOpened; a changed status an OrderStatusChanged.

An order that leaves the open list gets one more detail call to learn how it ended (completed or
cancelled); one whose detail Binance keeps refusing (an order it does not know, reference §5)
is asked FOLLOW_TRIES times, each refusal logged as an OrderDetailRefused, then dropped. EP-13 uses the tutorial's adaptive auth: the API key alone first; any answer that is
not a success (real captures show 401 -1002, 400 -1102 and 400 -2014 for such calls, reference
§2 and §5; 401 -2015 and -1021/-1022 are as plausible) means "sign it": the call is signed and
sent again at once, and every later EP-13 of the session is signed. The unsigned try is a probe
to the limiter: never fatal, no pause, no breaker count.

What to do about a listing or a detail is decided by the pure core (`actors/orders_core.py`);
this shell polls, calls EP-13 with the adaptive auth, emits, and folds what it emits into the
core's state. That state (the orders seen and their status, whether EP-13 is signed, how often
a closed order's detail was refused) is a fold of the log: earlier sessions' on a new run, and
this session's so far when the supervisor restarts the actor, so a restarted actor neither opens
an order again, nor probes EP-13 unsigned a second time, nor asks a closed order's detail more
than FOLLOW_TRIES times in all.
"""

from __future__ import annotations

from functools import partial

import trio

from actors import orders_core
from actors.orders_core import (DetailAnswered, Emit, FollowClosed, Forget, Listed, OpenOrder,
                                Tried)
from actors.spec import ActorContext, ActorSpec
from actors.calls import Calls, decode_reply, emit_decode_failed
from actors.config import BotConfig
from actors.sleep import sleep_until
from c2c import endpoints
from c2c.decode import is_last_page, parse_order_detail, parse_orders
from c2c.errors import ApiCallError, C2CError
from events import ApiResponse

ACTIVE = orders_core.ACTIVE
FOLLOW_TRIES = orders_core.FOLLOW_TRIES


class Orders:
    def __init__(self, inbox, emit, *, config: BotConfig, state: orders_core.State | None = None,
                 first_request: int = 0):
        self.inbox = inbox
        self.emit = emit
        self.cfg = config
        self.calls = Calls("orders", emit, first=first_request)
        self.state = state if state is not None else orders_core.State()

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.calls.pump, self.inbox, None)
            task_status.started()
            next_at = trio.current_time()
            while True:
                await self.poll()
                next_at = max(next_at + self.cfg.orders.poll_interval_s, trio.current_time())
                await sleep_until(next_at)

    async def poll(self) -> None:
        """One round: list open orders, then do what the core decides of the listing."""
        listed = await self._list_open()
        if listed is None:
            return
        await self._carry_out(orders_core.decide(self.state, listed, trio.current_time()))
        await self._carry_out(orders_core.forgotten(self.state, listed))

    async def _carry_out(self, steps) -> None:
        for step in steps:
            match step:
                case Emit(event=event, cause=cause):
                    orders_core.apply_event(self.state, event)
                    await self.emit(event, cause=cause)
                case OpenOrder(order=order, cause=cause):
                    detail, env = await self._detail(order.order_number, cause)
                    await self._answered(order.order_number, detail, env, listed=order)
                case FollowClosed(order_no=order_no):
                    detail, env = await self._detail(order_no, None)
                    await self._answered(order_no, detail, env)
                case Tried() | Forget():
                    orders_core.apply_step(self.state, step)

    async def _answered(self, order_no: str, detail, env, listed=None) -> None:
        answer = DetailAnswered(order_no=order_no, detail=detail, listed=listed, cause=env.seq,
                                answered=isinstance(env.event, ApiResponse))
        await self._carry_out(orders_core.decide(self.state, answer, trio.current_time()))

    async def _list_open(self) -> Listed | None:
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
                return Listed(tuple(out))
            page += 1

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

    def _signed_detail(self, order_no: str):
        def build(rid: str):
            request = endpoints.order_detail(rid, order_no=order_no, signed=True)
            orders_core.apply_event(self.state, request)  # from now on every EP-13 is signed
            return request
        return build

    async def _detail(self, order_no: str, cause: int | None):
        """EP-13 with adaptive auth; returns (OrderDetail | None, last reply envelope)."""
        if not self.state.sign_detail:
            env = await self.calls.call(lambda rid: endpoints.order_detail(
                rid, order_no=order_no, signed=False), cause)
            detail = await self._probe_answer(env)
            if detail is not None:
                return detail, env
            cause = env.seq  # whatever the refusal said, signed is what works
        env = await self.calls.call(self._signed_detail(order_no), cause)
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


async def run(inbox, emit, *, config: BotConfig, state: orders_core.State | None = None,
              first_request: int = 0, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Follow orders forever; never returns unless cancelled."""
    await Orders(inbox, emit, config=config, state=state,
                 first_request=first_request).run(task_status=task_status)


def _build(ctx: ActorContext):
    """Earlier sessions' orders, and this session's so far when restarted, folded by the core:
    a restarted actor neither opens an order again, nor probes EP-13 unsigned a second time,
    nor starts counting a closed order's refused details over."""
    state = orders_core.fold(ctx.history, orders_core.State(dict(ctx.deps.restored.orders)))
    return partial(run, ctx.inbox, ctx.emit, config=ctx.deps.config, state=state,
                   first_request=ctx.first_request)


SPEC = ActorSpec(name="orders", subscribes=(), build=_build)
