"""The backtest loop: fold recorded BookSnapshots through strategies, one plain synchronous pass.

No trio and no clock: a snapshot's time is its envelope's `t`, and each strategy decides through
`actors.ads_core.decide_one`, the live ads actor's own decision (strategy, Binance's cool-down,
rate cap and gap). Several strategies share one pass
over the log, so the log is read and decoded once however many are compared.

Each strategy gets one virtual ad per (asset, fiat, side) seen in the books. It starts from my
recorded ad of that side in the session's first MyAdsLoaded when there is one (price, limits,
pay methods, surplus). Otherwise it starts at the best other ad's price of the first snapshot,
with no pay-method restriction, limits 0 to unlimited, an unlimited surplus and the price scale
of the book's prices. Sessions are independent: each starts fresh, its `t` shifted to follow the
previous session on one time line.

Incomplete snapshots (a page failed, or EP-0's soft limit answered an empty page) are priced like
any other, because the live ads actor decides on every BookSnapshot it receives whatever
`complete` says, and the backtest must take the same decisions. The opposite book a strategy
sees is likewise the latest snapshot of the other side, complete or not. What the fill model and
the rank see instead is the book patched with the ads that the short snapshot left out, as last
seen (`patch_book`): an ad missing from one page is not a trade, nor a place in the queue lost.
The fill model is in `backtest.fills` (its choice model, fitted on the recording by `survey`,
in `backtest.choice`), the metrics in `backtest.metrics`. The orders between two snapshots and
the mid of the two books are worked out once per snapshot and shared by every strategy.
A `window` (start, end) in the pass's time line (as `survey` measures it) runs the strategies
only on the snapshots inside it, the books before it still read, for a walk-forward.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal

import msgspec

from actors.config import BacktestConfig
from events import BacktestCompleted, BookSnapshot, Envelope, MyAd, MyAdsLoaded
from backtest.choice import Calibration, calibrate, orders_of
from backtest.fills import detect_orders
from backtest.side import RunSpec, Seen, SideRun, Trace, patch_book, virtual_ad
from backtest.metrics import Metrics, Money
from backtest.wars import WarCost
from strategies.book import market_best, other_side

PROGRESS_EVERY = 2048


class SessionTape(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded session to backtest: my ads as first loaded, and its snapshots in order.

    `envelopes` may hold any events (only BookSnapshots are used) and may be a lazy iterator
    straight from the log.
    """

    session: int
    my_ads: tuple[MyAd, ...] = ()
    envelopes: Iterable[Envelope] = ()


class StrategyResult(msgspec.Struct, kw_only=True):
    """One strategy's outcome: the event to log, per-side fill figures and, if asked, a trace."""

    spec: RunSpec
    summary: BacktestCompleted
    sell_volume: Decimal
    buy_volume: Decimal
    sell_vwap: Decimal | None
    buy_vwap: Decimal | None
    money: Money | None = None
    fills: Decimal = Decimal(0)  # the expected number of orders
    trace: Trace | None = None
    war_cost: WarCost | None = None  # backtest.wars: the ratchet and fiat given away in wars
    guard_wars: int = 0  # wars as the war guard sees them (acting or only watching)


class Survey(msgspec.Struct, frozen=True, kw_only=True):
    """What a first read of the recording gives the backtest: the fill model's calibration and
    the pass's time line (start and end, for a walk-forward split)."""

    calibration: Calibration
    start: float = 0.0
    end: float = 0.0

    def split(self, fraction: float) -> tuple[tuple[float, float], tuple[float, float]]:
        """Return the windows before and after `fraction` of the time line."""
        cut = self.start + (self.end - self.start) * fraction
        return (self.start, cut), (cut, self.end)


