"""What the server keeps besides jobs: connections, projects and which project started which job.

The tables live in the state database next to the job tables (same engine, own metadata), so one
file (or `RELMIG_STATE_URL`) holds everything. Passwords are stored sealed by the Vault only.
"""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa

from relmig.errors import RelmigError
from relmig.runtime.store import utcnow
from relmig.runtime.store_upgrade import add_missing_columns

metadata = sa.MetaData()

connections = sa.Table(
    "server_connections",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("dialect", sa.String(20), nullable=False),
    sa.Column("host", sa.String(400), nullable=False),
    sa.Column("port", sa.Integer),
    sa.Column("database", sa.String(200), nullable=False),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("schemas", sa.JSON, nullable=False),
    sa.Column("password_sealed", sa.Text),
    sa.Column("password_env", sa.String(200)),
    sa.Column("tls", sa.JSON),  # SourceTls, unset fields left out
    sa.Column("require_auth", sa.String(200)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

projects = sa.Table(
    "server_projects",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("connection_id", sa.String(40), sa.ForeignKey("server_connections.id")),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Which project started a job (its history, and whose password a resume needs) and the job's
# target URI, sealed: the job store keeps it without its password, which a resume needs again.
project_jobs = sa.Table(
    "server_project_jobs",
    metadata,
    sa.Column("job_id", sa.String(40), primary_key=True),
    sa.Column("project_id", sa.String(40), nullable=False, index=True),
    sa.Column("target_sealed", sa.Text, nullable=False),
)


class NameTaken(RelmigError):
    """Connection and project names are unique, because people pick them from lists."""


class Records:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)
        add_missing_columns(engine, metadata)

    # --- generic row access -------------------------------------------------------------------

    def _insert(self, table: sa.Table, prefix: str, values: dict[str, Any]) -> dict[str, Any]:
        now = utcnow()
        row = {"id": f"{prefix}-{secrets.token_hex(4)}", **values}
        row.update(created_at=now, updated_at=now)
        self._write(table, table.insert().values(**row), values)
        return row

    def _write(self, table: sa.Table, statement: sa.Executable, values: dict[str, Any]) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(statement)
        except sa.exc.IntegrityError:
            kind = "connection" if table is connections else "project"
            raise NameTaken(f"a {kind} named {values.get('name')!r} already exists") from None

    def _get(self, table: sa.Table, row_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(table.select().where(table.c.id == row_id)).mappings().first()
        return dict(row) if row else None

    def _list(self, table: sa.Table, *where: sa.ColumnElement[bool]) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(table.select().where(*where).order_by(table.c.name)).mappings()
            return [dict(r) for r in rows]

    def _update(self, table: sa.Table, row_id: str, values: dict[str, Any]) -> None:
        statement = table.update().where(table.c.id == row_id).values(**values, updated_at=utcnow())
        self._write(table, statement, values)

    def _delete(self, table: sa.Table, row_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(table.delete().where(table.c.id == row_id))

    # --- connections --------------------------------------------------------------------------

    def add_connection(self, values: dict[str, Any]) -> dict[str, Any]:
        return self._insert(connections, "conn", values)

    def connection(self, conn_id: str) -> dict[str, Any] | None:
        return self._get(connections, conn_id)

    def list_connections(self) -> list[dict[str, Any]]:
        return self._list(connections)

    def update_connection(self, conn_id: str, values: dict[str, Any]) -> None:
        self._update(connections, conn_id, values)

    def delete_connection(self, conn_id: str) -> None:
        self._delete(connections, conn_id)

    # --- projects -----------------------------------------------------------------------------

    def add_project(self, values: dict[str, Any]) -> dict[str, Any]:
        return self._insert(projects, "prj", values)

    def project(self, project_id: str) -> dict[str, Any] | None:
        return self._get(projects, project_id)

    def list_projects(self, connection_id: str | None = None) -> list[dict[str, Any]]:
        where = [projects.c.connection_id == connection_id] if connection_id else []
        return self._list(projects, *where)

    def update_project(self, project_id: str, values: dict[str, Any]) -> None:
        self._update(projects, project_id, values)

    def delete_project(self, project_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(project_jobs.delete().where(project_jobs.c.project_id == project_id))
            conn.execute(projects.delete().where(projects.c.id == project_id))

    # --- which project started which job ------------------------------------------------------

    def link_job(self, job_id: str, project_id: str, target_sealed: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                project_jobs.insert().values(
                    job_id=job_id, project_id=project_id, target_sealed=target_sealed
                )
            )

    def job_link(self, job_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(project_jobs.select().where(project_jobs.c.job_id == job_id))
                .mappings()
                .first()
            )
        return dict(row) if row else None

    def job_links(self, project_id: str | None = None) -> list[dict[str, Any]]:
        statement = project_jobs.select()
        if project_id is not None:
            statement = statement.where(project_jobs.c.project_id == project_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(statement).mappings()]
