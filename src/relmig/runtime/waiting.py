"""How much a paused job has waiting at the source: its lag while nothing reads the stream.

A paused job's recorded lag is frozen at its last batch (often 0 s), which says nothing about the
changes piling up since; this asks the source instead.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from relmig.errors import RelmigError
from relmig.project.model import Project
from relmig.source.capture import open_capture


def waiting(job: dict[str, Any], password: str | None) -> dict[str, Any] | None:
    """`{"bytes", "transactions", "at_least"}` for a paused job whose CDC has a position, None
    for any other job; `{"error": …}` when the source cannot be asked."""
    if job["status"] != "PAUSED" or job["mode"] == "snapshot" or job["slot_dropped"]:
        return None
    if job["position"] is None or not job["project_doc"]:
        return None
    try:
        capture = open_capture(Project.model_validate(job["project_doc"]), job["id"], password)
        try:
            return asdict(capture.backlog(job["position"]))
        finally:
            capture.close()
    except RelmigError as exc:
        return {"error": str(exc)}
