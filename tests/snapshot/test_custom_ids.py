"""A custom `_id` from columns the rows repeat is found before any copy: in Analysis, when a
job is created, and when the rule is saved through the API (tests/server)."""

from __future__ import annotations

import pytest

from relmig.analysis.custom_ids import duplicate_ids, unproven
from relmig.analysis.report import analyze
from relmig.project.model import CollectionRule, CustomId, Project
from relmig.runtime.jobs import JobError, JobManager, JobOptions

pytestmark = pytest.mark.services


def _by(project: Project, columns: list[str]) -> Project:
    table = next(t.id for t in project.tables if t.name == "customers")
    project.collections = [
        CollectionRule(name="customers", table=table, id=CustomId(columns=columns))
    ]
    return Project.model_validate(project.model_dump(by_alias=True))


def test_a_repeated_custom_id_is_refused_before_any_copy(
    sample_settings, source, target, store, make_project
) -> None:
    project = _by(make_project(sample_settings, "empty"), ["country"])
    table = source.quote(sample_settings.schemas[0]) + ".customers"
    (repeated,) = source.fetch(
        f"SELECT count(*) FROM (SELECT 1 FROM {table} GROUP BY country HAVING count(*) > 1) r"
    )[0]
    assert repeated > 0

    [found] = duplicate_ids(project, source)
    assert (found.collection, found.values) == ("customers", repeated)
    [finding] = [f for f in analyze(project, source).findings if f.kind == "custom_id"]
    assert finding.severity == "error" and f"{repeated:,} value(s)" in finding.message

    manager = JobManager(store)
    with pytest.raises(JobError, match=r"custom _id \(country\) is not unique"):
        manager.create(project, target.uri, target.db.name, JobOptions(mode="snapshot"))
    assert store.list_jobs() == []


def test_a_unique_key_proves_a_custom_id_without_asking(sample_settings, make_project) -> None:
    project = _by(make_project(sample_settings, "empty"), ["customer_id", "country"])
    assert unproven(project) == []  # the primary key is among the columns
    assert len(unproven(_by(project, ["country", "city"]))) == 1
