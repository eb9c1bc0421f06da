"""Kafka mode against embedded mode on the same CDC workload, and one sink worker against two.

    .venv/bin/python bench/kafka.py           # default run (~10 min), as in docs/benchmarks.md
    .venv/bin/python bench/kafka.py --quick   # smaller smoke run (~3 min)

Each mode (embedded; kafka with 1 sink worker; kafka with 2) gets a fresh PostgreSQL database
from the CDC test rig (tests/cdc_rig.py: the sample schema, its four-level mapping with fan-out
and its random multi-table workload) and a continuous job run by a child process, so that the
job's memory (with its Kafka task processes) is measured alone. Kafka mode uses a 4-partition
topic on the dev cluster (`dev/services up --kafka-nodes 3`).

throughput  the job is paused, `--transactions` random transactions are committed, and the job
            is started again: events/s = change events / (caught up - ready). Ready: the CDC
            stage has started (embedded) or every task process reports that it runs (kafka).
            Caught up: the saved position passes a mark emitted after the load and (kafka) no
            partition has lag.
start       from starting the job process to ready: processes start, import relmig and
            connect. (This environment sets PYTHONDONTWRITEBYTECODE=1, so every process
            compiles what it imports, about 1 s.)
lag         under a paced random load (`--rate` transactions/s for `--seconds`) a marker column
            of one customer (its own document, no fan-out) is set every 0.5 s; lag = when the
            target document shows the value - when the source committed it, both on this
            host's clock, the target polled every 20 ms; p50 and p95 over the markers.
memory      peak RSS of the job process plus its children, sampled every 100 ms.

The machine is small and noisy (DESIGN-NOTES §7): compare the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
from pymongo import MongoClient

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests")]  # the CDC test rig and the dev settings, imported

from cdc_rig import Rig, cleanup_rig, make_rig  # noqa: E402
from conftest import dev_settings, kafka_bootstrap_servers  # noqa: E402
from relmig.runtime.jobs import JobOptions  # noqa: E402
from relmig.source.capture import open_capture  # noqa: E402
from relmig.transport.kafka.lag import LagProbe  # noqa: E402
from relmig.transport.kafka.topics import KafkaSettings  # noqa: E402

PARTITIONS = 4
WAIT = 600.0  # seconds, for any single wait
RUN_JOB = """
import sys
from relmig.runtime.jobs import JobManager
from relmig.runtime.store import StateStore
JobManager(StateStore(sys.argv[1])).run(sys.argv[2], sys.argv[3])
"""


@dataclass
class Mode:
    name: str
    engine: str
    workers: int = 0


MODES = [Mode("embedded", "embedded"), Mode("kafka, 1 worker", "kafka", 1)]
MODES.append(Mode("kafka, 2 workers", "kafka", 2))


@dataclass
class Result:
    mode: Mode
    events: int
    seconds: float
    started: float
    lags: list[float]
    peak_rss: int

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def lag(self, q: int) -> float:
        return statistics.quantiles(self.lags, n=100)[q - 1] if len(self.lags) > 1 else 0.0


def wait_for(cond: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while not (value := cond()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


class TreeRss(threading.Thread):
    """Peak RSS of a process and its descendants."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.peak = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.1):
            try:
                procs = [self.root, *self.root.children(recursive=True)]
                self.peak = max(self.peak, sum(_rss(p) for p in procs))
            except psutil.NoSuchProcess:
                return


def _rss(proc: psutil.Process) -> int:
    try:
        return int(proc.memory_info().rss)
    except psutil.NoSuchProcess:
        return 0


