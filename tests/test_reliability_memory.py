"""A long run's memory stays bounded: what the actors and the status view keep does not grow with
every request, order and chat message forever (bench/soak.py measures the process itself)."""

from __future__ import annotations

from decimal import Decimal

from actors.chat import Recent
from app.status import StatusView
from events import ApiRequest, Envelope, OrderOpened, OrderStatusChanged


def _env(seq: int, t: float, event) -> Envelope:
    return Envelope(session=1, seq=seq, ts_ms=seq, t=t, source="test", cause=None, event=event)


def test_a_quiet_status_view_keeps_only_the_last_ten_seconds_of_requests():
    view = StatusView()  # `live --quiet`: no screen ever renders it
    request = ApiRequest(request_id="market-1", endpoint="EP-0", method="POST", base="bapi",
                         path="/bapi/c2c/v2/friendly/c2c/adv/search")
    for i in range(50_000):  # a day and more at 5 requests per second, compressed
        view.apply(_env(i + 1, i * 0.2, request))
    assert len(view.sent_at) <= 51
    assert view.counts["requests"] == 50_000
    assert 5.0 <= view.requests_per_s() <= 5.1  # still right: 5 requests per second


def test_the_status_view_forgets_orders_once_they_end():
    view = StatusView()
    seq = 0
    for n in range(1000):
        order_no = f"order-{n}"
        seq += 1
        view.apply(_env(seq, seq, OrderOpened(
            order_no=order_no, adv_no="111", side="SELL", asset="USDT", fiat="NGN",
            amount=Decimal("10"), price=Decimal("1600"), total_price=Decimal("16000"), status=1)))
        seq += 1
        view.apply(_env(seq, seq, OrderStatusChanged(order_no=order_no, old_status=1,
                                                     new_status=4 if n % 2 else 6)))
    view.apply(_env(seq + 1, seq + 1, OrderOpened(
        order_no="still-open", adv_no="111", side="SELL", asset="USDT", fiat="NGN",
        amount=Decimal("10"), price=Decimal("1600"), total_price=Decimal("16000"), status=1)))
    assert view.orders == {"still-open": 1} and view.open_orders() == 1
    assert view.counts["orders"] == 1001


def test_chat_remembers_recent_ids_and_forgets_only_the_oldest_past_its_cap():
    seen = Recent(["a", "b"], cap=3)
    for item in ("c", "d"):
        seen.add(item)
    assert "a" not in seen and all(x in seen for x in "bcd") and len(seen) == 3
    seen.add("b")  # seen again: still counted once
    assert len(seen) == 3
