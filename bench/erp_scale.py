"""Schemas of a thousand tables (issue 31): what relmig's per-table costs add up to.

    .venv/bin/python bench/erp_scale.py            # 1,000 tables of 10 rows, 3 rounds, prints
    .venv/bin/python bench/erp_scale.py --write    # the same, and rewrites docs/benchmarks.md
    .venv/bin/python bench/erp_scale.py --quick    # 40 tables, 1 round, prints only

An ERP-like source has many small tables, so the cost that matters is per table, not per row.
`erp_schema_sql` makes `--tables` tables t0001… of `--rows` rows in a tree of foreign keys
(table i references table i // 2) plus one table `wide` of 600 columns, loaded into the
PostgreSQL database `relmig_erp_<tables>` (kept between runs; `--reload` makes it again).

Phases, timed in this one process, each run `--rounds` times, the order rotated every round:

import   `import_tables` of the whole database (what `relmig import` reads).
naive    the least code that copies the same rows: one `SELECT *` per table with psycopg, one
         `insert_many` per table with pymongo (`_id` = `id`, numerics as strings, dates as
         datetimes, as relmig stores them on FerretDB v1).
relmig   a snapshot job of the one-to-one project (`JobManager`, `drop=True`, a SQLite state
         store in a temporary directory), with `--parallel N` in N worker processes.

Each reports its median time, min-max, rate and this process's peak RSS (sampled every 50 ms;
workers of `--parallel` not included). The target is FerretDB, or mongo-java-server with
`--mongo2`. Connection settings come from dev/ports.env; a server that is down or goes away
stops the run with a message naming it and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.rows import dict_row
from psycopg.types.string import TextLoader
from pymongo import MongoClient
from pymongo.write_concern import WriteConcern

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from bench.snapshot import (  # noqa: E402
    BenchError,
    RssSampler,
    Services,
    Watchdog,
    _mb,
    _mb_signed,
    _relmig_home,
    bench_main,
    dev_settings,
    machine_note,
    release_memory,
    source_revision,
    write_block,
)

from relmig.project.initial import initial_collections  # noqa: E402
from relmig.project.model import Project, SourceSettings  # noqa: E402
from relmig.runtime.jobs import JobManager, JobOptions  # noqa: E402
from relmig.runtime.store import StateStore  # noqa: E402
from relmig.schema.introspect import import_tables  # noqa: E402

BEGIN = "<!-- bench/erp_scale.py results: begin (generated, do not edit by hand) -->"
END = "<!-- bench/erp_scale.py results: end -->"
WIDE_COLUMNS = 600
PHASES = ("import", "naive", "relmig")
STALL_TIMEOUT = 900.0  # seconds without progress before the watchdog stops the run
PASSWORD_ENV = "RELMIG_BENCH_PG_PASSWORD"


# --- the schema -------------------------------------------------------------------------------


def erp_schema_sql(tables: int, rows_per_table: int = 10, wide_columns: int = 600) -> list[str]:
    """CREATE TABLE and INSERT … SELECT generate_series statements for an empty database.

    Tables t0001…tNNNN (zero-padded to at least 4 digits), each with ids 1..rows_per_table;
    table i > 1 has `parent_id` referencing the `id` of table i // 2 (a binary tree under t0001),
    with values in 1..rows_per_table, so every parent row exists. Then `wide`: `id` and columns
    c0002… up to `wide_columns` columns in all, integer and text alternating. Parents come
    before their children; two statements per table.
    """
    if tables < 1 or rows_per_table < 1 or not 1 <= wide_columns <= 1600:
        raise ValueError("needs tables ≥ 1, rows_per_table ≥ 1 and 1 ≤ wide_columns ≤ 1600")
    width = max(4, len(str(tables)))
    out: list[str] = []
    for i in range(1, tables + 1):
        name = f"t{i:0{width}d}"
        columns, values = ["id integer PRIMARY KEY"], ["g"]
        if i > 1:
            parent = f"t{i // 2:0{width}d}"
            columns.append(f"parent_id integer NOT NULL REFERENCES public.{parent} (id)")
            values.append(f"1 + (g * 7) % {rows_per_table}")
        columns += ["name text NOT NULL", "amount numeric(10,2) NOT NULL", "created date NOT NULL"]
        values += [f"'{name}-' || g", "(g * 7919) % 100000 / 100.0", "date '2020-01-01' + g"]
        out += _create_and_fill(name, columns, values, rows_per_table)
    columns, values = ["id integer PRIMARY KEY"], ["g"]
    for k in range(2, wide_columns + 1):
        columns.append(f"c{k:04d} {'text' if k % 2 == 0 else 'integer'}")
        values.append(f"'v{k}-' || g" if k % 2 == 0 else f"g * {k}")
    return out + _create_and_fill("wide", columns, values, rows_per_table)


def _create_and_fill(name: str, columns: list[str], values: list[str], rows: int) -> list[str]:
    names = ", ".join(c.split(" ", 1)[0] for c in columns)
    return [
        f"CREATE TABLE public.{name} ({', '.join(columns)})",
        f"INSERT INTO public.{name} ({names}) "
        f"SELECT {', '.join(values)} FROM generate_series(1, {rows}) g",
    ]


# --- settings and data --------------------------------------------------------------------------


@dataclass(slots=True)
class ErpServices(Services):
    """bench/snapshot.py's services, connecting to the ERP database instead of relmig_bench."""

    database: str = ""

    def pg_connect(self, dbname: str | None = None) -> psycopg.Connection[Any]:
        return Services.pg_connect(self, dbname or self.database)

    def source_settings(self) -> SourceSettings:
        return SourceSettings(
            dialect="postgresql",
            host=self.host,
            port=self.pg_port,
            database=self.database,
            user=self.pg_user,
            password_env=PASSWORD_ENV,
            schemas=["public"],
        )

    def admin_connect(self) -> psycopg.Connection[Any]:
        s = dev_settings()
        return Services.pg_connect(
            self, self.pg_admin_db, s["RELMIG_PG_ADMIN_USER"], s["RELMIG_PG_ADMIN_PASSWORD"]
        )


