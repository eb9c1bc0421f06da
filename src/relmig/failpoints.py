"""Named crash points: a test arms one and the process SIGKILLs itself exactly there.

Kills at random moments rarely hit a narrow window (one of them once dropped a finished
snapshot on resume, DESIGN-NOTES §8); a named point always does. TiKV's and FoundationDB's
failpoints are the model, reduced to what a crash test needs:

- `RELMIG_CRASH_AT=<point>` arms one point in this process and the processes it starts;
- `RELMIG_CRASH_LOG=<file>` (optional) records each point as it fires, before the kill. A point
  already in the file does not fire again, so the resumed job (or a Kafka task restarted by its
  supervisor) runs past it, and the test can tell that the point was reached.

`POINTS` names every step boundary of a job's life; the crash test iterates over it and fails
for a point it never reached, so a new step without a crash test shows up.
"""

from __future__ import annotations

import os
import signal

POINTS: dict[str, str] = {
    "capture-started": "the slot and publication (or the binlog position) exist, not recorded",
    "position-recorded": "the start position is recorded, the target is not prepared",
    "target-prepared": "collections dropped/created, the step not recorded",
    "snapshot-page-written": "a collection's first page is in the target, not checkpointed",
    "snapshot-ranges-planned": "a parallel snapshot's key ranges are recorded, none copied",
    "snapshot-range-written": "a worker process wrote a range's page, not checkpointed",
    "snapshot-done": "the last snapshot page is checkpointed, the stage is still SNAPSHOT",
    "cdc-stage-recorded": "the stage is CDC, no change applied yet",
    "cdc-batch-written": "a batch of changes is in the target, its position not saved",
    "cdc-checkpointed": "a position is saved, not confirmed to the source",
    "replace-deleted": "FerretDB's replace: the old documents deleted, the new not inserted",
    "truncate-cleared": "a TRUNCATE emptied or rebuilt a collection, later changes not applied",
    "pause-stopped": "streaming stopped for a pause, PAUSED not recorded",
    "cancel-before-release": "a cancel stopped streaming, the slot not dropped",
    "cancel-released": "a cancel dropped the slot, CANCELLED not recorded",
    "complete-drained": "a complete applied every change, the slot not dropped",
    "complete-released": "a complete dropped the slot, COMPLETED not recorded",
    "update-recorded": "a mapping update is recorded, the stream not restarted with it",
    "update-dropped": "a collection the update drops is dropped, the drop not recorded",
    "recopy-chunk-written": "a re-copy's chunk is in its shadow (Kafka: in the topic), not "
    "checkpointed",
    "recopy-copied": "a re-copy's last chunk is checkpointed, the shadow not swapped in",
    "recopy-old-dropped": "FerretDB: the old collection dropped, the shadow not renamed",
    "recopy-renamed": "the shadow renamed into place, the swap not recorded",
    "kafka-published": "Kafka acknowledged a batch, its position not saved",
    "kafka-sink-written": "a sink worker wrote its batch, the offsets not committed",
    "kafka-task-restarted": "the supervisor restarted a task, the restart not recorded",
}

ARM = "RELMIG_CRASH_AT"
LOG = "RELMIG_CRASH_LOG"


def crash_point(name: str) -> None:
    """SIGKILL this process if `name` is the armed point (and has not fired yet)."""
    if os.environ.get(ARM) != name:
        return
    if name not in POINTS:
        raise AssertionError(f"unknown crash point {name!r}")
    log = os.environ.get(LOG)
    if log:
        if name in fired(log):
            return
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{name}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


def fired(log: str) -> set[str]:
    """The points recorded in a crash log."""
    try:
        with open(log) as f:
            return {line.strip() for line in f if line.strip()}
    except FileNotFoundError:
        return set()
