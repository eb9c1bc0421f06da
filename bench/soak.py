"""Soak: one continuous job under a steady mixed workload, killed (SIGKILL) and resumed every
few minutes; lag and RSS over time, verify at the end.

    .venv/bin/python bench/soak.py                      # 30 min, kill + resume every 5 min
    .venv/bin/python bench/soak.py --minutes 2          # the tests' short mode
    .venv/bin/python bench/soak.py --write-docs         # and rewrite its docs/benchmarks.md block

The source is the CDC test rig's sample database (tests/cdc_rig.py) with its deep mapping
(customers → orders → lines → product → category, orders with their shipper and top lines), and
its random workload: new orders (inserts), quantities and names (updates), deleted orders,
lines moved to another order (primary and foreign key moves), orders moved to another customer,
shipper and category updates (fan-out into many documents). `--rate` transactions a second,
each of 1-3 of these operations.

The job is relmig's CLI (`relmig sync`, then `relmig jobs resume` after each kill) in a child
process, with bench/cdc.py's lag log (per source transaction: commit time from pgoutput, and
the time the batch that carried it was written) and its RSS sampled every 50 ms. Per window
(`--window` seconds): transactions committed, lag p50/p99 of the transactions committed in it,
the job process's peak RSS; per kill: seconds down, seconds from resume to caught up. At the
end: events applied, and the rig's verify (target against a fresh snapshot of the source);
a difference exits 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from bench.cdc import (  # noqa: E402
    PASSWORD_ENV,
    Case,
    CdcServices,
    JobProcess,
    Lab,
    PacedWriter,
    _ms,
    _quantile,
    command_line,
    measured_revision,
)
from bench.snapshot import _mb, bench_main, dev_settings, machine_note, write_block  # noqa: E402

from cdc_rig import Rig, make_rig  # noqa: E402

BEGIN = "<!-- bench/soak.py results: begin (generated, do not edit by hand) -->"
END = "<!-- bench/soak.py results: end -->"


class RigWorkload:
    """The rig's random transactions, in PacedWriter's terms (`txn` returns one key per
    committed transaction)."""

    def __init__(self, rig: Rig, seed: int) -> None:
        self.rig = rig
        self.rng = random.Random(seed)

    def txn(self, size: int) -> list[Any]:
        return [None] * self.rig.workload(self.rng, size)


@dataclass(slots=True)
class Kill:
    at: float  # seconds into the soak
    down: float
    caught_up: float  # resume → position past a mark emitted at resume


@dataclass(slots=True)
class Window:
    start: float
    txns: int
    lags: list[float]
    rss_peak: int


@dataclass
class Soak:
    lab: Lab
    case: Case
    args: argparse.Namespace
    kills: list[Kill] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    events: int = 0
    snapshot_seconds: float = 0.0
    verified: str = ""

    def run(self) -> None:
        a, lab, case = self.args, self.lab, self.case
        self.snapshot_seconds = lab.start_job(case)
        writer = PacedWriter(case.workload, a.rate, 1)  # type: ignore[arg-type]
        mono0, wall0 = time.monotonic(), time.time()
        writer.start()
        end = mono0 + a.minutes * 60
        next_kill = mono0 + a.kill_every
        try:
            while (now := time.monotonic()) < end:
                if now >= next_kill and end - now > a.down + 10:
                    self.kill_and_resume(now - mono0)
                    next_kill += a.kill_every
                time.sleep(0.5)
        finally:
            writer.stop()
        lab.caught_up(case, "the final catch-up")
        self.tally(writer, mono0, wall0, time.monotonic())
        job = lab.rig.store.job(case.job_id) or {}
        self.events = int(job.get("events_total") or 0)
        try:
            lab.rig.verify()
            self.verified = "equal"
        except AssertionError as exc:
            self.verified = f"DIFFERENT: {exc}"
        lab.complete(case)

    def kill_and_resume(self, at: float) -> None:
        a, lab, case = self.args, self.lab, self.case
        assert case.job is not None and case.capture is not None
        case.job.kill()
        killed = time.monotonic()
        time.sleep(a.down)
        mark = case.capture.mark()
        resumed = time.monotonic()
        case.job = JobProcess(lab, ["jobs", "resume", case.job_id])
        capture = case.capture
        caught = lab.until(
            case,
            lambda j: (
                j["status"] == "RUNNING"
                and j["position"] is not None
                and capture.reached(j["position"], mark)
            ),
            "catch-up after resume",
            failed_ok=True,  # the new process marks the dead one's job FAILED first
        )
        kill = Kill(at, resumed - killed, caught - resumed)
        self.kills.append(kill)
        print(
            f"  {at:6.0f} s: kill -9, {kill.down:.1f} s down, caught up {kill.caught_up:.1f} s "
            "after resume",
            flush=True,
        )

    def tally(self, writer: PacedWriter, mono0: float, wall0: float, mono_end: float) -> None:
        w = self.args.window
        lags = [(c - wall0, applied - c) for c, applied, _ in self.lab.lag_lines() if c >= wall0]
        rss = [(t - mono0, r) for p in self.lab.processes for t, r in p.rss.samples]
        commits = [t - mono0 for t, _ in writer.commits]
        start = 0.0
        while start < mono_end - mono0:
            inside = lambda t, s=start: s <= t < s + w  # noqa: E731 - this window's test
            self.windows.append(
                Window(
                    start,
                    sum(1 for t in commits if inside(t)),
                    [lag for c, lag in lags if inside(c)],
                    max((r for t, r in rss if inside(t)), default=0),
                )
            )
            start += w


def report(soak: Soak) -> str:
    a = soak.args
    lags = [lag for w in soak.windows for lag in w.lags]
    rows = [
        "| minute | transactions | lag p50 | lag p99 | job RSS peak | kill -9 |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for w in soak.windows:
        kills = [k for k in soak.kills if w.start <= k.at < w.start + a.window]
        note = ", ".join(f"down {k.down:.0f} s, caught up {k.caught_up:.1f} s later" for k in kills)
        rows.append(
            f"| {w.start / 60:.1f} | {w.txns} | {_ms(_quantile(w.lags, 0.5))} | "
            f"{_ms(_quantile(w.lags, 0.99))} | {_mb(w.rss_peak)} | {note} |"
        )
    steady = [w.rss_peak for w in soak.windows if w.rss_peak]
    return (
        f"- {a.minutes:g} min at {a.rate:g} transactions/s (1-3 operations each), kill -9 and "
        f"resume every {a.kill_every:g} s ({len(soak.kills)} in all), {a.down:g} s down each\n"
        f"- snapshot then streaming after {soak.snapshot_seconds:.1f} s; events applied "
        f"{soak.events:,}; verify at the end: **{soak.verified}**\n"
        f"- lag over the whole soak: p50 {_ms(_quantile(lags, 0.5))}, "
        f"p99 {_ms(_quantile(lags, 0.99))} ({len(lags):,} transactions; the windows with a "
        "kill include the changes that waited for the resume)\n"
        f"- job RSS peak per window: first {_mb(steady[0]) if steady else '-'}, last "
        f"{_mb(steady[-1]) if steady else '-'}, highest {_mb(max(steady, default=0))}\n\n"
        + "\n".join(rows)
        + "\n"
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/soak.py",
        description="A continuous job under a steady mixed workload, killed and resumed.",
    )
    p.add_argument("--minutes", type=float, default=30.0, help="soak duration [30]")
    p.add_argument("--rate", type=float, default=4.0, help="source transactions/s [4]")
    p.add_argument("--kill-every", type=float, help="seconds between kills [300; 2 min: 40]")
    p.add_argument("--down", type=float, default=5.0, help="seconds the job stays dead [5]")
    p.add_argument("--window", type=float, help="seconds per reported window [60; 2 min: 20]")
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--timeout", type=float, default=300.0, help="longest wait for a job [s]")
    p.add_argument("--mongo-uri", help="target URI [mongodb://RELMIG_HOST:RELMIG_MONGO_PORT/]")
    p.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = p.parse_args(argv)
    short = args.minutes <= 5
    args.kill_every = args.kill_every or (40.0 if short else 300.0)
    args.window = args.window or (20.0 if short else 60.0)
    return args


def run(args: argparse.Namespace, argv: list[str]) -> int:
    svc = CdcServices.from_env(args.mongo_uri)
    started_at = dt.datetime.now(dt.UTC)
    client = svc.mongo_client()
    machine, software = machine_note(svc, client)
    machine = machine.format(load=" / ".join(f"{x:.1f}" for x in os.getloadavg()))
    os.environ[PASSWORD_ENV] = svc.pg_password
    with tempfile.TemporaryDirectory(prefix="relmig-soak-") as tmp:
        home = Path(tmp)
        rig = make_rig("postgresql", dev_settings(), svc.mongo_uri, home)
        lab = Lab(svc, args, rig, home, client)
        case = Case("soak", "deep mapping", "customers", rig, RigWorkload(rig, args.seed))  # type: ignore[arg-type]
        soak = Soak(lab, case, args)
        print(f"soak: {args.minutes:g} min, database {rig.target_db}", flush=True)
        try:
            soak.run()
        finally:
            lab.cleanup()
            client.close()
    text = report(soak)
    print("\n" + text)
    if args.write_docs:
        write_block(
            BEGIN,
            END,
            "Soak (issue 14)",
            f"Command: `{command_line(argv).replace('bench/cdc.py', 'bench/soak.py')}`  \n"
            f"Date: {started_at:%Y-%m-%d %H:%M} UTC  \n"
            f"Machine: {machine}  \n"
            f"Software: {software}; relmig {measured_revision()}\n\n" + text,
        )
    return 0 if soak.verified == "equal" else 1


def main(argv: list[str] | None = None) -> int:
    return bench_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
