"""`run.py upgrade PATH`: convert a log of an earlier layout (2: bodies base64 in each payload;
3: each payload a zstd frame of its own) to the current one (bodies once, compressed; events
sealed in blocks); resumable after a kill."""

from __future__ import annotations

import argparse
import sys

from store import LogError
from store.upgrade import upgrade


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the upgrade command's arguments to `parser`."""
    parser.add_argument("path", help="the SQLite event log to convert in place")


def main(args: argparse.Namespace) -> int:
    """Upgrade the log; print one line; return 0, or 2 after one line on stderr."""
    try:
        r = upgrade(args.path)
    except LogError as exc:
        print(f"upgrade: {exc}", file=sys.stderr)
        return 2
    again = " (continued an interrupted upgrade)" if r.resumed else ""
    print(f"upgraded {r.path}{again}: {r.events:,} events, {r.answers:,} answers in "
          f"{r.bodies:,} distinct bodies, {_mb(r.bytes_before)} -> {_mb(r.bytes_after)}; "
          f"the old file is kept as {r.backup} (delete it once satisfied)")
    return 0


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"
