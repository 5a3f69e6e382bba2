"""The orders actor's pure core: what it knows of my orders, how a logged event changes that, and
what it does about a poll's answer.

The orders actor (actors/orders.py) is a shell around this: it folds every envelope it sees into
the state with `apply`, asks `decide` what a poll's listing (EP-15) or an order's detail (EP-13)
calls for, and carries the answer out in order: it emits the events (`Emit`), fetches the details
asked for (`OpenOrder`, `FollowClosed`, both EP-13 with the adaptive auth), and applies each of
its own steps (`Tried`, `Forget`) with `apply_step`. The same `apply` rebuilds the state of a
restarted actor from its session so far, and `actors/restore.py` folds earlier sessions with it.

    state  = fold of OrderOpened / OrderStatusChanged / OrderDetailRefused /
             ApiRequest(EP-13, signed)
    decide(state, Listed(...))         -> [OpenOrder, Emit(OrderStatusChanged), FollowClosed, ...]
    forgotten(state, Listed(...))      -> [Forget, ...]   (after the follow-ups are done)
    decide(state, DetailAnswered(...)) -> [Emit(OrderOpened)] | [Tried(0), Emit(OrderStatusChanged)]
                                          | [Emit(OrderDetailRefused)] | []

Nothing here does I/O or reads a clock: it needs no trio.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable

import msgspec

from events import ApiRequest, Envelope, OrderDetailRefused, OrderOpened, OrderStatusChanged

ACTIVE = (1, 2, 3)
ZERO = Decimal(0)
# An order that left the open list but whose detail Binance keeps refusing (an order it does not
# know: 400 -1102 "illegal parameter", reference §5) is followed this many times, then dropped.
FOLLOW_TRIES = 3


class State:
    """My orders as the actor knows them.

    Attributes:
        orders: order number -> its last status (OrderOpened, OrderStatusChanged).
        sign_detail: an unsigned EP-13 was refused this session, so every later one is signed
            (folded from the signed EP-13 requests).
        follow_tries: refused details of orders that left the open list (folded from
            OrderDetailRefused, so a restarted actor goes on counting; a detail that came resets
            it in memory only, which can leave a restarted actor asking fewer times, never more).
    """

    def __init__(self, orders: dict[str, int] | None = None, *,
                 sign_detail: bool = False) -> None:
        self.orders: dict[str, int] = orders if orders is not None else {}
        self.sign_detail = sign_detail
        self.follow_tries: dict[str, int] = {}


# --- what the shell observes ---------------------------------------------------------------------

class Listed(msgspec.Struct, frozen=True):
    """The open orders EP-15 listed in one poll, each with the seq of the page that listed it."""

    orders: tuple[tuple[Any, int], ...]  # (c2c.models.Order, cause)


class DetailAnswered(msgspec.Struct, frozen=True, kw_only=True):
    """EP-13's answer for `order_no`: the detail, or None (refused, or no answer at all).

    `listed` is the EP-15 row when the detail was asked to open the order, None when it was
    asked because the order left the open list; `answered` says Binance answered (a refusal),
    rather than the call failing; `cause` is the seq of the last reply.
    """

    order_no: str
    detail: Any  # c2c.models.OrderDetail | None
    answered: bool
    cause: int
    listed: Any = None  # c2c.models.Order | None


# --- what the core asks for ---------------------------------------------------------------------

class Emit(msgspec.Struct, frozen=True):
    """Emit `event` with cause `cause`."""

    event: Any
    cause: int | None = None


class OpenOrder(msgspec.Struct, frozen=True):
    """Fetch the detail of new order `order` (EP-13), then decide on the answer."""

    order: Any
    cause: int


class FollowClosed(msgspec.Struct, frozen=True):
    """Fetch the detail of `order_no`, which left the open list, to learn how it ended."""

    order_no: str


class Tried(msgspec.Struct, frozen=True):
    """The detail of closed order `order_no` came: its refusals start again from `tries` (0)."""

    order_no: str
    tries: int


class Forget(msgspec.Struct, frozen=True):
    """Stop following `order_no` (ended and no longer listed, or refused FOLLOW_TRIES times)."""

    order_no: str


Step = Emit | OpenOrder | FollowClosed | Tried | Forget


# --- the fold -----------------------------------------------------------------------------------

def apply(state: State, env: Envelope) -> State:
    """Apply one logged event to `state` (in place) and return it."""
    return apply_event(state, env.event)


def apply_event(state: State, event) -> State:
    """Apply one event as it is emitted (the shell folds its own events before the log has
    numbered them; nothing here reads the envelope)."""
    match event:
        case OrderOpened(order_no=order_no, status=status):
            state.orders[order_no] = status
        case OrderStatusChanged(order_no=order_no, new_status=status):
            state.orders[order_no] = status
        case ApiRequest(endpoint="EP-13", signed=True):
            state.sign_detail = True
        case OrderDetailRefused(order_no=order_no, tries=tries, answered=answered):
            if tries >= FOLLOW_TRIES and answered:  # refused every time: stop asking
                state.orders.pop(order_no, None)
                state.follow_tries.pop(order_no, None)
            else:
                state.follow_tries[order_no] = tries
    return state


def fold(envelopes: Iterable[Envelope], state: State | None = None) -> State:
    """Apply `envelopes` in order to `state` (a new one by default) and return it."""
    state = state if state is not None else State()
    for env in envelopes:
        apply(state, env)
    return state


def apply_step(state: State, step: Step) -> None:
    """Apply one of the actor's own steps that the log does not carry (a detail that came,
    forgetting an ended order)."""
    match step:
        case Tried(order_no=order_no, tries=0):
            state.follow_tries.pop(order_no, None)
        case Tried(order_no=order_no, tries=tries):
            state.follow_tries[order_no] = tries
        case Forget(order_no=order_no):
            state.orders.pop(order_no, None)
            state.follow_tries.pop(order_no, None)


# --- the decision -------------------------------------------------------------------------------

def decide(state: State, event: Listed | DetailAnswered, now: float = 0.0) -> list[Step]:
    """What `event` calls for, in the order the shell must carry it out.

    A listing opens the orders not known yet (their detail first), reports the status changes
    of known ones and follows the active ones no longer listed (`forgotten` then says which
    ended ones to drop). `now` is not used: polling has no timing of its own to decide.
    """
    if isinstance(event, Listed):
        return _on_listed(state, event)
    return _on_detail(state, event)


def _on_listed(state: State, listed: Listed) -> list[Step]:
    steps: list[Step] = []
    seen = set()
    for order, cause in listed.orders:
        seen.add(order.order_number)
        old = state.orders.get(order.order_number)
        if old is None:
            steps.append(OpenOrder(order, cause))
        elif old != order.order_status:
            steps.append(Emit(OrderStatusChanged(order_no=order.order_number, old_status=old,
                                                 new_status=order.order_status), cause))
    steps += [FollowClosed(o) for o, st in state.orders.items()
              if st in ACTIVE and o not in seen]
    return steps


def forgotten(state: State, listed: Listed) -> list[Forget]:
    """The ended orders that `listed` no longer shows, to forget so a long run stays small;
    asked once the follow-ups are done, so one that ended in a follow-up goes at once."""
    seen = {order.order_number for order, _ in listed.orders}
    return [Forget(o) for o, st in state.orders.items() if st not in ACTIVE and o not in seen]


def _on_detail(state: State, answer: DetailAnswered) -> list[Step]:
    detail, order_no = answer.detail, answer.order_no
    if answer.listed is not None:
        return [] if detail is None else [Emit(opened(answer.listed, detail), answer.cause)]
    if detail is None:
        if order_no not in state.orders:
            return []
        tries = state.follow_tries.get(order_no, 0) + 1
        return [Emit(OrderDetailRefused(order_no=order_no, tries=tries, answered=answer.answered),
                     answer.cause)]
    steps: list[Step] = [Tried(order_no, 0)]
    old = state.orders.get(order_no)
    if old is not None and detail.order_status != old:
        steps.append(Emit(OrderStatusChanged(order_no=order_no, old_status=old,
                                             new_status=detail.order_status), answer.cause))
    return steps


def opened(order, detail) -> OrderOpened:
    """The OrderOpened for EP-15 row `order` and its EP-13 `detail` (the detail wins)."""
    side = detail.trade_type or order.trade_type or "SELL"
    return OrderOpened(
        order_no=order.order_number, adv_no=detail.adv_order_number or order.adv_no or "",
        side=side, asset=detail.asset or order.asset or "",
        fiat=detail.fiat_unit or order.fiat or "", amount=detail.amount or order.amount or ZERO,
        price=detail.price or order.unit_price or ZERO,
        total_price=detail.total_price or order.total_price or ZERO, status=detail.order_status,
        counterparty=(detail.buyer_nickname if side == "SELL" else detail.seller_nickname) or "",
        create_time_ms=detail.create_time or order.create_time or 0)
