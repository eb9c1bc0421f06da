"""Crash points: armed by name, fire once per crash log, and every name in the code is known."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
from pathlib import Path

from relmig.failpoints import ARM, LOG, POINTS, crash_point, fired

SRC = Path(__file__).resolve().parents[2] / "src" / "relmig"
PROBE = "from relmig.failpoints import crash_point; crash_point('cdc-checkpointed'); print('past')"


def _probe(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_unarmed_points_do_nothing(monkeypatch) -> None:
    monkeypatch.delenv(ARM, raising=False)
    crash_point("cdc-checkpointed")
    monkeypatch.setenv(ARM, "snapshot-done")
    crash_point("cdc-checkpointed")  # another point is armed


def test_an_armed_point_kills_once_per_log(tmp_path: Path) -> None:
    log = tmp_path / "crash.log"
    env = {ARM: "cdc-checkpointed", LOG: str(log)}
    first = _probe(env)
    assert first.returncode == -signal.SIGKILL and "past" not in first.stdout
    assert fired(str(log)) == {"cdc-checkpointed"}
    again = _probe(env)  # the resumed process runs past it
    assert again.returncode == 0 and "past" in again.stdout


def test_without_a_log_the_point_fires_every_time() -> None:
    for _ in range(2):
        assert _probe({ARM: "cdc-checkpointed"}).returncode == -signal.SIGKILL


def _names_in_code() -> set[str]:
    names = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "crash_point"
                and node.args
            ):
                arg = node.args[0]
                assert isinstance(arg, ast.Constant), f"{path}: crash_point needs a literal name"
                names.add(arg.value)
    return names


def test_every_point_in_the_code_is_named_and_every_name_is_used() -> None:
    used = _names_in_code()
    assert used - set(POINTS) == set(), "crash points missing from POINTS"
    assert set(POINTS) - used == set(), "POINTS that no code reaches"
