"""A password goes only where it was given (issue 29 §2): a look-alike server that asks for it
in clear text gets nothing, from PostgreSQL's libpq (require_auth) or MariaDB's PyMySQL (the
mysql_clear_password plugin refused), unless the connection allows clear text. No services:
the servers are fakes (tests/fake_servers.py)."""

from __future__ import annotations

import pytest

from fake_servers import MariaDBAsker, PostgresAsker
from relmig.errors import SourceError
from relmig.project.model import SourceSettings
from relmig.source.connect import open_source

SECRET = "s3cret-that-must-stay-home"


@pytest.mark.parametrize(
    ("dialect", "fake"), [("postgresql", PostgresAsker), ("mysql", MariaDBAsker)]
)
def test_a_server_asking_for_the_password_in_clear_gets_nothing(dialect, fake) -> None:
    asker = fake()
    settings = SourceSettings(
        dialect=dialect, host="127.0.0.1", port=asker.port, database="db", user="app"
    )
    try:
        with (
            pytest.raises(SourceError, match=r"clear|password"),
            open_source(settings, SECRET) as s,
        ):
            s.fetch("SELECT 1")
        assert asker.clients >= 1 and not asker.got(SECRET)
        # Allowed explicitly, the same fake receives it: the fake does ask, and is heard.
        allowed = settings.model_copy(update={"allow_cleartext_password": True})
        with pytest.raises(SourceError), open_source(allowed, SECRET) as s:
            s.fetch("SELECT 1")
        assert asker.got(SECRET)
    finally:
        asker.close()
