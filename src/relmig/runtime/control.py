"""How a running job learns that the user wants it to stop."""

from __future__ import annotations


class Stopped(Exception):
    """The job stopped because the user asked it to (PAUSE, CANCEL or COMPLETE)."""

    def __init__(self, request: str) -> None:
        super().__init__(request)
        self.request = request
