"""Fault injection: random errors from the reference's table, latency and latency spikes.

A 5xx on a write (EP-7, EP-8) is applied first half of the time, because Binance's 5xx means
"outcome unknown": the bot must re-read state rather than assume the write failed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sim.config import Faults
from sim.rules import stale_timestamp, too_many
from sim.wire import Response, business, encode, gateway_error

_HTML = (("content-type", "text/html"),)
WRITES = frozenset({"EP-7", "EP-8"})


@dataclass(frozen=True)
class Fault:
    """An injected answer; `apply_first` runs the real handler before answering with it."""

    kind: str
    response: Response
    apply_first: bool = False


def _waf() -> Response:
    return Response(403, b"<html><body><h1>403 Forbidden</h1>Request blocked.</body></html>", _HTML)


def _bad_gateway() -> Response:
    return Response(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", _HTML)


def _unknown() -> Response:
    return gateway_error(500, -1000, "An unknown error occurred while processing the request.")


def _kinds(endpoint: str, allow_bans: bool) -> list[str]:
    kinds = ["500", "502", "429", "403"]
    if endpoint.startswith("EP-") and endpoint != "EP-0":
        kinds.append("-1021")
    if endpoint == "EP-7":
        kinds += ["187049", "187049"]
    if allow_bans:
        kinds += ["418", "451"]
    return kinds


class FaultInjector:
    """Draws faults and delays from its own seeded random source."""

    def __init__(self, faults: Faults, rng: random.Random) -> None:
        self.faults = faults
        self.rng = rng

    def delay_s(self) -> float:
        """Return the delay before the next answer, spike included."""
        ms = self.faults.latency_ms
        spike = self.faults.latency_spike_ms
        if spike and self.rng.random() < self.faults.latency_spike_probability:
            ms += spike
        return ms / 1000

    def pick(self, endpoint: str) -> Fault | None:
        """Return a fault for this request, or None (most of the time)."""
        if self.faults.error_rate <= 0 or self.rng.random() >= self.faults.error_rate:
            return None
        kind = self.rng.choice(_kinds(endpoint, self.faults.allow_ban_statuses))
        return Fault(kind, self._answer(kind), kind == "500" and endpoint in WRITES
                     and self.rng.random() < 0.5)

    def _answer(self, kind: str) -> Response:
        if kind == "500":
            return _unknown()
        if kind == "502":
            return _bad_gateway()
        if kind == "429":
            return too_many(1.0)
        if kind == "403":
            return _waf()
        if kind == "-1021":
            return stale_timestamp()
        if kind == "187049":
            return business(187049, "Ad update failed, please try again.",
                            wrapped=self.rng.random() < 0.5)
        if kind == "418":
            return gateway_error(418, -1003, "Way too many requests; IP banned.",
                                 (("retry-after", "120"),))
        body = {"code": 0, "msg": "Service unavailable from a restricted location according to "
                "'b. Eligibility' in https://www.binance.com/en/terms."}
        return Response(451, encode(body))
