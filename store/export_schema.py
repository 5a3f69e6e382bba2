"""The Arrow schemas of the Parquet export, derived from the event Structs so they cannot drift:
str -> string, int -> int64, float -> float64, bool -> bool, Decimal -> string (exact), tuples
-> list<string>; every column nullable."""

from __future__ import annotations


import msgspec.inspect as mi

from events import (AdRepriced, BacktestCompleted, BookAd, MyAd, OrderOpened,
                    OrderStatusChanged, RepriceDecided)

# The event tables and the events each holds.
TABLES = {"decisions": (RepriceDecided,), "reprices": (AdRepriced,),
          "orders": (OrderOpened, OrderStatusChanged), "backtests": (BacktestCompleted,)}
ENVELOPE = (("session", "int64"), ("seq", "int64"), ("ts_ms", "int64"), ("t", "float64"),
            ("source", "string"), ("cause", "int64"))


def _arrow(pa, t):
    if isinstance(t, mi.UnionType):
        inner = [x for x in t.types if not isinstance(x, mi.NoneType)]
        return _arrow(pa, inner[0])
    if isinstance(t, (mi.StrType, mi.LiteralType, mi.DecimalType)):
        return pa.string()
    if isinstance(t, mi.BoolType):
        return pa.bool_()
    if isinstance(t, mi.IntType):
        return pa.int64()
    if isinstance(t, mi.FloatType):
        return pa.float64()
    if isinstance(t, (mi.VarTupleType, mi.TupleType, mi.ListType)):
        return pa.list_(pa.string())
    raise TypeError(f"no Arrow type for {t!r}")


def _fields(pa, cls, skip=()):
    info = mi.type_info(cls)
    return [pa.field(f.name, _arrow(pa, f.type)) for f in info.fields if f.name not in skip]


def _envelope(pa):
    return [pa.field(n, getattr(pa, t)()) for n, t in ENVELOPE]


def schemas(pa) -> dict:
    """Return the schema of each partitioned table."""
    out = {
        "books": pa.schema(_envelope(pa) + [
            pa.field("side", pa.string()), pa.field("pages", pa.int64()),
            pa.field("complete", pa.bool_()), pa.field("rank", pa.int64())]
            + _fields(pa, BookAd)),
        "snapshots": pa.schema(_envelope(pa) + [pa.field("event", pa.binary())]),
        "my_ads": pa.schema(_envelope(pa) + _fields(pa, MyAd, skip=("asset", "fiat"))),
    }
    for name, types in TABLES.items():
        fields, seen = [pa.field("kind", pa.string())], {"kind"}
        for cls in types:
            for f in _fields(pa, cls):
                if f.name not in seen:
                    fields.append(f)
                    seen.add(f.name)
        out[name] = pa.schema(_envelope(pa) + fields)
    return out


def sessions_schema(pa):
    """Return the schema of sessions.parquet."""
    return pa.schema([("id", pa.int64()), ("mode", pa.string()), ("started_ms", pa.int64()),
                      ("ended_ms", pa.int64()), ("config", pa.string()), ("version", pa.string()),
                      ("end_reason", pa.string()), ("events", pa.int64()),
                      ("schema_version", pa.int64())])



