"""Scaling of the parallel snapshot, against the serial snapshot in the same run.

    .venv/bin/python bench/snapshot.py --scaling           # 1M flat rows; rewrites its block
    .venv/bin/python bench/snapshot.py --scaling --quick   # 20k rows, prints only

On bench/snapshot.py's flat table (a), one phase after the other in this process:

read+build serial      DocumentBuilder.scan over the whole table here, as the serial snapshot
                       reads and builds (no target).
read+build xN          the table split into key ranges (relmig.runtime.split, NTILE boundaries),
                       the ranges scanned by N worker processes that were started beforehand:
                       process start-up is paid once per job, not per row, so it is left out.
snapshot serial        a snapshot job (JobManager, drop, checkpoints), as `relmig snapshot`.
snapshot --parallel N  the same job with N worker processes (`relmig snapshot --parallel N`),
                       process start-up and range planning included.

Each parallel snapshot writes into its own database and is checked against the serial one:
same count, and 200 sampled documents identical. Memory is the RSS of this process plus all
its children, sampled every 50 ms (peak of the sum, and the largest single process); CPU is
user+system seconds of this process and its workers.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from bench.snapshot import (  # noqa: E402
    BENCH_DB,
    SAMPLE_INTERVAL,
    BenchError,
    Case,
    Services,
    Watchdog,
    _mb,
    _relmig_home,
    bench_main,
    ensure_database,
    flat_case,
    load_flat,
    machine_note,
    source_revision,
    write_block,
)

from relmig.documents.builder import DocumentBuilder  # noqa: E402
from relmig.documents.plan import RootPlan, compile_collection  # noqa: E402
from relmig.project.model import Project  # noqa: E402
from relmig.runtime.jobs import JobManager, JobOptions  # noqa: E402
from relmig.runtime.keys import loads_key  # noqa: E402
from relmig.runtime.split import split  # noqa: E402
from relmig.runtime.store import StateStore  # noqa: E402
from relmig.source.connect import open_source  # noqa: E402

BEGIN = "<!-- bench/snapshot.py --scaling results: begin (generated, do not edit by hand) -->"
END = "<!-- bench/snapshot.py --scaling results: end -->"
RANGES = 16  # key ranges of the table, for every parallel phase


@dataclass(slots=True)
class Phase:
    name: str
    processes: int
    docs: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    rss_total: int = 0  # peak of the sum over this process and its children
    rss_largest: int = 0  # peak of the largest single process

    @property
    def rate(self) -> float:
        return self.docs / self.seconds if self.seconds else 0.0


class TreeRss(threading.Thread):
    """The RSS of this process and all its descendants every SAMPLE_INTERVAL seconds."""

    def __init__(self) -> None:
        super().__init__(name="tree-rss", daemon=True)
        self.me = psutil.Process()
        self.halt = threading.Event()
        self.total = self.largest = 0

    def reset(self) -> None:
        self.total = self.largest = 0

    def run(self) -> None:
        while not self.halt.wait(SAMPLE_INTERVAL):
            sizes = []
            for proc in [self.me, *self.me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    sizes.append(proc.memory_info().rss)
            self.total = max(self.total, sum(sizes))
            self.largest = max(self.largest, max(sizes))


def _cpu() -> float:
    """User + system seconds of this process and of its children that ended."""
    me, children = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


@contextlib.contextmanager
def measured(phase: Phase, rss: TreeRss, phases: list[Phase]) -> Iterator[Phase]:
    rss.reset()
    cpu, start = _cpu(), time.monotonic()
    yield phase
    phase.seconds = time.monotonic() - start
    phase.cpu += _cpu() - cpu
    phase.rss_total, phase.rss_largest = rss.total, rss.largest
    phases.append(phase)
    print(
        f"  {phase.name:<24} {phase.docs:>9,} docs in {phase.seconds:7.1f} s "
        f"{phase.rate:>9,.0f} docs/s  CPU {phase.cpu:6.1f} s  peak RSS {_mb(phase.rss_total)} "
        f"(largest process {_mb(phase.rss_largest)})",
        flush=True,
    )


# --- read+build in worker processes -----------------------------------------------------------

_plan: RootPlan | None = None
_source: Any = None
_all_up: Any = None


def _start_reader(project_doc: dict[str, Any], password: str, all_up: Any) -> None:
    global _plan, _source, _all_up
    _all_up = all_up
    project = Project.model_validate(project_doc)
    _source = open_source(project.source, password)
    _plan = compile_collection(project, project.collections[0], _source, decimals="string")


def _ready(_: int) -> int:
    """Returns once every worker has started and connected (each takes one of these)."""
    _all_up.wait(600)
    return os.getpid()


def _read_build(lower: str | None, upper: str | None, batch: int) -> int:
    assert _plan is not None
    after = loads_key(lower) if lower else None
    upto = loads_key(upper) if upper else None
    return sum(p.rows for p in DocumentBuilder(_plan, _source).scan(after, batch, upto=upto))


@dataclass
class Scaling:
    svc: Services
    args: argparse.Namespace
    case: Case
    rss: TreeRss
    watchdog: Watchdog

    def __post_init__(self) -> None:
        self.phases: list[Phase] = []
        self.checks: list[str] = []
        with open_source(self.case.project.source, self.svc.pg_password) as source:
            plan = compile_collection(
                self.case.project, self.case.project.collections[0], source, decimals="string"
            )
            self.ranges = split(plan, source, RANGES)

    def read_build_serial(self) -> None:
        self.watchdog.beat("read+build serial")
        with open_source(self.case.project.source, self.svc.pg_password) as source:
            plan = compile_collection(
                self.case.project, self.case.project.collections[0], source, decimals="string"
            )
            with measured(Phase("read+build serial", 1), self.rss, self.phases) as phase:
                for page in DocumentBuilder(plan, source).scan(None, self.args.batch_size):
                    phase.docs += page.rows
                    self.watchdog.beat()

    def read_build_parallel(self, processes: int) -> None:
        self.watchdog.beat(f"read+build x{processes}")
        project_doc = self.case.project.model_dump(mode="json", by_alias=True)
        context = get_context("spawn")
        with ProcessPoolExecutor(
            processes,
            mp_context=context,
            initializer=_start_reader,
            initargs=(project_doc, self.svc.pg_password, context.Barrier(processes)),
        ) as pool:
            pids = set(pool.map(_ready, range(processes)))
            if len(pids) != processes:
                raise BenchError(f"read+build x{processes}: only {len(pids)} workers started")
            workers = [psutil.Process(p) for p in pids]
            before = sum(sum(w.cpu_times()[:2]) for w in workers)
            phase = Phase(f"read+build x{processes}", processes)
            with measured(phase, self.rss, self.phases):
                futures = [
                    pool.submit(_read_build, lower, upper, self.args.batch_size)
                    for lower, upper in self.ranges
                ]
                for future in futures:
                    phase.docs += future.result()
                    self.watchdog.beat()
                phase.cpu = sum(sum(w.cpu_times()[:2]) for w in workers) - before
        if phase.docs != self.case.roots:
            raise BenchError(f"{phase.name} read {phase.docs:,} rows of {self.case.roots:,}")

    def snapshot(self, processes: int | None) -> str:
        """A snapshot job into its own database; returns the database."""
        name = "snapshot serial" if processes is None else f"snapshot --parallel {processes}"
        db = BENCH_DB if processes is None else f"{BENCH_DB}_p{processes}"
        self.watchdog.beat(name)
        with tempfile.TemporaryDirectory(prefix="relmig-bench-") as home, _relmig_home(home):
            store = StateStore(f"sqlite:///{home}/state.db")
            try:
                manager = JobManager(store)
                options = JobOptions(
                    mode="snapshot",
                    drop=True,
                    batch_size=self.args.batch_size,
                    parallel=processes,
                    range_rows=max(1, self.case.roots // RANGES),
                )
                job_id = manager.create(self.case.project, self.svc.mongo_uri, db, options)
                with measured(Phase(name, processes or 1), self.rss, self.phases) as phase:
                    status = manager.run(
                        job_id,
                        self.svc.mongo_uri,
                        self.svc.pg_password,
                        lambda *_: self.watchdog.beat(),
                    )
                    if status != "COMPLETED":
                        raise BenchError(f"{name}: job {store.job(job_id)}")
                    phase.docs = sum(p["rows_done"] for p in store.progress_of(job_id))
            finally:
                store.close()
        return db

    def compare(self, serial_db: str, db: str, client: Any) -> None:
        """The parallel snapshot's documents are the serial one's."""
        collection = self.case.collection
        ours, theirs = client[db][collection], client[serial_db][collection]
        if ours.count_documents({}) != self.case.roots:
            raise BenchError(
                f"{db}: {ours.count_documents({}):,} documents, not {self.case.roots:,}"
            )
        step = max(1, self.case.roots // 200)
        ids = list(range(1, self.case.roots + 1, step))
        got = {d["_id"]: d for d in ours.find({"_id": {"$in": ids}})}
        want = {d["_id"]: d for d in theirs.find({"_id": {"$in": ids}})}
        if got != want or len(got) != len(ids):
            raise BenchError(f"{db}: sampled documents differ from the serial snapshot's")
        self.checks.append(
            f"{db}: {self.case.roots:,} documents, {len(ids)} sampled identical to the serial run's"
        )


def _ratio(phase: Phase, phases: list[Phase]) -> float:
    kind = phase.name.split(" ")[0]
    base = next(p for p in phases if p.name == f"{kind} serial")
    return phase.rate / base.rate


def results(phases: list[Phase]) -> str:
    lines = [
        "| phase | processes | docs | s | docs/s | vs serial | CPU s | CPU s per 1M docs | "
        "peak RSS, all processes | peak RSS, largest process |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for p in phases:
        lines.append(
            f"| {p.name} | {p.processes} | {p.docs:,} | {p.seconds:.1f} | {p.rate:,.0f} | "
            f"{_ratio(p, phases):.2f} | {p.cpu:.1f} | {p.cpu / p.docs * 1e6:.1f} | "
            f"{_mb(p.rss_total)} | {_mb(p.rss_largest)} |"
        )
    return "\n".join(lines) + "\n"


def summary(phases: list[Phase]) -> str:
    out = []
    for kind, what in (("read+build", "read+build, no target"), ("snapshot", "end to end")):
        mine = [p for p in phases if p.name.startswith(kind) and not p.name.endswith("serial")]
        ratios = ", ".join(f"{p.name} **{_ratio(p, phases):.2f}**" for p in mine)
        out.append(f"- {what}, docs/s against the serial run: {ratios}")
    return "\n".join(out) + "\n"


def _median(same: tuple[Phase, ...]) -> Phase:
    """Of one phase's rounds, the one closest to the median rate."""
    middle = statistics.median(p.rate for p in same)
    return min(same, key=lambda p: abs(p.rate - middle))


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/snapshot.py --scaling",
        description="The parallel snapshot with 1 and 2 processes against the serial one.",
    )
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of the flat table (a)")
    p.add_argument("--batch-size", type=int, default=1000, help="documents per page and write")
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="worker processes")
    p.add_argument("--repeat", type=int, default=1, help="runs of every phase, median reported")
    p.add_argument("--quick", action="store_true", help="smoke run: 20k rows, prints only")
    p.add_argument("--reload", action="store_true", help="regenerate the source table")
    p.add_argument("--mongo-uri", help="target URI [mongodb://RELMIG_HOST:RELMIG_MONGO_PORT/]")
    p.add_argument(
        "--stall-timeout", type=float, default=900.0, help="exit if nothing moves this long [s]"
    )
    p.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    args = p.parse_args(argv)
    if args.quick:
        args.rows = 20_000
    args.docs = not (args.quick or args.no_docs)
    return args


