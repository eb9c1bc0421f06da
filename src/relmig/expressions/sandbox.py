"""The sandbox: a QuickJS context with relmig's runner, a memory limit and a time limit.

QuickJS was chosen over V8 (mini-racer) after measuring both (docs/benchmarks.md,
bench/expression_engines.py). A bare QuickJS context has only the ECMAScript built-ins: no
file, network, process or module access (`import` of 'std' or 'os' fails), no timers. The
runner also removes the clock and Math.random, so an expression is a function of its row.

A context belongs to one thread (QuickJS objects must not cross threads), so each thread gets
its own, and every program is defined again in a replacement context after an engine failure
(out of memory leaves a QuickJS context unusable).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

import quickjs

MEMORY_LIMIT = 64 * 1024 * 1024  # bytes per context
# CPU seconds (QuickJS measures the process's CPU time): one row's expressions may take
# ROW_SECONDS; a page's call PAGE_SECONDS, past which the page is evaluated row by row.
ROW_SECONDS = 1.0
PAGE_SECONDS = 2.0
STACK_LIMIT = 1024 * 1024
MAX_PROGRAMS = 500  # programs a context keeps before it is replaced by a fresh one

RUNNER = resources.files("relmig.expressions").joinpath("runner.js").read_text(encoding="utf-8")


class EngineError(Exception):
    """The engine stopped a call: `kind` is "timeout", "memory" or "error"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class ExpressionSyntaxError(ValueError):
    """An expression the engine cannot compile; the message is the engine's."""


@dataclass(frozen=True, slots=True)
class ProgramSource:
    """What a program is: the columns it reads and its expressions (the first a filter when
    `filter` is set, so the others are skipped for rows it drops)."""

    columns: tuple[str, ...]
    expressions: tuple[str, ...]
    filter: bool = False


class Sandbox:
    def __init__(self) -> None:
        self._programs: dict[ProgramSource, int] = {}
        self._fresh()

    def _fresh(self) -> None:
        self._context = quickjs.Context()
        self._context.set_memory_limit(MEMORY_LIMIT)
        self._context.set_max_stack_size(STACK_LIMIT)
        self._context.eval(RUNNER)
        self._define = self._context.eval("__relmig.define")
        self._check = self._context.eval("__relmig.check")
        self._run = self._context.eval("__relmig.run")
        for program in list(self._programs):
            self._programs[program] = self._compile(program)

    def _compile(self, program: ProgramSource) -> int:
        self._context.set_time_limit(PAGE_SECONDS)
        columns = self._context.parse_json(_json_list(program.columns))
        sources = self._context.parse_json(_json_list(program.expressions))
        try:
            return int(self._define(columns, sources, program.filter))
        except quickjs.JSException as exc:
            raise ExpressionSyntaxError(_message(exc)) from None

    def check(self, expression: str) -> str | None:
        """The engine's message if `expression` does not compile, else None."""
        self._context.set_time_limit(ROW_SECONDS)
        try:
            self._check(expression)
        except quickjs.JSException as exc:
            return _message(exc)
        return None

    def program_id(self, program: ProgramSource) -> int:
        found = self._programs.get(program)
        if found is None:
            if len(self._programs) >= MAX_PROGRAMS:  # a long-lived server previewing drafts
                self._programs.clear()
                self._fresh()
            found = self._programs[program] = self._compile(program)
        return found

    def run(self, program: ProgramSource, page: str, rows: int) -> str:
        """Evaluate a page (JSON text from codec.encode_page); raises EngineError."""
        ident = self.program_id(program)
        limit = PAGE_SECONDS if rows > 1 else ROW_SECONDS
        self._context.set_time_limit(limit)
        try:
            return str(self._run(ident, page))
        except quickjs.JSException as exc:
            message = _message(exc)
            if "interrupted" in message:
                raise EngineError("timeout", f"took longer than {limit:g} s of CPU") from None
            if "out of memory" in message or message in ("null", ""):
                self._fresh()
                raise EngineError(
                    "memory", f"went past the {MEMORY_LIMIT >> 20} MiB limit"
                ) from None
            raise EngineError("error", message) from None
        except quickjs.StackOverflow:
            self._fresh()
            raise EngineError("memory", "overflowed the stack") from None


def _json_list(items: tuple[str, ...]) -> str:
    return json.dumps(list(items))


def _message(exc: BaseException) -> str:
    return str(exc).strip().split("\n    at ")[0].strip()


_local = threading.local()


def sandbox() -> Sandbox:
    """This thread's sandbox."""
    found: Any = getattr(_local, "sandbox", None)
    if found is None:
        found = _local.sandbox = Sandbox()
    return found
