"""Alert channels for replay: they answer from the recorded AlertSent / AlertFailed and send nothing.

An alert the live run delivered is matched by channel, key and its order among alerts of that key,
and gets the recorded outcome (with this run's text, so a changed text shows as a divergence). An
alert the live run never delivered (dropped on a full queue, still queued at the stop) gets none,
as it got none live. The outcome comes when the live run logged it (a channel that hung live
hangs as long in replay), so the replayed events keep their recorded times.
"""

from __future__ import annotations

from collections import defaultdict, deque

from actors.sleep import sleep_until
from events import AlertFailed, AlertSent, Envelope


class RecordedChannel:
    paced = False

    def __init__(self, name: str, outcomes: dict[str, deque]) -> None:
        self.name = name
        self._outcomes = outcomes

    async def deliver(self, alert) -> AlertSent | AlertFailed | None:
        queue = self._outcomes.get(alert.key)
        if not queue:
            return None
        rec, at = queue.popleft()
        await sleep_until(at)  # replay's clock starts at the session's start
        if isinstance(rec, AlertSent):
            return AlertSent(channel=self.name, kind=alert.kind, key=alert.key, text=alert.text,
                             status=rec.status)
        return AlertFailed(channel=self.name, kind=alert.kind, key=alert.key, error=rec.error,
                           status=rec.status)


def recorded_channels(recorded: list[Envelope]) -> tuple[RecordedChannel, ...]:
    """One channel per channel name the recording delivered through, in first-seen order."""
    by_channel: dict[str, dict[str, deque]] = {}
    for env in recorded:
        e = env.event
        if isinstance(e, (AlertSent, AlertFailed)):
            by_channel.setdefault(e.channel, defaultdict(deque))[e.key].append((e, env.t))
    return tuple(RecordedChannel(name, outcomes) for name, outcomes in by_channel.items())