def load(svc: ErpServices, tables: int, rows: int, reload: bool) -> None:
    """The ERP database, made again when --reload or when it holds another size; its comment
    says what it holds and is set last, so a half-made database is made again too."""
    stamp = f"bench/erp_scale.py: {tables} tables of {rows} rows, wide table of {WIDE_COLUMNS}"
    db = sql.Identifier(svc.database)
    with svc.admin_connect() as admin:
        found = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (svc.database,),
        ).fetchone()
        if found is not None and found[0] == stamp and not reload:
            print(f"source: {svc.database} already holds {tables:,} tables of {rows:,} rows")
            return
        if found is not None:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(db))
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(db, sql.Identifier(svc.pg_user))
        )
    started = time.perf_counter()
    print(f"source: loading {tables:,} tables of {rows:,} rows into {svc.database} …", flush=True)
    statements = erp_schema_sql(tables, rows, WIDE_COLUMNS)
    with svc.pg_connect() as conn:
        with conn.transaction():
            for statement in statements:
                conn.execute(statement)  # no parameters: `%` is modulo, not a placeholder
        names = [s.split()[2] for s in statements if s.startswith("CREATE TABLE")]
        conn.execute(f"VACUUM (ANALYZE) {', '.join(names)}")
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(db, sql.Literal(stamp)))
    print(f"source: loaded in {time.perf_counter() - started:.1f} s")


class _DateAsDatetime(Loader):
    """A date as the datetime at midnight: BSON has no date-only type (relmig does the same)."""

    def load(self, data: Buffer) -> dt.datetime:
        return dt.datetime.fromisoformat(bytes(data).decode())


# --- phases -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Run:
    phase: str
    round: int
    items: int = 0  # tables imported, or rows copied
    seconds: float = 0.0
    rss_start: int = 0
    rss_peak: int = 0

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def unit(phase: str) -> str:
    return "tables" if phase == "import" else "rows"


