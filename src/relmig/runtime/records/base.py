"""The store's connection: one engine, its tables created or brought up to date on opening.

SQLAlchemy Core keeps one code path for the default SQLite file and for a shared PostgreSQL
database (`RELMIG_STATE_URL`). Every record kind subclasses `Records` for `engine` and `_tx`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from relmig.runtime.records.tables import metadata
from relmig.runtime.store_upgrade import add_missing_columns


def relmig_home() -> Path:
    return Path(os.environ.get("RELMIG_HOME", Path.home() / ".relmig"))


def _private_file(path: Path) -> None:
    """The store holds job history and issue samples (row keys): its directory is created
    0700 and the file 0600, as SQLite then creates its journal files like the file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def default_url() -> str:
    url = os.environ.get("RELMIG_STATE_URL")
    if url:
        return url
    return f"sqlite:///{relmig_home() / 'state.db'}"


class Records:
    """The engine over the state database and its transactions, shared by every record kind."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_url()
        parsed = sa.engine.make_url(self.url)
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            _private_file(Path(parsed.database))
        self.engine = sa.create_engine(self.url)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)
        add_missing_columns(self.engine, metadata)

    @property
    def where(self) -> str:
        """The store's URL for messages: a shared PostgreSQL store's password is not shown."""
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the CLI and a server read while a job writes; FULL sync makes a checkpoint durable.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
