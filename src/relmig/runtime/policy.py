"""The per-row error policy: FAIL, WARN or SKIP, with "stop after N errors".

- FAIL: the first problem fails the job (after it is recorded).
- WARN: the document is written without the value that failed; the problem is a warning.
- SKIP: the document is not written; the problem is an error.
Either way the row's key and reason are recorded, so nothing is lost silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from relmig.errors import RelmigError

OnError = Literal["FAIL", "WARN", "SKIP"]


class JobFailed(RelmigError):
    """The job stopped because its error policy says so."""


@dataclass(slots=True)
class ErrorPolicy:
    on_error: OnError = "FAIL"
    max_errors: int | None = None
    seen: int = 0
    # The job's running total, read after each problem is recorded, where several processes
    # share one budget (a parallel snapshot); None: this policy counts alone.
    shared: Callable[[], int] | None = None

    @property
    def severity(self) -> str:
        return "WARNING" if self.on_error == "WARN" else "ERROR"

    def count(self, n: int, example: str) -> None:
        """Account for n recorded problems; raise when the policy says the job must stop."""
        if n == 0:
            return
        self.seen = self.shared() if self.shared is not None else self.seen + n
        if self.on_error == "FAIL":
            raise JobFailed(f"stopped at the first error (error handling FAIL): {example}")
        if self.max_errors is not None and self.seen > self.max_errors:
            raise JobFailed(
                f"stopped after {self.seen} errors (limit {self.max_errors}); last: {example}"
            )