def survey(tapes: Iterable[SessionTape], reprices: Iterable[Envelope] = (),
           cfg: BacktestConfig = BacktestConfig()) -> Survey:
    """Read the tapes once to fit the fill model and measure the time line.

    Args:
        tapes: the sessions, in order (read once).
        reprices: their RepriceDecided and AdRepriced envelopes (the reaction time).
        cfg: the [backtest] settings.
    """
    line = {"offset": 0.0, "start": None, "end": 0.0}

    def snapshots(tape: SessionTape) -> Iterator[BookSnapshot]:
        for env in tape.envelopes:
            if isinstance(env.event, BookSnapshot):
                t = env.t + line["offset"]
                line["start"] = t if line["start"] is None else line["start"]
                line["end"] = t
                yield env.event
        line["offset"] = line["end"]

    found = [o for tape in tapes for o in orders_of(snapshots(tape), cfg.price_tolerance)]
    return Survey(calibration=calibrate(found, reprices, cfg), start=line["start"] or 0.0,
                  end=line["end"])


def tape_of(session: int, envelopes: Sequence[Envelope]) -> SessionTape:
    """Build a SessionTape from a session's events in memory (its first MyAdsLoaded, if any)."""
    loaded = next((e.event for e in envelopes if isinstance(e.event, MyAdsLoaded)), None)
    return SessionTape(session=session, my_ads=loaded.ads if loaded else (),
                       envelopes=envelopes)


class _Runner:
    """One strategy across the whole run: its metrics, its trace and its per-side states."""

    def __init__(self, spec: RunSpec, trace: bool, calibration: Calibration) -> None:
        self.spec = spec
        self.calibration = calibration
        self.metrics = Metrics(calibration.fee_rate)
        self.trace = Trace() if trace else None
        if self.trace is not None:
            self.metrics.equity.curve = self.trace.equity
        self.sides: dict[tuple[str, str, str], SideRun] = {}
        self.war_cost = WarCost()
        self.guard_wars = 0

    def start_session(self) -> None:
        """Close the sides of the session before (their price wars count) and start afresh."""
        for side in self.sides.values():
            self.metrics.wars += side.close()
            self.war_cost.add(side.war_cost)
            self.guard_wars += side.guard.wars
        self.sides = {}

    def step(self, t: float, key: tuple[str, str, str], snap: BookSnapshot, seen: Seen,
             my_ads: tuple[MyAd, ...]) -> None:
        side = self.sides.get(key)
        if side is None:
            ad = virtual_ad(seen.book, my_ads)
            side = self.sides[key] = SideRun(self.spec, ad, self.metrics, self.trace,
                                             self.calibration)
        side.step(t, snap, seen)
        self.metrics.equity.mark(t, seen.mid)


class _Pass:
    """One read of the tapes feeding every runner, session by session."""

    def __init__(self, specs: Sequence[RunSpec], trace: bool,
                 on_progress: Callable[[int], None] | None, calibration: Calibration,
                 window: tuple[float, float] | None) -> None:
        self.runners = [_Runner(spec, trace, calibration) for spec in specs]
        self.tolerance = calibration.tolerance
        self.window = window
        self.best = Trace() if trace else None
        self.on_progress = on_progress
        self.sessions: list[int] = []
        self.done = 0
        self.offset = self.duration = 0.0

    def session(self, tape: SessionTape) -> None:
        self.sessions.append(tape.session)
        for runner in self.runners:
            runner.start_session()
        first = last = end = None
        books: dict[tuple[str, str, str], BookSnapshot] = {}  # as the live actor holds them
        patched: dict[tuple[str, str, str], BookSnapshot] = {}  # what fills and ranks read
        for env in tape.envelopes:
            snap = env.event
            if not isinstance(snap, BookSnapshot):
                continue
            t = env.t + self.offset
            end = t
            key = (snap.asset, snap.fiat, snap.ad_side)
            prev = patched.get(key)
            book = snap if snap.complete or prev is None else patch_book(prev, snap)
            patched[key] = book
            opposite = (snap.asset, snap.fiat, other_side(snap.ad_side))
            if self.window is None or self.window[0] <= t <= self.window[1]:
                last = t
                first = t if first is None else first
                seen = Seen(book=book, prev=prev, opposite=books.get(opposite),
                            orders=tuple(detect_orders(prev, book, self.tolerance))
                            if prev is not None else (),
                            mid=_mid(book, patched.get(opposite)))
                for runner in self.runners:
                    runner.step(t, key, snap, seen, tape.my_ads)
                self._count(t, book)
            books[key] = snap
        if first is not None:
            self.duration += last - first
        if end is not None:
            self.offset = end

    def _count(self, t: float, snap: BookSnapshot) -> None:
        if self.best is not None:
            best = market_best(snap)
            self.best.add_price(snap.ad_side, t, best.price if best else None)
        self.done += 1
        if self.on_progress is not None and self.done % PROGRESS_EVERY == 0:
            self.on_progress(self.done)

    def finish(self) -> list[StrategyResult]:
        for runner in self.runners:
            runner.start_session()
        if self.on_progress is not None:
            self.on_progress(self.done)
        sessions = tuple(self.sessions)
        return [_result(r, sessions, self.done, self.duration, self.best) for r in self.runners]


