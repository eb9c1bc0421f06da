"""The BSON type names the MongoDB model shows, per docs/type-mapping.md."""

from __future__ import annotations

import pytest

from relmig.documents.bson_names import bson_type


@pytest.mark.parametrize(
    ("dialect", "sql_type", "expected"),
    [
        ("postgresql", "integer", "int32"),
        ("postgresql", "bigint", "int64"),
        ("postgresql", "numeric(10, 2)", "decimal"),
        ("postgresql", "double precision", "double"),
        ("postgresql", "timestamp with time zone", "date"),
        ("postgresql", "time without time zone", "string"),
        ("postgresql", "integer[]", "array"),
        ("postgresql", "jsonb", "object"),
        ("postgresql", "uuid", "binary"),
        ("postgresql", "varchar(40)", "string"),
        ("mysql", "tinyint(1)", "bool"),
        ("mysql", "integer(11)", "int32"),
        ("mysql", "bigint(20) unsigned", "int64"),
        ("mysql", "decimal(10, 2)", "decimal"),
        ("mysql", "datetime(6)", "date"),
        ("mysql", "set('a','b')", "array"),
        ("mysql", "longtext", "string"),
    ],
)
def test_bson_type(dialect: str, sql_type: str, expected: str) -> None:
    assert bson_type(dialect, sql_type) == expected
