"""The live web page: a read-only view of the running bot, pushed to the browser as the bus moves.

`WebView.apply` is a bus tap (like `app.status.StatusView`): it folds every logged event into what
the page shows (my ads with price, rank and the competitor the last decision priced against, the
decision feed, orders and their chat, the limiter's budget use and breakers, a price history per
ad) and wakes the page's stream. `make_app` is the ASGI app: `/` the page, `/web.js` its script,
`/state` one JSON snapshot, `/events` a Server-Sent Events stream of snapshots, at most a few a
second and only when something changed. Nothing polls the database, and the page fetches nothing
but these (its Content-Security-Policy says so).

Binding: 127.0.0.1 by default. Any other address needs BOT_WEB_TOKEN in the environment, and then
every request must carry it (`?token=` or `Authorization: Bearer`); `web_bind` refuses otherwise.
"""

from __future__ import annotations

import hmac
import json
from collections import deque
from functools import partial
from pathlib import Path
from urllib.parse import parse_qs

import trio

from events import (AdPaused, AdRepriced, AdResumed, AlertFailed, AlertSent, ApiError,
                    ApiResponse, BookSnapshot, BreakerClosed, BreakerOpened, ChatMessageReceived,
                    ChatMessageSent, Envelope, LimiterBackoff, MyAdsLoaded, OrderOpened,
                    OrderStatusChanged, RepriceDecided, RunStopped)

STATIC = Path(__file__).parent / "static"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
ORDER_STATUS = {1: "awaiting payment", 2: "paid, awaiting release", 3: "appealing",
                4: "completed", 6: "cancelled", 7: "cancelled by system"}
HISTORY = 600  # price points kept per ad for the chart


class WebError(Exception):
    """The --web value cannot be served (bad address, or a public bind without a token)."""


def web_bind(value: str, environ) -> tuple[str, int, str | None]:
    """Parse `--web [HOST:]PORT` into (host, port, token); the token is BOT_WEB_TOKEN or None.

    Raises:
        WebError: not HOST:PORT, or a bind beyond loopback without BOT_WEB_TOKEN.
    """
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or int(port) > 65535:
        raise WebError(f"--web takes [HOST:]PORT, not {value!r}")
    token = environ.get("BOT_WEB_TOKEN") or None
    if host not in LOOPBACK and token is None:
        raise WebError(f"--web {value} serves beyond this machine: set BOT_WEB_TOKEN in the "
                       f"environment (every request must then carry it)")
    return host, int(port), token


def _money(value) -> str | None:
    return None if value is None else str(value)


