"""The REST API against the real PostgreSQL and FerretDB: what the UI does, and bad input."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time

import psycopg
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient
from server_helpers import TABLES, wait_for

pytestmark = pytest.mark.services

API = "/api/v1"


# --- connections ----------------------------------------------------------------------------


def test_connection_lifecycle(client, server_sample):
    body = server_sample["connection"]
    created = client.post(f"{API}/connections", json=body).json()
    assert created["password"] == "stored" and "password_sealed" not in created
    assert client.post(f"{API}/connections/{created['id']}/test").json()["ok"] is True

    edited = client.patch(
        f"{API}/connections/{created['id']}", json={"port": 1, "password_env": "RELMIG_SOME_VAR"}
    ).json()
    assert (edited["port"], edited["password"], edited["password_env"]) == (
        1,
        "env",
        "RELMIG_SOME_VAR",
    )
    result = client.post(f"{API}/connections/{created['id']}/test").json()
    assert result["ok"] is False and "cannot connect" in result["message"]

    assert [c["name"] for c in client.get(f"{API}/connections").json()] == [body["name"]]
    assert client.delete(f"{API}/connections/{created['id']}").status_code == 204
    assert client.get(f"{API}/connections/{created['id']}").status_code == 404


def test_connection_test_before_saving_and_table_list(client, server_sample, connection):
    draft = {**server_sample["connection"], "name": "draft"}
    tested = client.post(f"{API}/connections/test", json=draft).json()
    assert tested["ok"] is True
    # The CDC prerequisites come with the test, fix SQL included: the sample's embedded tables
    # have REPLICA IDENTITY DEFAULT, which is fine one-to-one; type_zoo has no problem either.
    assert tested["cdc"]["error"] is None and tested["cdc"]["ready"] is (
        not tested["cdc"]["missing"]
    )
    with psycopg.connect(server_sample["dsn"], autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t_cdc_check (id int PRIMARY KEY)")
        conn.execute("ALTER TABLE t_cdc_check REPLICA IDENTITY NOTHING")
    try:
        cdc = client.post(f"{API}/connections/{connection['id']}/test").json()["cdc"]
    finally:
        with psycopg.connect(server_sample["dsn"], autocommit=True) as conn:
            conn.execute("DROP TABLE t_cdc_check")
    assert cdc["ready"] is False
    assert 'ALTER TABLE "public"."t_cdc_check" REPLICA IDENTITY FULL;' in cdc["script"]
    assert any(m["name"] == "replica identity of public.t_cdc_check" for m in cdc["missing"])
    tables = client.get(f"{API}/connections/{connection['id']}/tables").json()
    orders = next(t for t in tables if t["id"] == "public.orders")
    assert orders["primary_key"] == ["order_id"] and orders["foreign_keys"] == 4


def test_the_connection_test_checks_what_each_projects_jobs_would(
    client, make_project, connection, target_db
):
    """Issue 23 §3: "ready for CDC" only when a continuous job of each project on the
    connection would start: an embedded table's REPLICA IDENTITY DEFAULT is fine one-to-one,
    not for finding the documents that held a changed row."""
    make_project(mapping="one-to-one")
    embedding = make_project(name="embedding", mapping="one-to-one")
    pid = embedding["id"]
    # Customers with their orders: an order's customer_id is not in its key, so a change of
    # it is found in the old row only with REPLICA IDENTITY FULL.
    customers = next(c for c in embedding["project"]["collections"] if c["name"] == "customers")
    orders = client.post(
        f"{API}/projects/{pid}/rules/new",
        json={
            "kind": "array",
            "table": "public.orders",
            "parent": "public.customers",
            "foreign_key": "orders_customer_id_fkey",
        },
    ).json()
    customers["embeds"].append(orders)
    saved = client.put(f"{API}/projects/{pid}/collections/customers", json=customers)
    assert saved.status_code == 200, saved.text
    cdc = client.post(f"{API}/connections/{connection['id']}/test").json()["cdc"]
    checked = {p["project"]: p for p in cdc["projects"]}
    assert checked["northwind"]["ready"] is True
    embedding = checked["embedding"]
    assert embedding["ready"] is False and cdc["ready"] is False
    assert "REPLICA IDENTITY FULL;" in embedding["script"]
    # The job says the same, by the same check.
    body = {"mode": "continuous", "target_db": target_db}
    refused = client.post(f"{API}/projects/{pid}/jobs", json=body)
    assert refused.status_code == 422, refused.text
    fixes = [line for line in embedding["script"].splitlines() if line.startswith("ALTER")]
    assert fixes and all(f in refused.json()["detail"] for f in fixes)


def test_a_preview_that_builds_no_document_says_why(client, make_project):
    """Issue 23 §3: a filter that returns a string left every row out, and the preview said
    "the source table has no rows"; it says how many rows it read and what they met."""
    project = make_project(mapping="one-to-one")
    pid = project["id"]
    shippers = next(c for c in project["project"]["collections"] if c["name"] == "shippers")
    draft = {**shippers, "filter": '"yes"'}
    preview = client.post(f"{API}/projects/{pid}/preview", json=draft).json()
    assert preview["documents"] == [] and preview["rows"] == 1
    [problem] = preview["problems"]
    assert "returned 'yes', not true or false" in problem["reason"]


def test_connection_bad_input(client, server_sample, connection):
    bad_json = client.post(
        f"{API}/connections", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["detail"]

    wrong = client.post(f"{API}/connections", json={"name": "x", "dialect": "oracle"})
    assert wrong.status_code == 422
    problems = {p["path"]: p["message"] for p in wrong.json()["problems"]}
    assert {"dialect", "database", "user"} <= set(problems)
    # In the user's terms, not pydantic's.
    assert problems["database"] == "Database is required"
    assert problems["dialect"].startswith("Dialect must be 'postgresql' or 'mysql'")
    unnamed = client.post(f"{API}/connections", json={**server_sample["connection"], "name": ""})
    assert unnamed.json()["detail"] == "Name is required"
    extra = client.post(f"{API}/connections", json={**server_sample["connection"], "colour": 1})
    assert "Colour is not a setting here" in extra.json()["detail"]

    both = {**server_sample["connection"], "name": "y", "password_env": "X"}
    assert client.post(f"{API}/connections", json=both).status_code == 422
    assert client.post(f"{API}/connections", json=server_sample["connection"]).status_code == 409
    assert client.patch(f"{API}/connections/nope", json={"port": 5}).status_code == 404
    assert (
        client.patch(f"{API}/connections/{connection['id']}", json={"user": None}).status_code
        == 422
    )


# --- projects -------------------------------------------------------------------------------


def test_create_project_from_a_connection(client, make_project):
    project = make_project(mapping="recommended", casing="camel")
    assert project["tables"] == len(TABLES)
    names = [c["name"] for c in project["project"]["collections"]]
    assert "orders" in names and "order_details" not in names  # embedded as an array
    orders = next(c for c in project["project"]["collections"] if c["name"] == "orders")
    assert orders["fields"]["customer_id"] == {
        "name": "customerId",
        "include": True,
        "type": None,
        "nulls": "null",
    }
    assert [p["name"] for p in client.get(f"{API}/projects").json()] == ["northwind"]


def test_project_export_import_rename_delete(client, make_project, connection):
    project = make_project(mapping="one-to-one")
    exported = client.get(f"{API}/projects/{project['id']}/export")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    data = yaml.safe_load(exported.text)
    assert data["name"] == "northwind" and "password" not in data["source"]

    imported = client.post(
        f"{API}/projects/import",
        json={"yaml": exported.text, "name": "copy", "connection_id": connection["id"]},
    )
    assert imported.status_code == 201
    copy = imported.json()
    assert copy["project"]["collections"] == project["project"]["collections"]

    renamed = client.patch(f"{API}/projects/{copy['id']}", json={"name": "renamed"}).json()
    assert renamed["name"] == renamed["project"]["name"] == "renamed"
    assert (
        client.patch(f"{API}/projects/{copy['id']}", json={"name": "northwind"}).status_code == 409
    )
    assert client.delete(f"{API}/projects/{copy['id']}").status_code == 204
    assert client.get(f"{API}/projects/{copy['id']}").status_code == 404
    # A connection in use cannot go.
    assert client.delete(f"{API}/connections/{connection['id']}").status_code == 409


def test_project_bad_input(client, connection):
    broken = client.post(f"{API}/projects/import", json={"yaml": "name: [unclosed"})
    assert broken.status_code == 422 and "not valid YAML" in broken.json()["detail"]
    invalid = client.post(
        f"{API}/projects/import",
        json={"yaml": yaml.safe_dump({"name": "x", "source": {"dialect": "db2"}, "tables": []})},
    )
    assert invalid.status_code == 422
    assert any(p["path"].startswith("source") for p in invalid.json()["problems"])
    unknown = client.post(f"{API}/projects", json={"name": "x", "connection_id": "conn-nope"})
    assert unknown.status_code == 404
    casing = client.post(
        f"{API}/projects", json={"name": "x", "connection_id": connection["id"], "casing": "kebab"}
    )
    assert casing.status_code == 422
    assert client.get(f"{API}/projects/prj-nope/export").status_code == 404


# --- mapping rules and previews -------------------------------------------------------------


def test_rules_add_edit_delete_and_preview(client, make_project):
    project = make_project(mapping="empty")
    pid = project["id"]
    rule = {"name": "orders", "table": "public.orders"}
    added = client.post(f"{API}/projects/{pid}/collections", json=rule)
    assert added.status_code == 201 and added.json()["collections"] == 1

    rule["embeds"] = [
        {
            "kind": "array",
            "table": "public.order_details",
            "foreign_key": "order_details_order_id_fkey",
            "field": "lines",
            "fields": {"order_id": {"include": False}},
            "sort": [{"column": "unit_price", "descending": True}],
            "limit": 2,
        }
    ]
    assert client.put(f"{API}/projects/{pid}/collections/orders", json=rule).status_code == 200
    preview = client.get(f"{API}/projects/{pid}/collections/orders/preview?limit=2").json()
    assert len(preview["documents"]) == 2
    lines = preview["documents"][0]["lines"]
    assert 1 <= len(lines) <= 2 and "order_id" not in lines[0]

    draft = {**rule, "fields": {"freight": {"name": "shipping.freight"}}}
    drafted = client.post(f"{API}/projects/{pid}/preview", json=draft).json()
    assert "freight" in drafted["documents"][0]["shipping"]

    assert client.delete(f"{API}/projects/{pid}/collections/orders").json()["collections"] == 0
    assert client.delete(f"{API}/projects/{pid}/collections/orders").status_code == 404


def test_a_custom_id_the_rows_repeat_is_refused_at_save(client, make_project):
    pid = make_project(mapping="empty")["id"]
    rule = {"name": "customers", "table": "public.customers", "id": {"columns": ["country"]}}
    refused = client.post(f"{API}/projects/{pid}/collections", json=rule)
    assert refused.status_code == 422
    assert "custom _id (country) is not unique in public.customers" in refused.json()["detail"]
    rule["id"] = {"columns": ["customer_id", "country"]}  # the primary key among them
    assert client.post(f"{API}/projects/{pid}/collections", json=rule).status_code == 201


def test_invalid_rules_are_explained_where_they_are(client, make_project):
    pid = make_project(mapping="recommended", casing="camel")["id"]
    saved = client.get(f"{API}/projects/{pid}").json()["project"]["collections"]
    orders = copy.deepcopy(next(c for c in saved if c["name"] == "orders"))
    orders["embeds"][0]["foreign_key"] = "no_such_fk"
    orders["fields"]["freight"] = {"name": "$freight"}
    orders["fields"].pop("ship_name", None)
    response = client.put(f"{API}/projects/{pid}/collections/orders", json=orders)
    assert response.status_code == 422
    problems = {p["path"]: p["message"] for p in response.json()["problems"]}
    assert "has no foreign key 'no_such_fk'" in problems[".embeds[0].foreign_key"]
    assert "not a valid field path" in problems[".fields.freight.name"]

    structural = client.post(
        f"{API}/projects/{pid}/preview",
        json={"name": "x", "table": "public.orders", "embeds": [{"kind": "sideways"}]},
    )
    assert structural.status_code == 422
    assert any(p["path"].startswith(".embeds[0]") for p in structural.json()["problems"])
    duplicate = client.post(f"{API}/projects/{pid}/collections", json={**orders, "embeds": []})
    assert duplicate.status_code == 422 and "used twice" in duplicate.json()["detail"]
    system = client.post(f"{API}/projects/{pid}/collections", json={**orders, "name": "system.x"})
    assert system.status_code == 422
    assert {p["path"] for p in system.json()["problems"]} >= {".name"}

    # A merged Embedded documents rule may not overwrite a field the parent has: shown at the
    # merged field. The rule comes from the server in the project's casing (camel here).
    merged = copy.deepcopy(next(c for c in saved if c["name"] == "orders"))
    merged["fields"]["ship_name"] = {"name": "contactName"}
    customer = client.post(
        f"{API}/projects/{pid}/rules/new",
        json={
            "kind": "document",
            "table": "public.customers",
            "parent": "public.orders",
            "foreign_key": "orders_customer_id_fkey",
        },
    ).json()
    assert customer["fields"]["contact_name"]["name"] == "contactName"
    merged["embeds"].append({**customer, "merge": True})
    refused = client.put(f"{API}/projects/{pid}/collections/orders", json=merged)
    assert refused.status_code == 422
    problems = {p["path"]: p["message"] for p in refused.json()["problems"]}
    where = f".embeds[{len(merged['embeds']) - 1}].fields.contact_name"
    assert problems[where] == "the field contactName already comes from orders (column ship_name)"
    # The editor's check without saving: the same validator, the same answer.
    checked = client.post(f"{API}/projects/{pid}/check", json=merged)
    assert checked.status_code == 422
    assert {p["path"]: p["message"] for p in checked.json()["problems"]} == problems
    merged["fields"]["ship_name"] = {"name": "shipName"}
    merged["embeds"][-1]["fields"]["customer_id"] = {"include": False}
    assert client.post(f"{API}/projects/{pid}/check", json=merged).json() == {"problems": []}
    # Nothing was saved.
    assert client.get(f"{API}/projects/{pid}").json()["project"]["collections"] == saved


def test_synthetic_relationships_and_expressions(client, make_project):
    """Add, use, edit and delete a synthetic relationship; rules with calculated fields and a
    filter; what does not hold is refused with its path (and the engine's message)."""
    pid = make_project(mapping="empty")["id"]
    base = f"{API}/projects/{pid}"
    link = {
        "name": "order_shipper",
        "parent": {"table": "public.shippers", "columns": ["shipper_id"]},
        "child": {"table": "public.orders", "columns": ["ship_via"]},
    }
    added = client.post(f"{base}/relationships", json=link)
    assert added.status_code == 201, added.text
    assert added.json()["project"]["relationships"][0]["name"] == "order_shipper"
    missing = client.post(
        f"{base}/relationships",
        json={**link, "name": "other", "child": {"table": "public.orders", "columns": ["via"]}},
    )
    assert missing.status_code == 422
    assert {p["path"] for p in missing.json()["problems"]} == {".child.columns"}

    rule = {
        "name": "orders",
        "table": "public.orders",
        "filter": 'columns["freight"] > 10',
        "calculated": [{"name": "heavy", "expression": 'columns["freight"] > 50'}],
        "embeds": [
            {
                "kind": "document",
                "table": "public.shippers",
                "foreign_key": "order_shipper",
                "field": "shipper",
                "calculated": [
                    {"name": "label", "expression": 'columns["company_name"].toUpperCase()'}
                ],
            }
        ],
    }
    assert client.post(f"{base}/collections", json=rule).status_code == 201
    docs = client.get(f"{base}/collections/orders/preview?limit=5").json()["documents"]
    shipped = [d for d in docs if d["shipper"]]
    freight = [float(d["freight"]["$numberDecimal"]) for d in docs]  # relaxed extended JSON
    assert docs and all(f > 10 for f in freight)
    assert [d["heavy"] for d in docs] == [f > 50 for f in freight]
    assert shipped and all(d["shipper"]["label"].isupper() for d in shipped)

    broken = copy.deepcopy(rule)
    broken["calculated"][0]["expression"] = 'columns["freight"] >'
    broken["embeds"][0]["filter"] = 'columns["nope"] == 1'
    refused = client.put(f"{base}/collections/orders", json=broken)
    assert refused.status_code == 422
    problems = {p["path"]: p["message"] for p in refused.json()["problems"]}
    assert problems[".calculated[0] (heavy).expression"].startswith("SyntaxError")
    assert "has no column 'nope'" in problems[".embeds[0].filter"]

    renamed = {**link, "name": "shipped_by"}
    in_use = client.put(f"{base}/relationships/order_shipper", json=renamed)
    assert in_use.status_code == 422  # the rule still follows order_shipper
    assert "no foreign key 'order_shipper'" in in_use.json()["detail"]
    assert client.delete(f"{base}/relationships/order_shipper").status_code == 422
    assert client.delete(f"{base}/collections/orders").status_code == 200
    assert client.put(f"{base}/relationships/order_shipper", json=renamed).status_code == 200
    gone = client.delete(f"{base}/relationships/shipped_by")
    assert gone.status_code == 200 and gone.json()["project"]["relationships"] == []
    assert client.delete(f"{base}/relationships/shipped_by").status_code == 404


def test_table_filters(client, make_project):
    pid = make_project(mapping="one-to-one")["id"]
    body = {"where": "country = 'Germany'", "limit": 3}
    saved = client.put(f"{API}/projects/{pid}/filters/public.customers", json=body).json()
    assert saved["project"]["filters"]["public.customers"] == body
    preview = client.get(f"{API}/projects/{pid}/collections/customers/preview?limit=5").json()
    assert len(preview["documents"]) == 3
    assert {d["country"] for d in preview["documents"]} == {"Germany"}
    assert client.put(f"{API}/projects/{pid}/filters/public.nope", json=body).status_code == 404
    # A filter is one condition on the row, checked at save: never SQL that runs on the source.
    for where, why in [
        ("1=1); INSERT INTO customers DEFAULT VALUES; SELECT (1", "not a SQL condition"),
        ("country = 'x'; DROP TABLE customers", "one condition, not several statements"),
        ("nextval('customers_seq') > 0", "calls nextval()"),
        ("pg_sleep(30) IS NULL", "calls pg_sleep()"),
        ("customer_id IN (SELECT customer_id FROM orders)", "a subquery"),
        ("nosuchcol > 1", "has no column nosuchcol"),
        ("country = ", "not a SQL condition"),
    ]:
        refused = client.put(
            f"{API}/projects/{pid}/filters/public.customers", json={"where": where}
        )
        assert refused.status_code == 422, where
        assert (
            why in refused.json()["detail"]
            and "filters.public.customers.where" in (refused.json()["detail"])
        )
    assert client.delete(f"{API}/projects/{pid}/filters/public.customers").status_code == 200
    assert client.delete(f"{API}/projects/{pid}/filters/public.customers").status_code == 404


# --- jobs -----------------------------------------------------------------------------------


def test_snapshot_job(client, make_project, server_sample, mongo_uri, target_db):
    """A parallel snapshot: two worker processes, orders split into key ranges; the API shows
    one progress row per collection as for any snapshot."""
    pid = make_project()["id"]
    body = {"mode": "snapshot", "target_db": target_db, "drop": True, "verify": True}
    body |= {"parallel": 2, "range_rows": 100}
    started = client.post(f"{API}/projects/{pid}/jobs", json=body)
    assert started.status_code == 201, started.text
    job = wait_for(client, started.json()["id"], lambda j: j["status"] in ("COMPLETED", "FAILED"))
    assert job["status"] == "COMPLETED", job["failure"]
    assert job["project_id"] == pid and all(p["done"] for p in job["progress"])
    assert job["options"]["parallel"] == 2 and "snapshot_planned" in job["steps"]
    assert len({p["collection"] for p in job["progress"]}) == len(job["progress"])
    assert job["verify_result"]["ok"] is True
    assert client.get(f"{API}/jobs/{job['id']}/issues").json() == []
    assert [j["id"] for j in client.get(f"{API}/jobs?project_id={pid}").json()] == [job["id"]]
    with psycopg.connect(server_sample["dsn"]) as conn:
        (orders,) = conn.execute("SELECT count(*) FROM orders").fetchone()
    mongo: MongoClient = MongoClient(mongo_uri)
    assert mongo[target_db]["orders"].count_documents({}) == orders
    mongo.close()

    # A finished job can be neither resumed, nor paused, nor completed.
    for action in ("resume", "pause", "complete", "cancel"):
        refused = client.post(f"{API}/jobs/{job['id']}/{action}")
        assert refused.status_code == 409, (action, refused.text)
        assert job["id"] in refused.json()["detail"]


def test_continuous_job_conflicts_and_complete(client, make_project, server_sample, target_db):
    pid = make_project()["id"]
    body = {"mode": "continuous", "target_db": target_db, "drop": True, "verify": True}
    job_id = client.post(f"{API}/projects/{pid}/jobs", json=body).json()["id"]
    running = wait_for(client, job_id, lambda j: j["cdc_status"] == "RUNNING")
    assert running["actions"] == ["pause", "cancel", "complete", "update"]

    second = client.post(f"{API}/projects/{pid}/jobs", json=body)
    assert second.status_code == 409 and "already writes" in second.json()["detail"]

    def touch(conn: psycopg.Connection, city: str) -> None:
        conn.execute(
            "UPDATE customers SET city = %s "
            "WHERE customer_id = (SELECT min(customer_id) FROM customers)",
            (city,),
        )

    with psycopg.connect(server_sample["dsn"], autocommit=True) as conn:
        touch(conn, "Ulm")
    # The lag is recorded after the batch's events (and its gauge exists once it is known).
    job = wait_for(
        client,
        job_id,
        lambda j: j["stats"]["events_total"] >= 1 and j["stats"]["lag_seconds"] is not None,
    )
    assert job["stats"]["last_event_at"] is not None

    # /metrics while the job runs, in Prometheus' format, agreeing with the job's own figures.
    scraped = client.get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    me = (("job", job_id), ("mode", "continuous"), ("project", "northwind"))
    assert samples[("relmig_job_status", tuple(sorted((*me, ("status", "RUNNING")))))] == 1
    job = client.get(f"{API}/jobs/{job_id}").json()
    assert samples[("relmig_job_events_applied_total", me)] >= 1
    assert samples[("relmig_job_events_applied_total", me)] <= job["stats"]["events_total"]
    for p in job["progress"]:
        key = tuple(sorted((*me, ("collection", p["collection"]))))
        assert samples[("relmig_job_rows_copied_total", key)] == p["rows_done"]
    assert ("relmig_job_lag_seconds", me) in samples
    assert ("relmig_job_retries_total", me) in samples
    assert samples[("relmig_job_issues_total", tuple(sorted((*me, ("severity", "ERROR")))))] == 0
    history = client.get(f"{API}/jobs/{job_id}/history").json()
    assert sum(m["events"] for m in history) == job["stats"]["events_total"]

    assert client.post(f"{API}/jobs/{job_id}/pause").status_code == 200
    paused = wait_for(client, job_id, lambda j: j["status"] == "PAUSED")
    assert paused["resumable"] is True
    assert paused["actions"] == ["resume", "cancel", "complete", "update"]
    # While paused the source tells what is waiting: three transactions, their WAL.
    with psycopg.connect(server_sample["dsn"], autocommit=True) as conn:
        for city in ("Bonn", "Kiel", "Jena"):
            touch(conn, city)
    time.sleep(6)  # the server asks the source at most every 5 s per job
    waiting = client.get(f"{API}/jobs/{job_id}").json()["waiting"]
    assert waiting["transactions"] == 3 and waiting["bytes"] > 0, waiting

    assert client.post(f"{API}/jobs/{job_id}/resume").status_code == 200
    resumed = wait_for(client, job_id, lambda j: j["cdc_status"] == "RUNNING")
    assert resumed["waiting"] is None
    wait_for(client, job_id, lambda j: j["stats"]["events_total"] >= 4)
    assert client.post(f"{API}/jobs/{job_id}/complete").status_code == 200
    done = wait_for(client, job_id, lambda j: j["status"] in ("COMPLETED", "FAILED"))
    assert done["status"] == "COMPLETED", done["failure"]
    assert done["actions"] == [] and done["stats"]["slot_lag_bytes"] is None
    # Verify at the end: its result is part of the job.
    assert done["verify_result"]["ok"] is True
    assert {c["name"] for c in done["verify_result"]["collections"]} >= {"orders", "customers"}
    assert client.post(f"{API}/jobs/{job_id}/resume").status_code == 409


def test_job_bad_input(client, make_project):
    pid = make_project(mapping="empty")["id"]
    assert client.post(f"{API}/projects/{pid}/jobs", json={"mode": "forever"}).status_code == 422
    assert client.post(f"{API}/projects/{pid}/jobs", json={"max_errors": 0}).status_code == 422
    assert client.post(f"{API}/projects/{pid}/jobs", json={"parallel": 0}).status_code == 422
    empty = client.post(f"{API}/projects/{pid}/jobs", json={})
    assert empty.status_code == 422 and "maps no collections" in empty.json()["detail"]
    assert client.post(f"{API}/projects/prj-nope/jobs", json={}).status_code == 404
    for path in ("jobs/job-nope", "jobs/job-nope/issues"):
        assert client.get(f"{API}/{path}").status_code == 404
    for action in ("pause", "resume", "cancel", "complete"):
        assert client.post(f"{API}/jobs/job-nope/{action}").status_code == 404


def test_jobs_that_cannot_start_are_refused_at_creation(client, make_project, target_db):
    """Refused with the reason, instead of being created and offered a futile Resume."""
    project = make_project(name="North wind.v2")
    pid = project["id"]
    assert project["target_database"] == "North_wind_v2"  # valid; what the form offers
    bad_name = client.post(f"{API}/projects/{pid}/jobs", json={"target_db": "my shop.v2"})
    assert bad_name.status_code == 422
    assert "'.'" in bad_name.json()["detail"] and "space" in bad_name.json()["detail"]
    nowhere = client.post(
        f"{API}/projects/{pid}/jobs",
        json={"target_db": target_db, "target_uri": "mongodb://127.0.0.1:1/"},
    )
    assert nowhere.status_code == 422 and "cannot reach the MongoDB target" in nowhere.text
    assert client.get(f"{API}/jobs?project_id={pid}").json() == []

    job = client.post(f"{API}/projects/{pid}/jobs", json={"target_db": target_db}).json()
    wait_for(client, job["id"], lambda j: j["status"] in ("COMPLETED", "FAILED"))
    refused = client.post(f"{API}/jobs/{job['id']}/resume", json={"on_error": "IGNORE"})
    assert refused.status_code == 422


def test_openapi_and_ui_are_served(client):
    spec = client.get(f"{API}/openapi.json").json()
    assert {"/api/v1/connections", "/api/v1/projects/{project_id}/jobs"} <= set(spec["paths"])
    page = client.get("/")
    assert page.status_code == 200 and "/static/js/app.js" in page.text
    assert (
        client.get("/static/js/app.js")
        .headers["content-type"]
        .startswith(("text/javascript", "application/javascript"))
    )


def test_counts_out_of_range_and_a_malformed_target_are_refused(client, make_project, target_db):
    pid = make_project()["id"]
    url = f"{API}/projects/{pid}/jobs"
    base = {"mode": "snapshot", "target_db": target_db}
    for extra, said in [
        ({"parallel": 100_000}, "parallel must be from 1 to 64"),
        ({"target_uri": "mongodb://127.0.0.1:99999"}, "is not valid: Port must be"),
    ]:
        refused = client.post(url, json={**base, **extra})
        assert refused.status_code == 422, refused.text
        assert said in refused.json()["detail"]
    huge = client.put(
        f"{API}/projects/{pid}/filters/public.customers", json={"limit": 99999999999999999999}
    )
    assert huge.status_code == 422


def test_a_job_the_server_owns_is_resumed_there_only(client, make_project, target_db, home):
    """`relmig jobs resume` in another process would run the server's job without the
    connection's stored password: it is refused with where to resume it, and the job stays
    PAUSED (it used to end FAILED after two minutes of retries)."""
    pid = make_project()["id"]
    body = {"mode": "continuous", "target_db": target_db}
    job_id = client.post(f"{API}/projects/{pid}/jobs", json=body).json()["id"]
    wait_for(client, job_id, lambda j: j["cdc_status"] == "RUNNING")
    assert client.post(f"{API}/jobs/{job_id}/pause").status_code == 200
    wait_for(client, job_id, lambda j: j["status"] == "PAUSED")
    env = {k: v for k, v in os.environ.items() if k != "RELMIG_SOURCE_PASSWORD"}
    env["RELMIG_HOME"] = str(home)
    for command in (["jobs", "resume", job_id], ["jobs", "complete", job_id]):
        cli = subprocess.run(
            [sys.executable, "-m", "relmig.cli", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        said = " ".join(cli.stderr.split())
        assert cli.returncode == 2, cli.stdout + cli.stderr
        assert f"belongs to the relmig serve process {os.getpid()} on this machine" in said
        assert f"POST /api/v1/jobs/{job_id}/resume" in said
        job = client.get(f"{API}/jobs/{job_id}").json()
        assert (job["status"], job["pending_request"]) == ("PAUSED", None)
    assert client.post(f"{API}/jobs/{job_id}/resume").status_code == 200
    wait_for(client, job_id, lambda j: j["status"] == "RUNNING" and j["cdc_status"] == "RUNNING")


def test_a_mapping_update_through_the_api_shows_its_plan_and_refuses_what_it_cannot_do(
    client, make_project, target_db
):
    """The plan alone changes nothing; a project that changes nothing, a snapshot job and a
    job still copying its snapshot are refused with the reason (the job page's Update mapping
    posts the same)."""
    project = make_project()
    pid = project["id"]
    snapshot = client.post(f"{API}/projects/{pid}/jobs", json={"target_db": target_db}).json()
    refused = client.post(f"{API}/jobs/{snapshot['id']}/update", json={"apply": True})
    assert refused.status_code == 409 and "snapshot job" in refused.json()["detail"]
    wait_for(client, snapshot["id"], lambda j: j["status"] == "COMPLETED")

    body = {"mode": "continuous", "target_db": f"{target_db}_cdc"}
    job_id = client.post(f"{API}/projects/{pid}/jobs", json=body).json()["id"]
    wait_for(client, job_id, lambda j: j["cdc_status"] == "RUNNING")
    assert "update" in client.get(f"{API}/jobs/{job_id}").json()["actions"]
    same = client.post(f"{API}/jobs/{job_id}/update", json={"apply": True})
    assert same.status_code == 422 and "nothing to update" in same.json()["detail"]

    rule = next(c for c in project["project"]["collections"] if c["name"] == "orders")
    renamed = {**rule, "fields": {**rule.get("fields", {}), "freight": {"name": "shippingCost"}}}
    saved = client.put(f"{API}/projects/{pid}/collections/orders", json=renamed)
    assert saved.status_code == 200, saved.text
    planned = client.post(f"{API}/jobs/{job_id}/update", json={"apply": False}).json()
    assert planned["applied"] is False and planned["plan"]["rebuild"] == ["orders"]
    assert "orders: rebuilt" in " ".join(planned["lines"])
    job = client.get(f"{API}/jobs/{job_id}").json()
    assert job["update"] == [] and job["pending_request"] is None


def test_queries_convert_through_the_api_and_are_checked_on_the_target(
    client, make_project, target_db
):
    """POST /projects/{id}/convert is `relmig convert`: each statement converted or refused
    with its reason, and with verify run on both sides (FerretDB here: what it lacks is named)."""
    pid = make_project()["id"]
    started = client.post(
        f"{API}/projects/{pid}/jobs", json={"mode": "snapshot", "target_db": target_db}
    )
    assert started.status_code == 201, started.text
    job = wait_for(client, started.json()["id"], lambda j: j["status"] in ("COMPLETED", "FAILED"))
    assert job["status"] == "COMPLETED", job["failure"]
    sql = (
        "SELECT order_id, customer_id FROM orders WHERE order_id <= 10 ORDER BY order_id;\n"
        "SELECT o.order_id FROM orders o JOIN order_details d ON d.order_id = o.order_id;\n"
        "SELECT ROW_NUMBER() OVER () AS n FROM orders"
    )
    body = {"sql": sql, "lang": "python", "verify": True, "target_db": target_db}
    response = client.post(f"{API}/projects/{pid}/convert", json=body)
    assert response.status_code == 200, response.text
    first, lines, window = response.json()
    assert first["converted"] and first["check"]["equal"] and first["check"]["sql_rows"] == 10
    assert first["code"].startswith("def query(db):") and first["collection"] == "orders"
    assert "needs $unwind, which FerretDB v1.24.2 runs wrongly" in lines["refused"]
    assert window["refused"] == "cannot convert: a window function at line 1 col 8"  # of its SQL
    empty = client.post(f"{API}/projects/{pid}/convert", json={"sql": " ; "})
    assert empty.status_code == 422 and "no SQL statement" in empty.text
    assert client.post(f"{API}/projects/nope/convert", json={"sql": "SELECT 1"}).status_code == 404
