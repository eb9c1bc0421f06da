"""A child process dies with the process that started it.

A job's children (Kafka-mode tasks, a parallel snapshot's workers) must never outlive the job
process: after a kill -9 and a resume, an old source task would compete for the slot, and an
old snapshot worker would go on writing a range that the resumed job hands to a new one.
"""

from __future__ import annotations

import os
import threading
import time


def watch_parent(parent: int, code: int = 1) -> None:
    """Exit with `code` as soon as `parent` is no longer this process's parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.1)
        os._exit(code)

    threading.Thread(target=watch, name="relmig-parent-watch", daemon=True).start()
