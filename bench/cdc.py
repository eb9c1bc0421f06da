"""CDC from PostgreSQL (pgoutput): relmig's continuous job against a pymongo ceiling, same data.

    .venv/bin/python bench/cdc.py             # default run (~5 min), writes docs/benchmarks.md
    .venv/bin/python bench/cdc.py --quick     # smoke run (~2 min), prints only
    .venv/bin/python bench/cdc.py --profile   # cProfile the job process (main and reader threads)

The CDC test rig (tests/cdc_rig.py) makes a fresh PostgreSQL database with the sample schema
(`make_rig`); this script adds `bench_flat` and scales `orders`/`order_details` up, and maps:

flat      `bench_flat` → collection `flat`, one document per row.
nested    `orders` → collection `orders` with `order_details` as the array `lines` and `shippers`
          as the sub-document `shipper` (so one shipper row sits in many documents: fan-out).

Per case one `relmig sync --mode continuous` runs in a child process (snapshot, then CDC), and:

throughput   a burst of `--events` row changes (transactions of 10-100: updates, inserts and as
             many deletes, so the collection keeps its size) committed while the job process is
             stopped (SIGSTOP: the pipeline paused, nothing read; "load s" is how long the
             source took), then timed from the job's release (SIGCONT) until caught up:
             events/s = events / (caught up - release), apply throughput on one clock with the
             ceilings. "Caught up" is when the job's saved position passes a `capture.mark()`
             emitted after the burst, as the rig does. Its lag p99 counts from the release.
ceiling      in this process, the same transition written straight with pymongo: the target
             collection as it was before the burst is copied to a scratch collection, then the
             burst's distinct roots are replaced by their final documents (read back from
             relmig's collection), 1000 per `delete_many({_id: {$in}})` + `insert_many`, the
             cheapest idempotent replace FerretDB v1 has (its replace/update commands stall).
end-to-end   the ceiling above after reading the burst's WAL from a slot of its own (created
             before the burst, read after relmig caught up) with the least code that can:
             psycopg2's replication connection, each pgoutput message decoded into tuples of
             text by relmig's decoder, up to a logical message emitted after the burst. Read +
             write in sequence on one clock: the physical limit of this machine for the burst.
$set         (flat only) the issue's naive baseline: each change as an `UpdateOne($set,
             upsert=True)` (a `DeleteOne` for a delete), no routing, ≤ 50 per command (100+
             matching updates per command wedge FerretDB v1), timed on the first `--set-events`.
lag          a paced load (`--lag-rate` transactions/s of `--lag-txn` rows); the job process
             logs, per source transaction, its commit time (from pgoutput) and the wall time at
             which `ChangeApplier.apply` returned for its batch (the target write is durable
             then); lag = the difference, same host clock; p50/p99 over the transactions.
fan-out      (nested) one `UPDATE shippers` touching n orders: commit → applied, from the same
             log, against the ceiling writing the n final documents.
recovery     under the paced load the job process is SIGKILLed, the load goes on for `--down`
             seconds, then `relmig jobs resume` starts (a child process): time until the job's
             position passes a mark emitted at resume.
verify       the rig's `verify` (target against a fresh snapshot of the source) after each phase
             and after `relmig jobs complete`; a difference is reported, not fatal.

The job process is relmig's own CLI started through a few lines (CHILD below) that add the lag
log and, with `--profile`, cProfile on every thread. Its RSS is sampled every 50 ms with psutil.
Services from `dev/services up`, settings from dev/ports.env. The databases, slots and
publications are dropped at the end, also on errors.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import io
import os
import pstats
import random
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
import psycopg2
from psycopg2.extras import LogicalReplicationConnection
from pymongo import DeleteOne, MongoClient, UpdateOne
from pymongo.write_concern import WriteConcern

REPO = Path(__file__).resolve().parents[1]
# bench/snapshot.py's helpers and the CDC test rig (tests/cdc_rig.py) are imported, not copied.
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from bench.snapshot import (  # noqa: E402
    BenchError,
    RssSampler,
    Services,
    _first_line,
    _mb,
    bench_main,
    dev_settings,
    machine_note,
    source_revision,
    write_block,
)

import relmig  # noqa: E402
from cdc_rig import Rig, cleanup_rig, fk, make_rig  # noqa: E402
from relmig.project.file import save_project  # noqa: E402
from relmig.project.model import CollectionRule, EmbedRule, Project  # noqa: E402
from relmig.schema.introspect import import_tables  # noqa: E402
from relmig.source import pgoutput  # noqa: E402
from relmig.source.capture import ChangeCapture, open_capture  # noqa: E402
from relmig.source.pg_capture import slot_name  # noqa: E402

BEGIN = "<!-- bench/cdc.py results: begin (generated, do not edit by hand) -->"
END = "<!-- bench/cdc.py results: end -->"
PASSWORD_ENV = "RELMIG_TEST_PG_PASSWORD"  # what the rig's SourceSettings name
GENERATED = 100_000  # first key of the generated orders (the sample's are below)
NEW = 10_000_000  # first key of rows the workload inserts
FANOUT_SHIPPER = 100  # fan-out shipper i has key FANOUT_SHIPPER + i
E2E = "end-to-end ceiling"  # the burst's WAL read and decoded, then the write-only ceiling
CEILING_CHUNK = 1000  # documents per ceiling write, as relmig's CHUNK of roots
# The files of relmig's CDC path, for the profile's cumulative listing.
RELMIG_FILES = r"(writer|applier|builder|router|cdc|store|gate|pg_capture|pgoutput|inprocess)\.py"
SET_CHUNK = 50  # $set upserts per command (FerretDB v1 wedges at 100+ matching ones)

# The job process: relmig's CLI plus a lag log and, optionally, cProfile on every thread.
CHILD = r"""
import cProfile, os, sys, threading, time
lag_path, profile_dir = sys.argv[1:3]
sys.argv = ["relmig", *sys.argv[3:]]
from relmig.apply.applier import ChangeApplier
from relmig.cli.app import main

log = open(lag_path, "a", buffering=1)
apply = ChangeApplier.apply

def logged_apply(self, transactions):
    txns = list(transactions)
    out = apply(self, txns)
    now = time.time()
    log.write("".join(
        f"{t.commit_time.timestamp():.6f} {now:.6f} {len(t.changes)}\n" for t in txns if t.changes
    ))
    return out

ChangeApplier.apply = logged_apply
profiles = []
if profile_dir:
    run = threading.Thread.run
    def profiled_run(self):
        p = cProfile.Profile()
        profiles.append((self.name, p))
        p.enable()
        try:
            run(self)
        finally:
            p.disable()
    threading.Thread.run = profiled_run
    main_profile = cProfile.Profile()
    profiles.append(("main", main_profile))
    main_profile.enable()
try:
    main()