@dataclass
class ErpBench:
    svc: ErpServices
    args: argparse.Namespace
    client: MongoClient[dict[str, Any]]
    project: Project
    sampler: RssSampler
    watchdog: Watchdog
    runs: list[Run] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.project.tables) * self.args.rows

    @property
    def naive_db(self) -> str:
        return f"{self.svc.database}_naive"

    @contextlib.contextmanager
    def measured(self, phase: str, round_no: int) -> Iterator[Run]:
        self.watchdog.beat(f"{phase}, round {round_no}")
        release_memory()
        run = Run(phase, round_no, rss_start=self.sampler.now())
        window, start = time.monotonic(), time.perf_counter()
        yield run
        run.seconds = time.perf_counter() - start
        self.sampler.now()
        samples = self.sampler.between(window, time.monotonic())
        run.rss_peak = max((r for _, r in samples), default=run.rss_start)
        self.runs.append(run)
        print(
            f"  {phase:<7} {run.items:>9,} {unit(phase):<6} in {run.seconds:7.2f} s "
            f"{run.rate:>10,.0f} {unit(phase)}/s  peak RSS {_mb(run.rss_peak)} "
            f"({_mb_signed(run.rss_peak - run.rss_start)})",
            flush=True,
        )

    def import_schema(self, round_no: int) -> None:
        with self.measured("import", round_no) as run:
            run.items = len(import_tables(self.svc.source_settings(), self.svc.pg_password))
        if run.items != len(self.project.tables):
            raise BenchError(f"import found {run.items:,} tables, not {len(self.project.tables)}")

    def naive(self, round_no: int) -> None:
        self.client.drop_database(self.naive_db)
        target = self.client.get_database(self.naive_db, write_concern=WriteConcern("majority"))
        with self.measured("naive", round_no) as run, self.svc.pg_connect() as conn:
            conn.adapters.register_loader("numeric", TextLoader)
            conn.adapters.register_loader("date", _DateAsDatetime)
            cursor = conn.cursor(row_factory=dict_row)
            for table in self.project.tables:
                docs = [
                    {"_id": r.pop("id"), **r} for r in cursor.execute(f"SELECT * FROM {table.id}")
                ]
                target[table.name].insert_many(docs, ordered=False)
                run.items += len(docs)
                self.watchdog.beat()
        if run.items != self.rows:
            raise BenchError(f"naive copied {run.items:,} rows, not {self.rows:,}")

    def relmig(self, round_no: int) -> None:
        self.client.drop_database(self.svc.database)  # so the job's drop finds nothing to drop
        uri = self.svc.mongo_uri
        with tempfile.TemporaryDirectory(prefix="relmig-bench-") as home, _relmig_home(home):
            store = StateStore(f"sqlite:///{home}/state.db")
            try:
                manager = JobManager(store)
                options = JobOptions(mode="snapshot", drop=True, parallel=self.args.parallel)
                with self.measured("relmig", round_no) as run:
                    job_id = manager.create(self.project, uri, self.svc.database, options)
                    status = manager.run(
                        job_id, uri, self.svc.pg_password, lambda *_: self.watchdog.beat()
                    )
                    job = store.job(job_id)
                    if status != "COMPLETED" or job is None or job["error_count"]:
                        raise BenchError(f"relmig: job {job}")
                    run.items = sum(p["rows_done"] for p in store.progress_of(job_id))
            finally:
                store.close()
        if run.items != self.rows:
            raise BenchError(f"relmig copied {run.items:,} rows, not {self.rows:,}")


# --- reporting ----------------------------------------------------------------------------------


def results(runs: list[Run]) -> tuple[str, str]:
    """The summary lines and the table, medians over the rounds."""
    by_phase = {p: [r for r in runs if r.phase == p] for p in PHASES}
    lines = [
        "| phase | rounds | median s | min-max s | rate (median) | peak RSS | peak above start |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for phase, mine in by_phase.items():
        seconds = [r.seconds for r in mine]
        lines.append(
            f"| {phase} | {len(mine)} | {statistics.median(seconds):.2f} | "
            f"{min(seconds):.2f}-{max(seconds):.2f} | "
            f"{statistics.median(r.rate for r in mine):,.0f} {unit(phase)}/s | "
            f"{_mb(max(r.rss_peak for r in mine))} | "
            f"{_mb_signed(max(r.rss_peak - r.rss_start for r in mine))} |"
        )
    relmig = {r.round: r for r in by_phase["relmig"]}
    ratios = sorted(relmig[n.round].seconds / n.seconds for n in by_phase["naive"])
    imports = [r.seconds for r in by_phase["import"]]
    tables, rows = by_phase["import"][0].items, by_phase["relmig"][0].items
    summary = (
        f"- relmig / naive: **{statistics.median(ratios):.2f}x** the naive copy's time "
        f"(median of {len(ratios)} round(s): {', '.join(f'{x:.2f}' for x in ratios)})\n"
        f"- import of {tables:,} tables: **{statistics.median(imports):.2f} s** (median)\n"
        f"- {rows:,} rows per copy: relmig "
        f"{statistics.median(r.rate for r in by_phase['relmig']):,.0f} rows/s, naive "
        f"{statistics.median(r.rate for r in by_phase['naive']):,.0f} rows/s\n"
    )
    return summary, "\n".join(lines) + "\n"


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/erp_scale.py",
        description="Import and snapshot of a schema of many small tables, against a naive copy.",
    )
    p.add_argument("--tables", type=int, default=1000, help="tables in the foreign-key tree")
    p.add_argument("--rows", type=int, default=10, help="rows of every table")
    p.add_argument("--rounds", type=int, default=3, help="runs of every phase, median reported")
    p.add_argument("--reload", action="store_true", help="make the source database again")
    p.add_argument("--mongo2", action="store_true", help="target mongo-java-server, not FerretDB")
    p.add_argument("--parallel", type=int, metavar="N", help="the snapshot in N worker processes")
    p.add_argument("--quick", action="store_true", help="smoke run: 40 tables, 1 round, prints")
    p.add_argument("--write", action="store_true", help="rewrite the docs/benchmarks.md block")
    args = p.parse_args(argv)
    if args.quick:
        if args.write:
            p.error("--quick prints only: drop --write")
        args.tables, args.rounds = 40, 1
    if min(args.tables, args.rows, args.rounds, args.parallel or 1) < 1:
        p.error("--tables, --rows, --rounds and --parallel must be at least 1")
    return args


