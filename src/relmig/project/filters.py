"""A snapshot filter is one condition on its own table's row, and nothing else.

The filter's text goes into the snapshot's SQL, so it is checked where every rule is (the
project validator, whichever way it came in), parsed in the source's dialect by sqlglot: one
expression, true or false for a row; only the table's columns; no subquery; no function that
writes, waits, or reaches outside the row (sequences, settings, sleeps, files, other
databases, locks). The source session is read-only and PostgreSQL statements take the extended
protocol anyway (relmig.source.sql); this check is what gives the user a message at save.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from relmig.project.model import Dialect, Table

SQLGLOT_DIALECTS: dict[Dialect, str] = {"postgresql": "postgres", "mysql": "mysql"}

# Functions with an effect beyond reading the row: writing (sequences, settings, large
# objects), waiting, reading files or other servers, or taking locks.
_REFUSED = {
    "nextval", "setval", "currval", "lastval", "set_config", "current_setting",
    "pg_sleep", "pg_sleep_for", "pg_sleep_until", "sleep", "benchmark", "load_file",
    "get_lock", "release_lock", "release_all_locks", "is_free_lock", "is_used_lock",
    "master_pos_wait", "master_gtid_wait", "source_pos_wait", "sys_exec", "sys_eval",
    "query_to_xml", "table_to_xml", "cursor_to_xml", "database_to_xml", "schema_to_xml",
    "txid_current", "last_insert_id", "uuid_short", "nextval_for",
}  # fmt: skip
_REFUSED_PREFIXES = ("pg_", "lo_", "dblink", "txid_", "xmlexists")
# Conditions: what a WHERE clause can be, true, false or unknown for a row.
_CONDITIONS = (exp.Connector, exp.Not, exp.Predicate, exp.Boolean, exp.Column, exp.Null)


def filter_problem(where: str, table: Table, dialect: Dialect) -> str | None:
    """Why `where` cannot be the table's snapshot filter; None when it can."""
    try:
        parsed = sqlglot.parse(where, read=SQLGLOT_DIALECTS[dialect])
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        at = f" at column {first['col']}" if first.get("col") else ""
        why = re.sub(r" for <class [^>]*>", "", str(first.get("description") or exc))
        return f"not a SQL condition ({why}{at})"
    statements = [s for s in parsed if s is not None]
    if len(statements) != 1:
        return "must be one condition, not several statements"
    condition = statements[0]
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if not isinstance(condition, _CONDITIONS):
        return f"must be a condition (true or false for a row), not {condition.sql()!r}"
    for node in condition.walk():
        if isinstance(node, exp.Query | exp.Subquery):
            return "must not read other rows or tables (a subquery)"
        if isinstance(node, exp.Placeholder | exp.Parameter):
            return f"must not hold a parameter ({node.sql()})"
        if isinstance(node, exp.Func) and not isinstance(node, exp.Connector):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in _REFUSED or name.startswith(_REFUSED_PREFIXES):
                return f"calls {name}(), which does more than read the row"
    columns = {c.name.lower() for c in table.columns}
    for column in condition.find_all(exp.Column):
        if column.table and column.table.lower() != table.name.lower():
            return f"refers to another table ({column.table}.{column.name})"
        if column.name.lower() not in columns:
            return f"{table.id} has no column {column.name}"
    return None
