"""`relmig --version` answers without loading the commands' dependencies (issue 23 §5): the
import, not the answer, took the second it cost."""

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
