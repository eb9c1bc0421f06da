"""FROM and JOIN → the collection a pipeline reads, and the stages that bring each table's row
to a place in the working document.

A join that follows an embedding is a path: an embedded document is there already (an inner
join needs it present), an array is unwound (row per element, as SQL gives a row per match;
a LEFT JOIN keeps a document whose array is empty). A join between collections is a `$lookup`
where the target has it. Whatever the documents may not hold in full (a rule's filter or limit,
a snapshot filter, a merged document) is refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from relmig.documents.plan import LinkPlan, RootPlan
from relmig.project.model import Project, Table
from relmig.queries.places import Place, dotted
from relmig.queries.refusal import CannotConvert, refuse, shown


@dataclass
class Capabilities:
    """What the target's aggregation can do, and how the source orders strings."""

    target: str = "MongoDB"
    # Aggregation operators the target lacks (or runs wrongly), each with what is wrong.
    missing: dict[str, str] = field(default_factory=dict)
    field_paths: bool = True  # `$project` computes "$field" as the field's value
    binary_strings: bool = False  # the source compares and sorts strings by code point
    collation: str = "unknown"


@dataclass
class Scope:
    collection: str
    stages: list[dict[str, Any]] = field(default_factory=list)
    places: dict[str, Place] = field(default_factory=dict)  # alias (lowercase) → place
    order: list[str] = field(default_factory=list)  # aliases in FROM order


def _table_name(node: exp.Table) -> tuple[str | None, str]:
    return (node.db or None), node.name


