"""How tests share the local servers when `make test` runs the suite in several processes
(pytest-xdist).

Most tests only add databases, slots, topics and jobs of their own (named with a random part,
or with `per_worker` where a name is fixed), so they run side by side. The others say why not:

- `@pytest.mark.alone(why=...)`: the test restarts or reconfigures a server that every test
  uses (PostgreSQL, FerretDB, MariaDB's binlogs), or needs the servers to itself. Other
  workers keep connections and streams open between their tests, so no lock taken per test
  could make that safe: `make test` runs these tests after the parallel phase, in one process
  (`-m alone`).
- `@pytest.mark.disrupts(RESOURCE, why=...)`: the test disturbs the users of one shared
  resource, which recover from it (a killed Kafka broker). It holds the resource exclusively
  for its whole run, fixtures included, while each other user holds it shared:
  - "kafka": the tests that ask for a Kafka bootstrap fixture, or are marked
    `shares("kafka")`;
  - "fault-proxies": the tests that drive Toxiproxy. Each worker faults copies of its own of
    the server links (tests/faults.py); a test that needs dev/services' proxies themselves is
    marked `disrupts("fault-proxies")`;
  - "kafka-proxies": Kafka's links in Toxiproxy, which have no copies (each broker advertises
    its own proxy), taken only by the tests that fault them, exclusively.

The tests that disrupt a resource also run in one worker, in order: each is marked
`xdist_group(RESOURCE)` too (checked). xdist hands each worker its next tests in advance, and a
worker whose next test waits for a lock idles meanwhile, so such tests must not be spread over
every worker's queue.

A lock is a pair of files under the run's shared temporary directory, taken with flock: a gate
and the lock itself. A shared holder passes the gate and lets go of it; an exclusive holder
keeps the gate while it waits and runs, so a stream of shared holders cannot starve it.
Resources are taken in one fixed order, so two tests never wait on each other. In a single
process (no xdist) nothing is locked: the tests already run one at a time.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

RESOURCES = ("kafka", "kafka-proxies", "fault-proxies")
KAFKA_FIXTURES = {"kafka_bootstrap", "kafka3"}
PROXY_FIXTURES = {"faults", "toxiproxy"}


def worker_id() -> str:
    """pytest-xdist's name of this worker process ("gw0", …), or "" outside xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "")


def per_worker(name: str) -> str:
    """A fixed name of a shared server's object, made distinct per worker process."""
    worker = worker_id()
    return f"{name}_{worker}" if worker else name


def needs(item: pytest.Item) -> dict[str, bool]:
    """resource → exclusive?, for the locked resources this test uses."""
    wanted: dict[str, bool] = {}
    fixtures = set(getattr(item, "fixturenames", ()))
    if fixtures & KAFKA_FIXTURES:
        wanted["kafka"] = False
    if fixtures & PROXY_FIXTURES:
        wanted["fault-proxies"] = False
    for mark in item.iter_markers("shares"):
        wanted.setdefault(mark.args[0], False)
    for mark in item.iter_markers("disrupts"):
        wanted[mark.args[0]] = True
    marks = [*item.iter_markers("shares"), *item.iter_markers("disrupts")]
    for mark in [*marks, *item.iter_markers("alone")]:
        if mark.name != "alone" and mark.args[0] not in RESOURCES:
            raise pytest.UsageError(f"{item.nodeid}: unknown resource {mark.args[0]!r}")
        if mark.name != "shares" and not mark.kwargs.get("why"):
            raise pytest.UsageError(f"{item.nodeid}: @{mark.name} must say why")
        groups = [g.args[0] for g in item.iter_markers("xdist_group")]
        if mark.name == "disrupts" and mark.args[0] not in groups:
            raise pytest.UsageError(
                f"{item.nodeid}: a test that disrupts {mark.args[0]} is also in "
                f"xdist_group({mark.args[0]!r}), so one worker runs them all"
            )
    return wanted


def _flock(stack: ExitStack, path: Path, mode: int) -> int:
    handle = stack.enter_context(path.open("a"))
    fcntl.flock(handle, mode)
    return handle.fileno()


def hold(stack: ExitStack, directory: Path, wanted: dict[str, bool]) -> None:
    """Take every wanted resource, in RESOURCES order; closing `stack` lets go of them."""
    for resource in RESOURCES:
        if resource not in wanted:
            continue
        gate = _flock(stack, directory / f"{resource}.gate", fcntl.LOCK_EX)
        if wanted[resource]:
            _flock(stack, directory / f"{resource}.lock", fcntl.LOCK_EX)
        else:
            _flock(stack, directory / f"{resource}.lock", fcntl.LOCK_SH)
            fcntl.flock(gate, fcntl.LOCK_UN)


def lock_directory(config: pytest.Config) -> Path | None:
    """The directory every worker of this run shares, or None outside xdist."""
    if not hasattr(config, "workerinput"):
        return None
    base = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    directory = Path(base).parent / "server-locks"  # the controller's basetemp
    directory.mkdir(exist_ok=True)
    return directory


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Hold the test's resources through its setup, call and teardown (the module and session
    fixtures that it sets up or tears down included)."""
    wanted = needs(item)
    directory = lock_directory(item.config)
    with ExitStack() as stack:
        if directory is not None and wanted:
            hold(stack, directory, wanted)
        return (yield)
