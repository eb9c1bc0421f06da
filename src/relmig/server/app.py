"""The app factory: the REST API under /api/v1 (with its OpenAPI document) and the web UI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from relmig import __version__
from relmig.runtime.jobs import JobManager
from relmig.runtime.store import StateStore
from relmig.server.api import connections, jobs, mapping, projects
from relmig.server.auth import guard
from relmig.server.context import ServerConfig, Services, Svc
from relmig.server.errors import install_handlers
from relmig.server.metrics import registry

API = "/api/v1"
STATIC = Path(__file__).parent / "static"


class About(BaseModel):
    version: str
    auth: bool
    default_target: bool


about = APIRouter(tags=["server"])


@about.get("/about")
def get_about(svc: Svc) -> About:
    """What the UI needs to know about this server."""
    return About(
        version=__version__,
        auth=svc.config.token is not None,
        default_target=svc.config.target_uri is not None,
    )


def create_app(
    config: ServerConfig, store: StateStore | None = None, manager: JobManager | None = None
) -> FastAPI:
    store = store or StateStore()
    svc = Services(config, store, manager or JobManager(store))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Jobs whose process died (kill -9, reboot) are FAILED from now on, and resumable;
        # Kafka-mode jobs among them resume by themselves.
        svc.manager.resume_after_restart(partial(jobs.credentials, svc))
        yield

    app = FastAPI(
        title="relmig",
        version=__version__,
        description="Migrate relational databases into MongoDB and keep them in sync.",
        openapi_url=f"{API}/openapi.json",
        docs_url=f"{API}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = svc
    app.middleware("http")(guard(config.host, config.token))
    install_handlers(app)
    for router in (about, connections.router, projects.router, mapping.router, jobs.router):
        app.include_router(router, prefix=API)
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