class Bench:
    def __init__(self, args: argparse.Namespace, settings: dict[str, str], tmp: Path) -> None:
        self.args = args
        self.settings = settings
        self.tmp = tmp
        self.bootstrap = kafka_bootstrap_servers(settings)
        self.mongo_uri = f"mongodb://{settings['RELMIG_HOST']}:{settings['RELMIG_MONGO_PORT']}/"

    def run(self, mode: Mode) -> Result:
        home = self.tmp / mode.name.replace(" ", "_").replace(",", "")
        home.mkdir()
        rig = make_rig("postgresql", self.settings, self.mongo_uri, home)
        try:
            return self._measure(rig, mode)
        finally:
            cleanup_rig(rig)

    def _measure(self, rig: Rig, mode: Mode) -> Result:
        options = JobOptions(
            engine=mode.engine,  # type: ignore[arg-type]
            kafka_bootstrap=self.bootstrap if mode.engine == "kafka" else None,
            kafka_partitions=PARTITIONS,
            kafka_workers=mode.workers,
        )
        job_id = rig.manager.create(rig.project, rig.target_uri, rig.target_db, options)
        rig.jobs.append(job_id)
        child = self._job_process(rig, job_id)
        rig.streaming(job_id)
        rig.manager.pause(job_id)
        child.wait(WAIT)

        rig.workload(random.Random(self.args.seed), self.args.transactions)
        paused = rig.store.job(job_id)
        capture = open_capture(rig.project, job_id)
        mark = capture.mark()
        launched = time.monotonic()
        child = self._job_process(rig, job_id)
        rss = TreeRss(child.pid)
        rss.start()
        try:
            wait_for(lambda: self._ready(rig, job_id, mode), "the job to be ready")
            start = time.monotonic()
            wait_for(lambda: capture.reached(rig.store.job(job_id)["position"], mark), "the source")
            if mode.engine == "kafka":
                self._drained(job_id)
            seconds = time.monotonic() - start
            events = rig.store.job(job_id)["events_total"] - paused["events_total"]
            lags = self._lags(rig)
        finally:
            capture.close()
            rig.manager.cancel(job_id)
            child.wait(WAIT)
            rss.halt.set()
        return Result(mode, events, seconds, start - launched, lags, rss.peak)

    @staticmethod
    def _ready(rig: Rig, job_id: str, mode: Mode) -> bool:
        if mode.engine == "embedded":
            return bool(rig.store.job(job_id)["cdc_status"] == "RUNNING")
        tasks = {t["task"]: t["state"] for t in rig.store.kafka_tasks_of(job_id)}
        names = ["source", *(f"worker-{i}" for i in range(1, mode.workers + 1))]
        return all(tasks.get(name) == "RUNNING" for name in names)

    def _job_process(self, rig: Rig, job_id: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-c", RUN_JOB, rig.store.url, job_id, rig.target_uri]
        )

    def _drained(self, job_id: str) -> None:
        probe = LagProbe(KafkaSettings(self.bootstrap, PARTITIONS), job_id)
        try:
            wait_for(lambda: all(p.lag == 0 for p in probe.measure()), "the sinks")
        finally:
            probe.close()

    def _lags(self, rig: Rig) -> list[float]:
        """Marker updates under a paced random load; seconds until each shows in the target."""
        (customer,) = rig.query("SELECT max(customer_id) FROM customers")[0]
        s = self.settings
        conn = psycopg.connect(
            host=s["RELMIG_HOST"],
            port=int(s["RELMIG_PG_PORT"]),
            user=s["RELMIG_PG_USER"],
            password=s["RELMIG_PG_PASSWORD"],
            dbname=rig.target_db,
            autocommit=True,
        )
        client: MongoClient[dict[str, Any]] = MongoClient(self.mongo_uri)
        docs = client[rig.target_db]["customers"]
        stop = threading.Event()
        loader = threading.Thread(target=self._paced_load, args=(rig, stop), daemon=True)
        loader.start()
        lags = []
        try:
            end = time.monotonic() + self.args.seconds
            n = 0
            while time.monotonic() < end:
                n += 1
                conn.execute(
                    "UPDATE customers SET fax = %s WHERE customer_id = %s", (f"m{n}", customer)
                )
                committed = time.monotonic()
                wait_for(
                    lambda n=n: (docs.find_one({"_id": customer}) or {}).get("fax") == f"m{n}",
                    "the marker",
                )
                lags.append(time.monotonic() - committed)
                time.sleep(max(0.0, 0.5 - lags[-1]))
        finally:
            stop.set()
            loader.join()
            conn.close()
            client.close()
        return lags

    def _paced_load(self, rig: Rig, stop: threading.Event) -> None:
        rng = random.Random(self.args.seed + 1)
        while not stop.is_set():
            rig.workload(rng, 1)
            stop.wait(1 / self.args.rate)


def report(results: list[Result], args: argparse.Namespace) -> str:
    base = results[0]
    lines = [
        "| mode | events | events/s | vs embedded | start | lag p50 | lag p95 | peak RSS | "
        "vs embedded |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.mode.name} | {r.events} | {r.rate:,.0f} | {r.rate / base.rate:.2f} | "
            f"{r.started:.1f} s | "
            f"{r.lag(50):.2f} s | {r.lag(95):.2f} s | {r.peak_rss / 2**20:.0f} MiB | "
            f"{r.peak_rss / base.peak_rss:.2f} |"
        )
    k1, k2 = results[1], results[2]
    lines.append("")
    lines.append(
        f"2 sink workers against 1: throughput {k2.rate / k1.rate:.2f}x, "
        f"lag p50 {k2.lag(50) / max(k1.lag(50), 1e-9):.2f}x."
    )
    lines.append(
        f"Workload: {args.transactions} random transactions (seed {args.seed}) for throughput; "
        f"{args.rate:g} transactions/s for {args.seconds:g} s with a marker every 0.5 s for lag."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args()
    if args.quick:
        args.transactions, args.seconds = 300, 8.0
    settings = dev_settings()
    os.environ["RELMIG_TEST_PG_PASSWORD"] = settings["RELMIG_PG_PASSWORD"]  # the rig's project
    with tempfile.TemporaryDirectory(prefix="relmig-bench-kafka-") as tmp:
        bench = Bench(args, settings, Path(tmp))
        results = []
        for mode in MODES:
            print(f"{mode.name} …", flush=True)
            results.append(bench.run(mode))
    print(report(results, args))


if __name__ == "__main__":
    main()
