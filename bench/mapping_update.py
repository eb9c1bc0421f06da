"""A mapping update of a running job on a collection of many roots: the rebuild while changes
stream, against a fresh snapshot of the same collection (issue 22).

    .venv/bin/python bench/mapping_update.py --mongo2          # 100,000 roots, 3 rounds
    .venv/bin/python bench/mapping_update.py --mongo2 --quick  # 20,000 roots, 1 round, prints

Per round, on a fresh PostgreSQL database (the CDC rig's sample, tests/cdc_rig.py), `orders` is
grown to --roots rows of 4 `order_details` each. A continuous job (JobManager, on a thread of this
process) maps `orders` alone. Under a paced load (--rate transactions/s, each updating one
order's freight and one of its lines) the project gains `lines` (the order's details as an
embedded array) through `JobManager.update`, as `relmig jobs update` does:

rebuild     from the update until the shadow collection is swapped in (its row DONE);
lag         the job's commit-to-applied lag, saved with each batch (`lag_seconds`), one sample
            per saved position: for --before seconds under the same load before the update, and
            during the rebuild; p50, p99 and max;
baseline    a snapshot job (in this process) of the new mapping's `orders` alone into another
            database, same rows: what a new job would copy for this collection;
verify      the target against a fresh snapshot of the source after the rebuild.

Rounds alternate which of rebuild and baseline runs first; medians and ranges. Peak RSS is the
bench process's (job, load and sampler). Services from `dev/services up` (`--mongo2` for
mongo-java-server), settings from dev/ports.env; the database and slot are dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from bench.snapshot import (  # noqa: E402
    BenchError,
    Services,
    bench_main,
    dev_settings,
    source_revision,
    write_block,
)

from cdc_rig import Rig, cleanup_rig, fk, make_rig  # noqa: E402
from relmig.project.model import CollectionRule, EmbedRule, Project  # noqa: E402
from relmig.runtime.jobs import JobManager, JobOptions  # noqa: E402

BEGIN = "<!-- bench/mapping_update.py results: begin (generated, do not edit by hand) -->"
END = "<!-- bench/mapping_update.py results: end -->"
FIRST = 100_000  # first key of the generated orders (the sample's are below)


@dataclass
class Round:
    rebuild_s: float = 0.0
    snapshot_s: float = 0.0
    lag_before: list[float] = field(default_factory=list)
    lag_during: list[float] = field(default_factory=list)
    committed: int = 0


class PacedLoad(threading.Thread):
    """`rate` transactions a second: one order's freight and one of its lines."""

    def __init__(self, rig: Rig, rate: float, roots: int) -> None:
        super().__init__(daemon=True)
        self.rig, self.rate, self.roots = rig, rate, roots
        self.stop = threading.Event()
        self.committed = 0

    def run(self) -> None:
        rng = random.Random(22)
        while not self.stop.wait(1 / self.rate):
            order = FIRST + rng.randrange(self.roots)
            self.rig.execute(
                [
                    ("UPDATE orders SET freight = freight + 1 WHERE order_id = %s", (order,)),
                    (
                        "UPDATE order_details SET quantity = quantity %% 50 + 1 "
                        "WHERE order_id = %s AND product_id = "
                        "(SELECT min(product_id) FROM order_details WHERE order_id = %s)",
                        (order, order),
                    ),
                ]
            )
            self.committed += 1


def grow(rig: Rig, roots: int) -> None:
    rig.execute(
        [
            (
                "INSERT INTO orders (order_id, customer_id, sold_by, order_date, ship_via, "
                "freight, ship_name) SELECT g, c.a[1 + g %% array_length(c.a, 1)], 1, now(), "
                "1 + g %% 3, 9.99, 'Ship ' || g FROM generate_series(%s, %s) g, "
                "(SELECT array_agg(customer_id) AS a FROM customers) c",
                (FIRST, FIRST + roots - 1),
            ),
            (
                "INSERT INTO order_details (order_id, product_id, unit_price, quantity, "
                "discount) SELECT g, p.product_id, 12.5, 3, 0 FROM generate_series(%s, %s) g, "
                "(SELECT product_id FROM products ORDER BY product_id LIMIT 4) p",
                (FIRST, FIRST + roots - 1),
            ),
            ("ANALYZE orders", ()),
            ("ANALYZE order_details", ()),
        ]
    )


