"""Expressions that go wrong, row by row: each is an issue with its row's key, and nothing else
of the job is lost. Exceptions, a row that loops forever, a result too big for the engine's
memory, a function or undefined as a value, a filter that answers neither true nor false, and
two rows with the same custom `_id` (the second is refused, never written over the first)."""

from __future__ import annotations

import pytest

from relmig.expressions import sandbox
from relmig.project.model import CalculatedField, CollectionRule, CustomId, Project
from relmig.verify.compare import verify
from snapshot_jobs import run_snapshot

pytestmark = pytest.mark.services


@pytest.fixture
def fast_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shorter engine time limits, so the looping row costs seconds, not tens of them."""
    monkeypatch.setattr(sandbox, "ROW_SECONDS", 0.2)
    monkeypatch.setattr(sandbox, "PAGE_SECONDS", 0.4)


def _customers(project: Project, ids: list[str]) -> CollectionRule:
    table = next(t.id for t in project.tables if t.name == "customers")

    def when(i: int, then: str, otherwise: str = '"ok"') -> str:
        return f'(columns["customer_id"].trim() === "{ids[i]}" ? {then} : {otherwise})'

    cid = 'columns["customer_id"].trim()'
    same = f'{cid} >= "{ids[6]}" && {cid} <= "{ids[8]}"'
    return CollectionRule(
        name="customers",
        table=table,
        id=CustomId(expression=f'({same}) ? "SAME" : columns["customer_id"].trim()'),
        filter=when(5, '"yes"', "true"),
        calculated=[
            CalculatedField(name="name_length", expression='columns["company_name"].length'),
            CalculatedField(name="throws", expression=when(0, "null.x")),
            CalculatedField(name="loops", expression=when(1, "(() => { while (true) {} })()")),
            CalculatedField(name="huge", expression=when(2, '"x".repeat(2 ** 27)')),
            CalculatedField(name="fn", expression=when(3, "(() => 1)")),
            CalculatedField(name="undef", expression=when(4, "undefined")),
        ],
    )


def test_bad_expressions_are_issues_and_nothing_else_is_lost(
    sample_settings, source, target, store, make_project, fast_limits
) -> None:
    project = make_project(sample_settings, "empty")
    table = source.quote(sample_settings.schemas[0]) + ".customers"
    ids = [r[0].strip() for r in source.fetch(f"SELECT customer_id FROM {table} ORDER BY 1")]
    project.collections = [_customers(project, ids)]
    project = Project.model_validate(project.model_dump(by_alias=True))

    job_id = run_snapshot(project, target, store, on_error="WARN")

    assert store.job(job_id)["status"] == "COMPLETED"
    issues = {(i["key"], i["field"]): i["detail"] for i in store.issues_of(job_id)}
    key = lambda i: f"{ids[i]}"  # noqa: E731 - a customer's key as the Issues list shows it
    assert "threw TypeError" in issues[(key(0), "throws")]
    assert "took longer than" in issues[(key(1), "loops")]
    assert "out of memory" in issues[(key(2), "huge")]
    assert "returned a function" in issues[(key(3), "fn")]
    assert "returned undefined" in issues[(key(4), "undef")]
    assert "returned 'yes', not true or false" in issues[(key(5), "(filter)")]
    for dup in (7, 8):
        detail = next(d for (k, f), d in issues.items() if k == key(dup))
        assert (
            "duplicate _id 'SAME'" in detail and repr(ids[6]) in detail and repr(ids[dup]) in detail
        )

    docs = {d["customer_id"].strip(): d for d in target.db.customers.find()}
    # Every row but the filtered one and the duplicates is there, with what could be computed.
    assert set(docs) == set(ids) - {ids[5], ids[7], ids[8]}
    assert docs[ids[6]]["_id"] == "SAME"  # the first holder keeps it
    assert "throws" not in docs[ids[0]] and docs[ids[0]]["loops"] == "ok"
    assert "loops" not in docs[ids[1]] and "huge" not in docs[ids[2]]
    assert all(d["name_length"] == len(d["company_name"]) for d in docs.values())
    assert docs[ids[9]]["throws"] == docs[ids[9]]["huge"] == "ok"
    # verify evaluates the same expressions: what the policy handled is counted, not compared.
    report = verify(project, source, target)
    assert report.ok, report


def test_fail_policy_stops_at_the_first_failed_expression(
    sample_settings, source, target, store, make_project
) -> None:
    project = make_project(sample_settings, "empty")
    table = next(t.id for t in project.tables if t.name == "customers")
    project.collections = [
        CollectionRule(
            name="customers",
            table=table,
            calculated=[CalculatedField(name="bad", expression='columns["fax"].length')],
        )
    ]
    project = Project.model_validate(project.model_dump(by_alias=True))
    job_id = run_snapshot(project, target, store, on_error="FAIL")
    job = store.job(job_id)
    assert job["status"] == "FAILED" and "bad" in job["failure"], job
    (first, *_) = store.issues_of(job_id)
    assert first["field"] == "bad" and "cannot read property" in first["detail"]