def run(args: argparse.Namespace, argv: list[str]) -> int:
    svc = Services.from_env(args.mongo_uri)
    os.environ["RELMIG_BENCH_PG_PASSWORD"] = svc.pg_password
    started_at, load_start = dt.datetime.now(dt.UTC), os.getloadavg()
    watchdog = Watchdog(args.stall_timeout)
    watchdog.start()
    client = svc.mongo_client()
    ensure_database(svc)
    machine, software = machine_note(svc, client)
    machine = machine.format(load=" / ".join(f"{x:.1f}" for x in load_start))
    print(f"machine : {machine}\nsoftware: {software}\nsource data:")
    table = f"flat_{args.rows}"
    load_flat(svc, table, args.rows, args.reload)
    case = flat_case(svc, "a", table, args.rows)
    rss = TreeRss()
    rss.start()
    bench = Scaling(svc, args, case, rss, watchdog)
    print(f"\n{case.label}, {len(bench.ranges)} key ranges (batch size {args.batch_size})")
    runs: list[list[Phase]] = []
    for _ in range(args.repeat):  # every phase once per round, so noise hits them all
        bench.phases = []
        bench.read_build_serial()
        for n in args.processes:
            bench.read_build_parallel(n)
        serial_db = bench.snapshot(None)
        for n in args.processes:
            bench.compare(serial_db, bench.snapshot(n), client)
            client.drop_database(f"{BENCH_DB}_p{n}")
        runs.append(bench.phases)
    rss.halt.set()
    client.drop_database(BENCH_DB)
    client.close()
    phases = [_median(same) for same in zip(*runs, strict=True)]
    text = summary(phases) + "\n" + results(phases)
    print("\n" + text + "".join(f"check: {c}\n" for c in bench.checks))
    if args.docs:
        load_end = os.getloadavg()
        write_block(
            BEGIN,
            END,
            "Parallel snapshot scaling (issue 12)",
            f"Command: `{' '.join(['.venv/bin/python bench/snapshot.py --scaling', *argv])}`  \n"
            f"Date: {started_at:%Y-%m-%d %H:%M} UTC, "
            f"{(dt.datetime.now(dt.UTC) - started_at).total_seconds() / 60:.0f} min  \n"
            f"Machine: {machine}, at the end {' / '.join(f'{x:.1f}' for x in load_end)}  \n"
            f"Software: {software}; relmig at commit {source_revision()}  \n"
            f"Batch size {args.batch_size}; {len(bench.ranges)} key ranges; "
            f"{args.repeat} round(s), the median phase of each kind reported\n\n"
            + text
            + "\n"
            + "".join(f"- check: {c}\n" for c in sorted(set(bench.checks))),
        )
    return 0


def main(argv: list[str]) -> int:
    return bench_main(parse_args, run, argv, "; the source data is kept, so a rerun is quick.")
