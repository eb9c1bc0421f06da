"""What a browser is told, and what it may ask: security headers on every answer, and
state-changing requests only from the server's own pages.

A web page the user happens to visit can send a bodyless POST to a server on their loopback
(a cross-origin POST cancelled a job before): a request that changes anything is refused
unless its Origin (or, without one, Sec-Fetch-Site) says it comes from the server's own
origin. Clients that send neither (the CLI, curl, scripts) are not browsers, and the token
rules of relmig.server.auth apply to them as to everyone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

Handler = Callable[[Request], Awaitable[Response]]

CHANGES = {"POST", "PUT", "PATCH", "DELETE"}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is not None:
        host = request.headers.get("host", "")
        return origin == f"{request.url.scheme}://{host}"
    return request.headers.get("sec-fetch-site") in (None, "same-origin", "none")


def browser_rules(
    docs_path: str, docs_policy: str
) -> Callable[[Request, Handler], Awaitable[Response]]:
    """`docs_policy`: the API docs page's own Content-Security-Policy (relmig.server.api_docs)."""

    async def middleware(request: Request, call_next: Handler) -> Response:
        if request.method in CHANGES and not same_origin(request):
            response: Response = JSONResponse(
                {
                    "detail": "refused: a request that changes something must come from this "
                    "server's own pages (its Origin is another site's)"
                },
                status_code=403,
            )
        else:
            response = await call_next(request)
        response.headers.update(HEADERS)
        if request.url.path == docs_path:
            response.headers["Content-Security-Policy"] = docs_policy
        return response

    return middleware
