"""How long the CLI takes to answer, start-up included (issue 23: ≤ 0.5 s for --version and
--help, ≤ 1 s for `jobs list`).

    .venv/bin/python bench/cli_startup.py            # 7 rounds, commands in rotated order
    .venv/bin/python bench/cli_startup.py --rounds 11

Each round runs every command once as a new process (`.venv/bin/relmig`, the console script a
user runs), the order rotated per round; the figures are median, min and max wall time. `jobs
list` reads an empty state store in a temporary RELMIG_HOME. The slowest imports of a command
are what `python -X importtime -c "import relmig.cli.app"` lists.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RELMIG = REPO / ".venv" / "bin" / "relmig"
COMMANDS = [["--version"], ["--help"], ["jobs", "--help"], ["sync", "--help"], ["jobs", "list"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {" ".join(c): [] for c in COMMANDS}
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "RELMIG_HOME": home}
        env.pop("RELMIG_STATE_URL", None)
        for r in range(args.rounds):
            for cmd in COMMANDS[r % len(COMMANDS) :] + COMMANDS[: r % len(COMMANDS)]:
                start = time.perf_counter()
                subprocess.run([RELMIG, *cmd], env=env, check=True, capture_output=True)
                times[" ".join(cmd)].append(time.perf_counter() - start)
    print(f"| command | median | min | max |  ({args.rounds} rounds, order rotated)")
    print("|---|--:|--:|--:|")
    for name, values in times.items():
        print(
            f"| `relmig {name}` | {statistics.median(values):.2f} s | {min(values):.2f} s | "
            f"{max(values):.2f} s |"
        )


if __name__ == "__main__":
    main()
