"""CDC test rig: a fresh sample database per test, a deep mapping, a job and a random workload.

Shared by the CDC tests (tests/cdc) and the Kafka-mode tests (tests/kafka), which import it by
name (tests/ is on sys.path through its conftest).

The mapping nests four levels (customers → orders → order_details → products → categories),
embeds a lookup in many documents (shippers inside orders: fan-out) and keeps a sort + limit
array, so every routing path of the router is exercised by the workload.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import psycopg
import pymysql

from relmig.mongo.writer import MongoTarget
from relmig.project.model import (
    CalculatedField,
    CollectionRule,
    CustomId,
    EmbedRule,
    Project,
    Relationship,
    RelationshipEnd,
    SortKey,
    SourceSettings,
)
from relmig.runtime.jobs import JobManager, JobOptions
from relmig.runtime.store import StateStore
from relmig.samples.load import load_mysql, load_postgres
from relmig.schema.introspect import import_tables
from relmig.source.capture import open_capture
from relmig.source.connect import open_source
from relmig.verify.compare import verify

CATCH_UP_SECONDS = 120


def fk(project: Project, table: str, columns: list[str]) -> str:
    for f in project.table(table).foreign_keys:
        if list(f.columns) == columns:
            return f.name
    raise KeyError((table, columns))


def deep_collections(project: Project, schema: str) -> list[CollectionRule]:
    t = lambda name: f"{schema}.{name}"  # noqa: E731 - a table id in this schema
    product = EmbedRule(
        kind="document",
        table=t("products"),
        foreign_key=fk(project, t("order_details"), ["product_id"]),
        field="product",
        embeds=[
            EmbedRule(
                kind="document",
                table=t("categories"),
                foreign_key=fk(project, t("products"), ["category_id"]),
                field="category",
            )
        ],
    )
    details = EmbedRule(
        kind="array",
        table=t("order_details"),
        foreign_key=fk(project, t("order_details"), ["order_id"]),
        field="lines",
        embeds=[
            product,
            EmbedRule(
                kind="array",
                table=t("order_detail_notes"),
                foreign_key=fk(project, t("order_detail_notes"), ["order_id", "product_id"]),
                field="notes",
            ),
        ],
    )
    orders = EmbedRule(
        kind="array",
        table=t("orders"),
        foreign_key=fk(project, t("orders"), ["customer_id"]),
        field="orders",
        embeds=[details],
    )
    return [
        CollectionRule(name="customers", table=t("customers"), embeds=[orders]),
        orders_collection(
            schema,
            fk(project, t("orders"), ["ship_via"]),
            fk(project, t("order_details"), ["order_id"]),
        ),
        CollectionRule(name="categories", table=t("categories")),
    ]


def orders_collection(
    schema: str, shipper: str, lines: str, top_filter: str | None = None
) -> CollectionRule:
    """Orders with their shipper (fan-out) and their two largest lines (sort + limit)."""
    return CollectionRule(
        name="orders",
        table=f"{schema}.orders",
        embeds=[
            EmbedRule(
                kind="document", table=f"{schema}.shippers", foreign_key=shipper, field="shipper"
            ),
            EmbedRule(
                kind="array",
                table=f"{schema}.order_details",
                foreign_key=lines,
                field="top_lines",
                filter=top_filter,
                sort=[SortKey(column="quantity", descending=True)],
                limit=2,
            ),
        ],
    )


def synthetic_relationships(schema: str) -> list[Relationship]:
    """The links of deep_collections, declared nowhere in the database."""
    t = lambda name: f"{schema}.{name}"  # noqa: E731 - a table id in this schema

    def rel(name: str, parent: str, pcols: list[str], child: str, ccols: list[str]) -> Relationship:
        return Relationship(
            name=name,
            parent=RelationshipEnd(table=t(parent), columns=pcols),
            child=RelationshipEnd(table=t(child), columns=ccols),
        )

    return [
        rel("orders_customer", "customers", ["customer_id"], "orders", ["customer_id"]),
        rel("lines_order", "orders", ["order_id"], "order_details", ["order_id"]),
        rel("lines_product", "products", ["product_id"], "order_details", ["product_id"]),
        rel("products_category", "categories", ["category_id"], "products", ["category_id"]),
        rel("orders_shipper", "shippers", ["shipper_id"], "orders", ["ship_via"]),
    ]


# The expressions of the synthetic mapping, in Relational Migrator's syntax.
CUSTOMER_FILTER = '!columns["company_name"].endsWith("7")'
ORDER_FILTER = 'columns["freight"] === null || columns["freight"] < 400'


def synthetic_collections(schema: str) -> list[CollectionRule]:
    """Three levels through synthetic relationships (customers → orders → lines → product),
    with calculated fields on every level, filters on the root and on an array, and custom
    `_id`s: an expression that changes with the row, and a unique key (products.sku)."""
    t = lambda name: f"{schema}.{name}"  # noqa: E731 - a table id in this schema
    lines = EmbedRule(
        kind="array",
        table=t("order_details"),
        foreign_key="lines_order",
        field="lines",
        calculated=[
            CalculatedField(
                name="total",
                expression='columns["unit_price"] * columns["quantity"] '
                '* (1 - columns["discount"])',
                type="double",
            )
        ],
        embeds=[
            EmbedRule(
                kind="document",
                table=t("products"),
                foreign_key="lines_product",
                field="product",
                calculated=[
                    CalculatedField(
                        name="label", expression='columns["product_name"].toUpperCase()'
                    )
                ],
            )
        ],
    )
    orders = EmbedRule(
        kind="array",
        table=t("orders"),
        foreign_key="orders_customer",
        field="orders",
        filter=ORDER_FILTER,
        calculated=[
            CalculatedField(
                name="placed.year",
                expression='columns["order_date"] ? columns["order_date"].getUTCFullYear() : null',
                nulls="omit",
            )
        ],
        embeds=[lines],
    )
    return [
        CollectionRule(
            name="customers",
            table=t("customers"),
            id=CustomId(
                expression='columns["customer_id"].trim().toLowerCase() + ":" + '
                'columns["company_name"].length'
            ),
            filter=CUSTOMER_FILTER,
            calculated=[
                CalculatedField(
                    name="display",
                    expression='columns["company_name"] + " / " + (columns["country"] || "?")',
                )
            ],
            embeds=[orders],
        ),
        orders_collection(schema, "orders_shipper", "lines_order", 'columns["quantity"] >= 5'),
        CollectionRule(
            name="products",
            table=t("products"),
            id=CustomId(columns=["sku"]),
            embeds=[
                EmbedRule(
                    kind="document",
                    table=t("categories"),
                    foreign_key="products_category",
                    field="category",
                )
            ],
        ),
    ]


@dataclass
class Rig:
    """A source database with the sample, a project over it, a target and a job manager."""

    dialect: str
    settings: SourceSettings
    project: Project
    store: StateStore
    manager: JobManager
    target_uri: str
    target_db: str
    execute: Callable[[list[tuple[str, tuple[Any, ...]]]], bool]
    query: Callable[[str], list[tuple[Any, ...]]]
    jobs: list[str] = field(default_factory=list)
    operations: list[Callable[[Rig, random.Random], list[tuple[str, tuple[Any, ...]]]]] = field(
        default_factory=lambda: list(OPERATIONS)
    )

    def start(self, mode: str = "continuous", **options: Any) -> str:
        job_id = self.manager.start(
            self.project, self.target_uri, self.target_db, JobOptions(mode=mode, **options)
        )
        self.jobs.append(job_id)
        return job_id

    def wait_for(self, job_id: str, predicate: Callable[[dict[str, Any]], bool]) -> dict:
        deadline = time.monotonic() + CATCH_UP_SECONDS
        while time.monotonic() < deadline:
            job = self.store.job(job_id)
            assert job is not None
            if predicate(job):
                return job
            if job["status"] == "FAILED":
                raise AssertionError(f"job failed: {job['failure']}")
            time.sleep(0.2)
        raise AssertionError(f"timed out; job is {self.store.job(job_id)}")

    def wait_for_new_job(self) -> str:
        """The id of a job another process creates in this store."""
        deadline = time.monotonic() + CATCH_UP_SECONDS
        while time.monotonic() < deadline:
            jobs = [j["id"] for j in self.store.list_jobs() if j["id"] not in self.jobs]
            if jobs:
                self.jobs.append(jobs[0])
                return jobs[0]
            time.sleep(0.05)
        raise AssertionError("no job was created")

    def streaming(self, job_id: str) -> None:
        self.wait_for(job_id, lambda j: j["stage"] == "CDC" and j["cdc_status"] == "RUNNING")

    def caught_up(self, job_id: str) -> None:
        """Until the job has applied everything committed before this call."""
        direct = self.project.model_copy(update={"source": self.settings})
        capture = open_capture(direct, job_id)
        try:
            mark = capture.mark()
            self.wait_for(
                job_id, lambda j: j["position"] is not None and capture.reached(j["position"], mark)
            )
        finally:
            capture.close()

    def verify(self) -> None:
        source = open_source(self.settings)
        target = MongoTarget(self.target_uri, self.target_db)
        try:
            report = verify(self.project, source, target, filters=False)
        finally:
            source.close()
            target.close()
        bad = [
            (c.name, c.missing, c.extra, c.different, [str(e) for e in c.examples[:3]])
            for c in report.collections
            if not c.ok
        ]
        assert report.ok, bad

    # --- the random workload ------------------------------------------------------------------

    def ids(self, sql: str) -> list[Any]:
        return [r[0] for r in self.query(sql)]

    def workload(self, rng: random.Random, transactions: int) -> int:
        """Random multi-table transactions; returns how many committed."""
        committed = 0
        for _ in range(transactions):
            statements: list[tuple[str, tuple[Any, ...]]] = []
            for _ in range(rng.randint(1, 3)):
                statements.extend(rng.choice(self.operations)(self, rng))
            if statements and self.execute(statements):
                committed += 1
        return committed


def _order_line(rig: Rig, rng: random.Random) -> tuple[Any, Any]:
    rows = rig.query("SELECT order_id, product_id FROM order_details")
    return rng.choice(rows)


def op_new_order(rig: Rig, rng: random.Random) -> list[tuple[str, tuple[Any, ...]]]:
    customer = rng.choice(rig.ids("SELECT customer_id FROM customers"))
    order_id = max(rig.ids("SELECT order_id FROM orders")) + rng.randint(1000, 10**6)
    shipper = rng.choice(rig.ids("SELECT shipper_id FROM shippers"))
    stmts = [
        (
            "INSERT INTO orders (order_id, customer_id, sold_by, order_date, ship_via, freight) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (order_id, customer, 1, "2024-01-02 03:04:05", shipper, rng.randint(0, 500)),
        )
    ]
    products = rng.sample(rig.ids("SELECT product_id FROM products"), rng.randint(0, 3))
    for p in products:
        stmts.append(
            (
                "INSERT INTO order_details (order_id, product_id, unit_price, quantity, discount) "
                "VALUES (%s, %s, %s, %s, %s)",
                (order_id, p, rng.randint(1, 99), rng.randint(1, 50), 0),
            )
        )
    return stmts


def op_quantity(rig: Rig, rng: random.Random) -> list[tuple[str, tuple[Any, ...]]]:
    order_id, product_id = _order_line(rig, rng)
    return [
        (
            "UPDATE order_details SET quantity = %s WHERE order_id = %s AND product_id = %s",
            (rng.randint(1, 80), order_id, product_id),
        )
    ]


def op_move_line(rig: Rig, rng: random.Random) -> list[tuple[str, tuple[Any, ...]]]:
    """A primary key change that is also a foreign key move to another order."""
    order_id, product_id = _order_line(rig, rng)
    other = rng.choice(rig.ids("SELECT order_id FROM orders"))
    return [
        (
            "DELETE FROM order_detail_notes WHERE order_id = %s AND product_id = %s",
            (order_id, product_id),
        ),
        (
            "UPDATE order_details SET order_id = %s WHERE order_id = %s AND product_id = %s",
            (other, order_id, product_id),
        ),
    ]


def op_delete_order(rig: Rig, rng: random.Random) -> list[tuple[str, tuple[Any, ...]]]:
    order_id = rng.choice(rig.ids("SELECT order_id FROM orders"))
    return [
        ("DELETE FROM order_detail_notes WHERE order_id = %s", (order_id,)),
        ("DELETE FROM order_details WHERE order_id = %s", (order_id,)),
        ("DELETE FROM orders WHERE order_id = %s", (order_id,)),
    ]


def op_move_order(rig: Rig, rng: random.Random) -> list[tuple[str, tuple[Any, ...]]]:
    order_id = rng.choice(rig.ids("SELECT order_id FROM orders"))
    customer = rng.choice(rig.ids("SELECT customer_id FROM customers"))
    return [("UPDATE orders SET customer_id = %s WHERE order_id = %s", (customer, order_id))]


def op_customer(rig: Rig, rng: random.Random) -> list[tuple[str, tuple[Any, ...]]]:
    customer = rng.choice(rig.ids("SELECT customer_id FROM customers"))
    return [
        (
            "UPDATE customers SET company_name = %s WHERE customer_id = %s",
            (f"Company {rng.randint(0, 10**6)}", customer),
        )
    ]


def op_shipper(rig: Rig, rng: random.Random) -> list[tuple[str, tuple[Any, ...]]]:
    """Fan-out: one shipper is embedded in many orders."""
    shipper = rng.choice(rig.ids("SELECT shipper_id FROM shippers"))
    return [
        (
            "UPDATE shippers SET phone = %s WHERE shipper_id = %s",
            (f"+1 555 {rng.randint(0, 9999):04d}", shipper),
        )
    ]


def op_category(rig: Rig, rng: random.Random) -> list[tuple[str, tuple[Any, ...]]]:
    """Four levels deep: categories inside products inside lines inside orders in customers."""
    category = rng.choice(rig.ids("SELECT category_id FROM categories"))
    return [
        (
            "UPDATE categories SET category_name = %s WHERE category_id = %s",
            (f"Category {rng.randint(0, 10**6)}", category),
        )
    ]


def op_product_category(rig: Rig, rng: random.Random) -> list[tuple[str, tuple[Any, ...]]]:
    product = rng.choice(rig.ids("SELECT product_id FROM products"))
    category = rng.choice(rig.ids("SELECT category_id FROM categories"))
    return [("UPDATE products SET category_id = %s WHERE product_id = %s", (category, product))]


def op_note(rig: Rig, rng: random.Random) -> list[tuple[str, tuple[Any, ...]]]:
    order_id, product_id = _order_line(rig, rng)
    note_id = max(rig.ids("SELECT note_id FROM order_detail_notes") or [0]) + rng.randint(1, 10**6)
    if rng.random() < 0.3:
        return [("DELETE FROM order_detail_notes WHERE order_id = %s", (order_id,))]
    return [
        (
            "INSERT INTO order_detail_notes "
            "(note_id, order_id, product_id, author_id, note, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (
                note_id,
                order_id,
                product_id,
                1,
                f"note {rng.randint(0, 999)}",
                "2024-05-06 07:08:09",
            ),
        )
    ]


def op_freight(rig: Rig, rng: random.Random) -> list[tuple[str, tuple[Any, ...]]]:
    """Orders cross the synthetic mapping's array filter (freight < 400) both ways."""
    order_id = rng.choice(rig.ids("SELECT order_id FROM orders"))
    return [
        ("UPDATE orders SET freight = %s WHERE order_id = %s", (rng.randint(300, 500), order_id))
    ]


