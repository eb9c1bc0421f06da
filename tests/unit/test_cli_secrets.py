"""The CLI and secrets on its command line (issue 29 §2): a password in a URL argument is
visible to every local user, so relmig says so and names the safe way; an option it does not
support is refused by name, never dropped (a dropped TLS option would connect in clear)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from relmig.cli.app import app
from relmig.cli.common import target_uri


def test_a_password_in_the_source_url_is_warned_about(tmp_path) -> None:
    out = CliRunner().invoke(
        app, ["import", "postgresql://u:hunter2@127.0.0.1:1/db", "-o", str(tmp_path / "p.yaml")]
    )
    assert out.exit_code != 0  # nothing listens on port 1
    said = " ".join(out.output.split())
    assert "the password in the source URL is visible to other users of this machine" in said
    assert "RELMIG_SOURCE_PASSWORD" in said


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@127.0.0.1/db?application_name=x",
        "postgresql://u@127.0.0.1/db?ssl_ca=/ca.pem",  # MySQL's spelling
        "mysql://u@127.0.0.1/db?sslmode=require",  # libpq's spelling
        "mysql://u@127.0.0.1/db?tls=1",
    ],
)
def test_an_unknown_url_option_is_refused_by_name(tmp_path, url: str) -> None:
    out = CliRunner().invoke(app, ["import", url, "-o", str(tmp_path / "p.yaml")])
    assert out.exit_code == 2
    option = url.split("?")[1].split("=")[0]
    assert f"option(s) {option} are not supported" in " ".join(out.output.split())
    assert not (tmp_path / "p.yaml").exists()


def test_a_password_in_the_target_argument_is_warned_about(capsys, monkeypatch) -> None:
    monkeypatch.delenv("RELMIG_TARGET_URI", raising=False)
    assert target_uri("mongodb://app:pw@db/") == "mongodb://app:pw@db/"
    assert "the password in --target is visible" in " ".join(capsys.readouterr().err.split())
    target_uri("mongodb://db/")
    assert capsys.readouterr().err == ""
