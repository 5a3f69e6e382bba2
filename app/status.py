"""The live status screen: a fold of the logged events into what a merchant watches.

`StatusView.apply` is fed every envelope through a bus tap; `render()` draws one rich screen: my
ads with price, rank and best competitor, the last reprice and its reason, open orders, requests
per second used, the breaker's state, and realised spread PnL and inventory per market
(app.pnl). `summary()` gives the counts for the end-of-run line, `pnl_lines()` the profit.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from rich.console import Group
from rich.table import Table
from rich.text import Text

from app.pnl import MarketPnl, PnlFold

from events import (ActorFailed, AdPaused, AdRepriced, AdResumed, ApiError, ApiRequest,
                    ApiResponse, BookSnapshot, BreakerClosed, BreakerOpened, ChatMessageReceived,
                    ChatMessageSent, DecodeFailed, Envelope, MyAdsLoaded, OrderOpened,
                    OrderStatusChanged, RepriceDecided)


COMPLETED = 4


class AdView:
    def __init__(self, adv_no: str, side: str, price: Decimal, market: str = "") -> None:
        self.adv_no = adv_no
        self.side = side
        self.market = market  # ASSET/FIAT
        self.price = price
        self.rank: int | None = None
        self.best_other: Decimal | None = None
        self.last_reason = ""
        self.paused = False


class StatusView:
    def __init__(self) -> None:
        self.ads: dict[str, AdView] = {}
        self.orders: dict[str, int] = {}
        self.counts = {"reprices": 0, "orders": 0, "chat_in": 0, "chat_out": 0, "requests": 0,
                       "errors": 0, "actor_failures": 0, "decode_failures": 0, "snapshots": 0}
        self.breaker = "closed"
        self.sent_at: deque[float] = deque()
        self.now = 0.0
        self.pnl = PnlFold()
        # ASSET/FIAT -> its reprices and fills (completed orders), for the end-of-run summary
        self.markets: dict[str, dict[str, int]] = {}
        self._order_market: dict[str, str] = {}
        self._filled: set[str] = set()

    def _fill(self, order_no: str) -> None:
        if order_no in self._order_market and order_no not in self._filled:
            self._filled.add(order_no)
            self._market(self._order_market[order_no])["fills"] += 1

    def _market(self, name: str) -> dict[str, int]:
        return self.markets.setdefault(name, {"reprices": 0, "fills": 0})

    def apply(self, env: Envelope) -> None:
        """Fold one logged event into the view."""
        self.now = env.t
        e = env.event
        match e:
            case MyAdsLoaded(ads=ads):
                for ad in ads:
                    name = f"{ad.asset}/{ad.fiat}"
                    view = self.ads.setdefault(ad.adv_no,
                                               AdView(ad.adv_no, ad.side, ad.price, name))
                    view.price = ad.price
                    self._market(name)
            case BookSnapshot():
                self.counts["snapshots"] += 1
                self._ranks(e)
            case RepriceDecided(adv_no=adv_no, reason=reason) if adv_no in self.ads:
                view = self.ads[adv_no]
                view.last_reason = reason
                # The competitor the decision priced against: the filters' choice, not
                # merely the book's first other ad (which may be one the filters exclude).
                view.best_other = e.competitor_price
            case AdRepriced(adv_no=adv_no, new_price=price):
                self.counts["reprices"] += 1
                if adv_no in self.ads:
                    self.ads[adv_no].price = price
                    self._market(self.ads[adv_no].market)["reprices"] += 1
            case AdPaused(adv_no=adv_no) if adv_no in self.ads:
                self.ads[adv_no].paused = True
            case AdResumed(adv_no=adv_no) if adv_no in self.ads:
                self.ads[adv_no].paused = False
            case OrderOpened(order_no=order_no, status=status):
                self.counts["orders"] += 1
                self.orders[order_no] = status
                self.pnl.apply(e)
                if order_no not in self._order_market:
                    self._order_market[order_no] = f"{e.asset}/{e.fiat}"
                if status == COMPLETED:
                    self._fill(order_no)
            case OrderStatusChanged(order_no=order_no, new_status=status):
                self.pnl.apply(e)
                if status == COMPLETED:
                    self._fill(order_no)
                if status in (1, 2, 3):
                    self.orders[order_no] = status
                else:
                    self.orders.pop(order_no, None)  # only open orders are shown or counted
            case ChatMessageReceived(self_sent=False):
                self.counts["chat_in"] += 1
            case ChatMessageSent():
                self.counts["chat_out"] += 1
            case ApiRequest():
                self.counts["requests"] += 1
                self.sent_at.append(env.t)
                self.requests_per_s()  # trims the window: with no screen, nothing else would
            case ApiError(kind="transport"):
                self.counts["errors"] += 1
            case ApiResponse(status=status) if status >= 400:
                self.counts["errors"] += 1
            case BreakerOpened():
                self.breaker = "OPEN"
            case BreakerClosed():
                self.breaker = "closed"
            case ActorFailed():
                self.counts["actor_failures"] += 1
            case DecodeFailed():
                self.counts["decode_failures"] += 1

    def _ranks(self, snap: BookSnapshot) -> None:
        name = f"{snap.asset}/{snap.fiat}"
        for view in self.ads.values():
            if view.side != snap.ad_side or view.market != name:
                continue
            ranks = [i for i, ad in enumerate(snap.ads, 1) if ad.adv_no == view.adv_no]
            view.rank = ranks[0] if ranks else None

    def requests_per_s(self, window_s: float = 10.0) -> float:
        while self.sent_at and self.sent_at[0] < self.now - window_s:
            self.sent_at.popleft()
        return len(self.sent_at) / window_s

    def open_orders(self) -> int:
        return sum(1 for s in self.orders.values() if s in (1, 2, 3))

    def profit(self) -> list[MarketPnl]:
        """Realised spread PnL and inventory per market, from this session's fills."""
        return self.pnl.figures()

    def pnl_lines(self) -> list[str]:
        """One line per market with a fill; one saying so when nothing was filled."""
        return [m.line() for m in self.profit()] or ["no completed orders this session"]

    def market_lines(self) -> list[str]:
        """One line per market (ASSET/FIAT) with my ads or orders: its reprices and fills."""
        return [f"{name}: reprices={m['reprices']} fills={m['fills']}"
                for name, m in self.markets.items()]

    def render(self) -> Group:
        """One screen of status."""
        table = Table(title="my ads", expand=True)
        for col in ("market", "advNo", "side", "price", "rank", "best competitor",
                    "last decision"):
            table.add_column(col, overflow="fold")
        for v in self.ads.values():
            table.add_row(v.market, v.adv_no, v.side,
                          f"{v.price}{' (paused)' if v.paused else ''}",
                          str(v.rank or "-"), str(v.best_other or "-"), v.last_reason[:80])
        c = self.counts
        line = Text(
            f"t={self.now:6.1f}s  req/s={self.requests_per_s():.2f}  breaker={self.breaker}  "
            f"reprices={c['reprices']}  open orders={self.open_orders()}  orders={c['orders']}  "
            f"chat in/out={c['chat_in']}/{c['chat_out']}  errors={c['errors']}")
        profit = Text("profit  " + "  |  ".join(self.pnl_lines()))
        return Group(table, line, profit)
