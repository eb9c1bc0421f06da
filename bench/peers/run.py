"""relmig against the usual peer pipeline, Debezium + Kafka Connect + a MongoDB sink, same run.

    .venv/bin/python bench/peers/run.py               # sizes chosen for the target (below)
    .venv/bin/python bench/peers/run.py --quick       # a few hundred rows (tests run it)
    .venv/bin/python bench/peers/run.py --write-docs  # and put the results in docs/benchmarks.md

Systems, one after the other, each from the same source state into its own collection:

peer       Kafka Connect 4.4 (standalone worker, JSON with schemas) running Debezium 3.6.1's
           PostgreSQL connector (initial snapshot, then pgoutput) and a MongoDB sink connector
           (`--sink mongo-kafka`: MongoDB's mongo-kafka-connect 2.0.1 with its Debezium RDBMS
           handler; `--sink debezium`: Debezium's own MongoDB sink), jars from bench/peers/pom.xml.
embedded   relmig's continuous job (snapshot, then CDC in the job's process).
kafka      the same job in Kafka mode (one source task, one sink worker).

The data is one flat table mapped 1:1, the only mapping the peer can do: `peer_flat(id int
pk, name, qty, price numeric(10,2), created timestamp(3), active, note, seq, stamp)`. relmig maps
it with a wrapped key, which is what the peer's sink writes: `{_id: {id: 1}, name: …}`, decimals
as strings on FerretDB v1 (`decimal.handling.mode=string` for Debezium) and timestamps as dates
(`time.precision.mode=connect`). A timestamptz column would differ (Debezium sends it as a
string), so the table has none.

Phases, per system:

snapshot   from starting the system until the target holds every row: documents/s.
burst      `--burst` single-row UPDATE transactions, committed as fast as PostgreSQL takes
           them (a procedure that commits per row), each setting `seq` to the burst's number:
           events/s from the first commit until the target holds all of them.
paced      `--rates` events/s for `--seconds` each, single-row updates paced by the server;
           every `--marker` seconds the update is to row 1, stamped with its commit time
           (`clock_timestamp()`); a poller reads that document from the target and takes
           lag = when it first sees a new stamp - the stamp: p50/p99 over the markers.
check      after each phase, relmig's `verify` on the system's collection: it must equal a
           fresh snapshot of the source (for the peer too: same documents).

For each phase: CPU seconds (user + system, from /proc) of the system's processes (the Connect
JVM; the relmig job process and its task processes) per million documents or events, and the
same for the Kafka broker and the target for context; peak RSS of the system's
processes over its whole run.

FerretDB v1 (the dev target) scans the whole collection for every replace and delete, `_id`
included, and the peer's sinks write one ReplaceOne upsert per event, so on FerretDB the peer's
cost grows with the collection: there the sizes default to FERRETDB below, small enough that
every system finishes. On a target with an `_id` index (`--mongo-uri`) they default to the
issue's: 1M rows, a 50k burst, 200 and 1,000 events/s for 60 s.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
from pymongo import MongoClient

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from bench.peers.connect import SINKS, PeerError, Worker, sink_config, source_config  # noqa: E402
from bench.snapshot import BenchError, Services, bench_main, write_block  # noqa: E402

from conftest import dev_dir, kafka_bootstrap_servers  # noqa: E402
from relmig.mongo.writer import MongoTarget  # noqa: E402
from relmig.project.model import CollectionRule, Project  # noqa: E402
from relmig.runtime.jobs import JobManager, JobOptions  # noqa: E402
from relmig.runtime.store import StateStore  # noqa: E402
from relmig.schema.introspect import import_tables  # noqa: E402
from relmig.source.connect import open_source  # noqa: E402
from relmig.verify.compare import verify  # noqa: E402

DB = "relmig_peers"
TABLE = "peer_flat"
BEGIN = "<!-- bench/peers/run.py results: begin (generated, do not edit by hand) -->"
END = "<!-- bench/peers/run.py results: end -->"
PASSWORD_ENV = "RELMIG_PEERS_PG_PASSWORD"
WAIT = 3600.0  # seconds, for any single wait
RUN_JOB = """
import sys
from relmig.runtime.jobs import JobManager
from relmig.runtime.store import StateStore
JobManager(StateStore(sys.argv[1])).run(sys.argv[2], sys.argv[3])
"""


@dataclass(frozen=True)
class Sizes:
    rows: int
    burst: int
    rates: tuple[int, ...]
    seconds: int
    marker: float  # seconds between lag markers
    batch: int | None  # the peer sink's writes per bulk command (None: its default)


FULL = Sizes(1_000_000, 50_000, (200, 1000), 60, 0.25, None)
# FerretDB v1: a replace scans the collection (~50 µs a document) and more than ~99 matching
# replaces in one command wedge it, so the peer's sink writes 50 per command there.
FERRETDB = Sizes(1_000, 500, (2, 5), 30, 1.0, 50)
QUICK = Sizes(300, 200, (2, 5), 6, 1.0, 50)

SETUP = f"""
CREATE OR REPLACE PROCEDURE peer_burst(b int, n int) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..n LOOP
    UPDATE {TABLE} SET seq = b, qty = qty + 1 WHERE id = i;
    COMMIT;
  END LOOP;
