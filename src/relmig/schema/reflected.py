"""SQLAlchemy's reflected dictionaries as the project's model, where more than one reader
needs the same conversion (a table's own foreign keys, and those its partitions share)."""

from __future__ import annotations

from typing import Any, cast, get_args

from relmig.project.model import FkAction, ForeignKey


def foreign_key(fk: dict[str, Any], schema: str, table: str) -> ForeignKey:
    return ForeignKey(
        name=fk.get("name") or f"fk_{table}_{'_'.join(fk['constrained_columns'])}",
        columns=fk["constrained_columns"],
        ref_table=f"{fk.get('referred_schema') or schema}.{fk['referred_table']}",
        ref_columns=fk["referred_columns"],
        on_delete=_action(fk.get("options", {}).get("ondelete")),
        on_update=_action(fk.get("options", {}).get("onupdate")),
    )


def _action(text: str | None) -> FkAction:
    """SQLAlchemy reports an action only when it is not the default (NO ACTION)."""
    action = " ".join((text or "NO ACTION").upper().split())
    return cast(FkAction, action) if action in get_args(FkAction) else "NO ACTION"
