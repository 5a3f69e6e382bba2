"""What only the exchange can measure: request rate, limit violations, refusals by code, the
chat it pushed, and reaction time."""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from sim.chat import ChatStats
    from sim.orders import OrderDesk
    from sim.wire import Response


def refusal_code(resp: Response) -> str:
    """The code a refusal carries: the inner code of a -9000 wrapper, the JSON `code`, or the
    HTTP status when the body has none (HTML, empty)."""
    try:
        body = resp.json()
    except msgspec.DecodeError:
        body = None
    if isinstance(body, dict) and "code" in body:
        return str(body.get("msg")) if body["code"] == -9000 else str(body["code"])
    return str(resp.status)


@dataclasses.dataclass
class Stats:
    """The gateway's running counts."""

    by_endpoint: dict[str, int] = dataclasses.field(default_factory=dict)
    max_1s: int = 0
    violations: int = 0
    soft_limit_hits: int = 0
    faults: int = 0
    reprices_accepted: int = 0
    reprices_refused: dict[str, int] = dataclasses.field(default_factory=dict)
    refusals: dict[str, int] = dataclasses.field(default_factory=dict)
    frames_from_bot: int = 0

    def count_reprice(self, resp: Response) -> None:
        if resp.status == 200 and resp.body:
            self.reprices_accepted += 1
            return
        code = refusal_code(resp)
        self.reprices_refused[code] = self.reprices_refused.get(code, 0) + 1

    def count_refusal(self, endpoint: str, resp: Response) -> None:
        """Count a non-2xx answer as "<endpoint> <HTTP status> <code>" (e.g. "EP-13 401 -1002")."""
        if resp.status < 300:
            return
        key = f"{endpoint} {resp.status} {refusal_code(resp)}"
        self.refusals[key] = self.refusals.get(key, 0) + 1


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
        refusals: every non-2xx answer by "<endpoint> <HTTP status> <code>", the -9000
            wrapper's inner code shown: "EP-13 401 -1002", "EP-7 400 83628", "EP-0 429 -1003".
        chat_frames_pushed, chat_read_copies, chat_error_frames: frames the sockets were sent.
        chat_closes: server-side socket closes by kind ("1000", "1002", "drop").
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
    refusals: dict[str, int] = {}
    chat_frames_pushed: int = 0
    chat_read_copies: int = 0
    chat_error_frames: int = 0
    chat_closes: dict[str, int] = {}

    def render(self) -> str:
        """Return the report as a few readable lines."""
        return render(self)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())) or "none"


def build_report(stats: Stats, desk: OrderDesk, tracker: ReactionTracker, chat: ChatStats,
                 duration_s: float) -> SimReport:
    """Assemble the report from the exchange's counters."""
    every = [r for rs in tracker.reactions.values() for r in rs]
    return SimReport(
        duration_s=duration_s, requests_total=sum(stats.by_endpoint.values()),
        requests_by_endpoint=dict(stats.by_endpoint), max_requests_1s=stats.max_1s,
        violations=stats.violations, soft_limit_hits=stats.soft_limit_hits,
        faults_injected=stats.faults, reprices_accepted=stats.reprices_accepted,
        reprices_refused=dict(stats.reprices_refused), orders_opened=dict(desk.opened),
        filled_volume=dict(desk.filled), chat_frames_from_bot=stats.frames_from_bot,
        reactions={k: tuple(v) for k, v in tracker.reactions.items()},
        reaction_p50_s=percentile(every, 50), reaction_p95_s=percentile(every, 95),
        refusals=dict(stats.refusals), chat_frames_pushed=chat.frames_pushed,
        chat_read_copies=chat.read_copies, chat_error_frames=chat.error_frames,
        chat_closes=dict(chat.closes),
    )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}s"


def render(report: SimReport) -> str:
    """Return `report` as a few readable lines."""
    by_ep = ", ".join(f"{k} {v}" for k, v in sorted(report.requests_by_endpoint.items()))
    refused = _counts(report.reprices_refused)
    lines = [
        f"simulator report over {report.duration_s:.1f}s",
        f"  requests       {report.requests_total} ({by_ep or 'none'})",
        f"  max in 1s      {report.max_requests_1s}   violations (429) {report.violations}"
        f"   EP-0 soft-limit hits {report.soft_limit_hits}"
        f"   faults injected {report.faults_injected}",
        f"  reprices       accepted {report.reprices_accepted}, refused {refused}",
        f"  chat frames    from the bot {report.chat_frames_from_bot}, pushed"
        f" {report.chat_frames_pushed} (read copies {report.chat_read_copies}, errors"
        f" {report.chat_error_frames}), closes {_counts(report.chat_closes)}",
        f"  refusals       {_counts(report.refusals)}",
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