END $$;
CREATE OR REPLACE PROCEDURE peer_paced(rate int, seconds int, marker_every int, span int)
LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
BEGIN
  FOR i IN 0..rate * seconds - 1 LOOP
    IF i % marker_every = 0 THEN
      UPDATE {TABLE} SET seq = seq + 1, stamp = clock_timestamp() AT TIME ZONE 'UTC' WHERE id = 1;
    ELSE
      UPDATE {TABLE} SET qty = qty + 1, stamp = clock_timestamp() AT TIME ZONE 'UTC'
      WHERE id = 2 + i % span;
    END IF;
    COMMIT;
    PERFORM pg_sleep(greatest(0, extract(epoch FROM
      t0 + (i + 1) * interval '1 second' / rate - clock_timestamp())));
  END LOOP;
END $$;
"""


# --- processes --------------------------------------------------------------------------------


def _tree(pids: list[int]) -> list[psutil.Process]:
    out = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            out += [proc, *proc.children(recursive=True)]
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for proc in _tree(pids):
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system
    return total


class PeakRss(threading.Thread):
    """Peak RSS of some processes and their descendants, sampled every 100 ms."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.1):
            rss = 0
            for proc in _tree(self.pids()):
                with contextlib.suppress(psutil.Error):
                    rss += proc.memory_info().rss
            self.peak = max(self.peak, rss)


def _pid_file(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().split()[0])
    return None


def context_pids() -> dict[str, list[int]]:
    """The shared servers whose CPU is reported beside each system's: the broker and the target.

    Not PostgreSQL: its backends come and go, and one that exits takes its CPU time with it."""
    run = dev_dir() / "run"
    out: dict[str, list[int]] = {}
    for name, path in (
        ("Kafka", run / "kafka-1.pid"),
        ("target", run / "ferretdb.pid"),
    ):
        pid = _pid_file(path)
        out[name] = [pid] if pid else []
    return out


# --- results ----------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    count: int  # documents (snapshot) or events
    seconds: float
    cpu: dict[str, float]  # "system" and the context servers
    lags: list[float] = field(default_factory=list)
    achieved: float = 0.0  # events/s the paced load reached
    check: str = ""

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def lag(self, q: int) -> float:
        if len(self.lags) < 2:
            return self.lags[0] if self.lags else float("nan")
        return statistics.quantiles(self.lags, n=100, method="inclusive")[q - 1]

    def cpu_per_million(self, who: str = "system") -> float:
        return self.cpu.get(who, 0.0) / self.count * 1e6 if self.count else float("nan")


@dataclass
class SystemRun:
    name: str
    phases: list[Phase] = field(default_factory=list)
    peak_rss: int = 0
    start_seconds: float = 0.0

    def phase(self, name: str) -> Phase:
        return next(p for p in self.phases if p.name == name)


# --- the lab ----------------------------------------------------------------------------------


