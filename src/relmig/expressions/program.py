"""A node's expressions compiled once, then evaluated a page of rows per call into the engine.

A page that the engine stops (a row that loops, runs out of memory or overflows the stack) is
evaluated again row by row, so only the rows at fault get a failure and the rest keep their
values; the per-row limit decides in both cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relmig.expressions.codec import decode_page, encode_page, failure
from relmig.expressions.sandbox import EngineError, ProgramSource, sandbox
from relmig.source.values import Converter


class Program:
    def __init__(
        self,
        source: ProgramSource,
        column_index: Sequence[int],
        converters: Sequence[Converter | None],
    ) -> None:
        """`column_index` says where each of `source.columns` is in a row; `converters` make
        each value what the document would hold (the expression sees converted values)."""
        self.source = source
        self._reads = [
            (index, convert) for index, convert in zip(column_index, converters, strict=True)
        ]

    def evaluate(self, rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
        """Per row, the expressions' results (a filter's first): BSON-ready values, or
        Unconvertible failures naming what went wrong."""
        values = [
            [
                raw if convert is None or raw is None else convert(raw)
                for index, convert in self._reads
                for raw in (row[index],)
            ]
            for row in rows
        ]
        return self._run(values)

    def _run(self, values: list[list[Any]]) -> list[list[Any]]:
        box = sandbox()
        try:
            return decode_page(box.run(self.source, encode_page(values), len(values)))
        except EngineError as exc:
            if len(values) > 1:
                return [self._run([row])[0] for row in values]
            return [[failure(str(exc))] * len(self.source.expressions)]
