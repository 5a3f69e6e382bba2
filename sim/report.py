"""What only the exchange can measure: request rate, limit violations and reaction time."""

from __future__ import annotations

import math
from decimal import Decimal

import msgspec


class ReactionTracker:
    """Time from a competitor taking rank 1 from a bot ad to that ad being rank 1 again.

    A loss counts only when a competitor's price change caused it; the bot moving its own ad down
    is not a loss. An ad that leaves the book (offline, sold out) drops its pending loss, since
    the bot chose to stop competing.
    """

    def __init__(self) -> None:
        self._leading: dict[str, bool] = {}
        self._lost_at: dict[str, float] = {}
        self.reactions: dict[str, list[float]] = {}

    def observe(self, adv_no: str, leads: bool | None, now: float, competitor_moved: bool) -> None:
        """Record the ad's standing after a change in the book.

        Args:
            leads: True at rank 1, False listed lower, None not listed.
            competitor_moved: the change was a competitor's price move.
        """
        was = self._leading.get(adv_no, False)
        if leads is None:
            self._lost_at.pop(adv_no, None)
        elif was and not leads and competitor_moved:
            self._lost_at[adv_no] = now
        elif leads and adv_no in self._lost_at:
            took = round(now - self._lost_at.pop(adv_no), 6)
            self.reactions.setdefault(adv_no, []).append(took)
        self._leading[adv_no] = bool(leads)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


class SimReport(msgspec.Struct, frozen=True, kw_only=True):
    """The exchange-side truth about one run.

    Attributes:
        requests_by_endpoint: "EP-0", "EP-7", "TIME", "OTHER", ...
        max_requests_1s: most requests received in any sliding 1-second window.
        violations: requests refused with 429 by the 5-per-second rule (faults not included).
        soft_limit_hits: EP-0 pages answered empty because they came < 100 ms after the last.
        reprices_refused: EP-7 refusals by code ("187049", "187055", "-1021", ...).
        filled_volume: crypto completed per bot ad.
        reactions: seconds (trio clock) per bot ad, in order.
    """

    duration_s: float
    requests_total: int
    requests_by_endpoint: dict[str, int]
    max_requests_1s: int
    violations: int
    soft_limit_hits: int
    faults_injected: int
    reprices_accepted: int
    reprices_refused: dict[str, int]
    orders_opened: dict[str, int]
    filled_volume: dict[str, Decimal]
    chat_frames_from_bot: int
    reactions: dict[str, tuple[float, ...]]
    reaction_p50_s: float | None
    reaction_p95_s: float | None

    def render(self) -> str:
        """Return the report as a few readable lines."""
        return render(self)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}s"


def render(report: SimReport) -> str:
    """Return `report` as a few readable lines."""
    by_ep = ", ".join(f"{k} {v}" for k, v in sorted(report.requests_by_endpoint.items()))
    refused = ", ".join(f"{k} x{v}" for k, v in sorted(report.reprices_refused.items())) or "none"
    lines = [
        f"simulator report over {report.duration_s:.1f}s",
        f"  requests       {report.requests_total} ({by_ep or 'none'})",
        f"  max in 1s      {report.max_requests_1s}   violations (429) {report.violations}"
        f"   EP-0 soft-limit hits {report.soft_limit_hits}"
        f"   faults injected {report.faults_injected}",
        f"  reprices       accepted {report.reprices_accepted}, refused {refused}",
        f"  chat frames    from the bot {report.chat_frames_from_bot}",
    ]
    for adv_no, count in sorted(report.orders_opened.items()):
        filled = report.filled_volume.get(adv_no, Decimal("0"))
        lines.append(f"  ad {adv_no}  orders {count}  filled {filled}")
    every = [r for rs in report.reactions.values() for r in rs]
    lines.append(
        f"  reaction time  n={len(every)} p50 {_fmt(report.reaction_p50_s)}"
        f" p95 {_fmt(report.reaction_p95_s)}"
    )
    return "\n".join(lines)