class WebView:
    """What the page shows, folded from the bus's events."""

    def __init__(self, rps: float = 5.0) -> None:
        self.rps = rps
        self.ads: dict[str, dict] = {}
        self.history: dict[str, deque] = {}
        self.decisions: deque[dict] = deque(maxlen=40)
        self.orders: dict[str, dict] = {}
        self.answers: deque[float] = deque()  # trio time of each call's answer, last 10 s
        self.breakers: dict[str, str] = {}
        self.paused_until: dict[str, float] = {}
        self.counts = {"reprices": 0, "orders": 0, "alerts_sent": 0, "alerts_failed": 0}
        self.nicknames: dict[str, str] = {}
        self.now = 0.0
        self.stopped = ""
        self.version = 0
        self._changed = trio.Event()

    def apply(self, env: Envelope) -> None:
        """Fold one logged event; wake the page's streams when the page would change."""
        self.now = env.t
        if self._fold(env.t, env.event):
            self.version += 1
            self._changed.set()

    def _fold(self, t: float, e) -> bool:
        match e:
            case MyAdsLoaded(ads=ads):
                for ad in ads:
                    view = self.ads.setdefault(ad.adv_no, {
                        "adv_no": ad.adv_no, "side": ad.side, "market": f"{ad.asset}/{ad.fiat}",
                        "rank": None, "competitor": None, "decision": None, "paused": False})
                    view["price"] = str(ad.price)
                    self._point(ad.adv_no, t, mine=ad.price)
            case BookSnapshot():
                return self._ranks(e)
            case RepriceDecided() if e.adv_no in self.ads:
                self._decided(t, e)
            case AdRepriced(adv_no=adv_no, new_price=price) if adv_no in self.ads:
                self.counts["reprices"] += 1
                self.ads[adv_no]["price"] = str(price)
                self._point(adv_no, t, mine=price)
            case AdPaused(adv_no=adv_no) | AdResumed(adv_no=adv_no) if adv_no in self.ads:
                self.ads[adv_no]["paused"] = isinstance(e, AdPaused)
            case OrderOpened():
                self.counts["orders"] += 1
                self.orders[e.order_no] = {
                    "order_no": e.order_no, "adv_no": e.adv_no, "side": e.side,
                    "amount": str(e.amount), "asset": e.asset, "price": str(e.price),
                    "total": str(e.total_price), "fiat": e.fiat, "status": ORDER_STATUS.get(
                        e.status, str(e.status)), "counterparty": e.counterparty, "chat": []}
                self._trim_orders()
            case OrderStatusChanged(order_no=no, new_status=s) if no in self.orders:
                self.orders[no]["status"] = ORDER_STATUS.get(s, str(s))
            case ChatMessageReceived(order_no=no) if no in self.orders and e.msg_type == "text":
                chat = self.orders[no]["chat"]
                if e.self_sent and any(m["who"] == "bot" and m["text"] == e.content
                                       for m in chat):
                    return False  # the socket's copy of what the bot sent
                self._chat(no, t, "me" if e.self_sent else (e.nickname or "them"), e.content)
            case ChatMessageSent(order_no=no) if no in self.orders:
                self._chat(no, t, "bot", e.content)
            case ApiResponse() | ApiError(kind="transport"):
                self.answers.append(t)
                self._trim(t)
                return False  # the budget is drawn with the next change, not on every answer
            case BreakerOpened(host=host):
                self.breakers[host or "api"] = "open"
            case BreakerClosed(host=host):
                self.breakers[host or "api"] = "closed"
            case LimiterBackoff(host=host, delay_s=delay):
                self.paused_until[host or "api"] = t + delay
            case AlertSent():
                self.counts["alerts_sent"] += 1
            case AlertFailed():
                self.counts["alerts_failed"] += 1
            case RunStopped(message=message):
                self.stopped = message
            case _:
                return False
        return True

    def _decided(self, t: float, e: RepriceDecided) -> None:
        view = self.ads[e.adv_no]
        if e.competitor is not None:
            view["competitor"] = {"adv_no": e.competitor, "price": _money(e.competitor_price),
                                  "nickname": self.nicknames.get(e.competitor, "")}
            self._point(e.adv_no, t, competitor=e.competitor_price)
        view["decision"] = {"action": e.action, "rule": e.rule, "reason": e.reason}
        self.decisions.appendleft({
            "t": round(t, 1), "adv_no": e.adv_no, "action": e.action, "rule": e.rule,
            "reason": e.reason, "old": _money(e.old_price), "new": _money(e.new_price),
            "clamp": e.clamp})

    def _ranks(self, snap: BookSnapshot) -> bool:
        changed = False
        for ad in snap.ads:
            self.nicknames[ad.adv_no] = ad.nickname
        for view in self.ads.values():
            if view["side"] != snap.ad_side or view["market"] != f"{snap.asset}/{snap.fiat}":
                continue
            rank = next((i for i, ad in enumerate(snap.ads, 1) if ad.adv_no == view["adv_no"]),
                        None)
            changed |= rank != view["rank"]
            view["rank"] = rank
        return changed

    def _point(self, adv_no: str, t: float, *, mine=None, competitor=None) -> None:
        points = self.history.setdefault(adv_no, deque(maxlen=HISTORY))
        last = points[-1] if points else {"mine": None, "competitor": None}
        point = {"t": round(t, 2),
                 "mine": str(mine) if mine is not None else last["mine"],
                 "competitor": str(competitor) if competitor is not None else last["competitor"]}
        if (point["mine"], point["competitor"]) != (last["mine"], last["competitor"]):
            points.append(point)

    def _chat(self, order_no: str, t: float, who: str, text: str) -> None:
        chat = self.orders[order_no]["chat"]
        chat.append({"t": round(t, 1), "who": who, "text": text})
        del chat[:-20]

    def _trim_orders(self, keep: int = 30) -> None:
        for no in list(self.orders)[:-keep]:
            del self.orders[no]

    def _trim(self, now: float) -> None:
        while self.answers and self.answers[0] < now - 10.0:
            self.answers.popleft()

    def state(self) -> dict:
        """The page's data: JSON-ready, money as strings."""
        self._trim(self.now)
        last_s = sum(1 for t in self.answers if t >= self.now - 1.0)
        ads = [dict(v, history=list(self.history.get(k, ()))) for k, v in self.ads.items()]
        return {
            "t": round(self.now, 1), "version": self.version, "stopped": self.stopped,
            "ads": ads, "decisions": list(self.decisions),
            "orders": list(reversed(self.orders.values())), "counts": self.counts,
            "limiter": {"rps": self.rps, "last_s": last_s,
                        "per_s_10s": round(len(self.answers) / 10.0, 2),
                        "use": round(len(self.answers) / (10.0 * self.rps), 3),
                        "breakers": self.breakers,
                        "paused": {h: round(u - self.now, 1) for h, u in
                                   self.paused_until.items() if u > self.now}}}

    async def wait_changed(self, version: int) -> None:
        """Wait until the view is newer than `version`."""
        while self.version <= version:
            if self._changed.is_set():
                self._changed = trio.Event()
            await self._changed.wait()