def projects(rig: Rig) -> tuple[Project, Project]:
    """`orders` flat, and `orders` with its lines embedded."""
    schema = rig.project.table(rig.project.collections[0].table).schema_
    flat = CollectionRule(name="orders", table=f"{schema}.orders")
    lines = EmbedRule(
        kind="array",
        table=f"{schema}.order_details",
        foreign_key=fk(rig.project, f"{schema}.order_details", ["order_id"]),
        field="lines",
    )
    nested = flat.model_copy(update={"embeds": [lines]})
    dump = rig.project.model_dump(by_alias=True)
    return (
        Project.model_validate({**dump, "collections": [flat.model_dump()]}),
        Project.model_validate({**dump, "collections": [nested.model_dump()]}),
    )


def one_round(args: argparse.Namespace, mongo_uri: str, n: int, tmp: Path) -> Round:
    rig = make_rig("postgresql", dev_settings(), mongo_uri, tmp)
    out = Round()
    load: PacedLoad | None = None
    try:
        grow(rig, args.roots)
        flat, nested = projects(rig)
        rig.project = flat
        fix = rig.manager.check(nested)
        if fix:
            rig.execute([(line, ()) for line in fix.splitlines() if not line.startswith("--")])
        snapshot_first = n % 2 == 1
        if snapshot_first:
            out.snapshot_s = fresh_snapshot(rig, nested, mongo_uri)
        job_id = rig.start("continuous")
        rig.wait_for(job_id, lambda j: j["stage"] == "CDC" and j["cdc_status"] == "RUNNING")
        load = PacedLoad(rig, args.rate, args.roots)
        load.start()
        out.lag_before = lags(rig, job_id, args.before)
        started = time.monotonic()
        rig.manager.update(job_id, nested)
        out.lag_during = lags(rig, job_id, args.timeout, lambda: recopied(rig, job_id))
        out.rebuild_s = time.monotonic() - started
        load.stop.set()
        load.join()
        out.committed = load.committed
        rig.caught_up(job_id)
        rig.project = nested
        rig.verify()
        if not snapshot_first:
            out.snapshot_s = fresh_snapshot(rig, nested, mongo_uri)
        return out
    finally:
        if load is not None:
            load.stop.set()
        cleanup_rig(rig)


def recopied(rig: Rig, job_id: str) -> bool:
    rows = rig.store.recopies_of(job_id)
    return bool(rows) and all(r["state"] == "DONE" for r in rows)


def lags(
    rig: Rig, job_id: str, seconds: float, until: Callable[[], bool] | None = None
) -> list[float]:
    """One lag per saved position, every 50 ms, for `seconds` or until `until()` holds (which
    must happen within them)."""
    deadline = time.monotonic() + seconds
    seen: str | None = None
    out: list[float] = []
    while time.monotonic() < deadline:
        job = rig.store.job(job_id) or {}
        if job.get("status") == "FAILED":
            raise BenchError(f"the job failed: {job['failure']}")
        if job.get("position") != seen and job.get("lag_seconds") is not None:
            seen = job["position"]
            out.append(float(job["lag_seconds"]))
        if until is not None and until():
            return out
        time.sleep(0.05)
    if until is not None:
        raise BenchError(f"the rebuild did not finish within {seconds:.0f} s")
    return out