finally:
    for i, (name, p) in enumerate(profiles):
        p.disable()
        p.dump_stats(os.path.join(profile_dir, f"{i:02d}-{name}.prof"))
"""


class CdcServices(Services):
    """snapshot.py's Services, connecting to the given database or the default one."""

    def pg_connect(self, dbname: str | None = None) -> psycopg.Connection[Any]:
        return super().pg_connect(dbname or self.pg_admin_db)


# --- workloads ------------------------------------------------------------------------------


class Workload:
    """Source transactions of one case; `txn` returns the root key of each row change."""

    def __init__(self, conn: psycopg.Connection[Any], rng: random.Random) -> None:
        self.conn = conn
        self.rng = rng
        self.next_id = NEW

    def txn(self, size: int) -> list[Any]:
        raise NotImplementedError

    def burst(self, events: int, low: int, high: int) -> list[Any]:
        keys: list[Any] = []
        while len(keys) < events:
            keys += self.txn(min(self.rng.randint(low, high), max(events - len(keys), low)))
        return keys

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return [r[0] for r in self.conn.execute(sql, params).fetchall()]


class FlatWorkload(Workload):
    """Updates, inserts and as many deletes on `bench_flat`."""

    def __init__(self, conn: psycopg.Connection[Any], rng: random.Random, rows: int) -> None:
        super().__init__(conn, rng)
        self.live = list(range(1, rows + 1))

    def txn(self, size: int) -> list[Any]:
        deletes = round(size * 0.15)
        updates = size - 2 * deletes
        picked = self.rng.sample(self.live, updates + deletes)
        gone = picked[updates:]
        new = list(range(self.next_id, self.next_id + deletes))
        self.next_id += deletes
        with self.conn.transaction():
            keys = self._rows(
                "UPDATE bench_flat SET seq = seq + 1, qty = (qty + 7) %% 1000, "
                "price = price + 0.01, updated = clock_timestamp() WHERE id = ANY(%s) RETURNING id",
                (picked[:updates],),
            )
            keys += self._rows(
                "INSERT INTO bench_flat (id, name, qty, price, updated, note) "
                "SELECT g, 'new-' || g, g %% 1000, (g %% 100000) / 100.0, clock_timestamp(), "
                "md5(g::text) FROM unnest(%s::bigint[]) g RETURNING id",
                (new,),
            )
            keys += self._rows("DELETE FROM bench_flat WHERE id = ANY(%s) RETURNING id", (gone,))
        dead = set(gone)
        self.live = [k for k in self.live if k not in dead] + new
        return keys


class NestedWorkload(Workload):
    """Line quantity and order freight updates, new orders with 4 lines, deleted orders.

    Orders of the fan-out shippers are left alone, so each of them keeps its n orders.
    """

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        rng: random.Random,
        lines: dict[int, list[int]],
        customers: list[str],
        products: list[int],
    ) -> None:
        super().__init__(conn, rng)
        self.lines = lines  # order → its products, orders of shippers 1-3 only
        self.customers = customers
        self.products = products

    def txn(self, size: int) -> list[Any]:
        rng = self.rng
        moves = round(size * 0.03)  # new orders and deleted orders (5-6 events each)
        updates = max(size - 10 * moves, 1)
        order_updates = round(updates * 0.15)
        orders = [o for o, ps in self.lines.items() if ps]
        pairs: set[tuple[int, int]] = set()
        while len(pairs) < updates - order_updates:
            o = rng.choice(orders)
            pairs.add((o, rng.choice(self.lines[o])))
        freight = rng.sample(orders, order_updates)
        gone = rng.sample([o for o in orders if o >= GENERATED], moves)
        new = list(range(self.next_id, self.next_id + moves))
        self.next_id += moves
        new_lines = [(o, p) for o in new for p in rng.sample(self.products, 4)]
        with self.conn.transaction():
            keys = self._rows(
                "UPDATE order_details d SET quantity = d.quantity %% 50 + 1 "
                "FROM unnest(%s::int[], %s::int[]) AS k(o, p) "
                "WHERE d.order_id = k.o AND d.product_id = k.p RETURNING d.order_id",
                ([o for o, _ in pairs], [p for _, p in pairs]),
            )
            keys += self._rows(
                "UPDATE orders SET freight = freight + 1 WHERE order_id = ANY(%s) "
                "RETURNING order_id",
                (freight,),
            )
            keys += self._rows(
                "INSERT INTO orders (order_id, customer_id, sold_by, order_date, ship_via, "
                "freight, ship_name) SELECT o, c, 1, now(), 1 + o %% 3, 9.99, 'Ship ' || o "
                "FROM unnest(%s::int[], %s::text[]) AS n(o, c) RETURNING order_id",
                (new, [rng.choice(self.customers) for _ in new]),
            )
            keys += self._rows(
                "INSERT INTO order_details (order_id, product_id, unit_price, quantity, discount) "
                "SELECT o, p, 12.5, 3, 0 FROM unnest(%s::int[], %s::int[]) AS n(o, p) "
                "RETURNING order_id",
                ([o for o, _ in new_lines], [p for _, p in new_lines]),
            )
            keys += self._rows(
                "DELETE FROM order_details WHERE order_id = ANY(%s) RETURNING order_id", (gone,)
            )
            keys += self._rows(
                "DELETE FROM orders WHERE order_id = ANY(%s) RETURNING order_id", (gone,)
            )
        for o in gone:
            del self.lines[o]
        for o, p in new_lines:
            self.lines.setdefault(o, []).append(p)
        return keys


class PacedWriter(threading.Thread):
    """`rate` transactions of `size` changes per second until stopped; commit times kept."""

    def __init__(self, workload: Workload, rate: float, size: int) -> None:
        super().__init__(name="paced-writer", daemon=True)
        self.workload = workload
        self.rate = rate
        self.size = size
        self.halt = threading.Event()
        self.commits: list[tuple[float, int]] = []  # (monotonic time after commit, events)
        self.error: BaseException | None = None

    def run(self) -> None:
        start = time.monotonic()
        n = 0
        try:
            while not self.halt.is_set():
                delay = start + n / self.rate - time.monotonic()
                if delay > 0 and self.halt.wait(delay):
                    break
                keys = self.workload.txn(self.size)
                self.commits.append((time.monotonic(), len(keys)))
                n += 1
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def events_between(self, start: float, end: float) -> int:
        return sum(n for t, n in self.commits if start <= t <= end)

    def stop(self) -> None:
        self.halt.set()
        self.join(60)
        if self.error is not None:
            raise BenchError(f"the paced load failed: {_first_line(self.error)}")


# --- the job process ------------------------------------------------------------------------


class ChildRss(RssSampler):
    """snapshot.py's sampler, on another process, ending quietly when it exits."""

    def __init__(self, pid: int) -> None:
        super().__init__()
        self.proc = psutil.Process(pid)

    def run(self) -> None:
        with contextlib.suppress(psutil.Error):
            super().run()

    def peak(self, start: float, end: float) -> int:
        return max((r for _, r in self.between(start, end)), default=0)