def find_table(project: Project, node: exp.Table, sql: str) -> Table:
    schema, name = _table_name(node)
    found = [
        t
        for t in project.tables
        if t.name.lower() == name.lower()
        and (schema is None or t.schema_.lower() == schema.lower())
    ]
    exact = [t for t in found if t.name == name]
    if len(exact) == 1:
        return exact[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise refuse(f"table {shown(node, sql)} is not in the project", node, sql)
    raise refuse(f"table {name} is ambiguous (name its schema)", node, sql)


class ScopeBuilder:
    def __init__(
        self, project: Project, roots: dict[str, RootPlan], caps: Capabilities, sql: str
    ) -> None:
        self.project = project
        self.roots = roots  # collection name → compiled plan
        self.caps = caps
        self.sql = sql
        self.lookups = 0

    def build(self, select: exp.Select) -> Scope:
        source = select.args.get("from_") or select.args.get("from")
        if source is None:
            raise refuse("a query without FROM", select, self.sql)
        first = source.this
        if not isinstance(first, exp.Table):
            raise refuse("FROM a subquery or function", first, self.sql)
        for extra in source.expressions if hasattr(source, "expressions") else []:
            raise refuse(
                "FROM with several tables (write the joins with JOIN … ON)", extra, self.sql
            )
        table = find_table(self.project, first, self.sql)
        scope = self._from(table, first)
        alias = (first.alias_or_name).lower()
        scope.places[alias] = scope.places.pop("")
        scope.order.append(alias)
        for join in select.args.get("joins") or []:
            self._join(scope, join)
        return scope

    # --- FROM ---------------------------------------------------------------------------------

    def _complete(self, table: Table, node: exp.Expression) -> None:
        """The target holds every row of `table` only without a snapshot filter on it."""
        if table.id in self.project.filters:
            raise refuse(
                f"{table.id} has a snapshot filter, so the target may not hold all its rows",
                node,
                self.sql,
            )

    def _root(self, rule_table: Table, node: exp.Expression) -> tuple[str, RootPlan] | None:
        for name, plan in self.roots.items():
            if plan.node.table.id == rule_table.id and plan.collection.filter is None:
                return name, plan
        return None

    def _from(self, table: Table, node: exp.Table) -> Scope:
        self._complete(table, node)
        found = self._root(table, node)
        if found is not None:
            name, plan = found
            scope = Scope(name)
            scope.places[""] = Place(plan.node, (), name, root=plan)
            return scope
        filtered = [n for n, p in self.roots.items() if p.node.table.id == table.id]
        if filtered:
            rule = self.roots[filtered[0]].collection
            raise refuse(
                f"collection {filtered[0]} holds only the rows of {table.id} its filter keeps "
                f"({rule.filter})",
                node,
                self.sql,
            )
        return self._from_arrays(table, node)

    def _from_arrays(self, table: Table, node: exp.Table) -> Scope:
        """A table only embedded: its rows are the elements of an array every row is in."""
        reasons: list[str] = []
        for name, plan in self.roots.items():
            chain = _chain_to(plan.node.links, table.id)
            if chain is None:
                continue
            why = self._incomplete(plan, chain)
            if why:
                reasons.append(f"in {name}: {why}")
                continue
            scope = Scope(name)
            place = Place(plan.node, (), name, root=plan)
            for link in chain:
                place = place.child(link)
                place.unwound = True
                scope.stages.append(_unwind("$" + dotted(place.base), keep=False))
            scope.places[""] = place
            return scope
        detail = "; ".join(reasons) if reasons else "no collection holds its rows"
        raise refuse(f"{table.id} is not read from any collection ({detail})", node, self.sql)

    def _incomplete(self, plan: RootPlan, chain: list[LinkPlan]) -> str | None:
        if plan.collection.filter is not None:
            return f"the collection's filter ({plan.collection.filter})"
        for link in chain:
            child = link.node.table
            if link.kind != "array" or link.primitive is not None:
                return f"{child.id} is embedded as {'values' if link.primitive else 'a document'}"
            why = partial(link)
            if why:
                return why
            fk_nullable = any(child.column(c).nullable for c in link.match_columns)
            if fk_nullable:
                return f"a row of {child.id} with a NULL key to its parent is in no array"
            self._complete(child, exp.Table())
        return None

    # --- JOIN ---------------------------------------------------------------------------------

    def _join(self, scope: Scope, join: exp.Join) -> None:
        target = join.this
        if not isinstance(target, exp.Table):
            raise refuse("a join to a subquery", target, self.sql)
        side = (join.side or "").upper()
        kind = (join.kind or "").upper()
        if kind in ("CROSS", "NATURAL") or join.args.get("using") or side in ("RIGHT", "FULL"):
            what = "JOIN USING" if join.args.get("using") else f"{side or kind} JOIN"
            raise refuse(f"{what} (only inner and left joins along ON equalities)", join, self.sql)
        left = side == "LEFT"
        table = find_table(self.project, target, self.sql)
        self._complete(table, target)
        alias = target.alias_or_name.lower()
        if alias in scope.places:
            raise refuse(f"the alias {alias} is used twice", target, self.sql)
        on = join.args.get("on")
        if on is None:
            raise refuse("a join without ON", join, self.sql)
        pairs = self._pairs(scope, alias, on)
        if not pairs:
            raise refuse("a join whose ON does not compare its table's columns", on, self.sql)
        others = {a for a, _, _ in pairs}
        if len(others) != 1:
            raise refuse("a join whose ON compares more than one other table", on, self.sql)
        other = scope.places[others.pop()]
        mine = [m for _, _, m in pairs]
        theirs = [t for _, t, _ in pairs]
        place = self._along(scope, other, table, theirs, mine, left, on)
        if place is None:
            place = self._lookup(scope, other, table, theirs, mine, left, on)
        scope.places[alias] = place
        scope.order.append(alias)

    def _pairs(self, scope: Scope, alias: str, on: exp.Expression) -> list[tuple[str, str, str]]:
        """(other alias, its column, this table's column) for each equality of the ON."""
        terms = list(on.flatten()) if isinstance(on, exp.And) else [on]
        pairs = []
        for term in terms:
            while isinstance(term, exp.Paren):
                term = term.this
            if not (
                isinstance(term, exp.EQ)
                and isinstance(term.this, exp.Column)
                and isinstance(term.expression, exp.Column)
            ):
                raise refuse(
                    f"the join condition {shown(term, self.sql)} (only column = column)",
                    term,
                    self.sql,
                )
            a, b = term.this, term.expression
            if b.table.lower() == alias and a.table.lower() != alias:
                a, b = b, a
            if a.table.lower() != alias or b.table.lower() not in scope.places:
                raise refuse(
                    f"the join condition {shown(term, self.sql)} (name both tables)", term, self.sql
                )
            pairs.append((b.table.lower(), b.name, a.name))
        return pairs

    def _along(
        self,
        scope: Scope,
        other: Place,
        table: Table,
        theirs: list[str],
        mine: list[str],
        left: bool,
        on: exp.Expression,
    ) -> Place | None:
        """The joined rows along an embedding of `other`, or its parent's row; None if none."""
        for link in other.node.links:
            if link.node.table.id != table.id:
                continue
            parent_columns = [other.node.columns[i] for i in link.parent_index]
            if not _same(zip(parent_columns, link.match_columns, strict=True), theirs, mine):
                continue
            why = partial(link)
            if why:
                raise refuse(
                    f"the join follows {dotted(other.base + link.path)}, but {why}", on, self.sql
                )
            if link.merge:
                raise refuse(
                    f"{table.id} is merged into its parent's fields, so a missing row cannot be "
                    "told from a row of nulls",
                    on,
                    self.sql,
                )
            if link.primitive is not None:
                raise refuse(f"{table.id} is embedded as an array of values", on, self.sql)
            place = other.child(link)
            place.optional = left
            path = "$" + dotted(place.base)
            if link.kind == "array":
                place.unwound = True
                scope.stages.append(_unwind(path, keep=left))
            elif not left:
                scope.stages.append({"$match": {dotted(place.base): {"$ne": None}}})
            return place
        parent, link = other.parent, other.link
        if parent is not None and link is not None and parent.node.table.id == table.id:
            parent_columns = [parent.node.columns[i] for i in link.parent_index]
            if _same(zip(link.match_columns, parent_columns, strict=True), theirs, mine):
                return parent  # every embedded row is in its parent's document
        return None

    def _lookup(
        self,
        scope: Scope,
        other: Place,
        table: Table,
        theirs: list[str],
        mine: list[str],
        left: bool,
        on: exp.Expression,
    ) -> Place:
        found = self._root(table, on)
        if found is None:
            raise refuse(
                f"{table.id} is neither embedded along this join nor the root of a collection",
                on,
                self.sql,
            )
        if "$lookup" in self.caps.missing:
            raise refuse(
                f"the join to {table.id} needs $lookup, which {self.caps.target} lacks",
                on,
                self.sql,
            )
        if len(mine) != 1:
            raise refuse("a $lookup join on several columns", on, self.sql)
        name, plan = found
        local = other.path_of(theirs[0])
        foreign_place = Place(plan.node, (), name, root=plan)
        foreign = foreign_place.path_of(mine[0])
        if local is None or foreign is None:
            raise refuse("a join on a column the documents do not hold", on, self.sql)
        self.lookups += 1
        into = f"__join{self.lookups}"
        scope.stages.append(
            {
                "$lookup": {
                    "from": name,
                    "localField": dotted(local),
                    "foreignField": dotted(foreign),
                    "as": into,
                }
            }
        )
        scope.stages.append(_unwind("$" + into, keep=left))
        return Place(plan.node, (into,), name, root=plan, optional=left)


def _unwind(path: str, *, keep: bool) -> dict[str, Any]:
    """Row per element; `keep` (a LEFT JOIN) keeps a document whose array is empty."""
    return {"$unwind": {"path": path, "preserveNullAndEmptyArrays": True} if keep else path}


def _same(pairs: Any, theirs: list[str], mine: list[str]) -> bool:
    return sorted(pairs) == sorted(zip(theirs, mine, strict=True))


def partial(link: LinkPlan) -> str | None:
    """Why an embedding may not hold every matching row."""
    table = link.node.table.id
    if link.node.computed is not None and link.node.computed.has_filter:
        return f"its rule keeps only some rows of {table} (a filter)"
    if link.limit is not None:
        return f"its rule keeps at most {link.limit} rows of {table} per document"
    return None


def _chain_to(links: list[LinkPlan], table_id: str) -> list[LinkPlan] | None:
    for link in links:
        if link.node.table.id == table_id:
            return [link]
        deeper = _chain_to(link.node.links, table_id)
        if deeper is not None:
            return [link, *deeper]
    return None


__all__ = ["CannotConvert", "Capabilities", "Scope", "ScopeBuilder", "find_table"]
