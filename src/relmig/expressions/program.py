"""A node's expressions compiled once, then evaluated a page of rows per call into the engine.

A page that the engine stops (a row that loops, runs out of memory or overflows the stack) is
evaluated again row by row, and a row it stops again expression by expression, so only the
expressions at fault get a failure and the rest keep their values.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from operator import itemgetter
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
        indexes = list(column_index)
        self._pick = itemgetter(*indexes) if len(indexes) > 1 else (lambda row: (row[indexes[0]],))
        if not indexes:
            self._pick = lambda row: ()
        self._converted = [(pos, c) for pos, c in enumerate(converters) if c is not None]

    def evaluate(self, rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
        """Per row, the expressions' results (a filter's first): BSON-ready values, or
        Unconvertible failures naming what went wrong."""
        pick = self._pick
        if not self._converted:
            return self._run([pick(row) for row in rows])
        values = []
        for row in rows:
            out = list(pick(row))
            for pos, convert in self._converted:
                raw = out[pos]
                if raw is not None:
                    # A decimal goes in as the double JavaScript makes of the converted value.
                    out[pos] = float(raw) if type(raw) is Decimal else convert(raw)
            values.append(out)
        return self._run(values)

    def _run(self, values: Sequence[Sequence[Any]]) -> list[list[Any]]:
        try:
            return decode_page(sandbox().run(self.source, encode_page(values), len(values)))
        except EngineError:
            if len(values) > 1:
                return [self._run([row])[0] for row in values]
            return [self._each(values[0])]

    def _each(self, row: Sequence[Any]) -> list[Any]:
        """A row the engine stopped, one expression at a time: the failure goes to the
        expressions at fault, the others keep their values."""
        source = self.source
        out: list[Any] = []
        for position, expression in enumerate(source.expressions):
            single = ProgramSource(source.columns, (expression,))
            try:
                out.append(decode_page(sandbox().run(single, encode_page([row]), 1))[0][0])
            except EngineError as exc:
                out.append(failure(str(exc)))
            if source.filter and position == 0 and out[0] is not True:
                break  # a dropped row: no fields
        return out
