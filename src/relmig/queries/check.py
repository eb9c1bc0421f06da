"""Run the SQL on the source and its conversion on the target, and compare the answers.

Both sides are only read: the source session is read-only (relmig.source.sql) and the target
runs an aggregation. Values are compared as the target stores them: a source value of a plain
column goes through the column's converter (as the document builder did), then both sides make
a BSON round trip; numbers compare to 12 significant digits (an average or a quotient is
computed in other arithmetic on each side). Rows compare as multisets, and in order where the
SQL has an ORDER BY: the sequence of sort keys must be equal, and the rows between two changes
of the key are compared as a multiset (ties may come in any order on either side).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import bson
from bson.decimal128 import Decimal128
from pymongo.errors import PyMongoError

from relmig.errors import RelmigError
from relmig.mongo.writer import MongoTarget
from relmig.queries.convert import Conversion
from relmig.source.sql import SqlSource, user_text
from relmig.source.values import Unconvertible
from relmig.timeouts import query_timeout
from relmig.verify.compare import CODEC

ROW_LIMIT = 10_000
Row = tuple[Any, ...]


@dataclass
class CheckResult:
    equal: bool
    sql_rows: int
    mongo_rows: int
    differences: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "equal": self.equal,
            "sql_rows": self.sql_rows,
            "mongo_rows": self.mongo_rows,
            "differences": self.differences,
        }


def check(
    conversion: Conversion,
    source: SqlSource,
    target: MongoTarget,
    *,
    row_limit: int = ROW_LIMIT,
    max_differences: int = 5,
) -> CheckResult:
    if conversion.params:
        raise RelmigError(
            "this query has parameters: it is converted, but checking it needs literal values "
            "in their place"
        )
    sql_rows = source.fetch(user_text(conversion.sql))  # the driver formats it: % is %%
    if len(sql_rows) > row_limit:
        raise RelmigError(
            f"the SQL returned {len(sql_rows):,} rows, more than the check's limit of "
            f"{row_limit:,}: add a LIMIT (with an ORDER BY) to check it"
        )
    coll = target.db.get_collection(conversion.collection, codec_options=CODEC)
    pipeline = [*conversion.pipeline, {"$limit": row_limit + 1}]
    try:
        docs = list(coll.aggregate(pipeline, maxTimeMS=int(query_timeout() * 1000)))
    except PyMongoError as exc:
        raise RelmigError(f"the target did not run the converted query: {exc}") from None
    if not docs and conversion.when_empty is not None:
        docs = [conversion.when_empty]
    names = [o.name for o in conversion.outputs]
    columns = conversion.columns or {n: n for n in names}
    mine = [tuple(_normal(_bson(_at(d, columns[n]))) for n in names) for d in docs]
    theirs = [_sql_row(conversion, row) for row in sql_rows]
    result = CheckResult(True, len(theirs), len(mine))
    if conversion.limited and not conversion.order:
        # Any rows may come back for a LIMIT without a full ORDER BY: the count is what is fixed.
        if len(theirs) != len(mine):
            result.differences.append(f"{len(theirs)} rows from SQL, {len(mine)} from MongoDB")
    elif conversion.order:
        keys = [names.index(n) for n in conversion.order]
        result.differences += _ordered(theirs, mine, keys, conversion.limited)
    else:
        result.differences += _multiset(theirs, mine)
    result.differences = result.differences[:max_differences]
    result.equal = not result.differences
    return result


def _at(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _sql_row(conversion: Conversion, row: Row) -> Row:
    values = []
    for output, value in zip(conversion.outputs, row, strict=True):
        if output.column is not None and output.column.type == "money" and isinstance(value, str):
            # The snapshot reads money as numeric (relmig.source.postgres_types); the user's
            # SQL gets lc_monetary's text, "-$1,234.50".
            value = Decimal(re.sub(r"[^0-9.-]", "", value))
        convert = output.field.convert if output.field is not None else None
        if convert is not None and value is not None:
            value = convert(value)
            if isinstance(value, Unconvertible):
                value = f"<unconvertible: {value.reason}>"
        values.append(_normal(_bson(value)))
    return tuple(values)


def _bson(value: Any) -> Any:
    """What the target would give back for the value: a round trip through BSON."""
    if isinstance(value, Decimal):
        return value  # compared as a number below; Decimal128 cannot hold every one
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    try:
        return bson.decode(bson.encode({"v": value}), codec_options=CODEC)["v"]
    except (bson.errors.InvalidDocument, TypeError, OverflowError):
        return value


def _normal(value: Any) -> Any:
    """A hashable value, equal on both sides for what the target holds for the source's."""
    if isinstance(value, bool) or value is None or isinstance(value, str | bytes):
        return value
    if isinstance(value, Decimal128):
        value = value.to_decimal()
    if isinstance(value, int | float | Decimal):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return str(value)
        if not number.is_finite():
            return str(number)
        rounded = Decimal(format(number, ".11e")).normalize() if number else Decimal(0)
        return ("number", format(rounded, "g"))
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    if isinstance(value, dict):
        return tuple(sorted((k, _normal(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_normal(v) for v in value)
    return repr(value)


def _multiset(theirs: list[Row], mine: list[Row]) -> list[str]:
    sql, mongo = Counter(theirs), Counter(mine)
    out = [f"only from SQL: {_show(r)}" for r in (sql - mongo).elements()]
    out += [f"only from MongoDB: {_show(r)}" for r in (mongo - sql).elements()]
    if len(theirs) != len(mine):
        out.insert(0, f"{len(theirs)} rows from SQL, {len(mine)} from MongoDB")
    return out


def _ordered(theirs: list[Row], mine: list[Row], keys: list[int], limited: bool) -> list[str]:
    def key(row: Row) -> Row:
        return tuple(row[i] for i in keys)

    for n, (a, b) in enumerate(zip(theirs, mine, strict=False)):
        if key(a) != key(b):
            return [f"row {n + 1} is out of order: SQL {_show(a)}, MongoDB {_show(b)}"]
    if len(theirs) != len(mine):
        return [f"{len(theirs)} rows from SQL, {len(mine)} from MongoDB"]
    runs_sql, runs_mongo = _runs(theirs, key), _runs(mine, key)
    if limited and runs_sql:  # the last run was cut by the LIMIT: ties may differ there
        runs_sql, runs_mongo = runs_sql[:-1], runs_mongo[:-1]
    out: list[str] = []
    for a, b in zip(runs_sql, runs_mongo, strict=True):
        out += _multiset(a, b)
    return out


def _runs(rows: list[Row], key: Any) -> list[list[Row]]:
    runs: list[list[Row]] = []
    for row in rows:
        if runs and key(runs[-1][0]) == key(row):
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


def _show(row: Row) -> str:
    return "(" + ", ".join(_show_value(v) for v in row) + ")"


def _show_value(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "number":
        return str(value[1])
    return repr(value)
