"""bench/erp_scale.py's schema generator: a foreign-key tree whose parents exist, and the wide
table, read from the SQL text alone (no database)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path[:0] = [str(Path(__file__).resolve().parents[2])]  # bench/ imports as the package `bench`

from bench.erp_scale import erp_schema_sql  # noqa: E402

CREATE = re.compile(r"CREATE TABLE public\.(\w+) \((.*)\)$")
INSERT = re.compile(
    r"INSERT INTO public\.(\w+) \((.*?)\) SELECT (.*) FROM generate_series\(1, (\d+)\) g$"
)


def tables_of(statements: list[str]) -> dict[str, tuple[list[str], dict[str, str], int]]:
    """Each table's column definitions, the SELECT expression of each column, and its row count,
    in creation order; every CREATE TABLE is followed by the INSERT that fills it."""
    out: dict[str, tuple[list[str], dict[str, str], int]] = {}
    for create, insert in zip(statements[::2], statements[1::2], strict=True):
        made, filled = CREATE.match(create), INSERT.match(insert)
        assert made and filled, (create, insert)
        name, columns = made[1], made[2].split(", ")
        assert filled[1] == name
        names, values = filled[2].split(", "), filled[3].split(", ")
        assert names == [c.split(" ")[0] for c in columns]
        out[name] = (columns, dict(zip(names, values, strict=True)), int(filled[4]))
    return out


def test_five_tables_make_a_tree_whose_parent_rows_exist() -> None:
    statements = erp_schema_sql(5, rows_per_table=3, wide_columns=7)
    assert len(statements) == 2 * (5 + 1)
    tables = tables_of(statements)
    assert list(tables) == ["t0001", "t0002", "t0003", "t0004", "t0005", "wide"]
    for i, name in enumerate(list(tables)[:5], start=1):
        columns, values, rows = tables[name]
        assert rows == 3
        assert columns[0] == "id integer PRIMARY KEY" and values["id"] == "g"
        references = [re.search(r"REFERENCES public\.(\w+) \(id\)", c) for c in columns]
        parents = [m[1] for m in references if m]
        if i == 1:
            assert parents == [] and "parent_id" not in values
            continue
        assert parents == [f"t{i // 2:04d}"]
        assert list(tables).index(parents[0]) < i - 1  # created before its child
        # 1 + (g * 7) % rows: always one of the parent's ids, 1..rows.
        assert values["parent_id"] == f"1 + (g * 7) % {rows}"
        keys = {1 + (g * 7) % rows for g in range(1, rows + 1)}
        assert keys <= set(range(1, rows + 1)), keys


@pytest.mark.parametrize("wide_columns", [7, 600])
def test_the_wide_table_has_the_requested_columns(wide_columns: int) -> None:
    columns, values, rows = tables_of(erp_schema_sql(5, wide_columns=wide_columns))["wide"]
    assert rows == 10
    assert len(columns) == len(values) == wide_columns
    types = [c.split(" ")[1] for c in columns]
    assert types == ["integer" if k % 2 == 0 else "text" for k in range(wide_columns)]


def test_names_are_padded_to_the_table_count() -> None:
    names = [s.split()[2] for s in erp_schema_sql(10_000, 1, 1) if s.startswith("CREATE")]
    assert names[:2] == ["public.t00001", "public.t00002"] and names[-2] == "public.t10000"


@pytest.mark.parametrize("args", [(0, 10, 600), (5, 0, 600), (5, 10, 0), (5, 10, 1601)], ids=str)
def test_sizes_out_of_range_are_refused(args: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        erp_schema_sql(*args)
