"""The router: a batch of row changes → the root documents that contain those rows.

For a change to table T, the roots are found from the row's before and after images:
T's own collection by primary key; documents that embed T by walking the embedding chain up to
the root through the source's current rows, one batched query per level. Old images find the
documents that held the row before, new images the ones that hold it now. If a link above the
row changed too, that link's own change routes to the old root, so every affected root is found
whatever order changes arrive in; the recompute reads current state, so it converges.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from relmig.documents.plan import LinkPlan, NodePlan, RootPlan
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
        roots: dict[str, set[Row]] = {}
        for routed in self.route_each(list(changes)):
            for collection, keys in routed.items():
                roots.setdefault(collection, set()).update(keys)
        return roots

    def route_each(self, changes: Sequence[RowChange]) -> list[dict[str, set[Row]]]:
        """Per change, collection name → the root keys it affects (Kafka mode sends one
        message per change and root), with one batched query per level for all changes."""
        by_table: dict[str, list[int]] = {}
        for i, change in enumerate(changes):
            by_table.setdefault(change.table, []).append(i)
        out: list[dict[str, set[Row]]] = [{} for _ in changes]
        for table_id, indexes in by_table.items():
            for placement in self.placements.get(table_id, ()):
                link_cols = (
                    placement.chain[-1][1].match_columns
                    if placement.chain
                    else placement.node.table.primary_key
                )
                starts = {i: _values(_images(changes[i]), link_cols) for i in indexes}
                reach = self._reach(placement, set().union(*starts.values()))
                for i, values in starts.items():
                    keys = set().union(*(reach.get(v, ()) for v in values))
                    if keys:
                        out[i].setdefault(placement.collection, set()).update(keys)
        return out

    def _reach(self, placement: Placement, values: set[Row]) -> dict[Row, set[Row]]:
        """Each value of the placement's link columns → the root keys that hold it."""
        reach = {v: {v} for v in values}
        for depth in range(len(placement.chain) - 1, -1, -1):
            parent, link = placement.chain[depth]
            parent_cols = [parent.columns[i] for i in link.parent_index]
            wanted = (
                parent.table.primary_key
                if depth == 0
                else placement.chain[depth - 1][1].match_columns
            )
            current = set().union(*reach.values())
            if not current:
                return {}
            if depth == 0 and parent_cols == list(parent.table.primary_key):
                break  # the link points at the root's key: no query needed
            found = self._lookup(parent, parent_cols, wanted, current)
            # A row the database matched under another spelling (a case-insensitive
            # collation, another numeric type) is credited to every value, never dropped.
            unclaimed = set().union(*(w for m, w in found.items() if m not in current))
            reach = {v: unclaimed.union(*(found.get(m, ()) for m in ms)) for v, ms in reach.items()}
        return reach

    def _lookup(
        self, node: NodePlan, match: list[str], wanted: list[str], values: set[Row]
    ) -> dict[Row, set[Row]]:
        """Match value → the `wanted` values of the node's rows that have it."""
        src = self.source
        predicate, params = src.in_predicate(match, sorted(values, key=repr))
        cols = ", ".join(src.quote(c) for c in (*match, *wanted))
        rows = src.fetch(
            f"SELECT {cols} FROM {src.qualified(node.table)} WHERE {predicate}", params
        )
        out: dict[Row, set[Row]] = {}
        n = len(match)
        for r in rows:
            value = tuple(r[n:])
            if None not in value:
                out.setdefault(tuple(r[:n]), set()).add(value)
        return out


def _images(change: RowChange) -> list[dict[str, object]]:
    return [image for image in (change.before, change.after) if image]


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
