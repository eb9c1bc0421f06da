"""The plan of a mapping update: which collections a new project rebuilds, adds or drops."""

from __future__ import annotations

from relmig.project.model import CollectionRule, Column, EmbedRule, FieldRule, Project
from relmig.project.update_plan import plan_update, update_refusal


def project(**changes: object) -> Project:
    base = {
        "name": "p",
        "source": {"dialect": "postgresql", "database": "d", "user": "u"},
        "tables": [
            {
                "schema": "s",
                "name": "authors",
                "columns": [{"name": "id", "type": "integer"}, {"name": "name", "type": "text"}],
                "primary_key": ["id"],
                "estimated_rows": 10,
            },
            {
                "schema": "s",
                "name": "books",
                "columns": [
                    {"name": "id", "type": "integer"},
                    {"name": "author_id", "type": "integer"},
                ],
                "primary_key": ["id"],
                "foreign_keys": [
                    {
                        "name": "books_author",
                        "columns": ["author_id"],
                        "ref_table": "s.authors",
                        "ref_columns": ["id"],
                    }
                ],
            },
        ],
        "collections": [
            {"name": "authors", "table": "s.authors"},
            {"name": "books", "table": "s.books"},
        ],
    }
    return Project.model_validate({**base, **changes})


def test_an_equal_project_changes_nothing_even_with_new_row_estimates() -> None:
    old = project()
    tables = [t.model_copy(update={"estimated_rows": 99}) for t in old.tables]
    assert plan_update(old, old.model_copy(update={"tables": tables})).changes_nothing


def test_a_new_column_rebuilds_only_the_collections_that_read_its_table() -> None:
    old = project()
    authors = old.table("s.authors")
    grown = authors.model_copy(
        update={"columns": [*authors.columns, Column(name="bio", type="text")]}
    )
    new = old.model_copy(update={"tables": [grown, old.table("s.books")]})
    plan = plan_update(old, new)
    assert (plan.names("rebuild"), plan.names("unchanged")) == (["authors"], ["books"])
    assert plan.as_dict()["reasons"] == {"authors": ["s.authors: new column bio"]}


def test_an_embedding_reads_its_table_so_its_changes_rebuild_the_collection() -> None:
    old = project()
    embed = EmbedRule(kind="array", table="s.books", foreign_key="books_author", field="books")
    authors = old.collection("authors").model_copy(update={"embeds": [embed]})
    with_books = old.model_copy(update={"collections": [authors, old.collection("books")]})
    assert plan_update(old, with_books).names("rebuild") == ["authors"]
    books = old.table("s.books")
    retyped = books.model_copy(
        update={"columns": [books.columns[0], Column(name="author_id", type="bigint")]}
    )
    newer = with_books.model_copy(update={"tables": [old.table("s.authors"), retyped]})
    plan = plan_update(with_books, newer)
    assert sorted(plan.names("rebuild")) == ["authors", "books"]


def test_added_dropped_and_renamed_fields() -> None:
    old = project()
    renamed = old.collection("books").model_copy(update={"fields": {"id": FieldRule(name="n")}})
    new = old.model_copy(
        update={"collections": [renamed, CollectionRule(name="writers", table="s.authors")]}
    )
    plan = plan_update(old, new)
    assert plan.as_dict() | {"reasons": None} == {
        "unchanged": [],
        "rebuild": ["books"],
        "add": ["writers"],
        "drop": ["authors"],
        "reasons": None,
    }
    assert "books: rebuilt" in "\n".join(plan.lines())


def test_another_source_is_refused() -> None:
    old = project()
    other = old.model_copy(update={"source": old.source.model_copy(update={"database": "x"})})
    assert "another source" in (update_refusal(old, other) or "")
    assert update_refusal(old, old) is None
