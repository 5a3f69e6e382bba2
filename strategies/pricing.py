"""The pricing strategies: pure, synchronous functions of the book, my ad and the parameters.

Each returns a raw `Quote`; `strategies.pipeline.evaluate` then rounds it to the tick, applies the
bound of the ad's side (a SELL ad's floor, a BUY ad's ceiling), the deadband and the rate cap.
A strategy never reads a clock or does I/O, so the ads actor and the backtester get the same
answer from the same inputs.
"""

from __future__ import annotations

from decimal import Decimal

from msgspec.structs import replace

from events import BookAd, BookSnapshot, MyAd
from strategies.book import competitors, is_better, label, other_side, step_better
from strategies.params import FiltersConfig, StrategyConfig
from strategies.quote import Quote


_UNDERCUT_RULES = ("undercut", "lead_by_one", "already_leading")


def _no_competitor(my_ad: MyAd) -> Quote:
    return Quote(price=None, rule="no_competitor",
                 reason=f"no competitor passes the filters; holding at {my_ad.price}")


def _one_step_ahead(my_ad: MyAd, target_ad: BookAd, step: Decimal, rules: tuple[str, str, str],
                    what: str) -> Quote:
    """Price one step better than `target_ad`; `rules` name (moving, holding, backing up)."""
    target = step_better(my_ad.side, target_ad.price, step)
    about = f"{what} {label(target_ad)} at {target_ad.price}"
    common = {"competitor": target_ad.adv_no, "competitor_price": target_ad.price}
    moving, holding, backing_up = rules
    if my_ad.price == target:
        return Quote(price=None, rule=holding,
                     reason=f"{about}; already one step {step} ahead at {target}", **common)
    if is_better(my_ad.side, my_ad.price, target):
        return Quote(price=target, rule=backing_up,
                     reason=f"{about}; ahead by more than one step, backing up to {target}",
                     **common)
    return Quote(price=target, rule=moving,
                 reason=f"{about}; one step {step} better = {target}", **common)


def undercut(book: BookSnapshot, my_ad: MyAd, cfg: StrategyConfig, filters: FiltersConfig,
             opposite: BookSnapshot | None = None) -> Quote:
    """Price one step better than the best competitor.

    Already exactly one step ahead: hold ("lead_by_one"). Ahead by more: back up to one step
    ahead ("already_leading"), leaving no margin on the table. No competitor: hold
    ("no_competitor") rather than jump to the bound, because an empty list usually means the
    filters are too strict or the book came back short, and the bound is the worst price for me.
    """
    comps = competitors(book, my_ad, filters)
    if not comps:
        return _no_competitor(my_ad)
    return _one_step_ahead(my_ad, comps[0], cfg.step, _UNDERCUT_RULES, "best competitor")


def rank(book: BookSnapshot, my_ad: MyAd, cfg: StrategyConfig, filters: FiltersConfig,
         opposite: BookSnapshot | None = None) -> Quote:
    """Hold rank `cfg.rank`: one step better than the N-th competitor, so N-1 are ahead.

    Staying out of first place avoids price wars. With fewer than N competitors it behaves like
    `undercut`. Competitors tied on price with the N-th one are passed too, so the rank reached
    can be better than N (the exchange's order among equal prices is not known).
    """
    n = max(cfg.rank, 1)
    comps = competitors(book, my_ad, filters)
    if len(comps) < n:
        return undercut(book, my_ad, cfg, filters, opposite)
    return _one_step_ahead(my_ad, comps[n - 1], cfg.step, ("rank", "rank", "rank"),
                           f"competitor #{n}")


def spread(book: BookSnapshot, my_ad: MyAd, cfg: StrategyConfig, filters: FiltersConfig,
           opposite: BookSnapshot | None = None) -> Quote:
    """Undercut, but keep `cfg.min_margin` against the opposite side's best price.

    A SELL ad stays at or above the best buyer's price + min_margin; a BUY ad at or below the
    best seller's price - min_margin. No opposite book (or nobody in it passes the filters):
    hold ("no_opposite"), since the margin cannot be checked.
    """
    if opposite is None:
        return Quote(price=None, rule="no_opposite",
                     reason=f"no {other_side(my_ad.side)} book yet to keep the margin against; "
                            f"holding at {my_ad.price}")
    theirs = competitors(opposite, replace(my_ad, side=opposite.ad_side), filters)
    if not theirs:
        return Quote(price=None, rule="no_opposite",
                     reason=f"nobody in the {opposite.ad_side} book passes the filters; "
                            f"holding at {my_ad.price}")
    anchor = theirs[0]
    bound = (anchor.price + cfg.min_margin if my_ad.side == "SELL"
             else anchor.price - cfg.min_margin)
    quote = undercut(book, my_ad, cfg, filters, opposite)
    candidate = my_ad.price if quote.price is None else quote.price
    if not is_better(my_ad.side, candidate, bound):
        return quote
    return Quote(price=bound, rule="spread", competitor=anchor.adv_no,
                 competitor_price=anchor.price,
                 reason=f"{quote.reason}; but margin {cfg.min_margin} over best "
                        f"{opposite.ad_side.lower()}er {label(anchor)} at {anchor.price} "
                        f"keeps the price at {bound}")
