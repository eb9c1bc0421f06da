"""Property-based fuzz of the project file and the API (issue 29 §4): no input gives a 500, a
traceback or a hang. Hypothesis makes the inputs: random JSON and YAML, and valid documents with
one value replaced by anything. Every answer must be one the API documents (2xx, 4xx);
the project validator must accept or refuse with a ProjectFileError, nothing else.

No services: a project imported without a connection exercises every mapping endpoint.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relmig.errors import ProjectFileError
from relmig.project.file import dump_project, parse_project, parse_project_text
from relmig.project.model import (
    CollectionRule,
    Column,
    EmbedRule,
    ForeignKey,
    Project,
    SourceSettings,
    Table,
)
from relmig.runtime.store import StateStore
from relmig.server.app import create_app
from relmig.server.context import ServerConfig

API = "/api/v1"
FUZZ = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def sample_project() -> Project:
    customers = Table(
        schema="public",
        name="customers",
        columns=[Column(name="id", type="integer"), Column(name="name", type="text")],
        primary_key=["id"],
    )
    orders = Table(
        schema="public",
        name="orders",
        columns=[Column(name="id", type="integer"), Column(name="customer_id", type="integer")],
        primary_key=["id"],
        foreign_keys=[
            ForeignKey(
                name="orders_customer",
                columns=["customer_id"],
                ref_table="public.customers",
                ref_columns=["id"],
                on_delete="CASCADE",
            )
        ],
    )
    return Project(
        name="fuzz",
        source=SourceSettings(dialect="postgresql", database="d", user="u", schemas=["public"]),
        tables=[customers, orders],
        collections=[
            CollectionRule(
                name="customers",
                table="public.customers",
                embeds=[
                    EmbedRule(
                        kind="array",
                        table="public.orders",
                        foreign_key="orders_customer",
                        field="orders",
                    )
                ],
            )
        ],
    )


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, (*prefix, i))


def replaced(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    out = copy.deepcopy(doc)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = new
    return out


VALID = sample_project().model_dump(mode="json", by_alias=True)
PATHS = list(paths(VALID))


@FUZZ
@given(path=st.sampled_from(PATHS), new=JSON)
def test_the_project_validator_accepts_or_refuses_nothing_else(path, new) -> None:
    with contextlib.suppress(ProjectFileError):
        parse_project(replaced(VALID, path, new), "fuzz")


@FUZZ
@given(text=st.text(max_size=300) | st.builds(dump_project, st.just(sample_project())))
def test_project_file_text_is_accepted_or_refused_by_line(text: str) -> None:
    with contextlib.suppress(ProjectFileError):
        parse_project_text(text, "fuzz.yaml")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    home = tmp_path_factory.mktemp("fuzz-home")
    store = StateStore(f"sqlite:///{home / 'state.db'}")
    with TestClient(create_app(ServerConfig(), store=store), base_url="http://127.0.0.1:8278") as c:
        made = c.post(f"{API}/projects/import", json={"yaml": dump_project(sample_project())})
        assert made.status_code == 201, made.text
        yield c, made.json()["id"]
    store.close()


ENDPOINTS = [
    ("POST", "/connections"),
    ("POST", "/projects/import"),
    ("PATCH", "/projects/{pid}"),
    ("POST", "/projects/{pid}/collections"),
    ("PUT", "/projects/{pid}/collections/customers"),
    ("POST", "/projects/{pid}/relationships"),
    ("PUT", "/projects/{pid}/filters/public.customers"),
    ("POST", "/projects/{pid}/rules/new"),
    ("POST", "/projects/{pid}/jobs"),
    ("POST", "/jobs/job-nothing/resume"),
]


@FUZZ
@given(endpoint=st.sampled_from(ENDPOINTS), body=JSON)
def test_no_request_body_gets_a_500(api, endpoint, body) -> None:
    client, pid = api
    method, path = endpoint
    answer = client.request(method, API + path.format(pid=pid), json=body)
    assert answer.status_code < 500 or answer.status_code == 502, (path, body, answer.text)


RULE = VALID["collections"][0]


@FUZZ
@given(path=st.sampled_from(list(paths(RULE))), new=JSON)
def test_no_rule_with_one_bad_value_gets_a_500(api, path, new) -> None:
    client, pid = api
    answer = client.put(
        f"{API}/projects/{pid}/collections/customers", json=replaced(RULE, path, new)
    )
    assert answer.status_code < 500, (path, new, answer.text)
