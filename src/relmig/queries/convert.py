"""One SELECT → one aggregation pipeline over one collection (`convert`).

The stages come in SQL's logical order: the joins' unwinds and lookups (relmig.queries.scope),
WHERE as `$match` (relmig.queries.conditions), GROUP BY as `$group` with HAVING after it, the
SELECT list as `$project` (its names are the SQL column names), DISTINCT, ORDER BY (nulls
placed as the source places them), OFFSET and LIMIT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from relmig.documents.plan import DecimalMode, FieldPlan, RootPlan, compile_collection
from relmig.project.filters import SQLGLOT_DIALECTS
from relmig.project.model import Column, Project
from relmig.queries.capabilities import binary_collation
from relmig.queries.conditions import Conditions, Operand, Param
from relmig.queries.expressions import MYSQL_DIV_DIGITS, Value, Values, field_ref
from relmig.queries.operands import column_named, column_operand, field_of
from relmig.queries.places import Path, Place
from relmig.queries.refusal import CannotConvert, refuse, shown
from relmig.queries.scope import Capabilities, Scope, ScopeBuilder
from relmig.queries.subqueries import Subqueries
from relmig.source.connect import open_source

_AGGREGATES = (exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max)
HIDDEN = "__"  # prefix of the fields the pipeline adds for itself and removes at the end


@dataclass
class Output:
    name: str  # the field of the pipeline's output documents
    label: str  # the column name the SQL gives it
    kind: str | None
    field: FieldPlan | None = None  # a plain column's: the check converts source values with it
    column: Column | None = None


@dataclass
class Conversion:
    sql: str
    collection: str
    pipeline: list[dict[str, Any]]
    outputs: list[Output]
    params: list[Param] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # the output labels ORDER BY sorts by
    ordered: bool = False  # the SQL has an ORDER BY
    limited: bool = False
    when_empty: dict[str, Any] | None = None  # the one row SQL gives when no document comes back
    # Where the client reads each output column in a result document, for a target whose
    # $project cannot rename (None: the documents' fields are the columns).
    columns: dict[str, str] | None = None


def plans_of(project: Project, decimals: DecimalMode) -> dict[str, RootPlan]:
    """Every collection's compiled plan, as the job that wrote the documents compiled it (CDC
    reads current state, so the snapshot filters are not part of the plan)."""
    source = open_source(project.source)  # never connected: compiling reads types only
    return {
        rule.name: compile_collection(project, rule, source, filters=False, decimals=decimals)
        for rule in project.collections
    }


def parse(sql: str, project: Project) -> list[exp.Expression]:
    dialect = SQLGLOT_DIALECTS[project.source.dialect]
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at line {first.get('line')} col {first.get('col')}" if first.get("line") else ""
        raise CannotConvert(
            f"cannot parse the SQL{where}: {first.get('description') or exc}"
        ) from None
    if not statements:
        raise CannotConvert("cannot convert: no SQL statement")
    return statements


def convert(
    project: Project,
    sql: str,
    *,
    decimals: DecimalMode = "decimal128",
    caps: Capabilities | None = None,
    plans: dict[str, RootPlan] | None = None,
) -> Conversion:
    """The pipeline for one SELECT; CannotConvert names what stops it, and where."""
    statements = parse(sql, project)
    if len(statements) != 1:
        raise CannotConvert("cannot convert: several statements at once (one query per call)")
    plans = plans if plans is not None else plans_of(project, decimals)
    return _Converter(project, plans, caps or Capabilities(), sql, decimals).select(statements[0])


class _Converter:
    def __init__(
        self,
        project: Project,
        plans: dict[str, RootPlan],
        caps: Capabilities,
        sql: str,
        decimals: DecimalMode,
    ) -> None:
        self.project = project
        self.plans = plans
        self.caps = caps
        self.sql = sql
        self.decimals = decimals
        self.dialect = project.source.dialect
        self.params: list[Param] = []

    # --- the statement ------------------------------------------------------------------------

    def select(self, node: exp.Expression) -> Conversion:
        if not isinstance(node, exp.Select):
            what = node.key.upper() if not isinstance(node, exp.Query) else "a set operation"
            raise refuse(f"{what} (only SELECT)", node, self.sql)
        self._refuse_unsupported(node)
        scope = ScopeBuilder(self.project, self.plans, self.caps, self.sql).build(node)
        self.scope = scope
        stages = list(scope.stages)
        where = node.args.get("where")
        if where is not None:
            ci = self._ci_strings()
            subqueries = Subqueries(
                self.project, scope.places, self.params, self.sql, ci, self.caps, self.decimals
            )
            conditions = Conditions(
                self._operand, self.params, self.sql, ci_strings=ci, subquery=subqueries
            )
            matched = conditions.match(where.this)
            if matched:
                stages.append({"$match": matched})
        items = self._items(node, scope)
        grouping = bool(node.args.get("group")) or any(it.find(*_AGGREGATES) for _, it in items)
        if grouping:
            group = _Grouping(self, node, items)
            stages += group.stages()
            values = group.values
        else:
            if node.args.get("having"):
                raise refuse(
                    "HAVING without GROUP BY or an aggregate", node.args["having"], self.sql
                )
            values = Values(self._value, self.dialect, self.sql)
        outputs: list[Output] = []
        project: dict[str, Any] = {"_id": 0}
        for label, item in items:
            value = values.value(item)
            project[label] = value.expr if value.expr is not None else {"$literal": None}
            outputs.append(
                Output(
                    label,
                    self.titles[label],
                    value.kind,
                    *(self._plain(item) if not grouping else (None, None)),
                )
            )
        conversion = Conversion(self.sql, scope.collection, stages, outputs, self.params)
        order = node.args.get("order")
        hidden = self._order_fields(node, order, items, values, project) if order else []
        stages.append({"$project": project})
        if node.args.get("distinct") is not None:
            if node.args["distinct"].args.get("on"):
                raise refuse("DISTINCT ON", node.args["distinct"], self.sql)
            for output, (_, item) in zip(outputs, items, strict=True):
                self.equal_strings(Value(None, output.kind), item, "DISTINCT")
            labels = [o.name for o in outputs]
            stages.append({"$group": {"_id": {lb: {"$ifNull": ["$" + lb, None]} for lb in labels}}})
            stages.append({"$project": {"_id": 0, **{lb: "$_id." + lb for lb in labels}}})
        flags: dict[str, Any] = {}
        if order:
            conversion.ordered = True
            sort, flags = self._sort(order, hidden, conversion)
            if flags:
                stages.append({"$addFields": flags})
            stages.append({"$sort": sort})
        offset, limit = node.args.get("offset"), node.args.get("limit")
        if offset is not None:
            stages.append({"$skip": self._count(offset.expression)})
        if limit is not None:
            conversion.limited = True
            stages.append({"$limit": self._count(limit.expression)})
        extra = [name for name in project if name.startswith(HIDDEN)] + list(flags)
        if extra:
            stages.append({"$project": {name: 0 for name in extra}})
        if grouping and not node.args.get("group"):
            # SQL answers an empty input with one row; the output code returns it.
            conversion.when_empty = group.empty_row(items, node)
        if not self.caps.field_paths:
            self._read_by_client(conversion, project)
        self._refuse_missing(conversion.pipeline)
        return conversion

    def _read_by_client(self, conversion: Conversion, project: dict[str, Any]) -> None:
        """For a target whose `$project` cannot compute, the documents come back whole and the
        client reads each output column at its path (`Conversion.columns`). (FerretDB v1's
        inclusion `$project` after an `$unwind` drops fields, so none is used.)"""
        paths: dict[str, str] = {}
        for name, expr in project.items():
            if name == "_id":
                continue
            if not (isinstance(expr, str) and expr.startswith("$")):
                title = self.titles.get(name, name)
                raise refuse(
                    f"the output {title} is computed, and {self.caps.target}'s $project "
                    "computes nothing",
                    None,
                    self.sql,
                )
            paths[name] = expr[1:]
        rewritten: list[dict[str, Any]] = []
        for stage in conversion.pipeline:
            if stage.get("$project") is project:
                continue
            if "$sort" in stage:
                rewritten.append({"$sort": {paths.get(k, k): v for k, v in stage["$sort"].items()}})
            elif "$project" in stage and all(v == 0 for v in stage["$project"].values()):
                continue  # the hidden sort fields were the documents' own
            else:
                rewritten.append(stage)
        conversion.pipeline = rewritten
        conversion.columns = {o.name: paths[o.name] for o in conversion.outputs}

    def _refuse_missing(self, pipeline: list[dict[str, Any]]) -> None:
        used = sorted(_operators(pipeline) & set(self.caps.missing))
        if used:
            what = "; ".join(
                f"{op}, which {self.caps.target} {self.caps.missing[op]}" for op in used
            )
            raise refuse(f"the query needs {what}", None, self.sql)

    def _refuse_unsupported(self, node: exp.Select) -> None:
        for part in node.walk():
            if isinstance(part, exp.Window):
                raise refuse("a window function", part, self.sql)
            if isinstance(part, exp.With):
                raise refuse("a WITH clause (CTE)", part, self.sql)
            if isinstance(part, exp.Lock):
                raise refuse("FOR UPDATE/SHARE", part, self.sql)
        if node.args.get("into"):
            raise refuse("SELECT INTO", node.args["into"], self.sql)

    def _items(self, node: exp.Select, scope: Scope) -> list[tuple[str, exp.Expression]]:
        items: list[tuple[str, exp.Expression]] = []
        for item in node.expressions:
            if isinstance(item, exp.Star):
                for alias in scope.order:
                    items += self._star(alias, scope.places[alias])
                continue
            if isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
                alias = item.table.lower()
                if alias not in scope.places:
                    raise refuse(
                        f"{shown(item, self.sql)} (no table {item.table} here)", item, self.sql
                    )
                items += self._star(alias, scope.places[alias])
                continue
            items.append((self._label(item), item.this if isinstance(item, exp.Alias) else item))
        self.titles: dict[str, str] = {}
        named: list[tuple[str, exp.Expression]] = []
        for i, (label, item) in enumerate(items):
            # The SQL's column name where it can be a field name, else colN (the check compares
            # by position, as a driver's rows are).
            usable = label and not label.startswith(("$", HIDDEN)) and "." not in label
            name = label if usable and label not in self.titles else f"col{i + 1}"
            self.titles[name] = label or f"col{i + 1}"
            named.append((name, item))
        return named

    def _label(self, item: exp.Expression) -> str:
        """The column name the source gives the output: PostgreSQL names an unaliased
        function by itself and other expressions ?column?; MariaDB uses the text."""
        if isinstance(item, exp.Alias | exp.Column):
            return item.alias_or_name
        if self.dialect == "mysql":
            return item.sql(dialect="mysql")
        if isinstance(item, exp.Func):
            return (item.name if isinstance(item, exp.Anonymous) else item.sql_name()).lower()
        return "?column?"

    def _star(self, alias: str, place: Place) -> list[tuple[str, exp.Expression]]:
        return [
            (c.name, exp.column(c.name, table=alias, quoted=True)) for c in place.node.table.columns
        ]

    # --- columns ------------------------------------------------------------------------------

    def _column(self, node: exp.Expression) -> tuple[Place, str] | None:
        if not isinstance(node, exp.Column) or isinstance(node.this, exp.Star):
            return None
        name, alias = node.name, node.table.lower()
        places = self.scope.places
        if alias:
            if alias not in places:
                raise refuse(
                    f"{shown(node, self.sql)} (no table {node.table} in FROM)", node, self.sql
                )
            candidates = [places[alias]]
        else:
            candidates = [p for p in places.values() if column_named(p, name) is not None]
            if len(candidates) > 1:
                raise refuse(f"the column {name} is ambiguous (name its table)", node, self.sql)
        if not candidates or not column_named(candidates[0], name) is not None:
            if alias or len(places) == 1:
                table = (places[alias] if alias else next(iter(places.values()))).table
                what = f"{table} has no column {name}"
            else:
                what = f"none of the joined tables has a column {name}"
            raise refuse(what, node, self.sql)
        place = candidates[0]
        return place, column_named(place, name)  # type: ignore[return-value]

    def _path(self, node: exp.Expression, place: Place, column: str) -> Path:
        path = place.path_of(column)
        if path is None:
            raise refuse(
                f"{place.table}.{column} is not in the documents of {place.collection} (its rule "
                "leaves it out)",
                node,
                self.sql,
            )
        return path

    def _operand(self, node: exp.Expression) -> Operand | None:
        if isinstance(node, exp.Collate):
            return self._collated(node)
        found = self._column(node)
        if found is None:
            return None
        place, column = found
        path = self._path(node, place, column)
        return column_operand(place, column, path, self.dialect, self.caps, self.decimals)

    def _collated(self, node: exp.Collate) -> Operand | None:
        operand = self._operand(node.this)
        name = (
            node.expression.name
            if isinstance(node.expression, exp.Expression)
            else str(node.expression)
        )
        if operand is not None and binary_collation(name):
            operand.collated = True
            if operand.kind == "text":
                operand.ordered = None
            return operand
        raise refuse(f"COLLATE {name} (only a binary collation converts)", node, self.sql)

    def equal_strings(self, value: Value, node: exp.Expression, what: str) -> None:
        """GROUP BY and DISTINCT tell strings apart as the source's collation does."""
        why = self._ci_strings()
        if value.kind == "text" and why and not isinstance(node, exp.Collate):
            raise refuse(f"{what} {shown(node, self.sql)}: {why}", node, self.sql)

    def _ci_strings(self) -> str | None:
        if self.dialect == "mysql" and not self.caps.binary_strings:
            return (
                f"a string comparison: the source compares strings under its collation "
                f"({self.caps.collation}), which ignores case and trailing spaces unless it is a "
                "_bin one, MongoDB by code point; add COLLATE utf8mb4_bin to convert it"
            )
        return None

    def _value(self, node: exp.Expression) -> Value | None:
        operand = self._operand(node)
        if operand is None:
            return None
        return Value(
            field_ref(operand.path),
            operand.kind,
            operand.scale,
            operand.ordered,
            operand.equal,
            operand.nullable,
        )

    def _plain(self, node: exp.Expression) -> tuple[FieldPlan | None, Column | None]:
        found = self._column(node)
        if found is None:
            return None, None
        place, column = found
        return field_of(place, column), place.node.table.column(column)

    # --- order, limit -------------------------------------------------------------------------

    def _order_fields(
        self,
        node: exp.Select,
        order: exp.Order,
        items: list[tuple[str, exp.Expression]],
        values: Values,
        project: dict[str, Any],
    ) -> list[tuple[str, Value]]:
        """(field, value) per ORDER BY term; a term that is no output column gets a hidden
        field in the projection."""
        labels = {label: item for label, item in items}
        texts = {item.sql(): label for label, item in items}
        titles = {title: name for name, title in reversed(self.titles.items())}
        fields: list[tuple[str, Value]] = []
        for i, term in enumerate(order.expressions):
            key = term.this
            label = None
            if isinstance(key, exp.Literal) and not key.is_string:
                position = int(key.this)
                if not 1 <= position <= len(items):
                    raise refuse(f"ORDER BY {position} (no such output column)", term, self.sql)
                label = items[position - 1][0]
            elif isinstance(key, exp.Column) and not key.table and key.name in titles:
                label = titles[key.name]
            elif key.sql() in texts:
                label = texts[key.sql()]
            if label is not None:
                fields.append((label, values.value(labels[label])))
                continue
            if node.args.get("distinct") is not None:
                raise refuse("ORDER BY a term not in a DISTINCT's output", term, self.sql)
            value = values.value(key)
            label = f"{HIDDEN}sort{i}"
            project[label] = value.expr
            fields.append((label, value))
        return fields

    def _sort(
        self,
        order: exp.Order,
        fields: list[tuple[str, Value]],
        conversion: Conversion,
    ) -> tuple[dict[str, int], dict[str, Any]]:
        sort: dict[str, int] = {}
        flags: dict[str, Any] = {}
        for i, (term, (name, value)) in enumerate(zip(order.expressions, fields, strict=True)):
            if value.ordered:
                raise refuse(
                    f"ORDER BY {shown(term.this, self.sql)}: {value.ordered}", term, self.sql
                )
            descending = bool(term.args.get("desc"))
            nulls_first = bool(term.args.get("nulls_first"))
            # MongoDB sorts null (and missing) lowest: first ascending, last descending.
            if nulls_first == descending and value.nullable:
                flag = f"{HIDDEN}null{i}"
                flags[flag] = {"$cond": [{"$eq": [{"$ifNull": ["$" + name, None]}, None]}, 1, 0]}
                sort[flag] = -1 if nulls_first else 1
            sort[name] = -1 if descending else 1
            if not name.startswith(HIDDEN):
                conversion.order.append(name)
        return sort, flags

    def _count(self, node: exp.Expression) -> Any:
        if isinstance(node, exp.Placeholder | exp.Parameter):
            param = Param(len(self.params) + 1)
            self.params.append(param)
            return param
        if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
            return int(node.this)
        raise refuse(
            f"LIMIT/OFFSET {shown(node, self.sql)} (only a number or a parameter)", node, self.sql
        )


