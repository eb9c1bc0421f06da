"""How commands print: tables for people on a terminal, plain columns for pipes, JSON for scripts.

Values read the same everywhere: human units (0.2 s, 1.5 MiB), times to the second in UTC, and
"—" for what is not known, never `None`.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import textwrap
from collections.abc import Sequence
from typing import Any

import typer
from rich.table import Table as RichTable

from relmig.cli.common import console

UNKNOWN = "—"
# The `--json` flag every reporting command takes.
AS_JSON = typer.Option(False, "--json", help="Machine-readable output (JSON on stdout).")


def emit_json(value: Any) -> None:
    """JSON on stdout, whatever the terminal (no colours, no wrapping)."""
    typer.echo(json.dumps(value, default=_json_default, indent=2, ensure_ascii=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.isoformat()
    return str(value)


def table(columns: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None) -> None:
    """A box-drawn table on a terminal; plain aligned columns (nothing cut) otherwise."""
    if console.is_terminal:
        out = RichTable(title=title)
        for i, col in enumerate(columns):
            # The first column names the row (a job id, a collection): never cut or wrapped.
            out.add_column(col, no_wrap=i == 0, min_width=_widest(rows, i) if i == 0 else None)
        for row in rows:
            out.add_row(*row)
        console.print(out)
        return
    if title:
        typer.echo(f"{title}:")
    widths = [max(len(c), _widest(rows, i)) for i, c in enumerate(columns)]
    for row in [list(columns), *rows]:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _widest(rows: Sequence[Sequence[str]], i: int) -> int:
    return max((len(r[i]) for r in rows), default=0)


def width() -> int:
    """The terminal's width, or 80 when there is none."""
    return console.width if console.is_terminal else shutil.get_terminal_size((80, 24)).columns


def block(head: str, text: str, indent: int = 4) -> None:
    """A heading line and a text wrapped under it, readable at 80 columns."""
    room = max(40, min(width(), 100))
    for line in textwrap.wrap(head, room, subsequent_indent=" " * indent):
        typer.echo(line)
    for line in textwrap.wrap(text, room - indent):
        typer.echo(" " * indent + line)


def seconds(value: float | None) -> str:
    if value is None:
        return UNKNOWN
    if value < 10:
        return f"{value:.1f} s"
    if value < 120:
        return f"{value:.0f} s"
    minutes, secs = divmod(round(value), 60)
    if minutes < 120:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"


def size(value: int | None) -> str:
    if value is None:
        return UNKNOWN
    amount, unit = float(value), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            break
        amount /= 1024
    return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"


def when(value: dt.datetime | None) -> str:
    if value is None:
        return UNKNOWN
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return f"{aware.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


def clock(value: dt.datetime) -> str:
    """The time of day, to the minute (a window's start, on a line that has the date)."""
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return f"{aware.astimezone(dt.UTC):%H:%M} UTC"


def count(value: int | None) -> str:
    return UNKNOWN if value is None else f"{value:,}"
