"""`--session` values for replay and backtest: one id, or a range `FIRST..LAST` (both included).

`--session 3..5` is sessions 3, 4 and 5 (the ones the log holds in that range; a gap, such as a
backtest session between two recorded ones, is skipped when the range names it implicitly);
`--session 3 --session 7` is sessions 3 and 7.
"""

from __future__ import annotations

import argparse


class SessionRange(list):
    """The ids one `--session` value named, and whether it was a range."""

    ranged = False


def session_spec(text: str) -> SessionRange:
    """Parse one `--session` value (argparse `type=`).

    Raises:
        argparse.ArgumentTypeError: neither an id nor FIRST..LAST with FIRST <= LAST.
    """
    first, dots, last = text.partition("..")
    try:
        lo = int(first)
        hi = int(last) if dots else lo
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"want a session id or a range FIRST..LAST (e.g. 3..5), got {text!r}") from None
    if hi < lo or lo < 1:
        raise argparse.ArgumentTypeError(f"want FIRST..LAST with 1 <= FIRST <= LAST, got {text!r}")
    ids = SessionRange(range(lo, hi + 1))
    ids.ranged = bool(dots)
    return ids


def resolve(log, values, *, modes: tuple[str, ...] | None = None) -> list[int]:
    """The session ids `values` (parsed `--session` values; ints, an int or None also do) name in
    `log`, in order: a range keeps the ids the log holds (of `modes`, when given); a single id
    must exist.

    Raises:
        UnknownSession: a single id the log does not hold.
        LogError: a range that holds no session.
    """
    from store import LogError

    if values is None:
        return []
    if isinstance(values, int):
        values = [SessionRange([values])]
    held = {s.id: s for s in log.sessions()}
    ids: list[int] = []
    for value in values:
        if isinstance(value, int):  # a caller's plain id, as the parsed `[3]` of `--session 3`
            value = SessionRange([value])
        if not getattr(value, "ranged", False):
            for sid in value:
                log.session(sid)  # an unknown id is an error, not a skip
                ids.append(sid)
            continue
        found = [sid for sid in value if sid in held and (modes is None or held[sid].mode in modes)]
        if not found:
            raise LogError(log.path, f"no session in {value[0]}..{value[-1]} in {log.path}")
        ids.extend(found)
    return ids
