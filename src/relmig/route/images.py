"""Which old-row columns routing needs, per table: the mapping decides, not the source.

A change to an embedded row must reach the documents that held it *before* the change, found
through its old link columns. When those columns are all in the primary key, every source sends
them (PostgreSQL's key-only old image); otherwise the source must send the whole old row
(REPLICA IDENTITY FULL), which `relmig check` requires.
"""

from __future__ import annotations

from relmig.project.model import EmbedRule, Project


def before_image_columns(project: Project) -> dict[str, list[str]]:
    """Table id → the non-key columns its old image must carry (only tables that need some)."""
    needs: dict[str, list[str]] = {}

    def visit(parent_table: str, embeds: list[EmbedRule]) -> None:
        for e in embeds:
            child = project.table(e.table)
            if e.kind == "array":
                match = project.link(child.id, e.foreign_key).columns
            else:
                match = project.link(parent_table, e.foreign_key).ref_columns
            outside_key = [c for c in match if c not in child.primary_key]
            if outside_key:
                cols = needs.setdefault(child.id, [])
                cols.extend(c for c in outside_key if c not in cols)
            visit(e.table, e.embeds)

    for c in project.collections:
        visit(c.table, c.embeds)
    return needs