def run(args: argparse.Namespace, argv: list[str]) -> int:
    settings = dev_settings()
    port = settings["RELMIG_MONGO2_PORT" if args.mongo2 else "RELMIG_MONGO_PORT"]
    target = "mongo-java-server" if args.mongo2 else "FerretDB"
    base = Services.from_env(f"mongodb://{settings['RELMIG_HOST']}:{port}/")
    svc = ErpServices(**asdict(base), database=f"relmig_erp_{args.tables}")
    os.environ[PASSWORD_ENV] = svc.pg_password  # --parallel's workers read it from there
    started_at, load_start = dt.datetime.now(dt.UTC), os.getloadavg()
    watchdog = Watchdog(STALL_TIMEOUT)
    watchdog.start()
    client = svc.mongo_client()
    watchdog.beat("loading the source")
    load(svc, args.tables, args.rows, args.reload)
    machine, software = machine_note(svc, client)
    machine = machine.format(load=" / ".join(f"{x:.1f}" for x in load_start))
    print(f"machine : {machine}\nsoftware: {software}\ntarget  : {target} at {svc.mongo_uri}")

    source = svc.source_settings()
    tables = import_tables(source, svc.pg_password)
    project = Project(
        name="erp",
        source=source,
        tables=tables,
        collections=initial_collections(tables, "one-to-one"),
    )
    if len(project.collections) != args.tables + 1:
        raise BenchError(f"{len(project.collections)} collections for {args.tables + 1} tables")
    sampler = RssSampler()
    sampler.start()
    bench = ErpBench(svc, args, client, project, sampler, watchdog)
    phases: dict[str, Callable[[int], None]] = {
        "import": bench.import_schema,
        "naive": bench.naive,
        "relmig": bench.relmig,
    }
    for r in range(args.rounds):
        order = PHASES[r % len(PHASES) :] + PHASES[: r % len(PHASES)]
        print(f"\nround {r + 1}: {', '.join(order)}", flush=True)
        for phase in order:
            phases[phase](r + 1)
    sampler.halt.set()
    watchdog.beat("dropping the target databases")
    client.drop_database(svc.database)
    client.drop_database(bench.naive_db)
    client.close()

    summary, table = results(bench.runs)
    print("\n" + summary + "\n" + table)
    if args.write:
        minutes = (dt.datetime.now(dt.UTC) - started_at).total_seconds() / 60
        snapshot = f"--parallel {args.parallel}" if args.parallel else "serial"
        write_block(
            BEGIN,
            END,
            "Schemas of a thousand tables (issue 31)",
            f"Command: `{' '.join(['.venv/bin/python bench/erp_scale.py', *argv])}`  \n"
            f"Date: {started_at:%Y-%m-%d %H:%M} UTC, {minutes:.0f} min  \n"
            f"Machine: {machine}, at the end "
            f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}  \n"
            f"Software: {software}; relmig at commit {source_revision()}  \n"
            f"Source: {args.tables:,} tables of {args.rows:,} rows in a foreign-key tree and one "
            f"of {WIDE_COLUMNS} columns ({svc.database}); target {target}; snapshot {snapshot}; "
            f"{args.rounds} round(s), phase order rotated each round; peak RSS of the "
            "benchmark process\n\n" + summary + "\n" + table,
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    return bench_main(parse_args, run, argv, "; the source database is kept, so a rerun is quick.")


if __name__ == "__main__":
    sys.exit(main())
