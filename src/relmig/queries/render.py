"""A conversion as code a user runs: mongosh syntax, or a pymongo function.

Parameters stay parameters (`p1`, `p2`, … in the order they appear in the SQL); a query whose
SQL answers an empty input with one row (an aggregate without GROUP BY) returns that row when
no document comes back, as the SQL would.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bson.binary import Binary
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.objectid import ObjectId
from bson.regex import Regex

from relmig.queries.conditions import Param
from relmig.queries.convert import Conversion

LANGUAGES = ("shell", "python")
_INLINE = 72  # a value whose one-line form is this short stays on one line


def render(conversion: Conversion, language: str) -> str:
    if language == "shell":
        return _shell(conversion)
    if language == "python":
        return _python(conversion)
    raise ValueError(f"unknown output language {language!r} (one of: {', '.join(LANGUAGES)})")


def _params(conversion: Conversion) -> list[str]:
    return [f"p{p.index}" for p in conversion.params]


# --- mongosh ----------------------------------------------------------------------------------


def _shell(conversion: Conversion) -> str:
    pipeline = _layout(conversion.pipeline, 0, SHELL)
    head = [f"// {line}" for line in conversion.sql.strip().splitlines()]
    names = _params(conversion)
    if names:
        head.append(f"// parameters: {', '.join(names)} (set them before running)")
    call = f"db.getCollection({json.dumps(conversion.collection)}).aggregate({pipeline})"
    if conversion.columns is not None:
        fields = ", ".join(
            f"{json.dumps(name)}: d{''.join(f'?.[{json.dumps(p)}]' for p in path.split('.'))}"
            for name, path in conversion.columns.items()
        )
        call = f"{call}.toArray().map(d => ({{{fields}}}))"
    if conversion.when_empty is not None:
        empty = _layout(conversion.when_empty, 0, SHELL)
        rows = call if conversion.columns is not None else f"{call}.toArray()"
        call = f"(rows => rows.length ? rows : [{empty}])({rows})"
    return "\n".join([*head, call]) + "\n"


def _shell_scalar(value: Any) -> str:
    if isinstance(value, Param):
        return f"p{value.index}"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, Int64):
        return f'NumberLong("{int(value)}")'
    if isinstance(value, int | float | str):
        return json.dumps(value)
    if isinstance(value, Decimal128):
        return f'NumberDecimal("{value}")'
    if isinstance(value, dt.datetime):
        return f'ISODate("{_iso(value)}")'
    if isinstance(value, Regex):
        return f"/{value.pattern.replace('/', chr(92) + '/')}/{_flags(value)}"
    if isinstance(value, ObjectId):
        return f'ObjectId("{value}")'
    if isinstance(value, Binary):
        return f'BinData({value.subtype}, "{base64.b64encode(bytes(value)).decode()}")'
    raise TypeError(f"no shell form for {type(value).__name__}")


# --- pymongo ----------------------------------------------------------------------------------


def _python(conversion: Conversion) -> str:
    args = ", ".join(["db", *_params(conversion)])
    pipeline = _layout(conversion.pipeline, 1, PYTHON)
    body = f"rows = list(db[{conversion.collection!r}].aggregate({pipeline}))"
    if conversion.columns is not None:
        # The target's $project cannot rename: each column is read from its path here.
        fields = ", ".join(
            f"{name!r}: _at(d, {path!r})" for name, path in conversion.columns.items()
        )
        body += f"\n    rows = [{{{fields}}} for d in rows]"
    result = "rows"
    if conversion.when_empty is not None:
        result = f"rows or [{_layout(conversion.when_empty, 1, PYTHON)}]"
    sql = "\n".join(f"    # {line}" for line in conversion.sql.strip().splitlines())
    code = f"def query({args}):\n{sql}\n    {body}\n    return {result}\n"
    used = [n for n in ("Binary", "Decimal128", "Int64", "ObjectId", "Regex") if f"{n}(" in code]
    head = "import datetime\n\n" if "datetime.datetime" in code else ""
    if used:
        head += f"from bson import {', '.join(used)}\n\n"
    return (head + "\n" if head else "") + code + (_AT if conversion.columns is not None else "")


_AT = """

def _at(doc, path):
    for part in path.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc
"""


def _python_scalar(value: Any) -> str:
    if isinstance(value, Param):
        return f"p{value.index}"
    if isinstance(value, Int64):
        return f"Int64({int(value)})"
    if isinstance(value, bool | int | float | str) or value is None:
        return repr(value)
    if isinstance(value, Decimal128):
        return f"Decimal128({str(value)!r})"
    if isinstance(value, dt.datetime):
        return f"datetime.datetime.fromisoformat({_iso(value)!r})"
    if isinstance(value, Regex):
        return f"Regex({value.pattern!r}, {_flags(value)!r})"
    if isinstance(value, ObjectId):
        return f"ObjectId({str(value)!r})"
    if isinstance(value, Binary):
        return f"Binary({bytes(value)!r}, {value.subtype})"
    raise TypeError(f"no Python form for {type(value).__name__}")


@dataclass(frozen=True)
class _Syntax:
    scalar: Callable[[Any], str]
    key: Callable[[str], str]
    indent: str
    trailing: str  # after the last item of a multi-line object or array


SHELL = _Syntax(_shell_scalar, json.dumps, "  ", "")
PYTHON = _Syntax(_python_scalar, repr, "    ", ",")


def _layout(value: Any, depth: int, syntax: _Syntax) -> str:
    """One line where it fits in _INLINE characters, else an item a line, indented."""
    flat = _inline(value, syntax)
    if not isinstance(value, dict | list) or len(flat) <= _INLINE:
        return flat
    inner = syntax.indent * (depth + 1)
    if isinstance(value, dict):
        items = [
            f"{inner}{syntax.key(k)}: {_layout(v, depth + 1, syntax)}" for k, v in value.items()
        ]
        ends = "{}"
    else:
        items = [f"{inner}{_layout(v, depth + 1, syntax)}" for v in value]
        ends = "[]"
    body = ",\n".join(items) + syntax.trailing
    return f"{ends[0]}\n{body}\n{syntax.indent * depth}{ends[1]}"


def _inline(value: Any, syntax: _Syntax) -> str:
    if isinstance(value, dict):
        items = (f"{syntax.key(k)}: {_inline(v, syntax)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v, syntax) for v in value) + "]"
    return syntax.scalar(value)


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _flags(regex: Regex) -> str:
    flags = regex.flags if isinstance(regex.flags, int) else 0
    return "".join(c for c, f in (("i", re.I), ("m", re.M), ("s", re.S), ("x", re.X)) if flags & f)
