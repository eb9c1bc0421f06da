"""`python -m relmig.cli` runs the CLI (used where the console script is not on PATH)."""

from relmig.cli.entry import main

main()
