"""Calculated fields, mapping-rule filters and an expression `_id`, for one node of a plan.

The builder calls `evaluate` once per page of a node's rows, before it builds them: rows the
filter drops go no further (their embedded rows are never read), and the kept rows carry their
calculated values. With no expression on a node, the node has no ComputedPlan and the builder
does not call here at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from relmig.expressions.program import Program
from relmig.source.sql import Row
from relmig.source.values import Converter, Unconvertible


@dataclass(slots=True)
class CalculatedPlan:
    name: str
    path: tuple[str, ...]
    convert: Converter | None  # a BSON type override, decimals in the target's form
    omit_null: bool


@dataclass(slots=True)
class Evaluated:
    """A page after the filter: the kept rows, each one's expression results (calculated
    fields in order, then the `_id` expression), and why dropped rows were dropped when the
    filter gave neither true nor false."""

    rows: list[Row]
    values: list[list[Any]]
    dropped: list[tuple[Row, str]]


@dataclass(slots=True)
class ComputedPlan:
    program: Program
    has_filter: bool
    fields: list[CalculatedPlan]
    id_convert: Converter | None = None
    has_id: bool = False

    def evaluate(self, rows: Sequence[Row]) -> Evaluated:
        kept: list[Row] = []
        values: list[list[Any]] = []
        dropped: list[tuple[Row, str]] = []
        results = self.program.evaluate(rows) if rows else []
        for row, result in zip(rows, results, strict=True):
            if self.has_filter:
                verdict = result[0]
                if verdict is not True:
                    if verdict is not False:
                        dropped.append((row, _filter_reason(verdict)))
                    continue
                result = result[1:]
            kept.append(row)
            values.append(result)
        return Evaluated(kept, values, dropped)

    def id_value(self, result: Sequence[Any]) -> Any:
        value = result[len(self.fields)]
        if self.id_convert is not None and value is not None and not _failed(value):
            value = self.id_convert(value)
        return value


def _failed(value: Any) -> bool:
    return isinstance(value, Unconvertible)


def _filter_reason(verdict: Any) -> str:
    if isinstance(verdict, Unconvertible):
        return f"the filter {verdict.reason}; the row is left out"
    return f"the filter returned {verdict!r}, not true or false; the row is left out"
