"""Values across the engine boundary: column values to JavaScript, results back to BSON.

A page crosses as JSON text, which carries strings, numbers, booleans, null, arrays and
objects natively; anything else travels as a tagged object {"$relmig$": kind, "v": ...} that
the runner (runner.js) decodes on the other side. Column values go in converted (BSON-ready),
so an expression sees the same value on PostgreSQL and MySQL.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from bson import Binary, Decimal128, ObjectId

from relmig.source.values import INT64_MAX, INT64_MIN, Unconvertible

TAG = "$relmig$"
_EPOCH = dt.datetime(1970, 1, 1)


def failure(reason: str) -> Unconvertible:
    """An expression that gave no usable value for a row (it threw, timed out, returned
    undefined or a function): recorded as an issue like a value BSON cannot hold."""
    return Unconvertible(reason, "")


def _millis(value: dt.datetime) -> int:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return (value - _EPOCH) // dt.timedelta(milliseconds=1)


def _to_js(value: Any) -> Any:
    """json.dumps' hook for what JSON has no form for."""
    if isinstance(value, dt.datetime):
        return {TAG: "d", "v": _millis(value)}
    if isinstance(value, dt.date):
        return {TAG: "d", "v": _millis(dt.datetime(value.year, value.month, value.day))}
    if isinstance(value, Decimal128):
        return _number(float(value.to_decimal()))
    if isinstance(value, Decimal):
        return _number(float(value))
    if isinstance(value, bytes | bytearray | memoryview | Binary):
        return {TAG: "b", "v": bytes(value).hex()}
    if isinstance(value, Unconvertible):
        return None  # the column's own field reports it
    if isinstance(value, ObjectId):
        return str(value)
    return str(value)


def _number(value: float) -> Any:
    return value if math.isfinite(value) else {TAG: "f", "v": repr(value)}


def _finite(value: Any) -> Any:
    if type(value) is float and not math.isfinite(value):
        return _number(value)
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def encode_page(rows: Sequence[Sequence[Any]]) -> str:
    """A page of rows (each the referenced columns' values) as the runner's input."""
    try:
        return json.dumps(rows, default=_to_js, allow_nan=False, ensure_ascii=False)
    except ValueError:  # NaN or an infinity somewhere: JSON.parse would refuse the token
        return json.dumps(
            [[_finite(v) for v in row] for row in rows], default=_to_js, ensure_ascii=False
        )


def decode_page(text: str) -> list[list[Any]]:
    """The runner's output: per row, per expression, a BSON-ready value or a failure."""
    return [[_from_js(v) for v in row] for row in json.loads(text)]


def _from_js(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is bool or kind is float or value is None:
        return value
    if kind is int:
        # A JavaScript number is a double: past int64 it stays one.
        return value if INT64_MIN <= value <= INT64_MAX else float(value)
    if kind is list:
        return _sequence(value)
    tag = value[TAG]
    v = value.get("v")
    if tag == "o":
        out = {}
        for key, item in v.items():
            decoded = _from_js(item)
            if isinstance(decoded, Unconvertible):
                return failure(f"{decoded.reason} (in member {key!r})")
            out[key] = decoded
        return out
    if tag == "d":
        return _EPOCH + dt.timedelta(milliseconds=v)
    if tag == "f":
        return float(v)
    if tag == "i":
        number = int(v)
        if INT64_MIN <= number <= INT64_MAX:
            return number
        return failure(f"returned the BigInt {v}, outside the int64 range")
    if tag == "b":
        return bytes.fromhex(v)
    if tag == "e":
        return failure(f"threw {v}")
    return failure(f"returned {v}, which has no BSON form")


def _sequence(values: list[Any]) -> Any:
    out = []
    for i, item in enumerate(values):
        decoded = _from_js(item)
        if isinstance(decoded, Unconvertible):
            return failure(f"{decoded.reason} (at index {i})")
        out.append(decoded)
    return out
