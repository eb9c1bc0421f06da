"""SIGTERM and SIGINT pause a job cleanly, whatever sent them.

A service manager, a container runtime or an operator's Ctrl-C must never turn a healthy job into
a failed one. The first signal asks each job the process runs to pause, through the job's own
request (as `relmig jobs pause` does): it stops reading, finishes the batch in hand, checkpoints
and records PAUSED with the reason. A second signal, or a pause that takes longer than the stop
timeout, ends the process at once: every checkpoint follows its write, so that is consistent
too; the job is recorded FAILED with the reason, and resumes from its last checkpoint.

The handler only starts a thread: a signal lands between any two bytecodes of the main thread,
which may be inside the state store at that moment.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # this module stays light: the CLI reads STOP_TIMEOUT for its help
    from relmig.runtime.jobs import JobManager
    from relmig.runtime.store import StateStore

SIGNALS = (signal.SIGTERM, signal.SIGINT)
STOP_TIMEOUT = 30.0  # seconds; a service manager's stop timeout should be above it


def request_pause(store: StateStore, job_id: str, reason: str) -> bool:
    """Ask a running job to pause, saying why; False when it is not running or another stop
    (a cancel, a cutover) is already under way."""
    job = store.job(job_id)
    if job is None or job["status"] != "RUNNING" or job["request"] is not None:
        return False
    store.update_job(job_id, request="PAUSE", stop_reason=reason)
    return True


def stop_now(store: StateStore, job_ids: Iterable[str], reason: str, code: int) -> None:
    """End the process at once, recording the jobs still running as FAILED (resumable)."""
    try:
        for job_id in job_ids:
            job = store.job(job_id)
            if job is not None and job["status"] in ("RUNNING", "CANCELLING"):
                store.fail(job_id, reason)
                store.update_job(job_id, failure_kind="stopped", stop_reason=reason)
        print(f"relmig: {reason}; resume with: relmig jobs resume", file=sys.stderr)
    finally:
        os._exit(code)


@contextmanager
def pause_on_signals(
    store: StateStore, job_ids: Callable[[], Iterable[str]], timeout: float = STOP_TIMEOUT
) -> Iterator[None]:
    """While the block runs, SIGTERM and SIGINT pause the jobs `job_ids()` names."""
    first: list[str] = []
    timer: list[threading.Timer] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if first:
            reason = f"stopped by a second {name} before it paused"
            worker = threading.Thread(
                target=stop_now, args=(store, list(job_ids()), reason, 128 + signum)
            )
            worker.start()
            worker.join()
            return
        first.append(name)
        reason = f"stopped by {name}"

        def pause() -> None:
            for job_id in job_ids():
                request_pause(store, job_id, reason)

        threading.Thread(target=pause, name="relmig-pause", daemon=True).start()
        late = f"stopped by {name}: it did not pause within {timeout:g} s"
        timer.append(threading.Timer(timeout, stop_now, (store, list(job_ids()), late, 1)))
        timer[0].daemon = True
        timer[0].start()

    previous = {s: signal.signal(s, on_signal) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for t in timer:
            t.cancel()


# The reason a server's shutdown records: the next start finds the jobs it paused by it.
SERVER_STOP = "(relmig serve shut down)"


def pause_all(manager: JobManager, signal_name: str | None, timeout: float) -> list[str]:
    """A server's shutdown: ask every job it runs to pause, wait up to `timeout` for them; the
    ids of those that paused. One that did not is left to the next start, which finds its
    process gone (FAILED, resumable)."""
    threads = manager.running_here()
    reason = f"stopped by {signal_name or 'a shutdown'} {SERVER_STOP}"
    asked = [job_id for job_id in threads if request_pause(manager.store, job_id, reason)]
    deadline = time.monotonic() + timeout
    for thread in threads.values():
        thread.join(max(0.0, deadline - time.monotonic()))
    return [j for j in asked if (manager.store.job(j) or {}).get("status") == "PAUSED"]


def paused_by_shutdown(store: StateStore) -> list[str]:
    """The jobs the last server shutdown paused (and no one resumed since)."""
    return [
        job["id"]
        for job in store.list_jobs()
        if job["status"] == "PAUSED" and SERVER_STOP in (job.get("stop_reason") or "")
    ]
