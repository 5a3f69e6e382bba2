"""`undercut`: one step better than the best competitor.

Already exactly one step ahead: hold ("lead_by_one"). Ahead by more: back up to one step ahead
("already_leading"), leaving no margin on the table. No competitor: hold ("no_competitor") rather
than jump to the bound, because an empty list usually means the filters are too strict or the
book came back short, and the bound is the worst price for me.

A strategy is a pure, synchronous function of the book, my ad and its parameters: it returns a
raw `Quote`, which `strategies.pipeline.evaluate` then rounds, bounds and gates. It never reads a
clock or does I/O, so the ads actor and the backtester get the same answer from the same inputs.
"""

from __future__ import annotations

from decimal import Decimal

from events import BookAd, BookSnapshot, MyAd
from strategies.book import competitors, is_better, label, step_better
from strategies.params import FiltersConfig, StrategyParams
from strategies.quote import Quote
from strategies.spec import StrategySpec

_RULES = ("undercut", "lead_by_one", "already_leading")


class UndercutParams(StrategyParams, frozen=True, tag="undercut"):
    """`undercut` takes the common keys only."""


def no_competitor(my_ad: MyAd) -> Quote:
    """Hold: nobody passes the filters."""
    return Quote(price=None, rule="no_competitor",
                 reason=f"no competitor passes the filters; holding at {my_ad.price}")


def one_step_ahead(my_ad: MyAd, target_ad: BookAd, step: Decimal, rules: tuple[str, str, str],
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


def undercut(book: BookSnapshot, my_ad: MyAd, cfg: StrategyParams, filters: FiltersConfig,
             opposite: BookSnapshot | None = None) -> Quote:
    """Price one step better than the best competitor (see the module's docstring)."""
    comps = competitors(book, my_ad, filters)
    if not comps:
        return no_competitor(my_ad)
    return one_step_ahead(my_ad, comps[0], cfg.step, _RULES, "best competitor")


SPEC = StrategySpec(name="undercut", fn=undercut, params=UndercutParams,
                    about="one step better than the best competitor")
