"""Database names MongoDB refuses are caught before a job is created."""

from __future__ import annotations

import pytest

from relmig.mongo.names import database_name_for, database_name_problem


@pytest.mark.parametrize("name", ["shop", "shop_2024", "Ünïcode", "a" * 63])
def test_valid_names(name: str) -> None:
    assert database_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("", "empty"),
        ("my shop", "space"),
        ("shop.v2", "'.'"),
        ("a/b", "'/'"),
        ("$db", "'$'"),
        ("nul\x00", "NUL"),
        ("a" * 64, "at most 63"),
    ],
)
def test_invalid_names_say_why(name: str, says: str) -> None:
    problem = database_name_problem(name)
    assert problem is not None and says in problem


@pytest.mark.parametrize(
    ("project", "database"),
    [("shop", "shop"), ("My Shop.v2", "My_Shop_v2"), ("$$$", "relmig"), ("é" * 40, "é" * 31)],
)
def test_default_database_names_are_valid(project: str, database: str) -> None:
    assert database_name_for(project) == database
    assert database_name_problem(database_name_for(project)) is None


def test_a_uri_is_shown_without_its_secrets():
    from relmig.mongo.writer import display_uri, has_password

    uri = (
        "mongodb://app:s3cret@db:27017/prod?authMechanism=MONGODB-AWS"
        "&authMechanismProperties=AWS_SESSION_TOKEN:tok&tlsCertificateKeyFilePassword=kp&tls=true"
    )
    shown = display_uri(uri)
    assert shown == (
        "mongodb://app:***@db:27017/prod?authMechanism=MONGODB-AWS"
        "&authMechanismProperties=***&tlsCertificateKeyFilePassword=***&tls=true"
    )
    assert display_uri("mongodb://db:27017/?replicaSet=rs0") == "mongodb://db:27017/?replicaSet=rs0"
    assert (
        has_password(uri)
        and not has_password("mongodb://app@db/")
        and not has_password("mongodb://db/?x=a:b@c")
    )
