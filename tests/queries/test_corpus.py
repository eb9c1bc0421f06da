"""Every query of the corpus converted from the mapping, run on the source and on the target,
and the answers compared (relmig.queries.check): equal, or refused with the reason.

mongo-java-server (`mongo2`) runs what the converter writes except `$round`, which MariaDB's
division and AVG need; FerretDB v1 lacks most of the aggregation language (`$lookup`, `$cond`,
`$max` …), computes nothing in `$project` and keeps only `_id` and the array in `$unwind`, so
there each query is either equal or refused naming what the target lacks, never answered wrong.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from corpus import CORPUS, REFUSED, STRINGS
from queries_rig import Migrated, migrate

from relmig.queries.answers import Answer, answer

pytestmark = pytest.mark.services

# MariaDB's `/` and AVG round to div_precision_increment digits: `$round`, which mongo2 lacks.
NEEDS_ROUND = ("/ 4", "/ 3", "AVG(")


@pytest.fixture(
    scope="module",
    params=[("postgresql", "mongo2"), ("mysql", "mongo2"), ("postgresql", "ferretdb")],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def migrated(
    request: pytest.FixtureRequest,
    samples: dict,
    target_uris: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Migrated]:
    dialect, target = request.param
    tmp = tmp_path_factory.mktemp("queries")
    yield from migrate(samples[dialect], target_uris[target], target, tmp)


@pytest.fixture(scope="module")
def answers(migrated: Migrated) -> dict[str, Answer]:
    dialect = migrated.project.source.dialect
    queries = [*CORPUS, *STRINGS[dialect], *(sql for sql, _ in REFUSED)]
    found = answer(migrated.project, queries, migrated.source, migrated.target, verify=True)
    return {a.sql: a for a in found}


def _differences(answers: dict[str, Answer]) -> list[str]:
    return [
        f"{sql}: {a.checked.differences if a.checked else a.unchecked}"
        for sql, a in answers.items()
        if (a.conversion is not None and not a.ok) or a.unchecked
    ]


def test_no_converted_query_answers_differently(answers: dict[str, Answer]) -> None:
    assert not _differences(answers)


def test_the_corpus_converts_where_the_target_runs_it(
    migrated: Migrated, answers: dict[str, Answer]
) -> None:
    dialect = migrated.project.source.dialect
    corpus = [*CORPUS, *STRINGS[dialect]]
    if migrated.target_name == "mongo2":
        expected_refusals = {
            sql for sql in corpus if dialect == "mysql" and any(s in sql for s in NEEDS_ROUND)
        }
        refused = {sql for sql in corpus if answers[sql].refused}
        assert refused == expected_refusals, {s: answers[s].refused for s in refused}
        for sql in expected_refusals:
            assert "the query needs $round, which the target lacks" in str(answers[sql].refused)
        assert len(corpus) - len(refused) >= 60
        return
    # FerretDB v1: equal, or refused naming what it lacks; never a wrong answer.
    equal = [sql for sql in corpus if answers[sql].ok]
    assert len(equal) >= 30, len(equal)
    reasons = {sql: answers[sql].refused for sql in corpus if answers[sql].refused}
    lookup = "SELECT n.note_id, o.order_date FROM order_detail_notes n JOIN orders o ON o.order_id = n.order_id"  # noqa: E501
    assert "needs $lookup, which FerretDB v1.24.2 lacks" in str(reasons[lookup])
    unwind = "SELECT o.order_id, d.product_id FROM orders o LEFT JOIN order_details d ON d.order_id = o.order_id"  # noqa: E501
    assert "$unwind, which FerretDB v1.24.2 runs wrongly" in str(reasons[unwind])
    decimals = "SELECT order_id, freight FROM orders WHERE freight > 100"
    assert "stores as strings here" in str(reasons[decimals])
    for sql, why in reasons.items():
        assert "FerretDB v1.24.2" in str(why), (sql, why)


def test_what_cannot_be_converted_is_refused_with_the_construct(
    answers: dict[str, Answer],
) -> None:
    for sql, expected in REFUSED:
        assert answers[sql].refused is not None and expected in answers[sql].refused, (
            sql,
            answers[sql].refused,
        )