class JobProcess:
    """One relmig CLI process running a job (see CHILD), with its RSS sampled."""

    def __init__(self, lab: Lab, args: list[str], profile_dir: Path | None = None) -> None:
        self.lab = lab
        self.log = lab.home / f"job-{len(lab.processes)}.log"
        cmd = [sys.executable, "-c", CHILD, str(lab.lag_log), str(profile_dir or "")]
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                [*cmd, *args], env=lab.env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO
            )
        self.rss = ChildRss(self.popen.pid)
        self.rss.start()
        lab.processes.append(self)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(30)  # reaped, so its pid is dead for the next process's stale check
        self.rss.halt.set()

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
        return ""


# --- the lab: database, cases, waits --------------------------------------------------------


@dataclass
class Case:
    key: str  # "flat" or "nested"
    label: str
    collection: str
    rig: Rig  # the test rig with this case's project
    workload: Workload
    job_id: str = ""
    job: JobProcess | None = None
    capture: ChangeCapture | None = None


@dataclass
class Lab:
    svc: CdcServices
    args: argparse.Namespace
    rig: Rig
    home: Path
    client: MongoClient[dict[str, Any]]
    processes: list[JobProcess] = field(default_factory=list)
    captures: list[ChangeCapture] = field(default_factory=list)
    conns: list[psycopg.Connection[Any]] = field(default_factory=list)

    @property
    def lag_log(self) -> Path:
        return self.home / "lag.log"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RELMIG_HOME": str(self.home),
            "RELMIG_STATE_URL": self.rig.store.url,
            PASSWORD_ENV: self.svc.pg_password,
        }

    @property
    def db(self) -> Any:
        return self.client.get_database(self.rig.target_db, write_concern=WriteConcern("majority"))

    def connect(self) -> psycopg.Connection[Any]:
        conn = self.svc.pg_connect(self.rig.target_db)  # the rig names both databases alike
        self.conns.append(conn)
        return conn

    # -- waits -------------------------------------------------------------------------------

    def until(
        self,
        case: Case,
        ok: Callable[[dict[str, Any]], bool],
        what: str,
        *,
        failed_ok: bool = False,
    ) -> float:
        """Poll the state store every 20 ms until `ok(job)`; the time it first held."""
        deadline = time.monotonic() + self.args.timeout
        while True:
            job = self.rig.store.job(case.job_id) if case.job_id else None
            if job is not None and ok(job):
                return time.monotonic()
            proc = case.job
            if proc is not None and proc.popen.poll() is not None:
                raise BenchError(
                    f"{case.key}: the job process exited ({proc.popen.returncode}) while waiting "
                    f"for {what}:\n{proc.tail()}"
                )
            if job is not None and job["status"] == "FAILED" and not failed_ok:
                raise BenchError(f"{case.key}: the job failed: {job['failure']}")
            if time.monotonic() > deadline:
                raise BenchError(f"{case.key}: no {what} after {self.args.timeout:.0f} s")
            time.sleep(0.02)

    def caught_up(self, case: Case, what: str = "catch-up") -> float:
        """Like the rig's `caught_up`: until the position passes a mark emitted now."""
        assert case.capture is not None
        capture, mark = case.capture, case.capture.mark()
        return self.until(
            case, lambda j: j["position"] is not None and capture.reached(j["position"], mark), what
        )

    def lag_lines(self) -> list[tuple[float, float, int]]:
        """(commit time, applied time, changes) per transaction the job processes applied."""
        if not self.lag_log.exists():
            return []
        out = []
        for line in self.lag_log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3:
                out.append((float(parts[0]), float(parts[1]), int(parts[2])))
        return out

    # -- setup -------------------------------------------------------------------------------

    def load_data(self) -> tuple[list[str], list[int]]:
        """bench_flat and the scaled orders; the customer and product keys."""
        a = self.args
        with self.connect() as conn:
            conn.execute(
                """CREATE TABLE bench_flat (id bigint PRIMARY KEY, seq bigint NOT NULL DEFAULT 0,
                    name text NOT NULL, qty int NOT NULL, price numeric(10,2) NOT NULL,
                    updated timestamptz NOT NULL, note text)"""
            )
            conn.execute(
                "INSERT INTO bench_flat (id, name, qty, price, updated, note) "
                "SELECT g, 'name-' || g, g %% 1000, (g %% 100000) / 100.0, "
                "timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second', "
                "CASE WHEN g %% 10 = 0 THEN NULL ELSE md5(g::text) END "
                "FROM generate_series(1, %s) g",
                (a.rows,),
            )
            customers = [r[0] for r in conn.execute("SELECT customer_id FROM customers")]
            products = [r[0] for r in conn.execute("SELECT product_id FROM products")]
            sample = conn.execute("SELECT count(*) FROM orders").fetchone()[0]  # type: ignore[index]
            extra = a.orders - sample
            if extra < sum(a.fanout):
                raise BenchError(
                    f"--orders {a.orders} leaves {extra} orders beyond the sample's {sample}, "
                    f"fewer than the fan-out sizes need ({sum(a.fanout)})"
                )
            ids = list(range(GENERATED, GENERATED + extra))
            ship = [FANOUT_SHIPPER + i for i, n in enumerate(a.fanout) for _ in range(n)]
            ship += [1 + o % 3 for o in ids[len(ship) :]]
            rng = random.Random(a.seed)
            conn.execute(
                "INSERT INTO shippers (shipper_id, company_name, phone) "
                "SELECT s, 'Fan-out ' || s, '+1 555 0000' FROM unnest(%s::int[]) s",
                ([FANOUT_SHIPPER + i for i in range(len(a.fanout))],),
            )
            conn.execute(
                "INSERT INTO orders (order_id, customer_id, sold_by, order_date, ship_via, "
                "freight, ship_name, ship_city, ship_country) "
                "SELECT o, c, 1, timestamp '2024-01-01' + (o %% 100000) * interval '17 minutes', "
                "s, (o %% 50000) / 100.0, 'Ship ' || o, 'City', 'Country' "
                "FROM unnest(%s::int[], %s::text[], %s::int[]) AS g(o, c, s)",
                (ids, [rng.choice(customers) for _ in ids], ship),
            )
            lines = [(o, p) for o in ids for p in rng.sample(products, 5)]
            conn.execute(
                "INSERT INTO order_details (order_id, product_id, unit_price, quantity, discount) "
                "SELECT o, p, (o %% 9000) / 100.0 + 1, 1 + (o + p) %% 40, 0 "
                "FROM unnest(%s::int[], %s::int[]) AS l(o, p)",
                ([o for o, _ in lines], [p for _, p in lines]),
            )
            conn.execute("VACUUM ANALYZE")
        return customers, products

    def project(self, name: str, collections: Callable[[Project], list[CollectionRule]]) -> Project:
        settings = self.rig.settings
        project = Project(name=name, source=settings, tables=import_tables(settings))
        project = project.model_copy(update={"collections": collections(project)})
        project = Project.model_validate(project.model_dump(by_alias=True))
        fix = self.rig.manager.check(project)  # the rig fixed the deep mapping's tables already
        if fix is not None:
            raise BenchError(f"the source is not ready for CDC:\n{fix}")
        return project

    def cases(self) -> list[Case]:
        customers, products = self.load_data()
        rows = self.args.rows
        out: list[Case] = []
        if self.args.only in (None, "flat"):
            project = self.project(
                "bench-flat",
                lambda _p: [CollectionRule(name="flat", table="public.bench_flat")],
            )
            rng = random.Random(self.args.seed)
            out.append(
                Case(
                    "flat",
                    f"flat: bench_flat → flat, {rows:,} documents",
                    "flat",
                    dataclasses.replace(self.rig, project=project),
                    FlatWorkload(self.connect(), rng, rows),
                )
            )
        if self.args.only in (None, "nested"):

            def nested(p: Project) -> list[CollectionRule]:
                return [
                    CollectionRule(
                        name="orders",
                        table="public.orders",
                        embeds=[
                            EmbedRule(
                                kind="document",
                                table="public.shippers",
                                foreign_key=fk(p, "public.orders", ["ship_via"]),
                                field="shipper",
                            ),
                            EmbedRule(
                                kind="array",
                                table="public.order_details",
                                foreign_key=fk(p, "public.order_details", ["order_id"]),
                                field="lines",
                            ),
                        ],
                    )
                ]

            project = self.project("bench-nested", nested)
            conn = self.connect()
            lines: dict[int, list[int]] = {}
            for o, p in conn.execute(
                "SELECT o.order_id, d.product_id FROM orders o LEFT JOIN order_details d "
                "USING (order_id) WHERE o.ship_via IS NOT NULL AND o.ship_via < %s",
                (FANOUT_SHIPPER,),
            ):
                ps = lines.setdefault(o, [])
                if p is not None:
                    ps.append(p)
            n_lines = conn.execute("SELECT count(*) FROM order_details").fetchone()[0]  # type: ignore[index]
            rng = random.Random(self.args.seed + 1)
            out.append(
                Case(
                    "nested",
                    f"nested: orders + lines[] + shipper{{}} → orders, {self.args.orders:,} "
                    f"documents, {n_lines:,} lines",
                    "orders",
                    dataclasses.replace(self.rig, project=project),
                    NestedWorkload(conn, rng, lines, customers, products),
                )
            )
        return out

    def start_job(self, case: Case, profile_dir: Path | None = None) -> float:
        """`relmig sync --mode continuous` in a child; returns the seconds to stream."""
        path = self.home / f"{case.key}.yaml"
        save_project(case.rig.project, path)
        known = {j["id"] for j in self.rig.store.list_jobs()}
        started = time.monotonic()
        case.job = JobProcess(
            self,
            ["sync", str(path), "--target", self.rig.target_uri, "--database", self.rig.target_db],
            profile_dir,
        )
        while not case.job_id:
            new = [j["id"] for j in self.rig.store.list_jobs() if j["id"] not in known]
            if new:
                case.job_id = new[0]
                self.rig.jobs.append(case.job_id)
            elif case.job.popen.poll() is not None:
                raise BenchError(f"{case.key}: relmig sync exited:\n{case.job.tail()}")
            elif time.monotonic() - started > self.args.timeout:
                raise BenchError(f"{case.key}: relmig sync made no job")
            else:
                time.sleep(0.05)
        case.capture = open_capture(case.rig.project, case.job_id)
        self.captures.append(case.capture)
        self.until(case, lambda j: j["stage"] == "CDC" and j["cdc_status"] == "RUNNING", "CDC")
        return self.caught_up(case, "the end of the snapshot") - started

    def complete(self, case: Case) -> None:
        assert case.job is not None
        self.rig.manager.complete(case.job_id)
        try:
            case.job.popen.wait(self.args.timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{case.key}: the job did not complete") from None
        job = self.rig.store.job(case.job_id) or {}
        if job.get("status") != "COMPLETED":
            raise BenchError(f"{case.key}: the job ended {job.get('status')}: {job.get('failure')}")

    def cleanup(self) -> None:
        """Child processes, then slots (PostgreSQL cannot drop a database that has one)."""
        for proc in self.processes:
            with contextlib.suppress(Exception):
                proc.kill()
        for closer in [c.close for c in self.captures] + [c.close for c in self.conns]:
            with contextlib.suppress(Exception):
                closer()
        store = self.rig.store
        with contextlib.suppress(Exception):
            self.rig.manager.recover_stale()
        with self.connect() as conn:
            for job_id in self.rig.jobs:
                job = store.job(job_id)
                if job is None or job["slot_dropped"]:
                    continue
                name = slot_name(job_id)
                deadline = time.monotonic() + 30
                while (
                    time.monotonic() < deadline
                    and conn.execute(
                        "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s AND active",
                        (name,),
                    ).fetchone()
                ):
                    time.sleep(0.2)
        cleanup_rig(self.rig)


# --- measurements ---------------------------------------------------------------------------


class WalSlot:
    """The read half of the end-to-end ceiling: a slot of its own, created before the burst,
    read by the least code that can (psycopg2's replication connection, each pgoutput message
    decoded into tuples of text by relmig's decoder, no value conversion) up to a logical
    message emitted after the burst."""

    PREFIX = "bench.ceiling"

    def __init__(self, lab: Lab, publication: str) -> None:
        self.lab, self.publication = lab, publication
        self.name = f"bench_wal_{os.getpid()}_{time.monotonic_ns() % 10**9}"
        with lab.connect() as conn:
            conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (self.name,))
        self.messages = 0
        self.conn: Any = None
        self.cur: Any = None

    def mark(self) -> None:
        with self.lab.connect() as conn:
            conn.execute("SELECT pg_logical_emit_message(true, %s, '')", (self.PREFIX,))

    def start(self) -> None:
        """Connect and start replication: start-up, outside the clock."""
        svc = self.lab.svc
        self.conn = conn = psycopg2.connect(
            host=svc.host,
            port=svc.pg_port,
            dbname=self.lab.rig.target_db,
            user=svc.pg_user,
            password=svc.pg_password,
            connection_factory=LogicalReplicationConnection,
        )
        self.cur = cur = conn.cursor()
        cur.start_replication(
            slot_name=self.name,
            decode=False,
            options={
                "proto_version": "1",
                "publication_names": self.publication,
                "messages": "true",
            },
        )

    def read(self) -> None:
        conn, cur = self.conn, self.cur
        try:
            decoder = pgoutput.Decoder()
            while True:
                msg = cur.read_message()
                if msg is None:
                    select.select([conn], [], [], 0.01)
                    continue
                m = decoder.decode(msg.payload)
                self.messages += 1
                if isinstance(m, pgoutput.LogicalMessage) and m.prefix == self.PREFIX:
                    return
        finally:
            conn.close()

    def drop(self) -> None:
        with self.lab.connect() as conn:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (self.name,))


