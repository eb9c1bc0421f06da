"""The router: a batch of row changes → the root documents that contain those rows.

For a change to table T, the roots are found from the row's before and after images:
T's own collection by primary key; documents that embed T by walking the embedding chain up to
the root through the source's current rows, one batched query per level. Old images find the
documents that held the row before, new images the ones that hold it now. If a link above the
row changed too, that link's own change routes to the old root, so every affected root is found
whatever order changes arrive in; the recompute reads current state, so it converges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from relmig.documents.plan import NodePlan
from relmig.route.cascades import CascadeRouter, Roots
from relmig.route.placement import Placement
from relmig.source.changes import UNCHANGED, RowChange
from relmig.source.sql import Row, SqlSource
from relmig.source.values import Unconvertible

# (table, the row's key as far as it could be read, column, reason)
Unreadable = Callable[[str, Row, str, str], None]


class Router:
    def __init__(
        self,
        placements: dict[str, list[Placement]],
        source: SqlSource,
        unreadable: Unreadable,
        cascades: CascadeRouter | None = None,
    ) -> None:
        """`unreadable` records an image whose routing columns the source could not decode;
        `cascades` follows the foreign-key actions the source does not log (MariaDB)."""
        self.source = source
        self.placements = placements
        self.unreadable = unreadable
        self.cascades = cascades

    def collections_of(self, table_id: str) -> list[Placement]:
        return self.placements.get(table_id, [])

    def reads_target(self, change: RowChange) -> bool:
        """Routing this change asks the target which documents hold rows the source no longer
        shows, so the target must have every earlier change (Kafka mode drains the sinks)."""
        return self.cascades is not None and self.cascades.reaches(change)

    def route(self, changes: Iterable[RowChange]) -> Roots:
        """Collection name → root keys to recompute."""
        roots: Roots = {}
        for routed in self.route_each(list(changes)):
            _merge(roots, routed)
        return roots

    def route_each(self, changes: Sequence[RowChange]) -> list[Roots]:
        """Per change, collection name → the root keys it affects (Kafka mode sends one
        message per change and root), with one batched query per level for all changes."""
        out = self._route_rows(changes)
        if self.cascades is not None:
            for change, routed in zip(changes, out, strict=True):
                if self.cascades.reaches(change):
                    implied, held = self.cascades.expand(change)
                    _merge(routed, held)
                    for more in self._route_rows(implied):
                        _merge(routed, more)
        return out

    def _route_rows(self, changes: Sequence[RowChange]) -> list[Roots]:
        by_table: dict[str, list[int]] = {}
        for i, change in enumerate(changes):
            by_table.setdefault(change.table, []).append(i)
        out: list[Roots] = [{} for _ in changes]
        for table_id, indexes in by_table.items():
            for placement in self.placements.get(table_id, ()):
                link_cols = (
                    placement.chain[-1][1].match_columns
                    if placement.chain
                    else placement.node.table.primary_key
                )
                starts = {i: self._values(changes[i], link_cols) for i in indexes}
                reach = self._reach(placement, set().union(*starts.values()))
                for i, values in starts.items():
                    keys = set().union(*(reach.get(v, ()) for v in values))
                    if keys:
                        out[i].setdefault(placement.collection, set()).update(keys)
        return out

    def _values(self, change: RowChange, columns: list[str]) -> set[Row]:
        """The images' values of `columns`; images without them (or with NULLs) link nowhere,
        and one the source could not decode is recorded as such."""
        out: set[Row] = set()
        for image in (change.before, change.after):
            if not image:
                continue
            try:
                value = tuple(image[c] for c in columns)
            except KeyError:
                continue
            bad = next(
                (c for c, v in zip(columns, value, strict=True) if type(v) is Unconvertible), None
            )
            if bad is not None:
                self._unreadable(change.table, image, bad)
            elif None not in value and UNCHANGED not in value:
                out.add(value)
        return out

    def _unreadable(self, table: str, image: dict[str, object], column: str) -> None:
        placement = next(iter(self.placements.get(table, ())), None)
        key_columns = placement.node.table.primary_key if placement else []
        key = tuple(
            v.raw if isinstance(v, Unconvertible) else v
            for v in (image.get(c) for c in key_columns)
        )
        value = image[column]
        assert isinstance(value, Unconvertible)
        self.unreadable(table, key, column, f"{value.reason}; the value as read: {value.raw}")

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
        rows = src.fetch(f"SELECT {cols} FROM {src.relation(node.table)} WHERE {predicate}", params)
        out: dict[Row, set[Row]] = {}
        n = len(match)
        for r in rows:
            value = tuple(r[n:])
            if None not in value:
                out.setdefault(tuple(r[:n]), set()).add(value)
        return out


def _merge(into: Roots, more: Roots) -> None:
    for collection, keys in more.items():
        into.setdefault(collection, set()).update(keys)
