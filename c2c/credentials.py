"""API credentials, kept out of every repr, log line, event and error message.

The secret lives in a `Secret`, whose repr and str are redacted; only `c2c.signing` calls
`reveal()`. Keys come from the environment (BINANCE_API_KEY, BINANCE_API_SECRET) or from a file
that only its owner can read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class CredentialsError(Exception):
    """Credentials are missing or stored unsafely; the message never contains them."""


class Secret:
    """A string that will not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):
        raise TypeError("a Secret cannot be pickled")


class Credentials:
    """An API key (not secret, but still kept out of logs) and its secret."""

    __slots__ = ("api_key", "secret")

    def __init__(self, api_key: str, secret: str | Secret) -> None:
        self.api_key = api_key
        self.secret = secret if isinstance(secret, Secret) else Secret(secret)

    def __repr__(self) -> str:
        tail = self.api_key[-4:] if len(self.api_key) > 8 else ""
        return f"Credentials(api_key='***{tail}', secret=***)"

    __str__ = __repr__


def from_env(env: dict[str, str] | None = None) -> Credentials:
    """Read BINANCE_API_KEY and BINANCE_API_SECRET, or BINANCE_API_SECRET_FILE for the secret.

    Raises:
        CredentialsError: a variable is missing, or the secret file is readable by others.
    """
    env = os.environ if env is None else env
    key = env.get("BINANCE_API_KEY", "").strip()
    secret = env.get("BINANCE_API_SECRET", "").strip()
    secret_file = env.get("BINANCE_API_SECRET_FILE", "").strip()
    if not secret and secret_file:
        secret = read_secret_file(Path(secret_file))
    missing = [n for n, v in (("BINANCE_API_KEY", key), ("BINANCE_API_SECRET", secret)) if not v]
    if missing:
        raise CredentialsError(
            f"missing {' and '.join(missing)} in the environment "
            "(or BINANCE_API_SECRET_FILE naming a file only you can read)"
        )
    return Credentials(key, secret)


def read_secret_file(path: Path) -> str:
    """Read a secret from a file that only its owner can read or write.

    Raises:
        CredentialsError: the file is missing or its mode lets group or others in.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise CredentialsError(f"secret file not found: {path}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(
            f"refusing secret file {path}: mode {stat.filemode(mode)} lets others read it; "
            f"run: chmod 600 {path}"
        )
    return path.read_text().strip()