@dataclass(slots=True)
class Throughput:
    case: str
    run: int
    engine: str  # "relmig", "ceiling" or "$set"
    events: int
    docs: int  # documents written: distinct roots per chunk (ceiling), one per change ($set)
    seconds: float
    load_seconds: float | None = None
    rss_peak: int | None = None
    lag_p99: float | None = None
    batches: int | None = None  # apply calls of the job for the burst

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass(slots=True)
class Lag:
    case: str
    txns: int
    rate: float
    size: int
    lags: list[float]
    rss_peak: int


@dataclass(slots=True)
class Fanout:
    run: int
    roots: int
    relmig: float
    ceiling: float


@dataclass(slots=True)
class Recovery:
    case: str
    run: int
    down: float
    backlog: int
    claimed: float  # resume → the new process owns the job
    checkpoint: float  # resume → the first position the resumed job saved
    caught_up: float  # resume → position past the mark emitted at resume
    rss_peak: int


@dataclass
class Bench:
    lab: Lab
    args: argparse.Namespace
    throughput: list[Throughput] = field(default_factory=list)
    lags: list[Lag] = field(default_factory=list)
    fanouts: list[Fanout] = field(default_factory=list)
    recoveries: list[Recovery] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def db(self) -> Any:
        return self.lab.db

    # -- throughput --------------------------------------------------------------------------

    def burst(self, case: Case, run: int, engine: str) -> tuple[dict[Any, Any], list[Any], WalSlot]:
        """Load `--events` changes while the job process is stopped (SIGSTOP: the pipeline
        paused, nothing read), then time relmig from its release (SIGCONT) until caught up:
        apply throughput, not the source's load speed. Returns the state before, the keys and
        a slot that holds the burst's WAL for the end-to-end ceiling."""
        assert case.job is not None and case.capture is not None
        before = {d["_id"]: d for d in self.db[case.collection].find({})}
        wal = WalSlot(self.lab, case.capture.publication)
        wall = time.time()
        case.job.popen.send_signal(signal.SIGSTOP)
        try:
            load_start = time.monotonic()
            keys = case.workload.burst(self.args.events, self.args.txn_min, self.args.txn_max)
            loaded = time.monotonic() - load_start
            wal.mark()
        finally:
            released = time.time()
            start = time.monotonic()
            case.job.popen.send_signal(signal.SIGCONT)
        end = self.lab.caught_up(case, f"the burst ({engine})")
        applied = [(c, a) for c, a, _ in self.lab.lag_lines() if c >= wall]
        lags = [a - max(c, released) for c, a in applied]  # from the release
        row = Throughput(
            case.key,
            run,
            engine,
            len(keys),
            0,  # not known from outside the job process
            end - start,
            loaded,
            case.job.rss.peak(start, end),
            _quantile(lags, 0.99),
            len({a for _, a in applied}),
        )
        self.throughput.append(row)
        self.report(row)
        return before, keys, wal

    def scratch(self, case: Case, docs: list[dict[str, Any]]) -> Any:
        """A copy of `docs` in `<collection>_ceiling`, with the collection's indexes."""
        name = f"{case.collection}_ceiling"
        self.db.drop_collection(name)
        coll = self.db[name]
        for index, info in self.db[case.collection].index_information().items():
            if index != "_id_":
                coll.create_index(info["key"], name=index, unique=bool(info.get("unique")))
        for i in range(0, len(docs), 1000):
            coll.insert_many(docs[i : i + 1000], ordered=False)
        return coll

    def ceiling(
        self,
        case: Case,
        run: int,
        before: dict[Any, Any],
        keys: list[Any],
        final: dict[Any, Any],
        wal: WalSlot | None = None,
    ) -> Throughput:
        """The burst's distinct roots, final documents only, 1000 per delete + insert; with
        `wal`, after reading and decoding the burst's WAL (the end-to-end ceiling)."""
        coll = self.scratch(case, list(before.values()))
        roots = list(dict.fromkeys(keys))
        written = 0
        if wal is not None:
            wal.start()
        start = time.monotonic()
        if wal is not None:
            wal.read()
        for i in range(0, len(roots), CEILING_CHUNK):
            chunk = roots[i : i + CEILING_CHUNK]
            coll.delete_many({"_id": {"$in": chunk}})
            docs = [final[k] for k in chunk if k in final]
            if docs:
                coll.insert_many(docs, ordered=False)
            written += len(docs)
        name = E2E if wal is not None else "ceiling"
        row = Throughput(case.key, run, name, len(keys), written, time.monotonic() - start)
        self.db.drop_collection(coll.name)
        self.throughput.append(row)
        self.report(row)
        return row

    def set_upserts(
        self, case: Case, run: int, before: dict[Any, Any], keys: list[Any], final: dict[Any, Any]
    ) -> None:
        """The issue's naive baseline: one `$set` upsert (or delete) per change, no routing."""
        coll = self.scratch(case, list(before.values()))
        sample = keys[: self.args.set_events]
        ops: list[Any] = [
            UpdateOne(
                {"_id": k}, {"$set": {f: v for f, v in final[k].items() if f != "_id"}}, upsert=True
            )
            if k in final
            else DeleteOne({"_id": k})
            for k in sample
        ]
        start = time.monotonic()
        for i in range(0, len(ops), SET_CHUNK):
            coll.bulk_write(ops[i : i + SET_CHUNK], ordered=True)
        row = Throughput(
            case.key,
            run,
            "$set",
            len(sample),
            len(sample),
            time.monotonic() - start,
        )
        self.db.drop_collection(coll.name)
        self.throughput.append(row)
        self.report(row)

    def throughput_runs(self, case: Case) -> None:
        print(f"  throughput: {self.args.repeat} x {self.args.events:,} events", flush=True)
        for run in range(1, self.args.repeat + 1):
            before, keys, wal = self.burst(case, run, "relmig")
            final = {
                d["_id"]: d
                for d in self.db[case.collection].find({"_id": {"$in": list(set(keys))}})
            }
            try:
                self.ceiling(case, run, before, keys, final, wal)
            finally:
                wal.drop()
            self.ceiling(case, run, before, keys, final)
            if case.key == "flat" and self.args.set_events and run == 1:  # slow: one run
                self.set_upserts(case, run, before, keys, final)

    # -- lag ---------------------------------------------------------------------------------

    def lag(self, case: Case) -> None:
        assert case.job is not None
        a = self.args
        print(
            f"  lag: {a.lag_rate:g} txns/s of {a.lag_txn} rows for {a.lag_seconds:g} s", flush=True
        )
        writer = PacedWriter(case.workload, a.lag_rate, a.lag_txn)
        wall = time.time()
        start = time.monotonic()
        writer.start()
        time.sleep(a.lag_seconds)
        writer.stop()
        end_wall = time.time()
        end = self.lab.caught_up(case, "the paced load")
        lags = [ap - c for c, ap, _ in self.lab.lag_lines() if wall <= c <= end_wall]
        row = Lag(
            case.key,
            len(writer.commits),
            a.lag_rate,
            a.lag_txn,
            lags,
            case.job.rss.peak(start, end),
        )
        self.lags.append(row)
        if len(lags) != len(writer.commits):
            self.notes.append(
                f"{case.key} lag: {len(lags)} of {len(writer.commits)} transactions in the log"
            )
        print(
            f"    {len(lags)} txns: p50 {_ms(_quantile(lags, 0.5))}, "
            f"p99 {_ms(_quantile(lags, 0.99))}, max {_ms(max(lags, default=None))}",
            flush=True,
        )

    # -- fan-out -----------------------------------------------------------------------------

    def fanout(self, case: Case) -> None:
        print(f"  fan-out: shippers of {', '.join(map(str, self.args.fanout))} orders", flush=True)
        # The ceiling replaces the same documents in a copy of the collection (same size).
        coll = self.scratch(case, list(self.db[case.collection].find({})))
        for run in range(1, self.args.repeat + 1):
            for i, n in enumerate(self.args.fanout):
                shipper = FANOUT_SHIPPER + i
                seen = len(self.lab.lag_lines())
                wall = time.time()
                with self.lab.connect() as conn:
                    conn.execute(
                        "UPDATE shippers SET phone = %s WHERE shipper_id = %s",
                        (f"+1 555 {run:02d}{i:02d}", shipper),
                    )
                self.lab.caught_up(case, f"the fan-out to {n} orders")
                mine = [
                    (c, ap) for c, ap, k in self.lab.lag_lines()[seen:] if k == 1 and c >= wall - 1
                ]
                if len(mine) != 1:
                    raise BenchError(f"fan-out {n}: {len(mine)} one-change transactions logged")
                relmig = mine[0][1] - mine[0][0]
                final = list(self.db[case.collection].find({"shipper.shipper_id": shipper}))
                if len(final) != n or any(
                    d["shipper"]["phone"] != f"+1 555 {run:02d}{i:02d}" for d in final
                ):
                    raise BenchError(f"fan-out {n}: the target does not show the update on all {n}")
                start = time.monotonic()
                for j in range(0, n, CEILING_CHUNK):
                    chunk = final[j : j + CEILING_CHUNK]
                    coll.delete_many({"_id": {"$in": [d["_id"] for d in chunk]}})
                    coll.insert_many(chunk, ordered=False)
                ceiling = time.monotonic() - start
                row = Fanout(run, n, relmig, ceiling)
                self.fanouts.append(row)
                print(
                    f"    #{run} {n:>6,} roots: relmig {relmig:6.2f} s ({n / relmig:,.0f} "
                    f"roots/s), ceiling {ceiling:5.2f} s, ratio {ceiling / relmig:.2f}",
                    flush=True,
                )
        self.db.drop_collection(coll.name)

    # -- recovery ----------------------------------------------------------------------------

    def recovery(self, case: Case) -> None:
        a = self.args
        print(f"  recovery: {a.repeat} x kill -9 under load, {a.down:g} s down, resume", flush=True)
        for run in range(1, a.repeat + 1):
            assert case.job is not None
            writer = PacedWriter(case.workload, a.lag_rate, a.lag_txn)
            writer.start()
            try:
                time.sleep(a.before_kill)
                case.job.kill()
                killed = time.monotonic()
                time.sleep(a.down)
                saved = self.lab.rig.store.job(case.job_id)["position"]
                assert case.capture is not None
                mark = case.capture.mark()
                resumed = time.monotonic()
                case.job = JobProcess(self.lab, ["jobs", "resume", case.job_id])
                pid = case.job.popen.pid
                claimed = self.lab.until(
                    case,
                    lambda j, pid=pid: (
                        j["status"] == "RUNNING"
                        and (j["options"] or {}).get("owner", "").endswith(f":{pid}")
                    ),
                    "the resumed job",
                    failed_ok=True,  # the new process marks the dead one's job FAILED first
                )
                checkpoint = self.lab.until(
                    case, lambda j, p=saved: j["position"] != p, "the first checkpoint"
                )
                capture = case.capture
                caught = self.lab.until(
                    case,
                    lambda j, c=capture, m=mark: (
                        j["position"] is not None and c.reached(j["position"], m)
                    ),
                    "catch-up after resume",
                )
            finally:
                writer.stop()
            row = Recovery(
                case.key,
                run,
                resumed - killed,
                writer.events_between(killed, resumed),
                claimed - resumed,
                checkpoint - resumed,
                caught - resumed,
                case.job.rss.peak(resumed, caught),
            )
            self.recoveries.append(row)
            print(
                f"    #{run}: {row.backlog} events while down {row.down:.1f} s; resumed: job "
                f"claimed in {row.claimed:.2f} s, first checkpoint in {row.checkpoint:.2f} s, "
                f"caught up in {row.caught_up:.2f} s, "
                f"peak RSS {_mb(row.rss_peak)}",
                flush=True,
            )
            self.lab.caught_up(case, "the end of the load")

    # -- a case ------------------------------------------------------------------------------

    def run_case(self, case: Case) -> None:
        print(f"\n{case.label}", flush=True)
        snap = self.lab.start_job(case)
        print(f"  job {case.job_id}: snapshot and CDC start in {snap:.1f} s", flush=True)
        self.verify(case, "after the snapshot")
        self.throughput_runs(case)
        self.verify(case, "after the bursts")
        self.lag(case)
        self.verify(case, "after the paced load")
        if case.key == "nested":
            self.fanout(case)
            self.verify(case, "after the fan-out")
        self.recovery(case)
        self.lab.complete(case)
        self.verify(case, "after kill -9 / resume rounds and `complete`")

    def verify(self, case: Case, when: str) -> None:
        """The rig's verify (target against a fresh snapshot of the source), caught up first.

        A difference is recorded, not fatal: later phases still measure, and the differences
        are cumulative (a stale document stays stale until its root changes again).
        """
        if case.job is not None and case.job.popen.poll() is None:
            self.lab.caught_up(case, "catch-up before verify")
        try:
            case.rig.verify()
        except AssertionError as exc:
            bad = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
            counts = ", ".join(
                f"{name}: {missing} missing, {extra} extra, {different} different (e.g. "
                + "; ".join(examples[:2])
                + ")"
                for name, missing, extra, different, examples in bad
            )
            line = f"{case.key} {when}: verify FAILED: {counts or exc}"
        else:
            line = f"{case.key} {when}: verify passed (the target equals a fresh snapshot)"
        self.checks.append(line)
        print(f"  check: {line}", flush=True)

    def report(self, row: Throughput) -> None:
        extra = ""
        if row.load_seconds is not None:
            extra = (
                f" (load {row.load_seconds:.1f} s, batches: {row.batches}, job peak RSS "
                f"{_mb(row.rss_peak or 0)}, lag p99 {_ms(row.lag_p99)})"
            )
        print(
            f"    #{row.run} {row.engine:<11} {row.events:>7,} events in {row.seconds:7.2f} s = "
            f"{row.rate:8,.0f} events/s{extra}",
            flush=True,
        )

    # -- profile -----------------------------------------------------------------------------

    def profile(self, case: Case) -> str:
        print(f"\n{case.label} (profiled)", flush=True)
        out = self.lab.home / f"profile-{case.key}"
        out.mkdir()
        self.lab.start_job(case, out)
        self.burst(case, 1, "relmig")
        self.lab.complete(case)
        text = io.StringIO()
        for path in sorted(out.glob("*.prof")):
            thread = path.stem.split("-", 1)[1]
            if thread not in ("main", "relmig-reader"):  # the others wait (heartbeat, pymongo)
                continue
            stats = pstats.Stats(str(path), stream=text).strip_dirs()
            top = self.args.profile_top
            text.write(f"\n--- {case.key}: thread {thread}, by own time ---\n")
            stats.sort_stats("tottime").print_stats(top)
            text.write(f"--- {case.key}: thread {thread}, relmig's code by cumulative time ---\n")
            stats.sort_stats("cumulative").print_stats(RELMIG_FILES, top)
        return text.getvalue()


