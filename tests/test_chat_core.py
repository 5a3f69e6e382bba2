"""The chat actor's pure core: a fold of the log and a decision per order event or message
heard, tested without trio. The shell (actors/chat.py) sends; tests/test_restart.py kills it."""

from actors import chat_core as core
from actors.chat_core import Emit, Heard, Recent, Reply, State
from c2c.models import ChatMessage
from events import (ChatMessageReceived, ChatNicknameSeen, ChatSendRequest, DryRunSkipped,
                    Envelope, OrderOpened, OrderStatusChanged)
from decimal import Decimal as D

GREETING = "Hello! Please pay within the time limit."


def env(seq, event, source="chat"):
    return Envelope(session=1, seq=seq, ts_ms=0, t=float(seq), source=source, cause=None,
                    event=event)


def order(no):
    return OrderOpened(order_no=no, adv_no="A1", side="SELL", asset="USDT", fiat="NGN",
                       amount=D(1), price=D(1), total_price=D(1), status=1, counterparty="Ann",
                       create_time_ms=0)


def state(**kw):
    return State(greeting=GREETING, auto_replies={"paid": "Thanks, checking.",
                                                  "Bank": "Details are in the order."}, **kw)


def msg(mid, content="hi", nick=None, self_sent=False, kind="text"):
    return ChatMessage(type=kind, order_no="o1", id=mid, content=content, self_sent=self_sent,
                       from_nickname=nick)


def test_a_new_order_is_greeted_once_and_a_greeted_one_never_again():
    s = state()
    assert core.decide(s, order("o1")) == [Reply(order_no="o1", content=GREETING,
                                                 reason="greeting")]
    core.apply(s, env(2, ChatSendRequest(order_no="o1", uuid="u", content=GREETING,
                                         reason="greeting")))
    assert core.decide(s, order("o1")) == []
    assert core.decide(State(greeting=""), order("o2")) == []  # no greeting configured


def test_a_greeting_counts_when_decided_even_in_a_dry_run_that_logs_no_request():
    s = state()
    [reply] = core.decide(s, order("o1"))
    core.apply_step(s, reply)
    assert core.decide(s, order("o1")) == []


def test_a_dry_runs_greeting_is_folded_for_the_dry_run_and_not_for_a_later_real_run():
    """A dry run logs what it would have said (DryRunSkipped with the order and the reason):
    its restarted chat does not greet again, but restore does not count it as said."""
    from actors import restore

    log = [env(1, order("o1"), "orders"),
           env(2, DryRunSkipped(endpoint="chat", body=f"o1: {GREETING}", order_no="o1",
                                reason="greeting")),
           env(3, DryRunSkipped(endpoint="chat", body="o2: Thanks, checking.", order_no="o2",
                                reason="auto_reply"))]
    s = core.fold(log, state())
    assert core.decide(s, order("o1")) == []
    assert core.decide(s, order("o2")) != []  # an auto-reply is no greeting
    assert restore.fold(log).greeted == set()


def test_a_status_change_is_no_reason_to_greet():
    assert core.decide(state(), OrderStatusChanged(order_no="o1", old_status=1,
                                                   new_status=2)) == []


def test_the_fold_follows_open_orders_greetings_and_messages_seen():
    s = core.fold([
        env(1, order("o1"), "orders"), env(2, order("o2"), "orders"),
        env(3, OrderStatusChanged(order_no="o2", old_status=1, new_status=4), "orders"),
        env(4, ChatSendRequest(order_no="o1", uuid="u", content=GREETING, reason="greeting")),
        env(5, ChatMessageReceived(message_id="m1", order_no="o1", msg_type="text",
                                   content="hi", self_sent=False, create_time_ms=0,
                                   source="socket", nickname="")),
    ], state())
    assert s.open_orders == {"o1"} and "o1" in s.greeted and "m1" in s.seen
    assert "m1" not in s.named


def test_a_message_is_received_once_and_its_read_copy_only_names_the_sender():
    """Reference §8: each message is pushed twice; only the read copy has fromNickname."""
    s = state()
    [step] = core.decide(s, Heard(msg("m1"), "history"))
    assert isinstance(step, Emit) and isinstance(step.event, ChatMessageReceived)
    core.apply_event(s, step.event)
    assert core.decide(s, Heard(msg("m1"), "socket")) == []
    [named] = core.decide(s, Heard(msg("m1", nick="Ann"), "socket"))
    assert named == Emit(ChatNicknameSeen(message_id="m1", order_no="o1", nickname="Ann"))
    core.apply_event(s, named.event)
    assert core.decide(s, Heard(msg("m1", nick="Ann"), "socket")) == []


def test_a_counterpartys_keyword_on_the_socket_gets_its_reply_once():
    s = state()
    steps = core.decide(s, Heard(msg("m2", "I have PAID via bank"), "socket"))
    assert steps[1:] == [Reply(order_no="o1", content="Details are in the order.",
                               reason="auto_reply", keyword="Bank")]  # sorted: "Bank" < "paid"
    core.apply_event(s, steps[0].event)
    assert core.decide(s, Heard(msg("m2", "I have PAID via bank"), "socket")) == []


def test_history_our_own_and_id_less_messages_get_no_reply():
    s = state()
    for heard in (Heard(msg("m3", "paid"), "history"),
                  Heard(msg("m4", "paid", self_sent=True), "socket"),
                  Heard(msg("", "paid", kind="auto_reply"), "socket")):
        assert [type(step) for step in core.decide(s, heard)] == [Emit]


def test_recent_forgets_the_oldest_past_its_cap():
    r = Recent(["a", "b", "c"], cap=2)
    assert list(r) == ["b", "c"] and "a" not in r and len(r) == 2
