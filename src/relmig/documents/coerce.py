"""BSON type overrides from a field rule's `type` option."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from bson import Binary, Decimal128, Int64, ObjectId

from relmig.source.values import Unconvertible, to_bson


def _to_int(value: Any, low: int, high: int, name: str) -> Any:
    if isinstance(value, Decimal128):
        value = value.to_decimal()
    try:
        number = int(value)
    except (TypeError, ValueError, InvalidOperation, OverflowError):
        return Unconvertible(f"cannot convert to {name}", repr(value))
    if number != value and not isinstance(value, str | bool):
        return Unconvertible(f"{name} would lose the fraction", repr(value))
    if not low <= number <= high:
        return Unconvertible(f"out of the {name} range", repr(value))
    return number


def _int32(value: Any) -> Any:
    return _to_int(value, -(2**31), 2**31 - 1, "int32")


def _int64(value: Any) -> Any:
    number = _to_int(value, -(2**63), 2**63 - 1, "int64")
    return number if isinstance(number, Unconvertible) else Int64(number)


def _double(value: Any) -> Any:
    if isinstance(value, Decimal128):
        value = value.to_decimal()
    try:
        return float(value)
    except (TypeError, ValueError):
        return Unconvertible("cannot convert to double", repr(value))


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal128):
        return value
    try:
        return to_bson(Decimal(str(value)))
    except InvalidOperation:
        return Unconvertible("cannot convert to decimal", repr(value))


def _string(value: Any) -> Any:
    if isinstance(value, Decimal128):
        return str(value.to_decimal())
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Binary) and value.subtype == 4:
        return str(value.as_uuid())
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _bool(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "t", "yes", "y", "1"}:
            return True
        if lowered in {"false", "f", "no", "n", "0"}:
            return False
        return Unconvertible("cannot convert to bool", repr(value))
    return bool(value)


def _date(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return to_bson(dt.datetime.fromisoformat(value))
        except ValueError:
            return Unconvertible("cannot convert to date", repr(value))
    return Unconvertible("cannot convert to date", repr(value))


def _object_id(value: Any) -> Any:
    try:
        return ObjectId(value)
    except Exception:
        return Unconvertible("not a valid ObjectId", repr(value))


def _binary(value: Any) -> Any:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return Unconvertible("cannot convert to binary", repr(value))


COERCIONS: dict[str, Callable[[Any], Any]] = {
    "int32": _int32,
    "int64": _int64,
    "double": _double,
    "decimal": _decimal,
    "string": _string,
    "bool": _bool,
    "date": _date,
    "objectId": _object_id,
    "binary": _binary,
}