# --- reporting ------------------------------------------------------------------------------


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _spread(values: list[float], fmt: str = "{:.2f}") -> str:
    if len(values) < 2:
        return ""
    return ", median of " + ", ".join(fmt.format(v) for v in sorted(values))


def summary(bench: Bench, cases: list[Case]) -> str:
    """One line per case and measurement: medians, and the ratios against the ceiling."""
    lines = []
    for case in cases:
        rows = [t for t in bench.throughput if t.case == case.key]

        def rates(
            engine: str, against: str = E2E, rows: list[Throughput] = rows
        ) -> tuple[float, list[float]]:
            """The median events/s of an engine, and its ratios to the same run's ceiling."""
            ceilings = {t.run: t.rate for t in rows if t.engine == against}
            mine = [t for t in rows if t.engine == engine]
            ratios = [t.rate / ceilings[t.run] for t in mine if ceilings.get(t.run)]
            return _median([t.rate for t in mine]), ratios

        relmig, ratios = rates("relmig")
        if ratios:
            peak = max(t.rss_peak or 0 for t in rows if t.engine == "relmig")
            lag99 = _median([t.lag_p99 or 0 for t in rows if t.engine == "relmig"])
            _, write_ratios = rates("relmig", "ceiling")
            lines.append(
                f"- {case.label}: relmig applies **{relmig:,.0f} events/s** = "
                f"**{_median(ratios):.3f}** of the end-to-end ceiling ({rates(E2E)[0]:,.0f} "
                f"events/s{_spread(ratios, '{:.3f}')}), {_median(write_ratios):.3f} of the "
                f"write-only ceiling ({rates('ceiling')[0]:,.0f} events/s); lag p99 of the "
                f"bursts from their release {_ms(lag99)}; job peak RSS {_mb(peak)}"
            )
        naive, _ = rates("$set")
        if naive:
            sample = next(t.events for t in rows if t.engine == "$set")
            lines.append(
                f"  - the issue's baseline, a `$set` upsert per change with no routing: "
                f"{naive:,.0f} events/s (the first {sample} changes of burst 1); relmig does "
                f"{relmig / naive:.1f}x that"
            )
        for lag in (g for g in bench.lags if g.case == case.key):
            lines.append(
                f"  - lag, source commit → target write, {lag.rate:g} txns/s of {lag.size} rows: "
                f"p50 **{_ms(_quantile(lag.lags, 0.5))}**, "
                f"p99 **{_ms(_quantile(lag.lags, 0.99))}** ({len(lag.lags)} transactions, "
                f"max {_ms(max(lag.lags, default=None))})"
            )
        recs = [r for r in bench.recoveries if r.case == case.key]
        if recs:
            lines.append(
                f"  - recovery after kill -9: resume → caught up in "
                f"**{_median([r.caught_up for r in recs]):.1f} s** (median of {len(recs)}; "
                f"{_median([r.claimed for r in recs]):.1f} s of it until the new process owns "
                f"the job, {_median([r.checkpoint for r in recs]):.1f} s until its first "
                f"checkpoint; backlog {_median([r.backlog for r in recs]):.0f} events from "
                f"{_median([r.down for r in recs]):.0f} s down)"
            )
    sizes = sorted({f.roots for f in bench.fanouts})
    if sizes:
        parts = []
        for n in sizes:
            runs = [f for f in bench.fanouts if f.roots == n]
            t = _median([f.relmig for f in runs])
            parts.append(
                f"{n:,} → {t:.2f} s ({n / t:,.0f} roots/s, ceiling "
                f"{_median([f.ceiling for f in runs]):.2f} s)"
            )
        lines.append("- fan-out, one shipper update, orders recomputed: " + "; ".join(parts))
    return "\n".join(lines) + "\n"


