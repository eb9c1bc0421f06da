"""Queries in, answers out: what `relmig convert` and the API's convert endpoint share.

Each statement of a text is converted on its own (one refusal does not hide the others'
conversions), and with a target each converted one can be checked (relmig.queries.check).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bson import json_util
from sqlglot.dialects.dialect import Dialect as SqlglotDialect
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from relmig.errors import RelmigError
from relmig.mongo.writer import MongoTarget
from relmig.project.filters import SQLGLOT_DIALECTS
from relmig.project.model import Dialect, Project
from relmig.queries.capabilities import capabilities
from relmig.queries.check import CheckResult, check
from relmig.queries.convert import Conversion, convert, plans_of
from relmig.queries.refusal import CannotConvert
from relmig.queries.render import render
from relmig.source.sql import SqlSource


@dataclass
class Answer:
    sql: str
    conversion: Conversion | None = None
    refused: str | None = None  # why it was not converted
    checked: CheckResult | None = None
    unchecked: str | None = None  # why a converted query could not be checked

    @property
    def ok(self) -> bool:
        return self.conversion is not None and (self.checked is None or self.checked.equal)

    def as_dict(self, language: str) -> dict[str, Any]:
        c = self.conversion
        return {
            "sql": self.sql,
            "converted": c is not None,
            "refused": self.refused,
            "collection": c.collection if c else None,
            "pipeline": json_util.loads(json_util.dumps(c.pipeline)) if c else None,
            "columns": c.columns if c else None,
            "code": render(c, language) if c else None,
            "check": self.checked.as_dict() if self.checked else None,
            "unchecked": self.unchecked,
        }


def statements_of(text: str, dialect: Dialect) -> list[str]:
    """The statements of a text, as written (split at the semicolons outside strings and
    comments), so that the source runs exactly what was converted."""
    try:
        tokens = SqlglotDialect.get_or_raise(SQLGLOT_DIALECTS[dialect]).tokenize(text)
    except SqlglotError as exc:
        raise RelmigError(f"cannot read the SQL: {exc}") from None
    out, start = [], 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            out.append(text[start : token.start])
            start = token.end + 1
    out.append(text[start:])
    return [s.strip() for s in out if s.strip()]


def view_sql(source: SqlSource, name: str) -> str:
    """A view's defining SELECT, read from the source's catalog."""
    schema, _, view = name.rpartition(".")
    if source.settings.dialect == "postgresql":
        rows = source.fetch(
            "SELECT pg_get_viewdef(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = "
            "c.relnamespace WHERE c.relkind IN ('v', 'm') AND c.relname = %s "
            "AND (%s = '' OR n.nspname = %s)",
            (view, schema, schema),
        )
    else:
        rows = source.fetch(
            "SELECT VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_NAME = %s "
            "AND TABLE_SCHEMA = IF(%s = '', DATABASE(), %s)",
            (view, schema, schema),
        )
    if len(rows) != 1:
        found = "no view" if not rows else "several views"
        raise RelmigError(f"{found} named {name} on the {source.where}")
    return str(rows[0][0]).strip().rstrip(";")


def answer(
    project: Project,
    statements: list[str],
    source: SqlSource,
    target: MongoTarget | None = None,
    *,
    verify: bool = False,
) -> list[Answer]:
    caps = capabilities(source, target, [c.name for c in project.collections])
    decimals = target.decimals if target is not None else "decimal128"
    plans = plans_of(project, decimals)
    answers = []
    for sql in statements:
        result = Answer(sql)
        try:
            result.conversion = convert(project, sql, decimals=decimals, caps=caps, plans=plans)
        except CannotConvert as exc:
            result.refused = str(exc)
        if verify and target is not None and result.conversion is not None:
            try:
                result.checked = check(result.conversion, source, target)
            except RelmigError as exc:
                result.unchecked = str(exc)
        answers.append(result)
    return answers
