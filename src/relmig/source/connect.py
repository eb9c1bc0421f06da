"""Pick the SqlSource implementation for a project's source settings."""

from __future__ import annotations

from relmig.project.model import SourceSettings
from relmig.source.sql import SqlSource


def open_source(settings: SourceSettings, password: str | None = None) -> SqlSource:
    if settings.dialect == "postgresql":
        from relmig.source.postgres import PostgresSource

        return PostgresSource(settings, password)
    from relmig.source.mysql import MySqlSource

    return MySqlSource(settings, password)
