"""The notifier's channels: Telegram's Bot API and a JSON webhook, configured from the environment.

A channel's `deliver(alert)` returns the AlertSent or AlertFailed it came to; it never raises for
a transport error or a refusal, and never lets the bot token or the webhook URL into either (both
live in a `Secret`; Telegram's error texts are scrubbed of the token).
"""

from __future__ import annotations

from typing import Callable

import httpx
import trio

from actors.config import AlertsConfig
from actors.notify import Alert, Channel, Outcome, _failed
from c2c.credentials import Secret
from events import AlertSent


class NotifyConfigError(Exception):
    """The alert environment is half set (a token without a chat id); never holds the token."""


class TelegramChannel:
    """Telegram's Bot API `sendMessage` (plain text). The token lives in a Secret and is
    scrubbed from every error; Telegram's 429 `retry_after` pauses this channel."""

    name = "telegram"
    paced = True

    def __init__(self, client: httpx.AsyncClient, token: Secret, chat_id: str,
                 api_url: str = "https://api.telegram.org") -> None:
        self._client = client
        self._token = token
        self._chat_id = chat_id
        self._api_url = api_url.rstrip("/")
        self.resume_at = 0.0  # trio time before which Telegram asked for no more (429)

    def __repr__(self) -> str:
        return f"TelegramChannel(api_url={self._api_url!r}, token=***)"

    async def deliver(self, alert: Alert) -> Outcome:
        url = f"{self._api_url}/bot{self._token.reveal()}/sendMessage"
        body = {"chat_id": self._chat_id, "text": alert.text, "disable_web_page_preview": True}
        try:
            resp = await self._client.post(url, json=body)
        except httpx.HTTPError as exc:
            return _failed(self.name, alert, self._scrub(f"{type(exc).__name__}: {exc}"))
        try:
            answer = resp.json()
        except ValueError:
            answer = {}
        if resp.status_code == 200 and isinstance(answer, dict) and answer.get("ok"):
            return AlertSent(channel=self.name, kind=alert.kind, key=alert.key, text=alert.text,
                             status=200)
        said = answer.get("description", "") if isinstance(answer, dict) else ""
        retry = (answer.get("parameters") or {}).get("retry_after") if isinstance(answer, dict) \
            else None
        if resp.status_code == 429 and isinstance(retry, int):
            self.resume_at = trio.current_time() + min(retry, 60)  # the outbox waits it out
        return _failed(self.name, alert, self._scrub(said or f"HTTP {resp.status_code}"),
                       resp.status_code)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token.reveal(), "***")[:300]


class WebhookChannel:
    """POST one JSON object per alert: {"kind", "key", "text", "ts_ms"}; any 2xx is delivered."""

    name = "webhook"
    paced = True

    def __init__(self, client: httpx.AsyncClient, url: Secret, now_ms: Callable[[], int]) -> None:
        self._client = client
        self._url = url
        self._now_ms = now_ms

    def __repr__(self) -> str:
        return "WebhookChannel(url=***)"

    async def deliver(self, alert: Alert) -> Outcome:
        body = {"kind": alert.kind, "key": alert.key, "text": alert.text, "ts_ms": self._now_ms()}
        try:
            resp = await self._client.post(self._url.reveal(), json=body)
        except httpx.HTTPError as exc:
            return _failed(self.name, alert, type(exc).__name__)  # its text may hold the URL
        if 200 <= resp.status_code < 300:
            return AlertSent(channel=self.name, kind=alert.kind, key=alert.key, text=alert.text,
                             status=resp.status_code)
        return _failed(self.name, alert, f"HTTP {resp.status_code}", resp.status_code)


def channels_from_env(cfg: AlertsConfig, client: httpx.AsyncClient, environ,
                      now_ms: Callable[[], int]) -> tuple[Channel, ...]:
    """The channels the environment configures: Telegram with BOT_TELEGRAM_TOKEN and
    BOT_TELEGRAM_CHAT_ID, a webhook with BOT_ALERT_WEBHOOK_URL; none when unset.

    Raises:
        NotifyConfigError: only one of the two Telegram variables is set.
    """
    token, chat = environ.get("BOT_TELEGRAM_TOKEN", ""), environ.get("BOT_TELEGRAM_CHAT_ID", "")
    channels: list[Channel] = []
    if bool(token) != bool(chat):
        raise NotifyConfigError("Telegram alerts need both BOT_TELEGRAM_TOKEN and "
                                "BOT_TELEGRAM_CHAT_ID in the environment")
    if token:
        channels.append(TelegramChannel(client, Secret(token), chat, cfg.telegram_api_url))
    if url := environ.get("BOT_ALERT_WEBHOOK_URL", ""):
        if not url.startswith(("http://", "https://")):
            raise NotifyConfigError("BOT_ALERT_WEBHOOK_URL must be an http(s) URL")
        channels.append(WebhookChannel(client, Secret(url), now_ms))
    return tuple(channels)
