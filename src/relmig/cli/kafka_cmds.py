"""Kafka mode from the command line: extra sink workers, and the figures `jobs show` prints."""

from __future__ import annotations

import os
import socket
from typing import Any

import typer
from rich.table import Table as RichTable

from relmig.cli.common import TARGET_ENV, console, user_errors


@user_errors
def worker(
    job: str = typer.Option(..., "--job", help="The Kafka-mode job to work for."),
    bootstrap: str = typer.Option(
        None, "--bootstrap", help="Kafka bootstrap servers, if they differ from the job's."
    ),
    target: str = typer.Option(
        None, "--target", "-t", envvar=TARGET_ENV, help="MongoDB URI (default: the job's)."
    ),
    name: str = typer.Option(
        None, "--name", help="This worker's name in the job's monitoring (default: host:pid)."
    ),
    instance_id: str = typer.Option(
        None,
        "--instance-id",
        help="A stable group member id: restarted within the session timeout, the worker "
        "gets its partitions back without a rebalance.",
    ),
) -> None:
    """Join a Kafka-mode job's consumer group and apply its changes, here or on another machine.

    The job comes from the state store (RELMIG_STATE_URL), the source password from the
    variable the project names. Ctrl-C stops after the current batch.
    """
    from relmig.runtime.store import StateStore

    store = StateStore()
    name = name or f"{socket.gethostname()}:{os.getpid()}"
    # Imported here: every other command would pay for Kafka's client on startup.
    from relmig.transport.kafka.sink_worker import SinkWorker
    from relmig.transport.kafka.task import Reporter, TaskContext, run_task, stop_on_signals

    ctx = TaskContext.load(store, job, name, target, bootstrap)
    reporter = Reporter(store, job, name)
    stop = stop_on_signals()
    console.print(
        f"worker {name} joins group relmig.{job} at {ctx.settings.bootstrap}; Ctrl-C stops it"
    )
    code = run_task(SinkWorker(ctx, reporter, stop, instance_id), reporter)
    if code:
        row = next(t for t in store.kafka_tasks_of(job) if t["task"] == name)
        console.print(f"[red]worker {name} stopped:[/] {row['last_error']}")
        raise typer.Exit(code)


def print_kafka(status: dict[str, Any]) -> None:
    """The Kafka part of `relmig jobs show`."""
    rates = status["events_per_second"]
    console.print(
        f"kafka: topic {status['topic']}, lag {status['lag_total']} message(s), "
        f"{rates['published']:.1f} events/s published, {rates['applied']:.1f} applied, "
        f"last applied event {status['last_applied_event_at'] or '-'}"
    )
    parts = RichTable(title="Partitions")
    for col in ("partition", "end offset", "committed", "lag"):
        parts.add_column(col, justify="right")
    for p in status["partitions"]:
        parts.add_row(*(str(p[k]) for k in ("partition", "end_offset", "committed", "lag")))
    console.print(parts)
    tasks = RichTable(title="Tasks")
    for col in ("task", "state", "pid", "restarts", "events/s", "health", "last error"):
        tasks.add_column(col)
    for t in status["tasks"]:
        tasks.add_row(
            t["task"],
            t["state"] or "",
            str(t["pid"] or ""),
            str(t["restarts"]),
            f"{t['events_per_second'] or 0:.1f}",
            t["health"] or "",
            t["last_error"] or "",
        )
    console.print(tasks)