class _Grouping:
    """GROUP BY and aggregates: `$group` by the keys, then HAVING on its output."""

    def __init__(
        self, conv: _Converter, node: exp.Select, items: list[tuple[str, exp.Expression]]
    ) -> None:
        self.conv = conv
        self.node = node
        self.keys: list[exp.Expression] = []
        group = node.args.get("group")
        for key in group.expressions if group else []:
            if isinstance(key, exp.Literal) and not key.is_string:
                key = items[int(key.this) - 1][1]
            elif isinstance(key, exp.Column) and not key.table:
                key = next(
                    (it for lb, it in items if lb == key.name and not isinstance(it, exp.Column)),
                    key,
                )
            self.keys.append(key)
        self.key_sql = [k.sql() for k in self.keys]
        self.aggregates: dict[str, tuple[exp.Expression, Value]] = {}
        self.group: dict[str, Any] = {"_id": {} if self.keys else None}
        self.fixes: dict[str, Any] = {}
        base = Values(conv._value, conv.dialect, conv.sql)
        for i, key in enumerate(self.keys):
            value = base.value(key)
            conv.equal_strings(value, key, "GROUP BY")
            self.group["_id"][f"k{i}"] = {"$ifNull": [value.expr, None]}
        self.base = base
        self.key_values = [base.value(k) for k in self.keys]
        self.values = Values(self._resolve, conv.dialect, conv.sql)

    def _resolve(self, node: exp.Expression) -> Value | None:
        text = node.sql()
        if text in self.key_sql:
            i = self.key_sql.index(text)
            key = self.key_values[i]
            return Value(f"$_id.k{i}", key.kind, key.scale, key.ordered, key.equal, key.nullable)
        if isinstance(node, _AGGREGATES):
            return self._aggregate(node)
        if isinstance(node, exp.Column):
            raise refuse(
                f"{shown(node, self.conv.sql)} must be in GROUP BY or in an aggregate",
                node,
                self.conv.sql,
            )
        return None

    def _aggregate(self, node: exp.Expression) -> Value:
        text = node.sql()
        if text in self.aggregates:
            return self.aggregates[text][1]
        name = f"a{len(self.aggregates)}"
        arg = node.this
        distinct = isinstance(arg, exp.Distinct)
        if distinct:
            if len(arg.expressions) != 1:
                raise refuse("an aggregate of DISTINCT several values", node, self.conv.sql)
            arg = arg.expressions[0]
        sql = self.conv.sql
        if isinstance(node, exp.Count):
            if isinstance(arg, exp.Star):
                self.group[name] = {"$sum": 1}
            else:
                inner = self.base.value(arg)
                if distinct:
                    self.group[name] = {"$addToSet": inner.expr}
                    self.fixes[name] = {
                        "$size": {
                            "$filter": {"input": "$" + name, "cond": {"$ne": ["$$this", None]}}
                        }
                    }
                else:
                    present = {"$cond": [{"$eq": [{"$ifNull": [inner.expr, None]}, None]}, 0, 1]}
                    self.group[name] = {"$sum": present}
            value = Value("$" + name, "int", nullable=False)
        else:
            if distinct:
                raise refuse(f"{node.key.upper()}(DISTINCT …)", node, sql)
            inner = self.base.value(arg)
            op = {exp.Sum: "$sum", exp.Avg: "$avg", exp.Min: "$min", exp.Max: "$max"}[type(node)]
            if op in ("$sum", "$avg") and inner.kind not in ("int", "decimal", "float"):
                raise refuse(
                    f"{shown(node, self.conv.sql)} of something that is not a number", node, sql
                )
            why = inner.equal if op in ("$sum", "$avg") else inner.ordered
            if why:
                raise refuse(f"{shown(node, self.conv.sql)}: {why}", node, sql)
            self.group[name] = {op: inner.expr}
            if op == "$sum":  # SQL's SUM of no value is NULL, $sum's is 0
                count = f"{name}n"
                self.group[count] = {
                    "$sum": {"$cond": [{"$eq": [{"$ifNull": [inner.expr, None]}, None]}, 0, 1]}
                }
                self.fixes[name] = {"$cond": [{"$eq": ["$" + count, 0]}, None, "$" + name]}
            kind = inner.kind if op != "$avg" else ("float" if inner.kind == "float" else "decimal")
            scale = inner.scale
            if op == "$avg" and self.conv.dialect == "mysql" and kind == "decimal":
                # MariaDB's AVG of exact numbers has div_precision_increment more digits.
                scale += MYSQL_DIV_DIGITS
                self.fixes[name] = {"$round": ["$" + name, scale]}
            value = Value("$" + name, kind, scale, inner.ordered if op != "$avg" else None)
        self.aggregates[text] = (node, value)
        return value

    def stages(self) -> list[dict[str, Any]]:
        """`$group`, its fixes, and HAVING; the output's values are resolved lazily, so the
        aggregates of the SELECT list join those of HAVING in the same `$group`."""
        having = self.node.args.get("having")
        matched: dict[str, Any] = {}
        if having is not None:
            conditions = Conditions(self._operand, self.conv.params, self.conv.sql, ci_strings=None)
            matched = conditions.match(having.this)
        for _, item in _select_items(self.node):
            self.values.value(item)
        stages: list[dict[str, Any]] = [{"$group": self.group}]
        if self.fixes:
            stages.append({"$addFields": self.fixes})
        if matched:
            stages.append({"$match": matched})
        return stages

    def _operand(self, node: exp.Expression) -> Operand | None:
        value = self._resolve(node)
        if value is None:
            return None
        if not isinstance(value.expr, str):
            raise refuse(f"{shown(node, self.conv.sql)} in HAVING", node, self.conv.sql)
        return Operand(
            tuple(value.expr[1:].split(".")), value.kind, ordered=value.ordered, equal=value.equal
        )

    def empty_row(
        self, items: list[tuple[str, exp.Expression]], node: exp.Select
    ) -> dict[str, Any]:
        """Without GROUP BY, SQL answers an empty input with one row: counts 0, the rest NULL.
        What else that row would hold is not worked out: refused."""
        sql = self.conv.sql
        if node.args.get("having") is not None:
            raise refuse("HAVING without GROUP BY", node.args["having"], sql)
        row: dict[str, Any] = {}
        for label, item in items:
            if isinstance(item, exp.Count):
                row[label] = 0
            elif isinstance(item, _AGGREGATES):
                row[label] = None
            else:
                raise refuse(
                    f"{shown(item, sql)} beside aggregates without GROUP BY (only aggregates)",
                    item,
                    sql,
                )
        return row


