"""The embedded engine: the CDC loop of a job in this process, read → route → rebuild → write
→ checkpoint, until asked to stop.

A position is saved in the state store and confirmed to the source only after every change up
to it is durably in the target (DESIGN-NOTES §2.2). A lost or stalled link (the source's
queries, its change stream, the target) is retried with backoff from the last checkpoint
(relmig.runtime.retry, which shows the fault as a condition of the job while it lasts); the
replay converges because recompute is idempotent.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from relmig.apply.applier import ChangeApplier, cdc_plans
from relmig.documents.builder import Page
from relmig.failpoints import crash_point
from relmig.runtime.control import Stopped, stop_request
from relmig.runtime.engine import CdcContext, CdcEngine
from relmig.runtime.recopy import REMAP, Recopier
from relmig.runtime.retry import LinkRetry
from relmig.runtime.store import IssueRecord, utcnow
from relmig.source.changes import Heartbeat, Transaction, last_change_at
from relmig.source.drift import Drift
from relmig.transport.inprocess import BatchBudget, InProcessTransport


@dataclass(slots=True)
class CdcSettings:
    slot_lag_warning_bytes: int = 1 << 30
    lag_check_seconds: float = 5.0
    idle_seconds: float = 1.0


class EmbeddedEngine(CdcEngine):
    def run(self, ctx: CdcContext) -> str:
        limit = ctx.options.get("slot_lag_warning_bytes", 1 << 30)
        return CdcRun(ctx, CdcSettings(slot_lag_warning_bytes=limit)).run()


class CdcRun:
    def __init__(
        self,
        ctx: CdcContext,
        settings: CdcSettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.job_id = ctx.job_id
        self.store = ctx.store
        self.capture = ctx.capture
        self.source = ctx.source
        self.target = ctx.target
        self.settings = settings or CdcSettings()
        self.sleep = sleep
        plans = cdc_plans(ctx.project, ctx.source, ctx.target)
        self.applier = ChangeApplier(plans, ctx.source, ctx.gate)
        self.gate = ctx.gate
        self.recopy = Recopier(
            ctx.store,
            ctx.job_id,
            ctx.project,
            ctx.source,
            ctx.target,
            ctx.options.get("batch_size", 1000),
        )
        self._lag_checked = 0.0
        self._lag_warned = False
        self._mark: str | None = None
        self.retry = LinkRetry(
            self.store, self.job_id, lambda: stop_request(self.store, self.job_id), sleep
        )

    def run(self) -> str:
        """Stream until a request (pause, cancel, complete, a mapping update) or a re-copy
        swapped in (REMAP) ends the session; return which one."""
        self.store.update_job(self.job_id, cdc_status="RUNNING")
        try:
            return self.retry.run(self._session)
        except Stopped as stop:
            return stop.request

    def _session(self) -> str:
        position = self.store.job(self.job_id)["position"]
        stream = self.capture.stream(position, self._drifted)
        transport = InProcessTransport(stream, idle_seconds=self.settings.idle_seconds)
        budget = BatchBudget()
        try:
            for batch in transport.batches(budget, busy=lambda: self.recopy.pending):
                if batch:
                    position = self._apply(batch, budget)
                    transport.confirm(position)
                    if not any(isinstance(e, Transaction) for e in batch):
                        self._prove(self.retry.failing)
                    self.retry.healthy()
                self._requests(position)
                # Between two batches: relmig.runtime.recopy says why this order is safe.
                if self.recopy.pending and self.recopy.step(self._write_chunk):
                    raise Stopped(REMAP)
        finally:
            transport.close()
        raise AssertionError("the change stream ended")

    def _apply(self, batch: list[Transaction | Heartbeat], budget: BatchBudget) -> str:
        """Apply a batch and save its position; returns the position."""
        started = time.monotonic()
        txns = [e for e in batch if isinstance(e, Transaction)]
        if txns:
            self.capture.wait_visible(txns)
            self.applier.apply(txns)
            crash_point("cdc-batch-written")
        position = batch[-1].position
        events = sum(len(t.changes) for t in txns)
        last_commit = txns[-1].commit_time if txns else None
        # Durable in the target: now, and only now, the position may move on. The
        # statistics go in the same transaction (one commit per batch).
        stats = self._observe(position, last_commit)
        self.store.save_position(self.job_id, position, events, last_change_at(txns), **stats)
        if txns:
            crash_point("cdc-checkpointed")
        budget.record(events, time.monotonic() - started)
        return position

    def _prove(self, links: set[str]) -> None:
        """Heartbeats come through the change stream only: a failing source or target link is
        shown until a round trip to it works (it raises while the link is down)."""
        if "source" in links:
            self.source.fetch("SELECT 1")
        if "target" in links:
            self.target.ping()

    def _write_chunk(self, shadow: str, page: Page) -> None:
        self.gate.write(shadow, page.built)

    def _drifted(self, drifts: list[Drift]) -> None:
        self.store.record_drift(self.job_id, drifts, utcnow())

    def _observe(self, position: str, last_commit: dt.datetime | None) -> dict[str, object]:
        """The job's lag, and every few seconds the source's retained bytes (warned about
        once past the threshold)."""
        lag = (utcnow() - last_commit).total_seconds() if last_commit else 0.0
        values: dict[str, object] = {"lag_seconds": max(lag, 0.0)}
        if time.monotonic() - self._lag_checked >= self.settings.lag_check_seconds:
            self._lag_checked = time.monotonic()
            slot = self.capture.lag(position).bytes
            values["slot_lag_bytes"] = slot
            limit = self.settings.slot_lag_warning_bytes
            if slot is not None and slot > limit and not self._lag_warned:
                self._lag_warned = True
                self.store.add_issues(
                    self.job_id,
                    [
                        IssueRecord(
                            "WARNING",
                            None,
                            None,
                            None,
                            None,
                            f"the source retains {slot:,} bytes for this job "
                            f"(warning threshold {limit:,})",
                        )
                    ],
                )
        return values

    def _requests(self, position: str) -> None:
        request = self.store.request(self.job_id)
        if request in ("PAUSE", "CANCEL", "UPDATE"):
            raise Stopped(request)
        if request == "COMPLETE" and not self.recopy.pending:  # a cutover waits for re-copies
            if self._mark is None:
                self._mark = self.capture.mark()
                self.store.update_job(self.job_id, cdc_status="COMPLETING")
            elif self.capture.reached(position, self._mark):
                raise Stopped("COMPLETE")