def tables(bench: Bench, cases: list[Case]) -> str:
    label = {c.key: c.key for c in cases}
    out = [
        "| case | run | engine | events | docs written | batches | s | events/s | vs end-to-end "
        "| vs write-only | load s | lag p99 | job peak RSS |",
        "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for t in bench.throughput:
        ratio = " | ".join(
            f"{t.rate / c.rate:.3f}" if c and c.rate else "-"
            for c in (
                next((c for c in bench.throughput if (c.case, c.run, c.engine) == key), None)
                for key in ((t.case, t.run, E2E), (t.case, t.run, "ceiling"))
            )
        )
        docs = f"{t.docs:,}" if t.docs else "-"
        out.append(
            f"| {label[t.case]} | {t.run} | {t.engine} | {t.events:,} | {docs} | "
            f"{t.batches or '-'} | "
            f"{t.seconds:.2f} | {t.rate:,.0f} | {ratio} | "
            + ("-" if t.load_seconds is None else f"{t.load_seconds:.1f}")
            + f" | {_ms(t.lag_p99)} | "
            + ("-" if t.rss_peak is None else _mb(t.rss_peak))
            + " |"
        )
    out += [
        "",
        "| case | paced load | txns | p50 | p90 | p99 | max | job peak RSS |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for g in bench.lags:
        out.append(
            f"| {label[g.case]} | {g.rate:g} txns/s x {g.size} rows | {len(g.lags)} | "
            f"{_ms(_quantile(g.lags, 0.5))} | {_ms(_quantile(g.lags, 0.9))} | "
            f"{_ms(_quantile(g.lags, 0.99))} | {_ms(max(g.lags, default=None))} | "
            f"{_mb(g.rss_peak)} |"
        )
    if bench.fanouts:
        out += [
            "",
            "| run | orders of the shipper | relmig s | roots/s | ceiling s | vs ceiling |",
            "|--:|--:|--:|--:|--:|--:|",
        ]
        for f in bench.fanouts:
            out.append(
                f"| {f.run} | {f.roots:,} | {f.relmig:.2f} | {f.roots / f.relmig:,.0f} | "
                f"{f.ceiling:.2f} | {f.ceiling / f.relmig:.3f} |"
            )
    out += [
        "",
        "| case | run | down s | backlog events | resume → job owned | resume → first "
        "checkpoint | resume → caught up | peak RSS of the resumed job |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in bench.recoveries:
        out.append(
            f"| {label[r.case]} | {r.run} | {r.down:.1f} | {r.backlog:,} | {r.claimed:.2f} s | "
            f"{r.checkpoint:.2f} s | {r.caught_up:.2f} s | {_mb(r.rss_peak)} |"
        )
    return "\n".join(out) + "\n"


def measured_revision() -> str:
    """Which relmig ran: this checkout's src/, or another copy put first by PYTHONPATH."""
    where = Path(relmig.__file__).resolve().parents[1]
    if where == REPO / "src":
        return f"at commit {source_revision()}"
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return f"from {where} (PYTHONPATH), this checkout being at {head}"


def command_line(argv: list[str]) -> str:
    env = f"PYTHONPATH={os.environ['PYTHONPATH']} " if os.environ.get("PYTHONPATH") else ""
    return env + " ".join([".venv/bin/python bench/cdc.py", *argv])


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/cdc.py",
        description="CDC throughput, lag, fan-out and recovery of relmig against a ceiling.",
    )
    p.add_argument("--rows", type=int, default=10_000, help="rows of bench_flat [10000]")
    p.add_argument(
        "--orders", type=int, default=3000, help="orders in all, the sample's included [3000]"
    )
    p.add_argument("--events", type=int, default=3000, help="row changes per burst [3000]")
    p.add_argument("--txn-min", type=int, default=10, help="smallest burst transaction [10]")
    p.add_argument("--txn-max", type=int, default=100, help="largest burst transaction [100]")
    p.add_argument(
        "--fanout", default="10,100,1000", help="orders per fan-out shipper [10,100,1000]"
    )
    p.add_argument("--lag-rate", type=float, default=5.0, help="paced transactions/s [5]")
    p.add_argument("--lag-txn", type=int, default=10, help="rows per paced transaction [10]")
    p.add_argument("--lag-seconds", type=float, default=20.0, help="paced load duration [20]")
    p.add_argument("--down", type=float, default=5.0, help="seconds the job stays dead [5]")
    p.add_argument("--before-kill", type=float, default=2.0, help="load before the kill [2 s]")
    p.add_argument("--set-events", type=int, default=50, help="$set baseline sample, run 1 [50]")
    p.add_argument("--only", choices=["flat", "nested"], help="run one case")
    p.add_argument("--repeat", type=int, help="runs of each measurement, median [3; quick 1]")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="smoke run: small sizes, one run")
    p.add_argument("--profile", action="store_true", help="cProfile one burst per case")
    p.add_argument("--profile-top", type=int, default=25, help="functions per profile list")
    p.add_argument("--timeout", type=float, default=900.0, help="longest wait for a job [s]")
    p.add_argument("--mongo-uri", help="target URI [mongodb://RELMIG_HOST:RELMIG_MONGO_PORT/]")
    docs = p.add_mutually_exclusive_group()
    docs.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    docs.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    args = p.parse_args(argv)
    args.fanout = [int(x) for x in args.fanout.split(",") if x.strip()]
    if args.quick:
        args.rows, args.orders, args.events = 500, 800, 500
        args.fanout, args.lag_seconds, args.down, args.set_events = [10, 100], 8.0, 2.0, 100
    if args.repeat is None:
        args.repeat = 1 if args.quick or args.profile else 3
    default_full = not (args.quick or args.only or args.profile)
    args.docs = args.write_docs or (default_full and not args.no_docs)
    return args


def run(args: argparse.Namespace, argv: list[str]) -> int:
    svc = CdcServices.from_env(args.mongo_uri)
    started_at = dt.datetime.now(dt.UTC)
    revision = measured_revision()
    load_start = os.getloadavg()
    client = svc.mongo_client()
    machine, software = machine_note(svc, client)
    machine = machine.format(load=" / ".join(f"{x:.1f}" for x in load_start))
    print(f"machine : {machine}\nsoftware: {software}")
    os.environ[PASSWORD_ENV] = svc.pg_password
    with tempfile.TemporaryDirectory(prefix="relmig-bench-cdc-") as tmp:
        home = Path(tmp)
        print("source: a sample database from the test rig, scaled up …", flush=True)
        rig = make_rig("postgresql", dev_settings(), svc.mongo_uri, home)
        lab = Lab(svc, args, rig, home, client)
        bench = Bench(lab, args)
        profiles: list[str] = []
        try:
            cases = lab.cases()
            print(f"database {rig.target_db} (source and target)")
            for case in cases:
                if args.profile:
                    profiles.append(bench.profile(case))
                else:
                    bench.run_case(case)
        finally:
            lab.cleanup()
            client.close()
    if args.profile:
        print("\n".join(profiles))
        return 0
    outline = summary(bench, cases)
    table = tables(bench, cases)
    print("\n" + outline + "\n" + table)
    for line in bench.checks + bench.notes:
        print("check: " + line)
    if args.docs:
        load_end = os.getloadavg()
        a = args
        text = (
            f"Command: `{command_line(argv)}`  \n"
            f"Date: {started_at:%Y-%m-%d %H:%M} UTC, "
            f"{(dt.datetime.now(dt.UTC) - started_at).total_seconds() / 60:.1f} min  \n"
            f"Machine: {machine}, at the end {' / '.join(f'{x:.1f}' for x in load_end)}  \n"
            f"Software: {software}; relmig {revision}  \n"
            f"Sizes: flat {a.rows:,} rows; nested {a.orders:,} orders; bursts of {a.events:,} "
            f"row changes in transactions of {a.txn_min}-{a.txn_max}; {a.repeat} run(s) of each "
            "measurement, medians\n\n"
            + outline
            + "\n"
            + table
            + "\n"
            + "".join(f"- check: {c}\n" for c in bench.checks + bench.notes)
        )
        write_block(BEGIN, END, "CDC (issue 4)", text)
    return 0


def main(argv: list[str] | None = None) -> int:
    return bench_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
