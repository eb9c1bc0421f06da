"""Propose synthetic relationships for a schema that declares no foreign keys.

Two kinds of evidence, both shown to the user, who accepts each proposal or not:
- the name rule: a column `customer_id` (or `customerId`, `CustomerID`) in one table, and a
  table `customer`/`customers`/`Customers` whose key column is `customer_id` or `id`
  (singular or plural, any casing);
- the data: a containment query counts the child's values that have no parent row (orphans).
A candidate whose values mostly have no parent is not proposed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from relmig.project.model import Relationship, RelationshipEnd, Table
from relmig.project.validate_modeling import types_compatible
from relmig.source.sql import SqlSource

_SUFFIX = re.compile(r"^(?P<stem>.+?)(_id|Id|ID|_ID)$")
MAX_ORPHAN_SHARE = 0.1  # past this, the values do not look like references


@dataclass(slots=True)
class Proposal:
    relationship: Relationship
    rule: str  # the name rule that matched, in words
    values: int  # non-null child values
    orphans: int  # of those, values no parent row has

    @property
    def evidence(self) -> str:
        return f"{self.rule}; {self.orphans} of {self.values} child values have no parent"


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _plural_forms(stem: str) -> set[str]:
    s = _norm(stem)
    forms = {s, s + "s", s + "es"}
    if s.endswith("y"):
        forms.add(s[:-1] + "ies")
    return forms


def candidates(tables: list[Table]) -> list[tuple[Table, str, Table, str, str]]:
    """(child, column, parent, parent column, rule) for every column the name rule links."""
    by_name: dict[str, list[Table]] = {}
    for t in tables:
        by_name.setdefault(_norm(t.name), []).append(t)
    declared = {(t.id, c) for t in tables for fk in t.foreign_keys for c in fk.columns}
    out = []
    for child in tables:
        for col in child.columns:
            match = _SUFFIX.match(col.name)
            if match is None or (child.id, col.name) in declared:
                continue
            for form in sorted(_plural_forms(match.group("stem"))):
                for parent in by_name.get(form, []):
                    key = _single_key(parent, col.name)
                    if key is None or (parent is child and key == col.name):
                        continue
                    if not types_compatible(parent.column(key).type, col.type):
                        continue
                    rule = f"name: {child.name}.{col.name} → {parent.name}.{key}"
                    out.append((child, col.name, parent, key, rule))
    return out


def _single_key(table: Table, column: str) -> str | None:
    """The parent's key column the child's column names: `customer_id` itself, or `id`."""
    if len(table.primary_key) != 1:
        return None
    (key,) = table.primary_key
    return key if _norm(key) in (_norm(column), "id") else None


def propose(tables: list[Table], source: SqlSource) -> list[Proposal]:
    proposals = []
    names: set[str] = set()
    for child, column, parent, key, rule in candidates(tables):
        values, orphans = _containment(source, child, column, parent, key)
        if values and orphans / values > MAX_ORPHAN_SHARE:
            continue
        name = f"{child.name}_{column}"
        while name in names:
            name += "_"
        names.add(name)
        unique = [column] == child.primary_key or any(
            ix.unique and ix.columns == [column] for ix in child.indexes
        )
        relationship = Relationship(
            name=name,
            parent=RelationshipEnd(table=parent.id, columns=[key]),
            child=RelationshipEnd(table=child.id, columns=[column]),
            cardinality="one-to-one" if unique else "one-to-many",
        )
        proposal = Proposal(relationship, rule, values, orphans)
        relationship.evidence = proposal.evidence
        proposals.append(proposal)
    return proposals


def _containment(
    source: SqlSource, child: Table, column: str, parent: Table, key: str
) -> tuple[int, int]:
    """How many non-null child values there are, and how many no parent row holds."""
    q = source.quote
    sql = (
        f"SELECT COUNT(c.{q(column)}), "
        f"SUM(CASE WHEN c.{q(column)} IS NOT NULL AND p.{q(key)} IS NULL THEN 1 ELSE 0 END) "
        f"FROM {source.relation(child)} c LEFT JOIN {source.relation(parent)} p "
        f"ON p.{q(key)} = c.{q(column)}"
    )
    values, orphans = source.fetch(sql)[0]
    return int(values or 0), int(orphans or 0)