OPERATIONS = [
    op_new_order,
    op_quantity,
    op_move_line,
    op_delete_order,
    op_move_order,
    op_customer,
    op_shipper,
    op_category,
    op_product_category,
    op_note,
]


# --- fixtures ---------------------------------------------------------------------------------


def _pg(
    services_settings: dict[str, str], name: str, load: Callable[[str], None]
) -> tuple[SourceSettings, Any, Any]:
    """A fresh database `name`, filled by `load(dsn)`."""
    s = services_settings
    base = dict(
        host=s["RELMIG_HOST"],
        port=int(s["RELMIG_PG_PORT"]),
        user=s["RELMIG_PG_USER"],
        password=s["RELMIG_PG_PASSWORD"],
    )
    with psycopg.connect(**base, dbname=s["RELMIG_PG_DB"], autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    load(" ".join(f"{k}={v}" for k, v in base.items()) + f" dbname={name}")
    holder: dict[str, Any] = {}

    def conn() -> psycopg.Connection[Any]:
        # Reconnect after a server restart (the resilience tests restart PostgreSQL): a
        # cheap probe, since a connection learns it is broken only when it is used.
        c = holder.get("conn")
        if c is not None and not c.closed:
            try:
                c.execute("SELECT 1")
                return c
            except psycopg.OperationalError:
                c.close()
        holder["conn"] = psycopg.connect(**base, dbname=name, autocommit=True)
        return holder["conn"]

    def execute(statements: list[tuple[str, tuple[Any, ...]]]) -> bool:
        c = conn()
        try:
            with c.transaction():
                for sql, params in statements:
                    c.execute(sql, params)
        except psycopg.errors.IntegrityError:
            return False  # e.g. a moved line that already exists in the other order
        return True

    def query(sql: str) -> list[tuple[Any, ...]]:
        return conn().execute(sql).fetchall()

    settings = SourceSettings(
        dialect="postgresql",
        host=s["RELMIG_HOST"],
        port=int(s["RELMIG_PG_PORT"]),
        database=name,
        user=s["RELMIG_PG_USER"],
        password_env="RELMIG_TEST_PG_PASSWORD",
        schemas=["public"],
    )

    def drop() -> None:
        if "conn" in holder:
            holder["conn"].close()
        # A superuser: FORCE must also end backends of other roles (e.g. an autovacuum worker).
        admin = {
            **base,
            "user": s["RELMIG_PG_ADMIN_USER"],
            "password": s["RELMIG_PG_ADMIN_PASSWORD"],
        }
        with psycopg.connect(**admin, dbname=s["RELMIG_PG_DB"], autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    return settings, (execute, query), drop


def _mysql(
    services_settings: dict[str, str], name: str, load: Callable[[dict[str, Any], str], None]
) -> tuple[SourceSettings, Any, Any]:
    """A fresh database `name`, created and filled by `load(connect params, name)`."""
    s = services_settings
    base = dict(
        host=s["RELMIG_HOST"],
        port=int(s["RELMIG_MYSQL_PORT"]),
        user=s["RELMIG_MYSQL_USER"],
        password=s["RELMIG_MYSQL_PASSWORD"],
    )
    load(base, name)
    conn = pymysql.connect(**base, database=name, autocommit=False)

    def execute(statements: list[tuple[str, tuple[Any, ...]]]) -> bool:
        try:
            with conn.cursor() as cur:
                for sql, params in statements:
                    cur.execute(sql, params)
            conn.commit()
        except pymysql.err.IntegrityError:
            conn.rollback()
            return False
        return True

    def query(sql: str) -> list[tuple[Any, ...]]:
        with conn.cursor() as cur:
            cur.execute(sql)
            rows = list(cur.fetchall())
        conn.commit()
        return rows

    settings = SourceSettings(
        dialect="mysql",
        host=s["RELMIG_HOST"],
        port=int(s["RELMIG_MYSQL_PORT"]),
        database=name,
        user=s["RELMIG_MYSQL_USER"],
        password_env="RELMIG_TEST_MYSQL_PASSWORD",
        schemas=[name],
    )

    def drop() -> None:
        conn.close()
        c = pymysql.connect(**base, autocommit=True)
        with c.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        c.close()

    return settings, (execute, query), drop


def drop_foreign_keys(dialect: str, execute, query) -> None:
    """Leave the schema without a declared foreign key, as many legacy schemas are."""
    if dialect == "postgresql":
        rows = query(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
        )
        statements = [(f'ALTER TABLE {t} DROP CONSTRAINT "{c}"', ()) for t, c in rows]
    else:
        rows = query(
            "SELECT table_name, constraint_name FROM information_schema.referential_constraints "
            "WHERE constraint_schema = DATABASE()"
        )
        statements = [(f"ALTER TABLE `{t}` DROP FOREIGN KEY `{c}`", ()) for t, c in rows]
    assert statements and execute(statements)


def make_rig(
    dialect: str,
    services_settings,
    mongo_uri: str,
    tmp_path,
    clock=None,
    scale: float = 1.0,
    modeling: str = "declared",
    route: Callable[[SourceSettings], SourceSettings] | None = None,
) -> Rig:
    """The sample with the deep mapping. `modeling="synthetic"`: no declared foreign keys;
    synthetic relationships and expressions carry the mapping (synthetic_collections).
    `route` changes how the job reaches the source (e.g. through the fault proxies); the
    rig's own workload and verify connect directly."""
    name = f"relmig_cdc_{uuid.uuid4().hex[:8]}"
    if dialect == "postgresql":
        settings, ops, drop = _pg(services_settings, name, partial(load_postgres, scale=scale))
    else:
        settings, ops, drop = _mysql(services_settings, name, partial(_sample, scale=scale))
    schema = "public" if dialect == "postgresql" else name
    if modeling == "synthetic":
        drop_foreign_keys(dialect, *ops)

        def model(p: Project) -> Project:
            assert not any(t.foreign_keys for t in p.tables)
            return p.model_copy(
                update={
                    "relationships": synthetic_relationships(schema),
                    "collections": synthetic_collections(schema),
                }
            )
    else:

        def model(p: Project) -> Project:
            return p.model_copy(update={"collections": deep_collections(p, schema)})

    routed = route(settings) if route else settings
    rig = _assemble(dialect, settings, routed, model, ops, drop, mongo_uri, tmp_path, clock)
    if modeling == "synthetic":
        rig.operations.append(op_freight)
    return rig


def _sample(base: dict[str, Any], name: str, scale: float) -> None:
    load_mysql(base["host"], base["port"], base["user"], base["password"], name, scale=scale)


def make_mysql_rig(
    services_settings,
    mongo_uri: str,
    tmp_path,
    load: Callable[[pymysql.connections.Connection], None],
    collections: Callable[[Project], list[CollectionRule]],
) -> Rig:
    """A MariaDB database of the test's own (`load(connection)` creates its tables and rows)."""
    name = f"relmig_cdc_{uuid.uuid4().hex[:8]}"

    def create(base: dict[str, Any], name: str) -> None:
        conn = pymysql.connect(**base, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE {name}")
            conn.select_db(name)
            load(conn)
        finally:
            conn.close()

    settings, ops, drop = _mysql(services_settings, name, create)

    def model(p: Project) -> Project:
        return p.model_copy(update={"collections": collections(p)})

    return _assemble("mysql", settings, settings, model, ops, drop, mongo_uri, tmp_path, None)


def make_pg_rig(
    services_settings,
    mongo_uri: str,
    tmp_path,
    load: Callable[[str], None],
    collections: Callable[[Project], list[CollectionRule]],
) -> Rig:
    """A PostgreSQL database of the test's own (`load(dsn)` creates its tables and rows)."""
    name = f"relmig_cdc_{uuid.uuid4().hex[:8]}"
    settings, ops, drop = _pg(services_settings, name, load)

    def model(p: Project) -> Project:
        return p.model_copy(update={"collections": collections(p)})

    return _assemble("postgresql", settings, settings, model, ops, drop, mongo_uri, tmp_path, None)


def _assemble(
    dialect: str,
    settings: SourceSettings,
    routed: SourceSettings,
    model: Callable[[Project], Project],
    ops: Any,
    drop: Callable[[], None],
    mongo_uri: str,
    tmp_path,
    clock,
) -> Rig:
    execute, query = ops
    name = settings.database
    project = model(Project(name="cdc", source=routed, tables=import_tables(settings)))
    project = Project.model_validate(project.model_dump(by_alias=True))
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    manager = JobManager(store, clock) if clock else JobManager(store)
    fix = manager.check(project)
    if fix is not None:
        for line in fix.splitlines():
            if not line.startswith("--"):
                execute([(line, ())])
    rig = Rig(dialect, settings, project, store, manager, mongo_uri, name, execute, query)
    rig._drop = drop  # type: ignore[attr-defined]
    return rig


def cleanup_rig(r: Rig) -> None:
    for job_id in r.jobs:
        job = r.store.job(job_id)
        if job and job["status"] in ("RUNNING", "CANCELLING"):
            r.manager.cancel(job_id)
            r.manager.wait(job_id, 30)
        elif job and not job["slot_dropped"] and job["mode"] != "snapshot":
            capture = open_capture(r.project, job_id)
            capture.cleanup()
            capture.close()
    target = MongoTarget(r.target_uri, r.target_db)
    target.client.drop_database(r.target_db)
    target.close()
    r.store.close()
    r._drop()  # type: ignore[attr-defined]
