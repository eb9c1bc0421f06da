"""The API docs page (Swagger UI), served whole by relmig.

FastAPI's own page loads Swagger UI from a CDN: a server beside production should not make its
users' browsers fetch code from a third party, nor allow it in its Content-Security-Policy.
The assets come from fastapi-offline's copy of swagger-ui-dist; the page's one inline script
is allowed by its hash, not by 'unsafe-inline'.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS = "/docs-assets"


def add_docs(app: FastAPI, path: str, openapi_url: str) -> str:
    """Mount the assets and the page at `path`; returns the page's Content-Security-Policy."""
    app.mount(ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs")
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{app.title} API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon.png",
    )
    body = bytes(page.body)

    @app.get(path, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(body)

    inline = re.findall(rb"<script>(.*?)</script>", body, re.S)
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in inline
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
