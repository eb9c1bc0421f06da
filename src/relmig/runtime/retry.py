"""Retrying a job's lost links from its last checkpoint, with the fault shown while it lasts.

A link that fails (an error whose `link` is set: the source's queries, its change stream, the
target) is retried after 1, 2, 4, … 32 s; the budget resets once work goes through again. While
the fault lasts the job carries a condition naming the link, since when, the next attempt and
the last error (the state store's job_conditions), so `jobs show`, the API and the UI say what
is wrong before anything fails. Past the budget the job fails with a message naming the link
and stays resumable for its recovery window.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from relmig.errors import RelmigError
from relmig.links import link_name
from relmig.runtime.control import Stopped
from relmig.runtime.records.issues import RETRIED
from relmig.runtime.store import IssueRecord, StateStore, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")

# Seconds between attempts: 8 attempts over about two minutes.
RETRY_DELAYS: tuple[float, ...] = (1, 2, 4, 8, 16, 32, 32, 32)


class LinkDown(RelmigError):
    """A link stayed down past the retry budget: the job fails, and a Resume continues it."""


def retried(exc: BaseException) -> bool:
    """Whether a retry may help: a failure of a network link, not of the data or the setup."""
    return isinstance(exc, RelmigError) and exc.link is not None


class LinkRetry:
    """One job's retries. `failed` records the fault and waits for the next attempt (a pause
    or cancel request ends the wait); `healthy` clears the job's conditions."""

    def __init__(
        self,
        store: StateStore,
        job_id: str,
        stop: Callable[[], str | None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        delays: tuple[float, ...] | None = None,
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.stop = stop
        self.sleep = sleep
        self.delays = delays if delays is not None else RETRY_DELAYS
        self.failures = 0
        self._since: dt.datetime | None = None
        self._failing: set[str] = set()

    def run(self, attempt: Callable[[], T]) -> T:
        """Call `attempt` until it returns; a link's failure is recorded and retried (from the
        checkpoint `attempt` starts from), any other error raised."""
        while True:
            try:
                return attempt()
            except RelmigError as exc:
                if not retried(exc):
                    raise
                self.failed(exc)

    def failed(self, exc: RelmigError) -> None:
        link = exc.link or "source"
        now = utcnow()
        self._since = self._since or now
        self._failing.add(link)
        if self.failures >= len(self.delays):
            raise LinkDown(
                f"the {link_name(link)} link failed and did not come back: {exc}. relmig "
                f"retried from the last checkpoint {self.failures} times since "
                f"{self._since:%Y-%m-%d %H:%M:%S} UTC. The job can be resumed once the "
                f"{link_name(link)} works again"
            ) from None
        delay = self.delays[self.failures]
        self.failures += 1
        log.warning("job %s: %s; retrying in %ss", self.job_id, exc, delay)
        self.store.raise_condition(
            self.job_id,
            link,
            str(exc),
            retry_at=now + dt.timedelta(seconds=delay),
            attempts=self.failures,
        )
        # Without the delay, so that the same fault retried again is one row with a count
        # (the condition says when the next attempt is).
        self.store.add_issues(
            self.job_id, [IssueRecord("WARNING", None, None, None, None, f"{exc}{RETRIED}")]
        )
        self._wait(delay)

    @property
    def failing(self) -> set[str]:
        """The links that failed since work last went through every link."""
        return set(self._failing)

    def healthy(self) -> None:
        """Work went through every link (the caller proved the ones it did not use): the
        conditions clear, and the budget starts afresh."""
        if self._since is None:
            return
        self.store.clear_conditions(self.job_id)
        self.failures = 0
        self._since = None
        self._failing = set()

    def _wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.sleep(min(left, 0.5))
            request = self.stop() if self.stop is not None else None
            if request:
                raise Stopped(request)
