"""The BSON type a column becomes, by name, for showing the MongoDB model (docs/type-mapping.md).

The converters decide per value; this names the usual outcome of a column's SQL type, which is
what a diagram of the model needs. A field's `type` override wins over it.
"""

from __future__ import annotations

import re

# (pattern on the lowercased SQL type, BSON type), first match wins; per dialect.
_POSTGRES = [
    (r"\[\]$", "array"),
    (r"^(smallint|integer|int2|int4|serial)\b", "int32"),
    (r"^(bigint|int8|bigserial|oid)\b", "int64"),
    (r"^(numeric|decimal|money)\b", "decimal"),
    (r"^(real|double precision|float)", "double"),
    (r"^boolean", "bool"),
    (r"^(date|timestamp)", "date"),
    (r"^(bytea|uuid)", "binary"),
    (r"^jsonb?$", "object"),
]
_MYSQL = [
    (r"^(tinyint\(1\)|bit\(1\)|bool)", "bool"),
    (r"^bigint.*unsigned", "int64"),
    (r"^bigint", "int64"),
    (r"^(tinyint|smallint|mediumint|int|integer|year)", "int32"),
    (r"^bit", "int64"),
    (r"^(decimal|numeric)", "decimal"),
    (r"^(float|double|real)", "double"),
    (r"^(date|datetime|timestamp)", "date"),
    (r"^(binary|varbinary|tinyblob|blob|mediumblob|longblob|uuid)", "binary"),
    (r"^set\(", "array"),
    (r"^json$", "object"),
]
_RULES = {
    "postgresql": [(re.compile(p), t) for p, t in _POSTGRES],
    "mysql": [(re.compile(p), t) for p, t in _MYSQL],
}


def bson_type(dialect: str, sql_type: str) -> str:
    """`int32`, `date`, `decimal`, … or `string` (the default for text and everything else)."""
    spelled = sql_type.strip().lower()
    for pattern, name in _RULES.get(dialect, []):
        if pattern.search(spelled):
            return name
    return "string"
