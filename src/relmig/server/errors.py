"""Every error leaves the API as JSON `{"detail": "…"}` with the status that says whose fault it is.

Validation errors never echo the request's input: a body that failed validation may hold a
password.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from relmig.errors import ProjectFileError, RelmigError, SourceError, TargetError
from relmig.messages import plain_error
from relmig.runtime.jobs import JobError
from relmig.server.records import NameTaken


class ApiError(Exception):
    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra


def not_found(kind: str, item_id: str) -> ApiError:
    return ApiError(404, f"no {kind} {item_id!r}")


def problem_list(problems: list[str], prefix: str = "") -> list[dict[str, str]]:
    """`path: message` strings as objects, with paths relative to `prefix` where they start so."""
    out = []
    for problem in problems:
        path, sep, message = problem.partition(": ")
        if not sep:
            path, message = "", problem
        out.append({"path": path.removeprefix(prefix), "message": message})
    return out


# Kinds a JobError may carry, besides a plain HTTP status.
JOB_ERROR_STATUS = {"not_found": 404, "invalid": 422, "conflict": 409}


def job_error_status(exc: JobError) -> int:
    kind = getattr(exc, "kind", None) or getattr(exc, "status_code", None)
    if isinstance(kind, int):
        return kind
    return JOB_ERROR_STATUS.get(str(kind), 409)


def _json(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def _location(loc: Sequence[Any]) -> str:
    """Where in the request: a body field by its name (`name`), a query parameter as `query.x`."""
    if loc and loc[0] == "body":
        loc = loc[1:]
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _json(exc.status, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        for err in errors:
            if err["type"] == "json_invalid":
                reason = err.get("ctx", {}).get("error", "malformed")
                return _json(400, f"the request body is not valid JSON: {reason}")
        problems = [{"path": _location(err["loc"]), "message": plain_error(err)} for err in errors]
        summary = "; ".join(p["message"] for p in problems)
        return _json(422, summary, problems=problems)

    @app.exception_handler(ProjectFileError)
    async def invalid_project(_: Request, exc: ProjectFileError) -> JSONResponse:
        return _json(
            422, f"invalid project: {'; '.join(exc.problems)}", problems=problem_list(exc.problems)
        )

    @app.exception_handler(NameTaken)
    async def name_taken(_: Request, exc: NameTaken) -> JSONResponse:
        return _json(409, str(exc))

    @app.exception_handler(JobError)
    async def job_error(_: Request, exc: JobError) -> JSONResponse:
        return _json(job_error_status(exc), str(exc))

    @app.exception_handler(RelmigError)
    async def user_error(_: Request, exc: RelmigError) -> JSONResponse:
        # An unreachable source or target is a failure upstream of the API, not bad input.
        status = 502 if isinstance(exc, SourceError | TargetError) else 400
        return _json(status, str(exc))
