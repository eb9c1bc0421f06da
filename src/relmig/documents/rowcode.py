"""Row → document code generated once per plan node, so the per-row work has no plan lookups.

The builder's inner loop used to walk the node's `FieldPlan`s for every row (attribute loads,
a `len(path)` test, an `isinstance`, a dict store per field): a few µs per row, several times
what reading the row costs. Here the same steps are written out once per node as Python source
and compiled: every field becomes a constant key, a constant row index and, where the column
needs one, a direct call of its converter.

The generated function keeps the builder's semantics exactly, key order included:

- fields are placed in plan order; a converter runs only on a non-NULL value; a value the
  converter marks `Unconvertible` is left out and becomes a problem of its row (in field
  order); a NULL is left out when the field omits nulls;
- the leading fields with a one-part path go into one dict literal (after `_id` when the node
  is a root with one), and the ones that must be left out are deleted from it afterwards,
  which leaves the others in order; from the first dotted path on, fields are set one by one
  (a sub-document appears where its first present field is).

Calculated fields come last, as ordinary `FieldPlan`s whose `index` points past the SELECT list
into the expression results the builder appends to each row of the page before calling the
generated function (`relmig.documents.builder.calculated_fields`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from relmig.documents.plan import FieldPlan, NodePlan
from relmig.source.sql import Row
from relmig.source.values import Unconvertible

# (rows, ids or None) -> (documents, each one's problems or None)
FieldsFn = Callable[[list[Row], list[Any] | None], tuple[list[dict[str, Any]], list[Any]]]
ProblemFn = Callable[[Row, FieldPlan, Unconvertible], Any]


def tuple_getter(indexes: list[int]) -> Callable[[Row], Row]:
    """A row's values at `indexes`, always as a tuple (itemgetter gives a bare value for one)."""
    if len(indexes) == 1:
        (i,) = indexes
        return lambda row: (row[i],)
    return itemgetter(*indexes)


def set_path(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        nxt = doc.get(part)
        if not isinstance(nxt, dict):
            nxt = doc[part] = {}
        doc = nxt
    doc[path[-1]] = value


def compile_fields(
    node: NodePlan,
    *,
    with_id: bool,
    problem: ProblemFn,
    calculated: Sequence[FieldPlan] = (),
) -> FieldsFn:
    """The node's fields, then `calculated`, as one function over a page of rows; `with_id`
    puts `ids[n]` first."""

    def bad(found: list[Any] | None, row: Row, field: FieldPlan, value: Unconvertible) -> list[Any]:
        item = problem(row, field, value)
        if found is None:
            return [item]
        found.append(item)
        return found

    env: dict[str, Any] = {"U": Unconvertible, "bad": bad, "set_path": set_path}
    locals_: list[str] = []  # values computed before the literal
    literal: list[str] = ['"_id": ident'] if with_id else []
    dropped: list[str] = []  # literal keys to delete when their value is left out (rare)
    omitted: list[str] = []  # literal keys to delete when NULL
    after: list[str] = []  # fields set one by one, from the first dotted path on
    in_literal = True
    for j, f in enumerate([*node.fields, *calculated]):
        env[f"f{j}"] = f
        value = f"row[{f.index}]"
        converted = f.convert is not None
        if converted or f.omit_null:
            value = f"v{j}"
        if len(f.path) != 1:
            in_literal = False
        code = after if not in_literal else locals_
        if converted:
            env[f"c{j}"] = f.convert
            code += [
                f"v{j} = row[{f.index}]",
                f"if v{j} is not None:",
                f"    v{j} = c{j}(v{j})",
                f"    if type(v{j}) is U:",
                f"        found = bad(found, row, f{j}, v{j})",
            ]
        elif f.omit_null:
            code.append(f"v{j} = row[{f.index}]")
        if in_literal:
            key = repr(f.path[0])
            literal.append(f"{key}: {value}")
            if converted:
                dropped.append(f"if type(v{j}) is U: del doc[{key}]")
            if f.omit_null:
                omitted.append(f"if v{j} is None: del doc[{key}]")
            continue
        keep = []
        if converted:
            keep.append(f"type(v{j}) is not U")
        if f.omit_null:
            keep.append(f"v{j} is not None")
        store = (
            f"doc[{f.path[0]!r}] = {value}"
            if len(f.path) == 1
            else f"set_path(doc, {f.path!r}, {value})"
        )
        after += [f"if {' and '.join(keep)}:", f"    {store}"] if keep else [store]

    loop = "for row, ident in zip(rows, ids):" if with_id else "for row in rows:"
    body = [
        "found = None",
        *locals_,
        "doc = {" + ", ".join(literal) + "}",
        *(["if found is not None:", *("    " + d for d in dropped)] if dropped else []),
        *omitted,
        *after,
        "add_doc(doc)",
        "add_found(found)",
    ]
    source = "\n".join(
        [
            "def build(rows, ids):",
            "    docs = []",
            "    found_all = []",
            "    add_doc = docs.append",
            "    add_found = found_all.append",
            f"    {loop}",
            *("        " + line for line in body),
            "    return docs, found_all",
        ]
    )
    exec(compile(source, f"<fields of {node.table.id}>", "exec"), env)
    fn: FieldsFn = env["build"]
    return fn
