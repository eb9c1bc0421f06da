"""Network faults between relmig and each server, through Toxiproxy's HTTP API.

`dev/services up --faults` starts Toxiproxy with one proxy per link; a test points relmig at a
proxy instead of the server and adds toxics to it:

    with faults.proxy("ferretdb").toxic(latency(200, jitter=50)):
        ...                                   # every byte to and from FerretDB is late
    with faults.proxy("postgres").down():
        ...                                   # connects are refused, open connections cut

Links (named as dev/services creates them): postgres (SQL), postgres_replication (the pgoutput
stream, routed with the source's replication_port), mariadb, ferretdb, kafka_1 … kafka_N (each
broker advertises its proxy on a second listener, so clients that bootstrap through the proxies
stay on them). `Toxiproxy.reset()` enables every proxy and removes every toxic; the `faults`
fixture does that after each test.

When tests run in several processes (tests/sharing.py), each process faults copies of its own
of the server links (`own_links`): the same upstreams on other ports, so that a toxic in one
process never reaches another's jobs. Kafka's links have no copies, since each broker
advertises its own proxy: a test that faults them holds them exclusively.

Toxiproxy's toxics (a toxic acts on one direction: "downstream" is server → relmig):
latency(ms, jitter) delays data; bandwidth(kb/s) throttles it; timeout(ms) stops it and keeps
the socket open (0: for ever), closing it after ms otherwise; reset_peer(ms) resets the
connection (TCP RST) after ms; slicer cuts data into small packets; limit_data(bytes) closes
the connection after that many bytes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from relmig.project.model import SourceSettings

Stream = Literal["downstream", "upstream"]

# The links to the servers, as dev/services names their proxies (Kafka's are kafka_1 … kafka_N).
SERVER_LINKS = ("postgres", "postgres_replication", "mariadb", "ferretdb")


@dataclass(frozen=True)
class Toxic:
    """One toxic as Toxiproxy takes it; toxicity is the share of connections it applies to."""

    type: str
    attributes: dict[str, int] = field(default_factory=dict)
    stream: Stream = "downstream"
    toxicity: float = 1.0


def latency(ms: int, jitter: int = 0, stream: Stream = "downstream") -> Toxic:
    return Toxic("latency", {"latency": ms, "jitter": jitter}, stream)


def bandwidth(kb_per_second: int, stream: Stream = "downstream") -> Toxic:
    return Toxic("bandwidth", {"rate": kb_per_second}, stream)


def timeout(ms: int = 0, stream: Stream = "downstream") -> Toxic:
    """Bytes stop; the socket stays open (ms=0), or is closed after ms."""
    return Toxic("timeout", {"timeout": ms}, stream)


def reset_peer(ms: int = 0, stream: Stream = "downstream") -> Toxic:
    return Toxic("reset_peer", {"timeout": ms}, stream)


def slicer(
    average_size: int, size_variation: int = 0, delay_us: int = 0, stream: Stream = "downstream"
) -> Toxic:
    attributes = {"average_size": average_size, "size_variation": size_variation}
    return Toxic("slicer", attributes | {"delay": delay_us}, stream)


def limit_data(size: int, stream: Stream = "downstream") -> Toxic:
    return Toxic("limit_data", {"bytes": size}, stream)


class ToxiproxyError(RuntimeError):
    pass


class Proxy:
    """One link: a port that forwards to one server."""

    _names = itertools.count(1)

    def __init__(self, api: Toxiproxy, info: dict[str, Any]) -> None:
        self.api = api
        self.name: str = info["name"]
        self.listen: str = info["listen"]
        self.upstream: str = info["upstream"]

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    def add(self, toxic: Toxic) -> str:
        """Add a toxic now; returns its name (for remove)."""
        name = f"{toxic.type}_{toxic.stream}_{next(self._names)}"
        body = {
            "name": name,
            "type": toxic.type,
            "stream": toxic.stream,
            "toxicity": toxic.toxicity,
            "attributes": toxic.attributes,
        }
        self.api.call("POST", f"/proxies/{self.name}/toxics", body)
        return name

    def remove(self, name: str) -> None:
        self.api.call("DELETE", f"/proxies/{self.name}/toxics/{name}")

    def toxics(self) -> list[dict[str, Any]]:
        return self.api.call("GET", f"/proxies/{self.name}/toxics")

    @contextmanager
    def toxic(self, toxic: Toxic) -> Iterator[str]:
        name = self.add(toxic)
        try:
            yield name
        finally:
            self.remove(name)

    def clear(self) -> None:
        """Enabled, without toxics."""
        for toxic in self.toxics():
            self.remove(toxic["name"])
        self.set_enabled(True)

    def enabled(self) -> bool:
        return bool(self.api.call("GET", f"/proxies/{self.name}")["enabled"])

    def set_enabled(self, enabled: bool) -> None:
        """Disabled: connects are refused and the open connections are closed."""
        self.api.call("POST", f"/proxies/{self.name}", {"enabled": enabled})

    @contextmanager
    def down(self) -> Iterator[None]:
        self.set_enabled(False)
        try:
            yield
        finally:
            self.set_enabled(True)


class Toxiproxy:
    def __init__(self, url: str, copies: dict[str, str] | None = None) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10)
        self.copies = copies or {}  # link → this process's own proxy for it

    def own_links(self, suffix: str) -> Toxiproxy:
        """The same API, faulting copies of the server links named `<link>_<suffix>`: each
        listens on a free port and forwards where its link does, until Toxiproxy stops."""
        existing = self.call("GET", "/proxies")
        copies = {link: f"{link}_{suffix}" for link in SERVER_LINKS}
        for link, copy in copies.items():
            if copy in existing:
                self.call("DELETE", f"/proxies/{copy}")
            host = existing[link]["listen"].rsplit(":", 1)[0]
            upstream = existing[link]["upstream"]
            self.call(
                "POST", "/proxies", {"name": copy, "listen": f"{host}:0", "upstream": upstream}
            )
        return Toxiproxy(self.url, copies)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            resp = self.http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ToxiproxyError(
                f"Toxiproxy at {self.url} does not answer ({exc}); start it with "
                "`dev/services up --faults`"
            ) from None
        if resp.status_code >= 400:
            raise ToxiproxyError(f"{method} {path}: {resp.status_code} {resp.text.strip()}")
        return resp.json() if resp.content.strip() else None

    def version(self) -> str:
        answer = self.call("GET", "/version")
        return str(answer["version"] if isinstance(answer, dict) else answer).strip()

    def proxies(self) -> dict[str, Proxy]:
        return {name: Proxy(self, info) for name, info in self.call("GET", "/proxies").items()}

    def proxy(self, name: str) -> Proxy:
        name = self.copies.get(name, name)
        proxies = self.proxies()
        if name not in proxies:
            raise ToxiproxyError(f"no proxy {name!r}; Toxiproxy has {sorted(proxies)}")
        return proxies[name]

    def kafka_proxies(self) -> list[Proxy]:
        found = [p for name, p in self.proxies().items() if name.startswith("kafka_")]
        return sorted(found, key=lambda p: int(p.name.removeprefix("kafka_")))

    def reset(self) -> None:
        """Every proxy enabled, every toxic removed (with copies: every copy)."""
        if not self.copies:
            self.call("POST", "/reset")
            return
        for link in self.copies:
            self.proxy(link).clear()

    def close(self) -> None:
        self.http.close()

    # --- routes: relmig's settings pointed at the proxies ------------------------------------

    def route(self, settings: SourceSettings) -> SourceSettings:
        """The same source reached through its proxies (queries and, on PostgreSQL, the
        replication stream on its own proxy)."""
        if settings.dialect == "postgresql":
            sql, replication = self.proxy("postgres"), self.proxy("postgres_replication")
            update = {
                "host": sql.host,
                "port": sql.port,
                "replication_host": replication.host,
                "replication_port": replication.port,
            }
        else:
            proxy = self.proxy("mariadb")
            update = {"host": proxy.host, "port": proxy.port}
        return SourceSettings.model_validate(settings.model_dump() | update)

    def mongo_uri(self) -> str:
        return f"mongodb://{self.proxy('ferretdb').listen}/"

    def kafka_bootstrap(self) -> str:
        return ",".join(p.listen for p in self.kafka_proxies())