def _operators(value: Any) -> set[str]:
    """Every stage and aggregation operator in a pipeline (a `$match` holds query operators,
    another language, which every target has)."""
    if isinstance(value, dict):
        found = {k for k in value if k.startswith("$")}
        for k, v in value.items():
            if k == "$match":
                found -= {"$match"}
                found |= {"$match"} | _expressions(v)
            else:
                found |= _operators(v)
        return found
    if isinstance(value, list):
        return set().union(*(_operators(v) for v in value)) if value else set()
    return set()


def _expressions(match: Any) -> set[str]:
    """In a filter: the operators some targets lack or run wrongly (`$expr` and the aggregation
    operators inside it, `$elemMatch`)."""
    if isinstance(match, dict):
        found = {"$elemMatch"} if "$elemMatch" in match else set()
        if "$expr" in match:
            found |= {"$expr"} | _operators(match["$expr"])
        for key, value in match.items():
            if key != "$expr":
                found |= _expressions(value)
        return found
    if isinstance(match, list):
        return set().union(*(_expressions(v) for v in match)) if match else set()
    return set()


def _select_items(node: exp.Select) -> list[tuple[str, exp.Expression]]:
    return [
        (it.alias_or_name, it.this if isinstance(it, exp.Alias) else it) for it in node.expressions
    ]
