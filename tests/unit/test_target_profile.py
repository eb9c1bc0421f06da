"""Pure-logic tests of TargetProfile (no services; the server's real behaviour is checked
in tests/types/test_type_fidelity.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bson import Decimal128, Int64

from relmig.mongo.profile import TargetProfile

FERRET = TargetProfile(ferretdb=True, version="7.0.77", ferretdb_version="v1.24.2")
MONGO = TargetProfile(ferretdb=False, version="7.0.14")


class _Admin:
    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info

    def command(self, name: str) -> dict[str, Any]:
        assert name == "buildInfo"
        return self.info


class _Client:
    def __init__(self, info: dict[str, Any]) -> None:
        self.admin = _Admin(info)


def test_from_client_detects_ferretdb() -> None:
    profile = TargetProfile.from_client(
        _Client({"version": "7.0.77", "ferretdbVersion": "v1.24.2", "ok": 1.0})
    )
    assert profile == FERRET
    assert profile.ferretdb_v1


def test_from_client_real_mongodb() -> None:
    profile = TargetProfile.from_client(_Client({"version": "7.0.14", "ok": 1.0}))
    assert not profile.ferretdb
    assert not profile.ferretdb_v1


def test_ferretdb_2_has_no_v1_rules() -> None:
    profile = TargetProfile(ferretdb=True, version="7.0.77", ferretdb_version="v2.1.0")
    assert not profile.ferretdb_v1
    assert profile.problems({"a": float("nan")}) == []


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


def test_decimal128_only_refused_by_ferretdb_v1() -> None:
    doc = {"d": Decimal128("1.10"), "a": [Decimal128("NaN")], "o": {"x": Decimal128("1")}}
    assert [path for path, _ in FERRET.problems(doc)] == ["d", "a.0", "o.x"]
    assert MONGO.problems(doc) == []


def test_ferretdb_v1_rules() -> None:
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


def test_ferretdb_v1_rules_only_apply_to_ferretdb() -> None:
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
