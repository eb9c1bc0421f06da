"""The router: a batch of row changes → the root documents that contain those rows.

For a change to table T, the roots are found from the row's before and after images:
T's own collection by primary key; documents that embed T by walking the embedding chain up to
the root through the source's current rows, one batched query per level. Old images find the
documents that held the row before, new images the ones that hold it now. If a link above the
row changed too, that link's own change routes to the old root, so every affected root is found
whatever order changes arrive in; the recompute reads current state, so it converges.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from relmig.build.plan import LinkPlan, NodePlan, RootPlan
from relmig.source.changes import UNCHANGED, RowChange
from relmig.source.sql import Row, SqlSource


@dataclass(slots=True, frozen=True)
class Placement:
    """Where a table's rows sit in one collection: the chain of embeddings from the root."""

    collection: str
    node: NodePlan
    chain: tuple[tuple[NodePlan, LinkPlan], ...]  # (parent node, link to the child) per level


class Router:
    def __init__(self, plans: list[RootPlan], source: SqlSource) -> None:
        self.source = source
        self.placements: dict[str, list[Placement]] = {}
        for plan in plans:
            self._place(plan.collection.name, plan.node, ())

    def _place(
        self, collection: str, node: NodePlan, chain: tuple[tuple[NodePlan, LinkPlan], ...]
    ) -> None:
        self.placements.setdefault(node.table.id, []).append(Placement(collection, node, chain))
        for link in node.links:
            self._place(collection, link.node, (*chain, (node, link)))

    @property
    def tables(self) -> set[str]:
        return set(self.placements)

    def collections_of(self, table_id: str) -> list[Placement]:
        return self.placements.get(table_id, [])

    def route(self, changes: Iterable[RowChange]) -> dict[str, set[Row]]:
        """Collection name → root keys to recompute."""
        images: dict[str, list[dict[str, object]]] = {}
        for change in changes:
            bucket = images.setdefault(change.table, [])
            for image in (change.before, change.after):
                if image:
                    bucket.append(image)
        roots: dict[str, set[Row]] = {}
        for table_id, rows in images.items():
            for placement in self.placements.get(table_id, ()):
                roots.setdefault(placement.collection, set()).update(self._roots(placement, rows))
        return roots

    def _roots(self, placement: Placement, rows: list[dict[str, object]]) -> set[Row]:
        if not placement.chain:
            return _values(rows, placement.node.table.primary_key)
        values = _values(rows, placement.chain[-1][1].match_columns)
        for depth in range(len(placement.chain) - 1, -1, -1):
            parent, link = placement.chain[depth]
            parent_cols = [parent.columns[i] for i in link.parent_index]
            wanted = (
                parent.table.primary_key
                if depth == 0
                else placement.chain[depth - 1][1].match_columns
            )
            if not values:
                return set()
            if depth == 0 and parent_cols == list(parent.table.primary_key):
                return values  # the link points at the root's key: no query needed
            values = self._lookup(parent, parent_cols, wanted, values)
        return values

    def _lookup(
        self, node: NodePlan, match: list[str], wanted: list[str], values: set[Row]
    ) -> set[Row]:
        src = self.source
        predicate, params = src.in_predicate(match, sorted(values, key=repr))
        cols = ", ".join(src.quote(c) for c in wanted)
        rows = src.fetch(
            f"SELECT {cols} FROM {src.qualified(node.table)} WHERE {predicate}", params
        )
        return {tuple(r) for r in rows if None not in r}


def _values(rows: list[dict[str, object]], columns: list[str]) -> set[Row]:
    """The images' values of `columns`; images without them (or with NULLs) link nowhere."""
    out: set[Row] = set()
    for row in rows:
        try:
            value = tuple(row[c] for c in columns)
        except KeyError:
            continue
        if None not in value and UNCHANGED not in value:
            out.add(value)
    return out