def _mid(book: BookSnapshot, opposite: BookSnapshot | None) -> Decimal | None:
    if opposite is None:
        return None
    a, b = market_best(book), market_best(opposite)
    return (a.price + b.price) / 2 if a is not None and b is not None else None


def run_backtest(tapes: Iterable[SessionTape], specs: Sequence[RunSpec], *, trace: bool = False,
                 on_progress: Callable[[int], None] | None = None,
                 calibration: Calibration | None = None,
                 window: tuple[float, float] | None = None) -> list[StrategyResult]:
    """Run every spec over every tape's snapshots in one pass and return one result per spec.

    Args:
        tapes: the sessions, in order.
        specs: the strategies with their parameters.
        trace: also keep the price and fill series a plot needs.
        on_progress: called with the number of snapshots done, every few thousand.
        calibration: the fill model's parameters (`survey`); None: the defaults.
        window: run the strategies only from `window[0]` to `window[1]` seconds of the pass's
            time line.
    """
    run = _Pass(specs, trace, on_progress, calibration or Calibration(), window)
    for tape in tapes:
        run.session(tape)
    return run.finish()


def _result(runner: _Runner, sessions: tuple[int, ...], snapshots: int, duration: float,
            best_trace: Trace | None) -> StrategyResult:
    m = runner.metrics
    m.snapshots = snapshots
    rank1, top3 = m.shares()
    money = m.money()
    summary = BacktestCompleted(
        strategy=runner.spec.name, params=runner.spec.params_json(), source_sessions=sessions,
        snapshots=snapshots, filled_volume=m.volume, vwap=m.vwap(), vs_best=m.vs_best(),
        margin=m.margin(), share_rank1=rank1, share_top3=top3, reprices=m.reprices,
        requests_per_s=m.requests_per_s(duration), price_wars=m.wars,
        vwap_sell=m.sides["SELL"].vwap(), vwap_buy=m.sides["BUY"].vwap(),
        filters=runner.spec.filters_json(), fills=m.fills.quantize(Decimal("0.01")),
        pnl=money.pnl, equity=money.equity, fees=money.fees, max_drawdown=money.max_drawdown,
        pnl_ci_low=money.pnl_ci[0] if money.pnl_ci else None,
        pnl_ci_high=money.pnl_ci[1] if money.pnl_ci else None,
        war_ratchet=runner.war_cost.ratchet, war_cost=runner.war_cost.fiat)
    trace = runner.trace
    if trace is not None and best_trace is not None:
        trace.best = best_trace.best
    return StrategyResult(
        spec=runner.spec, summary=summary, sell_volume=m.sides["SELL"].volume,
        buy_volume=m.sides["BUY"].volume, sell_vwap=summary.vwap_sell,
        buy_vwap=summary.vwap_buy, money=money, fills=m.fills, trace=trace,
        war_cost=runner.war_cost, guard_wars=runner.guard_wars)
