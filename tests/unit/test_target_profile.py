"""Pure-logic tests of TargetProfile (no services; the server's real behaviour is checked
in tests/types/test_type_fidelity.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bson import Decimal128, Int64

from relmig.mongo.profile import TargetProfile

# What the probes find on FerretDB v1.24.2 (with its PostgreSQL backend, which refuses NUL).
FERRET = TargetProfile(
    version="7.0.77",
    ferretdb_version="v1.24.2",
    decimal128=False,
    non_finite_doubles=False,
    nul_strings=False,
    nested_arrays=False,
    dotted_keys=False,
    dollar_keys=False,
)
MONGO = TargetProfile(version="7.0.14")


def test_replace_path_follows_the_probe_and_ferretdb_v1() -> None:
    assert not MONGO.replace_by_delete
    assert TargetProfile(bulk_replace=False).replace_by_delete
    # FerretDB v1 passes the small probe but wedges on larger bulks of replaces.
    assert FERRET.replace_by_delete and FERRET.ferretdb_v1
    ferretdb2 = TargetProfile(version="7.0.77", ferretdb_version="v2.1.0")
    assert not ferretdb2.ferretdb_v1 and not ferretdb2.replace_by_delete


def test_only_what_the_probes_refused_is_flagged() -> None:
    decimals_only = TargetProfile(decimal128=False)
    doc = {"$set": 1, "d": Decimal128("1"), "n": [[float("nan")]], "o": {"a.b": "\x00", "$x": 1}}
    assert dict(decimals_only.problems(doc)) == {
        "d": "the target cannot store Decimal128 values "
        "(map the field to string or double for this target)",
        "$set": "field names starting with '$' are update operators to a replace/upsert",
    }


def test_clean_document_has_no_problems() -> None:
    doc = {
        "_id": 1,
        "s": "text",
        "n": Int64(5),
        "f": 1.5,
        "t": dt.datetime(2020, 1, 1),
        "a": [1, {"x": [2, 3]}],
        "o": {"p": {"q": None}},
    }
    assert FERRET.problems(doc) == []
    assert MONGO.problems(doc) == []


def test_decimal128_refused_where_the_probe_failed() -> None:
    doc = {"d": Decimal128("1.10"), "a": [Decimal128("NaN")], "o": {"x": Decimal128("1")}}
    assert [path for path, _ in FERRET.problems(doc)] == ["d", "a.0", "o.x"]
    assert MONGO.problems(doc) == []


def test_ferretdb_v1_probed_rules() -> None:
    doc = {
        "_id": 1,
        "nan": float("nan"),
        "inf": [1.0, float("-inf")],
        "nul": "a\x00b",
        "nested": [[1, 2], 3],
        "j": {"a.b": 1, "$x": 2, "ok": {"deep": ["\x00"]}},
        "dnan": Decimal128("NaN"),
    }
    problems = dict(FERRET.problems(doc))
    assert set(problems) == {"nan", "inf.1", "nul", "nested.0", "j", "j.$x", "j.ok.deep.0", "dnan"}
    assert "NaN" in problems["nan"]
    assert "inside an array" in problems["nested.0"]
    assert "'a.b'" in problems["j"]


def test_a_target_that_stores_everything_only_gets_the_universal_rules() -> None:
    doc = {"nan": float("nan"), "nul": "\x00", "nested": [[1]], "j": {"a.b": 1, "$x": 2}}
    assert MONGO.problems(doc) == []


def test_universal_rules() -> None:
    for profile in (MONGO, FERRET):
        problems = dict(profile.problems({"_id": [1, 2], "$set": 1}))
        assert set(problems) == {"_id", "$set"}


def test_pathologically_deep_document_is_reported_not_raised() -> None:
    doc: dict[str, Any] = {}
    node = doc
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    assert FERRET.problems({"j": doc}) == [("", "the document is nested too deeply")]
