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
from typing import Any

from bson.binary import Binary
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.objectid import ObjectId
from bson.regex import Regex

from relmig.queries.conditions import Param
from relmig.queries.convert import Conversion

LANGUAGES = ("shell", "python")
_INDENT = "  "
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
    pipeline = _shell_value(conversion.pipeline, 0)
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
        empty = _shell_value(conversion.when_empty, 0)
        rows = call if conversion.columns is not None else f"{call}.toArray()"
        call = f"(rows => rows.length ? rows : [{empty}])({rows})"
    return "\n".join([*head, call]) + "\n"


def _shell_value(value: Any, depth: int, inline: bool = False) -> str:
    if not inline and isinstance(value, dict | list):
        flat = _shell_value(value, depth, inline=True)
        if len(flat) <= _INLINE:
            return flat
    if inline and isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{json.dumps(k)}: {_shell_value(v, 0, True)}" for k, v in value.items())
            + "}"
        )
    if inline and isinstance(value, list):
        return "[" + ", ".join(_shell_value(v, 0, True) for v in value) + "]"
    pad, inner = _INDENT * depth, _INDENT * (depth + 1)
    if isinstance(value, Param):
        return f"p{value.index}"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {_shell_value(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [f"{inner}{_shell_value(v, depth + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
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
    pipeline = _python_value(conversion.pipeline, 1)
    body = f"rows = list(db[{conversion.collection!r}].aggregate({pipeline}))"
    if conversion.columns is not None:
        # The target's $project cannot rename: each column is read from its path here.
        fields = ", ".join(
            f"{name!r}: _at(d, {path!r})" for name, path in conversion.columns.items()
        )
        body += f"\n    rows = [{{{fields}}} for d in rows]"
    result = "rows"
    if conversion.when_empty is not None:
        result = f"rows or [{_python_value(conversion.when_empty, 1)}]"
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


def _python_value(value: Any, depth: int, inline: bool = False) -> str:
    if not inline and isinstance(value, dict | list):
        flat = _python_value(value, depth, inline=True)
        if len(flat) <= _INLINE:
            return flat
    if inline and isinstance(value, dict):
        return (
            "{" + ", ".join(f"{k!r}: {_python_value(v, 0, True)}" for k, v in value.items()) + "}"
        )
    if inline and isinstance(value, list):
        return "[" + ", ".join(_python_value(v, 0, True) for v in value) + "]"
    pad, inner = "    " * depth, "    " * (depth + 1)
    if isinstance(value, Param):
        return f"p{value.index}"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{k!r}: {_python_value(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f",\n{pad}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [f"{inner}{_python_value(v, depth + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + f",\n{pad}]"
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


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _flags(regex: Regex) -> str:
    flags = regex.flags if isinstance(regex.flags, int) else 0
    return "".join(c for c, f in (("i", re.I), ("m", re.M), ("s", re.S), ("x", re.X)) if flags & f)
