"""What every route needs: the stores, the vault, the job manager, and how a stored connection or
project becomes the settings, password and Project that the rest of relmig works with."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from relmig.project.model import Project, SourceSettings
from relmig.project.validate import source_problems
from relmig.runtime.jobs import JobManager
from relmig.runtime.store import StateStore, relmig_home
from relmig.server.env_policy import env_refusal
from relmig.server.errors import ApiError, not_found
from relmig.server.records import Records
from relmig.server.vault import Vault
from relmig.source.connect import open_source
from relmig.source.sql import SqlSource


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8278
    token: str | None = None
    # The MongoDB target a new job gets unless its request names one.
    target_uri: str | None = None
    # How long a shutdown (SIGTERM, Ctrl-C) gives the running jobs to pause.
    stop_timeout: float = 30.0
    # At start, resume the jobs the last shutdown paused.
    resume_paused: bool = False
    # Variables a connection may take its password from besides RELMIG_* (env_policy).
    allow_env: tuple[str, ...] = ()


class Services:
    def __init__(self, config: ServerConfig, store: StateStore, manager: JobManager) -> None:
        self.config = config
        self.store = store
        self.manager = manager
        self.records = Records(store.engine)
        self.vault = Vault(relmig_home())

    # --- lookups that 404 -----------------------------------------------------------------------

    def connection(self, conn_id: str) -> dict[str, Any]:
        found = self.records.connection(conn_id)
        if found is None:
            raise not_found("connection", conn_id)
        return found

    def project_record(self, project_id: str) -> dict[str, Any]:
        found = self.records.project(project_id)
        if found is None:
            raise not_found("project", project_id)
        return found

    def job(self, job_id: str) -> dict[str, Any]:
        found = self.store.job(job_id)
        if found is None:
            raise not_found("job", job_id)
        return found

    # --- connections and projects as relmig sees them -------------------------------------------

    def password(self, connection: dict[str, Any] | None) -> str | None:
        """The stored password, decrypted; None lets the source read its environment variable."""
        if connection is None or connection["password_sealed"] is None:
            return None
        return self.vault.open(connection["password_sealed"])

    def project(self, record: dict[str, Any]) -> Project:
        """The stored project, reading from its connection."""
        project = Project.model_validate(record["body"])
        if record["connection_id"] is None:
            return project
        connection = self.connection(record["connection_id"])
        # The connection says where and who; the project keeps what only it says (the DBA's
        # publication, a separate route for the replication stream).
        kept = project.source.model_dump(
            include={"publication", "replication_host", "replication_port"}
        )
        source = self.source_settings(connection, project.source.schemas).model_copy(update=kept)
        return project.model_copy(update={"source": source})

    def source_settings(
        self, connection: dict[str, Any], schemas: list[str] | None = None
    ) -> SourceSettings:
        """The connection's settings, once its password variable is one it may read."""
        self.check_env(connection["password_env"])
        settings = source_settings(connection, schemas)
        problems = source_problems(settings)
        if problems:
            raise ApiError(422, "; ".join(problems))
        return settings

    def check_env(self, name: str | None) -> None:
        refused = env_refusal(name, self.config.allow_env) if name else None
        if refused:
            raise ApiError(422, refused)

    def project_password(self, record: dict[str, Any]) -> str | None:
        conn_id = record["connection_id"]
        return self.password(self.connection(conn_id) if conn_id else None)

    @contextmanager
    def source(self, settings: SourceSettings, password: str | None) -> Iterator[SqlSource]:
        """A connected source; fails before any work if it cannot be reached."""
        source = open_source(settings, password)
        try:
            source.conn  # noqa: B018 - connect now, so a bad source fails first
            yield source
        finally:
            source.close()


def source_settings(connection: dict[str, Any], schemas: list[str] | None = None) -> SourceSettings:
    extra = {"password_env": connection["password_env"]} if connection["password_env"] else {}
    return SourceSettings(
        dialect=connection["dialect"],
        host=connection["host"],
        port=connection["port"],
        database=connection["database"],
        user=connection["user"],
        schemas=schemas if schemas is not None else connection["schemas"],
        tls=connection["tls"] or {},
        require_auth=connection["require_auth"],
        **extra,
    )


def _services(request: Request) -> Services:
    return request.app.state.services


# What a route declares to get the app's Services.
Svc = Annotated[Services, Depends(_services)]
