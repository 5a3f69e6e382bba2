"""The chat actor's pure core: what it knows of orders and messages, how a logged event changes
that, and what an order or a message calls for.

The chat actor (actors/chat.py) is a shell around this: it folds every envelope of its inbox and
every event it emits into the state with `apply`, asks `decide` about each order event and each
message heard (on the socket or in EP-34's history), and carries the answer out: it emits the
events (`Emit`) and turns each `Reply` into a ChatSendRequest, which the bus makes durable
before it comes back to be sent on the socket (in a dry run, into a DryRunSkipped naming the
order and the reason, which nothing sends). The same `apply` rebuilds the state of a restarted
actor from its session so far, and `actors/restore.py` folds earlier sessions with it, so no
order is greeted twice and no message answered twice.

    state  = fold of OrderOpened / OrderStatusChanged / ChatSendRequest / DryRunSkipped /
             ChatMessageReceived / ChatNicknameSeen
    decide(state, OrderOpened)        -> [Reply(greeting)] | []
    decide(state, Heard(msg, source)) -> [Emit(ChatMessageReceived), Reply(auto_reply)?]
                                         | [Emit(ChatNicknameSeen)] | []

Nothing here does I/O, draws a uuid or reads a clock: it needs no trio.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable

import msgspec

from c2c.chat import should_answer
from c2c.models import ChatMessage
from events import (ChatMessageReceived, ChatNicknameSeen, ChatSendRequest, DryRunSkipped,
                    Envelope, OrderOpened, OrderStatusChanged)

TERMINAL = (4, 6, 7)


class Recent:
    """A set that forgets its oldest members past `cap`, so months of orders and messages stay
    within a bounded memory (ids live a few days; the cap is far beyond that)."""

    def __init__(self, items=(), cap: int = 200_000) -> None:
        self.cap = cap
        self._items: OrderedDict[str, None] = OrderedDict()
        for item in items:
            self.add(item)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def add(self, item: str) -> None:
        self._items[item] = None
        if len(self._items) > self.cap:
            self._items.popitem(last=False)


class State:
    """What the chat decides from: its settings and what the log says so far.

    Attributes:
        greeting: the text a new order gets once ("" greets nobody).
        auto_replies: keyword -> reply, for counterparties' messages on the socket.
        greeted: orders already greeted (a greeting's ChatSendRequest, in any session).
        dry_greeted: orders a dry run would have greeted (its DryRunSkipped): not greeted for
            a later real run, which `actors.restore` folds without them, but never twice in
            the dry run itself, restarts included.
        seen: message ids already received (Binance pushes each message at least twice).
        named: message ids whose sender's nickname is known.
        open_orders: orders whose chat EP-34 backfills after each (re)connect.

    Containers that can `add` are used as given, not copied (`actors.restore.fold` folds into
    its own sets this way); ids given as any other iterable go into a new bounded `Recent`.
    """

    def __init__(self, *, greeting: str = "", auto_replies: dict[str, str] | None = None,
                 greeted=(), seen=(), open_orders=(), named=None) -> None:
        self.greeting = greeting
        self.auto_replies = dict(auto_replies or {})
        self.greeted = greeted if hasattr(greeted, "add") else Recent(greeted)
        self.dry_greeted: set[str] = set()
        self.seen = seen if hasattr(seen, "add") else Recent(seen)
        self.named = named if named is not None else Recent((), cap=20_000)
        self.open_orders = open_orders if isinstance(open_orders, set) else set(open_orders)


# --- what the shell observes, and what the core asks for -----------------------------------------

class Heard(msgspec.Struct, frozen=True):
    """A message heard on the socket ("socket") or in EP-34's history ("history")."""

    msg: ChatMessage
    source: str


class Emit(msgspec.Struct, frozen=True):
    """Emit `event` (with the cause of what was heard)."""

    event: Any


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """Say `content` in order `order_no`'s chat: a ChatSendRequest with a fresh uuid."""

    order_no: str
    content: str
    reason: str  # "greeting" | "auto_reply"
    keyword: str | None = None


Step = Emit | Reply


# --- the fold -----------------------------------------------------------------------------------

def apply(state: State, env: Envelope) -> State:
    """Apply one logged event to `state` (in place) and return it."""
    return apply_event(state, env.event)


def apply_event(state: State, event) -> State:
    """Apply one event as it is emitted (nothing here reads the envelope)."""
    match event:
        case OrderOpened(order_no=order_no):
            state.open_orders.add(order_no)
        case OrderStatusChanged(order_no=order_no, new_status=status) if status in TERMINAL:
            state.open_orders.discard(order_no)
        case ChatSendRequest(order_no=order_no, reason="greeting"):
            state.greeted.add(order_no)
        case DryRunSkipped(endpoint="chat", order_no=order_no, reason="greeting") if order_no:
            state.dry_greeted.add(order_no)
        case ChatMessageReceived(message_id=message_id, nickname=nickname) if message_id:
            state.seen.add(message_id)
            if nickname:
                state.named.add(message_id)
        case ChatNicknameSeen(message_id=message_id):
            state.named.add(message_id)
    return state


def fold(envelopes: Iterable[Envelope], state: State) -> State:
    """Apply `envelopes` in order to `state` and return it."""
    for env in envelopes:
        apply(state, env)
    return state


def apply_step(state: State, step: Step) -> None:
    """Apply a step as the shell takes it: a greeting counts at once, before the event that
    logs it (a ChatSendRequest, or a dry run's DryRunSkipped) comes back through the bus."""
    if isinstance(step, Reply) and step.reason == "greeting":
        state.greeted.add(step.order_no)


# --- the decision -------------------------------------------------------------------------------

def decide(state: State, event, now: float = 0.0) -> list[Step]:
    """What `event` (an order event, or a message `Heard`) calls for, in order.

    A new order gets the greeting once ever. A message is received once per id; a later copy
    of it only tells its sender's nickname (the read copy names it). A counterparty's message
    on the socket containing a keyword gets that keyword's reply (keywords tried in sorted
    order, case-insensitively); history and our own, system or id-less frames get none.
    `now` is not used: nothing the chat decides depends on the time.
    """
    match event:
        case OrderOpened(order_no=order_no):
            if order_no in state.greeted or order_no in state.dry_greeted or not state.greeting:
                return []
            return [Reply(order_no=order_no, content=state.greeting, reason="greeting")]
        case Heard(msg=msg, source=source):
            return _heard(state, msg, source)
    return []


def _heard(state: State, msg: ChatMessage, source: str) -> list[Step]:
    if msg.id and msg.id in state.seen:
        if msg.nickname and msg.id not in state.named:
            return [Emit(ChatNicknameSeen(message_id=msg.id, order_no=msg.order_no,
                                          nickname=msg.nickname))]
        return []
    steps: list[Step] = [Emit(ChatMessageReceived(
        message_id=msg.id, order_no=msg.order_no, msg_type=msg.type, content=msg.content,
        self_sent=msg.self_sent, create_time_ms=msg.create_time or 0, source=source,
        nickname=msg.nickname))]
    if source == "socket" and should_answer(msg):
        keyword = _keyword(state.auto_replies, msg.content)
        if keyword is not None:
            steps.append(Reply(order_no=msg.order_no, content=state.auto_replies[keyword],
                               reason="auto_reply", keyword=keyword))
    return steps


def _keyword(auto_replies: dict[str, str], content: str) -> str | None:
    text = content.lower()
    for keyword in sorted(auto_replies):
        if keyword.lower() in text:
            return keyword
    return None