class Lab:
    def __init__(self, args: argparse.Namespace, sizes: Sizes, tmp: Path) -> None:
        self.args = args
        self.sizes = sizes
        self.tmp = tmp
        self.svc = Services.from_env(args.mongo_uri)
        os.environ[PASSWORD_ENV] = self.svc.pg_password
        self.bootstrap = kafka_bootstrap_servers(_settings())
        self.client: MongoClient[dict[str, Any]] = self.svc.mongo_client()
        self.db = self.client[DB]
        probe = MongoTarget(self.svc.mongo_uri, DB)
        self.decimal128 = probe.profile.decimal128
        probe.close()
        self.context = context_pids()
        self.checks: list[str] = []
        self.burst_no = 0

    # -- source -------------------------------------------------------------------------------

    def pg(self, dbname: str = DB) -> psycopg.Connection[Any]:
        return self.svc.pg_connect(dbname)

    def prepare_source(self) -> None:
        with self.pg(self.svc.pg_admin_db) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone():
                conn.execute(f"CREATE DATABASE {DB}")
        with self.pg() as conn:
            n = conn.execute(
                "SELECT count(*) FROM pg_class WHERE relname = 'peer_seed_v2'"
            ).fetchone()
            rows = conn.execute("SELECT count(*) FROM peer_seed_v2").fetchone()[0] if n[0] else -1
            if rows != self.sizes.rows:
                print(f"  generating {self.sizes.rows:,} source rows", flush=True)
                conn.execute("DROP TABLE IF EXISTS peer_seed_v2")
                conn.execute(
                    "CREATE TABLE peer_seed_v2 AS SELECT g::int AS id, 'name-' || g AS name, "
                    "(g %% 1000)::int AS qty, ((g %% 100000) / 100.0)::numeric(10,2) AS price, "
                    "(timestamp '2024-01-01' + g * interval '1.001 second')::timestamp(3) "
                    "AS created, g %% 2 = 0 AS active, md5(g::text) AS note, 0 AS seq, "
                    "NULL::timestamp(3) AS stamp FROM generate_series(1, %s) g",
                    (self.sizes.rows,),
                )
            conn.execute(SETUP)

    def reset_table(self) -> None:
        """The same starting rows for every system."""
        with self.pg() as conn:
            conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
            conn.execute(f"CREATE TABLE {TABLE} (LIKE peer_seed_v2)")
            conn.execute(f"INSERT INTO {TABLE} SELECT * FROM peer_seed_v2 ORDER BY id")
            conn.execute(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (id)")
            conn.execute(f"VACUUM ANALYZE {TABLE}")

    def project(self, collection: str) -> Project:
        settings = self.svc.source_settings().model_copy(
            update={"database": DB, "password_env": PASSWORD_ENV}
        )
        tables = import_tables(settings, self.svc.pg_password, only=[f"public.{TABLE}"])
        rule = CollectionRule(name=collection, table=f"public.{TABLE}", id="wrap")
        return Project(name="peers", source=settings, tables=tables, collections=[rule])

    # -- target -------------------------------------------------------------------------------

    def count(self, collection: str, query: dict[str, Any] | None = None) -> int:
        coll = self.db[collection]
        return coll.count_documents(query) if query else coll.estimated_document_count()

    def until(self, cond: Callable[[], bool], what: str, alive: Callable[[], str | None]) -> float:
        deadline = time.monotonic() + WAIT
        while not cond():
            problem = alive()
            if problem:
                raise BenchError(f"{what}: {problem}")
            if time.monotonic() > deadline:
                raise BenchError(f"timed out waiting for {what}")
            time.sleep(0.2)
        return time.monotonic()

    def check(self, system: str, collection: str, phase: str) -> str:
        project = self.project(collection)
        source = open_source(project.source, self.svc.pg_password)
        target = MongoTarget(self.svc.mongo_uri, DB)
        try:
            report = verify(project, source, target, filters=False)
        finally:
            source.close()
            target.close()
        (c,) = report.collections
        if report.ok:
            text = f"{system} after {phase}: verify passed ({c.matched:,} documents equal)"
        else:
            text = (
                f"{system} after {phase}: verify FAILED: {c.missing} missing, {c.extra} extra, "
                f"{c.different} different; {[str(e) for e in c.examples[:2]]}"
            )
        self.checks.append(text)
        print("  check: " + text, flush=True)
        return text

    # -- phases -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def measured(self, system_pids: Callable[[], list[int]]) -> Iterator[dict[str, float]]:
        cpu: dict[str, float] = {}
        groups = {"system": system_pids, **{k: (lambda v=v: v) for k, v in self.context.items()}}
        before = {k: cpu_seconds(f()) for k, f in groups.items()}
        yield cpu
        for k, f in groups.items():
            cpu[k] = cpu_seconds(f()) - before[k]

    def run_system(self, name: str, pipeline: Pipeline) -> SystemRun:
        collection = f"flat_{name}"
        print(f"\n{name}: {pipeline.label}", flush=True)
        self.reset_table()
        self.db.drop_collection(collection)
        result = SystemRun(name)
        rss = PeakRss(pipeline.pids)
        rss.start()
        try:
            with self.measured(pipeline.pids) as cpu:
                started = time.monotonic()
                pipeline.start(collection)
                done = self.until(
                    lambda: self.count(collection) >= self.sizes.rows,
                    f"{name}'s snapshot",
                    pipeline.failure,
                )
            phase = Phase("snapshot", self.sizes.rows, done - started, cpu)
            self._report(name, phase)
            result.phases.append(phase)
            phase.check = self.check(name, collection, "the snapshot")

            result.phases.append(self._burst(name, collection, pipeline))
            for rate in self.sizes.rates:
                result.phases.append(self._paced(name, collection, pipeline, rate))
        finally:
            rss.halt.set()
            pipeline.stop()
        result.peak_rss = rss.peak
        self.db.drop_collection(collection)
        return result

    def _report(self, system: str, phase: Phase) -> None:
        extra = f", lag p50 {phase.lag(50):.2f} s p99 {phase.lag(99):.2f} s" if phase.lags else ""
        print(
            f"  {phase.name}: {phase.count:,} in {phase.seconds:.1f} s = {phase.rate:,.0f}/s, "
            f"CPU {phase.cpu['system']:.1f} s{extra}",
            flush=True,
        )

    def _burst(self, system: str, collection: str, pipeline: Pipeline) -> Phase:
        self.burst_no += 1
        b, n = 1000 + self.burst_no, self.sizes.burst
        with self.measured(pipeline.pids) as cpu, self.pg() as conn:
            started = time.monotonic()
            conn.execute("CALL peer_burst(%s, %s)", (b, n))
            done = self.until(
                lambda: self.count(collection, {"seq": b}) >= n,
                f"{system}'s burst",
                pipeline.failure,
            )
        phase = Phase("burst", n, done - started, cpu)
        self._report(system, phase)
        phase.check = self.check(system, collection, "the burst")
        return phase

    def _paced(self, system: str, collection: str, pipeline: Pipeline, rate: int) -> Phase:
        sizes = self.sizes
        marker_every = max(1, round(rate * sizes.marker))
        poller = MarkerPoller(self.db[collection])
        poller.start()
        with self.measured(pipeline.pids) as cpu, self.pg() as conn:
            (before,) = conn.execute(f"SELECT seq FROM {TABLE} WHERE id = 1").fetchone()
            started = time.monotonic()
            conn.execute(
                "CALL peer_paced(%s, %s, %s, %s)",
                (rate, sizes.seconds, marker_every, max(1, sizes.rows - 1)),
            )
            loaded = time.monotonic()
            # A last change to row 1 after every paced one (no new stamp, so no lag sample):
            # the phase ends when it is applied, not at the last marker, which later
            # unmarked updates may follow.
            conn.execute(f"UPDATE {TABLE} SET seq = seq + 1 WHERE id = 1")
            markers = -(-rate * sizes.seconds // marker_every) + 1
            self.until(
                lambda: poller.seq >= before + markers, f"{system}'s paced load", pipeline.failure
            )
        poller.halt.set()
        poller.join()
        events = rate * sizes.seconds
        phase = Phase(f"{rate}/s", events, loaded - started, cpu, poller.lags)
        phase.achieved = events / (loaded - started)
        self._report(system, phase)
        phase.check = self.check(system, collection, f"{rate} events/s")
        return phase


class MarkerPoller(threading.Thread):
    """Reads row 1's document as fast as the target answers; lag per new stamp seen."""

    def __init__(self, coll: Any) -> None:
        super().__init__(daemon=True)
        self.coll = coll
        self.halt = threading.Event()
        self.lags: list[float] = []
        self.seq = -1
        self.error: BaseException | None = None

    def run(self) -> None:
        last = None
        try:
            while not self.halt.is_set():
                doc = self.coll.find_one({"_id": {"id": 1}}, {"seq": 1, "stamp": 1})
                now = time.time()
                if doc is not None:
                    self.seq = doc["seq"]
                    stamp = doc.get("stamp")
                    if stamp is not None and stamp != last:
                        if last is not None:  # the first one may predate this phase
                            self.lags.append(now - stamp.replace(tzinfo=dt.UTC).timestamp())
                        last = stamp
                self.halt.wait(0.02)
        except BaseException as exc:  # reported through the wait that sees seq stop
            self.error = exc


# --- the systems ------------------------------------------------------------------------------


class Pipeline:
    label = ""

    def start(self, collection: str) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def pids(self) -> list[int]:
        raise NotImplementedError

    def failure(self) -> str | None:
        """Why the pipeline cannot finish (a failed task, an exited process), if it cannot."""
        return None


class PeerPipeline(Pipeline):
    def __init__(self, lab: Lab, worker: Worker, sink: str) -> None:
        self.lab = lab
        self.worker = worker
        self.sink = sink
        self.label = (
            "Kafka Connect + Debezium PostgreSQL connector + "
            + {"mongo-kafka": "mongo-kafka-connect sink", "debezium": "Debezium MongoDB sink"}[sink]
        )
        self.name = ""

    def start(self, collection: str) -> None:
        svc = self.lab.svc
        self.name = f"relmig_peer_{int(time.time())}"
        self.worker.create(
            f"{self.name}_source",
            source_config(
                host=svc.host,
                port=svc.pg_port,
                user=svc.pg_user,
                password=svc.pg_password,
                dbname=DB,
                table=f"public.{TABLE}",
                name=self.name,
                decimal128=self.lab.decimal128,
            ),
        )
        self.worker.create(
            f"{self.name}_sink",
            sink_config(
                self.sink,
                topic=f"{self.name}.public.{TABLE}",
                mongo_uri=svc.mongo_uri,
                database=DB,
                collection=collection,
                batch=self.lab.sizes.batch,
            ),
        )

    def failure(self) -> str | None:
        for part in ("source", "sink"):
            trace = self.worker.failed(f"{self.name}_{part}")
            if trace:
                return f"the peer's {part} connector failed: {trace}"
        if self.worker.popen is not None and self.worker.popen.poll() is not None:
            return f"the Connect worker exited:\n{self.worker.tail()}"
        return None

    def stop(self) -> None:
        for part in ("sink", "source"):
            self.worker.delete(f"{self.name}_{part}")
        with self.lab.pg() as conn:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT active FROM pg_replication_slots WHERE slot_name = %s", (self.name,)
                ).fetchone()
                if row is None or not row[0]:
                    break
                time.sleep(0.5)
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_drop_replication_slot(%s)", (self.name,))
            conn.execute(f'DROP PUBLICATION IF EXISTS "{self.name}"')
        _delete_topics(self.lab.bootstrap, self.name)

    def pids(self) -> list[int]:
        return [self.worker.pid]


class RelmigPipeline(Pipeline):
    def __init__(self, lab: Lab, engine: str) -> None:
        self.lab = lab
        self.engine = engine
        self.label = {
            "embedded": "relmig continuous job, embedded engine",
            "kafka": "relmig continuous job, Kafka engine (1 sink worker)",
        }[engine]
        self.popen: subprocess.Popen[bytes] | None = None
        self.store: StateStore | None = None
        self.job_id = ""
        self.log = lab.tmp / f"relmig-{engine}.log"

    def start(self, collection: str) -> None:
        home = self.lab.tmp / f"home-{self.engine}"
        home.mkdir(exist_ok=True)
        self.store = StateStore(f"sqlite:///{home}/state.db")
        options = JobOptions(
            mode="continuous",
            drop=True,
            engine=self.engine,  # type: ignore[arg-type]
            kafka_bootstrap=self.lab.bootstrap if self.engine == "kafka" else None,
            kafka_workers=1,
        )
        self.job_id = JobManager(self.store).create(
            self.lab.project(collection), self.lab.svc.mongo_uri, DB, options
        )
        env = {**os.environ, "RELMIG_HOME": str(home)}
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    RUN_JOB,
                    self.store.url,
                    self.job_id,
                    self.lab.svc.mongo_uri,
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def failure(self) -> str | None:
        if self.popen is not None and self.popen.poll() is not None:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
            return f"the relmig job process exited ({self.popen.returncode}):\n{tail}"
        return None

    def stop(self) -> None:
        if self.store is None:
            return
        JobManager(self.store).cancel(self.job_id)
        if self.popen is not None:
            try:
                self.popen.wait(120)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(30)
        self.store.close()

    def pids(self) -> list[int]:
        return [self.popen.pid] if self.popen is not None else []


def _delete_topics(bootstrap: str, prefix: str) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result()


def _settings() -> dict[str, str]:
    from conftest import dev_settings

    return dev_settings()


# --- report -----------------------------------------------------------------------------------


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b and a == a and b == b else "-"


def report(runs: list[SystemRun], sizes: Sizes, target: str, sink: str) -> str:
    peer = next(r for r in runs if r.name == "peer")
    lines = [
        f"Target: {target}. Sizes: {sizes.rows:,} rows, a burst of {sizes.burst:,} single-row "
        f"updates, paced {' and '.join(f'{r:,}' for r in sizes.rates)} events/s for "
        f"{sizes.seconds} s (a lag marker every {sizes.marker:g} s). Peer sink: {sink}"
        + (f", {sizes.batch} writes per bulk command" if sizes.batch else "")
        + ".",
        "",
        "| system | phase | count | s | per s | lag p50 | lag p99 | CPU s | CPU s / M | "
        "broker CPU s | target CPU s |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for run in runs:
        for p in run.phases:
            lag = (f"{p.lag(50):.2f} s", f"{p.lag(99):.2f} s") if p.lags else ("-", "-")
            rate = f"{p.rate:,.0f}" + (f" (paced {p.achieved:,.0f})" if p.achieved else "")
            lines.append(
                f"| {run.name} | {p.name} | {p.count:,} | {p.seconds:.1f} | {rate} | {lag[0]} | "
                f"{lag[1]} | {p.cpu['system']:.1f} | {p.cpu_per_million():,.0f} | "
                f"{p.cpu.get('Kafka', 0):.1f} | {p.cpu.get('target', 0):.1f} |"
            )
    lines += [
        "",
        "| relmig / peer | snapshot docs/s | burst events/s | "
        + " | ".join(f"lag p50 at {r}/s | lag p99 at {r}/s" for r in sizes.rates)
        + " | CPU / M, snapshot | CPU / M, burst | peak RSS |",
        "|---|" + "--:|" * (5 + 2 * len(sizes.rates)),
    ]
    for run in runs:
        if run is peer:
            continue
        cells = [
            _ratio(run.phase("snapshot").rate, peer.phase("snapshot").rate),
            _ratio(run.phase("burst").rate, peer.phase("burst").rate),
        ]
        for r in sizes.rates:
            mine, theirs = run.phase(f"{r}/s"), peer.phase(f"{r}/s")
            cells += [_ratio(mine.lag(50), theirs.lag(50)), _ratio(mine.lag(99), theirs.lag(99))]
        cells += [
            _ratio(
                run.phase("snapshot").cpu_per_million(), peer.phase("snapshot").cpu_per_million()
            ),
            _ratio(run.phase("burst").cpu_per_million(), peer.phase("burst").cpu_per_million()),
            _ratio(run.peak_rss, peer.peak_rss),
        ]
        lines.append(f"| {run.name} | " + " | ".join(cells) + " |")
    lines += ["", "| system | peak RSS | start |", "|---|--:|--:|"]
    for run in runs:
        start = f"{run.start_seconds:.0f} s (JVM)" if run.start_seconds else "-"
        lines.append(f"| {run.name} | {run.peak_rss / 2**20:,.0f} MiB | {start} |")
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred rows, short phases")
    parser.add_argument("--mongo-uri", help="target (default: the dev FerretDB)")
    parser.add_argument("--sink", choices=sorted(SINKS), default="mongo-kafka")
    parser.add_argument("--systems", default="peer,embedded,kafka")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--burst", type=int)
    parser.add_argument("--rates", help="comma-separated events/s")
    parser.add_argument("--seconds", type=int)
    parser.add_argument("--write-docs", action="store_true")
    return parser.parse_args(argv)


def choose_sizes(args: argparse.Namespace, ferretdb: bool) -> Sizes:
    base = QUICK if args.quick else FERRETDB if ferretdb else FULL
    return Sizes(
        rows=args.rows or base.rows,
        burst=min(args.burst or base.burst, args.rows or base.rows),
        rates=tuple(int(r) for r in args.rates.split(",")) if args.rates else base.rates,
        seconds=args.seconds or base.seconds,
        marker=base.marker,
        batch=base.batch if ferretdb else None,
    )


def run(args: argparse.Namespace, argv: list[str]) -> int:
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    if "peer" not in systems:
        raise BenchError("--systems must include peer: every figure is a ratio against it")
    svc = Services.from_env(args.mongo_uri)
    probe = MongoTarget(svc.mongo_uri, DB)
    ferretdb = probe.profile.ferretdb_v1
    target = (
        f"FerretDB {probe.profile.ferretdb_version} (SQLite)"
        if probe.profile.ferretdb
        else f"MongoDB-compatible server {probe.profile.version}"
    )
    probe.close()
    sizes = choose_sizes(args, ferretdb)
    if ferretdb and not args.quick:
        print(
            "FerretDB v1 target: sizes cut to what the peer's one-replace-per-event sink finishes "
            f"on it ({sizes.rows:,} rows, burst {sizes.burst:,}, rates {sizes.rates})"
        )
    started_at = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="relmig-peers-") as tmp:
        lab = Lab(args, sizes, Path(tmp))
        lab.prepare_source()
        worker = Worker(
            lab.bootstrap, int(_settings()["RELMIG_KAFKA_BROKER_PORT"]) + 50, Path(tmp) / "connect"
        )
        runs: list[SystemRun] = []
        try:
            print("starting the Kafka Connect worker", flush=True)
            jvm_start = worker.start()
            for name in systems:
                pipeline: Pipeline = (
                    PeerPipeline(lab, worker, args.sink)
                    if name == "peer"
                    else RelmigPipeline(lab, name)
                )
                result = lab.run_system(name, pipeline)
                if name == "peer":
                    result.start_seconds = jvm_start
                runs.append(result)
        except PeerError as exc:
            raise BenchError(f"peer pipeline: {exc}") from None
        finally:
            worker.stop()
            lab.client.close()
        text = report(runs, sizes, target, args.sink)
        minutes = (dt.datetime.now(dt.UTC) - started_at).total_seconds() / 60
        text = (
            f"Command: `.venv/bin/python bench/peers/run.py {' '.join(argv)}`  \n"
            f"Date: {started_at:%Y-%m-%d %H:%M} UTC, {minutes:.0f} min  \n\n"
            + text
            + "\n\n"
            + "".join(f"- check: {c}\n" for c in lab.checks)
        )
        print("\n" + text)
        failed = [c for c in lab.checks if "FAILED" in c]
        if args.write_docs:
            write_block(BEGIN, END, "relmig against the peer pipeline (issue 12)", text + "\n")
        return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    return bench_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
