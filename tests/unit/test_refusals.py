"""Which driver errors are the source refusing relmig (never retried as a lost link)."""

from __future__ import annotations

import pytest

from relmig.source.refusals import refusal


@pytest.mark.parametrize(
    "text",
    [
        'connection to server at "db", port 5432 failed: fe_sendauth: no password supplied',
        "(1045, \"Access denied for user 'app'@'10.0.0.2' (using password: NO)\")",
    ],
)
def test_no_password_names_the_variable_to_set(text: str) -> None:
    refused = refusal(RuntimeError(text), "cannot connect to the source", "SHOP_DB_PASSWORD")
    assert refused is not None
    assert "set it in the environment variable SHOP_DB_PASSWORD" in str(refused)


def test_a_lost_link_is_not_a_refusal() -> None:
    assert refusal(RuntimeError("connection refused"), "cannot connect", "PW") is None
