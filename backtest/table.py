"""The side-by-side results table printed in the terminal (plain text, aligned).

Money columns are fiat: pnl is realised on the matched volume less its fees, equity marks the
inventory to the books' mid, max dd is the equity curve's largest fall, and the 90% interval
of the PnL comes from a per-day bootstrap ("-" under two days). See `backtest.metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from backtest.engine import StrategyResult
from backtest.metrics import REQUEST_BUDGET_PER_S

_HEADERS = ("strategy", "snapshots", "filled", "fills", "sell vwap", "buy vwap", "vs best",
            "margin", "pnl", "equity", "max dd", "pnl 90% ci", "rank 1", "top 3", "reprices",
            "req/s", "budget", "wars", "guard wars", "ratchet", "war cost")


def _num(value: Decimal | None, places: int) -> str:
    return "-" if value is None else f"{value:,.{places}f}"


def _pct(value: Decimal) -> str:
    return f"{value * 100:.1f}%"


def _ci(s) -> str:
    if s.pnl_ci_low is None or s.pnl_ci_high is None:
        return "-"
    return f"{s.pnl_ci_low:,.2f}..{s.pnl_ci_high:,.2f}"


def _row(r: StrategyResult) -> list[str]:
    s = r.summary
    return [
        r.spec.title, f"{s.snapshots:,}", _num(s.filled_volume, 4), _num(s.fills, 2),
        _num(r.sell_vwap, 2), _num(r.buy_vwap, 2), _num(s.vs_best, 4), _num(s.margin, 4),
        _num(s.pnl, 2), _num(s.equity, 2), _num(s.max_drawdown, 2), _ci(s),
        _pct(s.share_rank1),
        _pct(s.share_top3), f"{s.reprices:,}", _num(s.requests_per_s, 4),
        _pct(s.requests_per_s / REQUEST_BUDGET_PER_S), str(s.price_wars), *_war_cells(r),
    ]


def _war_cells(r: StrategyResult) -> list[str]:
    cost = r.war_cost
    if cost is None:
        return ["-", "-", "-"]
    return [str(r.guard_wars), _num(cost.ratchet, 2), _num(cost.fiat, 2)]


def format_table(results: Sequence[StrategyResult], *, numbered: bool = False) -> str:
    """Render one row per result; `numbered` prefixes each row with its place (for sweeps)."""
    headers = list(_HEADERS)
    rows = [_row(r) for r in results]
    if numbered:
        headers.insert(0, "#")
        rows = [[str(i), *row] for i, row in enumerate(rows, 1)]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    first_text = 1 if numbered else 0

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == first_text else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in rows)
    return "\n".join(out)
