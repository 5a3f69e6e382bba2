"""Fault injection: random errors from the reference's table, public-host faults on EP-0,
answers scripted by tests, latency and latency spikes.

A 500 on a write (EP-7, EP-8) is applied first half of the time, because Binance's 5xx means
"outcome unknown": the bot must re-read state rather than assume the write failed.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import Callable

from sim import answers
from sim.config import Faults
from sim.wire import Response

WRITES = frozenset({"EP-7", "EP-8"})


@dataclass(frozen=True)
class Fault:
    """An answer given on purpose: the catalogue's `kind` (built by the exchange, which knows
    the request), or a ready `response`. `apply_first` runs the real handler before answering;
    a success kind ("ok-*") runs it and keeps its effect, reshaped. `reshape`, for answers
    scripted by tests (`SimExchange.inject_answer`), runs the real handler, keeps its effect and
    answers with `reshape(its answer)`: the good answer mangled on its way out."""

    kind: str
    response: Response | None = None
    apply_first: bool = False
    reshape: Callable[[Response], Response] | None = None


def _reference_mix(endpoint: str, allow_bans: bool) -> list[str]:
    kinds = ["500", "502", "429", "403"]
    if endpoint.startswith("EP-") and endpoint != "EP-0":
        kinds.append("-1021")
    if endpoint == "EP-7":
        kinds += ["187049", "187049-bare"]
    if allow_bans:
        kinds += ["418", "451"]
    return kinds


class FaultInjector:
    """Draws faults and delays from its own seeded random source, and serves scripted answers."""

    def __init__(self, faults: Faults, rng: random.Random) -> None:
        self.faults = faults
        self.rng = rng
        self._script: dict[str, deque[str | Fault]] = {}

    def delay_s(self) -> float:
        """Return the delay before the next answer, spike included."""
        ms = self.faults.latency_ms
        spike = self.faults.latency_spike_ms
        if spike and self.rng.random() < self.faults.latency_spike_probability:
            ms += spike
        return ms / 1000

    def inject(self, endpoint: str, kind: str, count: int = 1) -> None:
        """Queue `count` answers of `kind` for the next calls to `endpoint` ("EP-7", ...)."""
        if kind not in answers.KINDS:
            raise ValueError(f"unknown answer kind {kind!r}; one of {', '.join(answers.KINDS)}")
        self._script.setdefault(endpoint, deque()).extend([kind] * count)

    def script(self, endpoint: str, fault: Fault) -> None:
        """Queue a ready answer (a `Fault` with its `response` or `reshape`) for the next call
        to `endpoint`, in line with the named kinds of `inject`."""
        self._script.setdefault(endpoint, deque()).append(fault)

    def scripted(self, endpoint: str) -> Fault | None:
        """Take the next scripted answer for `endpoint`, if any."""
        queue = self._script.get(endpoint)
        if not queue:
            return None
        item = queue.popleft()
        return item if isinstance(item, Fault) else self._fault(item, endpoint)

    def public(self) -> Fault | None:
        """An EP-0 public-host fault, with probability `public_error_rate`."""
        rate = self.faults.public_error_rate
        if rate <= 0 or self.rng.random() >= rate:
            return None
        kind = self.rng.choice(self.faults.public_error_kinds)
        return Fault(kind, answers.public_fault(kind, self.rng))

    def pick(self, endpoint: str) -> Fault | None:
        """Return a random fault for this request, or None (most of the time)."""
        if self.faults.error_rate <= 0 or self.rng.random() >= self.faults.error_rate:
            return None
        mix = self.faults.error_kinds or _reference_mix(endpoint, self.faults.allow_ban_statuses)
        return self._fault(self.rng.choice(mix), endpoint)

    def _fault(self, kind: str, endpoint: str) -> Fault:
        if kind in answers.SUCCESS_KINDS:
            return Fault(kind)
        return Fault(kind, apply_first=kind == "500" and endpoint in WRITES
                     and self.rng.random() < 0.5)
