"""The orders actor's pure core: a fold of the log and a decision per listing or detail, tested
without trio. The shell (actors/orders.py) carries the steps out; tests/test_restart.py kills it."""

from decimal import Decimal as D

from actors import orders_core as core
from actors.orders_core import (DetailAnswered, Emit, FollowClosed, Forget, Listed, OpenOrder,
                                State, Tried)
from c2c import endpoints
from c2c.models import Order, OrderDetail
from events import Envelope, OrderDetailRefused, OrderOpened, OrderStatusChanged


def env(seq, event, source="orders"):
    return Envelope(session=1, seq=seq, ts_ms=0, t=float(seq), source=source, cause=None,
                    event=event)


def row(no, status=1):
    return Order(order_number=no, order_status=status, adv_no="A1", trade_type="SELL",
                 asset="USDT", fiat="NGN", amount=D("10"), total_price=D("15000"))


def detail(no, status=1):
    return OrderDetail(order_number=no, order_status=status, adv_order_number="A1",
                       trade_type="SELL", asset="USDT", fiat_unit="NGN", amount=D("10"),
                       price=D("1500"), total_price=D("15000"), buyer_nickname="Ann")


def opened(no, status=1):
    return core.opened(row(no, status), detail(no, status))


def test_the_fold_keeps_each_orders_last_status_and_whether_ep13_is_signed():
    state = core.fold([
        env(1, opened("o1")),
        env(2, OrderStatusChanged(order_no="o1", old_status=1, new_status=2)),
        env(3, endpoints.order_detail("orders-3", order_no="o1", signed=False)),
    ])
    assert state.orders == {"o1": 2} and not state.sign_detail
    core.apply(state, env(4, endpoints.order_detail("orders-4", order_no="o1", signed=True)))
    assert state.sign_detail


def test_a_listing_opens_new_orders_reports_changes_and_follows_the_vanished():
    state = State({"known": 1, "paid": 1, "gone": 2, "ended": 4})
    listed = Listed(((row("new"), 10), (row("known"), 10), (row("paid", 2), 11)))
    steps = core.decide(state, listed)
    assert steps == [
        OpenOrder(row("new"), 10),
        Emit(OrderStatusChanged(order_no="paid", old_status=1, new_status=2), 11),
        FollowClosed("gone"),
    ]
    assert core.forgotten(state, listed) == [Forget("ended")]


def test_a_restarted_core_opens_nothing_it_already_opened():
    """The fold of this session's OrderOpened is what keeps a restart from opening again."""
    state = core.fold([env(1, opened("o1"))])
    assert core.decide(state, Listed(((row("o1"), 5),))) == []


def test_a_new_orders_detail_opens_it_with_the_details_values_first():
    answer = DetailAnswered(order_no="o1", detail=detail("o1"), answered=True, cause=7,
                            listed=row("o1"))
    [step] = core.decide(State(), answer)
    assert step == Emit(OrderOpened(
        order_no="o1", adv_no="A1", side="SELL", asset="USDT", fiat="NGN", amount=D("10"),
        price=D("1500"), total_price=D("15000"), status=1, counterparty="Ann",
        create_time_ms=0), 7)
    refused = DetailAnswered(order_no="o1", detail=None, answered=True, cause=7,
                             listed=row("o1"))
    assert core.decide(State(), refused) == []  # tried again at the next poll


def test_a_closed_orders_detail_tells_how_it_ended():
    state = State({"o1": 2, "o1-tried": 1})
    state.follow_tries["o1"] = 1
    steps = core.decide(state, DetailAnswered(order_no="o1", detail=detail("o1", 4),
                                              answered=True, cause=9))
    assert steps == [Tried("o1", 0),
                     Emit(OrderStatusChanged(order_no="o1", old_status=2, new_status=4), 9)]
    core.apply_step(state, steps[0])
    assert state.follow_tries == {}


def test_a_closed_order_binance_keeps_refusing_is_dropped_after_three_answers():
    """Reference §5: EP-13 answers 400 -1102 for an order it does not know. Each refusal is
    logged (OrderDetailRefused) and the fold drops the order at the third."""
    state = State({"o1": 1})
    refused = DetailAnswered(order_no="o1", detail=None, answered=True, cause=3)
    for tries in (1, 2, 3):
        [step] = core.decide(state, refused)
        assert step == Emit(OrderDetailRefused(order_no="o1", tries=tries), 3)
        core.apply_event(state, step.event)
    assert state.orders == {} and state.follow_tries == {}


def test_a_restarted_core_goes_on_counting_a_closed_orders_refusals():
    """The refusals are in the log: a fold of the session so far asks only what is left."""
    log = [env(1, OrderDetailRefused(order_no="o1", tries=1)),
           env(2, OrderDetailRefused(order_no="o1", tries=2))]
    state = core.fold(log, State({"o1": 1}))
    assert state.follow_tries == {"o1": 2}
    [step] = core.decide(state, DetailAnswered(order_no="o1", detail=None, answered=True,
                                                cause=5))
    assert step.event.tries == 3
    core.apply(state, env(6, step.event))
    assert "o1" not in state.orders


def test_an_outage_never_drops_a_closed_order():
    state = State({"o1": 1})
    state.follow_tries["o1"] = 5
    unanswered = DetailAnswered(order_no="o1", detail=None, answered=False, cause=3)
    [step] = core.decide(state, unanswered)
    assert step.event == OrderDetailRefused(order_no="o1", tries=6, answered=False)
    core.apply_event(state, step.event)
    assert state.orders == {"o1": 1}


def test_the_cores_are_pure_no_trio_no_io_no_clock_no_chance():
    """Every actor's core (`actors/*_core.py`: limiter, market, ads, orders, chat, notify)
    imports no trio, no HTTP or socket, no clock and no random: the shells do the I/O; a
    decision is a function of the fold and the event."""
    from pathlib import Path

    from tests.test_seams import top_imports

    actors_dir = Path(__file__).resolve().parents[1] / "actors"
    impure = {"trio", "trio_websocket", "httpx", "time", "datetime", "random", "uuid", "socket"}
    cores = sorted(p.name for p in actors_dir.glob("*_core.py"))
    assert {"ads_core.py", "orders_core.py", "chat_core.py", "market_core.py",
            "notify_core.py", "limiter_core.py"} <= set(cores)
    for core in cores:
        assert top_imports(actors_dir / core) & impure == set(), core
