"""The app factory: the REST API under /api/v1 (with its OpenAPI document) and the web UI."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from relmig import __version__
from relmig.errors import RelmigError
from relmig.runtime.jobs import JobManager
from relmig.runtime.stopping import pause_all, paused_by_shutdown
from relmig.runtime.store import StateStore
from relmig.server.api import connections, jobs, mapping, projects, queries
from relmig.server.api_docs import add_docs
from relmig.server.auth import COOKIE, guard
from relmig.server.browser import browser_rules
from relmig.server.context import ServerConfig, Services, Svc
from relmig.server.errors import ApiError, install_handlers
from relmig.server.limits import BodyLimit
from relmig.server.metrics import registry

API = "/api/v1"
STATIC = Path(__file__).parent / "static"


class About(BaseModel):
    version: str
    auth: bool
    default_target: bool


about = APIRouter(tags=["server"])


health = APIRouter(tags=["server"])


@health.get("/healthz")
def get_health() -> dict[str, str]:
    """For a service manager or a container's health check: needs no token, shows no data."""
    return {"status": "ok"}


class Login(BaseModel):
    token: str


@about.post("/login")
def login(body: Login, request: Request, svc: Svc) -> Response:
    """The UI's sign-in: the token becomes an HttpOnly, SameSite=Strict cookie, out of reach
    of scripts (and, with the Origin check, of other sites)."""
    expected = svc.config.token
    if expected is not None and not secrets.compare_digest(body.token, expected):
        raise ApiError(401, "the token was not accepted")
    response = JSONResponse({"signed_in": True})
    response.set_cookie(
        COOKIE,
        body.token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@about.post("/logout")
def logout() -> Response:
    response = JSONResponse({"signed_in": False})
    response.delete_cookie(COOKIE, path="/")
    return response


@about.get("/about")
def get_about(svc: Svc) -> About:
    """What the UI needs to know about this server."""
    return About(
        version=__version__,
        auth=svc.config.token is not None,
        default_target=svc.config.target_uri is not None,
    )


log = logging.getLogger("relmig.server")


def resume_paused(svc: Services, credentials: Any) -> None:
    """Say which jobs the last shutdown paused; resume them if the server was asked to."""
    paused = paused_by_shutdown(svc.store)
    if not paused:
        return
    if not svc.config.resume_paused:
        log.warning(
            "the last shutdown paused %s; resume them from the UI, with relmig jobs resume, "
            "or start the server with --resume-paused",
            ", ".join(paused),
        )
        return
    for job_id in paused:
        target_uri, password = credentials(job_id)
        try:
            svc.manager.resume(job_id, target_uri, password)
        except RelmigError as exc:
            log.warning("job %s was not resumed: %s", job_id, exc)
            continue
        log.warning("job %s, paused by the last shutdown, resumed", job_id)


def create_app(
    config: ServerConfig, store: StateStore | None = None, manager: JobManager | None = None
) -> FastAPI:
    store = store or StateStore()
    svc = Services(config, store, manager or JobManager(store, serves=True))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Jobs whose process died (kill -9, reboot) are FAILED from now on, and resumable;
        # Kafka-mode jobs among them resume by themselves.
        credentials = partial(jobs.credentials, svc)
        svc.manager.resume_after_restart(credentials)
        resume_paused(svc, credentials)
        yield
        # SIGTERM or Ctrl-C (uvicorn's shutdown): the jobs pause, none is left FAILED.
        paused = await asyncio.to_thread(
            pause_all, svc.manager, getattr(app.state, "stop_signal", None), config.stop_timeout
        )
        if paused:
            log.warning("paused for the shutdown: %s", ", ".join(paused))

    app = FastAPI(
        title="relmig",
        version=__version__,
        description="Migrate relational databases into MongoDB and keep them in sync.",
        openapi_url=f"{API}/openapi.json",
        docs_url=None,  # relmig.server.api_docs: the same page without a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = svc
    app.middleware("http")(guard(config.host, config.token))
    # Added last, so they run first: a cross-site request or an oversized body is refused
    # before anything else.
    docs_policy = add_docs(app, f"{API}/docs", f"{API}/openapi.json")
    app.middleware("http")(browser_rules(f"{API}/docs", docs_policy))
    app.add_middleware(BodyLimit)
    install_handlers(app)
    routers = (about, connections.router, projects.router, mapping.router, queries.router)
    for router in (*routers, jobs.router):
        app.include_router(router, prefix=API)
    app.include_router(health)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    metrics = registry(store)

    @app.get("/metrics", tags=["server"])
    def get_metrics() -> Response:
        """Every job's figures in Prometheus' text format (docs/metrics.md)."""
        return Response(generate_latest(metrics), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app