def fresh_snapshot(rig: Rig, project: Project, mongo_uri: str) -> float:
    """A new snapshot job of the same collection into another database, timed."""
    manager = JobManager(rig.store)
    database = f"{rig.target_db}_fresh"
    job_id = manager.create(project, mongo_uri, database, JobOptions(mode="snapshot"))
    started = time.monotonic()
    status = manager.run(job_id, mongo_uri)
    seconds = time.monotonic() - started
    if status != "COMPLETED":
        raise BenchError(f"the baseline snapshot ended {status}")
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    client.drop_database(database)
    client.close()
    return seconds


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def report(args: argparse.Namespace, rounds: list[Round], target: str, argv: list[str]) -> str:
    def spread(values: list[float], fmt: str) -> str:
        med = statistics.median(values)
        return f"{fmt.format(med)} ({fmt.format(min(values))} to {fmt.format(max(values))})"

    rebuild = [r.rebuild_s for r in rounds]
    snap = [r.snapshot_s for r in rounds]
    ratio = [r.rebuild_s / r.snapshot_s for r in rounds]
    lines = [
        f"Measured at {source_revision()} on {target}, {args.roots:,} roots of 4 lines, "
        f"{args.rate:g} transactions/s streaming, {len(rounds)} round(s), order alternated.",
        f"Command: `.venv/bin/python bench/mapping_update.py {' '.join(argv)}`",
        "",
        "| figure | median (range) |",
        "|---|---:|",
        f"| rebuild while CDC streams (s) | {spread(rebuild, '{:.1f}')} |",
        f"| fresh snapshot of the collection (s) | {spread(snap, '{:.1f}')} |",
        f"| rebuild / fresh snapshot | {spread(ratio, '{:.2f}')} |",
        f"| roots/s during the rebuild | {spread([args.roots / s for s in rebuild], '{:,.0f}')} |",
    ]
    for label, pick in (("before the update", "lag_before"), ("during the rebuild", "lag_during")):
        for q, name in ((0.5, "p50"), (0.99, "p99"), (1.0, "max")):
            vals = [quantile(getattr(r, pick), q) * 1000 for r in rounds]
            lines.append(f"| lag {name} {label} (ms) | {spread(vals, '{:,.0f}')} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines.append(f"| peak RSS of the bench process (MB) | {peak:,.0f} |")
    return "\n".join(lines) + "\n"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mongo2", action="store_true", help="target mongo-java-server")
    p.add_argument("--quick", action="store_true", help="20,000 roots, one round, print only")
    p.add_argument("--roots", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--rate", type=float, default=20.0, help="transactions/s during the rebuild")
    p.add_argument("--before", type=float, default=5.0, help="seconds of load before the update")
    p.add_argument("--timeout", type=float, default=900.0)
    args = p.parse_args(argv)
    if args.quick:
        args.roots, args.rounds = 20_000, 1
    return args


def run(args: argparse.Namespace, argv: list[str]) -> int:
    import tempfile

    s = dev_settings()
    port = s["RELMIG_MONGO2_PORT" if args.mongo2 else "RELMIG_MONGO_PORT"]
    target = "mongo-java-server" if args.mongo2 else "FerretDB v1"
    mongo_uri = f"mongodb://{s['RELMIG_HOST']}:{port}/"
    svc = Services.from_env(mongo_uri)
    svc.mongo_client().close()  # the target answers, or a clear message
    os.environ.setdefault("RELMIG_TEST_PG_PASSWORD", s["RELMIG_PG_PASSWORD"])  # the rig's
    rounds = []
    for n in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            rounds.append(one_round(args, mongo_uri, n, Path(tmp)))
        print(f"round {n + 1}: {rounds[-1].rebuild_s:.1f} s rebuild, {rounds[-1].snapshot_s:.1f} s")
    text = report(args, rounds, target, argv)
    print(text)
    if not args.quick:
        write_block(BEGIN, END, "Mapping update of a running job", text)
    return 0


def main(argv: list[str] | None = None) -> int:
    return bench_main(parse, run, argv)


if __name__ == "__main__":
    sys.exit(main())
