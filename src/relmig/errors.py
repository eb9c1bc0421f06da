"""User-facing errors. The CLI prints their message and exits non-zero, without a traceback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from relmig.source.drift import Drift


class RelmigError(Exception):
    """A problem the user can fix: bad input, an unreachable server, a missing prerequisite."""

    # The network link whose failure this is (relmig.links.LINKS), None if it is none: the
    # retry loops record a lasting fault of a link as a condition of the job.
    link: str | None = None


class ProjectFileError(RelmigError):
    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid project file {path}:\n{lines}")


class SourceError(RelmigError):
    """The source database could not be reached or queried."""

    link = "source"


class StreamError(SourceError):
    """The change stream (pgoutput replication connection, binlog dump) was lost or stalled."""

    link = "replication"


class TargetError(RelmigError):
    """The MongoDB target could not be reached or refused a write wholesale."""

    link = "target"


class SourceRefused(SourceError):
    """The source answered and refused relmig (credentials, TLS): a setting must change."""

    link = None


class PrivilegeMissing(SourceRefused):
    """The source refused a statement for want of a privilege: the job names what to grant
    (the check's statements), and retrying cannot help until someone grants it."""


class TargetRefused(TargetError):
    """The target answered and refused relmig (credentials, TLS): a setting must change."""

    link = None


class SchemaChanged(SourceError):
    """DDL changed a mapped table during CDC: retrying cannot help, the project must change.
    The job pauses there (nothing after the change is applied with the old mapping)."""

    link = None

    def __init__(self, message: str, drifts: Sequence[Drift] = ()) -> None:
        super().__init__(message)
        self.drifts = list(drifts)


class PositionLost(SourceError):
    """The source no longer has the job's position (slot dropped or invalidated, binlog purged)."""

    link = None


class TargetLost(RelmigError):
    """The target holds fewer documents than the job wrote: resuming would hide the loss."""
