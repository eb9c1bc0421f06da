"""`relmig --version` answers without loading the commands' dependencies (issue 23 §5): the
import, not the answer, took the second it cost. The commands import them where they run, so
`relmig --help` and the command list load none of them either."""

from __future__ import annotations

import subprocess
import sys

from relmig import __version__

PROBE = """
import sys
sys.argv = ["relmig", *sys.argv[1:]]
from relmig.cli.entry import main
main()
heavy = [m for m in ("sqlalchemy", "pymongo", "typer", "relmig.runtime.jobs") if m in sys.modules]
print("loaded:", ",".join(heavy))
"""


def probe(*args: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.splitlines()


def test_the_version_loads_nothing_else() -> None:
    assert probe("--version") == [f"relmig {__version__}", "loaded: "]


def test_any_other_command_goes_to_the_cli() -> None:
    lines = probe("--help")
    assert any("Usage: relmig" in line for line in lines)


# What the commands import where they run (SQLAlchemy, pymongo and its bson, pydantic, the web
# stack), never when the CLI is built.
HEAVY = ("sqlalchemy", "pymongo", "bson", "pydantic", "fastapi", "uvicorn", "relmig.runtime.jobs")

IMPORT_PROBE = f"""
import sys
import relmig.cli.app
print("loaded:", ",".join(m for m in {HEAVY!r} if m in sys.modules))
"""

HELP_PROBE = f"""
import sys
sys.argv = ["relmig", "--help"]
from relmig.cli.entry import main
try:
    main()
except SystemExit as exc:
    print("exit:", exc.code)
print("loaded:", ",".join(m for m in {HEAVY!r} if m in sys.modules))
"""

COMMANDS = (
    "import",
    "preview",
    "analyze",
    "snapshot",
    "verify",
    "check",
    "sync",
    "serve",
    "worker",
    "jobs",
)


def run_probe(code: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.splitlines()


def test_the_cli_imports_no_command_dependencies() -> None:
    assert run_probe(IMPORT_PROBE) == ["loaded: "]


def test_the_help_lists_the_commands_without_loading_them() -> None:
    lines = run_probe(HELP_PROBE)
    assert lines[-2:] == ["exit: 0", "loaded: "]
    listed = {line.strip("│ ").split(" ")[0] for line in lines}
    assert set(COMMANDS) <= listed
