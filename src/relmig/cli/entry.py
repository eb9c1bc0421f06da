"""The console script: `relmig --version` answers before the commands (and SQLAlchemy, pymongo
and the runtime they import) are loaded, which took the rest of a second."""

from __future__ import annotations

import sys

from relmig import __version__


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        print(f"relmig {__version__}")
        return
    from relmig.cli.app import main as run

    run()
