"""Errors of the event log, each printable as one clear line.

    Exception
    └── LogError                  anything the log cannot do, with the file's path in the message
        ├── NotALog               the file is not SQLite, or is SQLite without the log's tables
        │   └── LogNotFound       create=False and there is no file
        ├── SchemaTooNew          written by a newer bot (also an events.codec.SchemaTooNew)
        ├── UnknownSession        no session with that id in the file
        ├── SequenceGap           an append would break a session's gap-free 1-based seq
        └── CorruptEvent          a stored payload no longer decodes

Messages never carry payloads or configuration, so nothing secret can leak through them.
"""

from __future__ import annotations

from pathlib import Path

from events import SCHEMA_VERSION
from events import codec


class LogError(Exception):
    """The event log at `path` cannot do what was asked."""

    def __init__(self, path: str | Path, message: str) -> None:
        # Not super(): SchemaTooNew's MRO would hand the message to codec.SchemaTooNew.
        Exception.__init__(self, message)
        self.path = str(path)


class NotALog(LogError):
    """The file exists but is not a bot event log."""

    def __init__(self, path: str | Path, why: str = "not an SQLite database") -> None:
        super().__init__(path, f"{path} is not a bot event log ({why})")


class LogNotFound(NotALog):
    """open_log(create=False) was given a path with no file."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, "no such file")


class SchemaTooNew(LogError, codec.SchemaTooNew):
    """The file was written by a newer bot than this one."""

    def __init__(self, path: str | Path, found: int, supported: int = SCHEMA_VERSION) -> None:
        LogError.__init__(
            self,
            path,
            f"{path} has event schema version {found}, newer than this bot's {supported}; "
            "upgrade the bot to read it",
        )
        self.found = found
        self.supported = supported


class UnknownSession(LogError):
    """A session id that the file does not hold."""

    def __init__(self, path: str | Path, session: int | None, ids: list[int]) -> None:
        what = "no session" if session is None else f"no session {session}"
        super().__init__(path, f"{what} in {path} (sessions: {_ranges(ids)})")
        self.session = session


class SequenceGap(LogError):
    """An envelope's seq does not follow the session's last one."""

    def __init__(self, path: str | Path, session: int, expected: int, got: int) -> None:
        super().__init__(
            path, f"session {session} in {path}: expected seq {expected}, got {got}"
        )
        self.session = session
        self.expected = expected
        self.got = got


class CorruptEvent(LogError):
    """A stored event cannot be decoded any more."""

    def __init__(self, path: str | Path, session: int, seq: int, why: str) -> None:
        super().__init__(path, f"session {session} seq {seq} in {path} does not decode: {why}")
        self.session = session
        self.seq = seq


def _ranges(ids: list[int]) -> str:
    """Render sorted ids compactly: [1, 2, 3, 5] -> "1-3, 5"; [] -> "none"."""
    if not ids:
        return "none"
    parts: list[str] = []
    start = prev = ids[0]
    for i in ids[1:] + [None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return ", ".join(parts)
