"""Which embedded JavaScript engine evaluates relmig's expressions: QuickJS or V8 (mini-racer).

    uv venv /tmp/engines && uv pip install --python /tmp/engines/bin/python \
        -e . "mini-racer==0.14.1" "quickjs-ng==0.17.0.2"
    /tmp/engines/bin/python bench/expression_engines.py
    # the older `quickjs` binding (1.19.4) installs the same module name: run it in its own venv

Both engines run relmig's own runner (relmig/expressions/runner.js) through the same codec, on
the same page of rows: a filter and two calculated fields (the bench/snapshot.py case), so the
figures are what a snapshot would pay per row, encoding and decoding included. Per engine: time
to a ready context, resident memory one context adds, CPU per row with one call per page of 1000
rows and with one call per row, the CPU of a call that does nothing, and how long a
`while (true) {}` runs past a 0.2 s limit.
No services needed; each CPU figure is the cheapest of 15 runs in this process.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psutil

from relmig.expressions import sandbox as sandbox_module
from relmig.expressions.program import Program
from relmig.expressions.sandbox import RUNNER, EngineError, ProgramSource

COLUMNS = ("first_name", "last_name", "quantity", "unit_price", "discount", "shipped_at")
EXPRESSIONS = (
    'columns["quantity"] > 2',
    'columns["first_name"] + " " + columns["last_name"]',
    'columns["quantity"] * columns["unit_price"] * (1 - columns["discount"])',
)
PROGRAM = ProgramSource(COLUMNS, EXPRESSIONS, filter=True)
LOOP = ProgramSource(("x",), ("(() => { while (true) {} })()",))


def page(rows: int) -> list[tuple[Any, ...]]:
    start = dt.datetime(2024, 1, 1)
    return [
        (
            f"First{i}",
            f"Last{i}",
            i % 7,
            Decimal(f"{i % 500}.25"),
            0.05 * (i % 3),
            start + dt.timedelta(minutes=i),
        )
        for i in range(rows)
    ]


class V8Sandbox:
    """The sandbox's interface over mini-racer, for this comparison only."""

    def __init__(self) -> None:
        from py_mini_racer import JSOOMException, JSTimeoutException, MiniRacer

        self._oom, self._timeout = JSOOMException, JSTimeoutException
        self._ctx = MiniRacer()
        self._ctx.set_hard_memory_limit(sandbox_module.MEMORY_LIMIT)
        self._ctx.eval(RUNNER)
        # Function handles: a call passes its arguments without building JavaScript source.
        self._define = self._ctx.eval("__relmig.define")
        self._run = self._ctx.eval("__relmig.run")
        self._ids: dict[ProgramSource, int] = {}

    def run(self, program: ProgramSource, text: str, rows: int) -> str:
        ident = self._ids.get(program)
        if ident is None:
            columns = self._ctx.eval(json.dumps(list(program.columns)))
            sources = self._ctx.eval(json.dumps(list(program.expressions)))
            ident = self._ids[program] = self._define(columns, sources, program.filter)
        limit = sandbox_module.PAGE_SECONDS if rows > 1 else sandbox_module.ROW_SECONDS
        try:
            return str(self._run(ident, text, timeout_sec=limit))
        except self._timeout:
            raise EngineError("timeout", f"took longer than {limit:g} s") from None
        except self._oom:
            raise EngineError("memory", "out of memory") from None


def _engines() -> dict[str, Callable[[], Any]]:
    found: dict[str, Callable[[], Any]] = {}
    from importlib.metadata import PackageNotFoundError, version

    try:
        import quickjs  # noqa: F401

        for dist in ("quickjs-ng", "quickjs"):
            try:
                found[f"QuickJS ({dist} {version(dist)})"] = sandbox_module.Sandbox
                break
            except PackageNotFoundError:
                continue
    except ImportError:
        pass
    try:
        import py_mini_racer  # noqa: F401

        found[f"V8 (mini-racer {version('mini-racer')})"] = V8Sandbox
    except ImportError:
        pass
    return found


def best_seconds(fn: Callable[[], Any], repeat: int = 15) -> float:
    """CPU seconds of this process (every thread: V8 runs on its own) of the cheapest of
    `repeat` runs; wall time on a shared machine measures the neighbours."""
    times = []
    for _ in range(repeat):
        started = time.process_time()
        fn()
        times.append(time.process_time() - started)
    return min(times)


def measure(name: str, make: Callable[[], Any], rows: int) -> dict[str, Any]:
    proc = psutil.Process()
    gc.collect()
    rss = proc.memory_info().rss
    started = time.perf_counter()
    box = make()
    ready = time.perf_counter() - started
    sandbox_module._local.sandbox = box
    data = page(rows)
    program = Program(PROGRAM, range(len(COLUMNS)), [None] * len(COLUMNS))
    program.evaluate(data[:10])  # define the program
    per_page = best_seconds(lambda: program.evaluate(data))
    per_row = best_seconds(lambda: [program.evaluate([r]) for r in data[:200]]) * rows / 200
    empty = ProgramSource(("x",), ("1",))
    call = best_seconds(lambda: [box.run(empty, "[[1]]", 1) for _ in range(1000)]) / 1000
    loop = ProgramSource(LOOP.columns, LOOP.expressions)
    sandbox_module.ROW_SECONDS = 0.2
    started = time.perf_counter()
    cpu = time.process_time()
    with contextlib.suppress(EngineError):
        box.run(loop, "[[1]]", 1)
    stopped = (time.perf_counter() - started, time.process_time() - cpu)
    sandbox_module.ROW_SECONDS = 1.0
    gc.collect()
    grown = proc.memory_info().rss - rss
    return {
        "engine": name,
        "ready_ms": ready * 1000,
        "rss_mb": grown / 2**20,
        "page_us": per_page / rows * 1e6,
        "row_us": per_row / rows * 1e6,
        "call_us": call * 1e6,
        "loop_wall_s": stopped[0],
        "loop_cpu_s": stopped[1],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="rows per page")
    args = parser.parse_args(argv)
    engines = _engines()
    if not engines:
        print("neither quickjs nor mini-racer is installed", file=sys.stderr)
        return 2
    results = [measure(name, make, args.rows) for name, make in engines.items()]
    print(
        "| engine | ready (ms) | RSS per context (MiB) | CPU µs per row, one call per page | "
        "CPU µs per row, one call per row | empty call (CPU µs) | "
        "`while(true){}` at 0.2 s: wall / CPU (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['engine']} | {r['ready_ms']:.1f} | {r['rss_mb']:.1f} | "
            f"{r['page_us']:.1f} | {r['row_us']:.1f} | {r['call_us']:.0f} | "
            f"{r['loop_wall_s']:.2f} / {r['loop_cpu_s']:.2f} |"
        )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
