"""How a running job learns that the user wants it to stop."""

from __future__ import annotations

from relmig.runtime.store import StateStore


class Stopped(Exception):
    """The job stopped because the user asked it to (PAUSE, CANCEL or COMPLETE)."""

    def __init__(self, request: str) -> None:
        super().__init__(request)
        self.request = request


def stop_request(store: StateStore, job_id: str) -> str | None:
    """The pause or cancel the job's row asks for, if any (a complete is carried out by the
    stream, which must run to drain)."""
    request = store.request(job_id)
    return request if request in ("PAUSE", "CANCEL") else None
