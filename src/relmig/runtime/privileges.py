"""A job refused for want of a privilege says which, and the statement that grants it.

The source's own words name the object ("permission denied for table orders") but not what to
run; `relmig check` knows both. So the failure carries what the check finds missing now, by the
same code, as its statements: the check and the job never disagree on what a privilege is
called or how it is granted. A snapshot job is told only what reading needs.
"""

from __future__ import annotations

from relmig.errors import PrivilegeMissing, RelmigError
from relmig.project.model import Project
from relmig.source.capture import missing_prerequisites


def privilege_failure(
    exc: PrivilegeMissing, project: Project, snapshot: bool, password: str | None
) -> str:
    try:
        missing = missing_prerequisites(project, password)
    except RelmigError as check_failed:
        return f"{exc} (the check of what to grant failed too: {check_failed})"
    wanted = [p for p in missing if p.snapshot or not snapshot]
    if not wanted:
        return f"{exc} (`relmig check` finds nothing missing that it checks; ask the DBA)"
    grants = "; ".join(f"{p.name}: {p.problem}: {p.fix or p.note}" for p in wanted)
    return f"{exc}. What the job needs, as `relmig check` finds it: {grants}"
