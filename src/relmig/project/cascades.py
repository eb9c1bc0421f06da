"""The foreign-key actions a MariaDB binlog never shows, and which of them relmig follows.

InnoDB applies ON DELETE / ON UPDATE CASCADE, SET NULL and SET DEFAULT inside the storage
engine, and MariaDB writes no row event for the child rows they change. PostgreSQL runs them
as ordinary row changes, which pgoutput streams, so only a MySQL-dialect source needs this.
`relmig.route.cascades` routes each parent change to the documents its cascades touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from relmig.project.model import FkAction, Project

FOLLOWED: tuple[FkAction, ...] = ("CASCADE", "SET NULL", "SET DEFAULT")


@dataclass(frozen=True, slots=True)
class Cascade:
    """A foreign key of `child` whose parent's delete or key change rewrites child rows."""

    parent: str
    child: str
    name: str
    columns: tuple[str, ...]  # the child's
    ref_columns: tuple[str, ...]  # the parent's
    on_delete: FkAction
    on_update: FkAction

    def acts_on(self, op: str) -> FkAction | None:
        """The followed action for a parent change (`d` delete, `u` key change), if any."""
        action = self.on_delete if op == "d" else self.on_update
        return action if action in FOLLOWED else None

    def describe(self) -> str:
        actions = [
            f"ON {verb} {action}"
            for verb, action in (("DELETE", self.on_delete), ("UPDATE", self.on_update))
            if action in FOLLOWED
        ]
        return (
            f"{self.child} ({', '.join(self.columns)}) → {self.parent} "
            f"({', '.join(self.ref_columns)}) [{self.name}]: {', '.join(actions)}"
        )


def binlog_cascades(project: Project) -> list[Cascade]:
    """The cascades a MySQL-dialect source runs without logging them, between the project's
    tables; none for PostgreSQL, whose stream carries cascaded rows like any other."""
    if project.source.dialect != "mysql":
        return []
    known = {t.id for t in project.tables}
    return [
        Cascade(
            fk.ref_table,
            table.id,
            fk.name,
            tuple(fk.columns),
            tuple(fk.ref_columns),
            fk.on_delete,
            fk.on_update,
        )
        for table in project.tables
        for fk in table.foreign_keys
        if fk.ref_table in known and (fk.on_delete in FOLLOWED or fk.on_update in FOLLOWED)
    ]
