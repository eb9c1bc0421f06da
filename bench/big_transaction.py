"""One source transaction larger than memory would allow if buffered: the job's RSS while it is
applied, with the transaction spooled to disk past a bound and, as the baseline on the same data
in the same run, with every change held in memory.

    .venv/bin/python bench/big_transaction.py                   # 2,000,000 rows in one UPDATE
    .venv/bin/python bench/big_transaction.py --rows 100000 --in-memory 5000 --no-baseline
    .venv/bin/python bench/big_transaction.py --write-docs      # and rewrite its docs block

For each run: a continuous job (`relmig sync`, a child process with its RSS sampled every
50 ms) on a flat table of `--rows` rows; once it streams, one `UPDATE` of every row in a single
transaction; the job's RSS just before the transaction and its peak until the job has applied
it; then verify (the target equals a fresh snapshot of the source). The spooled run keeps
`--in-memory` changes of a transaction in memory (RELMIG_TXN_MEMORY_CHANGES); the baseline
keeps all of them. A difference, or a failed job, exits 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from bench.cdc import (  # noqa: E402
    PASSWORD_ENV,
    Case,
    CdcServices,
    Lab,
    command_line,
    measured_revision,
)
from bench.snapshot import _mb, bench_main, dev_settings, machine_note, write_block  # noqa: E402

from cdc_rig import make_rig  # noqa: E402
from relmig.mongo.writer import MongoTarget  # noqa: E402
from relmig.project.model import CollectionRule  # noqa: E402
from relmig.source.connect import open_source  # noqa: E402
from relmig.source.spool import DEFAULT_IN_MEMORY, SPILL_ENV  # noqa: E402
from relmig.verify.compare import verify  # noqa: E402

BEGIN = "<!-- bench/big_transaction.py results: begin (generated, do not edit by hand) -->"
END = "<!-- bench/big_transaction.py results: end -->"


@dataclass(slots=True)
class Run:
    label: str
    in_memory: int
    rss_before: int = 0
    rss_peak: int = 0
    seconds: float = 0.0
    verified: str = ""


def load(lab: Lab, rows: int) -> None:
    with lab.connect() as conn:
        conn.execute(
            "CREATE TABLE big_txn (id bigint PRIMARY KEY, qty int NOT NULL, note text NOT NULL)"
        )
        conn.execute(
            "INSERT INTO big_txn SELECT g, 0, md5(g::text) FROM generate_series(1, %s) g", (rows,)
        )
        conn.execute("ALTER TABLE big_txn REPLICA IDENTITY FULL")  # the largest change images
        conn.execute("VACUUM ANALYZE big_txn")


def measure(lab: Lab, case: Case, run: Run, rows: int) -> None:
    os.environ[SPILL_ENV] = str(run.in_memory)
    lab.client[lab.rig.target_db].drop_collection("big")
    lab.start_job(case)
    assert case.job is not None
    time.sleep(1.0)
    run.rss_before = case.job.rss.now()
    start = time.monotonic()
    with lab.connect() as conn:  # one transaction: every row changed
        conn.execute("UPDATE big_txn SET qty = qty + 1")
    lab.caught_up(case, "the large transaction applied")
    end = time.monotonic()
    run.seconds = end - start
    run.rss_peak = case.job.rss.peak(start, end)
    source = open_source(case.rig.settings)
    target = MongoTarget(lab.rig.target_uri, lab.rig.target_db)
    try:
        report = verify(case.rig.project, source, target, filters=False)
        run.verified = "equal" if report.ok else f"DIFFERENT ({report.collections})"
    finally:
        source.close()
        target.close()
    lab.complete(case)
    case.job_id, case.job, case.capture = "", None, None
    print(
        f"  {run.label}: {rows:,} changes in {run.seconds:.1f} s, RSS before "
        f"{_mb(run.rss_before)}, peak {_mb(run.rss_peak)}, verify {run.verified}",
        flush=True,
    )


def report(args: argparse.Namespace, runs: list[Run]) -> str:
    rows = [
        "| run | changes kept in memory | seconds to apply | job RSS before | job RSS peak | "
        "growth | verify |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        rows.append(
            f"| {r.label} | {r.in_memory:,} | {r.seconds:.1f} | {_mb(r.rss_before)} | "
            f"{_mb(r.rss_peak)} | {_mb(r.rss_peak - r.rss_before)} | {r.verified} |"
        )
    text = (
        f"- one `UPDATE` of {args.rows:,} rows in a single transaction (REPLICA IDENTITY FULL: "
        "before and after images), applied by a continuous job in embedded mode\n"
    )
    if len(runs) == 2:
        spooled, held = runs
        growth = (spooled.rss_peak - spooled.rss_before) / max(held.rss_peak - held.rss_before, 1)
        text += (
            f"- peak RSS growth, spooled / held in memory: {growth:.2f}"
            f"; time to apply, spooled / held: {spooled.seconds / held.seconds:.2f}\n"
        )
    return text + "\n" + "\n".join(rows) + "\n"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/big_transaction.py",
        description="RSS of a job applying one transaction larger than memory would allow.",
    )
    p.add_argument("--rows", type=int, default=2_000_000, help="rows in the transaction [2M]")
    p.add_argument(
        "--in-memory",
        type=int,
        default=DEFAULT_IN_MEMORY,
        help=f"changes of a transaction kept in memory [{DEFAULT_IN_MEMORY:,}]",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the all-in-memory run")
    p.add_argument("--timeout", type=float, default=3600.0, help="longest wait for a job [s]")
    p.add_argument("--mongo-uri", help="target URI [mongodb://RELMIG_HOST:RELMIG_MONGO_PORT/]")
    p.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    return p.parse_args(argv)


def run(args: argparse.Namespace, argv: list[str]) -> int:
    svc = CdcServices.from_env(args.mongo_uri)
    started_at = dt.datetime.now(dt.UTC)
    client = svc.mongo_client()
    machine, software = machine_note(svc, client)
    machine = machine.format(load=" / ".join(f"{x:.1f}" for x in os.getloadavg()))
    os.environ[PASSWORD_ENV] = svc.pg_password
    runs = [Run("spooled", args.in_memory)]
    if not args.no_baseline:
        runs.append(Run("held in memory (baseline)", args.rows + 1))
    with tempfile.TemporaryDirectory(prefix="relmig-bigtxn-") as tmp:
        home = Path(tmp)
        rig = make_rig("postgresql", dev_settings(), svc.mongo_uri, home)
        lab = Lab(svc, args, rig, home, client)
        try:
            load(lab, args.rows)
            project = lab.project(
                "bench-big-transaction",
                lambda _p: [CollectionRule(name="big", table="public.big_txn")],
            )
            case = Case("big", "big_txn", "big", replace(rig, project=project), None)  # type: ignore[arg-type]
            print(f"big transaction: {args.rows:,} rows, database {rig.target_db}", flush=True)
            for r in runs:
                measure(lab, case, r, args.rows)
        finally:
            lab.cleanup()
            client.close()
    text = report(args, runs)
    print("\n" + text)
    if args.write_docs:
        write_block(
            BEGIN,
            END,
            "A transaction larger than memory (issue 14)",
            f"Command: `{command_line(argv).replace('bench/cdc.py', 'bench/big_transaction.py')}`"
            f"  \nDate: {started_at:%Y-%m-%d %H:%M} UTC  \n"
            f"Machine: {machine}  \n"
            f"Software: {software}; relmig {measured_revision()}\n\n" + text,
        )
    return 0 if all(r.verified == "equal" for r in runs) else 1


def main(argv: list[str] | None = None) -> int:
    return bench_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
