"""Source keys as JSON, exactly: checkpoints and issues must name the same row they came from.

The standard json module loses Decimal, UUID, dates and bytes, so each value carries a tag.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

_ENCODERS: list[tuple[type, str, Any]] = [
    (bool, "", None),
    (Decimal, "dec", str),
    (uuid.UUID, "uuid", str),
    (dt.datetime, "dt", dt.datetime.isoformat),
    (dt.date, "date", dt.date.isoformat),
    (dt.time, "time", dt.time.isoformat),
    (dt.timedelta, "td", dt.timedelta.total_seconds),
    (bytes, "b64", lambda b: base64.b64encode(b).decode()),
    (memoryview, "b64", lambda b: base64.b64encode(bytes(b)).decode()),
]

_DECODERS: dict[str, Any] = {
    "dec": Decimal,
    "uuid": uuid.UUID,
    "dt": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "td": lambda s: dt.timedelta(seconds=s),
    "b64": base64.b64decode,
}


def _tag(value: Any) -> Any:
    for kind, tag, encode in _ENCODERS:
        if isinstance(value, kind):
            return value if not tag else {"$" + tag: encode(value)}
    return value


def key_to_json(key: tuple[Any, ...]) -> list[Any]:
    """The key as a JSON-ready list (what `dumps_key` writes), for embedding in documents."""
    return [_tag(v) for v in key]


def key_from_json(items: list[Any]) -> tuple[Any, ...]:
    out = []
    for item in items:
        if isinstance(item, dict) and len(item) == 1:
            ((tag, raw),) = item.items()
            item = _DECODERS[tag[1:]](raw)
        out.append(item)
    return tuple(out)


def dumps_key(key: tuple[Any, ...]) -> str:
    return json.dumps(key_to_json(key), ensure_ascii=False)


def loads_key(text: str) -> tuple[Any, ...]:
    return key_from_json(json.loads(text))


def show_key(key: tuple[Any, ...]) -> str:
    """A key for people: `42` or `(10248, 11)`."""
    return str(key[0]) if len(key) == 1 else "(" + ", ".join(str(v) for v in key) + ")"
