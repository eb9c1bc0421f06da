"""dev/services without the project venv says at once what to do."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEV = Path(__file__).resolve().parents[2] / "dev"


def test_up_without_the_venv_says_to_run_make_venv(tmp_path: Path) -> None:
    python = shutil.which("python3")
    if python is None or python == sys.executable:
        pytest.skip("needs a python3 outside the project venv")
    probe = subprocess.run([python, "-c", "import pymongo"], capture_output=True)
    if probe.returncode == 0:
        pytest.skip(f"{python} has pymongo, so it is as good as the venv")
    # A copy of dev/ with no .venv beside it: dev/services falls back to python3.
    (tmp_path / "dev").mkdir()
    for name in ("services", "devservices.py", "devcerts.py", "ports.env"):
        shutil.copy2(DEV / name, tmp_path / "dev" / name)
    out = subprocess.run(
        [str(tmp_path / "dev" / "services"), "up", "ferretdb"],
        capture_output=True,
        text=True,
        timeout=30,  # without the check, FerretDB's health check waits 45 s before failing
        env={"PATH": str(Path(python).parent) + ":/usr/bin:/bin", "RELMIG_DEV_DIR": str(tmp_path)},
    )
    assert out.returncode == 1
    assert "run `make venv` first" in out.stdout + out.stderr
