"""What a new version of a running job's project changes in its target (`relmig jobs update`).

A collection is rebuilt when anything that shapes its documents changed: its rule (fields,
calculated fields, filter, `_id`, embeddings), the definition of a table it reads (a column
added at re-import is a field its documents now carry, a renamed one moves), a link it follows,
the snapshot filter of its tables, or the project's field casing. Everything else keeps
streaming untouched, so a change to one collection never copies another again. A job reads one
source: a project with other source settings is another job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from relmig.project.model import CollectionRule, EmbedRule, Project
from relmig.source.drift import compare

Action = Literal["unchanged", "rebuild", "add", "drop"]
# A table's catalog estimate moves with every import and changes no document.
IGNORED_TABLE_FIELDS = {"estimated_rows"}


@dataclass(frozen=True, slots=True)
class CollectionChange:
    name: str
    action: Action
    reasons: tuple[str, ...] = ()


@dataclass(slots=True)
class UpdatePlan:
    changes: list[CollectionChange] = field(default_factory=list)

    def names(self, action: Action) -> list[str]:
        return [c.name for c in self.changes if c.action == action]

    @property
    def changes_nothing(self) -> bool:
        return all(c.action == "unchanged" for c in self.changes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "unchanged": self.names("unchanged"),
            "rebuild": self.names("rebuild"),
            "add": self.names("add"),
            "drop": self.names("drop"),
            "reasons": {c.name: list(c.reasons) for c in self.changes if c.reasons},
        }

    def lines(self) -> list[str]:
        """The plan as a user reads it before confirming."""
        words = {
            "unchanged": "unchanged, keeps streaming",
            "rebuild": "rebuilt: re-copied in the background while CDC goes on",
            "add": "added: copied in the background while CDC goes on",
            "drop": "dropped from the target",
        }
        out = []
        for change in self.changes:
            why = f" ({'; '.join(change.reasons)})" if change.reasons else ""
            out.append(f"{change.name}: {words[change.action]}{why}")
        return out


def update_refusal(old: Project, new: Project) -> str | None:
    """Why `new` cannot replace a running job's `old` project, or None."""
    if old.source != new.source:
        return (
            "the new project reads another source (its source settings differ); a job reads "
            "one source, so start a new job for it"
        )
    return None


def plan_update(old: Project, new: Project) -> UpdatePlan:
    before = {c.name: c for c in old.collections}
    after = {c.name: c for c in new.collections}
    plan = UpdatePlan()
    for name, rule in after.items():
        if name not in before:
            plan.changes.append(CollectionChange(name, "add"))
            continue
        reasons = _differences(old, before[name], new, rule)
        plan.changes.append(CollectionChange(name, "rebuild" if reasons else "unchanged", reasons))
    plan.changes += [CollectionChange(n, "drop") for n in before if n not in after]
    return plan


def _differences(
    old: Project, old_rule: CollectionRule, new: Project, new_rule: CollectionRule
) -> tuple[str, ...]:
    reasons: list[str] = []
    if _dump(old_rule) != _dump(new_rule):
        reasons.append("its rule changed")
    if old.casing != new.casing:
        reasons.append(f"the field casing changed from {old.casing} to {new.casing}")
    for table_id in sorted(_tables_read(old_rule) | _tables_read(new_rule)):
        reasons += _table_differences(old, new, table_id)
    for table_id, name in sorted(_links_followed(old_rule) | _links_followed(new_rule)):
        if _link(old, table_id, name) != _link(new, table_id, name):
            reasons.append(f"the link {name} of {table_id} changed")
    return tuple(reasons)


def _table_differences(old: Project, new: Project, table_id: str) -> list[str]:
    was, now = _table(old, table_id), _table(new, table_id)
    if was is None or now is None:
        return [] if was is now else [f"{table_id} is {'new' if was is None else 'gone'}"]
    out = [f"{table_id}: {d.kind} {d.column}" for d in compare(was, now)]
    if not out and _dump(was, IGNORED_TABLE_FIELDS) != _dump(now, IGNORED_TABLE_FIELDS):
        out.append(f"{table_id}'s definition changed (keys, indexes or flags)")
    if old.filters.get(table_id) != new.filters.get(table_id):
        out.append(f"{table_id}'s snapshot filter changed")
    return out


def _tables_read(rule: CollectionRule) -> set[str]:
    found = {rule.table}

    def visit(embeds: list[EmbedRule]) -> None:
        for e in embeds:
            found.add(e.table)
            visit(e.embeds)

    visit(rule.embeds)
    return found


def _links_followed(rule: CollectionRule) -> set[tuple[str, str]]:
    """(the table holding the key, its name) of every embedding: how the rule joins."""
    found: set[tuple[str, str]] = set()

    def visit(parent: str, embeds: list[EmbedRule]) -> None:
        for e in embeds:
            # An array's key is held by the embedded (child) table, a document's by its parent.
            found.add((e.table, e.foreign_key) if e.kind == "array" else (parent, e.foreign_key))
            visit(e.table, e.embeds)

    visit(rule.table, rule.embeds)
    return found


def _link(project: Project, table_id: str, name: str) -> Any:
    try:
        return project.link(table_id, name).model_dump()
    except KeyError:
        return None


def _table(project: Project, table_id: str) -> Any:
    try:
        return project.table(table_id)
    except KeyError:
        return None


def _dump(model: Any, exclude: set[str] | None = None) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude=exclude)
