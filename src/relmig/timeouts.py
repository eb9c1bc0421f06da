"""How long relmig waits on a network link before it takes the link for stalled.

A connection that stalls without closing (a middlebox that stops forwarding, a half-open socket
after a failover, a proxy that keeps the socket open) raises no error by itself, and TCP
keepalives do not see it when something in between still acknowledges. So every link has a
bound after which the waiting call fails, and the job retries from its last checkpoint
(relmig.runtime.retry). docs/faults.md lists the mechanism and the bound of each link.

Two settings, in seconds, read from the environment when a connection opens:

- RELMIG_QUERY_TIMEOUT (default 300): one statement or one write may take this long. The
  source server cancels a longer statement itself (PostgreSQL statement_timeout, MariaDB
  max_statement_time); the client gives up a grace later, QUERY_GRACE seconds or the timeout
  again if that is less (a PostgreSQL socket shut down by `deadline`, PyMySQL's read/write
  timeouts, pymongo's socketTimeoutMS).
- RELMIG_STREAM_TIMEOUT (default 60): a change stream or a Kafka connection may stay silent
  this long (the pgoutput stream's read deadline, also its wal_sender_timeout; the binlog
  dump's read timeout, with server heartbeats far more often; librdkafka's socket.timeout.ms).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from relmig.errors import RelmigError

QUERY_TIMEOUT = "RELMIG_QUERY_TIMEOUT"
STREAM_TIMEOUT = "RELMIG_STREAM_TIMEOUT"
QUERY_GRACE = 10.0  # for the server's own cancel to come back before the client gives up


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise RelmigError(f"{name}={raw!r} is not a number of seconds greater than zero")
    return value


def query_timeout() -> float:
    """How long one statement or one write may take."""
    return _seconds(QUERY_TIMEOUT, 300.0)


def stream_timeout() -> float:
    """How long a change stream or a Kafka connection may stay silent."""
    return _seconds(STREAM_TIMEOUT, 60.0)


def client_timeout() -> float:
    """When the client gives up on a statement: the server's own limit, and a grace (at most
    the limit itself, for short limits)."""
    limit = query_timeout()
    return limit + min(QUERY_GRACE, limit)


# --- a deadline for drivers without a socket timeout (libpq) -----------------------------------


@dataclass(slots=True)
class Guard:
    fileno: int
    deadline: float
    fired: bool = False


class _Watchdog:
    """One thread that shuts down the socket of a call that overran its deadline, so that the
    call returns with a connection error instead of waiting for ever. Shutting a socket down
    (not closing it) leaves the descriptor to its owner, which closes it as usual."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active: dict[int, Guard] = {}
        self._thread: threading.Thread | None = None

    @contextmanager
    def guard(self, fileno: int, seconds: float) -> Iterator[Guard]:
        entry = Guard(fileno, time.monotonic() + seconds)
        with self._cond:
            self._active[id(entry)] = entry
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="relmig-deadlines", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        try:
            yield entry
        finally:
            with self._cond:
                self._active.pop(id(entry), None)

    def _watch(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for key, entry in list(self._active.items()):
                    if entry.deadline <= now:
                        del self._active[key]
                        entry.fired = True
                        _shut_down(entry.fileno)
                nearest = min((e.deadline for e in self._active.values()), default=None)
                self._cond.wait(None if nearest is None else max(0.0, nearest - now))


def _shut_down(fileno: int) -> None:
    try:
        sock = socket.socket(fileno=os.dup(fileno))
    except OSError:
        return  # closed meanwhile: nothing waits on it any more
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


_watchdog = _Watchdog()


def deadline(fileno: int, seconds: float) -> AbstractContextManager[Guard]:
    """`with deadline(conn.fileno(), s) as g:` a blocking call on that socket fails once `s`
    seconds have passed (`g.fired` then says why)."""
    return _watchdog.guard(fileno, seconds)
