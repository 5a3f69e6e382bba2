"""`rank`: hold rank N, one step better than the N-th competitor, so N-1 are ahead.

Staying out of first place avoids price wars (the war guard is off for it unless set). With
fewer than N competitors it behaves like `undercut`. Competitors tied on price with the N-th one
are passed too, so the rank reached can be better than N (the exchange's order among equal
prices is not known).
"""

from __future__ import annotations

from typing import ClassVar

from events import BookSnapshot, MyAd
from strategies.book import competitors
from strategies.params import FiltersConfig, StrategyParams
from strategies.quote import Quote
from strategies.spec import StrategySpec
from strategies.undercut import one_step_ahead, undercut


class RankParams(StrategyParams, frozen=True, tag="rank"):
    rank: int = 2  # the place to hold

    chases_best: ClassVar[bool] = False

    def problems(self) -> dict[str, str]:
        return {**super().problems(), **({"rank": " must be >= 1"} if self.rank < 1 else {})}


def rank(book: BookSnapshot, my_ad: MyAd, cfg: RankParams, filters: FiltersConfig,
         opposite: BookSnapshot | None = None) -> Quote:
    """Hold rank `cfg.rank` (see the module's docstring)."""
    n = max(cfg.rank, 1)
    comps = competitors(book, my_ad, filters)
    if len(comps) < n:
        return undercut(book, my_ad, cfg, filters, opposite)
    return one_step_ahead(my_ad, comps[n - 1], cfg.step, ("rank", "rank", "rank"),
                          f"competitor #{n}")


SPEC = StrategySpec(name="rank", fn=rank, params=RankParams,
                    about="hold rank `rank`: one step better than the N-th competitor")
