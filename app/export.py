"""`run.py export PATH --to DIR [--session ID ...]`: sessions of a log as Parquet (store/export.py)."""

from __future__ import annotations

import argparse
import sys

from store import LogError, open_log
from store.export import export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the export command's arguments to `parser`."""
    parser.add_argument("path", help="the SQLite event log")
    parser.add_argument("--to", required=True, metavar="DIR", help="the Parquet directory")
    parser.add_argument("--session", type=int, action="append", dest="sessions", metavar="ID",
                        help="session to export (repeatable; default: all)")


def main(args: argparse.Namespace) -> int:
    """Export; print one line; return 0, or 2 after one line on stderr."""
    try:
        with open_log(args.path, create=False) as log:
            r = export(log, args.to, args.sessions)
    except LogError as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2
    rows = ", ".join(f"{n} {c:,}" for n, c in sorted(r.rows.items()) if c)
    print(f"exported session {', '.join(map(str, r.sessions))} of {args.path} to {args.to}: "
          f"{rows or 'no rows'} ({r.files} files)")
    return 0
