"""A lazy reading of logged envelopes: a BookSnapshot's ads decoded on first access.

Decoding a logged BookSnapshot is building its twenty BookAds and their hundred `Decimal`s: ~18
us, 85% of the decode time of a recording's events, whether the reader looks at the ads or not
(a restore, a status screen, an export of decisions do not). `decode_envelopes_lazy` decodes
every envelope and event as `codec.decode_envelopes` does, except that each BookSnapshot's `ads`
is a `LazyAds`: the ads' JSON, kept, which becomes a tuple of BookAds (Decimal money, as
always) the first time anything reads it. Encoding a snapshot that was never read writes the
kept JSON back unchanged, which is the JSON it was decoded from.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator, Sequence

import msgspec
from msgspec.structs import asdict, astuple, force_setattr

from events import AnyEvent, BookAd, BookSnapshot, Envelope, Event
from events.types import Side

_ads_decoder = msgspec.json.Decoder(tuple[BookAd, ...])


class LazyAds(Sequence[BookAd]):
    """A logged BookSnapshot's ads, decoded (with Decimal money) on first access.

    It is a `Sequence[BookAd]` and equals the tuple of the same ads; `tuple(ads)` or `ads.ads`
    gives the tuple itself.
    """

    __slots__ = ("_raw", "_ads")

    def __init__(self, raw: msgspec.Raw) -> None:
        self._raw = raw
        self._ads: tuple[BookAd, ...] | None = None

    @property
    def ads(self) -> tuple[BookAd, ...]:
        """The ads, decoded once."""
        ads = self._ads
        if ads is None:
            ads = self._ads = _ads_decoder.decode(self._raw)
        return ads

    @property
    def raw(self) -> msgspec.Raw:
        """The ads' JSON as logged."""
        return self._raw

    def __getitem__(self, i):  # noqa: ANN001 - int or slice, as tuple's
        return self.ads[i]

    def __len__(self) -> int:
        return len(self.ads)

    def __iter__(self) -> Iterator[BookAd]:
        return iter(self.ads)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyAds):
            return bytes(self._raw) == bytes(other._raw) or self.ads == other.ads
        return self.ads == other

    def __hash__(self) -> int:
        return hash(self.ads)

    def __add__(self, other: tuple) -> tuple:
        return self.ads + tuple(other)

    def __radd__(self, other: tuple) -> tuple:
        return tuple(other) + self.ads

    def __repr__(self) -> str:
        return repr(self.ads)

    def __reduce__(self):  # pickled (a sweep's worker processes) as the plain tuple
        return tuple, (self.ads,)


def enc_hook(obj: object) -> object:
    """msgspec's enc_hook for LazyAds: the JSON it was read from (or its decoded ads)."""
    if isinstance(obj, LazyAds):
        return obj.raw if obj._ads is None else obj._ads
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


class _StoredBook(Event, frozen=True, kw_only=True, tag="BookSnapshot"):
    asset: str
    fiat: str
    ad_side: Side
    pages: int
    ads: msgspec.Raw
    complete: bool = True


_LazyEvent = typing.Union[tuple(  # type: ignore[misc]
    _StoredBook if t is BookSnapshot else t for t in typing.get_args(AnyEvent))]


class _LazyEnvelope(Envelope, frozen=True, kw_only=True):
    # Decoded as this subclass (its event may be a _StoredBook until fixed up below), and
    # handed out as it: it equals and hashes as the Envelope of the same fields, so a lazily
    # read envelope compares with any other; making each a plain Envelope cost ~1 us more.
    event: _LazyEvent  # type: ignore[valid-type]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Envelope):
            return astuple(self) == astuple(other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, Envelope):
            return astuple(self) != astuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(Envelope(**asdict(self)))


_lazy_decoder = msgspec.json.Decoder(list[_LazyEnvelope])


def decode_envelopes_lazy(array: bytes) -> list[Envelope]:
    """Decode a JSON array of envelopes of the current schema, each BookSnapshot's ads lazily.

    Raises:
        msgspec.DecodeError: an element is not a valid envelope.
    """
    envelopes = _lazy_decoder.decode(array)
    for env in envelopes:
        e = env.event
        if type(e) is _StoredBook:
            # Set in place: the envelope was made just now and nothing else holds it (a new
            # one cost ~0.3 us a snapshot). The ads are copied out of `array`, which a kept
            # snapshot would otherwise keep alive whole.
            force_setattr(env, "event", BookSnapshot(
                asset=e.asset, fiat=e.fiat, ad_side=e.ad_side, pages=e.pages,
                ads=LazyAds(e.ads.copy()), complete=e.complete))
    return envelopes
