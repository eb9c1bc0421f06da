"""Names MongoDB accepts for databases (its documented restrictions, the strictest platform's).

Checked when a job is created, so a job that could never write is refused with the reason
instead of failing on every resume.
"""

from __future__ import annotations

DATABASE_FORBIDDEN = '/\\. "$*<>:|?\x00'
DATABASE_MAX_BYTES = 63


def database_name_problem(name: str) -> str | None:
    """Why MongoDB would refuse `name` as a database name, or None."""
    if not name:
        return "the target database name is empty"
    bad = sorted({c for c in name if c in DATABASE_FORBIDDEN})
    if bad:
        shown = ", ".join("NUL" if c == "\x00" else "space" if c == " " else repr(c) for c in bad)
        return (
            f"the target database name {name!r} contains {shown}, which MongoDB does not "
            "allow in database names"
        )
    if len(name.encode()) > DATABASE_MAX_BYTES:
        return (
            f"the target database name {name!r} is {len(name.encode())} bytes long; MongoDB "
            f"allows at most {DATABASE_MAX_BYTES}"
        )
    return None


def database_name_for(project_name: str) -> str:
    """A valid default database name for a project: its name with refused characters as _."""
    cleaned = "".join("_" if c in DATABASE_FORBIDDEN else c for c in project_name).strip("_")
    return cleaned.encode()[:DATABASE_MAX_BYTES].decode(errors="ignore") or "relmig"
