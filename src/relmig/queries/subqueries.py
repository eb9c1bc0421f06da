"""EXISTS and IN (SELECT …) over the rows an outer row embeds → `$elemMatch` on its array.

`EXISTS (SELECT … FROM child c WHERE c.fk = o.key AND cond)` asks whether the outer row's
array holds an element where `cond` is true, and `o.key IN (SELECT c.fk FROM child c WHERE
cond)` asks the same. Both are true or false, never unknown (the key is the outer row's, never
NULL, and an element's foreign key equals it), so NOT is `$nor`. A subquery over anything but
an embedded array (another collection, an uncorrelated table) is refused.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from relmig.documents.plan import DecimalMode, LinkPlan
from relmig.project.model import Project
from relmig.queries.conditions import ALWAYS, NEVER, Conditions, Operand, Param
from relmig.queries.operands import column_named, column_operand
from relmig.queries.places import Place, dotted
from relmig.queries.refusal import refuse, shown
from relmig.queries.scope import Capabilities, find_table, partial


class Subqueries:
    def __init__(
        self,
        project: Project,
        places: dict[str, Place],
        params: list[Param],
        sql: str,
        ci_strings: str | None,
        caps: Capabilities,
        decimals: DecimalMode,
    ) -> None:
        self.caps = caps
        self.decimals = decimals
        self.project = project
        self.places = places  # the outer query's
        self.params = params
        self.sql = sql
        self.ci_strings = ci_strings

    def __call__(self, node: exp.Expression, want: bool) -> dict[str, Any]:
        if isinstance(node, exp.Exists):
            select, pairs = node.this, []
        else:
            select = node.args["query"].this
            pairs = self._in_pair(node, select)
        if (
            not isinstance(select, exp.Select)
            or len(select.args.get("joins") or [])
            or any(
                select.args.get(k) for k in ("group", "having", "order", "limit", "offset", "with")
            )
        ):
            raise refuse(
                "a subquery other than one table's rows (no joins, groups or limits)",
                node,
                self.sql,
            )
        source = select.args.get("from_") or select.args.get("from")
        if source is None or not isinstance(source.this, exp.Table):
            raise refuse("a subquery without a table", node, self.sql)
        table = find_table(self.project, source.this, self.sql)
        alias = source.this.alias_or_name.lower()
        where = select.args.get("where")
        terms = (
            list(where.this.flatten())
            if where is not None and isinstance(where.this, exp.And)
            else ([where.this] if where is not None else [])
        )
        correlation = [t for t in terms if self._correlates(t, alias)]
        pairs += [self._pair(t, alias) for t in correlation]
        outer, link = self._array(table.id, pairs, node)
        if isinstance(node, exp.In) and not want:
            nullable = [c for c in link.match_columns if table.column(c).nullable]
            if nullable:
                raise refuse(
                    f"NOT IN over {table.id}.{nullable[0]}, which may be NULL (a NULL in the "
                    "subquery makes NOT IN true for no row)",
                    node,
                    self.sql,
                )
        rest = [t for t in terms if t not in correlation]
        element = Place(link.node, (), outer.collection)
        conditions = Conditions(
            lambda n: self._element_operand(n, alias, element),
            self.params,
            self.sql,
            ci_strings=self.ci_strings,
        )
        path = dotted(outer.base + link.path)
        inner = [conditions.match(t) for t in rest]
        if any(m is NEVER for m in inner):  # no element can match (`= NULL`): never exists
            return NEVER if want else ALWAYS
        matched = [m for m in inner if m]
        if matched:
            found: dict[str, Any] = {
                path: {"$elemMatch": matched[0] if len(matched) == 1 else {"$and": matched}}
            }
        else:
            found = {f"{path}.0": {"$exists": True}}
        return found if want else {"$nor": [found]}

    def _in_pair(self, node: exp.In, select: Any) -> list[tuple[str, str, str]]:
        """`o.key IN (SELECT c.fk …)`: the pair the IN itself correlates."""
        outer = node.this
        columns = select.expressions if isinstance(select, exp.Select) else []
        if (
            not isinstance(outer, exp.Column)
            or len(columns) != 1
            or not isinstance(columns[0], exp.Column)
        ):
            raise refuse(
                "IN (SELECT …) other than a column in one column of the subquery", node, self.sql
            )
        alias = self._outer_alias(outer, node)
        return [(alias, outer.name, columns[0].name)]

    def _outer_alias(self, column: exp.Column, node: exp.Expression) -> str:
        if column.table:
            if column.table.lower() not in self.places:
                raise refuse(
                    f"{shown(column, self.sql)} (no table {column.table} outside)", node, self.sql
                )
            return column.table.lower()
        owners = [
            a
            for a, p in self.places.items()
            if any(c.name == column.name for c in p.node.table.columns)
        ]
        if len(owners) != 1:
            raise refuse(f"the column {column.name} (name its table)", node, self.sql)
        return owners[0]

    def _correlates(self, term: exp.Expression, alias: str) -> bool:
        """`c.fk = o.key`: an equality between a column of the subquery and one outside it."""
        if not (
            isinstance(term, exp.EQ)
            and all(isinstance(x, exp.Column) for x in (term.this, term.expression))
        ):
            return False
        tables = {term.this.table.lower(), term.expression.table.lower()}
        return (
            alias in tables
            and bool(tables - {alias})
            and bool((tables - {alias}) & set(self.places))
        )

    def _pair(self, term: exp.EQ, alias: str) -> tuple[str, str, str]:
        mine, theirs = term.this, term.expression
        if mine.table.lower() != alias:
            mine, theirs = theirs, mine
        return theirs.table.lower(), theirs.name, mine.name

    def _array(
        self, table: str, pairs: list[tuple[str, str, str]], node: exp.Expression
    ) -> tuple[Place, LinkPlan]:
        """The outer place whose array embeds `table` along exactly these pairs."""
        outers = {a for a, _, _ in pairs}
        if len(outers) != 1:
            raise refuse(
                "a subquery not correlated with one outer table by its foreign key", node, self.sql
            )
        outer = self.places[outers.pop()]
        wanted = sorted((theirs, mine) for _, theirs, mine in pairs)
        for link in outer.node.links:
            parents = [outer.node.columns[i] for i in link.parent_index]
            if (
                link.kind == "array"
                and link.node.table.id == table
                and sorted(zip(parents, link.match_columns, strict=True)) == wanted
            ):
                if link.primitive is not None:
                    raise refuse(f"{table} is embedded as an array of values", node, self.sql)
                why = partial(link)
                if why:
                    raise refuse(
                        f"the subquery reads {dotted(outer.base + link.path)}, but {why}",
                        node,
                        self.sql,
                    )
                return outer, link
        raise refuse(
            f"a subquery over {table}, which {outer.collection} does not embed as an array "
            "along this foreign key",
            node,
            self.sql,
        )

    def _element_operand(self, node: exp.Expression, alias: str, element: Place) -> Operand | None:
        if not isinstance(node, exp.Column):
            return None
        if node.table and node.table.lower() != alias:
            raise refuse(
                f"{shown(node, self.sql)} (the subquery's condition may read its own table only)",
                node,
                self.sql,
            )
        column = column_named(element, node.name)
        if column is None:
            raise refuse(f"{element.table} has no column {node.name}", node, self.sql)
        path = element.path_of(column)
        if path is None:
            raise refuse(
                f"{element.table}.{column} is not in the embedded rows (its rule leaves it out)",
                node,
                self.sql,
            )
        dialect = self.project.source.dialect
        return column_operand(element, column, path, dialect, self.caps, self.decimals)
