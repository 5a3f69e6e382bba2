"""The price-war guard: seeing one competitor and my ad ratchet each other, and stopping.

A round is a reprice of mine that undercuts the competitor my previous reprice was priced
against, after that competitor came level with or ahead of the price that reprice set: it
answered me, and I answer it. A reprice that never took effect (refused, failed) leaves my
price where it was, so deciding again from there is no round. `war_rounds` rounds against one
competitor within `war_window_s` are a war. The round that would complete it is not sent: for `war_cooldown_s` from then the guard keeps my price
no better than one step behind the rival (`war_backoff_rank` 0: it holds, or moves to that
price; moves that stay behind it, against other competitors or backing up, pass) or prices for
rank `war_backoff_rank` whoever leads, and says so in the decision's reason under the rule
"war_guard".

The state is a fold of the ads actor's own decisions (`RepriceDecided` with action "reprice",
`PriceWarDetected`), each stamped with the session time it was taken at, so it is rebuilt from
the log by `WarGuard.apply` and never reads a clock: time is passed in.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal

from msgspec.structs import replace

from events import BookSnapshot, MyAd, PriceWarDetected, RepriceDecided
from strategies.book import is_better, label, step_better
from strategies.params import FiltersConfig, StrategyParams, convert
from strategies.rank import RankParams, rank
from strategies.quote import Quote

RULE = "war_guard"


def guard_enabled(cfg: StrategyParams) -> bool:
    """Return whether the war guard acts for `cfg` (`war_guard` unset: on for the strategies
    that chase the best competitor, `chases_best`)."""
    return cfg.chases_best if cfg.war_guard is None else cfg.war_guard


class WarGuard:
    """One ad's war state: the rival of its last reprice, the rounds fought, the cool-down.

    With `acting` False it only watches: wars are still detected and counted (the backtest's
    "without the guard" figures) but no quote is changed and no event is made.
    """

    def __init__(self, side: str, cfg: StrategyParams, *, acting: bool = True) -> None:
        self.side = side
        self.cfg = cfg
        self.acting = acting
        self.rival: str | None = None  # competitor my last reprice was priced against
        self.base: Decimal | None = None  # my price before the first reprice against it
        self.last: Decimal | None = None  # the price my last reprice set
        self.given = Decimal(0)  # price given in this fight's rounds
        self.rounds: deque[float] = deque()
        self.until = -math.inf  # end of the cool-down (session time)
        self.enemy: str | None = None  # the rival of the war in course
        self.wars = 0  # wars seen (started)
        self._started: PriceWarDetected | None = None

    # --- the fold ----------------------------------------------------------------------------

    def apply(self, event: RepriceDecided | PriceWarDetected) -> None:
        """Fold one logged decision of this ad (other events and holds are ignored)."""
        if isinstance(event, PriceWarDetected):
            self._start(event.at, event.competitor)
        elif isinstance(event, RepriceDecided) and event.action == "reprice":
            self.record(event.at, event.old_price, event.new_price, event.competitor,
                        event.competitor_price)

    def record(self, at: float, old: Decimal, new: Decimal | None, competitor: str | None,
               competitor_price: Decimal | None) -> bool:
        """Note a reprice decided at `at` from `old` to `new`, priced against `competitor`.

        Returns:
            Whether it was a round: an answer to the undercut of the rival of my last reprice.
        """
        if new is None:
            return False
        was_round = self._is_round(old, new, competitor, competitor_price)
        self.last = new
        if self.acting and self.in_war(at):
            return False  # the guard's own moves during the cool-down are no rounds
        if was_round:
            self.given += abs(new - old)
            self._expire(at)
            self.rounds.append(at)
            if not self.acting and len(self.rounds) >= self.cfg.war_rounds:
                # Watching only: the war goes on, and it is one war while the rounds keep coming.
                if at >= self.until:
                    self.wars += 1
                self.until = at + self.cfg.war_cooldown_s
            return True
        self.rival, self.base = competitor, old
        self.rounds.clear()
        self.given = Decimal(0)
        return False

    def _is_round(self, old: Decimal, new: Decimal, competitor: str | None,
                  competitor_price: Decimal | None) -> bool:
        return (competitor is not None and competitor == self.rival
                and old == self.last and competitor_price is not None
                and is_better(self.side, new, old)
                and not is_better(self.side, old, competitor_price))

    def _expire(self, now: float) -> None:
        while self.rounds and now - self.rounds[0] > self.cfg.war_window_s:
            self.rounds.popleft()

    def _start(self, at: float, enemy: str | None) -> None:
        self.until = at + self.cfg.war_cooldown_s
        self.enemy = enemy
        self.wars += 1
        self.rounds.clear()

    # --- the decision ------------------------------------------------------------------------

    def in_war(self, now: float) -> bool:
        """Whether a war's cool-down is running at `now`."""
        return now < self.until

    def conceded(self, now: float) -> Decimal:
        """Return the price given in the rounds of the fight with the rival, while rounds or
        a war are on (0 otherwise). Moves of the market between rounds are not counted."""
        if not (self.rounds or self.in_war(now)):
            return Decimal(0)
        return self.given

    def take_started(self) -> PriceWarDetected | None:
        """Return (once) the war that the last `check` started, to be logged."""
        started, self._started = self._started, None
        return started

    def check(self, quote: Quote, book: BookSnapshot, my_ad: MyAd, filters: FiltersConfig,
              opposite: BookSnapshot | None, now: float) -> Quote:
        """Return `quote`, or the guard's hold or back-off when a war is on or starts now."""
        if not self.acting or quote.price is None:
            return quote
        if not self.in_war(now):
            if not self._completes_war(quote, my_ad, now):
                return quote
            self._started = self._war_event(quote, book, my_ad, now)
            self._start(now, quote.competitor)
        return self._during_war(quote, book, my_ad, filters, opposite)

    def _completes_war(self, quote: Quote, my_ad: MyAd, now: float) -> bool:
        if not self._is_round(my_ad.price, quote.price, quote.competitor,
                              quote.competitor_price):
            return False
        self._expire(now)
        return len(self.rounds) + 1 >= self.cfg.war_rounds

    def _war_event(self, quote: Quote, book: BookSnapshot, my_ad: MyAd,
                   now: float) -> PriceWarDetected:
        rival = next((ad for ad in book.ads if ad.adv_no == quote.competitor), None)
        return PriceWarDetected(
            adv_no=my_ad.adv_no, competitor=quote.competitor or "",
            competitor_name=rival.nickname if rival else "", rounds=self.cfg.war_rounds,
            window_s=self.cfg.war_window_s, my_price=my_ad.price,
            competitor_price=quote.competitor_price, base_price=self.base or my_ad.price,
            cooldown_s=self.cfg.war_cooldown_s, backoff_rank=self.cfg.war_backoff_rank, at=now)

    def _during_war(self, quote: Quote, book: BookSnapshot, my_ad: MyAd,
                    filters: FiltersConfig, opposite: BookSnapshot | None) -> Quote:
        cfg = self.cfg
        why = (f"war_guard: a price war ({cfg.war_rounds} answered undercuts within "
               f"{cfg.war_window_s:g} s)")
        if cfg.war_backoff_rank >= 1:
            back = rank(book, my_ad, convert(cfg, RankParams, rank=cfg.war_backoff_rank), filters,
                        opposite)
            if back.price is not None:
                return replace(back, rule=RULE, reason=(
                    f"{back.reason}; {why}: backing off to rank {cfg.war_backoff_rank} for the "
                    f"{cfg.war_cooldown_s:g} s cool-down"))
            return replace(back, rule=RULE, reason=f"{back.reason}; {why}")
        rival = next((ad for ad in book.ads if ad.adv_no == self.enemy), None)
        if rival is None:
            return quote  # the rival left the book: nobody to provoke
        behind = step_better(self.side, rival.price, -cfg.step)
        if not is_better(self.side, quote.price, behind):
            return quote  # no better than one step behind the rival: it has nothing to answer
        stay = f"{why} with {label(rival)}: staying one step behind it"
        if behind == my_ad.price:
            return replace(quote, price=None, rule=RULE, reason=(
                f"{quote.reason}; {stay}, at {behind}, for the {cfg.war_cooldown_s:g} s "
                "cool-down"))
        return replace(quote, price=behind, rule=RULE, competitor=rival.adv_no,
                       competitor_price=rival.price, reason=(
                           f"{quote.reason}; {stay}: {behind} for the {cfg.war_cooldown_s:g} s "
                           "cool-down"))