# --- the ASGI app -------------------------------------------------------------------------------

HEADERS = [(b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"),
           (b"content-security-policy",
            b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            b"img-src 'self' data:")]
FILES = {"/": ("web.html", b"text/html; charset=utf-8"),
         "/web.js": ("web.js", b"text/javascript; charset=utf-8"),
         "/web.css": ("web.css", b"text/css; charset=utf-8")}


def authorized(scope, token: str | None) -> bool:
    """True when no token is required, or the request carries it (query or Bearer header)."""
    if token is None:
        return True
    given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
    for name, value in scope.get("headers", ()):
        if name == b"authorization" and value.startswith(b"Bearer "):
            given = value[7:].decode("latin-1")
    return hmac.compare_digest(given.encode(), token.encode())


def make_app(view: WebView, token: str | None = None, *, push_every_s: float = 0.25):
    """The page's ASGI app over `view`; with `token`, every request must carry it."""

    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if not authorized(scope, token):
            await _reply(send, 401, b"text/plain", b"a token is required\n")
        elif scope["method"] not in ("GET", "HEAD"):
            await _reply(send, 405, b"text/plain", b"read-only\n")
        elif scope["path"] in FILES:
            name, kind = FILES[scope["path"]]
            await _reply(send, 200, kind, (STATIC / name).read_bytes())
        elif scope["path"] == "/state":
            await _reply(send, 200, b"application/json", json.dumps(view.state()).encode())
        elif scope["path"] == "/events":
            await _stream(view, receive, send, push_every_s)
        else:
            await _reply(send, 404, b"text/plain", b"not found\n")

    return app


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _reply(send, status: int, kind: bytes, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", kind), *HEADERS]})
    await send({"type": "http.response.body", "body": body})


async def _stream(view: WebView, receive, send, every_s: float) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), *HEADERS]})
    async with trio.open_nursery() as nursery:
        async def _gone() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            nursery.cancel_scope.cancel()

        nursery.start_soon(_gone)
        version = -1
        while True:
            with trio.move_on_after(15.0):
                await view.wait_changed(version)
            version = view.version
            data = json.dumps(view.state()).encode()
            await send({"type": "http.response.body", "body": b"data: " + data + b"\n\n",
                        "more_body": True})
            await trio.sleep(every_s)  # a busy bus is drawn a few times a second, not per event


async def serve_web(view: WebView, host: str = "127.0.0.1", port: int = 0,
                    token: str | None = None, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Serve the page on host:port with hypercorn; never returns unless cancelled.

    Returns (through `nursery.start`): the page's URL (with `?token=...` left out).
    """
    from hypercorn.config import Config  # imported when a page is served, not on every start
    from hypercorn.trio import serve

    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None  # a query token must not reach a log
    config.loglevel = "WARNING"
    config.graceful_timeout = 0.5
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(serve, make_app(view, token), config))
        task_status.started(binds[0].replace("0.0.0.0", host) + "/")
