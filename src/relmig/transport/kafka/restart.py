"""After a server restart, Kafka-mode jobs resume by themselves: nobody has to press Resume.

Only jobs whose process died are resumed (the store marked them FAILED as "stopped
unexpectedly"); a job that failed on its own (DDL, the error policy, its recovery window) waits
for the user, as in embedded mode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from relmig.errors import RelmigError
from relmig.runtime.store import STOPPED_UNEXPECTEDLY

if TYPE_CHECKING:
    from relmig.runtime.jobs import JobManager

log = logging.getLogger(__name__)

# job id → (target URI, source password) when the server keeps them; None, None: the job's own
Credentials = Callable[[str], tuple[str | None, str | None]]


def resume_kafka_jobs(
    manager: JobManager, credentials: Credentials = lambda _job: (None, None)
) -> list[str]:
    """Resume every Kafka-mode job that stopped with its process, within its window."""
    manager.recover_stale()
    resumed = []
    for job in manager.store.list_jobs():
        if job["status"] != "FAILED" or job["options"].get("engine") != "kafka":
            continue
        if not (job["failure"] or "").startswith(STOPPED_UNEXPECTEDLY):
            continue
        target_uri, password = credentials(job["id"])
        try:
            manager.resume(job["id"], target_uri, password)
        except RelmigError as exc:
            log.warning("job %s was not resumed after the restart: %s", job["id"], exc)
            continue
        log.warning("job %s resumed after the restart", job["id"])
        resumed.append(job["id"])
    return resumed
