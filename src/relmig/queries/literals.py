"""A SQL literal compared with a column, as the value the documents hold for it.

The literal is read as the source would cast it to the column's type, then goes through the
column's own converter (the one the document builder used), so a date literal meets the
stored datetime, a decimal the stored Decimal128, a MariaDB TINYINT(1) the stored boolean.
Only types whose order and equality survive that trip are compared; the rest are refused.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from relmig.documents.plan import FieldPlan
from relmig.project.model import Column, Dialect
from relmig.source.values import Unconvertible

_FAMILIES: list[tuple[str, re.Pattern[str]]] = [
    ("bool", re.compile(r"^(boolean|bool|tinyint\(1\))")),
    ("int", re.compile(r"^((tiny|small|medium|big)?int|integer|(small|big)?serial|year)")),
    ("decimal", re.compile(r"^(numeric|decimal|dec|fixed|money)")),
    ("float", re.compile(r"^(real|double|float)")),
    ("timestamp", re.compile(r"^(timestamp|datetime)")),
    ("date", re.compile(r"^date$")),
    ("text", re.compile(r"^(text|varchar|character varying|char|character|bpchar|nchar|nvarchar|"
                        r"tinytext|mediumtext|longtext|citext|enum|name)")),
]  # fmt: skip
ORDERED = {"int", "decimal", "float", "timestamp", "date", "text"}


def family(column: Column) -> str | None:
    """int, decimal, float, bool, date, timestamp or text; None for the rest."""
    sql_type = column.type.lower().strip()
    if sql_type.endswith("[]"):
        return None
    for name, pattern in _FAMILIES:
        if pattern.search(sql_type):
            return name
    return None


def char_width(column: Column, dialect: Dialect) -> int | None:
    """PostgreSQL's char(n) keeps its padding in the value it returns (and in the document)."""
    if dialect != "postgresql":
        return None
    found = re.match(r"^(char|character|bpchar)\s*\((\d+)\)", column.type.lower())
    return int(found.group(2)) if found else None


def scale(column: Column) -> int:
    """Digits after the point of numeric(p, s) / decimal(p, s); 0 for the rest."""
    found = re.search(r"\(\s*\d+\s*,\s*(\d+)\s*\)", column.type)
    return int(found.group(1)) if found and family(column) == "decimal" else 0


def python_value(kind: str, value: Any) -> Any:
    """The literal as the driver would have returned the column's value; ValueError if the
    literal is no value of the type."""
    if value is None:
        return None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int | Decimal) and value in (0, 1):
            return bool(value)
        text = str(value).strip().lower()
        if text in ("t", "true", "yes", "on", "1"):
            return True
        if text in ("f", "false", "no", "off", "0"):
            return False
        raise ValueError(f"{value!r} is not a boolean")
    if kind == "int":
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if number != number.to_integral_value():
            return number  # compared as the number it is
        return int(number)
    if kind == "decimal":
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
    if kind == "float":
        return float(value)
    if kind == "date":
        return dt.date.fromisoformat(str(value).strip())
    if kind == "timestamp":
        return dt.datetime.fromisoformat(str(value).strip().replace(" ", "T", 1))
    return str(value)


def stored(field: FieldPlan | None, kind: str, value: Any, width: int | None = None) -> Any:
    """The value the documents hold for `value` in this column."""
    converted = python_value(kind, value)
    if kind == "text" and width is not None and isinstance(converted, str):
        converted = converted.rstrip(" ").ljust(width)  # char(n) compares without padding
    if field is not None and field.convert is not None and converted is not None:
        converted = field.convert(converted)
        if isinstance(converted, Unconvertible):
            raise ValueError(converted.reason)
    return converted
